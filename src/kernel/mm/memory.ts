/**
 * The core of the fault paths and of unmapping. Linux: mm/memory.c
 * (do_anonymous_page, do_wp_page, zap_pte_range, free_pgd_range,
 * remap_pfn_range), with the page references and RSS counters they keep
 * (include/linux/mm.h) and the freeing of a swap entry's slot that zapping
 * needs (mm/swapfile.c free_swap_and_cache).
 *
 * The dispatch of a fault to these paths, handle_mm_fault, is in
 * mm/fault.ts, above the file, shmem and swap paths that use do_wp_page.
 */
import { assert, ModelBug } from "../../base/assert.ts";
import { pfnUnchecked, vpnUnchecked } from "../../base/units.ts";
import type { PhysMem } from "../../hw/PhysMem.ts";
import { PteFlag } from "./arch.ts";
import { freeUserPage, inWholeThp } from "./folio_put.ts";
import { Gfp } from "./gfp.ts";
import { splitPmd } from "./huge_memory.ts";
import { hugetlbFolioPut, unmapHugepageRange } from "./hugetlb.ts";
import { linearIndex, type MmContext, type TlbGather, VmFault } from "./internal.ts";
import { ksmMightUnmapZeroPage } from "./ksm_state.ts";
import type { MmStruct } from "./MmStruct.ts";
import { doAnonymousLarge, mthpUnmappedSome, wpCanReuseLargeAnonFolio } from "./mthp.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import {
  isHugePmd,
  levelSpan,
  mapper,
  nrPagetableCounts,
  ptePa,
  ptepClearFlush,
  ptepGetAndClear,
  ptepSetAccessFlags,
  setPteAt,
  tableIfPresent,
  upperTablesChanged,
  userHalfEnd,
  userPte,
  zapDepositedTable,
} from "./pgtable.ts";
import { flushTlbBatchedPending } from "./tlbbatch.ts";
import { type Vma, VmFlag } from "./vma.ts";

/**
 * RSS kind of a mapped page: anon, file (disk files) or shmem (tmpfs, shared anonymous).
 * Linux: include/linux/mm.h add_mm_counter, mm_counter_file
 */
export function rssAdd(ctx: MmContext, mm: MmStruct, vma: Vma | null, pfn: number, delta: number): void {
  if (ctx.env.pages.kind[pfn] === PageKind.UserAnon) mm.rssAnon += delta;
  else if (vma?.file && vma.file.fs === "disk") mm.rssFile += delta;
  else mm.rssShmem += delta;
}

/**
 * A zeroed page for user memory (GFP_HIGHUSER_MOVABLE | __GFP_ZERO); with
 * an `index`, an anonymous page of a VMA with flags `vmFlags`, which joins
 * the LRU by folio_add_lru_vma (mlocked at once in a VM_LOCKED VMA).
 * Linux: mm/memory.c alloc_anon_folio (vma_alloc_zeroed_movable_folio), mm/swap.c folio_add_lru_vma
 */
export function allocUserPage(ctx: MmContext, index = -1, anonVma = 0, vmFlags = 0): number {
  // mem_cgroup_charge before the page is anyone's: a charge that fails leaves no page (VM_FAULT_OOM)
  if (ctx.env.chargeUserPage !== undefined && !ctx.env.chargeUserPage()) return -1;
  const pfn = ctx.env.buddy.alloc(0, Gfp.HIGHUSER_MOVABLE, PageKind.UserAnon);
  if (pfn >= 0) {
    // clear_user_highpage: kmap_local_page, clear_page, kunmap_local
    const va = ctx.env.kmapLocal?.(pfn);
    ctx.env.phys.zeroFrame(pfnUnchecked(pfn));
    if (va !== undefined) ctx.env.kunmapLocal?.(va);
    if (index >= 0) ctx.env.lru?.addAnon(pfn, index, anonVma, vmFlags);
  }
  return pfn;
}

/**
 * Drops one reference to a user page; frees it at zero (a page of a whole THP:
 * the folio's order-9 block goes when its last page does, folio_put.ts).
 * Linux: mm/swap.c folio_put (__folio_put)
 */
