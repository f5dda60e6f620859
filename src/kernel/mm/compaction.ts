/**
 * Memory compaction: movable pages moved from the bottom of a zone to free
 * frames at its top, so that free pages come together into large blocks.
 * Two scanners walk toward each other a pageblock at a time: the migration
 * scanner from the zone's start isolates LRU pages (isolate_migratepages_block,
 * COMPACT_CLUSTER_MAX at a time), the free scanner from the zone's end
 * isolates free buddy blocks of movable pageblocks (isolate_freepages_block);
 * migrate_pages moves each isolated page into an isolated free page
 * (compaction_alloc), and compaction ends when the scanners meet.
 *
 * vmlab models the full compaction of /proc/sys/vm/compact_memory
 * (sysctl_compaction_handler -> compact_nodes -> compact_node: every zone,
 * order -1, MIGRATE_SYNC, whole zone) and direct compaction for an
 * allocation (compaction_direct.ts: try_to_compact_pages, its priorities,
 * deferral and suitability), with the scanners' cached positions in struct
 * zone, kcompactd (kcompactd.ts), the counters /proc/vmstat shows, and a
 * direct compaction's capture of the block it made (capture_control:
 * BuddyAllocator.capture, taken in __free_one_page), and the pageblock
 * skip hints (compaction_skip.ts).
 * Not modelled: proactive compaction, fast_find_migrateblock and
 * fast_isolate_freepages (the free lists searched for a quick start).
 * Linux: mm/compaction.c compact_zone, isolate_migratepages,
 * isolate_migratepages_block, isolate_freepages, isolate_freepages_block,
 * compaction_alloc, compaction_free, release_free_list, compact_node;
 * mm/migrate.c migrate_pages (migrate.ts)
 */
import { type BuddyAllocator, type CaptureControl, MAX_ORDER, NR_ORDERS, Wmark, type Zone } from "./buddy.ts";
import { compactionRestarting, resetIsolationSuitableZone } from "./compaction_skip.ts";
import { MigrateResult, migratable, migrateFolio } from "./migrate.ts";
import { MIGRATE_TYPES, MigrateType } from "./migratetype.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { stealableFallbackAt } from "./page_alloc_fallback.ts";
import type { Lru, Vmscan } from "./vmscan.ts";

/** COMPACT_CLUSTER_MAX (SWAP_CLUSTER_MAX): pages isolated for migration at a time */
export const COMPACT_CLUSTER_MAX = 32;
/** NR_MAX_MIGRATE_PAGES_RETRY: migrate_pages' passes over folios that answered -EAGAIN */
const NR_MAX_MIGRATE_PAGES_RETRY = 10;
/** NR_MAX_MIGRATE_ASYNC_RETRY: the passes of an async migration */
const NR_MAX_MIGRATE_ASYNC_RETRY = 3;

/** /proc/vmstat's migration and compaction events (vm_event_item: PGMIGRATE_*, COMPACT*). */
export interface CompactStats {
  pgmigrate_success: number;
  pgmigrate_fail: number;
  compact_migrate_scanned: number;
  compact_free_scanned: number;
  compact_isolated: number;
  compact_stall: number;
  compact_fail: number;
  compact_success: number;
  compact_daemon_wake: number;
  compact_daemon_migrate_scanned: number;
  compact_daemon_free_scanned: number;
}

export function newCompactStats(): CompactStats {
  return {
    pgmigrate_success: 0,
    pgmigrate_fail: 0,
    compact_migrate_scanned: 0,
    compact_free_scanned: 0,
    compact_isolated: 0,
    compact_stall: 0,
    compact_fail: 0,
    compact_success: 0,
    compact_daemon_wake: 0,
    compact_daemon_migrate_scanned: 0,
    compact_daemon_free_scanned: 0,
  };
}

