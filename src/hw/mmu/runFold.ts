/**
 * The fold of a run of resident user accesses (Mmu.accessRun): a span of the run's pages under the
 * leaf table the run's last walk kept (WalkMemo), each missing in every TLB array of the data path
 * and walked from that leaf table, done without the per-access lookups and fills. Linux and the
 * SDM have nothing like it: a host shortcut whose every effect is what the per-access loop gives
 * (property tests: src/hw/arch/x86_64/runFold.property.test.ts, accessRun.property.test.ts):
 *
 * - The TLB side in closed form (Tlb.fillMissedRun, TlbArray.insertRun): the pages a TLB entry
 *   covers before the span (TlbArray.markCovered, once per leaf table and run, whatever the entry's
 *   size or ASID) are left to the per-access path; every other page of the span misses at every
 *   level (Tlb.lookup's misses counted) and is filled into each level's base-page array
 *   (Tlb.fillMissed's inserts), all at the span's end: nothing a walk or a data access does reads
 *   the TLB.
 * - The walk side per page, by the architecture (leaves: x86-64's Cpu.ts), over the memo's leaf
 *   table as its walkFast reads it from the memo: every check walkFast makes on a 4K leaf, the
 *   accessed/dirty write-back, walks, walkRefs and adWrites counted, the walk record left as the
 *   last walk leaves it. It stops before the first page that is not a plain present 4K leaf the
 *   access is allowed through, or whose frame is outside RAM, the leaf table or a table above it
 *   (a store there changes what later walks read): the per-access path does that page.
 * - The data side, interleaved with the walks as accessRun does them: a load's byte (`data`, the
 *   last page's) or a store through PhysMem.
 *
 * The marks stay right while the memo does: within one run the only TLB changes are the run's own
 * fills and promotions (an entry of a page of the run, or a copy of an entry already marked) and
 * fault invalidations (which only drop), except a fill of a large page over the leaf table's range,
 * which needs a walk that reads a table entry the memo holds as changed since it was kept: the memo
 * was dropped then, and accessRun drops the marks whenever it sees the memo invalid.
 */
import type { Vpn } from "../../base/units.ts";
import { Access, type Mode } from "../access.ts";
import type { Mmu } from "./Mmu.ts";
import type { WalkMemo } from "./WalkMemo.ts";

/** pages of one leaf table (x86-64, arm64 4K granule, RISC-V: 512 entries) */
const TABLE_PAGES = 512;
/** the fewest pages a span may fold (fewer: the per-access path, without the pass over the TLB) */
const MIN_SPAN = 8;

export abstract class RunFold {
  /** the span's frames, TLB metadata and attributes, page j at index j (as Tlb.fillMissed takes them) */
  protected readonly pfns = new Float64Array(TABLE_PAGES);
  protected readonly metas = new Int32Array(TABLE_PAGES);
  protected readonly attrs = new Int32Array(TABLE_PAGES);
  /** the pages of the marked leaf table a TLB entry covered (Tlb.markCovered), by vpn % 512 */
  private readonly covered = new Uint8Array(TABLE_PAGES);
  /** the leaf table (vpn / 512) `covered` is for, or -1 */
  private marked = -1;
  /** spans folded and pages in them (tests and benches: that the fold ran) */
  spans = 0;
  pages = 0;

  constructor(
    protected readonly mmu: Mmu,
    protected readonly memo: WalkMemo,
  ) {}

  /** whether accessRun folds (false: the per-access loop only; tests) */
  enabled = true;

  /**
   * At a run's start: this, with the marks dropped, when the run may be folded (`fast`: the MMU's
   * fast walks apply, no protection-key check; nothing observes; loads or stores, one per 4K
   * page upwards; a fill inserts a base page somewhere), else null.
   */
  begin(fast: boolean, stride: number, access: Access): RunFold | null {
    const mmu = this.mmu;
    if (
      !this.enabled ||
      !fast ||
      mmu.tracer !== null ||
      mmu.observer !== null ||
      access === Access.Exec ||
      !(stride > 0 && stride % 4096 === 0) ||
      !mmu.tlb.fillsBase(false)
    )
      return null;
    this.marked = -1;
    return this;
  }

  /**
   * Folds the run's accesses from page `vpn` (its address's offset in the page `off`), `left` of them
   * at most, `step` pages apart (step >= 1), while the memo is valid (vpn -1: it is not, or no
   * translation applies): returns how many were done (0:
   * none; the per-access path does the next). `write`: stores of `value`, else loads. Counts the
   * translations; the MMU's `pa` (and a load's `data`) are the last access's.
   */
  span(
    vpn: number,
    off: number,
    left: number,
    step: number,
    write: boolean,
    value: number,
    mode: Mode,
  ): number {
    const memo = this.memo;
    const key = memo.key;
    if (vpn < 0) {
      this.marked = -1; // the memo is not valid: see above
      return 0;
    }
    if (Math.floor(vpn / TABLE_PAGES) !== key) return 0;
    const first = key * TABLE_PAGES;
    let max = Math.floor((first + TABLE_PAGES - 1 - vpn) / step) + 1; // pages left in the leaf table
    if (left < max) max = left;
    // the marks cost a pass over the TLB: not for a short span, nor one whose first page the
    // per-access path does anyway (a run that faults on the next page: a faulting pass)
    if (max < MIN_SPAN || !this.leafOk(vpn, write, mode)) return 0;
    const tlb = this.mmu.tlb;
    const covered = this.covered;
    if (this.marked !== key) {
      covered.fill(0);
      tlb.markCovered(first, TABLE_PAGES, covered, false);
      this.marked = key;
    }
    let n = 0;
    while (n < max && covered[vpn + n * step - first] === 0) n++;
    if (n === 0) return 0;
    const k = this.leaves(vpn, step, n, write, value, off, mode);
    if (k === 0) return 0;
    const mmu = this.mmu;
    const known = tlb.knownMiss(vpn as Vpn, mmu.asid, false); // a fault's retry: its misses counted
    tlb.fillMissedRun(vpn, step, k, this.pfns, this.metas, this.attrs, false, known);
    for (let j = 0; j < k; j++) covered[vpn + j * step - first] = 1; // inserted now: a lookup would hit
    mmu.translations += k;
    this.spans++;
    this.pages += k;
    return k;
  }

  /**
   * Whether `leaves` would do page vpn (its leaf entry a plain present 4K one the access is allowed
   * through, its frame in RAM), changing nothing.
   */
  protected abstract leafOk(vpn: number, write: boolean, mode: Mode): boolean;

  /**
   * The architecture's walks of up to `max` pages vpn, vpn + step, ... from the memo's leaf table,
   * each with its data access (a store of `value` when `write`, else a load) at offset `off`: for
   * each page that is a plain present 4K leaf the access is allowed through, every effect of
   * walkFast from the memo and of accessRun's data access, and its frame, TLB metadata and
   * attributes in pfns/metas/attrs. Stops before the first page that is not, or whose frame is
   * outside RAM or (a store) the leaf table's or a table's above it. Returns the pages done.
   */
  protected abstract leaves(
    vpn: number,
    step: number,
    max: number,
    write: boolean,
    value: number,
    off: number,
    mode: Mode,
  ): number;
}
