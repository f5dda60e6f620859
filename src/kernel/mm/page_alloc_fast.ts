/**
 * The page allocator's fast path, forecast and batched: whether the next order-0 allocations of a
 * gfp are sure to be get_page_from_freelist's first try in its first zone (no slow path, no kswapd
 * wake-up, no reclaim), and a run of such allocations made at once. core/faultfold.ts and
 * mm/anon_fault.ts batch demand-zero and swap-in faults on these forecasts; each allocation of a
 * run is the one `BuddyAllocator.alloc` would make. Linux: mm/page_alloc.c get_page_from_freelist,
 * rmqueue, rmqueue_pcplist
 */
import { ModelBug } from "../../base/assert.ts";
import { Gfp } from "./gfp.ts";
import { gfpMigratetype, MAX_ORDER, MIGRATE_TYPES, Mobility } from "./migratetype.ts";
import { Wmark, type Zone } from "./mmzone.ts";
import type { PageDescTable, PageKind } from "./PageDesc.ts";
import { AllocFlag, type FreeAreas, fallbackExists } from "./page_alloc_fallback.ts";
import type { PcpLists } from "./page_alloc_pcp.ts";

/** The buddy allocator as the fast path's forecasts use it (BuddyAllocator is one). */
export interface FastBuddy extends FreeAreas {
  readonly zones: Zone[];
  readonly pcp: PcpLists | null;
  readonly pgalloc: Float64Array;
  gfpZone(gfp: number): number;
  fastFlags(gfp: number, highest: number): number;
  wmark(z: Zone, which: Wmark): number;
  watermarkOk(z: Zone, order: number, mark: number, highestZone: number, allocFlags: number): boolean;
  rmqueueMt(z: Zone, order: number, mt: number, allocFlags: number): number;
  prep0(pfn: number, kind: PageKind): number;
  readonly pages: PageDescTable;
}

/**
 * Whether an order-0 rmqueue of `mt` in zone `id` (of the fast path: ALLOC_KSWAPD when `kswapd`),
 * the n-th in a row, takes its page quietly (reads only): no ZONE_BOOSTED_WATERMARK for it to wake
 * kswapd on, and its page on the running CPU's `mt` list (the list holds n), or the list's refill
 * (rmqueue_bulk: nr_pcp_alloc's batch of __rmqueue calls) all from the buddy's `mt` lists: a
 * fallback to another type's block smaller than a pageblock would boost the watermarks. Without
 * pcp lists, one __rmqueue: a page on the `mt` lists, or a fallback block of pageblock_order or
 * more. For the fast-path forecasts below.
 */
function rmqueueQuiet(b: FastBuddy, id: number, mt: number, kswapd: boolean, n: number): boolean {
  const z = b.zones[id];
  if (z.boostedWatermark && kswapd) return false;
  const pcp = b.pcp;
  if (pcp !== null) {
    if (pcp.holds0(id, mt, n)) return true;
    const own = z.nrFreeMt[mt];
    return b.mobility === Mobility.NONE ? own > 0 : own >= pcp.refillCount0(id, z, n - 1);
  }
  const head = z.head;
  for (let o = 0; o <= MAX_ORDER; o++) if (head[o * MIGRATE_TYPES + mt] !== -1) return true;
  return b.mobility !== Mobility.NONE && fallbackExists(b, z, b.pbOrder, mt, 0);
}

/**
 * Whether an order-0 allocation of `gfp` made now is get_page_from_freelist's first try in the
 * first zone it looks at: that zone passes its low watermark (zone_watermark_ok, order 0), so the
 * fast path takes a page there (its free pages are on the buddy lists: rmqueue_bulk or
 * __rmqueue_smallest finds one) and the slow path (kswapd's wakeup, reclaim) is not entered.
 * Changes nothing. core/faultfold.ts asks it before each fault of a batch it resolves at once.
 */
export function order0FastSure(b: FastBuddy, gfp: number): boolean {
  const highest = b.gfpZone(gfp);
  for (let id = highest; id >= 0; id--) {
    const z = b.zones[id];
    if (z.managed === 0) continue;
    if (!b.watermarkOk(z, 0, b.wmark(z, Wmark.Low), highest, 0)) return false;
    // rmqueue finds a page there quietly: on the running CPU's list, or the refill's __rmqueue does
    return rmqueueQuiet(b, id, gfpMigratetype(gfp, b.mobility), (gfp & Gfp.KSWAPD_RECLAIM) !== 0, 1);
  }
  return false;
}
/**
 * Up to `max` order-0 allocations of `gfp` one after the other, each made only when
 * order0FastSure holds just before it (the first that it does not hold for ends the run),
 * each as `alloc` makes it on that fast path (get_page_from_freelist's first zone: the high
 * watermark's ZONE_BELOW_HIGH mark, rmqueue_pcplist or __rmqueue_smallest, the zone's
 * PGALLOC count, prep_new_page): the same pages in the same order, every list, count and
 * mark as the calls one by one leave them. Between two pcp refills the zone's free pages do
 * not change, so neither do the watermark checks: they are made once per refill (the pcp
 * side: PcpLists.rmqueueRun0). The pfns go to out[0..]; returns how many. For a batch of
 * demand-zero faults (mm/anon_run.ts), where nothing between two allocations touches the
 * allocator. Linux: mm/page_alloc.c __alloc_pages, get_page_from_freelist, rmqueue
 */
