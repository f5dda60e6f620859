/**
 * The fold of a run of resident user accesses (Mmu.accessRun): a span of the run's pages under the
 * leaf table the run's last walk kept (WalkMemo), each missing in every TLB array of the data path
 * and walked from that leaf table, done without the per-access lookups and fills. Linux and the
 * SDM have nothing like it: a host shortcut whose every effect is what the per-access loop gives
 * (property tests: src/hw/arch/{x86_64,i386,arm64,riscv}/runFold.property.test.ts and
 * accessRun.property.test.ts):
 *
 * - The TLB side in closed form (Tlb.fillMissedRun, TlbArray.insertRun): the pages a TLB entry
 *   covers before the span (TlbArray.markCovered, once per leaf table and run, whatever the entry's
 *   size or ASID) are left to the per-access path; every other page of the span misses at every
 *   level (Tlb.lookup's misses counted) and is filled into each level's base-page array
 *   (Tlb.fillMissed's inserts), all at the span's end: nothing a walk or a data access does reads
 *   the TLB.
 * - The walk side per page, by the architecture (leaves: each one's arch/<name>/runFold.ts), over the
 *   memo's leaf table as its walkFast reads it from the memo: every check walkFast makes on a 4K
 *   leaf, the accessed/dirty write-back, walks, walkRefs and adWrites counted, the walk record left
 *   as the last walk leaves it. It stops before the first page that is not a plain present 4K leaf
 *   the access is allowed through, or whose frame is outside RAM: the per-access path does that
 *   page; and after a store into a table above the leaf table (accessRun drops the memo then). A
 *   store into the leaf table itself goes on: the later pages' entries are read after it.
 * - The data side, as accessRun's interleaved with the walks: a load's byte (`data`, the last
 *   page's) or a store through PhysMem; where nothing observes stores (x86-64, arm64), the stores
 *   into the frames' PageStore by runs after the walks (PageStore.writeByteRun: no walk reads a
 *   data frame), a store into the leaf table at once (the later walks read it).
 *
 * - The lookups of the accesses the per-access path does under the memo's leaf table (missesAll):
 *   a page no entry covered when the table was marked misses at every level, counted without the
 *   probes (the first access of each page of a first write, whose fault the kernel resolves in the
 *   run: faultfold.ts).
 *
 * The marks stay right while the memo does: within one run the only TLB changes are the run's own
 * fills and promotions (an entry of a page of the run, or a copy of an entry already marked) and
 * fault invalidations (which only drop), except a fill of a large page over the leaf table's range,
 * which needs a walk that reads a table entry the memo holds as changed since it was kept: the memo
 * was dropped then, and accessRun drops the marks whenever it sees the memo invalid.
 */
import { ModelBug } from "../../base/assert.ts";
import type { Pfn, PhysAddr, Vpn } from "../../base/units.ts";
import { Access, type Mode } from "../access.ts";
import type { PageStore } from "../PageStore.ts";
import type { PhysMem } from "../PhysMem.ts";
import { HwFaultKind } from "./PagingFormat.ts";
import type { Tlb } from "./Tlb.ts";
import type { RunFaultSinkOf, WalkMemo } from "./WalkMemo.ts";
import { WalkRecord } from "./WalkRecord.ts";

/** the fewest pages a span may fold (fewer: the per-access path, without the pass over the TLB) */
const MIN_SPAN = 8;
/**
 * the most pages a span fills into the TLB at once: more than an STLB holds (Skylake: 1536), so
 * that a long span's fill writes each set's newest `ways` pages and moves no older entry
 */
const PENDING = 4096;
/** faults in a row that kept the marks before missesAll marks a table of its own (a scan of the TLB) */
const STEADY = 16;

