/**
 * A node's zones: their ids and names, the layouts the architectures boot with, and struct zone
 * (free areas, watermarks, reserves, flags). Linux: include/linux/mmzone.h
 */
import { MIGRATE_TYPES, NR_ORDERS } from "./migratetype.ts";

export const enum ZoneId {
  DMA = 0,
  DMA32 = 1,
  Normal = 2,
}
export const ZONE_NAMES = ["DMA", "DMA32", "Normal"] as const;
/** First pfn above each zone on x86-64: 16 MiB, 4 GiB, everything. */
const ZONE_END_PFN = [4096, 1048576, Number.POSITIVE_INFINITY];

/**
 * The zones of a machine (Linux: the zone list the architecture's
 * zone_sizes_init builds): three, named, with the first pfn above each,
 * and which zone GFP_KERNEL and __GFP_HIGHMEM allocations start from
 * (gfp_zone). x86-64: DMA, DMA32, Normal, both from Normal; 32-bit x86:
 * DMA, Normal (lowmem, up to max_low_pfn), HighMem, GFP_KERNEL from Normal
 * and GFP_HIGHUSER from HighMem.
 */
export interface ZoneLayout {
  readonly names: readonly [string, string, string];
  readonly endPfns: readonly [number, number, number];
  /** the highest zone of a GFP_KERNEL allocation (and of GFP_DMA32: ZONE_DMA32, or Normal where there is none) */
  readonly normal: number;
  readonly highmem: number;
  /** CONFIG_ZONE_DMA32: the middle zone is ZONE_DMA32 (alloc_flags_nofragment's test) */
  readonly dma32?: boolean;
  /**
   * Zones the kernel is built without (CONFIG_ZONE_DMA and CONFIG_ZONE_DMA32 off: RV32), by id:
   * always empty here, and absent from enum zone_type there, so no view shows them. Absent: none.
   */
  readonly unconfigured?: readonly number[];
}

/** x86-64's (and arm64's, as vmlab boots it) zones. */
export const ZONES_64: ZoneLayout = {
  names: ZONE_NAMES,
  endPfns: ZONE_END_PFN as [number, number, number],
  normal: 2,
  highmem: 2,
  dma32: true,
};

export const enum Wmark {
  Min = 0,
  Low = 1,
  High = 2,
}

/** One memory zone: free lists by order, watermarks, counters. Linux: struct zone. */
export class Zone {
  /**
   * head and tail pfn of each order's free list of each migrate type (free_area[order].free_list[mt]),
   * at order * MIGRATE_TYPES + mt; -1 = empty
   */
  readonly head = new Int32Array(NR_ORDERS * MIGRATE_TYPES).fill(-1);
  readonly tail = new Int32Array(NR_ORDERS * MIGRATE_TYPES).fill(-1);
  /** free_area[order].nr_free: the blocks of each order, all types together */
  readonly nrFree = new Float64Array(NR_ORDERS);
  /** NR_FREE_PAGES: the free pages on the lists (Linux leaves out MIGRATE_ISOLATE's; vmlab isolates nothing) */
  freePages = 0;
  /**
   * the free pages on each migrate type's lists; [MIGRATE_HIGHATOMIC] is nr_free_highatomic (unusable
   * to most allocations), the others vmlab's (Linux counts free pages per type only in
   * /proc/pagetypeinfo's walk): the fast path's forecasts read them
   */
  readonly nrFreeMt = new Float64Array(MIGRATE_TYPES);
  /** nr_reserved_highatomic: the pages of the pageblocks reserved for high-order atomic allocations */
  nrReservedHighatomic = 0;
  /** pages handed to the buddy allocator at boot (managed_pages) */
  managed = 0;
  /** watermarks in pages: min, low, high */
  readonly wmark = [0, 0, 0];
  /** pages kept back from allocations whose highest zone is above this one */
  readonly lowmemReserve = [0, 0, 0];
  /** ZONE_BELOW_HIGH: an allocation found free pages at or below the high watermark (the pcp lists shrink) */
  belowHigh = false;
  /** ZONE_RECLAIM_ACTIVE: kswapd is balancing the node (the pcp lists hold fewer pages) */
  reclaimActive = false;
  /**
   * watermark_boost: pages added to every watermark after a fallback took a block smaller than a
   * pageblock from another migrate type (boost_watermark), until kswapd's next run reclaims them
   */
  watermarkBoost = 0;
  /** ZONE_BOOSTED_WATERMARK: a boost waits for the next allocation from this zone to wake kswapd */
  boostedWatermark = false;
  /**
   * Compaction's state (mm/compaction.ts): where the migration scanner (async, sync) and the free
   * scanner start next (compact_cached_migrate_pfn[2], compact_cached_free_pfn; -1: the zone's
   * ends), and the deferral of direct compaction after failures (compact_considered,
   * compact_defer_shift, compact_order_failed).
   */
  readonly compactCachedMigratePfn = [-1, -1];
  compactCachedFreePfn = -1;
  compactConsidered = 0;
  compactDeferShift = 0;
  compactOrderFailed = 0;
  /**
   * compact_blockskip_flush: a direct compaction's scanners met, so the pageblock skip hints are
   * to be cleared (__reset_isolation_suitable) when kswapd next goes to sleep
   */
  compactBlockskipFlush = false;

