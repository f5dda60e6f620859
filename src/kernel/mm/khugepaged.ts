/**
 * Collapsing anonymous memory mapped by 4K PTEs into transparent huge pages:
 * khugepaged (the mm slots it scans, its pass over `pages_to_scan`) and
 * MADV_COLLAPSE, which runs the same scan and collapse synchronously.
 * Linux: mm/khugepaged.c (6.12; the 6.18 host's where they differ, said
 * where it matters). The mm slots' registration and the VMA check are in
 * mm/khugepaged_slots.ts.
 *
 * A shmem VMA (tmpfs, memfd, shared anonymous, SysV) goes through
 * hpage_collapse_scan_file and collapse_file instead (mm/khugepaged_file.ts).
 * What vmlab leaves out: a disk file's collapse (READ_ONLY_THP_FOR_FS: not
 * eligible, SCAN_VMA_CHECK, -EINVAL for MADV_COLLAPSE), mTHP orders
 * below the PMD's, NUMA node choice (one node), userfaultfd (no uffd-wp
 * entries exist), memory-failure during the copy (SCAN_COPY_MC) and the
 * kthread's timing: the model has no wall clock, so a `khugepaged`
 * statement runs one wake-up's khugepaged_do_scan where the kthread would
 * sleep scan_sleep_millisecs between them; alloc_sleep_millisecs after an
 * allocation failure is no wait either (the retry follows at once, as after
 * the sleep). The mmap_lock dropped and retaken around the allocation and
 * the swap-in changes nothing here (nothing runs in between), so
 * hugepage_vma_revalidate finds what it found before.
 */
import { ModelBug } from "../../base/assert.ts";
import { TlbFlush } from "./arch.ts";
import { freeThpBlock } from "./folio_put.ts";
import { Gfp } from "./gfp.ts";
import { allocThpFolio, mapNewHuge, queueNewThp } from "./huge_memory.ts";
import { Errno, type KhugepagedState, linearIndex, type MmContext, VmFault } from "./internal.ts";
import { collapsePteMappedThp, scanFile, shmemOwnerOf } from "./khugepaged_file.ts";
import { collapseErrno, findPmd, Scan } from "./khugepaged_result.ts";
import { collapseAllowable, hugepagePmdEnabled, maxPtesNone } from "./khugepaged_slots.ts";
import { ksmMightUnmapZeroPage } from "./ksm_state.ts";
import type { MmStruct } from "./MmStruct.ts";
import { copyFrame, putPage } from "./memory.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { hugePmd, pgtableTransHugeDeposit, pmdOf, setPteAt } from "./pgtable.ts";
import { doSwapPage } from "./swap_state.ts";
import { type Vma, VmFlag } from "./vma.ts";

// ---- the scan of one PMD ----

/** collapse_control.is_khugepaged of the scan under way (khugepaged's thresholds, or MADV_COLLAPSE's none). */
let isKhugepaged = false;
/** hpage_collapse_scan_pmd's *mmap_locked = false: a collapse was tried (the kthread's scan of this mm ends). */
let mmapLockDropped = false;

/** The PTE table the PMD entry above haddr points to (findPmd said SUCCEED). */
function pteTableOf(ctx: MmContext, mm: MmStruct, haddr: number): number {
  const pmd = pmdOf(ctx, mm, haddr)!;
  return ctx.env.pgtable.pfn(pmd.hi, pmd.lo, 1);
}

/**
 * folio_likely_mapped_shared: a small folio mapped more than once; a
 * large one (a PTE-mapped THP) by its first page's mapcount.
 * Linux: include/linux/mm.h folio_likely_mapped_shared
 */
function likelyMappedShared(ctx: MmContext, pfn: number): boolean {
  const pages = ctx.env.pages;
  const nr = ctx.env.pgtable.hpagePmdNr;
  const head = pfn - (pfn % nr);
  const large = pages.kind[head] === PageKind.UserAnon && pages.priv[head] > 0;
  return pages.mapcount[large ? head : pfn] > 1;
}

/**
 * is_refcount_suitable: no reference besides the mappings (and the swap
 * cache's): no GUP pin, no fault holding it, no LRU batch.
 * Linux: mm/khugepaged.c is_refcount_suitable
 */
