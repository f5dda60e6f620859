/**
 * Migrate types: the page allocator's grouping of pages by mobility. Every pageblock (2^pageblock_order
 * frames: HPAGE_PMD_ORDER, 9 on x86-64, arm64 and RISC-V with 4 KiB pages, 10 on non-PAE i386, whose
 * huge page is 4 MiB) has a type, and each order's free list is one list per type. Allocations ask
 * for the type their gfp flags name (gfp_migratetype): user and page-cache pages MOVABLE, caches
 * that a shrinker can empty RECLAIMABLE, the rest (page tables, slab, vmalloc, kernel pages)
 * UNMOVABLE, so that pages which can never move stay together and the movable blocks can be
 * emptied again. Linux: include/linux/mmzone.h enum migratetype, include/linux/gfp.h gfp_migratetype,
 * include/linux/pageblock-flags.h
 *
 * vmlab's kernels have CONFIG_MEMORY_ISOLATION and no CONFIG_CMA (x86_64_defconfig): five types.
 */

/**
 * Largest order: blocks of 2^10 pages (4 MiB). Linux: MAX_PAGE_ORDER (include/linux/mmzone.h). A
 * block's 2^order pages are `1 << order` here (a `**` with a variable exponent is a call into V8's
 * pow, on every allocation and free).
 */
export const MAX_ORDER = 10;
export const NR_ORDERS = MAX_ORDER + 1;

/** enum migratetype (CONFIG_MEMORY_ISOLATION, no CONFIG_CMA) */
export const enum MigrateType {
  UNMOVABLE = 0,
  MOVABLE = 1,
  RECLAIMABLE = 2,
  /** MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES: blocks reserved for high-order atomic allocations */
  HIGHATOMIC = 3,
  /** blocks being isolated (alloc_contig_range, offlining): nothing is allocated from them */
  ISOLATE = 4,
}

/** MIGRATE_PCPTYPES: the types with per-CPU lists (and fallbacks) */
export const MIGRATE_PCPTYPES = 3;
/** MIGRATE_TYPES */
export const MIGRATE_TYPES = 5;

/** migratetype_names (mm/page_alloc.c), as /proc/pagetypeinfo prints them */
export const MIGRATETYPE_NAMES = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"] as const;

/** migratetype_is_mergeable: a free block of this type may merge with a buddy of another type */
export function migratetypeIsMergeable(mt: number): boolean {
  return mt < MIGRATE_PCPTYPES;
}

/**
 * How an allocator groups by mobility (vmlab's switch; Linux has the middle two only):
 * - NONE: no migrate types at all (the Windows profile's PFN lists, a bare allocator in tests):
 *   every request and every block is MOVABLE, so one list per order, never a fallback.
 * - ON: page_group_by_mobility_disabled = 0 (build_all_zonelists: the machine has at least
 *   pageblock_nr_pages * MIGRATE_TYPES pages).
 * - DISABLED: page_group_by_mobility_disabled = 1 (a smaller machine): gfp_migratetype answers
 *   UNMOVABLE to every request, and a fallback always claims the whole block.
 */
export const enum Mobility {
  NONE = 0,
  ON = 1,
  DISABLED = 2,
}

/** __GFP_MOVABLE and __GFP_RECLAIMABLE's place in vmlab's Gfp (GFP_MOVABLE_SHIFT) */
const GFP_MOVABLE_SHIFT = 3;

/**
 * gfp_migratetype: (gfp & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT, UNMOVABLE when grouping by
 * mobility is disabled (MOVABLE when vmlab models no types). Linux: include/linux/gfp.h
 */
export function gfpMigratetype(gfp: number, mobility: Mobility): number {
  if (mobility === Mobility.ON) return (gfp >> GFP_MOVABLE_SHIFT) & 3;
  return mobility === Mobility.NONE ? MigrateType.MOVABLE : MigrateType.UNMOVABLE;
}