/** enum compact_result (include/linux/compaction.h), in its order: try_to_compact_pages keeps the largest */
export const enum CompactResult {
  NotSuitableZone = 0,
  /** not enough free memory to compact with (compaction_suitable) */
  Skipped = 1,
  /** recent failures: not tried (compaction_deferred) */
  Deferred = 2,
  NoSuitablePage = 3,
  Continue = 4,
  /** the scanners met over the whole zone */
  Complete = 5,
  /** the scanners met, having started where a previous run stopped */
  PartialSkipped = 6,
  /** ran out of free pages to migrate into before the scanners met */
  Contended = 7,
  /** a free block of the order (or one the request may steal) exists */
  Success = 8,
}

/** enum migrate_mode (include/linux/migrate_mode.h): how hard migration tries */
export const enum MigrateMode {
  Async = 0,
  SyncLight = 1,
  Sync = 2,
}

/** struct compact_control: one zone's compaction. */
export class CompactControl {
  /** the migration scanner's next pfn, and the free scanner's */
  migratePfn = 0;
  freePfn = 0;
  /** isolated pages to migrate (cc->migratepages), the lists they came from, and their count with those being migrated */
  readonly migratepages: number[] = [];
  readonly from: Lru[] = [];
  nrMigratepages = 0;
  /** isolated free blocks by order (cc->freepages[order]) and their pages */
  readonly freepages: number[][] = Array.from({ length: NR_ORDERS }, () => []);
  nrFreepages = 0;
  totalMigrateScanned = 0;
  totalFreeScanned = 0;
  /** scan the migration scanner's pageblock to its end (cc->finish_pageblock) */
  finishPageblock = false;
  readonly pbOrder: number;

  constructor(
    readonly zone: Zone,
    buddy: BuddyAllocator,
    /** the allocation's order; -1: the whole zone (compact_memory) */
    readonly order: number,
    readonly mode: MigrateMode,
    /** cc->direct_compaction: for an allocation (the async scan's shortcuts apply) */
    readonly direct: boolean,
    /** cc->whole_zone: both scanners from the zone's ends */
    public wholeZone: boolean,
    /** cc->ignore_block_suitable: the free scanner takes any pageblock's free pages */
    readonly ignoreBlockSuitable: boolean,
    /** cc->ignore_skip_hint: pageblocks marked PB_migrate_skip are scanned too (compaction_skip.ts) */
    readonly ignoreSkipHint: boolean,
    /** the allocation's migrate type (gfp_migratetype) and highest zone */
    readonly migratetype: number,
    readonly highestZone: number,
  ) {
    this.pbOrder = buddy.pbOrder;
  }

  /** compact_scanners_met */
  scannersMet(): boolean {
    return this.freePfn >> this.pbOrder <= this.migratePfn >> this.pbOrder;
  }
}

/** pageblock_start_pfn(end_pfn - 1): where the free scanner starts (compact_init_free_pfn) */
function initFreePfn(z: Zone, pbOrder: number): number {
  return ((z.endPfn - 1) >> pbOrder) << pbOrder;
}

/** reset_cached_positions: the next compaction starts at the zone's ends. */
function resetCachedPositions(z: Zone, pbOrder: number): void {
  z.compactCachedMigratePfn[0] = z.startPfn;
  z.compactCachedMigratePfn[1] = z.startPfn;
  z.compactCachedFreePfn = initFreePfn(z, pbOrder);
}

/**
 * compact_nodes: /proc/sys/vm/compact_memory's write of 1. The LRU add
 * batches of every CPU are drained first (lru_add_drain_all), then every
 * populated zone is compacted whole. Returns the pages migrated.
 * Linux: mm/compaction.c sysctl_compaction_handler, compact_nodes, compact_node
 */
export function compactNodes(v: Vmscan, buddy: BuddyAllocator, stats: CompactStats): number {
  v.fbatches.drainAll();
  const before = stats.pgmigrate_success;
  for (const z of buddy.zones) {
    if (z.managed === 0) continue;
    // compact_node's control: order -1, MIGRATE_SYNC, whole zone, skip hints ignored
    const cc = new CompactControl(
      z,
      buddy,
      -1,
      MigrateMode.Sync,
      false,
      true,
      false,
      true,
      MigrateType.MOVABLE,
      0,
    );
    compactZone(v, buddy, cc, stats);
  }
  return stats.pgmigrate_success - before;
}