/** What a fold uses of its MMU (Mmu.ts's, named here: Mmu imports this file). */
export interface RunFoldHost {
  readonly tlb: Tlb;
  readonly phys: PhysMem;
  readonly walkRec: WalkRecord;
  readonly asid: number;
  readonly faultLevel: number;
  readonly tracer: unknown;
  readonly observer: unknown;
  translations: number;
  walks: number;
  walkRefs: number;
  adWrites: number;
  pa: PhysAddr;
  data: number;
  walk(vpn: number, access: Access, mode: Mode, sideEffects: boolean, rec: WalkRecord): number;
  /**
   * The walks of `count` pages vpn, vpn + step, ... from the memo to their leaf entries, not
   * present (none, or a swap entry), each after a lookup that missed everywhere, and each access's
   * fault delivered (`access`: a load's or a store's), as Mmu.missAndFill makes them one by one
   * (the last page's at (lastHi, lastLo), its entry `lastIndex` of the memo's table): the
   * architecture's (x86-64's and arm64's Cpu.ts), absent where RunFold.faultRun does not apply
   * (i386, RISC-V).
   */
  faultsMissed?(
    vpn: number,
    step: number,
    count: number,
    lastHi: number,
    lastLo: number,
    lastIndex: number,
    mode: Mode,
    access: Access,
  ): void;
}

export abstract class RunFold {
  /** heldRange's answer: the lowest and highest frame of the memo's tables (lo > hi: none) */
  protected heldLo = 0;
  protected heldHi = -1;

  /** The frames of the memo's tables (memo.holds) as one range, checked first: a data page rarely falls in it. */
  protected heldRange(memo: WalkMemo): void {
    let lo = Number.POSITIVE_INFINITY;
    let hi = -1;
    for (let i = 0; i < memo.count; i++) {
      const f = memo.frames[i];
      if (f < lo) lo = f;
      if (f > hi) hi = f;
    }
    this.heldLo = lo;
    this.heldHi = hi;
  }

  /** the span's frames, TLB metadata and attributes not yet filled, page j at index j (as Tlb.fillMissed takes them) */
  protected readonly pfns = new Float64Array(PENDING);
  protected readonly metas = new Int32Array(PENDING);
  protected readonly attrs = new Int32Array(PENDING);
  /** the pages of the marked leaf table a TLB entry covered (Tlb.markCovered), by vpn % tablePages */
  private readonly covered: Uint8Array;
  /** the leaf table (vpn / tablePages) `covered` is for, or -1 (accessRun drops it when the memo is not valid) */
  marked = -1;
  /** spans folded and pages in them, and lookups missesAll answered (tests and benches: that the fold ran) */
  spans = 0;
  pages = 0;
  missed = 0;
  /** faultRun's batches and the faults in them (tests and benches) */
  faultRuns = 0;
  faultPages = 0;

  constructor(
    protected readonly mmu: RunFoldHost,
    protected readonly memo: WalkMemo,
    /** the CPU's permission table (Mmu.permTable: filled in place when a control bit changes) */
    protected readonly permTable: Uint8Array,
    /** the CPU's walkFast into its walk record (protected there) */
    private readonly walkFast: (vpn: number, access: Access, mode: Mode) => boolean,
    /**
     * pages of one leaf table, the memo's key being vpn / tablePages (x86-64, PAE, arm64 with 4K
     * granules, RISC-V: 512; 32-bit paging: 1024), and the bytes of one of its entries (8; 4)
     */
    private readonly tablePages = 512,
    private readonly entryBytes = 8,
  ) {
    this.covered = new Uint8Array(tablePages);
  }

  /** the architecture's walkFast honours WalkMemo.probing (walkNext's probe) */
  protected readonly fastProbe: boolean = false;

  /** the walk without side effects that vets walkNext's page */
  private readonly probeRec = new WalkRecord();

  /** whether accessRun folds (false: the per-access loop only; tests) */
  enabled = true;

  /** Whether faultRun may take a run's not-present faults in batches here (the architecture's faultsMissed). */
  get faultBatches(): boolean {
    return this.enabled && this.mmu.faultsMissed !== undefined;
  }

