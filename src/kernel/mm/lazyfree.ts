/**
 * MADV_FREE's side of page reclaim, moved out of mm/vmscan.ts as it was
 * (folio_mark_lazyfree and lru_lazyfree, mm/swap.c, are in swap.ts): the
 * lazyfree branch of shrink_folio_list (mm/vmscan.c, with mm/rmap.c try_to_unmap_one's
 * "MADV_FREE page check"). Vmscan calls these with itself.
 */
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
  readonly stats: { pglazyfree: number; pglazyfreed: number };
  add(pfn: number, list: number): void;
  del(pfn: number): void;
}

/**
 * shrink_folio_list for a lazyfree page: no add_to_swap; try_to_unmap
 * discards every clean mapping, and the page is freed without any I/O,
 * swap or no swap (PGLAZYFREED). A page written after MADV_FREE is kept
 * (try_to_unmap put it back and made it swap-backed). True if it went.
 * Linux: mm/vmscan.c shrink_folio_list, mm/rmap.c try_to_unmap_one
 */
export function discardLazyfree(v: LazyfreeLists, pfn: number): boolean {
  const nr = v.large[pfn] ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
  if (!tryToUnmapLazyfree(v, pfn)) return false;
  v.del(pfn);
  for (let i = 0; i < nr; i++) v.env.userMm.freeUnmapped(pfn + i);
  v.stats.pglazyfreed += nr;
  return true;
}