/**
 * compact_zone: the scanners from the zone's ends (whole zone) or from where
 * the last compaction left them, until compact_finished says stop; each
 * round isolates up to COMPACT_CLUSTER_MAX pages and migrates them. For an
 * allocation, a zone that already passes its watermark at the order is
 * success, one without enough free memory to work with is skipped, and
 * the running CPU's per-CPU pages are drained whenever the migration
 * scanner leaves the order-aligned block it migrated from (so that the
 * freed pages merge).
 * Linux: mm/compaction.c compact_zone
 */
export function compactZone(
  v: Vmscan,
  buddy: BuddyAllocator,
  cc: CompactControl,
  stats: CompactStats,
  capc: CaptureControl | null = null,
): CompactResult {
  const z = cc.zone;
  if (cc.order >= 0) {
    const r = suitAllocationOrder(buddy, z, cc.order, cc.highestZone);
    if (r !== CompactResult.Continue) return r;
  }
  // the skip hints cleared when compaction is tried again after its longest deferral
  if (compactionRestarting(z, cc.order)) resetIsolationSuitableZone(buddy, buddy.lru, z);
  const sync = cc.mode !== MigrateMode.Async ? 1 : 0;
  if (cc.wholeZone) {
    cc.migratePfn = z.startPfn;
    cc.freePfn = initFreePfn(z, cc.pbOrder);
  } else {
    cc.migratePfn = z.compactCachedMigratePfn[sync];
    cc.freePfn = z.compactCachedFreePfn;
    if (cc.freePfn < z.startPfn || cc.freePfn >= z.endPfn) {
      cc.freePfn = initFreePfn(z, cc.pbOrder);
      z.compactCachedFreePfn = cc.freePfn;
    }
    if (cc.migratePfn < z.startPfn || cc.migratePfn >= z.endPfn) {
      cc.migratePfn = z.startPfn;
      z.compactCachedMigratePfn[0] = cc.migratePfn;
      z.compactCachedMigratePfn[1] = cc.migratePfn;
    }
    if (cc.migratePfn <= z.startPfn) cc.wholeZone = true; // compact_init_migrate_pfn
  }
  let lastMigrated = -1;
  v.fbatches.drain(); // lru_add_drain
  let ret: CompactResult;
  for (;;) {
    ret = compactFinished(buddy, cc);
    if (ret !== CompactResult.Continue) break;
    cc.finishPageblock = lastMigrated >= 0 && lastMigrated >> cc.pbOrder === cc.migratePfn >> cc.pbOrder;
    if (isolateMigratepages(v, buddy, cc, stats)) {
      lastMigrated = Math.max(z.startPfn, ((cc.migratePfn - 1) >> cc.pbOrder) << cc.pbOrder);
      // migrate_pages' -ENOMEM before the scanners met: no free page left to migrate into
      if (!migratePages(v, buddy, cc, stats) && !cc.scannersMet()) {
        ret = CompactResult.Contended;
        break;
      }
      // a block captured (by a free since the last look: check_drain's, migration's): done
      if (capc !== null && capc.page >= 0) {
        ret = CompactResult.Success;
        break;
      }
    }
    // check_drain: the freed pages of the order-aligned block just left merge on the buddy lists
    if (cc.order > 0 && lastMigrated >= 0) {
      const blockStart = cc.migratePfn - (cc.migratePfn & ((1 << cc.order) - 1));
      if (lastMigrated < blockStart) {
        buddy.pcp?.drainPagesZone(buddy.pcp.cpu(), z.id); // lru_add_drain_cpu_zone: drain_local_pages(zone)
        lastMigrated = -1;
      }
    }
  }
  // release_free_list: the free pages isolated and not used go back (__free_pages); the free
  // scanner's cached position goes back to the highest of them, never forward
  let high = -1;
  for (let order = 0; order < NR_ORDERS; order++) {
    for (const pfn of cc.freepages[order]) {
      releaseFree(buddy, pfn, order);
      if (pfn > high) high = pfn;
    }
    cc.freepages[order].length = 0;
  }
  cc.nrFreepages = 0;
  if (high >= 0) {
    const free = (high >> cc.pbOrder) << cc.pbOrder;
    if (free > z.compactCachedFreePfn) z.compactCachedFreePfn = free;
  }
  stats.compact_migrate_scanned += cc.totalMigrateScanned;
  stats.compact_free_scanned += cc.totalFreeScanned;
  return ret;
}

