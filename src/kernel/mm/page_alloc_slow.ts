/**
 * The page allocator's slow path: what an allocation does when get_page_from_freelist fails at
 * the low watermark. kswapd is woken, the min watermark tried, then (if the caller may sleep)
 * direct compaction, direct reclaim, direct compaction again, and the retry decisions: reclaim
 * is retried while some zone could meet its min watermark were all its reclaimable pages freed,
 * up to MAX_RECLAIM_RETRIES rounds without progress (should_reclaim_retry), compaction at rising
 * priorities (should_compact_retry), and last the OOM killer for small orders, retried as long as
 * it kills. BuddyAllocator.alloc calls it; the kernel's hooks (core/boot.ts) are kswapd, direct
 * reclaim and compaction, the zones' reclaimable pages and the OOM killer.
 * Linux: mm/page_alloc.c __alloc_pages_slowpath, should_reclaim_retry, __alloc_pages_may_oom,
 * __alloc_pages_direct_reclaim; mm/compaction.c compaction_zonelist_suitable
 */
import { ModelBug } from "../../base/assert.ts";
import { Gfp } from "./gfp.ts";
import { Wmark, type Zone } from "./mmzone.ts";
import type { PageKind } from "./PageDesc.ts";
import {
  AllocFlag,
  type FreeAreas,
  unreserveHighatomicPageblock,
  zoneWatermarkOk,
} from "./page_alloc_fallback.ts";
import type { PcpLists } from "./page_alloc_pcp.ts";
import { MAX_RECLAIM_RETRIES } from "./vmscan_balance.ts";

/** Called by the allocator when it runs short; the kernel installs these (Kernel installs kswapd, direct reclaim and the OOM killer). */
export interface BuddyHooks {
  /**
   * wakeup_kswapd for the node (wake_all_kswapds: one call per pgdat), at the slow path's start
   * and at each retry: the allocation's order, highest zone index (kswapd_order,
   * kswapd_highest_zoneidx) and gfp
   */
  wakeKswapd(order: number, highestZone: number, gfp: number): void;
  /**
   * try_to_free_pages: at least 2^order pages freed synchronously, from the zones up to
   * reclaimIdx (sc->reclaim_idx = gfp_zone(gfp): 3 is ZONE_MOVABLE, every zone); returns pages freed
   */
  directReclaim(order: number, gfp: number, reclaimIdx: number): number;
  /** current->flags & PF_MEMALLOC: the allocation is made by reclaim itself */
  inReclaim?(): boolean;
  /** out_of_memory: returns true if memory was freed (a task was killed) */
  outOfMemory(order: number, gfp: number): boolean;
  /**
   * zone_reclaimable_pages: the zone's pages on the file LRU lists, and on the anon lists when
   * anonymous pages can be reclaimed (free swap); the zone's free pages when that is none
   */
  zoneReclaimablePages?(zone: Zone): number;
  /**
   * The allocation's direct compaction (mm/compaction_direct.ts), null when it may not compact
   * (order 0, no __GFP_DIRECT_RECLAIM or __GFP_IO); `getPage` is its get_page_from_freelist.
   */
  directCompaction?(order: number, gfp: number, mt: number, getPage: () => number): SlowpathCompaction | null;
}

/** One allocation's direct compaction as the slow path drives it (compaction_direct.ts DirectCompaction). */
export interface SlowpathCompaction {
  /** compact before the first reclaim (costly, or high-order and not movable)? */
  first(): boolean;
  /** __alloc_pages_direct_compact before the first reclaim, at INIT_COMPACT_PRIORITY: the pfn, or -1 */
  compactInit(highest: number): number;
  /** stop after that first attempt (costly __GFP_NORETRY, compaction skipped or deferred)? */
  giveUpFirst(): boolean;
  /** __alloc_pages_direct_compact at the allocation's compact_priority: the pfn allocated after compaction, or -1 */
  compact(highest: number): number;
  /**
   * should_compact_retry: try again (at a higher priority, perhaps)? `zonelistSuitable` is
   * compaction_zonelist_suitable, asked when the last compaction was skipped for lack of free pages
   */
  shouldRetry(zonelistSuitable: () => boolean): boolean;
}

/** The buddy allocator as its slow path uses it (BuddyAllocator is one). */
export interface SlowBuddy extends FreeAreas {
  readonly zones: Zone[];
  readonly pcp: PcpLists | null;
  readonly layout: { readonly normal: number };
  readonly hooks: BuddyHooks | null;
  readonly allocStallByZone: Float64Array;
  allocStalls: number;
  kswapdWakeups: number;
  failedAllocs: number;
  wmark(z: Zone, which: Wmark): number;
  /** get_page_from_freelist at watermark `which` with `flags` (-1: nothing) */
  fromFreelist(order: number, highest: number, which: Wmark, flags: number, mt: number): number;
  /** prep_new_page, then the kswapd wake-up a boosted zone's allocation owes */
  prepWake(pfn: number, order: number, kind: PageKind, gfp: number): number;
}