  /**
   * At a run's start: this, with the marks dropped, when the run may be folded (`fast`: the MMU's
   * fast walks apply, no protection-key check; nothing observes; loads or stores, one per 4K
   * page upwards; a fill inserts a base page somewhere), else null.
   */
  begin(fast: boolean, stride: number, access: Access, value: number, mode: Mode): RunFold | null {
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
    // faults in a row carry over only from a run that ended at a missing table (a first write's pass
    // stops at each new leaf table's pte_alloc), not one that ended at a PTE (a swap-in under pressure)
    if (!(mmu.faultLevel > 0)) this.steady = 0;
    this.step = stride / 4096;
    this.write = access === Access.Write;
    this.value = value;
    this.mode = mode;
    return this;
  }

  /** the run's (begin): pages from one access to the next, stores (of `value`) or loads, the mode */
  private step = 1;
  private write = false;
  private value = 0;
  private mode: Mode = 0;

  /**
   * Folds the run's accesses from page `vpn` (the low half of its address `vaLo`), `left` of them at
   * most, as begin said, while the memo is valid (vpn -1: it is not, or no translation applies): returns how many were done (0:
   * none; the per-access path does the next). `write`: stores of `value`, else loads. Counts the
   * translations; the MMU's `pa` (and a load's `data`) are the last access's.
   */
  span(vpn: number, vaLo: number, left: number): number {
    const step = this.step;
    const write = this.write;
    const value = this.value;
    const mode = this.mode;
    const off = vaLo & 4095;
    const memo = this.memo;
    if (vpn < 0) {
      this.marked = -1; // the memo is not valid: see above
      return 0;
    }
    let key = memo.key;
    if (Math.floor(vpn / this.tablePages) !== key) return 0;
    // the marks cost a pass over the TLB: not for a short span, nor one whose first page the
    // per-access path does anyway (a run that faults on the next page: a faulting pass, where after
    // such a page the next `skip` tries are not made, 1, 2, 4 ... 64 of them)
    if (this.inTable(vpn, key, left, step) < MIN_SPAN) return 0;
    if (!this.leafOk(vpn, write, mode)) {
      this.skip = this.backoff;
      this.backoff = this.backoff === 0 ? 1 : Math.min(2 * this.backoff, 64);
      return 0;
    }
    this.backoff = 0;
    const mmu = this.mmu;
    const covered = this.covered;
    this.pendVpn = vpn;
    this.pendCount = 0;
    let done = 0;
    let v = vpn;
    for (;;) {
      // the pages of this leaf table no TLB entry covers, from v
      const first = key * this.tablePages;
      if (this.marked !== key) this.mark(key);
      const max = this.inTable(v, key, left - done, step);
      const n = this.coveredAny ? this.uncovered(v, step, max, first) : max;
      if (this.pendCount + n > PENDING) this.flush(step); // inserted now: the same as later
      const k = n === 0 ? 0 : this.ended(this.leaves(v, step, n, write, value, off, mode, this.pendCount));
      this.pendCount += k;
      done += k;
      v += k * step;
      if (k < max || done === left || !memo.valid) break; // the per-access path goes on
      // the next leaf table: its first page walked whole (walkFast), if nothing covers it
      key = Math.floor(v / this.tablePages);
      this.mark(key);
      if (covered[v - key * this.tablePages] !== 0 || !this.walkNext(v, write, mode)) break;
      const rec = mmu.walkRec;
      const pfn = rec.pagePfn;
      const pa = pfn * 4096 + off;
      if (write) mmu.phys.write8(pa, value);
      else mmu.data = mmu.phys.read8(pa);
      mmu.pa = pa as PhysAddr;
      if (this.pendCount === PENDING) this.flush(step);
      this.pfns[this.pendCount] = pfn;
      this.metas[this.pendCount] = rec.meta;
      this.attrs[this.pendCount] = rec.attrs;
      this.metaOr |= rec.meta;
      this.attrOr |= rec.attrs;
      this.pendCount++;
      done++;
      v += step;
      if (write && memo.holds(pfn)) memo.valid = false; // a store into a table above (accessRun's rule)
      if (done === left || !memo.valid || memo.key !== key) break;
    }
    this.flush(step);
    if (done === 0) return 0;
    mmu.translations += done;
    this.spans++;
    this.pages += done;
    return done;
  }