function refcountSuitable(ctx: MmContext, pfn: number): boolean {
  const env = ctx.env;
  if (env.lru?.pinned.has(pfn)) return false;
  const inSwapCache = env.swap?.slotOf.get(pfn) !== undefined;
  return env.pages.refcount[pfn] === env.pages.mapcount[pfn] + (inSwapCache ? 1 : 0);
}

/**
 * The checks hpage_collapse_scan_pmd (with swap entries allowed) and
 * __collapse_huge_page_isolate (after the swap-in: none allowed) make of
 * the 512 PTEs of the table `table` at haddr, with the thresholds of
 * khugepaged (max_ptes_none, max_ptes_swap, max_ptes_shared) or, for
 * MADV_COLLAPSE, none; counted in `scanCounts` (none_or_zero, unmapped,
 * referenced).
 * Linux: mm/khugepaged.c hpage_collapse_scan_pmd, __collapse_huge_page_isolate
 */
function checkPtes(ctx: MmContext, table: number, swapAllowed: boolean): Scan {
  const env = ctx.env;
  const pt = env.pgtable;
  const pages = env.pages;
  const st = ctx.khugepaged;
  const nr = pt.hpagePmdNr;
  const maxNone = maxPtesNone(ctx);
  let noneOrZero = 0;
  let unmapped = 0;
  let shared = 0;
  let referenced = 0;
  scanCounts.noneOrZero = 0;
  scanCounts.unmapped = 0;
  scanCounts.referenced = 0;
  for (let i = 0; i < nr; i++) {
    const e = pt.get(env.phys, table * 4096 + i * pt.entryBytes);
    const hi = e.hi;
    const lo = e.lo;
    if (!pt.none(hi, lo) && !pt.present(hi, lo)) {
      // is_swap_pte: a swap entry (or a marker: a guard region's cannot be swapped in)
      if (!swapAllowed || pt.isGuard(hi, lo)) return Scan.PTE_NON_PRESENT;
      unmapped++;
      if (!isKhugepaged || unmapped <= (st?.maxPtesSwap ?? nr / 8)) continue;
      ctx.thpStats.thp_scan_exceed_swap_pte++;
      return Scan.EXCEED_SWAP_PTE;
    }
    if (pt.none(hi, lo) || pt.pfn(hi, lo, 0) === env.zeroPfn) {
      noneOrZero++;
      if (!isKhugepaged || noneOrZero <= maxNone) continue;
      ctx.thpStats.thp_scan_exceed_none_pte++;
      return Scan.EXCEED_NONE_PTE;
    }
    if (pt.special(hi, lo)) return Scan.PAGE_NULL; // vm_normal_page
    const pfn = pt.pfn(hi, lo, 0);
    if (pages.kind[pfn] !== PageKind.UserAnon) return Scan.PAGE_ANON;
    if (likelyMappedShared(ctx, pfn)) {
      shared++;
      if (isKhugepaged && shared > (st?.maxPtesShared ?? nr / 2)) {
        ctx.thpStats.thp_scan_exceed_share_pte++;
        return Scan.EXCEED_SHARED_PTE;
      }
    }
    if (swapAllowed) {
      // the scan: folio_test_lru, folio_test_locked, is_refcount_suitable
      if (env.lru !== null && !env.lru.fbatches.testLru(pfn)) return Scan.PAGE_LRU;
      if (pages.flags[pfn] & PageFlag.Locked) return Scan.PAGE_LOCK;
      if (!refcountSuitable(ctx, pfn)) return Scan.PAGE_COUNT;
    } else {
      // the isolation: folio_trylock, is_refcount_suitable, folio_isolate_lru
      if (pages.flags[pfn] & PageFlag.Locked) return Scan.PAGE_LOCK;
      if (!refcountSuitable(ctx, pfn)) return Scan.PAGE_COUNT;
      if (env.lru !== null && !env.lru.fbatches.testLru(pfn)) return Scan.DEL_PAGE_LRU;
    }
    // "enough young pte to justify collapsing the page" (khugepaged only): pte_young,
    // folio_test_referenced (vmlab has no idle-page tracking: folio_test_young is never set)
    if (isKhugepaged && (pt.young(hi, lo) || pages.flags[pfn] & PageFlag.Referenced)) referenced++;
  }
  scanCounts.noneOrZero = noneOrZero;
  scanCounts.unmapped = unmapped;
  scanCounts.referenced = referenced;
  // 6.12 returned SCAN_PAGE_RO here when no PTE was writable (pte_write: a range shared read-only
  // after fork, or mprotect'ed read-only); Linux 6.18 dropped that check from the scan and the
  // isolation (a 2025 patch by Kiryl Shutsemau), and the 6.18 host collapses such a range
  // (test/differential/collapse.test.ts, fork_ro): vmlab models the host
  if (isKhugepaged && (referenced === 0 || (unmapped > 0 && referenced < nr / 2)))
    return Scan.LACK_REFERENCED_PAGE;
  return Scan.SUCCEED;
}

