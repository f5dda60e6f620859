/**
 * The page allocator's fallbacks between migrate types: what __rmqueue does when the free lists
 * of the type asked for are empty at every order, how a fallback claims a whole pageblock for the
 * new type or takes one page from it, and the high-order atomic reserve. Each function takes the
 * buddy allocator's free areas (FreeAreas, which BuddyAllocator is) and a zone.
 * Linux: mm/page_alloc.c __rmqueue_fallback, find_suitable_fallback, can_steal_fallback,
 * steal_suitable_fallback, prep_move_freepages_block, __move_freepages_block,
 * change_pageblock_range, reserve_highatomic_pageblock, unreserve_highatomic_pageblock
 */
import {
  MAX_ORDER,
  MIGRATE_PCPTYPES,
  MIGRATE_TYPES,
  MigrateType,
  Mobility,
  migratetypeIsMergeable,
} from "./migratetype.ts";
import type { Zone } from "./mmzone.ts";
import { type PageDescTable, PageFlag } from "./PageDesc.ts";

/** alloc_flags of the page allocator (mm/internal.h ALLOC_*), the ones modelled; vmlab's own values. */
export const enum AllocFlag {
  /** ALLOC_MIN_RESERVE: __GFP_HIGH, half the min watermark */
  MIN_RESERVE = 1 << 0,
  /** ALLOC_NON_BLOCK: the caller cannot sleep (a quarter more of the min watermark with MIN_RESERVE) */
  NON_BLOCK = 1 << 1,
  /** ALLOC_NOFRAGMENT: no fallback below pageblock_order (alloc_flags_nofragment) */
  NOFRAGMENT = 1 << 2,
  /** ALLOC_HIGHATOMIC: a high-order allocation that cannot sleep may use and grow the atomic reserve */
  HIGHATOMIC = 1 << 3,
  /** ALLOC_KSWAPD: __GFP_KSWAPD_RECLAIM, may wake kswapd */
  KSWAPD = 1 << 4,
}

/** ALLOC_RESERVES (mm/internal.h) without ALLOC_OOM: the allocations that may use the highatomic reserve's free pages */
export const ALLOC_RESERVES = AllocFlag.NON_BLOCK | AllocFlag.MIN_RESERVE | AllocFlag.HIGHATOMIC;

/**
 * __zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags, free_pages): would `freePages`
 * free pages leave the zone above `mark` (plus its lowmem reserve for `highestZone`) after 2^order
 * are taken, and, for order > 0, is a block of that order or larger free on a list the
 * allocation may use (the pcp types; the highatomic one under ALLOC_HIGHATOMIC)? The highatomic
 * reserve's free pages do not count unless the caller may use reserves
 * (__zone_watermark_unusable_free); __GFP_HIGH takes half the mark, a non-blocking one a quarter
 * more. The allocator passes the zone's free pages (zone_watermark_ok); should_reclaim_retry its
 * free and reclaimable pages together, and compaction_zonelist_suitable a share of them.
 * Linux: mm/page_alloc.c __zone_watermark_ok
 */
export function zoneWatermarkOk(
  z: Zone,
  order: number,
  mark: number,
  highestZone: number,
  allocFlags: number,
  freePages: number,
): boolean {
  let min = mark;
  let free = freePages - ((1 << order) - 1);
  if (!(allocFlags & ALLOC_RESERVES)) free -= z.nrFreeMt[MigrateType.HIGHATOMIC];
  if (allocFlags & AllocFlag.MIN_RESERVE) {
    min -= Math.floor(min / 2);
    if (allocFlags & AllocFlag.NON_BLOCK) min -= Math.floor(min / 4);
  }
  if (free <= min + z.lowmemReserve[highestZone]) return false;
  if (order === 0) return true;
  const head = z.head;
  for (let o = order; o <= MAX_ORDER; o++) {
    if (z.nrFree[o] === 0) continue;
    const li = o * MIGRATE_TYPES;
    if (head[li] !== -1 || head[li + 1] !== -1 || head[li + 2] !== -1) return true;
    if (allocFlags & AllocFlag.HIGHATOMIC && head[li + MigrateType.HIGHATOMIC] !== -1) return true;
  }
  return false;
}