export function putPage(ctx: MmContext, pfn: number): void {
  const pages = ctx.env.pages;
  if (pages.kind[pfn] === PageKind.Hugetlb) {
    hugetlbFolioPut(ctx, pfn); // __folio_put: free_huge_folio
    return;
  }
  if (!(pages.refcount[pfn] > 0)) throw new ModelBug(`putPage: pfn ${pfn} has no references`); // message made only then
  const swap = ctx.env.swap;
  const slot = pages.refcount[pfn] === 2 && pages.mapcount[pfn] === 0 ? swap?.slotOf.get(pfn) : undefined;
  if (slot !== undefined && swap!.map[slot] === 0) {
    // the last mapping of a swap-cache page is gone and no swap PTE names its slot: vmlab drops
    // it from the swap cache at once (Linux leaves it there until reclaim finds it unmapped).
    // While a swap PTE still names the slot (a forked child's), the page stays in the swap
    // cache as in Linux, and that PTE's fault finds it there (a minor fault)
    swap!.removeFromCache(pfn);
    pages.refcount[pfn]--;
  }
  if (--pages.refcount[pfn] === 0) {
    if (pages.flags[pfn] & PageFlag.Mlocked) ctx.env.lru?.fbatches.mlock.freeing(pfn); // free_pages_prepare
    ctx.env.lru?.del(pfn);
    const err = freeUserPage(ctx.env, pfn); // a whole THP's block goes with its last page
    if (err !== null) throw new ModelBug(`putPage: ${err}`);
  }
}

/**
 * Frees a page reclaim has unmapped everywhere (its last reference gone).
 * Linux: mm/vmscan.c shrink_folio_list (free_it)
 */
export function freeUnmapped(ctx: MmContext, pfn: number): void {
  if (ctx.env.pages.refcount[pfn] !== 0) return;
  const err = freeUserPage(ctx.env, pfn);
  if (err !== null) throw new ModelBug(`freeUnmapped: ${err}`);
}

/**
 * free_swap_and_cache: one swap PTE fewer names the slot; when none does
 * and its page sits unmapped in the swap cache (read ahead, never
 * faulted), the page is freed too (__try_to_reclaim_swap).
 * Linux: mm/swapfile.c free_swap_and_cache_nr (__try_to_reclaim_swap)
 */
export function freeSwapAndCache(ctx: MmContext, slot: number): void {
  const swap = ctx.env.swap!;
  swap.put(slot);
  const pfn = swap.cache.get(slot);
  if (swap.map[slot] === 0 && pfn !== undefined && ctx.env.pages.mapcount[pfn] === 0) {
    swap.removeFromCache(pfn);
    putPage(ctx, pfn);
  }
}

/** do_anonymous_page's PTE (userPte's bits, Pgtable.mkUserInto): read at once, so one object for every fault */
const madePte = { hi: 0, lo: 0 };

/**
 * do_anonymous_page: a read maps the shared zero page read-only (no page
 * allocated, no RSS); a write allocates a zeroed page, writable and dirty.
 * Linux: mm/memory.c do_anonymous_page
 */
export function doAnonymousPage(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pa: number,
  write: boolean,
): VmFault {
  const env = ctx.env;
  if (!write) {
    const e = env.pgtable.mkUserInto(madePte, env.zeroPfn, 0, vma.vmFlags, false, false, true);
    setPteAt(ctx, pa, e.hi, e.lo);
    return VmFault.OK;
  }
  // alloc_anon_folio: a large folio of an mTHP order the VMA allows, else order 0
  const m = env.mthp;
  if (m !== undefined && m.configuredOrders !== 0) {
    const r = doAnonymousLarge(ctx, m, mm, vma, vpn, pa);
    if (r !== null) return r;
  }
  mm.anonVmaPrepare(vma);
  const pfn = allocUserPage(ctx, linearIndex(vma, vpn), vma.anonVma, vma.vmFlags);
  if (pfn < 0) return VmFault.OOM;
  const e = env.pgtable.mkUserInto(
    madePte,
    pfn,
    0,
    vma.vmFlags,
    (vma.vmFlags & VmFlag.WRITE) !== 0,
    (vma.vmFlags & VmFlag.WRITE) !== 0, // pte_mkwrite(pte_mkdirty()) only for VM_WRITE (a FOLL_FORCE write: neither)
    false,
  );
  env.pages.mapcount[pfn] = 1;
  env.pages.flags[pfn] |= PageFlag.AnonExclusive; // folio_add_new_anon_rmap(RMAP_EXCLUSIVE)
  mm.rssAnon++;
  setPteAt(ctx, pa, e.hi, e.lo);
  return VmFault.OK;
}