/** What checkPtes counted (module state: no object per scan). */
const scanCounts = { noneOrZero: 0, unmapped: 0, referenced: 0 };

/**
 * hpage_collapse_scan_pmd: may the PMD at haddr of `vma` be collapsed? If
 * so, collapse_huge_page. Returns the result; mmapLockDropped tells whether
 * a collapse was tried.
 * Linux: mm/khugepaged.c hpage_collapse_scan_pmd
 */
function scanPmd(ctx: MmContext, mm: MmStruct, vma: Vma, haddr: number): Scan {
  mmapLockDropped = false;
  let result = findPmd(ctx, mm, haddr);
  if (result === Scan.SUCCEED) result = checkPtes(ctx, pteTableOf(ctx, mm, haddr), true);
  if (result === Scan.SUCCEED) {
    result = collapseHugePage(ctx, mm, vma, haddr, scanCounts.unmapped);
    mmapLockDropped = true;
  }
  if (ctx.khugepaged !== undefined) ctx.khugepaged.lastResult = result;
  return result;
}

// ---- the collapse ----

/**
 * The huge page to collapse into (alloc_charge_folio): GFP_TRANSHUGE for
 * MADV_COLLAPSE and for khugepaged with its default defrag (1): direct
 * reclaim, no kswapd wake-up, no OOM kill (a costly order: vmlab's
 * __GFP_NORETRY); counted thp_collapse_alloc or thp_collapse_alloc_failed;
 * then the memory cgroup's charge. Not zeroed beyond what allocThpFolio
 * does (the copy fills every page). -1 with the result in `allocResult`.
 * Linux: mm/khugepaged.c alloc_charge_folio, include/linux/gfp_types.h GFP_TRANSHUGE
 */
function allocChargeFolio(ctx: MmContext): number {
  const gfp = Gfp.DIRECT_RECLAIM | Gfp.IO | Gfp.FS | Gfp.HIGHMEM | Gfp.MOVABLE | Gfp.NOWARN | Gfp.NORETRY;
  const pfn = allocThpFolio(ctx, gfp);
  if (pfn < 0) {
    ctx.thpStats.thp_collapse_alloc_failed++;
    allocResult = Scan.ALLOC_HUGE_PAGE_FAIL;
    return -1;
  }
  ctx.thpStats.thp_collapse_alloc++;
  // mem_cgroup_charge(folio, mm, gfp): GFP_TRANSHUGE (khugepaged's default defrag, MADV_COLLAPSE),
  // which retries (vmlab's __GFP_NORETRY is the allocation's only)
  if (ctx.env.chargeHugePage && !ctx.env.chargeHugePage(ctx.env.pgtable.hpagePmdNr, gfp & ~Gfp.NORETRY)) {
    putNewFolio(ctx, pfn);
    allocResult = Scan.CGROUP_CHARGE_FAIL;
    return -1;
  }
  return pfn;
}
let allocResult = Scan.SUCCEED;

/** folio_put of a new huge page never mapped: its block goes back whole. */
function putNewFolio(ctx: MmContext, pfn: number): void {
  const pages = ctx.env.pages;
  for (let i = 0; i < ctx.env.pgtable.hpagePmdNr; i++) pages.refcount[pfn + i] = 0;
  pages.priv[pfn] = -1;
  const err = freeThpBlock(ctx.env, pfn);
  if (err !== null) throw new ModelBug(`collapse: ${err}`);
}

/**
 * hugepage_vma_revalidate: the VMA at haddr still eligible (with the sysfs
 * setting for khugepaged), the PMD inside it, an anonymous VMA with an
 * anon_vma. Linux: mm/khugepaged.c hugepage_vma_revalidate
 */