/** The buddy allocator as the fallbacks use it (BuddyAllocator implements it). */
export interface FreeAreas {
  readonly pages: PageDescTable;
  /** pageblock_order */
  readonly pbOrder: number;
  /** each pageblock's migrate type (get_pageblock_migratetype), by pfn >> pageblock_order */
  readonly blockMt: Uint8Array;
  readonly mobility: Mobility;
  /** PageLRU of each frame: the LRU list it is on, 0 for none (Vmscan.lru, wired at boot; null: no lists) */
  readonly lru: Uint8Array | null;
  /** __add_to_free_list with account_freepages: the block on the `mt` list of its order */
  addToList(z: Zone, pfn: number, order: number, mt: number, toTail: boolean): void;
  /** del_page_from_free_list with account_freepages: off the `mt` list of its order */
  removeFromList(z: Zone, pfn: number, order: number, mt: number): void;
  /** expand: the halves of a block of order high split down to low, on the `mt` lists */
  expand(z: Zone, pfn: number, low: number, high: number, mt: number): void;
  /** __rmqueue_smallest */
  rmqueueSmallest(z: Zone, order: number, mt: number): number;
}

/** The fallbacks[] table: where each type looks when its own lists are empty, in order. */
const FALLBACKS = [
  [MigrateType.RECLAIMABLE, MigrateType.MOVABLE],
  [MigrateType.RECLAIMABLE, MigrateType.UNMOVABLE],
  [MigrateType.UNMOVABLE, MigrateType.MOVABLE],
];

/** find_suitable_fallback's *can_steal, of its last call */
let canSteal = false;

/**
 * can_steal_fallback: whether a fallback at `order` may try to take the whole block: always at
 * pageblock_order and above, at half of it, for unmovable and reclaimable requests, and when
 * grouping by mobility is disabled.
 */
function canStealFallback(a: FreeAreas, order: number, startMt: number): boolean {
  if (order >= a.pbOrder) return true;
  return (
    order >= a.pbOrder >> 1 ||
    startMt === MigrateType.RECLAIMABLE ||
    startMt === MigrateType.UNMOVABLE ||
    a.mobility === Mobility.DISABLED
  );
}

/**
 * find_suitable_fallback(area, order, migratetype, only_stealable = false): the first type in the
 * fallback order whose list of this order holds a block, or -1; can_steal into `canSteal`.
 */
export function findSuitableFallback(a: FreeAreas, z: Zone, order: number, mt: number): number {
  if (z.nrFree[order] === 0) return -1;
  canSteal = false;
  const fb = FALLBACKS[mt];
  for (let i = 0; i < MIGRATE_PCPTYPES - 1; i++) {
    const f = fb[i];
    if (z.head[order * MIGRATE_TYPES + f] === -1) continue;
    if (canStealFallback(a, order, mt)) canSteal = true;
    return f;
  }
  return -1;
}

/**
 * find_suitable_fallback(area, order, mt, only_stealable = true) != -1: a fallback type's list of
 * this order holds a block the request may steal whole (compaction's __compact_finished asks).
 */
export function stealableFallbackAt(a: FreeAreas, z: Zone, order: number, mt: number): boolean {
  if (z.nrFree[order] === 0 || mt >= MIGRATE_PCPTYPES) return false;
  if (!canStealFallback(a, order, mt)) return false;
  const [f0, f1] = FALLBACKS[mt];
  return z.head[order * MIGRATE_TYPES + f0] !== -1 || z.head[order * MIGRATE_TYPES + f1] !== -1;
}

/**
 * Whether __rmqueue_fallback(z, order, mt, allocFlags) would find a block (reads only): a block of a
 * fallback type of `order` or more (pageblock_order or more under ALLOC_NOFRAGMENT).
 */
export function fallbackExists(
  a: FreeAreas,
  z: Zone,
  order: number,
  mt: number,
  allocFlags: number,
): boolean {
  if (mt >= MIGRATE_PCPTYPES) return false;
  const min = order < a.pbOrder && allocFlags & AllocFlag.NOFRAGMENT ? a.pbOrder : order;
  const [f0, f1] = FALLBACKS[mt];
  for (let o = min; o <= MAX_ORDER; o++)
    if (z.head[o * MIGRATE_TYPES + f0] !== -1 || z.head[o * MIGRATE_TYPES + f1] !== -1) return true;
  return false;
}

/**
 * __rmqueue_fallback: the largest free block of a fallback type (roughly, the pageblock with the
 * most free pages), from pageblock_order up only under ALLOC_NOFRAGMENT; a movable request that
 * could not take the whole block takes the smallest instead. The block goes through
 * steal_suitable_fallback. Returns the pfn, or -1.
 */
