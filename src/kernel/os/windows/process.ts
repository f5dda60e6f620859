/**
 * A Windows process's memory-manager state, and the page-table entries of
 * its user range as the memory manager reads and writes them.
 *
 * The state hangs off the process's address space (MmStruct.osState), as
 * Windows keeps it in the EPROCESS beside the page directory: the VAD tree
 * (VadRoot), the process's commit charge (EPROCESS.CommitCharge), the last
 * error of its thread (TEB.LastErrorValue: vmlab keeps one per process) and
 * the record of its last exception (EXCEPTION_RECORD: code, ExceptionInformation
 * [0] read/write/execute, [1] the address).
 */
import { assert } from "../../../base/assert.ts";
import type { KernelCore } from "../../core/core.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { ptePa, readPte } from "../../mm/pgtable.ts";
import { VadTree } from "./vad.ts";

/** EXCEPTION_RECORD as the process last saw it. */
export interface ExceptionRecord {
  /** ExceptionCode (0: none yet) */
  code: number;
  /** ExceptionInformation[0]: 0 read, 1 write, 8 execute (DEP) */
  rw: number;
  /** ExceptionInformation[1]: the inaccessible address */
  address: bigint;
}

export class WinProcess {
  readonly vads = new VadTree();
  /** EPROCESS.CommitCharge: pages this process has committed */
  commitCharge = 0;
  /** GetLastError's value */
  lastError = 0;
  readonly exception: ExceptionRecord = { code: 0, rw: 0, address: 0n };
  /** frames mapped by valid or transition PTEs of this process (its private pages) */
  privatePages = 0;
  /** structured exception handling is on (`P: catch exceptions`) */
  catching = false;
  /**
   * The working-set list (MMWSL, Windows Internals 7th ed., Part 1, ch. 5
   * "Working sets"): the pages valid PTEs map in this process, in the order
   * they entered it (oldest first: the replacement scan starts there).
   */
  readonly ws = new Set<number>();
  /**
   * The WSLE's Age (MMWSLE.u1.e1.Age, two bits in the WRK: 0-3) of the
   * pages in `ws` that have aged; absent is 0. The working-set manager's
   * aging (wsmanager.ts ageWorkingSet, MiAgeAndEstimateAvailableInWorkingSet)
   * clears a set accessed bit and resets the age, or adds one to it.
   */
  readonly wsAge = new Map<number, number>();
  /** MMWSL.NextSlot: the entry where MiTrimWorkingSet's scan resumes (a vpn; -1 or one not in `ws`: the first) */
  wsNextSlot = -1;
  /**
   * The WSLE's Protection field (MMWSLE.u1.e1.Protection) of the valid view
   * pages that have one: a shared page whose protection VirtualProtect set
   * (WRK mm/protect.c MiSetProtectionOnSection: `MmWsle[Index].u1.e1.Protection
   * = ProtectionMask`) or that was faulted in through an MI_PTE_LOOKUP_NEEDED
   * PTE. Absent (MM_ZERO_ACCESS in the WSLE): the view's protection. When the
   * page leaves the working set, the protection goes back into its PTE
   * (mmpte.ts mkProtoLookup).
   */
  readonly wsProtection = new Map<number, number>();
  /** MMSUPPORT.MinimumWorkingSetSize and MaximumWorkingSetSize, in pages (the defaults: 50 and 345) */
  wsMin = 50;
  wsMax = 345;
  /** QUOTA_LIMITS_HARDWS_MAX_ENABLE: the maximum is a hard limit (a fault past it replaces a page) */
  wsHardMax = false;
  /** QUOTA_LIMITS_HARDWS_MIN_ENABLE: the minimum is hard (MMSUPPORT_FLAGS MinimumWorkingSetHard; workingset.ts) */
  wsHardMin = false;
  /** pages the working set gave up to stay within its maximum (replacements and trims to the maximum) */
  wsReplaced = 0;
  /**
   * The pages VirtualLock locked in the working set (the WSLEs below
   * MMWSL.FirstDynamic, LockedInWs set: lock.ts). Always valid; no trim
   * takes them; VirtualUnlock, VirtualFree, a VirtualProtect to
   * PAGE_NOACCESS or PAGE_GUARD and exit unlock them.
   */
  readonly locked = new Set<number>();
  /**
   * Pages MEM_RESET left with no copy anywhere whose frame was then reused
   * (reset.ts): their PTE is demand-zero, their data gone; MEM_RESET_UNDO
   * over one of them fails.
   */
  readonly resetLost = new Set<number>();
  /**
   * The thread stack (CreateThread's RtlCreateUserStack; the TEB's
   * NT_TIB StackBase and StackLimit, DeallocationStack): vpns, null when the
   * process has none. stackLimitVpn is the lowest committed page's.
   */
  stack: { deallocationVpn: number; baseVpn: number; stackLimitVpn: number; overflows: number } | null = null;
  /**
   * The process's memory priority (EPROCESS's page priority:
   * SetProcessInformation ProcessMemoryPriority; MEMORY_PRIORITY_NORMAL, 5,
   * "the default priority for all threads and processes on the system").
   */
  memoryPriority = 5;
  /** the token's SeLockMemoryPrivilege is enabled (MEM_LARGE_PAGES needs it: largepage.ts) */
  lockMemoryPrivilege = false;
  /**
   * Threads given their own (SetThreadInformation ThreadMemoryPriority), by pid; the others use the process's.
   * SetProcessInformation empties it: NtSetInformationProcess writes the priority into every thread.
   */
  readonly threadPriority = new Map<number, number>();
}

/**
 * The page priority of task's thread (Windows Internals 7th ed., Part 1,
 * ch. 5 "Page priority": "A thread inherits its page-priority value from
 * the process to which it belongs"): its own if SetThreadInformation set
 * one, else its process's.
 */
export function pagePriority(p: WinProcess, pid: number): number {
  return p.threadPriority.get(pid) ?? p.memoryPriority;
}

/** The Windows state of an address space. */
export function winProcess(mm: MmStruct): WinProcess {
  assert(mm.osState instanceof WinProcess, "windows: the address space has no Windows state");
  return mm.osState;
}

/** The PTE of vpn as halves (zero when no page table covers it), and its address (-1: none). */
export function getPte(k: KernelCore, mm: MmStruct, vpn: number): { pa: number; hi: number; lo: number } {
  return readPte(k.userMm, mm, vpn) ?? { pa: -1, hi: 0, lo: 0 };
}

/** Writes the PTE of vpn, building the page tables down to it (false: no memory for a table). */
export function setPte(k: KernelCore, mm: MmStruct, vpn: number, hi: number, lo: number): boolean {
  const pa = ptePa(k.userMm, mm, vpn, true);
  if (pa < 0) return false;
  k.arch.pgtable.set(k.machine.phys, pa, hi, lo);
  return true;
}

/** Is a PTE valid (the hardware's present bit)? */
export function pteValid(k: KernelCore, hi: number, lo: number): boolean {
  return k.arch.pgtable.accessible(hi, lo);
}

/** Do PTEs need 64-bit software fields (x64, PAE)? */
export function widePtes(k: KernelCore): boolean {
  return k.arch.pgtable.entryBytes === 8;
}