function revalidate(ctx: MmContext, mm: MmStruct, haddr: number, expectAnon: boolean): Scan {
  if (mm.dead || mm.disableThp) return Scan.ANY_PROCESS; // hpage_collapse_test_exit_or_disable
  const vma = mm.findVma(haddr);
  if (vma === null || vma.vmEnd <= haddr) return Scan.VMA_NULL;
  const nr = ctx.env.pgtable.hpagePmdNr;
  if (haddr < vma.vmStart || haddr + nr > vma.vmEnd) return Scan.ADDRESS_RANGE; // thp_vma_suitable_order
  if (!collapseAllowable(ctx, mm, vma, isKhugepaged)) return Scan.VMA_CHECK;
  if (expectAnon && vma.anonVma === 0) return Scan.PAGE_ANON;
  return Scan.SUCCEED;
}

/**
 * __collapse_huge_page_swapin: each swap entry of the range is faulted in
 * (do_swap_page, a read), then lru_add_drain when any was; SCAN_FAIL when
 * one cannot be (no memory).
 * Linux: mm/khugepaged.c __collapse_huge_page_swapin
 */
function swapin(ctx: MmContext, mm: MmStruct, vma: Vma, haddr: number): Scan {
  const env = ctx.env;
  const pt = env.pgtable;
  const nr = pt.hpagePmdNr;
  let swappedIn = 0;
  for (let i = 0; i < nr; i++) {
    if (findPmd(ctx, mm, haddr) !== Scan.SUCCEED) return Scan.PMD_NULL;
    const pmd = pmdOf(ctx, mm, haddr)!;
    const pa = pteTableOf(ctx, mm, haddr) * 4096 + i * pt.entryBytes;
    const e = pt.get(env.phys, pa);
    if (!pt.isSwap(e.hi, e.lo)) continue;
    const r = doSwapPage(ctx, mm, vma, haddr + i, pa, false, e.hi, e.lo, pmd.pa);
    if (r & (VmFault.OOM | VmFault.SIGBUS | VmFault.SIGSEGV)) return Scan.FAIL;
    swappedIn++;
  }
  if (swappedIn > 0) env.lru?.fbatches.drain();
  return Scan.SUCCEED;
}

/**
 * collapse_huge_page: allocate the huge page, bring in the swapped pages,
 * then pmdp_collapse_flush (the PMD that points to the PTE table cleared,
 * and flush_tlb_range over the 2 MiB: every CPU drops the range's 4K
 * entries), isolate the pages (their checks again, without swap entries),
 * copy them into the huge page (__collapse_huge_page_copy: pte_none and
 * zero-page entries become zeroed subpages, MM_ANONPAGES growing by one
 * each), clear the PTEs and put the old pages (freed unless mapped
 * elsewhere), and map the huge page by one PMD, dirty and writable where
 * the VMA is (maybe_pmd_mkwrite), exclusive, on the LRU and the deferred
 * split queue, with the old PTE table deposited under it
 * (pgtable_trans_huge_deposit): VmPTE unchanged. On a failed isolation the
 * PMD points to the table again (pmd_populate) and nothing changed.
 * Linux: mm/khugepaged.c collapse_huge_page, __collapse_huge_page_copy(_succeeded); mm/pgtable-generic.c pmdp_collapse_flush
 */