/**
 * compaction_suit_allocation_order (at ALLOC_WMARK_MIN): success if the zone already passes its
 * min watermark at the order; skipped when it has too little free memory to compact with (compaction_suitable:
 * the low watermark for costly orders, min for the others, plus compact_gap, twice the
 * request), or when a costly order fails for lack of memory rather than fragmentation
 * (fragmentation_index at or below vm.extfrag_threshold, 500).
 */
export function suitAllocationOrder(
  buddy: BuddyAllocator,
  z: Zone,
  order: number,
  highest: number,
): CompactResult {
  if (buddy.watermarkOk(z, order, buddy.wmark(z, Wmark.Min), highest, 0)) return CompactResult.Success;
  const mark = buddy.wmark(z, order > 3 ? Wmark.Low : Wmark.Min) + (2 << order);
  if (!buddy.watermarkOk(z, 0, mark, highest, 0)) return CompactResult.Skipped;
  if (order > 3) {
    const fragindex = fragmentationIndex(z.nrFree, order);
    if (fragindex >= 0 && fragindex <= 500) return CompactResult.NotSuitableZone;
  }
  return CompactResult.Continue;
}

/** fill_contig_page_info for `order`: a zone's free blocks, free pages, and free blocks of `order`'s size that fit. */
function contigInfo(
  nrFree: ArrayLike<number>,
  order: number,
): { blocks: number; pages: number; suitable: number } {
  let blocks = 0;
  let pages = 0;
  let suitable = 0;
  for (let o = 0; o < nrFree.length; o++) {
    const n = nrFree[o];
    blocks += n;
    pages += n * 2 ** o;
    if (o >= order) suitable += n * 2 ** (o - order);
  }
  return { blocks, pages, suitable };
}

/**
 * fragmentation_index from a zone's free blocks by order: 0 .. 1000 (why an allocation of `order`
 * would fail: toward 0 for lack of memory, toward 1000 for fragmentation), -1000 when a block is
 * free, 0 with no free block. Linux: mm/vmstat.c fragmentation_index (__fragmentation_index)
 */
export function fragmentationIndex(nrFree: ArrayLike<number>, order: number): number {
  const i = contigInfo(nrFree, order);
  if (i.blocks === 0) return 0;
  if (i.suitable > 0) return -1000;
  return 1000 - Math.floor((1000 + Math.floor((i.pages * 1000) / 2 ** order)) / i.blocks);
}

/** unusable_free_index, in thousandths: the share of free memory in blocks smaller than `order`. Linux: mm/vmstat.c */
export function unusableFreeIndex(nrFree: ArrayLike<number>, order: number): number {
  const i = contigInfo(nrFree, order);
  if (i.pages === 0) return 0;
  return Math.floor(((i.pages - i.suitable * 2 ** order) * 1000) / i.pages);
}

/**
 * compact_finished (__compact_finished): done when the scanners meet
 * (the zone's cached positions reset; complete if the zone was scanned
 * whole); for an allocation, once the migration scanner is at a pageblock's
 * start, success if a block of the order or more is free on the request's
 * list, or one it may steal whole on a fallback type's.
 */