/**
 * do_wp_page: a write to a present read-only PTE in a writable VMA. An
 * exclusive anonymous page is reused in place (wp_page_reuse); the zero
 * page or a page shared with another process (after fork) is copied
 * (wp_page_copy), the old PTE cleared and flushed first. A reuse flushes the
 * page's cache lines first (wp_page_reuse's flush_cache_page: VIVT and
 * aliasing VIPT caches, mm/cacheflush.ts). The new or reused PTE is writable
 * only in a VM_WRITE VMA (maybe_mkwrite): a FOLL_FORCE write (core/gup_remote.ts)
 * into a read-only private mapping leaves it read-only on an exclusive page.
 * With `unshare` (FAULT_FLAG_UNSHARE, GUP's -EMLINK for a read pin of a shared
 * anonymous page): a page we may reuse is only marked exclusive, a copy is
 * mapped read-only and clean (wp_page_copy's unshare case).
 * Linux: mm/memory.c do_wp_page (wp_page_reuse, wp_page_copy, wp_page_shared)
 */
export function doWpPage(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pa: number,
  hi: number,
  lo: number,
  unshare = false,
): VmFault {
  const env = ctx.env;
  const pages = env.pages;
  const pt = env.pgtable;
  const old = pt.pfn(hi, lo, 0);
  const special = pt.special(hi, lo);
  if (vma.vmFlags & VmFlag.SHARED) {
    // wp_page_shared (wp_pfn_shared): a shared mapping writes the page itself, through wp_page_reuse
    env.cache.flushCachePage(mm, vpn, old); // wp_page_reuse: flush_cache_page(vma, address, pte_pfn(orig_pte))
    const e = pt.modify(hi, lo, PteFlag.WRITE | PteFlag.DIRTY | PteFlag.YOUNG, 0);
    ptepSetAccessFlags(ctx, mm, vpn, pa, { hi, lo }, e, true);
    ctx.pgreuse++; // wp_page_reuse: count_vm_event(PGREUSE)
    return VmFault.OK;
  }
  if (
    !special &&
    pages.kind[old] === PageKind.UserAnon &&
    (pages.flags[old] & PageFlag.AnonExclusive || wpCanReuseAnonFolio(ctx, vma, old, vpn, pa))
  ) {
    // wp_page_reuse of an exclusive page, or of one wp_can_reuse_anon_folio found to be ours alone
    pages.flags[old] |= PageFlag.AnonExclusive;
    if (unshare) return VmFault.OK; // do_wp_page: an unshare fault leaves the PTE as it is
    env.cache.flushCachePage(mm, vpn, old); // wp_page_reuse: flush_cache_page(vma, address, pte_pfn(orig_pte))
    // maybe_mkwrite(pte_mkdirty(pte_mkyoung())): writable only in a VM_WRITE VMA
    const w = vma.vmFlags & VmFlag.WRITE ? PteFlag.WRITE : 0;
    const e = pt.modify(hi, lo, w | PteFlag.DIRTY | PteFlag.YOUNG, 0);
    ptepSetAccessFlags(ctx, mm, vpn, pa, { hi, lo }, e, true);
    ctx.pgreuse++; // wp_page_reuse: count_vm_event(PGREUSE)
    return VmFault.OK;
  }
  // do_wp_page: count_vm_event(COW_KSM) before wp_page_copy of a KSM page
  if (!special && env.ksm?.isKsm(old)) env.ksm.cowKsm++;
  mm.anonVmaPrepare(vma);
  env.lru?.pinned.add(old); // wp_page_copy holds a reference on the old page
  const pfn = allocUserPage(ctx, linearIndex(vma, vpn), vma.anonVma, vma.vmFlags);
  env.lru?.pinned.delete(old);
  if (pfn < 0) return VmFault.OOM;
  // wp_page_copy: the zero page needs no copy; a COW of a PFNMAP page copies the raw frame
  if (!special || vma.vmFlags & VmFlag.PFNMAP) {
    // copy_user_highpage: both pages kmap_local'd (32-bit highmem), copied, unmapped in reverse
    const src = env.kmapLocal?.(old);
    const dst = env.kmapLocal?.(pfn);
    // the arch's copy_user_highpage: the user's lines of the old page reach the copy
    // (VIVT: v4wb_copy_user_highpage's flush_cache_page before it)
    env.cache.copyUserHighpage(mm, vpn, old);
    copyFrame(env.phys, old, pfn);
    if (dst !== undefined) env.kunmapLocal?.(dst);
    if (src !== undefined) env.kunmapLocal?.(src);
  }
  // wp_page_copy, the PTE still the old one: flush_cache_page(vma, address, pte_pfn(orig_pte))
  env.cache.flushCachePage(mm, vpn, old);
  pages.mapcount[pfn] = 1;
  pages.flags[pfn] |= PageFlag.AnonExclusive; // folio_add_new_anon_rmap(RMAP_EXCLUSIVE)
  // wp_page_copy: maybe_mkwrite(pte_mkdirty()), or for an unshare fault neither
  const mkwrite = !unshare && (vma.vmFlags & VmFlag.WRITE) !== 0;
  const e = userPte(ctx, pfn, vma.vmFlags, mkwrite, !unshare, false);
  ptepClearFlush(ctx, mm, pa, vpn, 0);
  setPteAt(ctx, pa, e.hi, e.lo);
  if (special) {
    mm.rssAnon++;
    ksmMightUnmapZeroPage(env.ksm, mm, old === env.zeroPfn && pt.dirty(hi, lo)); // wp_page_copy
  } else {
    if (pages.kind[old] !== PageKind.UserAnon) {
      rssAdd(ctx, mm, vma, old, -1);
      mm.rssAnon++;
    }
    if (--pages.mapcount[old] === 0) {
      if (inWholeThp(env, old)) folioUnmappedSome(ctx, old - (old % env.pgtable.hpagePmdNr));
      else if (env.mthp !== undefined && env.mthp.liveOrders !== 0) {
        const head = env.mthp.headOf(old);
        if (head >= 0) mthpUnmappedSome(ctx, head);
      }
    }
    if (vma.vmFlags & VmFlag.LOCKED) env.lru?.fbatches.mlock.munlockFolio(old); // folio_remove_rmap_pte: munlock_vma_folio
    putPage(ctx, old);
  }
  return VmFault.OK;
}