function collapseHugePage(ctx: MmContext, mm: MmStruct, vma: Vma, haddr: number, unmapped: number): Scan {
  const env = ctx.env;
  const pt = env.pgtable;
  const nr = pt.hpagePmdNr;
  const folio = allocChargeFolio(ctx);
  if (folio < 0) return allocResult;
  let result = revalidate(ctx, mm, haddr, true);
  if (result === Scan.SUCCEED) result = findPmd(ctx, mm, haddr);
  if (result === Scan.SUCCEED && unmapped > 0) result = swapin(ctx, mm, vma, haddr);
  if (result === Scan.SUCCEED) result = revalidate(ctx, mm, haddr, true);
  if (result === Scan.SUCCEED) result = findPmd(ctx, mm, haddr); // check_pmd_still_valid
  if (result !== Scan.SUCCEED) {
    putNewFolio(ctx, folio);
    return result;
  }
  const pmd = pmdOf(ctx, mm, haddr)!;
  const table = pt.pfn(pmd.hi, pmd.lo, 1);
  const top = pt.pmdLevel === pt.levels - 1; // a PMD folded into the PGD (2-level paging)
  // pmdp_collapse_flush: pmdp_huge_get_and_clear, then flush_tlb_range over the whole PMD
  // ("collapse entails shooting down ptes not pmd")
  if (top) pt.setTop(env.phys, pmd.pa, 0, 0);
  else pt.set(env.phys, pmd.pa, 0, 0);
  env.flushTlbMmRange(mm, haddr, nr, TlbFlush.Range);
  result = checkPtes(ctx, table, false); // __collapse_huge_page_isolate
  if (result !== Scan.SUCCEED) {
    const t = pt.mkTable(table, true); // pmd_populate: the table back, as it was
    if (top) pt.setTop(env.phys, pmd.pa, t.hi, t.lo);
    else pt.set(env.phys, pmd.pa, t.hi, t.lo);
    putNewFolio(ctx, folio);
    return result;
  }
  copyAndRelease(ctx, mm, table, folio);
  // the huge page mapped: folio_add_new_anon_rmap (RMAP_EXCLUSIVE), folio_add_lru_vma,
  // pgtable_trans_huge_deposit of the old table, set_pmd_at, deferred_split_folio
  mapNewHuge(ctx, folio);
  env.lru?.addAnonHuge(folio, linearIndex(vma, haddr), vma.anonVma, vma.vmFlags);
  pgtableTransHugeDeposit(mm, pmd.pa, table);
  const e = hugePmd(ctx, folio, vma.vmFlags, (vma.vmFlags & VmFlag.WRITE) !== 0, true, false);
  if (top) pt.setTop(env.phys, pmd.pa, e.hi, e.lo);
  else setPteAt(ctx, pmd.pa, e.hi, e.lo);
  queueNewThp(ctx, folio);
  return Scan.SUCCEED;
}

/**
 * __collapse_huge_page_copy and _copy_succeeded: each subpage of the new
 * folio gets its PTE's page (copy_mc_user_highpage) or zeros
 * (clear_user_highpage: allocThpFolio zeroed it); then each PTE is cleared
 * (the table is unreachable: its PMD was cleared and flushed), an empty or
 * zero-page one adding one page to MM_ANONPAGES (a KSM-placed zero page
 * also leaving ksm_zero_pages: ksm_might_unmap_zero_page), a page's mapping removed
 * (folio_remove_rmap_pte) and its reference put (free_page_and_swap_cache:
 * a page of no other mapping is freed, leaving the swap cache).
 * Linux: mm/khugepaged.c __collapse_huge_page_copy, __collapse_huge_page_copy_succeeded
 */
function copyAndRelease(ctx: MmContext, mm: MmStruct, table: number, folio: number): void {
  const env = ctx.env;
  const pt = env.pgtable;
  const pages = env.pages;
  const nr = pt.hpagePmdNr;
  for (let i = 0; i < nr; i++) {
    const e = pt.get(env.phys, table * 4096 + i * pt.entryBytes);
    if (pt.none(e.hi, e.lo) || pt.pfn(e.hi, e.lo, 0) === env.zeroPfn) continue; // zeros already
    copyFrame(env.phys, pt.pfn(e.hi, e.lo, 0), folio + i);
  }
  for (let i = 0; i < nr; i++) {
    const pa = table * 4096 + i * pt.entryBytes;
    const e = pt.get(env.phys, pa);
    if (pt.none(e.hi, e.lo)) {
      mm.rssAnon++;
      continue;
    }
    pt.set(env.phys, pa, 0, 0); // ptep_clear
    if (pt.pfn(e.hi, e.lo, 0) === env.zeroPfn) {
      mm.rssAnon++;
      ksmMightUnmapZeroPage(env.ksm, mm, pt.dirty(e.hi, e.lo)); // a KSM-placed zero page (is_ksm_zero_pte)
      continue;
    }
    const src = pt.pfn(e.hi, e.lo, 0);
    pages.mapcount[src]--; // folio_remove_rmap_pte
    putPage(ctx, src); // free_page_and_swap_cache
  }
}

// ---- khugepaged's pass ----

/** khugepaged_scan_mm_slot's *result: its last PMD's, SCAN_FAIL when it scanned none. */
let slotResult = Scan.FAIL;