export function rmqueueFallback(
  a: FreeAreas,
  z: Zone,
  order: number,
  startMt: number,
  allocFlags: number,
): number {
  let minOrder = order;
  if (order < a.pbOrder && allocFlags & AllocFlag.NOFRAGMENT) minOrder = a.pbOrder;
  let current = MAX_ORDER;
  let fallbackMt = -1;
  for (; current >= minOrder; current--) {
    fallbackMt = findSuitableFallback(a, z, current, startMt);
    if (fallbackMt !== -1) break;
  }
  if (fallbackMt === -1) return -1;
  if (!canSteal && startMt === MigrateType.MOVABLE && current > order) {
    // find_smallest
    for (current = order; current <= MAX_ORDER; current++) {
      fallbackMt = findSuitableFallback(a, z, current, startMt);
      if (fallbackMt !== -1) break;
    }
  }
  const pfn = z.head[current * MIGRATE_TYPES + fallbackMt];
  return stealSuitableFallback(a, z, pfn, current, order, startMt, allocFlags, canSteal);
}

/** vm.watermark_boost_factor default (fraction of 10000 of the high watermark) */
const WATERMARK_BOOST_FACTOR = 15000;

/**
 * boost_watermark: raise the zone's watermarks by a pageblock, up to 150% of its high watermark
 * (watermark_boost_factor) and at least a pageblock; not in a zone of fewer than four pageblocks.
 * Returns whether it boosted.
 */
function boostWatermark(a: FreeAreas, z: Zone): boolean {
  const nrPb = 1 << a.pbOrder;
  if (nrPb * 4 > z.managed) return false;
  let maxBoost = Math.floor((z.wmark[2] * WATERMARK_BOOST_FACTOR) / 10000);
  if (maxBoost === 0) return false;
  maxBoost = Math.max(nrPb, maxBoost);
  z.watermarkBoost = Math.min(z.watermarkBoost + nrPb, maxBoost);
  return true;
}

/**
 * steal_suitable_fallback: a block of pageblock_order or more becomes the new type's whole; a
 * smaller one claims its pageblock when the block's free pages and the pages already like the
 * request (movable: on an LRU; unmovable or reclaimable in a movable block: the rest) are half of
 * it or more (all its free pages move to the new type's lists, and the allocation is made from
 * them), else the one block is taken and split, its pageblock's type kept.
 */
function stealSuitableFallback(
  a: FreeAreas,
  z: Zone,
  pfn: number,
  current: number,
  order: number,
  startType: number,
  allocFlags: number,
  wholeBlock: boolean,
): number {
  const pb = a.pbOrder;
  const blockType = a.blockMt[pfn >> pb];
  if (blockType !== MigrateType.HIGHATOMIC) {
    if (current >= pb) {
      // take ownership for orders >= pageblock_order
      a.removeFromList(z, pfn, current, blockType);
      changePageblockRange(a, pfn, current, startType);
      a.expand(z, pfn, order, current, startType);
      return pfn;
    }
    // boost the watermarks to make kswapd reclaim more, and wake it at once: the node may be
    // balanced overall and kswapd would not wake by itself
    if (boostWatermark(a, z) && allocFlags & AllocFlag.KSWAPD) z.boostedWatermark = true;
    const start = wholeBlock ? pageblockInZone(a, z, pfn) : -1;
    if (start >= 0) {
      let free = 0;
      let movable = 0;
      const p = a.pages;
      const lru = a.lru;
      const end = start + (1 << pb);
      for (let i = start; i < end; ) {
        if (p.flags[i] & PageFlag.Buddy) {
          const nr = 1 << p.order[i];
          free += nr;
          i += nr;
          continue;
        }
        if (lru !== null && lru[i] !== 0) movable++; // PageLRU
        i++;
      }
      const alike =
        startType === MigrateType.MOVABLE
          ? movable
          : blockType === MigrateType.MOVABLE
            ? (1 << pb) - (free + movable)
            : 0;
      if (free + alike >= 1 << (pb - 1) || a.mobility === Mobility.DISABLED) {
        moveFreepagesBlock(a, z, start, blockType, startType);
        return a.rmqueueSmallest(z, order, startType);
      }
    }
  }
  // single_page: page_del_and_expand
  a.removeFromList(z, pfn, current, blockType);
  a.expand(z, pfn, order, current, blockType);
  return pfn;
}