  /**
   * Whether page vpn's lookup on the data path misses in every array for certain, counted as a miss
   * (Tlb.lookupMissed): true when it lies under the memo's leaf table and no TLB entry covered it
   * when that table was marked (marked now if it was not); else nothing changed and false. For the
   * accesses of a run that span leaves to the per-access path (the demand-zero faults of a first
   * write: each page's first access misses, walks and faults), whose lookups then probe nothing.
   * The marks hold as span's do (see above); accessRun keeps them over a fault the kernel resolved
   * in the run only while no TLB insert came between (tlbInsertSerial; afterFault), the memo
   * dropped or not: a fault whose allocation woke kswapd, whose reclaim unmapped pages and flushed
   * their entries (drops only, an uncovered page stays uncovered), keeps them. A table not marked yet is marked here (a scan of every TLB entry) only after
   * STEADY such faults in a row kept the marks: not where each fault drops them (an allocation in
   * reclaim's slow path, a kernel access that fills the TLB) and marking would cost more than the
   * probes it saves.
   */
  missesAll(vpn: number): boolean {
    const memo = this.memo;
    const key = memo.key;
    if (!memo.valid || Math.floor(vpn / this.tablePages) !== key) return false;
    if (this.marked !== key && !this.markSteady(key)) return false;
    if (this.covered[vpn - key * this.tablePages] !== 0) return false;
    this.mmu.tlb.lookupMissed(vpn as Vpn, this.mmu.asid);
    this.missed++;
    return true;
  }

  /**
   * After missesAll answered page vpn's lookup (the access at (vaHi, vaLo), `left` accesses of the
   * run from it on, a store or a load each): the not-present faults of that page and the run's next
   * ones under the memo's leaf table that no TLB entry covered when it was marked, as far as the
   * kernel resolves them at once (RunFaultSinkOf.runFaultRun: each page's PTE none or a swap entry,
   * its fault resolved: do_anonymous_page, do_swap_page), and then each page's hardware side as the
   * per-access path makes it: the lookup that missed everywhere, the walk from the memo to the
   * not-present PTE and its fault (the architecture's
   * faultsMissed, for all at once: the fault registers, counters and each fault's TLB
   * invalidation), the retry's lookup (a knownMiss: Tlb.faultRunMissed), its walk and store (the
   * architecture's `leaves`; a load's byte, the last page's) and its TLB fill (fillMissedRun),
   * the fills at the end as in span (nothing in between reads the TLB: the kernel's side of these
   * faults inserts and invalidates nothing, runFaultRun's conditions). Returns the accesses done
   * (0: nothing changed; the per-access path takes the page). Linux and the SDM have nothing like
   * it: every figure is that of the faults one by one (twin-kernel tests with faultFold.batch off:
   * src/kernel/core/faultfold.test.ts, faultfold_swap.test.ts).
   */
  faultRun(
    sink: RunFaultSinkOf<never> | null,
    vaHi: number,
    vaLo: number,
    vpn: number,
    left: number,
  ): number {
    const mmu = this.mmu;
    if (sink === null || sink.runFaultRun === undefined || mmu.faultsMissed === undefined) return 0;
    const memo = this.memo;
    const table = memo.table;
    const write = this.write;
    if (table >= mmu.phys.nrFrames || memo.holds(table) || this.leafOk(vpn, write, this.mode)) return 0;
    const key = memo.key;
    const step = this.step;
    const first = key * this.tablePages;
    const max = Math.min(this.inTable(vpn, key, left, step), PENDING);
    const n = this.coveredAny ? this.uncovered(vpn, step, max, first) : max;
    const stride = step * 4096;
    const k = (sink as RunFaultSinkOf<RunFoldHost>).runFaultRun!(mmu, vaHi, vaLo >>> 0, stride, n);
    if (k === 0) return 0;
    const lo0 = vaLo >>> 0;
    const mode = this.mode;
    const last = lo0 + (k - 1) * stride; // the last page's address, carried into the high half
    const lastHi = (vaHi + Math.floor(last / 4294967296)) >>> 0;
    const access = write ? Access.Write : Access.Read;
    mmu.faultsMissed(vpn, step, k, lastHi, last >>> 0, vpn + (k - 1) * step - first, mode, access);
    this.metaOr = 0; // (nothing pending: span flushes before it returns)
    this.attrOr = 0;
    const done = this.ended(this.leaves(vpn, step, k, write, this.value, lo0 & 4095, mode, 0));
    if (done !== k) throw new ModelBug(`RunFold.faultRun: ${done} of ${k} resolved faults' retries walked`);
    const tlb = mmu.tlb;
    this.fillRun(vpn, step, k, false);
    tlb.faultRunMissed(k - 1, k); // page vpn's faulting lookup: missesAll's
    mmu.translations += 2 * k - 1; // page vpn's first: accessRun's
    this.steady += k;
    this.faultRuns++;
    this.faultPages += k;
    return k;
  }

