/**
 * MADV_FREE's side of page reclaim, moved out of mm/vmscan.ts as it was
 * (folio_mark_lazyfree and lru_lazyfree, mm/swap.c, are in swap.ts): the
 * lazyfree branch of shrink_folio_list (mm/vmscan.c, with mm/rmap.c try_to_unmap_one's
 * "MADV_FREE page check"). Vmscan calls these with itself.
 */
import { droppableSplitPmd, droppedDirty } from "./droppable.ts";
import { extraFolioRefs } from "./folio_put.ts";
import { splitPmd } from "./huge_memory.ts";
import { PageFlag } from "./PageDesc.ts";
import { DirtyFolio } from "./page_writeback.ts";
import { ptepClearFlushOf, setPteAt, zapDepositedTable } from "./pgtable.ts";
import { type RmapEnv, type RmapPages, rmapWalk, unmapPte } from "./rmap.ts";
import type { SwapArea } from "./swapfile.ts";
import type { UserMm } from "./userMm.ts";
import { vmaDroppable } from "./vma.ts";

/** What these need of page reclaim (mm/vmscan.ts Vmscan, which imports this file). */
export interface LazyfreeLists extends RmapPages {
  readonly env: RmapEnv & {
    readonly userMm: UserMm;
    readonly swap: SwapArea | null;
    readonly policy: string;
  };
  readonly lru: Uint8Array;
  readonly referenced: Uint8Array;
  readonly stats: { pglazyfree: number; pglazyfreed: number; pgactivate: number };
  readonly writeback: { immediate: number } | null;
  add(pfn: number, list: number): void;
  del(pfn: number): void;
}

/**
 * shrink_folio_list for a lazyfree page: no add_to_swap; try_to_unmap
 * discards every clean mapping, and the page is freed without any I/O,
 * swap or no swap (PGLAZYFREED). A page written after MADV_FREE is kept
 * (try_to_unmap put it back and made it swap-backed). A droppable page
 * (MAP_DROPPABLE) unmapped dirty is PG_dirty: activated, and freed at the
 * putback (droppable.ts droppedDirty), not counted as reclaimed. Returns the
 * pages that went (pglazyfreed), 0 if it stays, or DirtyFolio.Dropped.
 * Linux: mm/vmscan.c shrink_folio_list, mm/rmap.c try_to_unmap_one
 */
export function discardLazyfree(v: LazyfreeLists, pfn: number): number {
  const nr = v.large[pfn] ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
  if (!tryToUnmapLazyfree(v, pfn)) return 0;
  // folio_test_dirty after try_to_unmap: folio_is_file_lru (not swap-backed), "Immediately reclaim when written back"
  const dirty = (v.env.pages.flags[pfn] & PageFlag.Dirty) !== 0;
  v.del(pfn);
  for (let i = 0; i < nr; i++) v.env.userMm.freeUnmapped(pfn + i);
  if (dirty) droppedDirty(v, nr);
  else v.stats.pglazyfreed += nr;
  return dirty ? DirtyFolio.Dropped : nr;
}

export { newAnonList } from "./droppable.ts";

/**
 * try_to_unmap for a lazily freed (MADV_FREE) or droppable anonymous page: each mapping is
 * cleared with a TLB flush or one owed to the batch (unmapPte; a huge PMD is always flushed at
 * once); a clean one is discarded (one page less of RSS, mapcount and refcount, no swap entry),
 * but a dirty PTE marks the page dirty (folio_mark_dirty): written after MADV_FREE, the entry is
 * put back, the page becomes swap-backed again (vmlab clears its Lazyfree flag) and the walk
 * stops; a VM_DROPPABLE one goes dirty too. Returns whether every mapping went.
 * Linux: mm/rmap.c try_to_unmap_one ("MADV_FREE page check")
 */
export function tryToUnmapLazyfree(r: RmapPages, pfn: number): boolean {
  const pages = r.env.pages;
  const pt = r.env.userMm.env.pgtable;
  // a PMD-mapped huge page goes whole, its PMDs cleared (unmap_huge_pmd_locked, Linux 6.11 and later)
  const nr = r.large[pfn] ? pt.hpagePmdNr : 1;
  const level = r.large[pfn] ? pt.pmdLevel : 0;
  let aborted = false;
  rmapWalk(r, pfn, (mm, v, vpn, pa, hi, lo) => {
    if (aborted) return; // walk_abort
    mm.updateHiwaterRss(); // try_to_unmap_one: update_hiwater_rss
    r.env.userMm.env.cache.flushCachePage(mm, vpn, pfn);
    // the entry just read; a huge PMD cleared and flushed at once (pmdp_huge_clear_flush, no batching)
    if (level === 0) unmapPte(r, mm, pa, vpn, hi, lo);
    else ptepClearFlushOf(r.env.userMm, mm, pa, vpn, level, hi, lo);
    if (pt.dirty(hi, lo)) pages.flags[pfn] |= PageFlag.Dirty;
    // discarded only if ref_count == 1 + map_count (vmlab's small page: no reference of the
    // isolation, so refcount == mapcount) and clean, or of a VM_DROPPABLE VMA (dirty or not: a dirty
    // huge PMD is split and its PTEs dropped, mm/droppable.ts droppableSplitPmd); a pinned page is kept
    const drop = vmaDroppable(v.vmFlags);
    if (
      (pages.flags[pfn] & PageFlag.Dirty && !drop) ||
      extraFolioRefs(pages, pfn, nr) // ref_count != 1 + map_count (pinned); a huge PMD's: __discard_anon_folio_pmd_locked's
    ) {
      setPteAt(r.env.userMm, pa, hi, lo); // "the folio was redirtied": remapped as it was
      // a huge PMD: TTU_SPLIT_HUGE_PMD, then the first PTE's MADV_FREE check fails alike
      if (level !== 0) splitPmd(r.env.userMm, mm, vpn);
      // folio_set_swapbacked, "Unlike MADV_FREE mappings, VM_DROPPABLE ones never get swap backed on failure to drop"
      if (!drop) for (let i = 0; i < nr; i++) pages.flags[pfn + i] &= ~PageFlag.Lazyfree;
      aborted = true;
      return;
    }
    // TTU_SPLIT_HUGE_PMD: a dirty droppable huge PMD is split and its PTEs dropped
    if (level !== 0 && pages.flags[pfn] & PageFlag.Dirty)
      return droppableSplitPmd(r.env.userMm, mm, pa, vpn, hi, lo, pfn, unmapPte.bind(null, r));
    mm.rssAnon -= nr; // dec_mm_counter(MM_ANONPAGES), goto discard
    // __discard_anon_folio_pmd_locked: the huge PMD's deposited table goes with it
    if (level !== 0) zapDepositedTable(r.env.userMm, mm, pa);
    for (let i = 0; i < nr; i++) {
      pages.mapcount[pfn + i]--;
      pages.refcount[pfn + i]--;
    }
  });
  return !aborted;
}
