/**
 * The fold of a run's demand-zero and swap faults (entry.ts userModeRange): a not-present fault
 * of a user write at a none PTE, or of a user load or write at a swap PTE (faultfold_swap.ts), the
 * walk having reached the leaf table (or, a write's, at a none PMD where no transparent huge page
 * may be made: pte_alloc first, foldNoTable), in a private anonymous writable VMA is resolved here,
 * without the architecture's handler, when every check that handler makes is known to pass:
 * do_user_addr_fault (arch/x86/mm/fault.c), do_page_fault (arch/arm64/mm/fault.c) and
 * handle_page_fault (arch/riscv/mm/fault.c) all come, for such a fault, to lock_mm_and_find_vma
 * (the VMA of the mm's last fault, as core/findvma.ts tries first), access_error (VM_WRITE, which
 * allows loads too), handle_mm_fault (mm/anon_fault.ts: do_anonymous_page; mm/swap_state.ts:
 * do_swap_page), the OOM check, mm_account_fault (task minflt, or majflt for a page read from
 * swap) and, on RISC-V, update_mmu_cache (a local SFENCE.VMA of the address: the architecture's
 * `faultFold.resolved`).
 *
 * The run-level conditions (runFoldable): no windows profile (its own handler), no protection
 * keys (x86-64 pku: PKRU may deny a page the VMA allows), no memory limit (a charge that may
 * reclaim), no mTHP order configured (alloc_anon_folio may map a large folio), no hashed page
 * table beside the radix tables, pagefault_disable() not in force, the CPU not observed. The
 * fault-level ones (foldUserFault): the VMA of the mm's last fault contains the address,
 * writable, not file-backed, shmem, HugeTLB nor PFNMAP; the PMD points to a table and the PTE is
 * none (a write), or a swap entry (swapFoldable: a write's exclusive); or the PMD is none, in its
 * present PMD table, and hugeEligible says no (a write: noLeafTable). The MMU's side is untouched: each page's faulting access, #PF and retry are the CPU's
 * own (Mmu.accessRun), so every TLB and walk figure is that of the page-by-page path; a batch of
 * such faults under one leaf table (RunFaultFold.runFaultRun) has its hardware side made at once
 * by the MMU's run (src/hw/mmu/runFold.ts RunFold.faultRun), every figure as page by page.
 */
import { ModelBug } from "../../base/assert.ts";
import type { Mmu, RunFaultSink } from "../../hw/mmu/Mmu.ts";
import { RunFault } from "../../hw/mmu/WalkMemo.ts";
import { AnonFaultTable, anonFaultPte, doAnonymousRun } from "../mm/anon_fault.ts";
import { Gfp } from "../mm/gfp.ts";
import { hugeEligible } from "../mm/huge_memory.ts";
import { VmFault } from "../mm/internal.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { doAnonymousPage } from "../mm/memory.ts";
import { entryRead, pmdPa, ptePa, readEntry } from "../mm/pgtable.ts";
import { type Vma, VmFlag } from "../mm/vma.ts";
import type { KernelCore } from "./core.ts";
import { foldSwapPage, swapFaultAllocs, swapFoldable } from "./faultfold_swap.ts";
import { accountFault } from "./gup.ts";
import { pagefaultOutOfMemory } from "./oom.ts";
import type { SigInfo } from "./signal.ts";
import type { Task } from "./task.ts";

/**
 * The fold's switch (tests: off on the twin kernel that takes every fault through its handler), the
 * faults it took, and those whose allocation entered the slow path (kswapd woken, reclaim, failure);
 * inRun: the fold inside the MMU's run (RunFaultFold; tests: off on the twin whose folded faults
 * leave the run), and the faults it took there; batch: RunFaultFold.runFaultRun (tests: off on the
 * twin that takes each fault of a run by itself), and the faults it took.
 */
export const faultFold = {
  on: true,
  folded: 0,
  /** folded faults that found no leaf table (pte_alloc first: foldNoTable) */
  tables: 0,
  slow: 0,
  inRun: true,
  inRunFolded: 0,
  batch: true,
  batched: 0,
};

