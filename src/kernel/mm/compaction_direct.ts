/**
 * Direct compaction: the allocator's slow path compacting for a high-order
 * allocation (compaction.ts does the work). For a costly order, or an
 * unmovable or reclaimable order above 0, the slow path tries it first at
 * the lowest priority (INIT_COMPACT_PRIORITY, MIGRATE_ASYNC: a movable
 * request's compaction takes pages from movable pageblocks only, an unmovable
 * one's from its own type's pageblocks only); after each direct reclaim it
 * tries again at the allocation's compact_priority, DEF_COMPACT_PRIORITY
 * (SYNC_LIGHT, every pageblock) to start with (ASYNC for a costly
 * __GFP_NORETRY allocation), which for non-costly orders rises to SYNC_FULL
 * over the whole zone while reclaim makes progress and compaction keeps
 * failing (should_compact_retry). A zone whose
 * compaction failed at a sync priority is left alone for the next 2^shift
 * attempts at that order or above, the shift growing with each failure up to
 * 6 (defer_compaction, compaction_deferred); an allocation that succeeds
 * after compaction resets it.
 * Linux: mm/page_alloc.c __alloc_pages_direct_compact, should_compact_retry,
 * __alloc_pages_slowpath; mm/compaction.c try_to_compact_pages,
 * compact_zone_order, defer_compaction, compaction_deferred,
 * compaction_defer_reset
 */
import type { BuddyAllocator, CaptureControl, Zone } from "./buddy.ts";
import { CompactControl, CompactResult, type CompactStats, compactZone, MigrateMode } from "./compaction.ts";
import { Gfp } from "./gfp.ts";
import { MigrateType } from "./migratetype.ts";
import type { Vmscan } from "./vmscan.ts";

/**
 * enum compact_priority: COMPACT_PRIO_SYNC_FULL (MIN_COMPACT_PRIORITY), SYNC_LIGHT
 * (MIN_COMPACT_COSTLY_PRIORITY, DEF_COMPACT_PRIORITY), ASYNC (INIT_COMPACT_PRIORITY)
 */
export const enum CompactPriority {
  SyncFull = 0,
  SyncLight = 1,
  Async = 2,
}

/** MAX_COMPACT_RETRIES */
const MAX_COMPACT_RETRIES = 16;
/** COMPACT_MAX_DEFER_SHIFT */
const COMPACT_MAX_DEFER_SHIFT = 6;
/** PAGE_ALLOC_COSTLY_ORDER */
const COSTLY_ORDER = 3;

/** defer_compaction: compaction of `order` failed in z; skip it for a while. */
export function deferCompaction(z: Zone, order: number): void {
  z.compactConsidered = 0;
  z.compactDeferShift = Math.min(z.compactDeferShift + 1, COMPACT_MAX_DEFER_SHIFT);
  if (order < z.compactOrderFailed) z.compactOrderFailed = order;
}

/** compaction_deferred: skip this attempt (one of 2^compact_defer_shift after a failure at this order or below)? */
export function compactionDeferred(z: Zone, order: number): boolean {
  const limit = 2 ** z.compactDeferShift;
  if (order < z.compactOrderFailed) return false;
  if (++z.compactConsidered >= limit) {
    z.compactConsidered = limit;
    return false;
  }
  return true;
}

/** compaction_defer_reset: an allocation of `order` succeeded (allocSuccess) or compaction did. */
export function compactionDeferReset(z: Zone, order: number, allocSuccess: boolean): void {
  if (allocSuccess) {
    z.compactConsidered = 0;
    z.compactDeferShift = 0;
  }
  if (order >= z.compactOrderFailed) z.compactOrderFailed = order + 1;
}

/**
 * try_to_compact_pages: each zone the allocation may use, highest first, is
 * compacted (compact_zone_order) unless deferred; the first success stops
 * it. Returns the largest result. Nothing happens without __GFP_IO.
 */
export function tryToCompactPages(
  v: Vmscan,
  buddy: BuddyAllocator,
  order: number,
  gfp: number,
  highest: number,
  mt: number,
  prio: CompactPriority,
  stats: CompactStats,
  capture: { page: number },
): CompactResult {
  capture.page = -1;
  if (!(gfp & Gfp.IO)) return CompactResult.Skipped; // may_perform_io
  let rc = CompactResult.Skipped;
  for (let id = highest; id >= 0; id--) {
    const z = buddy.zones[id];
    if (z.managed === 0) continue;
    if (prio > CompactPriority.SyncFull && compactionDeferred(z, order)) {
      rc = Math.max(rc, CompactResult.Deferred);
      continue;
    }
    // compact_zone_order
    const full = prio === CompactPriority.SyncFull;
    const mode = prio === CompactPriority.Async ? MigrateMode.Async : MigrateMode.SyncLight;
    const cc = new CompactControl(z, buddy, order, mode, true, full, full, full, mt, highest);
    // current->capture_control while the zone is compacted (the frees of release_free_list too)
    const capc: CaptureControl = { zone: z, order, mt, page: -1 };
    buddy.capture = capc;
    let status: CompactResult;
    try {
      status = compactZone(v, buddy, cc, stats, capc);
    } finally {
      buddy.capture = null;
    }
    if (capc.page >= 0) {
      capture.page = capc.page;
      status = CompactResult.Success;
    }
    rc = Math.max(rc, status);
    if (status === CompactResult.Success) {
      compactionDeferReset(z, order, false);
      break;
    }
    if (
      prio !== CompactPriority.Async &&
      (status === CompactResult.Complete || status === CompactResult.PartialSkipped)
    )
      deferCompaction(z, order);
  }
  return rc;
}

