/**
 * The MMU's own types beside Mmu.ts (which re-exports them), and what a TLB-miss walk in a run of
 * user accesses keeps of the levels above the leaf table (WalkMemo).
 */
import type { Vpn } from "../../base/units.ts";
import type { TlbSpec } from "./Tlb.ts";
import type { TlbArray } from "./TlbArray.ts";
import { MAX_LEVELS, type WalkRecord } from "./WalkRecord.ts";

/** One coherence-checker hook (Mmu.ts's TlbObserver: C = Mmu); see CoherenceChecker. */
export interface TlbObserverOf<C> {
  onFill(cpu: C, vpn: Vpn, rec: WalkRecord): void;
  onHit(cpu: C, vpn: Vpn, arr: TlbArray, slot: number): void;
}

/** The TLB and walk-cache sizes of one MMU. */
export interface MmuCaches {
  /** TLB preset name, spec string (`64x4,1536x12`) or spec */
  tlb?: TlbSpec | string;
  /** walk caches by level (1 = the cache of level-1 entries, which point to leaf tables): [entries, ways] or null */
  psc?: ([number, number] | null)[];
}

/**
 * The entries the last TLB-miss walk of a run of user accesses (Mmu.accessRun) read above the leaf
 * table, for the next walk under the same leaf table: a host-side shortcut, no paging-structure
 * cache (those, SDM Vol. 3A §4.10.3, are Mmu.psc, and the fast walk does not run with them). In a
 * run nothing runs between two accesses but the run's own stores and walks, so those entries are
 * what memory holds until one of them writes their tables' frames: a store into one of those frames
 * or an accessed/dirty write-back to one drops the memo, as does any walk but the fast one (the
 * generic walk may set accessed bits on the way) and the run's end. A walk from the memo reads the
 * leaf table as the whole walk does; the entries above it are still in the walk record (the walk
 * that made the memo wrote them, and only fast walks from the memo, which write the levels below,
 * ran since); it counts the same references. On only inside accessRun (Mmu.inRun).
 */
export class WalkMemo {
  /** whether the fields below hold the last walk's levels above the leaf table and may be used */
  valid = false;
  /** the vpns of one leaf table: vpn / 512 (x86-64, PAE, arm64 with 4 KiB granules, RISC-V), vpn / 1024 (32-bit paging) */
  key = -1;
  /** the leaf table's frame, and the rights the levels above it allow */
  table = 0;
  acc = 0;
  /** entries read above the leaf table (the walk record's first `count`) */
  count = 0;
  /** the frames of the tables those entries lie in */
  readonly frames = new Float64Array(MAX_LEVELS);
  /**
   * While a run's fold vets the first page of its next leaf table with walkFast (RunFold.walkNext,
   * where the architecture's walkFast honours it: x86-64, arm64): a walk that would fault, or end
   * at a page larger than 4K or a frame outside RAM, changes nothing but the memo and gives up
   * (false), so the per-access path makes that page as it would have.
   */
  probing = false;

  constructor() {
    // written once more than its initialiser: else V8 compiles `probing` as a constant field, and the
    // first probe (a resident pass's) deoptimizes walkFast and every function it was inlined into
    this.probing = true;
    this.probing = false;
  }

  /**
   * Keeps a walk's `n` entries above the leaf table (their addresses in `entryPa`, the walk record's)
   * for the vpns of `span`: the leaf table's frame and what the levels above allow (`acc`, the
   * architecture's: x86 rights, arm64 table controls, RISC-V a global pointer).
   */
  keep(span: number, table: number, acc: number, n: number, entryPa: Float64Array): void {
    this.valid = true;
    this.key = span;
    this.table = table;
    this.acc = acc;
    this.count = n;
    for (let k = 0; k < n; k++) this.frames[k] = Math.floor(entryPa[k] / 4096);
  }

  /** Whether frame `pfn` holds one of the remembered entries (a write there drops the memo). */
  holds(pfn: number): boolean {
    for (let k = 0; k < this.count; k++) if (this.frames[k] === pfn) return true;
    return false;
  }
}

/** What RunFaultSink.runFault did with a run's fault (Mmu.accessRun). */
export const enum RunFault {
  /** not a fault it takes: nothing changed (the run stops there, the caller's handler takes it) */
  NotTaken = 0,
  /** resolved, the CPU back in user mode: the run retries the access */
  Retry = 1,
  /** resolved, but tables above the leaf may have changed (the memo goes): the run retries */
  RetryAnew = 2,
  /** resolved with a signal: the run stops there, the kernel already entered (the sink says what) */
  Stop = 3,
}

/**
 * The kernel's side of a fault inside a run of user accesses (kernel/core/faultfold.ts
 * RunFaultFold): a not-present fault at a leaf table, or at the entry above it (level 1: no leaf
 * table yet), the kernel resolves as its handler would,
 * the exception's entry and return included, so that the run retries the access in its loop
 * (Mmu.ts's RunFaultSink: C = Mmu).
 */
export interface RunFaultSinkOf<C> {
  runFault(cpu: C, vaHi: number, vaLo: number): RunFault;
  /**
   * The not-present faults of up to `max` pages va, va + step, ... (step: bytes, whole pages) whose
   * leaf entries the run's walks find not present (none, or a swap entry) under the leaf table the
   * run's walk kept, the run's accesses (loads or stores) faulting on each, resolved at
   * once as runFault would resolve each, in order, from the first, while the kernel can prove each
   * (the MMU then makes each page's faulting walk, fault, retry and access: runFold.ts
   * RunFold.faultRun): how many it resolved (0: none, nothing changed). Absent: none.
   */
  runFaultRun?(cpu: C, vaHi: number, vaLo: number, step: number, max: number): number;
}