/** The leaf table of the run's last folded fault (one run at a time: reset at each run's start). */
export const foldTable = new AnonFaultTable();

/** VMA flags that take a fault off do_anonymous_page's path (file VMAs are told by vma.file, shmem by vma.shmem) */
const NOT_ANON = VmFlag.HUGETLB | VmFlag.PFNMAP | VmFlag.SHARED;

/**
 * May the run's faults be folded (the checks that hold for the whole run)? A run of loads folds
 * only swap PTEs' faults (faultfold_swap.ts); a none PTE's load maps the zero page, never folded.
 */
export function runFoldable(k: KernelCore, cpu: Mmu, task: Task, _write: boolean): boolean {
  // (a run of instruction fetches is never folded: userModeRange asks only for loads and stores)
  foldTable.reset();
  if (!faultFold.on || k.os !== null || k.arch.faultFold === undefined) return false;
  if (task.mm === null || task.pagefaultDisabled > 0) return false;
  if (cpu.tracer !== null || cpu.observer !== null) return false;
  const cfg = k.config;
  if (cfg.pku || (cfg.userMemoryPages !== null && cfg.userMemoryPages !== undefined)) return false;
  if (cfg.memoryHighPages !== null && cfg.memoryHighPages !== undefined) return false; // charges check memory.high
  if (k.arch.hwTable !== undefined) return false;
  const m = k.userMm.env.mthp;
  return m === undefined || m.configuredOrders === 0;
}

/**
 * The fault foldFind took: its VMA, page and PTE's address, for foldResolve; `swap`: the PTE
 * holds a swap entry (hi, lo) (do_swap_page), else it is none (do_anonymous_page); `table`: no
 * leaf table yet, the PMD none (pa -1: foldNoTable allocates the table first).
 */
const found: {
  vma: Vma | null;
  vpn: number;
  pa: number;
  swap: boolean;
  table: boolean;
  hi: number;
  lo: number;
} = {
  vma: null,
  vpn: 0,
  pa: -1,
  swap: false,
  table: false,
  hi: 0,
  lo: 0,
};

/**
 * The PTE of `vpn` as anonFaultPte finds it (the descent, or the leaf table kept in foldTable),
 * read into entryRead: its address when it is none or a swap entry the fold takes for the access
 * (found.swap tells which), else -1 (the table kept when there is one).
 */
function faultPte(k: KernelCore, mm: MmStruct, vpn: number, write: boolean): number {
  const ctx = k.userMm;
  const pa = anonFaultPte(ctx, foldTable, mm, vpn);
  if (pa >= 0) {
    found.swap = false;
    return write ? pa : -1; // a load of a none PTE: do_anonymous_page maps the zero page (not folded)
  }
  const per = ctx.env.pgtable.ptrsPerTable;
  const key = Math.floor(vpn / per);
  // anonFaultPte read the PTE (entryRead) whenever it found the table: it keeps it then
  if (foldTable.key !== key || foldTable.mm !== mm) return -1;
  const hi = entryRead.hi;
  const lo = entryRead.lo;
  if (!swapFoldable(ctx, write, hi, lo)) return -1;
  found.swap = true;
  found.hi = hi;
  found.lo = lo;
  return foldTable.base + (vpn - key * per) * ctx.env.pgtable.entryBytes;
}

/**
 * The fault the access at (vaHi, vaLo) just took, resolved as the architecture's handler would
 * resolve it: null (retry) or the signal; undefined when it is not a fault the fold takes
 * (nothing changed: the handler takes it).
 */
export function foldUserFault(
  k: KernelCore,
  cpu: Mmu,
  task: Task,
  vaHi: number,
  vaLo: number,
  write: boolean,
): SigInfo | null | undefined {
  return foldFind(k, null, task, vaHi, vaLo, write)
    ? foldResolve(k, cpu, task, vaHi, vaLo, write)
    : undefined;
}

/**
 * Whether the fold takes the fault at (vaHi, vaLo): the checks of the handler's path that do
 * not change anything (the VMA of the mm's last fault, access_error, the descent to a none
 * PTE). True: found holds the VMA and PTE for foldResolve. Reads only, so a run may ask before
 * the exception's entry (RunFaultFold).
 */
