/**
 * Reclaim's /proc/vmstat events, by the names Linux gives them
 * (include/linux/vm_event_item.h, mm/vmstat.c vmstat_text): scanned and
 * reclaimed pages are counted once under the reclaimer (kswapd, direct
 * reclaim, khugepaged: reclaimer_offset) and once under the LRU type
 * (anon or file), as shrink_inactive_list and evict_folios count them:
 *
 *   item = PGSCAN_KSWAPD + reclaimer_offset();
 *   if (!cgroup_reclaim(sc)) __count_vm_events(item, nr_scanned);
 *   __count_vm_events(PGSCAN_ANON + file, nr_scanned);
 *
 * so a memory cgroup's limit reclaim (try_to_free_mem_cgroup_pages) shows
 * only in pgscan_anon/file and pgsteal_anon/file, and reclaim_pages
 * (MADV_PAGEOUT: reclaim_folio_list) in none of them.
 */

/** Who reclaims (reclaimer_offset: current_is_kswapd(), current_is_khugepaged(), else direct). */
export const enum Reclaimer {
  Kswapd = 0,
  Direct = 1,
  Khugepaged = 2,
}

/** The reclaim events of /proc/vmstat vmlab counts. */
export interface ReclaimStats {
  pgactivate: number;
  pgdeactivate: number;
  pglazyfree: number;
  pglazyfreed: number;
  pgrefill: number;
  pgsteal_kswapd: number;
  pgsteal_direct: number;
  pgsteal_khugepaged: number;
  pgscan_kswapd: number;
  pgscan_direct: number;
  pgscan_khugepaged: number;
  pgscan_anon: number;
  pgscan_file: number;
  pgsteal_anon: number;
  pgsteal_file: number;
  /** balance_pgdat calls (kswapd's runs) */
  pageoutrun: number;
  /** SLABS_SCANNED: the objects do_shrink_slab had its shrinkers scan */
  slabs_scanned: number;
  /** NR_VMSCAN_WRITE: pages reclaim wrote out itself (pageout: swap_writepage, a dirty file page's writepage) */
  nr_vmscan_write: number;
}

/** Every reclaim event at zero. */
export function newReclaimStats(): ReclaimStats {
  return {
    pgactivate: 0,
    pgdeactivate: 0,
    pglazyfree: 0,
    pglazyfreed: 0,
    pgrefill: 0,
    pgsteal_kswapd: 0,
    pgsteal_direct: 0,
    pgsteal_khugepaged: 0,
    pgscan_kswapd: 0,
    pgscan_direct: 0,
    pgscan_khugepaged: 0,
    pgscan_anon: 0,
    pgscan_file: 0,
    pgsteal_anon: 0,
    pgsteal_file: 0,
    pageoutrun: 0,
    nr_vmscan_write: 0,
    slabs_scanned: 0,
  };
}

/** The reclaim under way: who runs it, and whether it is a memory cgroup's (cgroup_reclaim(sc)). */
export interface ReclaimContext {
  reclaimer: Reclaimer;
  /** the reclaim under way may write pages out (sc->may_writepage: not kswapd's boosted reclaim) */
  mayWritepage: boolean;
  cgroup: boolean;
  /** reclaims the memory limit started (Kernel config userMemoryPages; vmlab's own counter) */
  cgroupReclaims: number;
  /** charges that found the limit reached (the memory page_counter's failcnt: memory.events' max) */
  memcgFailcnt: number;
  /** the limit's OOM kills (memory.events' oom_kill; /proc/vmstat's oom_kill counts them too) */
  memcgOomKills: number;
}

/** PGSCAN_KSWAPD + reclaimer_offset() (unless cgroup reclaim) and PGSCAN_ANON + file: `nr` pages scanned. */
export function countScanned(s: ReclaimStats, c: ReclaimContext, nr: number, file: boolean): void {
  if (!c.cgroup) {
    if (c.reclaimer === Reclaimer.Kswapd) s.pgscan_kswapd += nr;
    else if (c.reclaimer === Reclaimer.Direct) s.pgscan_direct += nr;
    else s.pgscan_khugepaged += nr;
  }
  if (file) s.pgscan_file += nr;
  else s.pgscan_anon += nr;
}

/** PGSTEAL_KSWAPD + reclaimer_offset() (unless cgroup reclaim) and PGSTEAL_ANON + file: `nr` pages reclaimed. */
export function countStolen(s: ReclaimStats, c: ReclaimContext, nr: number, file: boolean): void {
  if (!c.cgroup) {
    if (c.reclaimer === Reclaimer.Kswapd) s.pgsteal_kswapd += nr;
    else if (c.reclaimer === Reclaimer.Direct) s.pgsteal_direct += nr;
    else s.pgsteal_khugepaged += nr;
  }
  if (file) s.pgsteal_file += nr;
  else s.pgsteal_anon += nr;
}

/** Pages reclaim scanned and reclaimed, whoever reclaimed them (cgroup v2 memory.stat's pgscan, pgsteal). */
export function scannedTotal(s: ReclaimStats): number {
  return s.pgscan_anon + s.pgscan_file;
}
export function stolenTotal(s: ReclaimStats): number {
  return s.pgsteal_anon + s.pgsteal_file;
}
