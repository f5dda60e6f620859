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
import { FileObject } from "../fs/file.ts";
import type { LruLists } from "./mm_inline.ts";
import { PageKind } from "./PageDesc.ts";
import { shmemObjFolioStart } from "./shmem_anon_huge.ts";
import type { ShmemObject } from "./vma.ts";
import type { VmscanEnv } from "./vmscan_env.ts";

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
 *
 * Moving each skipped folio to the head as the walk meets it (list_move, then list_splice)
 * leaves them at the head in the order they had, the eligible ones where they were. So the
 * walk moves nothing: it takes out the few eligible folios above the first skipped one
 * (unlinked, kept in a chain of their own), which leaves the skipped ones one run of the list,
 * moved to the head in one step; the eligible ones go back below what the walk did not reach,
 * above those it met before any skipped one. The lists' sizes do not change (every folio stays
 * on `list`). The walk ends at the list's head: where Linux's comes round to the first folio it
 * moved.
 */
export function isolateSkip(v: IsolateLists, list: number, nr: number): number {
  const idx = v.reclaimIdx;
  const kind = v.env.pages.kind;
  const next = v.next;
  const prev = v.prev;
  const large = v.large;
  let folios = 0;
  let scan = 0;
  // folio_zonenum by the zones' bounds (zoneOf's answer without its per-frame load): the frames
  // from `above` up are in the zones above reclaim_idx, which is 0 or 1 here (mustSkip)
  const above = idx === 0 ? v.zoneEnd0 : v.zoneEnd1;
  const end1 = v.zoneEnd1;
  // the skipped pages by zone
  let skip1 = 0;
  let skip2 = 0;
  // the skipped run: its lowest folio (the first met) and its highest (the last met)
  let bottom = -1;
  let top = -1;
  // the eligible folios met above `bottom`, unlinked: a chain by `next`, the highest first
  let taken = -1;
  let takenLast = -1;
  const hpageNr = v.hpageNr | 0;
  // a folio's pages, 1 + large * hpageMore (`large` holds 0 or 1)
  const hpageMore = hpageNr - 1;
  let pfn = v.tail[list];
  while (pfn >= 0 && scan < nr) {
    if (kind[pfn] !== PageKind.UserAnon && !v.valid(pfn)) {
      const up = prev[pfn];
      v.del(pfn); // freed elsewhere: Linux's list no longer has it (the scan's own rule)
      pfn = up;
      continue;
    }
    if (pfn >= above) {
      // a run of folios to skip (they come in runs of thousands: a DMA-only kswapd's walk past
      // the DMA32 folios): counted in a loop of their own, without calls, while they are
      // anonymous (a page of another kind goes back to the outer loop's check of it), four
      // folios a turn (the engine checks each typed array once a turn, not once a folio)
      if (bottom < 0) bottom = pfn;
      for (;;) {
        let nrPages = 1 + large[pfn] * hpageMore;
        if (pfn < end1) skip1 += nrPages;
        else skip2 += nrPages;
        top = pfn;
        pfn = prev[pfn];
        if (pfn < above || kind[pfn] !== PageKind.UserAnon) break;
        nrPages = 1 + large[pfn] * hpageMore;
        if (pfn < end1) skip1 += nrPages;
        else skip2 += nrPages;
        top = pfn;
        pfn = prev[pfn];
        if (pfn < above || kind[pfn] !== PageKind.UserAnon) break;
        nrPages = 1 + large[pfn] * hpageMore;
        if (pfn < end1) skip1 += nrPages;
        else skip2 += nrPages;
        top = pfn;
        pfn = prev[pfn];
        if (pfn < above || kind[pfn] !== PageKind.UserAnon) break;
        nrPages = 1 + large[pfn] * hpageMore;
        if (pfn < end1) skip1 += nrPages;
        else skip2 += nrPages;
        top = pfn;
        pfn = prev[pfn];
        if (pfn < above || kind[pfn] !== PageKind.UserAnon) break;
      }
      continue;
    }
    // an eligible folio
    const up = prev[pfn];
    scan += large[pfn] ? hpageNr : 1;
    folios++;
    if (bottom >= 0) {
      // out of the list (below it: the skipped `top`), onto the chain's front
      const below = next[pfn];
      if (up >= 0) next[up] = below;
      else v.head[list] = below;
      prev[below] = up;
      if (taken < 0) takenLast = pfn;
      next[pfn] = taken;
      taken = pfn;
    }
    pfn = up;
  }
  v.pgskip[1] += skip1;
  v.pgskip[2] += skip2;
  skipped.pages = skip1 + skip2;
  if (bottom < 0) return folios;
  // where the eligible folios go back: above the ones met before the first skipped folio
  const at = next[bottom];
  // `at` is -1 (the eligible folios go back at the tail) but now and then: its prev[at] and the
  // tail as one load and one store each, whose type feedback every call fills (a branch of its own
  // had none when TurboFan compiled the walk's loop, on-stack: a soft deoptimization at each one
  // taken, the code kept and taken again, ~240 a bench:reclaim pressure run by `node --trace-deopt`)
  const atArr = at >= 0 ? prev : v.tail;
  const atIdx = at >= 0 ? at : list;
  const head = v.head[list];
  if (top !== head) {
    // the run [top .. bottom] out of the list, then in front of its head
    const above = prev[top];
    next[above] = at;
    atArr[atIdx] = above; // prev[at], or the list's tail
    prev[top] = -1;
    next[bottom] = head;
    prev[head] = bottom;
    v.head[list] = top;
  }
  if (taken >= 0) {
    let p = atArr[atIdx];
    next[p] = taken;
    for (let c = taken; c >= 0; c = next[c]) {
      prev[c] = p;
      p = c;
    }
    next[takenLast] = at;
    atArr[atIdx] = takenLast;
  }
  return folios;
}

/**
 * isolate_lru_folios' nr_pages (folio_nr_pages) of the folio holding `pfn` where vmlab's lists
 * hold a large folio page by page (a page-cache or shmem folio, an mTHP): Linux isolates the
 * folio as one entry and counts all its pages in nr_scanned (pgscan) and toward nr_to_scan, so
 * when the scan's page brings its whole folio (reclaimed with it) the folio's other pages count
 * too. 1 for an order-0 page and a PMD THP (one entry of vmlab's lists, counted by the caller).
 * Linux: mm/vmscan.c isolate_lru_folios ("Account all pages in a folio")
 */
export function perPageFolioPages(
  v: {
    readonly env: VmscanEnv;
    readonly large: Uint8Array;
    readonly owner: readonly (FileObject | ShmemObject | undefined)[];
    readonly index: Float64Array;
  },
  pfn: number,
): number {
  if (v.large[pfn]) return 1;
  const env = v.env;
  const owner = v.owner[pfn];
  const index = v.index[pfn];
  if (env.pages.kind[pfn] === PageKind.UserAnon) {
    const m = env.userMm.env.mthp;
    const head = m === undefined || m.heads.size === 0 ? -1 : m.headOf(pfn);
    return head < 0 ? 1 : 1 << m!.heads.get(head)!;
  }
  const pc = env.pageCache;
  // the page's own owner (the lists' record of a page-cache or shmem page), with a large folio
  if (owner === undefined || owner.folios.size === 0) return 1;
  if ((owner instanceof FileObject ? owner.cache : owner.pages).get(index) !== pfn) return 1;
  if (owner instanceof FileObject) return pc.folioPages(owner, pc.folioStart(owner, index));
  const start = shmemObjFolioStart(owner, index, pc.pmdOrder);
  return start < 0 ? 1 : 2 ** owner.folios.get(start)!;
}