function foldFind(
  k: KernelCore,
  run: Mmu | null,
  task: Task,
  vaHi: number,
  vaLo: number,
  write: boolean,
): boolean {
  const mm = task.mm!;
  const vpn = k.va.vpnOf(vaHi, vaLo);
  const vmas = mm.vmas;
  const c = mm.faultVmaIndex;
  if (!(c < vmas.length)) return false;
  const vma = vmas[c];
  if (!(vma.vmStart <= vpn && vpn < vma.vmEnd)) return false;
  if ((vma.vmFlags & (VmFlag.WRITE | NOT_ANON)) !== VmFlag.WRITE || vma.file || vma.shmem) return false;
  const pa = faultPte(k, mm, vpn, write);
  found.table = false;
  if (pa < 0) {
    foldTable.reset();
    // a store under a PMD that points to no table yet (a leaf table's first fault): foldNoTable,
    // in a run whose next faults go in batches (tableBatched; elsewhere the handler, as before)
    if (!write || run === null || !tableBatched(k, run) || !noLeafTable(k, mm, vma, vpn)) return false;
    found.swap = false;
    found.table = true;
  }
  found.vma = vma;
  found.vpn = vpn;
  found.pa = pa;
  return true;
}

/** The fault foldFind took, resolved: do_anonymous_page or do_swap_page and what follows it in the handler. */
function foldResolve(
  k: KernelCore,
  cpu: Mmu,
  task: Task,
  vaHi: number,
  vaLo: number,
  write: boolean,
): SigInfo | null {
  const mm = task.mm!;
  const b = k.userMm.env.buddy;
  const slow = b.kswapdWakeups + b.allocStalls + b.failedAllocs;
  k.faultingMm = mm;
  k.userMm.pgfault++; // handle_mm_fault's mm_account_fault (UserMm.handleMmFault counts the others)
  // the flusher's background work queued before this fault, run as UserMm.handleMmFault runs it
  // (queued only by a shared disk-file page's balance_dirty_pages: a fault, or a GUP's in a system
  // call such as MADV_POPULATE_WRITE, which leaves the mm's last fault's VMA as it was)
  k.userMm.env.pageCache.dirtyThrottle?.serve();
  const swap = found.swap;
  const res = swap
    ? foldSwapPage(
        k.userMm,
        mm,
        found.vma!,
        found.vpn - found.vma!.vmStart,
        found.pa,
        write,
        found.hi,
        found.lo,
      )
    : found.table
      ? foldNoTable(k, mm, found.vma!, found.vpn)
      : doAnonymousPage(k.userMm, mm, found.vma!, found.vpn, found.pa, true);
  k.faultingMm = null;
  found.vma = null;
  faultFold.folded++;
  // an allocation that entered the slow path may have reclaimed (and freed page tables): the
  // next fault finds its table again
  if (b.kswapdWakeups + b.allocStalls + b.failedAllocs !== slow) {
    foldTable.reset();
    faultFold.slow++;
  }
  // the OOM killer's SIGKILL, pending since it chose this task: delivered on the way out
  if (task.oomKilled) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n };
  const r = res & ~accountFault(task, res);
  if (r === VmFault.OK) {
    const after = k.arch.faultFold!.resolved;
    if (after !== null) after(cpu, vaHi, vaLo);
    return null;
  }
  // the only failure of do_anonymous_page, and of do_swap_page without do_wp_page: VM_FAULT_OOM,
  // pagefault_out_of_memory on every architecture (a user-mode fault: the handlers' own OOM branch)
  if (swap && r !== VmFault.OOM) throw new ModelBug(`foldResolve: do_swap_page's result ${r}`);
  return pagefaultOutOfMemory(k, task, k.va.vpnOf(vaHi, vaLo));
}

