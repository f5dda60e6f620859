/**
 * shrink_folio_list and an anonymous folio that may be DMA-pinned (FOLL_PIN), as Linux 6.12
 * does it. One not in the swap cache is kept before add_to_swap ("if (folio_maybe_dma_pinned(folio))
 * goto keep_locked": back on the list it came from, not activated, nothing counted). One already in
 * the swap cache (swapped in, then pinned) skips add_to_swap and reaches try_to_unmap, whose
 * try_to_unmap_one clears the PTE (flush_cache_page, the TLB flush batched), moves a dirty bit to
 * the folio (folio_mark_dirty), then folio_try_share_anon_rmap_pte refuses the exclusive page
 * (__folio_try_share_anon_rmap: folio_maybe_dma_pinned, -EBUSY): the PTE is put back as it was
 * (set_pte_at(pteval)), the walk stops, the folio is still mapped (nr_unmap_fail) and goes to
 * activate_locked (PG_active, counted in pgactivate). The page stays mapped and resident, at the
 * same frame, so what a device writes through the pin stays what the process reads.
 * Linux: mm/vmscan.c shrink_folio_list; mm/rmap.c try_to_unmap_one; include/linux/rmap.h
 * __folio_try_share_anon_rmap; include/linux/mm.h folio_maybe_dma_pinned
 */
import { TlbFlush } from "./arch.ts";
import { folioMaybeDmaPinned } from "./gup.ts";
import type { MmStruct } from "./MmStruct.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { type RmapEnv, type RmapPages, rmapWalk } from "./rmap.ts";
import type { SwapArea } from "./swapfile.ts";
import { setTlbUbcFlushPending } from "./tlbbatch.ts";

/** What shrink_folio_list's pinned-folio paths need of reclaim (mm/vmscan.ts's Vmscan has it). */
export interface PinnedShrinkPages extends RmapPages {
  readonly env: RmapEnv & { readonly swap: SwapArea | null };
  /** onto the head of a list (off any other): keep_locked's putback */
  add(pfn: number, list: number): void;
  /** shrink_folio_list's activate_locked */
  activateLocked(pfn: number, active: number, nrPages: number, count: boolean): void;
  /** folio_putback_lru: off its list, into the LRU add batch bound for `lru` */
  putbackActive(pfn: number, lru: number): void;
  readonly stats: { pgactivate: number };
}

/**
 * activate_locked's "Not a candidate for swapping, so reclaim swap space": folio_free_swap of an
 * anonymous swap-cache folio when swap is more than half full (mem_cgroup_swap_full: vm_swap_full),
 * if no swap PTE still needs the slot; the folio is then dirty (its only copy).
 * Linux: mm/vmscan.c shrink_folio_list; mm/swapfile.c folio_free_swap
 */
export function activateLockedFreeSwap(env: PinnedShrinkPages["env"], pfn: number): void {
  const swap = env.swap;
  const pages = env.pages;
  if (swap === null || !swap.full || pages.kind[pfn] !== PageKind.UserAnon) return;
  const slot = swap.slotOf.at(pfn);
  if (slot < 0 || swap.map[slot] !== 0) return;
  swap.removeFromCache(pfn); // delete_from_swap_cache: the slot is free again
  pages.refcount[pfn]--;
  pages.flags[pfn] |= PageFlag.Dirty; // folio_set_dirty: its only copy now
}

/**
 * The FOLL_PIN references on `pfn` reclaim takes as a pin's when it reaches the pinned-folio paths
 * (a small page's GUP_PIN_COUNTING_BIAS per pin, 1 a page of a large folio), or -1 when those paths
 * do not apply: not an anonymous swap-backed folio (a lazily freed one fails try_to_unmap on its
 * reference count instead), folio_maybe_dma_pinned false, or a swap-cache page that is not
 * exclusive (try_to_unmap would unmap it; vmlab leaves that case to its reference check).
 */
export function pinnedAnonRefs(v: PinnedShrinkPages, pfn: number): number {
  const pages = v.env.pages;
  if (pages.kind[pfn] !== PageKind.UserAnon || pages.flags[pfn] & PageFlag.Lazyfree) return -1;
  const held = v.env.userMm.pinnedRefs;
  if (held === undefined || held.size === 0) return -1;
  if (!folioMaybeDmaPinned(v.env.userMm, pfn)) return -1;
  const swap = v.env.swap;
  if (swap !== null && swap.slotOf.at(pfn) >= 0 && !(pages.flags[pfn] & PageFlag.AnonExclusive)) return -1;
  return held.get(pfn) ?? 0; // a page of a pinned large folio may hold none itself
}

/**
 * The references shrink_folio_list lets through to try_to_unmap beyond the mappings' (`found`)
 * and the swap cache's: a maybe-pinned anonymous folio's FOLL_PIN references (`dma`,
 * pinnedAnonRefs), or all the extra ones of a lazyfree page (a THP's head), which try_to_unmap_one's
 * MADV_FREE check refuses (ref_count != 1 + map_count: remapped, folio_set_swapbacked,
 * walk_abort; rmap.ts tryToUnmapLazyfree) so that activate_locked counts it as an anonymous page.
 * Linux: mm/rmap.c try_to_unmap_one
 */
export function heldRefs(v: PinnedShrinkPages, pfn: number, dma: number, found: number): number {
  if (dma >= 0) return dma;
  const pages = v.env.pages;
  // a lazyfree THP's head too (__discard_anon_folio_pmd_locked counts the folio's references)
  if (pages.kind[pfn] !== PageKind.UserAnon || !(pages.flags[pfn] & PageFlag.Lazyfree)) return 0;
  return Math.max(pages.refcount[pfn] - found, 0);
}

