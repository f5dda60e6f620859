/**
 * MADV_FREE's side of page reclaim, moved out of mm/vmscan.ts as it was:
 * folio_mark_lazyfree (mm/swap.c: lru_lazyfree) and the lazyfree branch of
 * shrink_folio_list (mm/vmscan.c, with mm/rmap.c try_to_unmap_one's
 * "MADV_FREE page check"). Vmscan calls these with itself.
 */
import { PageFlag, PageKind } from "./PageDesc.ts";
import { type RmapEnv, type RmapPages, tryToUnmapLazyfree } from "./rmap.ts";
import type { SwapArea } from "./swapfile.ts";
import type { UserMm } from "./userMm.ts";

/** The lists of vmscan.ts's `Lru` this file needs (its numbers; vmscan.ts imports this file). */
const enum List {
  None = 0,
  InactiveFile = 3,
  Unevictable = 5,
}

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
 * MADV_FREE (folio_mark_lazyfree, lru_lazyfree): a clean private anonymous
 * page loses PG_swapbacked (vmlab: gains Lazyfree) and moves to the
 * inactive file list, its PG_active and PG_referenced cleared, so reclaim
 * finds it even with no swap (get_scan_count scans only the file lists
 * then). Only a page on the anonymous lists, not in the swap cache.
 * Linux: mm/swap.c folio_mark_lazyfree, lru_lazyfree
 */
export function markLazyfree(v: LazyfreeLists, pfn: number): void {
  const pages = v.env.pages;
  if (pages.kind[pfn] !== PageKind.UserAnon || pages.flags[pfn] & PageFlag.Lazyfree) return;
  if (v.env.swap?.slotOf.has(pfn)) return;
  const list = v.lru[pfn];
  if (list === List.None || list === List.Unevictable) return; // off the lists, or unevictable (lru_lazyfree)
  pages.flags[pfn] |= PageFlag.Lazyfree;
  v.referenced[pfn] = 0;
  if (v.env.policy === "linux") v.add(pfn, List.InactiveFile);
  v.stats.pglazyfree += v.large[pfn] ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
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