/**
 * Whether a leaf table's first fault in a run is folded (foldNoTable): where the table's next
 * faults go in batches (runFaultRun's conditions, and the MMU's RunFold.faultRun). A host choice,
 * no figure: folded or through the handler, every figure is the same (faultfold.test.ts); where
 * each fault goes by itself (RISC-V, i386, PTI) the run that no longer stops at each new table
 * had V8 compile its per-fault path again and again (RISC-V Sv39's cold first pass: 8.6% more
 * instructions), with nothing to gain from the batch after it.
 */
function tableBatched(k: KernelCore, cpu: Mmu): boolean {
  if (!faultFold.batch || k.arch.faultFold!.resolved !== null || k.userMm.env.kmapLocal !== undefined)
    return false;
  return k.tlbMgr.entryQuiet?.() === true && cpu.runFold?.faultBatches === true;
}

/**
 * Whether __handle_mm_fault takes a store at `vpn` in the private anonymous `vma` to pte_alloc
 * and do_anonymous_page because the PMD is none (reads only): the PMD table present (no pud_alloc
 * to make), its entry none, and no transparent huge page for the range (hugeEligible: THP never
 * or madvise without VM_HUGEPAGE, or the 2M range not inside the VMA), which would take the fault
 * at the PMD instead. Linux: mm/memory.c __handle_mm_fault (pmd_none, thp_vma_allowable_order)
 */
function noLeafTable(k: KernelCore, mm: MmStruct, vma: Vma, vpn: number): boolean {
  const ctx = k.userMm;
  const pmdAt = pmdPa(ctx, mm, vpn);
  if (pmdAt < 0) return false;
  readEntry(ctx, pmdAt); // pmdp_get
  return ctx.env.pgtable.none(entryRead.hi, entryRead.lo) && !hugeEligible(ctx, mm, vma, vpn);
}

/**
 * The fault noLeafTable found, resolved as handle_mm_fault resolves it: pte_alloc (the table
 * allocated, zeroed, accounted and its PMD entry written, as the handler's path makes it: pgtable.ts
 * ptePa), then do_anonymous_page for the new table's none PTE: doAnonymousRun's one page when the
 * VMA's anon_vma is made and the page's allocation is sure of the fast path (the batch's own
 * steps, equal to doAnonymousPage's for one page: alloc_run.test.ts, faultfold.test.ts), else
 * doAnonymousPage (anon_vma_prepare, the slow path). The table is kept for the run's next faults.
 * Linux: mm/memory.c __handle_mm_fault -> handle_pte_fault -> do_pte_missing -> do_anonymous_page
 * (pte_alloc, then ptep_get: none)
 */
function foldNoTable(k: KernelCore, mm: MmStruct, vma: Vma, vpn: number): VmFault {
  const ctx = k.userMm;
  const pa = ptePa(ctx, mm, vpn, true); // pte_alloc
  if (pa < 0) return VmFault.OOM; // no page for the table
  faultFold.tables++;
  const pt = ctx.env.pgtable;
  const key = Math.floor(vpn / pt.ptrsPerTable);
  foldTable.key = key;
  foldTable.mm = mm;
  foldTable.base = pa - (vpn - key * pt.ptrsPerTable) * pt.entryBytes;
  if (vma.anonVma !== 0 && doAnonymousRun(ctx, mm, vma, vpn, pa, 1, 1) === 1) return VmFault.OK;
  return doAnonymousPage(ctx, mm, vma, vpn, pa, true);
}

/**
 * The fold inside the MMU's run (Mmu.accessRun, RunFaultSink): a fault foldFind takes is entered,
 * resolved and returned from as userModeRange's loop makes it (the CPU to kernel mode, the fault
 * counted, the kernel's entry, the fold, the return to user mode), and the run retries the access
 * without leaving its loop. One per kernel, armed by userModeRange for one accessRun at a time.
 */
export class RunFaultFold implements RunFaultSink {
  k: KernelCore | null = null;
  task: Task | null = null;
  cpuId = 0;
  /** the run's record (entry.ts UserAccessRecord): its faults are counted here */
  rec: { faults: number } | null = null;
  /** the signal of a fault resolved in the run that stopped it (RunFault.Stop), for userModeRange */
  pending: SigInfo | null = null;
  /** the run's accesses are stores (else loads) */
  write = true;

