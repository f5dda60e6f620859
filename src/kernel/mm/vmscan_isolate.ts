/**
 * isolate_lru_folios' zone filter: a reclaim for an allocation that may not use every zone
 * (sc->reclaim_idx below the highest: a GFP_KERNEL allocation on i386, whose highmem pages
 * cannot help it; a GFP_DMA32 one on a machine above 4 GiB) passes over the folios of the
 * zones above it. Linux takes folios from the tail until it has counted nr_to_scan eligible
 * pages or the list is empty, moving each skipped folio to a private list that it splices to
 * the head of the LRU list at the end ("we cannot splice to the tail": the next scan would
 * find them again), counts them in pgskip_<zone>, and reports them in nr_scanned, so that
 * pgscan, pgrefill, sc->nr_scanned and lru_note_cost include them. The skipped folios are not
 * counted toward nr_to_scan ("that makes the function return with no isolated folios if the
 * LRU mostly contains ineligible folios ... a premature OOM").
 *
 * vmlab's shrink_inactive_list and shrink_active_list take their folios one at a time from
 * the tail, handling each before the next. For a limited reclaim, `isolateSkip` first walks
 * the part of the list Linux's isolation would reach, moves the skipped folios to the head in
 * the order list_splice leaves them, and says how many eligible folios the scan then takes
 * from the tail; the folios the scan puts back go to the head in front of them, as
 * move_folios_to_lru puts them after the splice.
 * Linux: mm/vmscan.c isolate_lru_folios
 */
import type { LruLists } from "./mm_inline.ts";
import { PageKind } from "./PageDesc.ts";

/** What the filter needs of the lists (mm/vmscan.ts's Vmscan has it). */
export interface IsolateLists extends LruLists {
  /** sc->reclaim_idx */
  readonly reclaimIdx: number;
  /** PGSCAN_SKIP by zone (pgskip_dma, _dma32 or _normal, _normal or _high, _movable) */
  readonly pgskip: Float64Array;
  readonly env: { readonly pages: { readonly kind: Uint8Array } };
  /** is the page still one the lists hold (vmlab drops pages freed elsewhere lazily) */
  valid(pfn: number): boolean;
  /** takes a page off the lists for good */
  del(pfn: number): void;
}

/** the pages the last isolateSkip passed over (its nr_skipped summed) */
export const skipped = { pages: 0 };

/** Does a scan of `list` under the reclaim's reclaim_idx meet folios it must skip? */
export function mustSkip(v: IsolateLists, list: number): boolean {
  return v.reclaimIdx < 2 && v.lruSize(list, v.reclaimIdx) !== v.size[list];
}

/**
 * The skipped folios among those a scan of `nr` pages of `list` reaches, moved to the head
 * (their pages in `skipped.pages`); returns the eligible folios the scan takes from the tail.
 */
export function isolateSkip(v: IsolateLists, list: number, nr: number): number {
  const idx = v.reclaimIdx;
  const kind = v.env.pages.kind;
  let folios = 0;
  let scan = 0;
  let pages = 0;
  // the first folio moved to the head: the walk has come round to the moved ones
  let first = -1;
  let pfn = v.tail[list];
  while (pfn >= 0 && pfn !== first && scan < nr) {
    const up = v.prev[pfn];
    if (kind[pfn] !== PageKind.UserAnon && !v.valid(pfn)) {
      v.del(pfn); // freed elsewhere: Linux's list no longer has it (the scan's own rule)
      pfn = up;
      continue;
    }
    const nrPages = v.large[pfn] ? v.hpageNr : 1;
    const zone = v.zoneOf(pfn);
    if (zone > idx) {
      v.pgskip[zone] += nrPages;
      pages += nrPages;
      v.add(pfn, list); // list_move to folios_skipped, then list_splice to the head
      if (first < 0) first = pfn;
    } else {
      scan += nrPages;
      folios++;
    }
    pfn = up;
  }
  skipped.pages = pages;
  return folios;
}