/** PAGE_ALLOC_COSTLY_ORDER */
const COSTLY_ORDER = 3;
/**
 * vmlab's guard, not Linux's: rounds of one slow path. Linux loops while reclaim progresses
 * (each round frees a page or more, and there are finitely many to free) or the OOM killer
 * kills (finitely many tasks), so a round count this large is a model bug, not a workload.
 */
const ROUNDS_GUARD = 1 << 20;

/**
 * should_reclaim_retry: a round whose reclaim freed pages resets no_progress_loops (orders up to
 * PAGE_ALLOC_COSTLY_ORDER only: a costly order's progress says nothing of its block); past
 * MAX_RECLAIM_RETRIES rounds without, no. Otherwise retry when some zone the allocation may use,
 * from the highest down, would pass its min watermark at the order with its free and reclaimable
 * pages together (__zone_watermark_ok with that as free_pages). Before a no, the highatomic
 * reserve is given back (unreserve_highatomic_pageblock(ac, true)): a yes if that freed a block.
 * `loops` holds no_progress_loops; the function updates it.
 */
export function shouldReclaimRetry(
  b: SlowBuddy,
  order: number,
  highest: number,
  mt: number,
  flags: number,
  progress: boolean,
  loops: { n: number },
): boolean {
  if (progress && order <= COSTLY_ORDER) loops.n = 0;
  else loops.n++;
  let ret = false;
  if (loops.n <= MAX_RECLAIM_RETRIES) {
    for (let id = highest; id >= 0 && !ret; id--) {
      const z = b.zones[id];
      if (z.managed === 0) continue;
      const available = zoneReclaimable(b, z) + z.freePages;
      ret = zoneWatermarkOk(z, order, b.wmark(z, Wmark.Min), highest, flags, available);
    }
  }
  if (!ret) return unreserveHighatomicPageblock(b, b.zones, highest, mt, true);
  return ret;
}

/** zone_reclaimable_pages through the kernel's hook; without one (a bare allocator), the zone's free pages */
function zoneReclaimable(b: SlowBuddy, z: Zone): number {
  return b.hooks?.zoneReclaimablePages?.(z) ?? z.freePages;
}

/**
 * compaction_zonelist_suitable: would some zone pass __compaction_suitable (order 0 at the min
 * watermark, or the low one for a costly order, plus compact_gap: twice the request) with its
 * free pages and a 1/order share of its reclaimable ones, if reclaim went on?
 */
export function compactionZonelistSuitable(b: SlowBuddy, order: number, highest: number): boolean {
  for (let id = highest; id >= 0; id--) {
    const z = b.zones[id];
    if (z.managed === 0) continue;
    const available = Math.floor(zoneReclaimable(b, z) / order) + z.freePages;
    const mark = b.wmark(z, order > COSTLY_ORDER ? Wmark.Low : Wmark.Min) + (2 << order);
    if (zoneWatermarkOk(z, 0, mark, highest, 0, available)) return true;
  }
  return false;
}

/** wake_all_kswapds: wakeup_kswapd once for the node (vmlab has one) if a zone the allocation may use is managed */
function wakeAllKswapds(b: SlowBuddy, order: number, gfp: number, highest: number): void {
  if (!b.zones.some((z) => z.id <= highest && z.managed > 0)) return;
  b.kswapdWakeups++;
  b.hooks?.wakeKswapd(order, highest, gfp);
}

/**
 * __alloc_pages_may_oom: one more try at the high watermark (a parallel kill may have freed
 * memory), then the OOM killer, except for a costly order, __GFP_RETRY_MAYFAIL (its caller has a
 * fallback) and an allocation limited to the zones below ZONE_NORMAL (GFP_DMA, GFP_DMA32: the
 * killer does not kill for lowmem). Returns the pfn (-1: none) and, in `progress`, whether the
 * killer freed memory.
 */
function mayOom(
  b: SlowBuddy,
  order: number,
  gfp: number,
  highest: number,
  mt: number,
  progress: { oom: boolean },
): number {
  progress.oom = false;
  const pfn = b.fromFreelist(order, highest, Wmark.High, 0, mt);
  if (pfn >= 0) return pfn;
  if (order > COSTLY_ORDER || gfp & Gfp.RETRY_MAYFAIL || highest < b.layout.normal) return -1;
  progress.oom = b.hooks?.outOfMemory(order, gfp) ?? false;
  return -1;
}

/**
 * __alloc_pages_slowpath for an allocation the fast path could not make (gfp_to_alloc_flags
 * without ALLOC_NOFRAGMENT; no cpusets, one node, no __GFP_NOFAIL). Returns the pfn, prepared,
 * or -1 (counted in failedAllocs).
 */
