import type { Pfn, PhysAddr } from "../../base/units.ts";

/** Most levels any format has (x86-64 LA57 and RISC-V Sv57: 5; ARM64 with 52-bit VAs: 5) plus one. */
export const MAX_LEVELS = 6;

/**
 * The entries one walk read, top level first: filled by every walk (no
 * allocation: preallocated typed arrays), read by `explain`, the CLI and the
 * coherence checker.
 */
export class WalkRecord {
  /** entries read, top level first */
  count = 0;
  readonly level = new Int32Array(MAX_LEVELS);
  readonly index = new Int32Array(MAX_LEVELS);
  /** physical address of each entry read (plain numbers in a typed array; `entryPaAt` gives one as a PhysAddr) */
  readonly entryPa = new Float64Array(MAX_LEVELS);
  readonly hi = new Uint32Array(MAX_LEVELS);
  readonly lo = new Uint32Array(MAX_LEVELS);
  /** the walk started below the top, from a paging-structure-cache entry of this level (-1: none) */
  pscLevel = -1;
  /** after success: first base frame of the page, its size code (its leaf level), TLB metadata and attributes */
  pagePfn = 0 as Pfn;
  size = 0;
  meta = 0;
  attrs = 0;
  /** after a fault: the architecture's outcome and code, and the generic kind and level (-1: from a TLB entry) */
  outcome = 0;
  errorCode = 0;
  faultKind = 0;
  faultLevel = -1;

  /**
   * The walk's last read, its n-th (0-based: the entries before it recorded already), where it found
   * the fault of `level` (a fast walk's end at an entry that translates nothing: Mmu.fastTranslationFault).
   */
  endAtFault(
    n: number,
    level: number,
    index: number,
    entryPa: number,
    hi: number,
    lo: number,
    kind: number,
  ): void {
    this.level[n] = level;
    this.index[n] = index;
    this.entryPa[n] = entryPa;
    this.hi[n] = hi;
    this.lo[n] = lo;
    this.count = n + 1;
    this.pscLevel = -1;
    this.faultKind = kind;
    this.faultLevel = level;
  }

  /** The physical address of the n-th entry read (n < count). */
  entryPaAt(n: number): PhysAddr {
    return this.entryPa[n] as PhysAddr;
  }
}