function compactFinished(buddy: BuddyAllocator, cc: CompactControl): CompactResult {
  const z = cc.zone;
  if (cc.scannersMet()) {
    resetCachedPositions(z, cc.pbOrder);
    // the skip hints to be cleared when kswapd next sleeps (a direct compaction's meeting only)
    if (cc.direct) z.compactBlockskipFlush = true;
    return cc.wholeZone ? CompactResult.Complete : CompactResult.PartialSkipped;
  }
  if (cc.order < 0) return CompactResult.Continue;
  if (cc.migratePfn & ((1 << cc.pbOrder) - 1)) return CompactResult.Continue;
  for (let o = cc.order; o <= MAX_ORDER; o++) {
    if (z.head[o * MIGRATE_TYPES + cc.migratetype] !== -1) return CompactResult.Success;
    if (stealableFallbackAt(buddy, z, o, cc.migratetype)) return CompactResult.Success;
  }
  return CompactResult.Continue; // COMPACT_NO_SUITABLE_PAGE: go on
}

/** update_cached_migrate: where async (and, for a sync run, sync) compaction restarts: past this pageblock. */
function updateCachedMigrate(cc: CompactControl, pfn: number): void {
  const z = cc.zone;
  const end = ((pfn + (1 << cc.pbOrder) - 1) >> cc.pbOrder) << cc.pbOrder; // pageblock_end_pfn
  if (end > z.compactCachedMigratePfn[0]) z.compactCachedMigratePfn[0] = end;
  if (cc.mode !== MigrateMode.Async && end > z.compactCachedMigratePfn[1]) z.compactCachedMigratePfn[1] = end;
}

/**
 * isolate_migratepages: from the migration scanner's pfn, the first pageblock
 * below the free scanner's that is a suitable source (an async direct
 * compaction takes only the request's type's pageblocks, any movable one
 * for a movable request: suitable_migration_source); isolate_migratepages_block
 * takes its LRU pages off their lists until COMPACT_CLUSTER_MAX are isolated
 * (the scanner stops just past the last one) or the block ends. Free blocks
 * and compound pages are stepped over whole. An async direct compaction gives
 * up an order-aligned block at its first page it cannot isolate, putting
 * back what it took there (skip_on_failure). Returns whether pages were isolated.
 */
