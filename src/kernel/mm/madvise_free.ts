/**
 * MADV_FREE (madvise_free_single_vma, madvise_free_pte_range,
 * madvise_free_huge_pmd) and the large folio checks it shares with
 * MADV_COLD / MADV_PAGEOUT (madvise_folio_pte_batch, the huge PMD a range
 * covers in part): madvise.ts's doMadvise calls them.
 * Linux: mm/madvise.c, mm/huge_memory.c madvise_free_huge_pmd
 */

import { PteFlag } from "./arch.ts";
import { splitPmd } from "./huge_memory.ts";
import type { MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { folioLikelyMappedShared, pmdAddrEnd } from "./madvise_cold_folio.ts";
import { freeSwapAndCache } from "./memory.ts";
import { MmuGather } from "./mmu_gather.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { isHugePmd, pmdOf, ptepClearFlush, ptepModify, readPte, setPteAt } from "./pgtable.ts";
import { MoveOp } from "./swap.ts";
import { flushTlbBatchedPending } from "./tlbbatch.ts";

/**
 * madvise_cold_or_pageout_pte_range's large folio (an mTHP folio, mm/mthp.ts)
 * met at `vpn` (its page `pfn`): madvise_folio_pte_batch counts the PTEs from
 * `vpn` that map the folio's next pages, up to `end` and the folio's end; fewer
 * than the folio's pages (the range starts or ends inside it, or it is mapped
 * elsewhere in part) and the folio is split (split_folio; the walk goes on at
 * the same PTE, now an order-0 page); one mapped elsewhere too
 * (folio_likely_mapped_shared) is skipped, as is one whose split fails. True to
 * go on with the page (order 0, or its whole folio for reclaim_pages).
 * Linux: mm/madvise.c madvise_cold_or_pageout_pte_range, madvise_folio_pte_batch
 */
export function mthpPageoutWhole(
  ctx: MmContext,
  mm: MmStruct,
  vpn: number,
  pfn: number,
  end: number,
): boolean {
  const env = ctx.env;
  const m = env.mthp;
  const head = m === undefined || m.liveOrders === 0 ? -1 : m.headOf(pfn);
  if (head < 0) return true;
  const nr = 1 << m!.heads.get(head)!;
  const pt = env.pgtable;
  const stop = Math.min(end, pmdAddrEnd(ctx, vpn)); // the pte_range's end: pmd_addr_end
  let batch = 1;
  while (batch < nr && vpn + batch < stop && pfn + batch < head + nr) {
    const pte = readPte(ctx, mm, vpn + batch);
    if (pte === null || !pt.present(pte.hi, pte.lo) || pt.pfn(pte.hi, pte.lo, 0) !== pfn + batch) break;
    batch++;
  }
  if (batch === nr) return true;
  if (folioLikelyMappedShared(ctx, head, nr)) return false;
  return env.lru?.splitHugePage(head) ?? false;
}

/**
 * The head frame of the anonymous THP a huge PMD (hi, lo) maps when only
 * this mapping maps it, else -1: the huge zero page (is_huge_zero_pmd), a
 * page-cache folio, one mapped elsewhere too (folio_likely_mapped_shared).
 */
export function exclusiveAnonPmd(ctx: MmContext, hi: number, lo: number): number {
  const pt = ctx.env.pgtable;
  if (!isHugePmd(ctx, hi, lo) || pt.special(hi, lo) || !pt.accessible(hi, lo)) return -1;
  const head = pt.pfn(hi, lo, pt.pmdLevel);
  const pages = ctx.env.pages;
  return pages.kind[head] === PageKind.UserAnon && pages.mapcount[head] === 1 ? head : -1;
}

/**
 * madvise_free_huge_pmd's and madvise_cold_or_pageout_pte_range's huge PMD
 * that [start, end) covers in part: an anonymous THP only this mapping maps
 * is split (split_folio); the huge zero page, a THP mapped elsewhere too
 * (folio_likely_mapped_shared) and one whose split fails are left as they
 * are, PMD and all (the PTE walk after finds no PTE table there:
 * pte_offset_map_lock fails on a huge PMD). With no LRU lists (no split),
 * the PMD alone is split.
 * Linux 6.12: mm/huge_memory.c madvise_free_huge_pmd; mm/madvise.c madvise_cold_or_pageout_pte_range
 */
export function splitAnonFoliosInPart(ctx: MmContext, mm: MmStruct, start: number, end: number): void {
  const nr = ctx.env.pgtable.hpagePmdNr;
  for (let h = start - (start % nr); h < end; h += nr) {
    if (h >= start && h + nr <= end) continue;
    const pmd = pmdOf(ctx, mm, h);
    const head = pmd === null ? -1 : exclusiveAnonPmd(ctx, pmd.hi, pmd.lo);
    if (head < 0) continue;
    if (ctx.env.lru !== null) ctx.env.lru.splitHugePage(head);
    else splitPmd(ctx, mm, h);
  }
}

/**
 * MADV_FREE (madvise_free_pte_range): private anonymous pages become
 * lazily freeable. A swap entry in the range is dropped at once (its slot
 * freed: the next touch is a zero-filled page, not a swap-in). A mapped
 * page in the swap cache or dirty (PG_dirty) is skipped when it is mapped
 * more than once, and otherwise leaves the swap cache and is made clean; a
 * page mapped twice but neither (a forked child's, say) is marked like any
 * other. Each page's PTE is made old and clean (and flushed), and the page
 * is marked lazyfree (folio_mark_lazyfree: onto the inactive file list), so
 * reclaim drops it without swap I/O while it stays clean, swap or no swap;
 * a page written again (the dirty bit is back) is kept.
 * Linux: mm/madvise.c madvise_free_pte_range
 */
export function lazyFree(ctx: MmContext, mm: MmStruct, start: number, end: number): void {
  ctx.env.lru?.fbatches.drain(); // madvise_free_single_vma: lru_add_drain
  // madvise_free_huge_pmd: a huge page the range covers in part is split; one it covers whole stays huge
  splitAnonFoliosInPart(ctx, mm, start, end);
  const pt = ctx.env.pgtable;
  const pages = ctx.env.pages;
  const swap = ctx.env.swap;
  const nr = pt.hpagePmdNr;
  const tlb = new MmuGather(ctx, mm);
  mm.updateHiwaterRss(); // madvise_free_single_vma: update_hiwater_rss
  // madvise_free_single_vma: tlb_start_vma
  for (const v of mm.vmas) if (v.vmStart < end && v.vmEnd > start) tlb.startVma(v.vmStart, v.vmEnd);
  let whole = start; // the end of the mTHP folio the range maps whole, being marked
  let queued = false; // a page of that folio went into the lru_lazyfree batch
  for (let vpn = start; vpn < end; vpn++) {
    if (vpn === whole && queued) {
      // folio_mark_lazyfree of a large folio: folio_batch_add_and_move moves the batch at once
      ctx.env.lru?.fbatches.largeFolioAdded(MoveOp.Lazyfree);
      queued = false;
    }
    if (vpn % nr === 0 && vpn + nr <= end) {
      const pmd = pmdOf(ctx, mm, vpn);
      if (pmd !== null && isHugePmd(ctx, pmd.hi, pmd.lo)) {
        lazyFreeHugePmd(ctx, tlb, vpn, pmd);
        vpn += nr - 1;
        continue;
      }
    }
    const pte = readPte(ctx, mm, vpn);
    if (pte === null) continue;
    flushTlbBatchedPending(ctx.env.tlbUbc, mm); // madvise_free_pte_range, at its PTE table
    if (pt.isSwap(pte.hi, pte.lo)) {
      // "just clear page table to prevent swap-in": free_swap_and_cache_nr, MM_SWAPENTS
      setPteAt(ctx, pte.pa, 0, 0);
      freeSwapAndCache(ctx, pt.swapOffset(pte.hi, pte.lo));
      mm.swapEnts--;
      continue;
    }
    if (!pt.accessible(pte.hi, pte.lo) || pt.special(pte.hi, pte.lo)) continue;
    const pfn = pt.pfn(pte.hi, pte.lo, 0);
    if (pages.kind[pfn] !== PageKind.UserAnon) continue; // vm_normal_folio: not the zero page
    if (vpn >= whole) {
      // a large (mTHP) folio the range maps in part is split first, unless mapped elsewhere too
      // (madvise_folio_pte_batch, split_folio: the same PTE again as order 0); one it maps whole
      // is marked page by page below
      const m = ctx.env.mthp;
      const head = m === undefined || m.liveOrders === 0 ? -1 : m.headOf(pfn);
      if (head >= 0) {
        if (!mthpPageoutWhole(ctx, mm, vpn, pfn, end)) continue;
        if (m!.headOf(pfn) >= 0) whole = vpn + (1 << m!.heads.get(head)!);
        queued = false;
      }
    }
    const slot = swap?.slotOf.get(pfn);
    if (slot !== undefined || pages.flags[pfn] & PageFlag.Dirty) {
      if (pages.mapcount[pfn] !== 1) continue; // folio_mapcount != folio_nr_pages: shared
      if (slot !== undefined) {
        // folio_free_swap: only when no swap PTE still names the slot (!folio_swapped)
        if (swap!.map[slot] !== 0) continue;
        swap!.removeFromCache(pfn);
        pages.refcount[pfn]--;
      }
      pages.flags[pfn] &= ~PageFlag.Dirty; // folio_clear_dirty
    }
    if (pt.dirty(pte.hi, pte.lo) || pt.young(pte.hi, pte.lo)) {
      // clear_young_dirty_ptes: pte_mkold + pte_mkclean
      const e = pt.modify(pte.hi, pte.lo, 0, PteFlag.DIRTY | PteFlag.YOUNG);
      ptepModify(ctx, tlb, pte.pa, vpn, 0, e.hi, e.lo);
      tlb.flushRange(vpn, 1); // tlb_remove_tlb_entries, whatever pte_needs_flush would say
    }
    if (ctx.env.lru !== null) {
      if (ctx.env.lru.markLazyfree(pfn) && vpn < whole) queued = true;
    } else pages.flags[pfn] |= PageFlag.Lazyfree;
  }
  if (queued && whole <= end) ctx.env.lru?.fbatches.largeFolioAdded(MoveOp.Lazyfree);
  tlb.finish();
}

/**
 * madvise_free_huge_pmd for a huge PMD the range covers whole: the huge page
 * stays huge; unless it is the huge zero page or mapped elsewhere too, it is
 * made clean (PG_dirty and the PMD's dirty and accessed bits, flushed) and
 * marked lazyfree as one folio (reclaim then discards it whole while clean).
 * Linux: mm/huge_memory.c madvise_free_huge_pmd
 */
function lazyFreeHugePmd(
  ctx: MmContext,
  tlb: MmuGather,
  vpn: number,
  pmd: { pa: number; hi: number; lo: number },
): void {
  const pt = ctx.env.pgtable;
  const pages = ctx.env.pages;
  const nr = pt.hpagePmdNr;
  if (pt.special(pmd.hi, pmd.lo) || !pt.accessible(pmd.hi, pmd.lo)) return;
  const head = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
  if (pages.mapcount[head] !== 1) return; // folio_likely_mapped_shared
  for (let i = 0; i < nr; i++) pages.flags[head + i] &= ~PageFlag.Dirty; // folio_clear_dirty
  if (pt.dirty(pmd.hi, pmd.lo) || pt.young(pmd.hi, pmd.lo)) {
    // pmdp_invalidate: the entry goes and is flushed at once (flush_pmd_tlb_range); then
    // pmd_mkold + pmd_mkclean, set_pmd_at, and tlb_remove_pmd_tlb_entry adds it to the gather
    const e = pt.modify(pmd.hi, pmd.lo, 0, PteFlag.DIRTY | PteFlag.YOUNG);
    ptepClearFlush(ctx, tlb.mm, pmd.pa, vpn, pt.pmdLevel);
    ptepModify(ctx, tlb, pmd.pa, vpn, pt.pmdLevel, e.hi, e.lo);
    tlb.flushRange(vpn, nr, pt.pmdLevel);
  }
  if (ctx.env.lru !== null) ctx.env.lru.markLazyfree(head);
  else pages.flags[head] |= PageFlag.Lazyfree;
  // vmlab keeps the flag on every base page (the view reads it per frame)
  if (pages.flags[head] & PageFlag.Lazyfree)
    for (let i = 1; i < nr; i++) pages.flags[head + i] |= PageFlag.Lazyfree;
}