/**
 * wp_can_reuse_anon_folio: may a write fault reuse this anonymous page that
 * is not marked exclusive? Only if no one else holds a reference: at most
 * the mapping's and the swap cache's (folio_ref_count > 1 +
 * folio_test_swapcache refuses), and then the swap cache lets go of it
 * (folio_free_swap, which needs no swap PTE still naming the slot), leaving
 * the mapping's alone. A page without PG_lru (in an LRU add batch, or a move batch)
 * makes it empty this CPU's batch first (lru_add_drain): a page in another
 * CPU's batch keeps that reference, and is copied. A page of an mTHP folio
 * (mm/mthp.ts) is reused when the folio is mapped by this mm alone and all its
 * references are mappings' (__wp_can_reuse_large_anon_folio, Linux 6.15+ and
 * the host's 6.18; 6.12 never reused one: wpCanReuseLargeAnonFolio);
 * `vpn` and `pa` are the faulting page's and its PTE's. A KSM page is never
 * reused (folio_test_ksm: mm/ksm.ts), whatever its references.
 * A page found ours alone moves to the VMA's anon_vma (folio_move_anon_rmap).
 * Linux: mm/memory.c wp_can_reuse_anon_folio
 */
function wpCanReuseAnonFolio(ctx: MmContext, vma: Vma, pfn: number, vpn: number, pa: number): boolean {
  const pages = ctx.env.pages;
  const swap = ctx.env.swap;
  // folio_test_large: a page of an mTHP folio (6.12 never reused one; 6.15+ may)
  const m = ctx.env.mthp;
  if (m !== undefined && m.liveOrders !== 0) {
    const head = m.headOf(pfn);
    if (head >= 0) return wpCanReuseLargeAnonFolio(ctx, vpn, pa, pfn, head, m.heads.get(head)!);
  }
  const slot = swap?.slotOf.get(pfn);
  if (ctx.env.ksm?.isKsm(pfn) || pages.refcount[pfn] > 3) return false; // folio_test_ksm
  // references from remote LRU caches cannot be told apart: this CPU's LRU add batch is emptied
  if (ctx.env.lru !== null && !ctx.env.lru.fbatches.testLru(pfn)) ctx.env.lru.fbatches.drain();
  if (pages.refcount[pfn] > 1 + (slot !== undefined ? 1 : 0)) return false;
  if (slot !== undefined && swap!.map[slot] === 0) {
    // folio_free_swap: !folio_swapped
    swap!.removeFromCache(pfn);
    pages.refcount[pfn]--;
    pages.flags[pfn] |= PageFlag.Dirty; // folio_free_swap: folio_set_dirty (its only copy now)
  }
  if (pages.refcount[pfn] !== 1) return false;
  // folio_move_anon_rmap: the page, ours alone, is the faulting VMA's anon_vma's (a forked
  // child's own, not the root it inherited: its rmap walks visit that anon_vma's VMAs only)
  ctx.env.lru?.setAnonRmap(pfn, linearIndex(vma, vpn), vma.anonVma);
  return true;
}