/**
 * One allocation's direct compaction (its slow path's compact_priority,
 * compaction_retries and last compact_result), made by the slow path when the
 * allocation may compact: order above 0, __GFP_DIRECT_RECLAIM and __GFP_IO.
 */
export class DirectCompaction {
  /** compact_priority: DEF_COMPACT_PRIORITY to start with (the attempt before reclaim is INIT's: compactInit) */
  prio = CompactPriority.SyncLight;
  retries = 0;
  result = CompactResult.Skipped;
  /** the block the last compaction captured (capture_control.page; -1: none) */
  readonly captured = { page: -1 };

  constructor(
    private readonly v: Vmscan,
    private readonly buddy: BuddyAllocator,
    private readonly stats: CompactStats,
    readonly order: number,
    readonly gfp: number,
    readonly mt: number,
    /** get_page_from_freelist at the slow path's watermark and flags */
    private readonly getPage: () => number,
  ) {}

  /** Does the slow path compact before reclaiming (a costly order, or a high order that is not movable)? */
  first(): boolean {
    return this.order > COSTLY_ORDER || (this.order > 0 && this.mt !== MigrateType.MOVABLE);
  }

  /** The attempt before the first reclaim, at INIT_COMPACT_PRIORITY (MIGRATE_ASYNC). */
  compactInit(highest: number): number {
    return this.compact(highest, CompactPriority.Async);
  }

  /**
   * After that attempt failed: a costly __GFP_NORETRY allocation (with defrag=always, a THP
   * fault outside MADV_HUGEPAGE) gives up when compaction was skipped or deferred (reclaim would
   * not help it), and otherwise keeps to async compaction after reclaim (compact_priority =
   * INIT_COMPACT_PRIORITY: sync compaction could be very expensive).
   */
  giveUpFirst(): boolean {
    if (this.order <= COSTLY_ORDER || (this.gfp & Gfp.NORETRY) === 0) return false;
    if (this.result === CompactResult.Skipped || this.result === CompactResult.Deferred) return true;
    this.prio = CompactPriority.Async;
    return false;
  }

  /**
   * __alloc_pages_direct_compact at the current priority (or `prio`): compaction, then the
   * captured block or an allocation from the free lists. Counts compact_stall, and
   * compact_success or compact_fail, unless skipped. Returns the pfn, or -1.
   */
  compact(highest: number, prio: CompactPriority = this.prio): number {
    this.result = tryToCompactPages(
      this.v,
      this.buddy,
      this.order,
      this.gfp,
      highest,
      this.mt,
      prio,
      this.stats,
      this.captured,
    );
    if (this.result === CompactResult.Skipped) return -1;
    this.stats.compact_stall++;
    // the captured block (prep_new_page: the slow path's), else get_page_from_freelist
    const pfn = this.captured.page >= 0 ? this.captured.page : this.getPage();
    if (pfn >= 0) {
      compactionDeferReset(this.buddy.zoneOf(pfn), this.order, true);
      this.stats.compact_success++;
      return pfn;
    }
    this.stats.compact_fail++;
    return -1;
  }

  /**
   * should_compact_retry, after reclaim made progress and the allocation still failed: retry a
   * few times after a compaction that reported success (a race), else at a higher priority
   * (down to SYNC_LIGHT for costly orders, SYNC_FULL otherwise); false when none is left.
   * A skipped compaction retries while reclaim may still free enough for it
   * (compaction_zonelist_suitable, page_alloc_slow.ts).
   */
  shouldRetry(zonelistSuitable: () => boolean): boolean {
    if (this.order === 0) return false;
    // skipped for lack of free pages: retry if reclaim can give compaction enough (compaction_zonelist_suitable)
    if (this.result === CompactResult.Skipped) return zonelistSuitable();
    if (this.result === CompactResult.Success) {
      const max = this.order > COSTLY_ORDER ? MAX_COMPACT_RETRIES / 4 : MAX_COMPACT_RETRIES;
      if (++this.retries <= max) return true;
    }
    const min = this.order > COSTLY_ORDER ? CompactPriority.SyncLight : CompactPriority.SyncFull;
    if (this.prio > min) {
      this.prio--;
      this.retries = 0;
      return true;
    }
    return false;
  }
}