function isolateMigratepages(
  v: Vmscan,
  buddy: BuddyAllocator,
  cc: CompactControl,
  stats: CompactStats,
): boolean {
  const pbo = cc.pbOrder;
  const pb = 1 << pbo;
  const p = buddy.pages;
  const z = cc.zone;
  let low = cc.migratePfn;
  let blockEnd = Math.min(((low >> pbo) + 1) * pb, z.endPfn);
  for (; ; low = blockEnd, blockEnd = Math.min(blockEnd + pb, z.endPfn)) {
    if (blockEnd > cc.freePfn || low >= z.endPfn) {
      cc.migratePfn = Math.max(low, cc.migratePfn);
      return false; // the scanners meet
    }
    // isolation_suitable, at a pageblock's start only (a block is entered again mid-way after
    // COMPACT_CLUSTER_MAX pages, its hint set by then)
    if ((low & (pb - 1)) === 0 || low === z.startPfn) {
      if (!cc.ignoreSkipHint && buddy.blockSkip[low >> pbo] !== 0) {
        cc.migratePfn = blockEnd;
        continue;
      }
    }
    if (cc.mode === MigrateMode.Async && cc.direct) {
      const mt = buddy.blockMt[low >> pbo];
      const ok = cc.migratetype === MigrateType.MOVABLE ? mt === MigrateType.MOVABLE : mt === cc.migratetype;
      if (!ok) {
        updateCachedMigrate(cc, blockEnd);
        cc.migratePfn = blockEnd;
        continue;
      }
    }
    break;
  }
  const skipOnFailure = cc.direct && cc.mode === MigrateMode.Async;
  // valid_page: the scan starts at the block's start, so the block's hint is this scan's to set
  const valid = (low & (pb - 1)) === 0 || low === z.startPfn;
  let skipUpdated = false;
  let nextSkip = skipOnFailure ? blockEndPfn(low, cc.order) : 0;
  let scanned = 0;
  let isolated = 0;
  for (; low < blockEnd; low++) {
    if (skipOnFailure && low >= nextSkip) {
      if (isolated > 0) break; // this order-aligned block is done: migrate what it gave
      nextSkip = blockEndPfn(low, cc.order);
    }
    scanned++;
    if (p.flags[low] & PageFlag.Buddy) {
      const o = p.order[low];
      if (o > 0 && o <= MAX_ORDER) {
        low += (1 << o) - 1;
        scanned += (1 << o) - 1;
      }
      continue;
    }
    let fail = false;
    if (p.kind[low] === PageKind.Hugetlb || p.flags[low] & PageFlag.Head || v.large[low] !== 0) {
      // PageHuge, PageCompound: skipped whole (skip_isolation_on_order: not below pageblock_order)
      const o = compoundOrder(v, low);
      if (o > 0 && o <= MAX_ORDER && low + (1 << o) <= blockEnd) {
        low += (1 << o) - 1;
        scanned += (1 << o) - 1;
      }
      fail = true;
    } else if (!migratable(v, low)) fail = true;
    if (fail) {
      if (skipOnFailure) {
        // isolate_fail: what this order-aligned block gave goes back; the scan moves past the block
        if (isolated > 0) {
          putback(v, cc);
          isolated = 0;
        }
        if (low < nextSkip) {
          low = nextSkip - 1;
          nextSkip += 1 << cc.order;
        }
      }
      continue;
    }
    // test_and_set_skip at the block's first isolation: other compactions pass it over now (the
    // hint was clear: isolation_suitable saw it at the block's start; not set when hints are ignored)
    if (!skipUpdated && valid) {
      skipUpdated = true;
      if (!cc.ignoreSkipHint) buddy.blockSkip[low >> pbo] = 1;
    }
    // folio_isolate_lru (lruvec_del_folio, its flags kept)
    cc.from.push(v.lru[low]);
    v.unlink(low);
    cc.migratepages.push(low);
    isolated++;
    if (cc.migratepages.length >= COMPACT_CLUSTER_MAX && !cc.finishPageblock) {
      low++;
      break;
    }
  }
  if (low > blockEnd) low = blockEnd;
  cc.totalMigrateScanned += scanned;
  if (isolated > 0) stats.compact_isolated += isolated;
  // the block scanned to its end: marked for skipping if nothing was isolated from it (or it was
  // scanned to its end on purpose), and the cached position past it
  if (low === blockEnd && (isolated === 0 || cc.finishPageblock)) {
    if (valid && !skipUpdated) buddy.blockSkip[(blockEnd - 1) >> pbo] = 1;
    updateCachedMigrate(cc, low);
  }
  cc.migratePfn = low;
  return cc.migratepages.length > 0;
}

/** block_end_pfn(pfn, order): the end of pfn's order-aligned block (order -1: the next pfn's) */
function blockEndPfn(pfn: number, order: number): number {
  const n = 1 << Math.max(order, 0);
  return pfn - (pfn & (n - 1)) + n;
}

/** putback_movable_pages of what the control holds isolated: each back at its list's head. */
function putback(v: Vmscan, cc: CompactControl): void {
  for (let i = 0; i < cc.migratepages.length; i++) v.add(cc.migratepages[i], cc.from[i]);
  cc.migratepages.length = 0;
  cc.from.length = 0;
}

/** compound_order of a frame the migration scanner meets: a HugeTLB folio's, a THP's (vmlab's pages carry order 0 while in use). */
function compoundOrder(v: Vmscan, pfn: number): number {
  const p = v.env.pages;
  if (p.kind[pfn] === PageKind.Hugetlb) return p.order[pfn];
  if (v.large[pfn] !== 0) return 31 - Math.clz32(v.hpageNr);
  return p.order[pfn];
}