/**
 * zap_pte_range: clears every PTE in [start, end), dropping mapcounts and
 * RSS; the flush each cleared entry needs, and the pages to free after it,
 * go to the gather. A young PTE of a page-cache or shmem folio marks the
 * folio accessed (zap_present_folio_ptes, when vma_has_recency), a large
 * folio once for each run of its PTEs (folio_pte_batch); a zapped PMD
 * marks nothing (zap_huge_pmd).
 * Linux: mm/memory.c zap_pte_range, zap_present_folio_ptes (unmap_page_range; zap_huge_pmd in mm/huge_memory.c)
 */
export function zapRange(
  ctx: MmContext,
  tlb: TlbGather,
  mm: MmStruct,
  start: number,
  end: number,
  keepGuards = false,
): void {
  // unmap_page_range: tlb_start_vma for each VMA the range reaches (flush_cache_range over the VMA)
  if (tlb.startVma)
    for (const v of mm.vmas) if (v.vmStart < end && v.vmEnd > start) tlb.startVma(v.vmStart, v.vmEnd);
  const phys = ctx.env.phys;
  const pages = ctx.env.pages;
  const pt = ctx.env.pgtable;
  const nr = pt.hpagePmdNr;
  const perTable = pt.ptrsPerTable;
  const m = mapper(ctx, mm);
  const zapVma = mm.vmaAt(start);
  // unmap_single_vma: a HugeTLB VMA's entries are its huge pages' (__unmap_hugepage_range_final)
  if (zapVma !== null && zapVma.vmFlags & VmFlag.HUGETLB) {
    unmapHugepageRange(ctx, tlb, mm, start, end, zapVma);
    return;
  }
  const mthp = ctx.env.mthp;
  // zap_present_folio_ptes: a young PTE of a non-anonymous folio marks it accessed, unless the
  // VMA has no recency (vma_has_recency)
  const lru = zapVma !== null && vmaHasRecency(zapVma) ? ctx.env.lru : null;
  const pc = ctx.env.pageCache;
  // __folio_remove_rmap: munlock_vma_folio of each page a VM_LOCKED VMA lets go
  const munlock = zapVma !== null && zapVma.vmFlags & VmFlag.LOCKED ? ctx.env.lru?.fbatches.mlock : undefined;
  for (let vpn = start; vpn < end; ) {
    const pmdE = m.entryAt(mm.pgdPfn, vpnUnchecked(vpn), pt.pmdLevel);
    if (pmdE !== null && isHugePmd(ctx, pmdE.hi, pmdE.lo)) {
      const h = vpn - (vpn % nr);
      if (h >= start && h + nr <= end) {
        // zap_huge_pmd: the whole huge page goes, and the table it deposited (zap_deposited_table;
        // a page-cache folio's PMD deposited none). Unlike zap_present_folio_ptes it neither marks
        // the folio dirty for a dirty PMD nor accessed for a young one (Linux 6.12): a file PMD is
        // dirty only after a shared write fault dirtied the folio (do_shared_fault -> do_set_pmd),
        // and folio_mkclean write-protects it when writeback cleans the folio (pageMkclean)
        const base = pt.pfn(pmdE.hi, pmdE.lo, pt.pmdLevel);
        const special = pt.special(pmdE.hi, pmdE.lo);
        const file = !special && pages.kind[base] === PageKind.PageCache;
        ptepGetAndClear(ctx, tlb, pmdE.entryPa, h, pt.pmdLevel);
        if (!file) zapDepositedTable(ctx, mm, pmdE.entryPa);
        if (!special) {
          let unmapped = 0;
          for (let i = 0; i < nr; i++) {
            if (--pages.mapcount[base + i] === 0) unmapped++;
            tlb.removePage(base + i);
          }
          if (file) rssAdd(ctx, mm, mm.vmaAt(h), base, -nr);
          else mm.rssAnon -= nr;
          // __folio_remove_rmap (PMD level): pages still mapped by PTEs elsewhere: partially mapped
          if (!file && unmapped > 0 && unmapped < nr) folioUnmappedSome(ctx, base);
          munlock?.munlockFolio(base);
        }
        vpn = h + nr;
        continue;
      }
      splitPmd(ctx, mm, h); // a partial unmap splits the huge page first
    }
    const table = tableIfPresent(ctx, m, mm.pgdPfn, vpn);
    if (table < 0) {
      vpn = (Math.floor(vpn / perTable) + 1) * perTable; // no page table here: skip its whole span
      continue;
    }
    flushTlbBatchedPending(ctx.env.tlbUbc, mm); // zap_pte_range, at its PTE table
    const stop = Math.min(end, (Math.floor(vpn / perTable) + 1) * perTable);
    pt.contpte?.unfoldPartial(ctx.env, mm, table, vpn, stop); // arm64: the folded blocks the range cuts
    // the THP whose pages this table's run last unmapped (zap_present_ptes batches a folio's
    // PTEs: folio_remove_rmap_ptes once for the run, then its partially-mapped check)
    let thpHead = -1;
    let mthpHead = -1;
    // the large page-cache folio whose PTEs the run is batching (folio_pte_batch: consecutive
    // PTEs of its consecutive pages), whether one of them was young, and the next it would take
    let batchHead = -1;
    let batchYoung = false;
    let batchNext = -1;
    for (; vpn < stop; vpn++) {
      const pa = table * 4096 + (vpn % perTable) * pt.entryBytes;
      const { hi, lo } = pt.get(phys, pa);
      if (pt.none(hi, lo)) continue;
      if (keepGuards && pt.isGuard(hi, lo)) continue;
      ptepGetAndClear(ctx, tlb, pa, vpn, 0);
      if (pt.isSwap(hi, lo)) {
        // zap_nonpresent_ptes: free_swap_and_cache
        freeSwapAndCache(ctx, pt.swapOffset(hi, lo));
        mm.swapEnts--;
        continue;
      }
      if (!pt.present(hi, lo)) continue;
      if (pt.special(hi, lo)) {
        // zap_present_ptes without a page: ksm_might_unmap_zero_page (a KSM-placed zero page)
        if (ctx.env.ksm?.zeroPages)
          ksmMightUnmapZeroPage(ctx.env.ksm, mm, pt.pfn(hi, lo, 0) === ctx.env.zeroPfn && pt.dirty(hi, lo));
        continue;
      }
      const pfn = pt.pfn(hi, lo, 0);
      // zap_present_folio_ptes: a dirty PTE of a folio that is not anonymous marks it dirty
      // (folio_mark_dirty). For a swap-backed one (shmem, SysV, tmpfs) the PTE is the only record
      // of a write through a mapping that a read fault mapped writable: without it reclaim would
      // drop the folio as clean. (A disk file's write faults mark its folios dirty already.)
      if (
        pages.flags[pfn] & PageFlag.SwapBacked &&
        pages.kind[pfn] === PageKind.PageCache &&
        pt.dirty(hi, lo)
      )
        pages.flags[pfn] |= PageFlag.Dirty;
      if (lru !== null && pages.kind[pfn] === PageKind.PageCache) {
        const young = pt.young(hi, lo);
        if (batchHead >= 0 && pfn === batchNext && pc.largeHeadOf(pfn) === batchHead) {
          batchYoung ||= young;
          batchNext++;
        } else {
          if (batchYoung) markFolioAccessed(ctx, batchHead);
          batchHead = pc.largeHeadOf(pfn);
          batchYoung = batchHead >= 0 && young;
          batchNext = pfn + 1;
          if (batchHead < 0 && young) lru.markAccessed(pfn);
        }
      }
      rssAdd(ctx, mm, zapVma, pfn, -1);
      if (--pages.mapcount[pfn] === 0) {
        if (inWholeThp(ctx.env, pfn)) {
          const head = pfn - (pfn % nr);
          if (head !== thpHead && thpHead >= 0) folioUnmappedSome(ctx, thpHead);
          thpHead = head;
        } else if (mthp !== undefined && mthp.liveOrders !== 0) {
          const head = mthp.headOf(pfn); // an mTHP folio's page: checked after the run, as a THP's
          if (head >= 0 && head !== mthpHead) {
            if (mthpHead >= 0) mthpUnmappedSome(ctx, mthpHead);
            mthpHead = head;
          }
        }
      }
      munlock?.munlockFolio(pfn);
      tlb.removePage(pfn);
    }
    if (batchYoung) markFolioAccessed(ctx, batchHead);
    if (thpHead >= 0) folioUnmappedSome(ctx, thpHead);
    if (mthpHead >= 0) mthpUnmappedSome(ctx, mthpHead);
  }
}

