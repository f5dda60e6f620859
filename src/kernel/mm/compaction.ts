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
 * order -1, MIGRATE_SYNC, whole zone, no skip hints) and the counters it
 * keeps in /proc/vmstat. Not modelled: direct compaction in the allocator's
 * slow path (__alloc_pages_direct_compact) and kcompactd (proactive
 * compaction, kswapd's wake-up of it), the skip hints and cached scanner
 * positions those use, and the async mode's shortcuts.
 * Linux: mm/compaction.c compact_zone, isolate_migratepages,
 * isolate_migratepages_block, isolate_freepages, isolate_freepages_block,
 * compaction_alloc, compaction_free, release_free_list, compact_node;
 * mm/migrate.c migrate_pages (migrate.ts)
 */
import { type BuddyAllocator, MAX_ORDER, NR_ORDERS, Wmark, type Zone } from "./buddy.ts";
import { MigrateResult, migratable, migrateFolio } from "./migrate.ts";
import { MigrateType } from "./migratetype.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import type { Lru, Vmscan } from "./vmscan.ts";

/** COMPACT_CLUSTER_MAX (SWAP_CLUSTER_MAX): pages isolated for migration at a time */
export const COMPACT_CLUSTER_MAX = 32;
/** NR_MAX_MIGRATE_PAGES_RETRY: migrate_pages' passes over folios that answered -EAGAIN */
const NR_MAX_MIGRATE_PAGES_RETRY = 10;

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

/** enum compact_result, the values compact_zone returns here */
export const enum CompactResult {
  /** the scanners met over the whole zone */
  Complete = 5,
}

/** struct compact_control: one zone's compaction. */
class CompactControl {
  /** the migration scanner's next pfn, and the free scanner's (the start of its pageblock) */
  migratePfn: number;
  freePfn: number;
  /** isolated pages to migrate, and the lists they were isolated from */
  readonly migratepages: number[] = [];
  readonly from: Lru[] = [];
  /** isolated free blocks by order (cc->freepages[order]), and their pages */
  readonly freepages: number[][] = Array.from({ length: NR_ORDERS }, () => []);
  nrFreepages = 0;
  totalMigrateScanned = 0;
  totalFreeScanned = 0;

  constructor(
    readonly zone: Zone,
    readonly pbOrder: number,
  ) {
    this.migratePfn = zone.startPfn;
    // pageblock_start_pfn(end_pfn - 1)
    this.freePfn = ((zone.endPfn - 1) >> pbOrder) << pbOrder;
  }

  /** compact_scanners_met */
  scannersMet(): boolean {
    return this.freePfn >> this.pbOrder <= this.migratePfn >> this.pbOrder;
  }
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
    compactZone(v, buddy, z, stats);
  }
  return stats.pgmigrate_success - before;
}

/**
 * compact_zone for compact_node's control (order -1: the scanners run until
 * they meet; sync migration).
 * Linux: mm/compaction.c compact_zone
 */
export function compactZone(v: Vmscan, buddy: BuddyAllocator, z: Zone, stats: CompactStats): CompactResult {
  const cc = new CompactControl(z, buddy.pbOrder);
  v.fbatches.drain(); // lru_add_drain
  while (!cc.scannersMet()) {
    if (!isolateMigratepages(v, buddy, cc, stats)) continue; // ISOLATE_NONE: the next block
    migratePages(v, buddy, cc, stats);
  }
  // release_free_list: the free pages isolated and not used go back (__free_pages)
  for (let order = 0; order < NR_ORDERS; order++) {
    for (const pfn of cc.freepages[order]) releaseFree(buddy, pfn, order);
    cc.freepages[order].length = 0;
  }
  cc.nrFreepages = 0;
  stats.compact_migrate_scanned += cc.totalMigrateScanned;
  stats.compact_free_scanned += cc.totalFreeScanned;
  return CompactResult.Complete;
}

/**
 * isolate_migratepages: from the migration scanner's pfn, the first pageblock
 * below the free scanner's; isolate_migratepages_block takes its LRU pages
 * off their lists until COMPACT_CLUSTER_MAX are isolated (the scanner stops
 * just past the last one) or the block ends. Free blocks and compound pages
 * are stepped over whole. Returns whether pages were isolated.
 */
function isolateMigratepages(
  v: Vmscan,
  buddy: BuddyAllocator,
  cc: CompactControl,
  stats: CompactStats,
): boolean {
  const pb = 1 << buddy.pbOrder;
  const p = buddy.pages;
  let low = cc.migratePfn;
  const blockEnd = Math.min(((low >> buddy.pbOrder) + 1) * pb, cc.zone.endPfn);
  if (blockEnd > cc.freePfn) {
    cc.migratePfn = blockEnd; // the loop's condition: the scanners meet
    return false;
  }
  let scanned = 0;
  let isolated = 0;
  for (; low < blockEnd; low++) {
    scanned++;
    if (p.flags[low] & PageFlag.Buddy) {
      const o = p.order[low];
      if (o > 0 && o <= MAX_ORDER) {
        low += (1 << o) - 1;
        scanned += (1 << o) - 1;
      }
      continue;
    }
    if (p.kind[low] === PageKind.Hugetlb || p.flags[low] & PageFlag.Head || v.large[low] !== 0) {
      // PageHuge, PageCompound: skipped whole (skip_isolation_on_order: not below pageblock_order)
      const o = compoundOrder(v, low);
      if (o > 0 && o <= MAX_ORDER && low + (1 << o) <= blockEnd) {
        low += (1 << o) - 1;
        scanned += (1 << o) - 1;
      }
      continue;
    }
    if (!migratable(v, low)) continue;
    // folio_isolate_lru (lruvec_del_folio, its flags kept)
    cc.from.push(v.lru[low]);
    v.unlink(low);
    cc.migratepages.push(low);
    isolated++;
    if (cc.migratepages.length >= COMPACT_CLUSTER_MAX) {
      low++;
      break;
    }
  }
  cc.totalMigrateScanned += scanned;
  if (isolated > 0) stats.compact_isolated += isolated;
  cc.migratePfn = low;
  return isolated > 0;
}