export function allocSlowpath(
  b: SlowBuddy,
  order: number,
  gfp: number,
  kind: PageKind,
  highest: number,
  mt: number,
): number {
  // gfp_to_alloc_flags
  let flags = 0;
  if (gfp & Gfp.HIGH) flags |= AllocFlag.MIN_RESERVE;
  if (gfp & Gfp.KSWAPD_RECLAIM) flags |= AllocFlag.KSWAPD;
  const canDirectReclaim = (gfp & Gfp.DIRECT_RECLAIM) !== 0;
  if (!canDirectReclaim) {
    flags |= AllocFlag.NON_BLOCK;
    if (order > 0) flags |= AllocFlag.HIGHATOMIC;
  }
  const costly = order > COSTLY_ORDER;
  if (flags & AllocFlag.KSWAPD) wakeAllKswapds(b, order, gfp, highest);
  let pfn = b.fromFreelist(order, highest, Wmark.Min, flags, mt);
  if (pfn >= 0) return b.prepWake(pfn, order, kind, gfp);
  const hooks = b.hooks;
  // gfp_compaction_allowed (__GFP_IO) and the other conditions: the hook's (null: may not compact)
  const cs =
    order > 0 && canDirectReclaim
      ? (hooks?.directCompaction?.(order, gfp, mt, () =>
          b.fromFreelist(order, highest, Wmark.Min, flags, mt),
        ) ?? null)
      : null;
  // costly, or high-order and not movable: direct compaction before reclaim, at the lowest priority
  if (cs?.first()) {
    pfn = cs.compactInit(highest);
    if (pfn >= 0) return b.prepWake(pfn, order, kind, gfp);
    if (cs.giveUpFirst()) return fail(b);
  }
  const loops = { n: 0 };
  const oom = { oom: false };
  for (let round = 0; ; round++) {
    if (round === ROUNDS_GUARD)
      throw new ModelBug(`allocSlowpath: ${round} rounds for an order-${order} allocation`);
    // retry: kswapd kept awake as long as the allocation loops. On the first pass kswapd, woken
    // at the start moments before, is still at work: wakeup_kswapd finds no sleeper on its wait
    // queue and only records the order (vmlab's kswapd ran to the end at that wake-up; waking it
    // again here would run balance_pgdat twice where Linux runs it once). After a round of
    // direct reclaim it has had the time to finish, and wakes again unless the node is
    // balanced or hopeless.
    if (round > 0 && flags & AllocFlag.KSWAPD) wakeAllKswapds(b, order, gfp, highest);
    pfn = b.fromFreelist(order, highest, Wmark.Min, flags, mt);
    if (pfn >= 0) return b.prepWake(pfn, order, kind, gfp);
    // no direct reclaim asked, or none possible (a bare allocator); PF_MEMALLOC: an allocation
    // made by reclaim itself does not recurse into it (Linux lets it use the reserves first,
    // ALLOC_NO_WATERMARKS: not modelled)
    if (!canDirectReclaim || hooks === null || hooks.inReclaim?.()) break;
    // __alloc_pages_direct_reclaim
    b.allocStalls++;
    // gfp_zone: __GFP_HIGHMEM | __GFP_MOVABLE is ZONE_MOVABLE, else the zone the allocation starts from
    const movable = (gfp & (Gfp.HIGHMEM | Gfp.MOVABLE)) === (Gfp.HIGHMEM | Gfp.MOVABLE);
    const reclaimIdx = movable ? 3 : highest;
    b.allocStallByZone[reclaimIdx]++;
    const progress = hooks.directReclaim(order, gfp, reclaimIdx) > 0;
    if (progress) {
      // the retry after reclaim, and once more after unreserve_highatomic_pageblock and
      // drain_all_pages when it failed (the pages may sit in the atomic reserve or on per-CPU lists)
      pfn = b.fromFreelist(order, highest, Wmark.Min, flags, mt);
      if (pfn < 0 && b.pcp !== null) {
        unreserveHighatomicPageblock(b, b.zones, highest, mt, false);
        b.pcp.drainAllPages();
        pfn = b.fromFreelist(order, highest, Wmark.Min, flags, mt);
      }
      if (pfn >= 0) return b.prepWake(pfn, order, kind, gfp);
    }
    // direct compaction after reclaim, at the allocation's compact_priority
    if (cs !== null) {
      pfn = cs.compact(highest);
      if (pfn >= 0) return b.prepWake(pfn, order, kind, gfp);
    }
    // no loop when asked (__GFP_NORETRY), nor for a costly order unless __GFP_RETRY_MAYFAIL and it may compact
    if (gfp & Gfp.NORETRY || (costly && (cs === null || !(gfp & Gfp.RETRY_MAYFAIL)))) break;
    if (shouldReclaimRetry(b, order, highest, mt, flags, progress, loops)) continue;
    // compaction retried only after reclaim progressed (it needs free order-0 pages)
    if (progress && cs?.shouldRetry(() => compactionZonelistSuitable(b, order, highest))) continue;
    // the OOM killer, retried as long as it makes progress
    pfn = mayOom(b, order, gfp, highest, mt, oom);
    if (pfn >= 0) return b.prepWake(pfn, order, kind, gfp);
    if (!oom.oom) break;
    loops.n = 0;
  }
  return fail(b);
}

function fail(b: SlowBuddy): number {
  b.failedAllocs++;
  return -1;
}