  runFault(cpu: Mmu, vaHi: number, vaLo: number): RunFault {
    const k = this.k!;
    const task = this.task!;
    const write = this.write;
    if (!foldFind(k, cpu, task, vaHi, vaLo, write)) return RunFault.NotTaken; // nothing changed
    // userModeRange's steps at an exception: kernel mode, the fault counted, the kernel's entry
    cpu.setUserMode(false);
    this.rec!.faults++;
    k.tlbMgr.enterKernel(this.cpuId);
    const table = found.table; // a new leaf table's PMD entry: a table above the leaf changed
    const r = foldResolve(k, cpu, task, vaHi, vaLo, write);
    faultFold.inRunFolded++;
    if (r !== null) {
      this.pending = r;
      return RunFault.Stop;
    }
    // and its return to user mode for the retry
    k.tlbMgr.exitToUser(this.cpuId);
    cpu.setUserMode(true);
    // a slow-path allocation (foldTable dropped) may have changed tables above the leaf
    return table || foldTable.key === -1 ? RunFault.RetryAnew : RunFault.Retry;
  }
  /**
   * The faults of up to `max` pages va, va + step, ... (step in bytes, a multiple of 4096), each
   * the not-present fault of a user access (the run's: `write`) the run's walk met at a PTE under
   * the leaf table of the run's last fault (the MMU's side: runFold.ts RunFold.faultRun), resolved
   * one after the other as runFault resolves each (the fault counted, handle_mm_fault's pgfault,
   * do_anonymous_page for a store's none PTEs (mm/anon_fault.ts doAnonymousRun, a run of them at once) or do_swap_page for a swap entry (faultfold_swap.ts),
   * mm_account_fault: minflt, or majflt for a page read from swap), without the exception's entry
   * and return, which change nothing here: entryQuiet (no PTI, no KPTI), no update_mmu_cache work
   * (the architecture's `resolved`), no kmap_local (clear_user_highpage on a highmem machine).
   * Stops before the first page it cannot prove the handler's fast case: outside the VMA of the
   * mm's last fault (writable, anonymous, private, its anon_vma made: anon_vma_prepare allocates
   * nothing), a PTE that is neither none (a store) nor a swap entry the fold takes (swapFoldable: a
   * store's must be exclusive, no do_wp_page), or a fault whose allocations might enter the slow
   * path (Buddy.order0FastSure, or order0FastSureN for a swap-in and its readahead window: kswapd's
   * wakeup, reclaim, the OOM killer; a memory limit is never folded, runFoldable). Takes none while
   * the flusher's background work is queued (the first fault runs it, runFault: its page_mkclean
   * flushes). So nothing in the batch flushes a TLB entry or changes a page table but each fault's
   * own PTE. Returns how many it resolved.
   */
  runFaultRun(_cpu: Mmu, vaHi: number, vaLo: number, step: number, max: number): number {
    const k = this.k!;
    const task = this.task!;
    const ctx = k.userMm;
    const env = ctx.env;
    if (!faultFold.batch || k.arch.faultFold!.resolved !== null || env.kmapLocal !== undefined) return 0;
    if (k.tlbMgr.entryQuiet?.() !== true) return 0;
    // background writeback queued (a system call's GUP fault balanced): the first fault runs it
    // (foldResolve, as the handler), and its page_mkclean flushes TLB entries: not in a batch
    if (env.pageCache.dirtyThrottle?.pending === true) return 0;
    const mm = task.mm!;
    const vpn0 = k.va.vpnOf(vaHi, vaLo);
    const vmas = mm.vmas;
    const c = mm.faultVmaIndex;
    if (!(c < vmas.length)) return 0;
    const vma = vmas[c];
    if (!(vma.vmStart <= vpn0 && vpn0 < vma.vmEnd) || vma.anonVma === 0) return 0;
    if ((vma.vmFlags & (VmFlag.WRITE | NOT_ANON)) !== VmFlag.WRITE || vma.file || vma.shmem) return 0;
    const pages = step / 4096;
    const n = Math.min(max, Math.floor((vma.vmEnd - 1 - vpn0) / pages) + 1);
    const b = env.buddy;
    const slow = b.kswapdWakeups + b.allocStalls + b.failedAllocs;
    const rec = this.rec!;
    const pt = env.pgtable;
    const write = this.write;
    // the first page's PTE found as foldFind finds it, the others beside it in the same table
    let pa = faultPte(k, mm, vpn0, write);
    if (pa < 0 || Math.floor((vpn0 + (n - 1) * pages) / pt.ptrsPerTable) !== foldTable.key) return 0;
    let done = 0;
    const off0 = vpn0 - vma.vmStart; // the first page's offset in the VMA (foldSwapPage's `off`)
    k.faultingMm = mm; // each fault's, as foldResolve sets it (nothing else runs between them)
    let hi = found.hi;
    let lo = found.lo;
    let swap = found.swap;
    while (done < n) {
      const vpn = vpn0 + done * pages;
      if (!swap) {
        // a store's none PTEs from here: each fault's do_anonymous_page, at once as far as the
        // allocations are sure of the fast path (order0FastSure before each) and the PTEs none.
        // The first not sure: doAnonymousRun would allocate none (allocRun0's first test) after
        // reading every PTE ahead in the table; under memory pressure most calls here are that
        if (!b.order0FastSure(Gfp.HIGHUSER_MOVABLE)) break;
        const got = doAnonymousRun(ctx, mm, vma, vpn, pa, pages, n - done);
        if (b.kswapdWakeups + b.allocStalls + b.failedAllocs !== slow)
          throw runFaultRunBug(vpn, "a fault of", "'s batch left the fast path order0FastSure promised");
        rec.faults += got;
        ctx.pgfault += got; // handle_mm_fault's mm_account_fault, as foldResolve counts it
        task.minFlt += got; // accountFault(task, VmFault.OK): mm_account_fault's min_flt
        done += got;
        if (done === n) break;
        pa += got * pages * pt.entryBytes;
        readEntry(ctx, pa); // ptep_get of the page it stopped at
        hi = entryRead.hi;
        lo = entryRead.lo;
        // a none PTE there: its allocation was not sure; else a swap entry the fold may take
        if (pt.none(hi, lo) || !swapFoldable(ctx, write, hi, lo)) break;
        swap = true;
        continue;
      }
      // a swap entry: do_swap_page, its allocations (none on a swap-cache hit) sure of the fast path
      const allocs = swapFaultAllocs(ctx, hi, lo);
      if (allocs > 0 && !b.order0FastSureN(Gfp.HIGHUSER_MOVABLE, allocs)) break;
      rec.faults++;
      ctx.pgfault++; // handle_mm_fault's mm_account_fault, as foldResolve counts it
      const res = foldSwapPage(ctx, mm, vma, off0 + done * pages, pa, write, hi, lo); // the page's offset: no heap number
      if ((res & ~VmFault.MAJOR) !== VmFault.OK || b.kswapdWakeups + b.allocStalls + b.failedAllocs !== slow)
        throw runFaultRunBug(vpn, "the fault of", " left the fast path order0FastSureN promised");
      accountFault(task, res);
      done++;
      if (done === n) break;
      pa += pages * pt.entryBytes;
      readEntry(ctx, pa); // ptep_get
      hi = entryRead.hi;
      lo = entryRead.lo;
      swap = !pt.none(hi, lo); // pte_none: do_pte_missing, as anonFaultPte tests it
      if (swap ? !swapFoldable(ctx, write, hi, lo) : !write) break;
    }
    k.faultingMm = null;
    faultFold.folded += done;
    faultFold.inRunFolded += done;
    faultFold.batched += done;
    return done;
  }
}

/**
 * runFaultRun's broken promise, its message made here: written inline, the engine computed the
 * vpn's string for both messages at the top of every round of the loop, where the two throws'
 * paths part (a pure NumberToString placed at its uses' common dominator: a string per page).
 */
function runFaultRunBug(vpn: number, before: string, after: string): ModelBug {
  return new ModelBug(`runFaultRun: ${before} vpn ${vpn}${after}`);
}