  /**
   * How many of the run's pages vpn, vpn + step, ... (`max` at most, under the marked table whose
   * first page is `first`) no TLB entry covered before the first one that is (span's pages; faultRun's
   * from vpn's own, which missesAll found uncovered): the marks read up to the first covered page
   * once a marking (scanFrom .. scanStop: the pages the last scan passed, all uncovered, and where
   * it stopped). A run under pressure asks at page after page (faultRun's, most answered none by the
   * kernel, its allocation not sure of the fast path; span's, whose walks stop at the next page
   * swapped out), the same marks every time: a later page of the run is on the same lattice, the
   * run's end the same (each run marks its table before its first ask: begin drops the marks).
   */
  private uncovered(vpn: number, step: number, max: number, first: number): number {
    if (!(vpn >= this.scanFrom && vpn < this.scanStop && (vpn - this.scanFrom) % step === 0)) {
      const covered = this.covered;
      let n = 0;
      while (n < max && covered[vpn + n * step - first] === 0) n++;
      this.scanFrom = vpn;
      this.scanStop = vpn + n * step;
    }
    return Math.min(max, (this.scanStop - vpn) / step);
  }

  /** uncovered's last scan (a vpn range: from its start to the page it stopped before), dropped by mark */
  private scanFrom = Number.NaN;
  private scanStop = Number.NaN;

  /** missesAll's marking of table `key`, when enough faults in a row kept the marks (apart: the cold branch). */
  private markSteady(key: number): boolean {
    if (this.steady < STEADY) return false; // marking scans the TLB: only where it pays
    this.mark(key);
    return true;
  }

  /**
   * After a fault the kernel resolved in the run (Mmu.sinkFault): `kept`, no TLB insert came between
   * (whatever the kernel dropped or changed in the tables: a large page over the leaf table's range
   * gets an entry only by a walk of the run, which drops the memo, and accessRun the marks with it),
   * so the marks hold; else they go.
   */
  afterFault(kept: boolean): void {
    if (kept) this.steady++;
    else {
      this.marked = -1;
      this.steady = 0;
    }
  }

  /** faults in a row that kept the marks (afterFault; a host heuristic, no figure: see begin) */
  private steady = 0;

  /**
   * span tries left out (accessRun counts them down without calling span while the memo is valid),
   * and how many the next first page that fails leafOk leaves out
   */
  skip = 0;
  private backoff = 0;

  /**
   * pages a span batches before its TLB fill (it fills them at once; more: a fill per PENDING).
   * pendVpn, a vpn (above 2^31 in a 64-bit user space), is a double from the start: a Smi 0 here had
   * this object's map change at the first span, deoptimizing the code compiled against it (leaves)
   */
  private pendVpn = Number.NaN;
  private pendCount = 0;
  /** the OR of the pending pages' metas and of their attrs (the walks' `ended`): insertRun's */
  private metaOr = 0;
  private attrOr = 0;

  /**
   * Tlb.fillMissedRun of the n pages the buffers hold from vpn (their walks' metas/attrs OR with
   * them), which starts the next run's OR afresh. `known`: the first page's lookup is a known miss.
   */
  private fillRun(vpn: number, step: number, n: number, known: boolean): void {
    this.mmu.tlb.fillMissedRun(
      vpn,
      step,
      n,
      this.pfns,
      this.metas,
      this.attrs,
      false,
      known,
      this.metaOr,
      this.attrOr,
    );
    this.metaOr = 0;
    this.attrOr = 0;
  }

