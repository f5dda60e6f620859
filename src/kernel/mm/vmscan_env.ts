/**
 * What page reclaim (mm/vmscan.ts) needs of the rest of the kernel, and the reclaim policies it
 * runs. Linux: mm/vmscan.c (struct scan_control's inputs)
 */
import type { PageCache } from "./pagecache.ts";
import type { RmapEnv } from "./rmap.ts";
import type { SwapArea } from "./swapfile.ts";
import type { UserMm } from "./userMm.ts";

/** What reclaim needs from the rest of the kernel (and, through RmapEnv, what the reverse map needs). */
export interface VmscanEnv extends RmapEnv {
  readonly userMm: UserMm;
  readonly pageCache: PageCache;
  readonly swap: SwapArea | null;
  /** vm.swappiness */
  swappiness(): number;
  /** the reclaim policy (`policy=`) */
  readonly policy: ReclaimPolicy;
  /** seeds the `random` policy */
  readonly seed: number;
  /** the CPUs (one LRU add batch each) and the one running now; absent: one CPU */
  readonly nrCpus?: number;
  runningCpu?(): number;
  /** BITS_PER_LONG and CONFIG_NODES_SHIFT (workingset.ts's shadow bits); absent: 64 and 0 */
  readonly longBits?: number;
  readonly nodesShift?: number;
  /** totalram_pages (workingset_init's bucket_order); absent: every frame */
  totalRamPages?(): number;
  /**
   * The page cache's filesystem has no ->writepage (Linux 6.12's ext4): reclaim leaves dirty
   * file folios to the flusher (page_writeback.ts). Absent or false: reclaim writes them.
   */
  readonly noWritepage?: boolean;
  /** the slab's pages (count_shadow_nodes weighs the shadow nodes against them with the LRU's) */
  slabPages?(): number;
  /** NR_FREE_PAGES and the managed zones' high watermarks summed (prepare_scan_control's file_is_tiny); absent: never tiny */
  freeAndHighWmark?(): [number, number];
  /** the first pfn above each zone (the zone layout's endPfns: folio_zonenum); absent: one zone, the highest */
  readonly zoneEndPfns?: readonly number[];
}

/**
 * Reclaim policies on the same machinery (the lists, the reverse map,
 * swap-out and page-cache eviction): `linux`, the two-list LRU above
 * (default); `mglru`, generations in the style of the multi-gen LRU; `clock`,
 * one hand over all frames in pfn order; `fifo`; `lru`, exact LRU from every
 * access the simulator sees; `random`, seeded.
 */
export type ReclaimPolicy = "linux" | "mglru" | "clock" | "fifo" | "lru" | "random";
export const RECLAIM_POLICIES: ReclaimPolicy[] = ["linux", "mglru", "clock", "fifo", "lru", "random"];