export function allocRun0(b: FastBuddy, gfp: number, kind: PageKind, out: Float64Array, max: number): number {
  const highest = b.gfpZone(gfp);
  let id = highest;
  while (id >= 0 && b.zones[id].managed === 0) id--;
  if (id < 0) return 0;
  const z = b.zones[id];
  const pcp = b.pcp;
  const mt = gfpMigratetype(gfp, b.mobility);
  const flags = b.fastFlags(gfp, highest);
  const kswapd = (flags & AllocFlag.KSWAPD) !== 0;
  // prep_new_page's struct page arrays, read once for the run
  const p = b.pages;
  const kinds = p.kind;
  const refcount = p.refcount;
  const pflags = p.flags;
  const mapcount = p.mapcount;
  const priv = p.priv;
  const order = p.order;
  let done = 0;
  while (done < max) {
    // order0FastSure: the low watermark, and a page in this zone for the pcp list or the buddy's __rmqueue
    if (!b.watermarkOk(z, 0, b.wmark(z, Wmark.Low), highest, 0)) break;
    if (!rmqueueQuiet(b, id, mt, kswapd, 1)) break;
    // fromFreelist at zone z: ZONE_BELOW_HIGH marked as it marks it (the low watermark: just seen)
    if (pcp !== null && !z.belowHigh && !b.watermarkOk(z, 0, b.wmark(z, Wmark.High), highest, 0))
      z.belowHigh = true;
    let k = 0;
    if (pcp !== null) k = pcp.rmqueueRun0(z, out, done, max - done, mt, flags);
    if (k === 0) {
      const pfn = b.rmqueueMt(z, 0, mt, flags);
      if (pfn < 0) throw new ModelBug("allocRun0: a zone above its low watermark has no free page");
      out[done] = pfn;
      k = 1;
    }
    b.pgalloc[id] += k;
    // prep_new_page of each, one after the other, as BuddyAllocator.prep0 makes it (kind, refcount
    // 1, flags, mapcount, private and order cleared); written here, not in a function of its own,
    // which V8 compiled apart before allocRun0 and then again inside it
    for (let i = done; i < done + k; i++) {
      const pfn = out[i];
      kinds[pfn] = kind;
      refcount[pfn] = 1;
      pflags[pfn] = 0;
      mapcount[pfn] = 0;
      priv[pfn] = -1;
      order[pfn] = 0;
    }
    done += k;
  }
  return done;
}
/**
 * Whether `n` order-0 allocations of `gfp` in a row, nothing freed or allocated between them
 * (do_swap_page's swap-in and its readahead's, core/faultfold_swap.ts), each take
 * get_page_from_freelist's first try: the zones from the highest `gfp` allows down, those
 * below their low watermark passed over, the first that passes it takes the page (so the slow
 * path, kswapd's wakeup and reclaim, is not entered). With pcp lists, the running CPU's order-0
 * list of that zone holds n - 1 pages, so the first n - 1 allocations take theirs from it and
 * no zone's free pages (which the watermarks read) change; without them each takes one page
 * off that zone's buddy lists, which stays above its watermark n - 1 pages over it (the zones
 * above it, which it passed over, stay below theirs). Changes nothing.
 */
export function order0FastSureN(b: FastBuddy, gfp: number, n: number): boolean {
  const highest = b.gfpZone(gfp);
  const pcp = b.pcp;
  for (let id = highest; id >= 0; id--) {
    const z = b.zones[id];
    if (z.managed === 0) continue;
    const low = b.wmark(z, Wmark.Low);
    if (!b.watermarkOk(z, 0, low, highest, 0)) continue;
    const mt = gfpMigratetype(gfp, b.mobility);
    const kswapd = (gfp & Gfp.KSWAPD_RECLAIM) !== 0;
    if (pcp !== null) {
      // the first n - 1 off the list; the last off it too, or from the refill's __rmqueue
      if (n > 1 && !pcp.holds0(id, mt, n - 1)) return false;
      return rmqueueQuiet(b, id, mt, kswapd, n);
    }
    if (b.mobility !== Mobility.NONE) return n <= 1 && rmqueueQuiet(b, id, mt, kswapd, 1);
    return n <= 1 || b.watermarkOk(z, 0, low + n - 1, highest, 0);
  }
  return false;
}