  /** The span's pages so far into the TLB (Tlb.fillMissedRun): the lookups and fills of each. */
  private flush(step: number): void {
    const n = this.pendCount;
    if (n === 0) return;
    const tlb = this.mmu.tlb;
    // a fault's retry would be the first page's lookup (Tlb.knownMiss); in a span it never is (the
    // walk that kept the memo filled the TLB since): asked all the same, as the lookup asks it
    const known = tlb.knownMiss(this.pendVpn as Vpn, this.mmu.asid, false);
    this.fillRun(this.pendVpn, step, n, known);
    const end = this.pendVpn + n * step; // (the run goes upwards: no mark needed for these)
    this.pendVpn = end;
    this.pendCount = 0;
  }

  /** Marks the pages of leaf table `key` a TLB entry covers. */
  private mark(key: number): void {
    if (this.coveredAny) this.covered.fill(0); // else no mark is set
    this.coveredAny = this.mmu.tlb.markCovered(key * this.tablePages, this.tablePages, this.covered, false);
    this.marked = key;
    this.scanStop = Number.NaN; // uncovered's scan: of the marks before
  }

  /** whether `covered` has a mark (false: every page of the marked table is uncovered, no scan needed) */
  private coveredAny = false;

  /** The run's pages from v in leaf table `key`, `left` at most. */
  private inTable(v: number, key: number, left: number, step: number): number {
    const max = Math.floor((key * this.tablePages + this.tablePages - 1 - v) / step) + 1;
    return Math.min(left, max);
  }

  /**
   * The whole walk of page vpn, the first of a new leaf table, as the per-access path's walkFast
   * makes it (its effects, the walk record, the memo kept for the table), when a walk without side
   * effects shows it a present 4K page in RAM the access is allowed through: true; else nothing
   * changed and false (with fastProbe, walkFast's own probe: nothing but the memo and the walk
   * record's entries, which the per-access walk of that page, next, keeps and writes alike).
   */
  protected walkNext(vpn: number, write: boolean, mode: Mode): boolean {
    const access = write ? Access.Write : Access.Read;
    const mmu = this.mmu;
    if (this.fastProbe) {
      // walkFast itself gives up, changing nothing (but the memo, kept for the table as the
      // per-access walk of this page would keep it), where the walk below would say no: no walk
      // loop to compile and run in a resident pass
      const memo = this.memo;
      memo.probing = true;
      const ok = this.walkFast(vpn, access, mode);
      memo.probing = false;
      return ok;
    }
    const r = this.probeRec;
    // Mmu.walk without side effects: a fault, or a page larger than 4K (a large page, an arm64
    // block or contiguous page, a RISC-V superpage or NAPOT page) seen first
    if (mmu.walk(vpn, access, mode, false, r) !== 0 || r.size !== 0 || r.pagePfn >= mmu.phys.nrFrames)
      return false;
    // the same entries: walkFast walks them (it makes the same checks) or gives up having changed nothing
    return this.walkFast(vpn, access, mode);
  }

  /**
   * Whether `leaves` would do page vpn (its leaf entry a plain present 4K one the access is allowed
   * through, its frame in RAM), changing nothing.
   */
  protected abstract leafOk(vpn: number, write: boolean, mode: Mode): boolean;

  /**
   * What an architecture's `leaves` that did any page leaves for `ended` (its last page's and its
   * totals; see LeavesEnd), written there as its last step.
   */
  protected readonly last = new LeavesEnd();