/**
 * vma_has_recency: may the VMA's accesses mark its folios accessed? Not
 * under MADV_SEQUENTIAL or MADV_RANDOM (VM_SEQ_READ, VM_RAND_READ), nor
 * for a file opened POSIX_FADV_NOREUSE (FMODE_NOREUSE).
 * Linux: include/linux/mm_inline.h vma_has_recency
 */
export function vmaHasRecency(vma: Vma): boolean {
  if (vma.vmFlags & (VmFlag.SEQ_READ | VmFlag.RAND_READ)) return false;
  return !(vma.vmFile?.fmodeNoreuse ?? false);
}

/**
 * folio_mark_accessed of the large page-cache folio at `head`: each of its
 * pages, as vmlab's LRU holds them (filemap.ts markFolioAccessed).
 * Linux: mm/swap.c folio_mark_accessed
 */
function markFolioAccessed(ctx: MmContext, head: number): void {
  const order = ctx.env.pageCache.largeHeads.get(head) ?? 0;
  for (let i = head; i < head + 2 ** order; i++) ctx.env.lru?.markAccessed(i);
}

/**
 * __folio_remove_rmap's partially-mapped check for a whole THP some of whose
 * pages an unmap just took the last mapping of (mm/split_queue.ts).
 * Linux: mm/rmap.c __folio_remove_rmap
 */