/** prep_move_freepages_block's zone test: the pageblock's first pfn, or -1 when it straddles the zone's edge. */
function pageblockInZone(a: FreeAreas, z: Zone, pfn: number): number {
  const start = (pfn >> a.pbOrder) << a.pbOrder;
  const end = start + (1 << a.pbOrder);
  if (start < z.startPfn || start >= z.endPfn || end - 1 >= z.endPfn) return -1;
  return start;
}

/**
 * __move_freepages_block: every free block in the pageblock from `start` moves to the tail of
 * the new type's list of its order (move_to_free_list), then the pageblock takes the new type.
 * Returns the pages moved.
 */
export function moveFreepagesBlock(
  a: FreeAreas,
  z: Zone,
  start: number,
  oldMt: number,
  newMt: number,
): number {
  const p = a.pages;
  const end = start + (1 << a.pbOrder);
  let moved = 0;
  for (let pfn = start; pfn < end; ) {
    if (!(p.flags[pfn] & PageFlag.Buddy)) {
      pfn++;
      continue;
    }
    const order = p.order[pfn];
    a.removeFromList(z, pfn, order, oldMt);
    a.addToList(z, pfn, order, newMt, true);
    pfn += 1 << order;
    moved += 1 << order;
  }
  a.blockMt[start >> a.pbOrder] = newMt;
  return moved;
}

/** change_pageblock_range: the pageblocks of a block of `order` (pageblock_order or more) take `mt`. */
function changePageblockRange(a: FreeAreas, pfn: number, order: number, mt: number): void {
  const first = pfn >> a.pbOrder;
  const n = 1 << (order - a.pbOrder);
  for (let i = 0; i < n; i++) a.blockMt[first + i] = mt;
}

/**
 * reserve_highatomic_pageblock: after a high-order atomic allocation (ALLOC_HIGHATOMIC), its
 * pageblock becomes MIGRATE_HIGHATOMIC, up to about 1% of the zone (at least one pageblock; none
 * when 1% is less than one): only such allocations take from it until it is given back.
 */
export function reserveHighatomicPageblock(a: FreeAreas, pfn: number, order: number, z: Zone): void {
  const nrPb = 1 << a.pbOrder;
  if (Math.floor(z.managed / 100) < nrPb) return;
  const maxManaged = Math.ceil(Math.floor(z.managed / 100) / nrPb) * nrPb;
  if (z.nrReservedHighatomic >= maxManaged) return;
  const mt = a.blockMt[pfn >> a.pbOrder];
  if (!migratetypeIsMergeable(mt)) return;
  if (order < a.pbOrder) {
    const start = pageblockInZone(a, z, pfn);
    if (start < 0) return;
    moveFreepagesBlock(a, z, start, mt, MigrateType.HIGHATOMIC);
    z.nrReservedHighatomic += nrPb;
  } else {
    changePageblockRange(a, pfn, order, MigrateType.HIGHATOMIC);
    z.nrReservedHighatomic += 1 << order;
  }
}

/**
 * unreserve_highatomic_pageblock: before an allocation fails, the first zone (from `highest`
 * down) with a free highatomic block (more than one pageblock reserved, unless `force`) gives
 * that block's pageblock back to the allocation's type. Returns whether a block moved.
 */
export function unreserveHighatomicPageblock(
  a: FreeAreas,
  zones: readonly Zone[],
  highest: number,
  mt: number,
  force: boolean,
): boolean {
  const nrPb = 1 << a.pbOrder;
  for (let id = highest; id >= 0; id--) {
    const z = zones[id];
    if (z.managed === 0) continue;
    if (!force && z.nrReservedHighatomic <= nrPb) continue;
    for (let order = 0; order <= MAX_ORDER; order++) {
      const pfn = z.head[order * MIGRATE_TYPES + MigrateType.HIGHATOMIC];
      if (pfn === -1) continue;
      const blockMt = a.blockMt[pfn >> a.pbOrder];
      if (blockMt === MigrateType.HIGHATOMIC) {
        const size = Math.min(Math.max(nrPb, 1 << order), z.nrReservedHighatomic);
        z.nrReservedHighatomic -= size;
      }
      if (order < a.pbOrder) {
        const start = pageblockInZone(a, z, pfn);
        if (start >= 0 && moveFreepagesBlock(a, z, start, blockMt, mt) > 0) return true;
      } else {
        a.removeFromList(z, pfn, order, blockMt);
        a.addToList(z, pfn, order, mt, true);
        changePageblockRange(a, pfn, order, mt);
        return true;
      }
    }
  }
  return false;
}
