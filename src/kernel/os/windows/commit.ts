/**
 * The commit book and GetLastError codes every service shares
 * (MiChargeCommitment, MiReturnCommitment; winerror.h), and what the
 * services need of the system (WinMm). virtual.ts re-exports them.
 */
import type { KernelCore } from "../../core/core.ts";
import type { WinKernelMemory } from "./kmem.ts";
import type { WinLayout } from "./layout.ts";
import type { PfnDatabase } from "./pfn.ts";
import type { WinProcess } from "./process.ts";
import type { Section } from "./section.ts";
import type { Vad } from "./vad.ts";

/** GetLastError codes (winerror.h). */
export const enum WinError {
  SUCCESS = 0,
  /** ERROR_ACCESS_DENIED: STATUS_ALREADY_COMMITTED (MEM_COMMIT in a view of a file or an image), ... */
  ACCESS_DENIED = 5,
  /** ERROR_NOT_ENOUGH_MEMORY: STATUS_NO_MEMORY (no free range of that size) */
  NOT_ENOUGH_MEMORY = 8,
  /** ERROR_INVALID_PARAMETER: STATUS_INVALID_PARAMETER_n, STATUS_INVALID_PAGE_PROTECTION */
  INVALID_PARAMETER = 87,
  /** ERROR_INVALID_ADDRESS: STATUS_CONFLICTING_ADDRESSES, STATUS_NOT_COMMITTED, STATUS_FREE_VM_NOT_AT_BASE, ... */
  INVALID_ADDRESS = 487,
  /** ERROR_COMMITMENT_LIMIT: STATUS_COMMITMENT_LIMIT */
  COMMITMENT_LIMIT = 1455,
}

/** The system's commit accounting (MmTotalCommittedPages, MmTotalCommitLimit). */
export interface CommitBook {
  /** pages charged now */
  total: number;
  /** the most that may be charged: RAM plus the paging file, in pages */
  limit: number;
  /** the highest `total` seen (the Commit peak of Task Manager) */
  peak: number;
}

/** What the services need of the system. */
export interface WinMm {
  readonly k: KernelCore;
  readonly layout: WinLayout;
  readonly db: PfnDatabase;
  readonly commit: CommitBook;
  /** the pools (sections' prototype PTEs live in the nonpaged pool) */
  readonly kmem: WinKernelMemory;
  /** the section objects, by handle */
  readonly sections: Map<number, Section>;
  /**
   * MmEmptyAllWorkingSets then MiFlushAllPages: every process's working
   * set trimmed and the modified pages written (largepage.ts asks it when
   * no contiguous memory is to be had)
   */
  emptyAllWorkingSets(): void;
}

/**
 * MiChargeCommitment: `pages` more, or false at the commit limit (no
 * overcommit: Windows Internals 7th ed., Part 1, ch. 5 "Commit charge and
 * the system commit limit": a commit that would pass the limit fails).
 */
export function charge(w: WinMm, p: WinProcess, vad: Vad, pages: number): boolean {
  if (w.commit.total + pages > w.commit.limit) return false;
  w.commit.total += pages;
  w.commit.peak = Math.max(w.commit.peak, w.commit.total);
  p.commitCharge += pages;
  vad.commitCharge += pages;
  return true;
}

/** MiReturnCommitment. */
export function uncharge(w: WinMm, p: WinProcess, vad: Vad, pages: number): void {
  w.commit.total -= pages;
  p.commitCharge -= pages;
  vad.commitCharge -= pages;
}

export function fail(p: WinProcess, code: number): 0n {
  p.lastError = code; // SetLastError(RtlNtStatusToDosError(status))
  return 0n;
}