function folioUnmappedSome(ctx: MmContext, head: number): void {
  ctx.env.deferredSplit?.unmappedSome(ctx.env.pages, head, ctx.env.pgtable.hpagePmdNr, ctx.thpStats);
}

/**
 * free_pgd_range: unlinks page-table pages whose whole span lies in
 * [floor, ceiling) (no VMA left in it) within the unmapped [start, end),
 * and hands each to the gather, which frees it after its flush (a walk
 * cache may still point at it until then).
 * Linux: mm/memory.c free_pgd_range (pte_free_tlb, pmd_free_tlb, pud_free_tlb)
 */
export function freePgtables(
  ctx: MmContext,
  tlb: TlbGather,
  mm: MmStruct,
  start: number,
  end: number,
  floor: number,
  ceiling: number,
): void {
  const phys = ctx.env.phys;
  const pt = ctx.env.pgtable;
  const walk = (tablePfn: number, level: number, base: number): boolean => {
    // returns true if the table is now empty
    const span = levelSpan(ctx, level);
    let empty = true;
    for (let i = 0; i < pt.ptrsPerTable; i++) {
      const childBase = base + i * span;
      const pa = tablePfn * 4096 + i * pt.entryBytes;
      const { hi, lo } = pt.get(phys, pa);
      if (pt.none(hi, lo)) continue;
      if (level === 0 || childBase + span <= start || childBase >= end || childBase >= userHalfEnd(ctx)) {
        empty = false;
        continue;
      }
      const child = pt.pfn(hi, lo, level);
      const childEmpty = walk(child, level - 1, childBase);
      // PAE's preallocated PMDs live as long as the PGD
      const pinned = level === pt.levels - 1 && pt.preallocatedPmds === true;
      if (childEmpty && !pinned && childBase >= floor && childBase + span <= ceiling) {
        // p?d_clear, then p?d_free_tlb: freed once the gather has flushed
        if (level > pt.pmdLevel) upperTablesChanged(); // a PMD table or above leaves its place
        if (level === pt.levels - 1)
          pt.setTop(phys, pa, 0, 0); // pgd_clear
        else pt.set(phys, pa, 0, 0);
        tlb.removeTable(child, childBase, level); // pte_free_tlb at a PMD entry, pmd_free_tlb above
        mm.ptPages--;
        if (nrPagetableCounts(pt.levels, level - 1)) ctx.env.countPageTables(-1);
      } else empty = false;
    }
    return empty;
  };
  walk(mm.pgdPfn, pt.levels - 1, 0);
}