/**
 * khugepaged_scan_mm_slot: scans the mm under the cursor from
 * khugepaged_scan.address, each eligible VMA's aligned PMDs in turn, until
 * `pages` of progress (HPAGE_PMD_NR per PMD, one per VMA skipped) or a
 * collapse tried (the mmap_lock dropped); past its last VMA (or when it is
 * exiting) the cursor moves to the next slot, or to the list head, which
 * counts a full scan, and an exiting mm's slot is collected. Returns the
 * progress; the last PMD's result is in `slotResult`.
 * Linux: mm/khugepaged.c khugepaged_scan_mm_slot, collect_mm_slot
 */
function scanMmSlot(ctx: MmContext, st: KhugepagedState, pages: number): number {
  const nr = ctx.env.pgtable.hpagePmdNr;
  let result = Scan.FAIL;
  if (st.scanMm === null) {
    st.scanMm = st.slots[0];
    st.scanAddress = 0;
  }
  const mm = st.scanMm;
  let progress = 1;
  let finished = true; // for_each_vma ran to its end (vma == NULL)
  // hpage_collapse_test_exit_or_disable: an exiting mm, or one with MMF_DISABLE_THP, is passed over
  if (!mm.dead && !mm.disableThp) {
    outer: for (const vma of mm.vmas.slice()) {
      if (vma.vmEnd <= st.scanAddress) continue; // vma_iter_init(&vmi, mm, address)
      if (mm.dead || mm.disableThp) {
        progress++;
        finished = false;
        break;
      }
      if (!collapseAllowable(ctx, mm, vma, true)) {
        progress++;
        continue;
      }
      const hstart = Math.ceil(vma.vmStart / nr) * nr;
      const hend = vma.vmEnd - (vma.vmEnd % nr);
      if (st.scanAddress > hend) {
        progress++;
        continue;
      }
      if (st.scanAddress < hstart) st.scanAddress = hstart;
      while (st.scanAddress < hend) {
        if (vma.shmem !== null || vma.file !== null) {
          // the file branch: the mmap_lock dropped for hpage_collapse_scan_file; a PMD-size folio
          // found there has its PTE table removed (collapse_pte_mapped_thp, no PMD installed: the
          // next fault maps it), already PMD-mapped counting as a success too
          result = scanFile(ctx, shmemOwnerOf(vma), linearIndex(vma, st.scanAddress), true);
          mmapLockDropped = true;
          if (result === Scan.PTE_MAPPED_HUGEPAGE) {
            if (mm.dead || mm.disableThp) {
              finished = false;
              break outer;
            }
            result = collapsePteMappedThp(ctx, mm, st.scanAddress, false);
            if (result === Scan.PMD_MAPPED) result = Scan.SUCCEED;
          }
          st.lastResult = result;
        } else result = scanPmd(ctx, mm, vma, st.scanAddress);
        if (result === Scan.SUCCEED) st.pagesCollapsed++;
        st.scanAddress += nr;
        progress += nr;
        if (mmapLockDropped || progress >= pages) {
          finished = false;
          break outer;
        }
      }
    }
  }
  slotResult = result;
  if (mm.dead || finished) {
    const i = st.slots.indexOf(mm);
    if (i + 1 < st.slots.length) {
      st.scanMm = st.slots[i + 1];
      st.scanAddress = 0;
    } else {
      st.scanMm = null;
      st.fullScans++;
    }
    if (mm.dead) st.slots.splice(i, 1); // collect_mm_slot
  }
  return progress;
}

/**
 * khugepaged_do_scan: one wake-up of the kthread. The LRU batches are
 * drained everywhere, then mm slots are scanned until `pages_to_scan` of
 * progress, or the cursor passes the list head a second time, or a second
 * huge-page allocation fails (after the first, khugepaged_alloc_sleep).
 * Returns the PMDs collapsed.
 * Linux: mm/khugepaged.c khugepaged_do_scan
 */
export function khugepagedDoScan(ctx: MmContext): number {
  const st = ctx.khugepaged;
  if (st === undefined) return 0;
  // the kthread runs it (current->mm NULL: its charges' memory.high debt is the root cgroup's)
  return ctx.env.kthreadRun ? ctx.env.kthreadRun(() => doScan(ctx, st)) : doScan(ctx, st);
}

