/**
 * Compaction's pageblock skip hints (PB_migrate_skip): a pageblock the migration scanner
 * isolated from, or scanned whole without isolating anything, and one the free scanner scanned
 * whole, is marked, and later compactions that honour the hints pass it over without looking
 * (isolation_suitable) until the hints are cleared. They are cleared when kswapd goes to sleep
 * after a direct compaction's scanners met (compact_blockskip_flush), and when compaction starts
 * again on a zone whose deferral reached its end (compaction_restarting); the clearing samples
 * each pageblock for an LRU page (a migration source) or a free page (a target) and clears only
 * those it finds one in, moving the scanners' cached positions to the outermost such blocks.
 * Compactions that ignore the hints: compact_memory's, and direct compaction at
 * COMPACT_PRIO_SYNC_FULL. Linux: mm/compaction.c isolation_suitable, test_and_set_skip,
 * update_pageblock_skip, __reset_isolation_pfn, __reset_isolation_suitable,
 * reset_isolation_suitable, compaction_restarting; mm/vmscan.c kswapd_try_to_sleep
 */
import type { BuddyAllocator, Zone } from "./buddy.ts";
import { MigrateType } from "./migratetype.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";

/** PAGE_ALLOC_COSTLY_ORDER: __reset_isolation_pfn looks at every 2^this-th page of a block */
const SAMPLE_ORDER = 3;
/** COMPACT_MAX_DEFER_SHIFT */
const MAX_DEFER_SHIFT = 6;

/** compaction_restarting: compaction tried again after its deferral ran out at the longest shift. */
export function compactionRestarting(z: Zone, order: number): boolean {
  if (order < z.compactOrderFailed) return false;
  return z.compactDeferShift === MAX_DEFER_SHIFT && z.compactConsidered >= 1 << MAX_DEFER_SHIFT;
}

/**
 * __reset_isolation_pfn: whether the pageblock of `pfn` (within the zone) can serve as a
 * migration source (check_source: an LRU page among every eighth) or target (check_target: a
 * free page), its skip hint cleared if so. A block that is one compound page of pageblock_order
 * or more keeps its hint (pageblock_skip_persistent); with both checks, a block not marked is
 * taken at once; a target-only check takes only movable pageblocks.
 */
function resetIsolationPfn(
  buddy: BuddyAllocator,
  lru: Uint8Array | null,
  z: Zone,
  pfn: number,
  checkSource: boolean,
  checkTarget: boolean,
): boolean {
  const pbo = buddy.pbOrder;
  const p = buddy.pages;
  const block = pfn >> pbo;
  // pageblock_skip_persistent: the head of a compound page of pageblock_order or more, or a
  // HugeTLB page's tail (at a pageblock's start, only a page larger than the block has one)
  const head = (p.flags[pfn] & PageFlag.Head) !== 0;
  if ((head && p.order[pfn] >= pbo) || (!head && p.kind[pfn] === PageKind.Hugetlb)) return false;
  if (checkSource && checkTarget && buddy.blockSkip[block] === 0) return true;
  if (!checkSource && checkTarget && buddy.blockMt[block] !== MigrateType.MOVABLE) return false;
  const start = Math.max(block << pbo, z.startPfn);
  const last = Math.min(((block + 1) << pbo) - 1, z.endPfn - 1);
  for (let at = start; at <= last; at += 1 << SAMPLE_ORDER) {
    if ((checkSource && lru !== null && lru[at] !== 0) || (checkTarget && p.flags[at] & PageFlag.Buddy)) {
      buddy.blockSkip[block] = 0;
      return true;
    }
  }
  return false;
}

/**
 * __reset_isolation_suitable: if a full compaction finished on the zone since the last time
 * (compact_blockskip_flush), walk its pageblocks from both ends toward the middle, the lower
 * ones as migration sources and the upper ones as targets (each side checking both once it has
 * found its first), clearing the hints of those that can serve, and restart the scanners from
 * the outermost of them (or where the walk met, when none was found).
 */
export function resetIsolationSuitableZone(buddy: BuddyAllocator, lru: Uint8Array | null, z: Zone): void {
  if (!z.compactBlockskipFlush) return;
  z.compactBlockskipFlush = false;
  const pb = 1 << buddy.pbOrder;
  let migratePfn = z.startPfn;
  let freePfn = z.endPfn - 1;
  let resetMigrate = freePfn;
  let resetFree = migratePfn;
  let sourceSet = false;
  let freeSet = false;
  for (; migratePfn < freePfn; migratePfn += pb, freePfn -= pb) {
    if (resetIsolationPfn(buddy, lru, z, migratePfn, true, sourceSet) && migratePfn < resetMigrate) {
      sourceSet = true;
      resetMigrate = migratePfn;
      z.compactCachedMigratePfn[0] = resetMigrate;
      z.compactCachedMigratePfn[1] = resetMigrate;
    }
    if (resetIsolationPfn(buddy, lru, z, freePfn, freeSet, true) && freePfn > resetFree) {
      freeSet = true;
      resetFree = freePfn;
      z.compactCachedFreePfn = resetFree;
    }
  }
  if (resetMigrate >= resetFree) {
    z.compactCachedMigratePfn[0] = migratePfn;
    z.compactCachedMigratePfn[1] = migratePfn;
    z.compactCachedFreePfn = freePfn;
  }
}

/** reset_isolation_suitable: every populated zone's (kswapd_try_to_sleep, before it wakes kcompactd). */
export function resetIsolationSuitable(buddy: BuddyAllocator): void {
  for (const z of buddy.zones) if (z.managed > 0) resetIsolationSuitableZone(buddy, buddy.lru, z);
}