/** compound_order of a frame the migration scanner meets: a HugeTLB folio's, a THP's (vmlab's pages carry order 0 while in use). */
function compoundOrder(v: Vmscan, pfn: number): number {
  const p = v.env.pages;
  if (p.kind[pfn] === PageKind.Hugetlb) return p.order[pfn];
  if (v.large[pfn] !== 0) return 31 - Math.clz32(v.hpageNr);
  return p.order[pfn];
}

/**
 * migrate_pages(MIGRATE_SYNC, MR_COMPACTION): each isolated page to a free
 * page compaction_alloc hands out; -EAGAIN is retried up to
 * NR_MAX_MIGRATE_PAGES_RETRY passes; what fails is put back on its list
 * (putback_movable_pages); a page compaction_alloc has no target for ends
 * the batch (-ENOMEM) and the rest go back.
 * Linux: mm/migrate.c migrate_pages, migrate_pages_batch
 */
function migratePages(v: Vmscan, buddy: BuddyAllocator, cc: CompactControl, stats: CompactStats): void {
  let pending = cc.migratepages.splice(0);
  let lists = cc.from.splice(0);
  for (let pass = 0; pass < NR_MAX_MIGRATE_PAGES_RETRY && pending.length > 0; pass++) {
    const retry: number[] = [];
    const retryLists: Lru[] = [];
    for (let i = 0; i < pending.length; i++) {
      const src = pending[i];
      const dst = compactionAlloc(v, buddy, cc, stats);
      if (dst < 0) {
        // -ENOMEM: this one and the rest back on their lists
        stats.pgmigrate_fail++;
        for (let j = i; j < pending.length; j++) v.add(pending[j], lists[j]);
        for (let j = 0; j < retry.length; j++) v.add(retry[j], retryLists[j]);
        return;
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
}

/**
 * compaction_alloc: the first isolated free block of the smallest order, its
 * upper halves back on the isolated lists, its first page made a page
 * (post_alloc_hook: refcount 1). With nothing isolated, the free scanner runs
 * once (isolate_freepages). -1: none.
 */
function compactionAlloc(v: Vmscan, buddy: BuddyAllocator, cc: CompactControl, stats: CompactStats): number {
  for (let tried = false; ; tried = true) {
    for (let o = 0; o < NR_ORDERS; o++) {
      const list = cc.freepages[o];
      if (list.length === 0) continue;
      const pfn = list.shift()!;
      for (let h = o; h > 0; h--) cc.freepages[h - 1].push(pfn + (1 << (h - 1)));
      cc.nrFreepages--;
      return buddy.prep0(pfn, PageKind.UserAnon);
    }
    if (tried) return -1;
    isolateFreepages(v, buddy, cc, stats);
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
}

/**
 * isolate_freepages: from the free scanner's pageblock down to the one above
 * the migration scanner's, the movable pageblocks (suitable_migration_target:
 * not one free block of pageblock_order or more) give up their free buddy
 * blocks (isolate_freepages_block, stride 1) until there are as many free
 * pages as pages to migrate; the scanner stays in a block it did not finish.
 */
function isolateFreepages(_v: Vmscan, buddy: BuddyAllocator, cc: CompactControl, stats: CompactStats): void {
  const pbo = buddy.pbOrder;
  const pb = 1 << pbo;
  const p = buddy.pages;
  const z = cc.zone;
  const need = cc.migratepages.length + 1; // the one being migrated now and the rest of the batch
  const low = ((cc.migratePfn + pb - 1) >> pbo) << pbo; // pageblock_end_pfn(migrate_pfn)
  let start = (cc.freePfn >> pbo) << pbo;
  let isolateStart = cc.freePfn;
  for (; start >= low; start -= pb, isolateStart = start) {
    const end = Math.min(start + pb, z.endPfn);
    const first = Math.max(start, z.startPfn);
    if (first >= end) continue;
    // suitable_migration_target
    if (p.flags[first] & PageFlag.Buddy && p.order[first] >= pbo) continue;
    if (buddy.blockMt[first >> pbo] !== MigrateType.MOVABLE) continue;
    let pfn = Math.max(isolateStart, first);
    let scanned = 0;
    let isolated = 0;
    for (; pfn < end; pfn++) {
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
      pfn += (1 << o) - 1;
      if (cc.nrFreepages >= need) {
        pfn++;
        break;
      }
    }
    cc.totalFreeScanned += scanned;
    if (isolated > 0) stats.compact_isolated += isolated;
    if (cc.nrFreepages >= need) {
      isolateStart = pfn >= end ? start - pb : pfn;
      break;
    }
    if (pfn < end) {
      isolateStart = pfn; // stopped early (the watermark): not needlessly further
      break;
    }
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