/**
 * migrate_pages(mode, MR_COMPACTION): each isolated page to a free page
 * compaction_alloc hands out; -EAGAIN is retried (NR_MAX_MIGRATE_ASYNC_RETRY
 * passes in async mode, NR_MAX_MIGRATE_PAGES_RETRY otherwise); what fails
 * is put back on its list (putback_movable_pages); a page compaction_alloc
 * has no target for ends the batch (-ENOMEM) and the rest go back. Returns
 * false on -ENOMEM.
 * Linux: mm/migrate.c migrate_pages, migrate_pages_batch
 */
function migratePages(v: Vmscan, buddy: BuddyAllocator, cc: CompactControl, stats: CompactStats): boolean {
  let pending = cc.migratepages.splice(0);
  let lists = cc.from.splice(0);
  cc.nrMigratepages = pending.length;
  const passes = cc.mode === MigrateMode.Async ? NR_MAX_MIGRATE_ASYNC_RETRY : NR_MAX_MIGRATE_PAGES_RETRY;
  for (let pass = 0; pass < passes && pending.length > 0; pass++) {
    const retry: number[] = [];
    const retryLists: Lru[] = [];
    for (let i = 0; i < pending.length; i++) {
      const src = pending[i];
      const dst = compactionAlloc(buddy, cc, stats);
      if (dst < 0) {
        // -ENOMEM: this one and the rest back on their lists
        stats.pgmigrate_fail++;
        for (let j = i; j < pending.length; j++) v.add(pending[j], lists[j]);
        for (let j = 0; j < retry.length; j++) v.add(retry[j], retryLists[j]);
        cc.nrMigratepages = 0;
        return false;
      }
      const r = migrateFolio(v, src, dst, lists[i]);
      if (r === MigrateResult.Success) {
        stats.pgmigrate_success++;
        continue;
      }
      compactionFree(buddy, cc, dst);
      if (r === MigrateResult.Again) {
        retry.push(src);
        retryLists.push(lists[i]);
      } else {
        stats.pgmigrate_fail++;
        cc.nrMigratepages--;
        v.add(src, lists[i]); // putback_movable_pages: folio_putback_lru
      }
    }
    pending = retry;
    lists = retryLists;
  }
  // still -EAGAIN after the retries: failed
  for (let i = 0; i < pending.length; i++) {
    stats.pgmigrate_fail++;
    v.add(pending[i], lists[i]);
  }
  cc.nrMigratepages = 0;
  return true;
}

/**
 * compaction_alloc: the first isolated free block of the smallest order, its
 * upper halves back on the isolated lists, its first page made a page
 * (post_alloc_hook: refcount 1). With nothing isolated, the free scanner runs
 * once (isolate_freepages). -1: none.
 */
function compactionAlloc(buddy: BuddyAllocator, cc: CompactControl, stats: CompactStats): number {
  for (let tried = false; ; tried = true) {
    for (let o = 0; o < NR_ORDERS; o++) {
      const list = cc.freepages[o];
      if (list.length === 0) continue;
      const pfn = list.shift()!;
      for (let h = o; h > 0; h--) cc.freepages[h - 1].push(pfn + (1 << (h - 1)));
      cc.nrFreepages--;
      cc.nrMigratepages--;
      return buddy.prep0(pfn, PageKind.UserAnon);
    }
    if (tried) return -1;
    isolateFreepages(buddy, cc, stats);
  }
}

/** compaction_free: a target migration did not use goes back on the isolated lists. */
function compactionFree(buddy: BuddyAllocator, cc: CompactControl, pfn: number): void {
  const p = buddy.pages;
  p.kind[pfn] = PageKind.Free;
  p.refcount[pfn] = 0;
  p.order[pfn] = -1;
  cc.freepages[0].unshift(pfn);
  cc.nrFreepages++;
  cc.nrMigratepages++;
}

/**
 * isolate_freepages: from the free scanner's pageblock down to the one above
 * the migration scanner's, the suitable pageblocks (suitable_migration_target:
 * not one free block of the request's order, or of pageblock_order for
 * compact_memory; movable, unless ignore_block_suitable) give up their free
 * buddy blocks (isolate_freepages_block; an async run looks at every
 * stride-th frame, the stride growing up to COMPACT_CLUSTER_MAX over blocks
 * that gave nothing) until there are as many free pages as pages to
 * migrate; the scanner stays in a block it did not finish.
 */
