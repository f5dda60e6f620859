/**
 * GFP flags: what an allocation may do to get memory (Linux:
 * include/linux/gfp_types.h). Only the bits whose behaviour vmlab models.
 */
export const enum Gfp {
  /** zone modifier: ZONE_DMA only */
  DMA = 1 << 0,
  /** zone modifier: ZONE_DMA32 and below */
  DMA32 = 1 << 1,
  /** zone modifier: ZONE_HIGHMEM allowed (32-bit: frames with no permanent kernel address) */
  HIGHMEM = 1 << 2,
  /**
   * zone modifier __GFP_MOVABLE: the page can be migrated; with __GFP_HIGHMEM, gfp_zone gives
   * ZONE_MOVABLE (GFP_ZONE_TABLE). vmlab's machines have no movable zone (no movablecore=), so it
   * chooses no frames: it is the zone direct reclaim counts a user page's stall under
   * (allocstall_movable: try_to_free_pages' reclaim_idx = gfp_zone(gfp_mask)).
   */
  MOVABLE = 1 << 3,
  /**
   * __GFP_RECLAIMABLE: the page belongs to a cache a shrinker can empty (slab caches made with
   * SLAB_RECLAIM_ACCOUNT): gfp_migratetype's MIGRATE_RECLAIMABLE
   */
  RECLAIMABLE = 1 << 4,
  /** __GFP_HIGH: may use some of the reserve below the min watermark */
  HIGH = 1 << 5,
  /** __GFP_IO, __GFP_FS: may start I/O during reclaim */
  IO = 1 << 6,
  FS = 1 << 7,
  /** __GFP_ZERO */
  ZERO = 1 << 8,
  /** __GFP_DIRECT_RECLAIM: may reclaim (and sleep) itself */
  DIRECT_RECLAIM = 1 << 10,
  /** __GFP_KSWAPD_RECLAIM: may wake kswapd */
  KSWAPD_RECLAIM = 1 << 11,
  /** __GFP_NOWARN */
  NOWARN = 1 << 13,
  /** __GFP_RETRY_MAYFAIL: try hard (a costly order retries reclaim and compaction) but never invoke the OOM killer */
  RETRY_MAYFAIL = 1 << 15,
  /** __GFP_NORETRY: fail rather than invoke the OOM killer */
  NORETRY = 1 << 16,
  /** __GFP_ACCOUNT: the page is charged to the memory cgroup as kernel memory (__memcg_kmem_charge_page) */
  ACCOUNT = 1 << 17,

  /** GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM: never sleeps, may dip below min */
  ATOMIC = HIGH | KSWAPD_RECLAIM,
  /** GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS: may reclaim and sleep */
  KERNEL = DIRECT_RECLAIM | KSWAPD_RECLAIM | IO | FS,
  /** GFP_NOWAIT: no direct reclaim, no reserves */
  NOWAIT = KSWAPD_RECLAIM,
  /** GFP_PGTABLE_USER = GFP_KERNEL | __GFP_ZERO | __GFP_ACCOUNT: a user page table (include/asm-generic/pgalloc.h) */
  PGTABLE_USER = KERNEL | ZERO | ACCOUNT,
  /** GFP_HIGHUSER: user pages that stay put (a 32-bit machine's highmem) */
  HIGHUSER = KERNEL | HIGHMEM,
  /** GFP_HIGHUSER_MOVABLE: anonymous and page-cache pages (alloc_anon_folio, mapping_gfp_mask) */
  HIGHUSER_MOVABLE = KERNEL | HIGHMEM | MOVABLE,
  /**
   * GFP_TRANSHUGE_LIGHT = (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN) &
   * ~__GFP_RECLAIM: a THP that neither reclaims nor wakes kswapd (vma_thp_gfp_mask's base)
   */
  TRANSHUGE_LIGHT = IO | FS | HIGHMEM | MOVABLE | NOWARN,
}

export function parseGfp(name: string): number | null {
  switch (name) {
    case "kernel":
      return Gfp.KERNEL;
    case "atomic":
      return Gfp.ATOMIC;
    case "nowait":
      return Gfp.NOWAIT;
    case "dma":
      return Gfp.KERNEL | Gfp.DMA;
    case "dma32":
      return Gfp.KERNEL | Gfp.DMA32;
    default:
      return null;
  }
}