function doScan(ctx: MmContext, st: NonNullable<MmContext["khugepaged"]>): number {
  const before = st.pagesCollapsed;
  isKhugepaged = true;
  ctx.env.lru?.fbatches.drainAll();
  const pages = st.pagesToScan;
  let progress = 0;
  let passThroughHead = 0;
  let wait = true;
  for (;;) {
    if (st.scanMm === null) passThroughHead++;
    if (st.slots.length > 0 && hugepagePmdEnabled(ctx) && passThroughHead < 2)
      progress += scanMmSlot(ctx, st, pages - progress);
    else progress = pages;
    if (progress >= pages) break;
    if (slotResult === Scan.ALLOC_HUGE_PAGE_FAIL) {
      if (!wait) break;
      wait = false; // khugepaged_alloc_sleep: no clock here, the retry follows at once
    }
  }
  return st.pagesCollapsed - before;
}

// ---- MADV_COLLAPSE ----

/**
 * MADV_COLLAPSE on [start, end) of one VMA: synchronous, whatever the
 * sysfs `enabled` setting (but not on a MADV_NOHUGEPAGE, special or disk
 * file VMA, nor on a shmem one its shmem policy refuses even forced: -EINVAL;
 * a shmem VMA's PMDs go through collapse_file, mm/khugepaged_file.ts), with no max_ptes_* thresholds and no
 * referenced-pages requirement (cc->is_khugepaged false). Every aligned PMD
 * the range covers whole is scanned and collapsed (one already huge
 * counts as done); a failure the kernel lets the walk go on past
 * (SCAN_PMD_NULL, SCAN_PAGE_RO, a busy page...) is remembered, any other
 * stops it. 0 when every PMD is huge at the end, else the errno of the last
 * failure (madvise_collapse_errno). A range with no whole PMD is 0.
 * Linux: mm/khugepaged.c madvise_collapse (6.12; 6.18 the same for anonymous memory)
 */
export function madviseCollapse(ctx: MmContext, mm: MmStruct, vma: Vma, start: number, end: number): number {
  if (!collapseAllowable(ctx, mm, vma, false)) return -Errno.EINVAL;
  const nr = ctx.env.pgtable.hpagePmdNr;
  isKhugepaged = false;
  ctx.env.lru?.fbatches.drainAll();
  const hstart = Math.ceil(start / nr) * nr;
  const hend = end - (end % nr);
  let thps = 0;
  let lastFail = Scan.FAIL;
  loop: for (let addr = hstart; addr < hend; addr += nr) {
    let result: Scan;
    if (vma.shmem !== null || vma.file !== null) {
      // hpage_collapse_scan_file; a PMD-size folio there (found, or just made) is mapped by the
      // PMD: collapse_pte_mapped_thp(mm, addr, true)
      result = scanFile(ctx, shmemOwnerOf(vma), linearIndex(vma, addr), false);
      if (result === Scan.PTE_MAPPED_HUGEPAGE) result = collapsePteMappedThp(ctx, mm, addr, true);
      if (ctx.khugepaged !== undefined) ctx.khugepaged.lastResult = result;
    } else result = scanPmd(ctx, mm, vma, addr);
    switch (result) {
      case Scan.SUCCEED:
      case Scan.PMD_MAPPED:
        thps++;
        break;
      // "Whitelisted set of results where continuing OK"
      case Scan.PMD_NULL:
      case Scan.PTE_NON_PRESENT:
      case Scan.PTE_UFFD_WP:
      case Scan.PAGE_RO:
      case Scan.LACK_REFERENCED_PAGE:
      case Scan.PAGE_NULL:
      case Scan.PAGE_COUNT:
      case Scan.PAGE_LOCK:
      case Scan.PAGE_COMPOUND:
      case Scan.PAGE_LRU:
      case Scan.DEL_PAGE_LRU:
        lastFail = result;
        break;
      default:
        lastFail = result;
        break loop;
    }
  }
  // (hend - hstart) >> HPAGE_PMD_SHIFT in unsigned arithmetic: a range inside one PMD that does
  // not start on its boundary (hend < hstart) wraps around, and is -EINVAL
  return hend >= hstart && thps === (hend - hstart) / nr ? 0 : collapseErrno(lastFail);
}