/**
 * shrink_folio_list past folio_check_references for a folio pinnedAnonRefs accepted: not in the
 * swap cache, keep_locked (back on `list`); in it, try_to_unmap fails and activate_locked puts it
 * on `active` (pgactivate). Returns true when it was activated.
 */
export function shrinkPinnedAnon(
  v: PinnedShrinkPages,
  pfn: number,
  list: number,
  active: number,
  nrPages: number,
): boolean {
  const swap = v.env.swap;
  if (swap === null || swap.slotOf.at(pfn) < 0) {
    v.add(pfn, list); // keep_locked
    return false;
  }
  tryToUnmapPinned(v, pfn);
  v.activateLocked(pfn, active, nrPages, true); // nr_unmap_fail, activate_locked
  return true;
}

/**
 * reclaim_pages (MADV_PAGEOUT) of a folio pinnedAnonRefs accepted, PG_active cleared by
 * reclaim_pages: shrink_folio_list (ignore_references) keeps one not in the swap cache
 * (keep_locked, before add_to_swap and any split), and reclaim_folio_list puts it back inactive
 * (folio_putback_lru); one in the swap cache fails try_to_unmap, activate_locked (pgactivate:
 * shrink_folio_list's count_vm_events) and is put back active. Returns 0 pages reclaimed.
 */
export function pageoutPinnedAnon(
  v: PinnedShrinkPages,
  pfn: number,
  inactive: number,
  active: number,
): number {
  const swap = v.env.swap;
  if (swap === null || swap.slotOf.at(pfn) < 0) {
    v.putbackActive(pfn, inactive);
    return 0;
  }
  tryToUnmapPinned(v, pfn);
  activateLockedFreeSwap(v.env, pfn);
  v.stats.pgactivate += v.large[pfn] ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
  v.putbackActive(pfn, active);
  return 0;
}

/** The page try_to_unmap_one refuses (tryToUnmapPinned's walk): one record, no closure per call. */
const refusing = { v: null as PinnedShrinkPages | null, pfn: 0, done: false };

/**
 * try_to_unmap of a pinned exclusive swap-cache page: its one mapping's PTE cleared and flushed
 * (batched: set_tlb_ubc_flush_pending, else ptep_clear_flush), its dirty bit moved to the folio
 * (folio_mark_dirty: PG_dirty, so the swap copy is written again), then put back unchanged when
 * folio_try_share_anon_rmap_pte fails. Linux: mm/rmap.c try_to_unmap_one
 */
function tryToUnmapPinned(v: PinnedShrinkPages, pfn: number): void {
  const r = refusing;
  r.v = v;
  r.pfn = pfn;
  r.done = false;
  rmapWalk(v, pfn, refuseOne);
  r.v = null;
}

function refuseOne(mm: MmStruct, _vma: unknown, vpn: number, _pa: number, hi: number, lo: number): void {
  const r = refusing;
  if (r.done) return; // try_to_unmap_one returned false: rmap_walk stops
  r.done = true;
  const v = r.v!;
  const env = v.env.userMm.env;
  const pt = env.pgtable;
  env.cache.flushCachePage(mm, vpn, r.pfn); // flush_cache_page
  const ubc = env.tlbUbc;
  if (ubc?.arch.shouldDefer(mm)) setTlbUbcFlushPending(ubc, pt, mm, vpn, hi, lo);
  else if (pt.accessible(hi, lo)) env.flushTlbMmRange(mm, vpn, 1, TlbFlush.Page); // ptep_clear_flush
  if (pt.dirty(hi, lo)) v.env.pages.flags[r.pfn] |= PageFlag.Dirty; // folio_mark_dirty (swap_aops)
  // folio_try_share_anon_rmap_pte: -EBUSY; set_pte_at(mm, address, pvmw.pte, pteval): the PTE as it was
}

/**
 * reclaim_pages (MADV_PAGEOUT) of a lazyfree folio try_to_unmap could not discard: redirtied
 * since MADV_FREE, or holding references beyond isolation's and the mappings' (a FOLL_PIN: ref_count
 * != 1 + map_count). try_to_unmap_one put the entry back and made it swap-backed (rmap.ts
 * tryToUnmapLazyfree); shrink_folio_list: nr_unmap_fail, nr_lazyfree_fail, activate_locked
 * (PG_active, pgactivate: an anonymous folio now, folio_is_file_lru false); reclaim_folio_list's
 * folio_putback_lru puts it back through the LRU add batch onto Active(anon); `thp`: a PMD-mapped
 * THP (its PMD split by try_to_unmap's TTU_SPLIT_HUGE_PMD, all its pages). Returns 0 pages reclaimed.
 * Linux: mm/vmscan.c shrink_folio_list, reclaim_folio_list; mm/rmap.c try_to_unmap_one
 */
export function pageoutLazyfreeKept(
  v: PinnedShrinkPages,
  pfn: number,
  activeAnon: number,
  thp: boolean,
): number {
  const nr = v.large[pfn] || thp ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
  v.stats.pgactivate += nr;
  // a PMD-mapped THP whose PMD try_to_unmap split (tryToUnmapLazyfree): on the lists page by page now
  for (let i = 0, n = v.large[pfn] ? 1 : nr; i < n; i++) v.putbackActive(pfn + i, activeAnon);
  return 0;
}