function isolateFreepages(buddy: BuddyAllocator, cc: CompactControl, stats: CompactStats): void {
  const pbo = cc.pbOrder;
  const pb = 1 << pbo;
  const p = buddy.pages;
  const z = cc.zone;
  const low = ((cc.migratePfn >> pbo) + 1) << pbo; // pageblock_end_pfn(migrate_pfn)
  let start = (cc.freePfn >> pbo) << pbo;
  let isolateStart = cc.freePfn;
  let stride = cc.mode === MigrateMode.Async ? COMPACT_CLUSTER_MAX : 1;
  const largeOrder = cc.order > 0 ? cc.order : pbo;
  for (; start >= low; start -= pb, isolateStart = start) {
    const end = Math.min(start + pb, z.endPfn);
    const first = Math.max(start, z.startPfn);
    if (first >= end) continue;
    // suitable_migration_target
    if (p.flags[first] & PageFlag.Buddy && p.order[first] >= largeOrder) continue;
    if (!cc.ignoreBlockSuitable && buddy.blockMt[first >> pbo] !== MigrateType.MOVABLE) continue;
    // isolation_suitable: not a block a recent scan found nothing in
    if (!cc.ignoreSkipHint && buddy.blockSkip[first >> pbo] !== 0) continue;
    let pfn = Math.max(isolateStart, first);
    let scanned = 0;
    let isolated = 0;
    for (; pfn < end; pfn += stride) {
      scanned++;
      if (!(p.flags[pfn] & PageFlag.Buddy)) continue;
      const o = p.order[pfn];
      // __isolate_free_page: the zone keeps its min watermark plus the block
      if (!buddy.watermarkOk(z, 0, z.wmark[Wmark.Min] + (1 << o), 0, 0)) break;
      buddy.takeFreeBlock(pfn, o);
      p.flags[pfn] &= ~PageFlag.Buddy;
      p.order[pfn] = -1;
      cc.freepages[o].push(pfn);
      cc.nrFreepages += 1 << o;
      isolated += 1 << o;
      scanned += (1 << o) - 1;
      if (cc.nrFreepages >= cc.nrMigratepages) {
        pfn += 1 << o;
        break;
      }
      pfn += (1 << o) - stride;
    }
    if (pfn > end) pfn = end;
    cc.totalFreeScanned += scanned;
    if (isolated > 0) stats.compact_isolated += isolated;
    // the full pageblock scanned: marked for skipping, and the free scanner's cached position comes
    // down (update_pageblock_skip)
    if (pfn >= end) {
      buddy.blockSkip[first >> pbo] = 1;
      if (start - pb < z.compactCachedFreePfn) z.compactCachedFreePfn = Math.max(start - pb, 0);
    }
    if (cc.nrFreepages >= cc.nrMigratepages) {
      isolateStart = pfn >= end ? start - pb : pfn;
      break;
    }
    if (pfn < end) {
      isolateStart = pfn; // stopped early (the watermark): not needlessly further
      break;
    }
    stride = isolated > 0 ? 1 : Math.min(COMPACT_CLUSTER_MAX, stride << 1);
  }
  cc.freePfn = isolateStart;
}

/** release_free_list's __free_pages of one isolated block: made a page of its order, then freed. */
function releaseFree(buddy: BuddyAllocator, pfn: number, order: number): void {
  const p = buddy.pages;
  for (let i = pfn; i < pfn + (1 << order); i++) {
    p.kind[i] = PageKind.KernelPages;
    p.order[i] = -1;
  }
  p.order[pfn] = order;
  p.refcount[pfn] = 1;
  const err = buddy.free(pfn, order);
  if (err !== null) throw new Error(`compaction: releasing pfn ${pfn} order ${order}: ${err}`);
}
