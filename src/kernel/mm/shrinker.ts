/**
 * The shrinker core: shrink_slab calls every registered shrinker in
 * registration order, and do_shrink_slab works out how much of each to scan
 * from its count, the reclaim priority and the work carried over from before
 * (nr_deferred). vmlab's shrinkers, in Linux's registration order:
 * shm_mnt's superblock (shmem_init, from mnt_init: mm/shmem_shrink.ts),
 * thp-deferred_split (hugepage_init, a subsys_initcall:
 * mm/deferred_split.ts), mm-shadow (workingset_init, a module_init:
 * mm/workingset.ts), then each tmpfs mount's superblock (its mount).
 * Linux: mm/shrinker.c shrink_slab, do_shrink_slab
 */

/** SHRINK_STOP: the shrinker cannot make progress now */
export const SHRINK_STOP = -1;
/** SHRINK_BATCH: do_shrink_slab's batch when the shrinker sets none */
const SHRINK_BATCH = 128;

/** A shrinker's callbacks and state (struct shrinker). */
export interface Shrinker {
  /** count_objects: what could be freed now (0: nothing) */
  count(): number;
  /** scan_objects: frees up to nr, returns what was freed or SHRINK_STOP */
  scan(nr: number): number;
  /** seeks (DEFAULT_SEEKS 2; 0: objects that cost no I/O to make again) */
  readonly seeks: number;
  /** nr_deferred: the scan work carried over */
  nrDeferred: number;
  /** batch (0 or absent: SHRINK_BATCH; a superblock's is 1024) */
  readonly batch?: number;
}

/**
 * do_shrink_slab: freeable = count(); the scan is the carried-over work
 * (nr_deferred >> priority) plus (freeable >> priority) * 4 / seeks (with
 * seeks 0: freeable / 2), at most twice freeable, in batches of
 * SHRINK_BATCH, or all of it when that covers freeable; what was not
 * scanned is carried over. `stats.slabs_scanned` counts the objects scanned
 * (SLABS_SCANNED). Returns what was freed.
 */
export function doShrinkSlab(s: Shrinker, priority: number, stats: { slabs_scanned: number }): number {
  const freeable = s.count();
  if (freeable === 0) return 0;
  const nr = s.nrDeferred;
  s.nrDeferred = 0;
  const delta = s.seeks > 0 ? Math.floor(((freeable >> priority) * 4) / s.seeks) : Math.floor(freeable / 2);
  let totalScan = Math.min((nr >> priority) + delta, 2 * freeable);
  let freed = 0;
  let scanned = 0;
  const batch = s.batch || SHRINK_BATCH; // shrinker->batch ? shrinker->batch : SHRINK_BATCH
  while (totalScan >= batch || totalScan >= freeable) {
    const n = Math.min(batch, totalScan);
    const ret = s.scan(n);
    if (ret === SHRINK_STOP) break;
    freed += ret;
    stats.slabs_scanned += n;
    totalScan -= n;
    scanned += n;
  }
  s.nrDeferred = Math.min(Math.max(nr + delta - scanned, 0), 2 * freeable);
  return freed;
}