/**
 * remap_pfn_range: every PTE of the VMA is filled at once with the
 * driver's frames, marked special (no struct page is refcounted or
 * mapcounted, nothing counts in RSS, reclaim never sees them); vm_pgoff
 * holds the first pfn, as Linux sets it for a COW-able PFNMAP.
 * Linux: mm/memory.c remap_pfn_range
 */
export function remapPfnRange(ctx: MmContext, mm: MmStruct, vma: Vma, pfn: number): void {
  const writable = (vma.vmFlags & VmFlag.WRITE) !== 0 && (vma.vmFlags & VmFlag.SHARED) !== 0;
  for (let i = 0; i < vma.pages; i++) {
    const pa = ptePa(ctx, mm, vma.vmStart + i, true);
    assert(pa >= 0, "remap_pfn_range: no memory for a page table");
    const e = userPte(ctx, pfn + i, vma.vmFlags, writable, false, true);
    setPteAt(ctx, pa, e.hi, e.lo);
  }
}

/**
 * Copies a frame's contents into a freshly zeroed frame.
 * Linux: include/linux/highmem.h copy_user_highpage
 */
export function copyFrame(phys: PhysMem, from: number, to: number): void {
  phys.frameWillBeRead(pfnUnchecked(from));
  if (phys.store.isZero(from)) return; // zeros, and `to` was zeroed
  phys.frameWillBeWritten(pfnUnchecked(to));
  phys.store.copyTo(from, phys.store, to); // a uniform frame's copy stays uniform
}