  constructor(
    readonly id: ZoneId,
    readonly startPfn: number,
    readonly endPfn: number,
  ) {
    this.name = ZONE_NAMES[id];
  }

  /** the zone's name (the layout's; x86-64: DMA, DMA32, Normal) */
  name: string;
}

/** vm.lowmem_reserve_ratio defaults (DMA, DMA32, Normal). */
const LOWMEM_RESERVE_RATIO = [256, 256, 32];
/** vm.watermark_scale_factor default (fraction of 10000). */
const WATERMARK_SCALE_FACTOR = 10;

/**
 * Boot: min_free_kbytes (calculate_min_free_kbytes, unless given), each zone's watermarks
 * (setup_per_zone_wmarks: min by the zone's share of the managed pages, low and high a quarter
 * of min or watermark_scale_factor of the zone above it) and lowmem reserves
 * (setup_per_zone_lowmem_reserve). Returns min_free_kbytes. Linux: mm/page_alloc.c
 */
export function setupPerZoneWmarks(
  zones: readonly Zone[],
  lowmemPages: number,
  minFreeKbytes?: number,
): number {
  const lowmemKb = lowmemPages * 4;
  const kb = minFreeKbytes ?? Math.min(262144, Math.max(128, Math.floor(Math.sqrt(lowmemKb * 16))));
  const pagesMin = Math.floor(kb / 4);
  for (const z of zones) {
    const min = lowmemPages === 0 ? 0 : Math.floor((pagesMin * z.managed) / lowmemPages);
    const tmp = Math.max(Math.floor(min / 4), Math.floor((z.managed * WATERMARK_SCALE_FACTOR) / 10000));
    z.wmark[Wmark.Min] = min;
    z.wmark[Wmark.Low] = min + tmp;
    z.wmark[Wmark.High] = min + 2 * tmp;
  }
  // setup_per_zone_lowmem_reserve: zone i keeps back, from allocations whose highest zone is j,
  // the managed pages of the zones above it up to j over its ratio; a zone that manages nothing
  // keeps nothing back (an empty upper zone adds nothing but still gets the sum below it)
  for (let i = 0; i < 3; i++) {
    let upper = 0;
    const clear = zones[i].managed === 0;
    for (let j = i + 1; j < 3; j++) {
      upper += zones[j].managed;
      zones[i].lowmemReserve[j] = clear ? 0 : Math.floor(upper / LOWMEM_RESERVE_RATIO[i]);
    }
  }
  return kb;
}