  /**
   * The end of an architecture's `leaves` that did `k` pages (0: none), made by its caller (span,
   * faultRun) at once after it, from what it left in `last`: the walks, walk references (the memo's
   * entries and the leaf, each walk) and A/D write-backs counted, the MMU's `pa` and a load's `data`
   * the last page's, and the walk record as the last walk leaves it (the entries above the leaf:
   * the memo's walk's; the leaf: the last page's, at `index` of `table`, its frame, metadata and
   * attributes the span's at index `at + k - 1`; `metaOr`, `attrOr`: the OR of the k pages'
   * metadata and attributes, for the fill). Returns k. (Made here, not as `leaves`'s last call: V8
   * inlined it there from feedback it may not have had yet, as `leaves`, a loop over a leaf
   * table's pages, is optimized after a few calls, and the first pass deoptimized it then.)
   */
  private ended(k: number): number {
    if (k === 0) return 0;
    const e = this.last;
    this.metaOr |= e.metaOr;
    this.attrOr |= e.attrOr;
    const mmu = this.mmu;
    const n = this.memo.count;
    mmu.walks += k;
    mmu.walkRefs += k * (n + 1);
    mmu.adWrites += e.adWrites;
    mmu.pa = e.pa as PhysAddr;
    mmu.data = e.data;
    const rec = mmu.walkRec;
    const at = e.at;
    rec.level[n] = 0;
    rec.index[n] = e.index;
    rec.entryPa[n] = e.table * 4096 + e.index * this.entryBytes;
    rec.hi[n] = e.hi;
    rec.lo[n] = e.lo;
    rec.count = n + 1;
    rec.pscLevel = -1;
    rec.pagePfn = this.pfns[at + k - 1] as Pfn;
    rec.size = 0;
    rec.meta = this.metas[at + k - 1];
    rec.attrs = this.attrs[at + k - 1];
    rec.outcome = 0;
    rec.faultKind = HwFaultKind.None;
    rec.faultLevel = -1;
    return k;
  }

  /**
   * The architecture's walks of up to `max` pages vpn, vpn + step, ... from the memo's leaf table,
   * each with its data access (a store of `value` when `write`, else a load) at offset `off`: for
   * each page that is a plain present 4K leaf the access is allowed through, every effect of
   * walkFast from the memo and of accessRun's data access, and its frame, TLB metadata and
   * attributes in pfns/metas/attrs. Stops before the first page that is not, or whose frame is
   * outside RAM, and after a store into a table above the leaf table (the memo dropped); a store
   * into the leaf table itself is made before the next page's walk. Returns the pages done.
   */
  protected abstract leaves(
    vpn: number,
    step: number,
    max: number,
    write: boolean,
    value: number,
    off: number,
    mode: Mode,
    at: number,
  ): number;
}

/**
 * What an architecture's `leaves` leaves for RunFold.ended (when it did a page): its A/D
 * write-backs, the last page's physical address and a load's byte, the leaf table and the last
 * page's entry (its index and words), where the span's pages start in the buffers, and the OR of
 * the pages' metadata and attributes. Numbers that may pass 2^31 start as doubles (a Smi field
 * made a double later changes the object's map and deoptimizes the code compiled against it).
 */
export class LeavesEnd {
  adWrites = 0;
  pa = Number.NaN;
  data = 0;
  table = Number.NaN;
  index = 0;
  hi = Number.NaN;
  lo = Number.NaN;
  at = 0;
  metaOr = 0;
  attrOr = 0;

  /** Every field at once: each architecture's `leaves` ends with this (what RunFold.ended makes of them, at once after it). */
  set(
    adWrites: number,
    pa: number,
    data: number,
    table: number,
    index: number,
    hi: number,
    lo: number,
    at: number,
    metaOr: number,
    attrOr: number,
  ): void {
    this.adWrites = adWrites;
    this.pa = pa;
    this.data = data;
    this.table = table;
    this.index = index;
    this.hi = hi;
    this.lo = lo;
    this.at = at;
    this.metaOr = metaOr;
    this.attrOr = attrOr;
  }
}

/**
 * A span's store into the frame of the leaf table the run walks (`leaves`, every architecture):
 * the stores of pages `from` .. `k - 1` by runs, then this one at once, so that the entries of the
 * pages after it read the stored byte. Returns where the next run of stores starts.
 */
export function storeIntoLeafTable(
  store: PageStore,
  pfns: Float64Array,
  at: number,
  from: number,
  k: number,
  pfn: number,
  off: number,
  value: number,
): number {
  store.writeByteRun(pfns, at + from, k - from, off, value);
  store.writeByte(pfn, off, value);
  return k + 1;
}
