/**
 * MADV_FREE's side of page reclaim, moved out of mm/vmscan.ts as it was
 * (folio_mark_lazyfree and lru_lazyfree, mm/swap.c, are in swap.ts): the
 * lazyfree branch of shrink_folio_list (mm/vmscan.c, with mm/rmap.c try_to_unmap_one's
 * "MADV_FREE page check"). Vmscan calls these with itself.
 */
import { droppedDirty } from "./droppable.ts";
import { PageFlag } from "./PageDesc.ts";
import { DirtyFolio } from "./page_writeback.ts";
import { type RmapEnv, type RmapPages, tryToUnmapLazyfree } from "./rmap.ts";
import type { SwapArea } from "./swapfile.ts";
import type { UserMm } from "./userMm.ts";

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
