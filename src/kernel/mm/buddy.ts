import { assert } from "../../base/assert.ts";
import { checkBuddy } from "./buddy_check.ts";
import { Gfp } from "./gfp.ts";
import {
  gfpMigratetype,
  MAX_ORDER,
  MIGRATE_PCPTYPES,
  MIGRATE_TYPES,
  MigrateType,
  Mobility,
} from "./migratetype.ts";
import { setupPerZoneWmarks, Wmark, ZONES_64, Zone, ZoneId, type ZoneLayout } from "./mmzone.ts";
import { type PageDescTable, PageFlag, PageKind } from "./PageDesc.ts";
import {
  AllocFlag,
  type FreeAreas,
  reserveHighatomicPageblock,
  rmqueueFallback,
  zoneWatermarkOk,
} from "./page_alloc_fallback.ts";
import { allocRun0, order0FastSure, order0FastSureN } from "./page_alloc_fast.ts";
import { PcpLists, pcpAllowedOrder } from "./page_alloc_pcp.ts";
import { allocSlowpath, type BuddyHooks } from "./page_alloc_slow.ts";

export { MAX_ORDER, NR_ORDERS } from "./migratetype.ts";
export { Wmark, ZONE_NAMES, ZONES_64, Zone, ZoneId, type ZoneLayout } from "./mmzone.ts";
export type { BuddyHooks, SlowpathCompaction } from "./page_alloc_slow.ts";

/** struct capture_control: a direct compaction's zone, order and migrate type, and the block it captured (-1: none yet). */
export interface CaptureControl {
  readonly zone: Zone;
  readonly order: number;
  readonly mt: number;
  page: number;
}

/**
 * compaction_capture's test of the block (its zone and order already matched): below
 * pageblock_order, a movable pageblock's block goes only to a movable request (no CMA or
 * isolated pageblocks in vmlab).
 */
function captureOk(capc: CaptureControl, order: number, mt: number, pbOrder: number): boolean {
  return !(order < pbOrder && mt === MigrateType.MOVABLE && capc.mt !== MigrateType.MOVABLE);
}

export type FreeError = "not-allocated" | "wrong-order" | "out-of-range" | "misaligned";

/**
 * The binary buddy allocator (Linux: mm/page_alloc.c). Free blocks of 2^order
 * frames sit on per-zone, per-order free lists threaded through struct page
 * (next/prev). Allocation takes the smallest order that has a block and
 * splits it (expand); freeing merges with the buddy (pfn ^ 2^order) while it
 * is free at the same order (__free_one_page).
 *
 * Blocks of orders up to PAGE_ALLOC_COSTLY_ORDER and of the THP order go
 * through the per-CPU page lists when the kernel has set them up (`pcp`,
 * page_alloc_pcp.ts: setup_per_cpu_pageset); without them (profile=windows,
 * a bare allocator in tests) every block comes from and goes back to the
 * buddy lists.
 *
 * Each order's free list is one list per migrate type (migratetype.ts): a block is on the list
 * of its pageblock's type, an allocation asks for its gfp's type and falls back to another's
 * largest block when its own lists are empty (page_alloc_fallback.ts). The Linux profile groups
 * by mobility from boot (buildAllZonelists); until then, and in the Windows profile, every block
 * and request is MOVABLE (Mobility.NONE: one list per order).
 *
 * Compaction is mm/compaction.ts's. Not modelled: CMA; one node.
 */
export class BuddyAllocator implements FreeAreas {
  readonly zones: Zone[];
  /** pageblock_order: min(HUGETLB_PAGE_ORDER, MAX_PAGE_ORDER) */
  readonly pbOrder: number;
  /** each pageblock's migrate type (the pageblock flags' migratetype bits), by pfn >> pbOrder */
  readonly blockMt: Uint8Array;
  /** each pageblock's PB_migrate_skip (compaction's skip hint: compaction_skip.ts), by pfn >> pbOrder */
  readonly blockSkip: Uint8Array;
  /** grouping by mobility (page_group_by_mobility_disabled, or no migrate types at all) */
  mobility: Mobility = Mobility.NONE;
  /** ALLOC_NOFRAGMENT for allocations whose preferred zone is ZONE_NORMAL with a ZONE_DMA32 below (alloc_flags_nofragment) */
  private nofragmentZone = -1;
  hooks: BuddyHooks | null = null;
  /** PageLRU of each frame (Vmscan.lru, wired at boot): steal_suitable_fallback counts a pageblock's movable pages */
  lru: Uint8Array | null = null;
  /**
   * current->capture_control: the direct compaction under way (compact_zone_order sets it), whose
   * zone's freed block of its order __free_one_page hands it instead of the free lists; null: none
   */
  capture: CaptureControl | null = null;
  /** the per-CPU page lists (zone->per_cpu_pageset), once setupPerCpuPageset made them */
  pcp: PcpLists | null = null;
  /** HPAGE_PMD_ORDER, the order of the pcp lists above PAGE_ALLOC_COSTLY_ORDER (-1: none yet) */
  private thpOrder = -1;
  /** PGALLOC by zone (pgalloc_dma, pgalloc_dma32, pgalloc_normal): pages handed out */
  readonly pgalloc = new Float64Array(3);
  /** the zone whose ZONE_BOOSTED_WATERMARK the last allocation cleared, to wake kswapd for (-1: none) */
  private boostWakeZone = -1;
  /** PGFREE: pages freed (to the pcp lists or the buddy lists; the boot's too) */
  pgfree = 0;
  /** min_free_kbytes as computed at boot (calculate_min_free_kbytes) */
  minFreeKbytes = 0;
  // counters (/proc/vmstat style)
  allocStalls = 0;
  /**
   * ALLOCSTALL by zone (allocstall_dma, _dma32, _normal, _high; index 3 _movable): direct
   * reclaims, under the allocation's gfp_zone (do_try_to_free_pages' __count_zid_vm_events)
   */
  readonly allocStallByZone = new Float64Array(4);
  kswapdWakeups = 0;
  failedAllocs = 0;

  constructor(
    readonly pages: PageDescTable,
    nrFrames: number,
    readonly layout: ZoneLayout = ZONES_64,
    pageblockOrder = 9,
  ) {
    this.pbOrder = Math.min(pageblockOrder, MAX_ORDER);
    // memmap_init_range: every pageblock starts MIGRATE_MOVABLE
    this.blockMt = new Uint8Array((nrFrames >> this.pbOrder) + 1).fill(MigrateType.MOVABLE);
    this.blockSkip = new Uint8Array(this.blockMt.length);
    this.zones = [];
    let start = 0;
    for (let id = 0; id < 3; id++) {
      const end = Math.min(nrFrames, layout.endPfns[id]);
      const z = new Zone(id, Math.min(start, end), end);
      z.name = layout.names[id];
      this.zones.push(z);
      start = end;
    }
  }

  zoneOf(pfn: number): Zone {
    const e = this.layout.endPfns;
    return pfn < e[0] ? this.zones[0] : pfn < e[1] ? this.zones[1] : this.zones[2];
  }

  /**
   * setup_per_cpu_pageset (start_kernel, after mm_core_init), with the watermarks
   * already set (init_per_zone_wmark_min's zone_pcp_update): the per-CPU lists of
   * every populated zone, for `nrCpus` CPUs; `runningCpu` is smp_processor_id().
   * Linux: mm/page_alloc.c setup_per_cpu_pageset, setup_zone_pageset
   */
  setupPerCpuPageset(nrCpus: number, thpOrder: number, runningCpu: () => number): void {
    this.thpOrder = thpOrder;
    this.pcp = new PcpLists(this, this.zones, nrCpus, thpOrder, runningCpu);
  }

  /**
   * build_all_zonelists' choices. Grouping by mobility is on unless the machine has fewer than
   * pageblock_nr_pages * MIGRATE_TYPES pages (vm_total_pages: the managed pages of the zones a
   * GFP_HIGHUSER_MOVABLE allocation may use, less their high watermarks, not yet set at this
   * point of the boot). An allocation whose preferred zone is ZONE_NORMAL with a ZONE_DMA32 below
   * it (CONFIG_ZONE_DMA32: the 64-bit layouts) gets ALLOC_NOFRAGMENT on its fast path
   * (alloc_flags_nofragment). Linux: mm/page_alloc.c build_all_zonelists, alloc_flags_nofragment
   */
  buildAllZonelists(): void {
    let total = 0;
    for (let id = 0; id <= this.layout.highmem; id++) total += this.zones[id].managed;
    this.mobility = total < (1 << this.pbOrder) * MIGRATE_TYPES ? Mobility.DISABLED : Mobility.ON;
    this.nofragmentZone = this.layout.dma32 === true ? ZoneId.Normal : -1;
  }

  /**
   * The fast path's alloc_flags (alloc_flags_nofragment of the preferred zone): ALLOC_KSWAPD for
   * __GFP_KSWAPD_RECLAIM, ALLOC_NOFRAGMENT when the preferred zone (the first managed one from
   * `highest` down) is ZONE_NORMAL above a ZONE_DMA32.
   */
  fastFlags(gfp: number, highest: number): number {
    const flags = gfp & Gfp.KSWAPD_RECLAIM ? AllocFlag.KSWAPD : 0;
    if (this.nofragmentZone < 0) return flags;
    let id = highest;
    while (id >= 0 && this.zones[id].managed === 0) id--;
    return id === this.nofragmentZone ? flags | AllocFlag.NOFRAGMENT : flags;
  }

  /**
   * __rmqueue_smallest: the first block of the smallest order on the `mt` lists, split down to
   * `order` (page_del_and_expand), or -1.
   */
  rmqueueSmallest(z: Zone, order: number, mt: number): number {
    const head = z.head;
    for (let current = order; current <= MAX_ORDER; current++) {
      const pfn = head[current * MIGRATE_TYPES + mt];
      if (pfn === -1) continue;
      this.removeFromList(z, pfn, current, mt);
      if (current > order) this.expand(z, pfn, order, current, mt);
      return pfn;
    }
    return -1;
  }

  /**
   * __rmqueue: the `mt` lists' smallest block, else a fallback type's (__rmqueue_fallback), or -1.
   * For rmqueue_bulk (page_alloc_pcp.ts) and rmqueue_buddy.
   */
  rmqueueMt(z: Zone, order: number, mt: number, allocFlags: number): number {
    const pfn = this.rmqueueSmallest(z, order, mt);
    if (pfn >= 0 || this.mobility === Mobility.NONE) return pfn;
    return rmqueueFallback(this, z, order, mt, allocFlags);
  }

  /** The zone's watermark `which` with its boost (min_wmark_pages, low_wmark_pages, high_wmark_pages) */
  wmark(z: Zone, which: Wmark): number {
    return z.wmark[which] + z.watermarkBoost;
  }

  /** the length of the run rmqueueRun0 took */
  runLen = 0;

  /**
   * rmqueue_bulk's order-0 __rmqueue calls of migrate type `mt`, up to `max` of them at once:
   * the first pfn of a run of `runLen` pages taken in a row. One call takes the head of the
   * `mt` order-0 list (a run of 1); past an empty order-0 list it takes the smallest block,
   * whose pages the following calls would take in ascending order (expand puts the
   * halves at the heads of the lists below it, all empty): the run is its first
   * pages, and what is left of it goes on those lists as __rmqueue_smallest would have
   * left it (the aligned pieces after the run, each heading its own list). The state
   * after is the same as after `runLen` calls of __rmqueue_smallest, without putting
   * each half on a list to take it off again. When every `mt` list is empty, the call is
   * __rmqueue_fallback's (a run of 1). Returns -1 when the zone has nothing for the call.
   * Linux: mm/page_alloc.c rmqueue_bulk, __rmqueue, __rmqueue_smallest, expand
   */
  rmqueueRun0(z: Zone, max: number, mt: number, allocFlags: number): number {
    let current = 0;
    const head = z.head;
    while (current <= MAX_ORDER && head[current * MIGRATE_TYPES + mt] === -1) current++;
    if (current > MAX_ORDER) {
      // __rmqueue_fallback: one page (a run of 1), which may have claimed a block for `mt`
      this.runLen = 1;
      return this.mobility === Mobility.NONE ? -1 : rmqueueFallback(this, z, 0, mt, allocFlags);
    }
    const pfn = head[current * MIGRATE_TYPES + mt];
    this.removeFromList(z, pfn, current, mt);
    const size = 1 << current;
    const n = Math.min(max, size);
    this.runLen = n;
    // the pieces after the run: offset n, then each next offset's alignment (ctz) gives its order
    for (let off = n; off < size; ) {
      const o = 31 - Math.clz32(off & -off);
      this.addToList(z, pfn + off, o, mt, false);
      off += 1 << o;
    }
    return pfn;
  }

  /** __free_one_page(FPI_NONE), for free_pcppages_bulk (page_alloc_pcp.ts): the pcp's zone `z` is the block's. */
  freeOneBuddy(pfn: number, order: number, z: Zone): void {
    this.freeOneIn(z, pfn, order, false);
  }

  /** zone_watermark_ok(zone, 0, high_wmark_pages(zone), ZONE_MOVABLE, 0) */
  aboveHighWmark(z: Zone): boolean {
    return this.watermarkOk(z, 0, this.wmark(z, Wmark.High), 2, 0);
  }

  /** Total free pages over all zones (NR_FREE_PAGES: the buddy lists; pages on pcp lists are not counted). */
  freePages(): number {
    let n = 0;
    for (const z of this.zones) n += z.freePages;
    return n;
  }

  /** The managed zones' high watermarks summed (prepare_scan_control's total_high_wmark). */
  highWmarkPages(): number {
    let n = 0;
    for (const z of this.zones) if (z.managed > 0) n += this.wmark(z, Wmark.High);
    return n;
  }

  /** Total managed pages (MemTotal). */
  managedPages(): number {
    let n = 0;
    for (const z of this.zones) n += z.managed;
    return n;
  }

  // ---- free lists (intrusive, through struct page next/prev) ----

  /**
   * __add_to_free_list with account_freepages: the block on the `mt` list of its order, at the
   * head or the tail. Public for the fallbacks (page_alloc_fallback.ts).
   */
  addToList(z: Zone, pfn: number, order: number, mt: number, toTail: boolean): void {
    const p = this.pages;
    p.order[pfn] = order;
    p.flags[pfn] |= PageFlag.Buddy;
    p.kind[pfn] = PageKind.Free;
    const li = order * MIGRATE_TYPES + mt;
    if (z.head[li] === -1) {
      p.next[pfn] = -1;
      p.prev[pfn] = -1;
      z.head[li] = pfn;
      z.tail[li] = pfn;
    } else if (toTail) {
      const t = z.tail[li];
      p.next[t] = pfn;
      p.prev[pfn] = t;
      p.next[pfn] = -1;
      z.tail[li] = pfn;
    } else {
      const h = z.head[li];
      p.prev[h] = pfn;
      p.next[pfn] = h;
      p.prev[pfn] = -1;
      z.head[li] = pfn;
    }
    z.nrFree[order]++;
    z.freePages += 1 << order;
    z.nrFreeMt[mt] += 1 << order;
  }

  /** del_page_from_free_list with account_freepages: the block off the `mt` list of its order. */
  removeFromList(z: Zone, pfn: number, order: number, mt: number): void {
    const p = this.pages;
    const next = p.next[pfn];
    const prev = p.prev[pfn];
    const li = order * MIGRATE_TYPES + mt;
    if (prev === -1) z.head[li] = next;
    else p.next[prev] = next;
    if (next === -1) z.tail[li] = prev;
    else p.prev[next] = prev;
    p.next[pfn] = -1;
    p.prev[pfn] = -1;
    p.flags[pfn] &= ~PageFlag.Buddy;
    p.order[pfn] = -1;
    z.nrFree[order]--;
    z.freePages -= 1 << order;
    z.nrFreeMt[mt] -= 1 << order;
  }

  /**
   * __free_one_page: merge with free buddies as far as possible, then put the
   * block on its list: at the tail when the next-larger merge looks likely
   * (buddy_merge_likely) or when asked (boot), else at the head.
   */
  private freeOne(pfn: number, order: number, toTail: boolean): void {
    this.freeOneIn(this.zoneOf(pfn), pfn, order, toTail);
  }

  /**
   * freeOne with the block's zone known (free_pcppages_bulk frees one zone's pages). The block
   * goes on the list of its pageblock's type (get_pfnblock_migratetype). The buddy test
   * (page_is_buddy: in the zone, PageBuddy, the same order), del_page_from_free_list and
   * add_to_free_list / add_to_free_list_tail as removeFromList and addToList do them, on the
   * struct-page arrays held in locals. From pageblock_order up, a buddy of another type merges
   * only when both types are mergeable, and then takes the freed block's type.
   */
  private freeOneIn(z: Zone, pfn: number, order: number, toTail: boolean): void {
    const p = this.pages;
    const flags = p.flags;
    const ord = p.order;
    const next = p.next;
    const prev = p.prev;
    const start = z.startPfn;
    const end = z.endPfn;
    const head = z.head;
    const tail = z.tail;
    const pb = this.pbOrder;
    const blockMt = this.blockMt;
    const mt = blockMt[pfn >> pb];
    let merged = 0;
    const capc = this.capture;
    while (order < MAX_ORDER) {
      // compaction_capture: a direct compaction of this zone takes the block at its order
      if (
        capc !== null &&
        order === capc.order &&
        capc.page < 0 &&
        capc.zone === z &&
        captureOk(capc, order, mt, pb)
      ) {
        z.freePages -= merged;
        capc.page = pfn;
        return;
      }
      const buddy = pfn ^ (1 << order);
      if (buddy < start || buddy >= end || (flags[buddy] & PageFlag.Buddy) === 0 || ord[buddy] !== order)
        break;
      let buddyMt = mt;
      if (order >= pb) {
        buddyMt = blockMt[buddy >> pb];
        if (buddyMt !== mt && (mt >= MIGRATE_PCPTYPES || buddyMt >= MIGRATE_PCPTYPES)) break;
      }
      // removeFromList(z, buddy, order, buddyMt)
      const li = order * MIGRATE_TYPES + buddyMt;
      const n = next[buddy];
      const pv = prev[buddy];
      if (pv === -1) head[li] = n;
      else next[pv] = n;
      if (n === -1) tail[li] = pv;
      else prev[n] = pv;
      next[buddy] = -1;
      prev[buddy] = -1;
      flags[buddy] &= ~PageFlag.Buddy;
      ord[buddy] = -1;
      z.nrFree[order]--;
      merged += 1 << order;
      z.nrFreeMt[buddyMt] -= 1 << order;
      if (buddyMt !== mt) blockMt[buddy >> pb] = mt; // match the buddy's type (set_pageblock_migratetype)
      pfn &= buddy;
      order++;
    }
    z.freePages -= merged;

    if (!toTail && order < MAX_ORDER - 1) {
      const higher = pfn & (pfn ^ (1 << order));
      const hb = higher ^ (1 << (order + 1));
      toTail = hb >= start && hb < end && (flags[hb] & PageFlag.Buddy) !== 0 && ord[hb] === order + 1;
    }
    this.addToList(z, pfn, order, mt, toTail);
  }

  /**
   * Boot: hands a range of frames to the allocator in the largest aligned
   * blocks (memblock_free_all -> __free_pages_core, which queues at the tail).
   */
  freeBootRange(startPfn: number, endPfn: number): void {
    let pfn = startPfn;
    while (pfn < endPfn) {
      let order = MAX_ORDER;
      while (
        order > 0 &&
        (pfn % (1 << order) !== 0 || pfn + (1 << order) > endPfn || this.crossesZone(pfn, order))
      )
        order--;
      const z = this.zoneOf(pfn);
      z.managed += 1 << order;
      for (let i = pfn; i < pfn + (1 << order); i++) {
        this.pages.zone[i] = z.id;
        this.pages.refcount[i] = 0;
        this.pages.kind[i] = PageKind.Free;
      }
      this.freeOne(pfn, order, true);
      this.pgfree += 1 << order;
      pfn += 1 << order;
    }
  }

  private crossesZone(pfn: number, order: number): boolean {
    return this.zoneOf(pfn) !== this.zoneOf(pfn + (1 << order) - 1);
  }

  /**
   * Boot: min_free_kbytes (calculate_min_free_kbytes), per-zone watermarks
   * (setup_per_zone_wmarks) and lowmem reserves (setup_per_zone_lowmem_reserve).
   */
  setupWatermarks(minFreeKbytes?: number): void {
    this.minFreeKbytes = setupPerZoneWmarks(this.zones, this.managedPages(), minFreeKbytes);
  }

  /**
   * zone_watermark_ok: is there enough free memory in z to take 2^order pages
   * and stay above `mark` (plus the lowmem reserve), and is a block of that
   * order or larger free?
   */
  watermarkOk(z: Zone, order: number, mark: number, highestZone: number, allocFlags: number): boolean {
    return zoneWatermarkOk(z, order, mark, highestZone, allocFlags, z.freePages);
  }

  /**
   * Allocates 2^order physically contiguous frames. Returns the first pfn,
   * or -1. The frames are marked `kind`, refcount 1 (head carries the order).
   *
   * Linux: mm/page_alloc.c __alloc_pages. The fast path
   * (get_page_from_freelist) needs the low watermark; the slow path
   * (allocSlowpath) wakes kswapd, retries at the min watermark (GFP_ATOMIC
   * may dip below it), then, if the caller may sleep, reclaims directly and
   * finally calls the OOM killer (orders up to PAGE_ALLOC_COSTLY_ORDER = 3
   * only). The fast path is a function of its own, small enough for the
   * engine to inline into the fault path that calls it.
   */
  alloc(order: number, gfp: number, kind: PageKind): number {
    assert(order >= 0 && order <= MAX_ORDER, "alloc: order out of range");
    const highest = this.gfpZone(gfp);
    const mt = gfpMigratetype(gfp, this.mobility);
    const pfn = this.fromFreelist(order, highest, Wmark.Low, this.fastFlags(gfp, highest), mt);
    if (pfn < 0) return this.allocSlowpath(order, gfp, kind, highest, mt);
    if (order === 0) this.prep0(pfn, kind);
    else this.prep(pfn, order, kind, gfp);
    if (this.boostWakeZone >= 0) this.boostWake();
    return pfn;
  }

  /** gfp_zone: the highest zone an allocation of `gfp` may take from. */
  gfpZone(gfp: number): number {
    return gfp & Gfp.DMA
      ? ZoneId.DMA
      : gfp & Gfp.DMA32
        ? ZoneId.DMA32
        : gfp & Gfp.HIGHMEM
          ? this.layout.highmem
          : this.layout.normal;
  }
  /** order0FastSure (page_alloc_fast.ts): an order-0 allocation of `gfp` now is sure of the fast path's first zone */
  order0FastSure(gfp: number): boolean {
    return order0FastSure(this, gfp);
  }

  /** allocRun0 (page_alloc_fast.ts): up to `max` fast-path order-0 allocations in a row, into out[] */
  allocRun0(gfp: number, kind: PageKind, out: Float64Array, max: number): number {
    return allocRun0(this, gfp, kind, out, max);
  }

  /** order0FastSureN (page_alloc_fast.ts): `n` order-0 allocations in a row are sure of the fast path */
  order0FastSureN(gfp: number, n: number): boolean {
    return order0FastSureN(this, gfp, n);
  }

  /** The allocation the fast path could not make at the low watermark: __alloc_pages_slowpath (page_alloc_slow.ts). */
  private allocSlowpath(order: number, gfp: number, kind: PageKind, highest: number, mt: number): number {
    return allocSlowpath(this, order, gfp, kind, highest, mt);
  }

  /**
   * get_page_from_freelist: the first zone from `highest` down whose watermark allows
   * it and that has a block (rmqueue: from the running CPU's pcp list of the request's
   * migrate type for the orders that have one, else from the buddy lists: rmqueue_buddy).
   * With pcp lists, a zone found at or below its high watermark is marked ZONE_BELOW_HIGH on
   * the way. Under ALLOC_NOFRAGMENT a zone whose own type has nothing and whose other types
   * have no block of pageblock_order is passed over, and when every zone was, the zones are
   * tried again without it. A high-order atomic allocation (ALLOC_HIGHATOMIC) may reserve its
   * pageblock (reserve_highatomic_pageblock).
   * Linux: mm/page_alloc.c get_page_from_freelist, rmqueue, rmqueue_buddy
   */
  fromFreelist(order: number, highest: number, which: Wmark, flags: number, mt: number): number {
    const pcp = this.pcp;
    for (;;) {
      for (let id = highest; id >= 0; id--) {
        const z = this.zones[id];
        if (z.managed === 0) continue;
        if (
          pcp === null ||
          z.belowHigh ||
          !this.watermarkOk(z, order, this.wmark(z, Wmark.High), highest, flags)
        ) {
          if (pcp !== null) z.belowHigh = true;
          // zone_watermark_fast: an order-0 __GFP_HIGH allocation checks the min watermark unboosted
          if (
            !this.watermarkOk(z, order, this.wmark(z, which), highest, flags) &&
            !(
              order === 0 &&
              flags & AllocFlag.MIN_RESERVE &&
              which === Wmark.Min &&
              z.watermarkBoost > 0 &&
              this.watermarkOk(z, 0, z.wmark[Wmark.Min], highest, flags)
            )
          )
            continue;
        }
        let pfn = -1;
        if (pcp !== null && pcpAllowedOrder(order, this.thpOrder)) pfn = pcp.rmqueue(z, order, mt, flags);
        if (pfn < 0) pfn = this.rmqueueBuddy(z, order, mt, flags);
        if (pfn >= 0) {
          this.pgalloc[id] += 1 << order;
          // rmqueue's end: a boost waiting for a waker wakes kswapd for this zone (boostWake,
          // once the page is prepared)
          if (flags & AllocFlag.KSWAPD && z.boostedWatermark) {
            z.boostedWatermark = false;
            this.boostWakeZone = id;
          }
          if (flags & AllocFlag.HIGHATOMIC) reserveHighatomicPageblock(this, pfn, order, z);
          return pfn;
        }
      }
      if (!(flags & AllocFlag.NOFRAGMENT)) return -1;
      flags &= ~AllocFlag.NOFRAGMENT;
    }
  }

  /**
   * rmqueue_buddy: a high-order atomic allocation tries the highatomic reserve first; a
   * non-blocking one that finds nothing else may use it last.
   */
  private rmqueueBuddy(z: Zone, order: number, mt: number, flags: number): number {
    let pfn = -1;
    if (flags & AllocFlag.HIGHATOMIC) pfn = this.rmqueueSmallest(z, order, MigrateType.HIGHATOMIC);
    if (pfn < 0) {
      pfn = this.rmqueueMt(z, order, mt, flags);
      if (pfn < 0 && flags & AllocFlag.NON_BLOCK)
        pfn = this.rmqueueSmallest(z, order, MigrateType.HIGHATOMIC);
    }
    return pfn;
  }

  /**
   * expand: the halves of a block of order `high` split down to `low` go back on their free
   * lists (the `mt` ones), the block's first 2^low pages kept (at the head of each list, as
   * __add_to_free_list). A function of its own, as in Linux: most allocations split nothing,
   * and the one that does is off the fault path's inlined code.
   * Linux: mm/page_alloc.c expand
   */
  expand(z: Zone, pfn: number, low: number, high: number, mt: number): void {
    while (high > low) {
      high--;
      this.addToList(z, pfn + (1 << high), high, mt, false);
    }
  }

  /**
   * prep_new_page of an order-0 page (every user page a fault allocates): what `prep` does for
   * order 0, on the one struct page without the loop. Linux: mm/page_alloc.c prep_new_page
   * (post_alloc_hook: set_page_refcounted)
   */
  prep0(pfn: number, kind: PageKind): number {
    const p = this.pages;
    p.kind[pfn] = kind;
    p.refcount[pfn] = 1;
    p.flags[pfn] = 0;
    p.mapcount[pfn] = 0;
    p.priv[pfn] = -1;
    p.order[pfn] = 0;
    return pfn;
  }

  /** prep, then the kswapd wake-up a boosted zone's allocation owes (rmqueue's end: wakeup_kswapd(zone, 0, 0, zone_idx)) */
  prepWake(pfn: number, order: number, kind: PageKind, gfp: number): number {
    this.prep(pfn, order, kind, gfp);
    if (this.boostWakeZone >= 0) this.boostWake();
    return pfn;
  }

  private boostWake(): void {
    const id = this.boostWakeZone;
    this.boostWakeZone = -1;
    this.kswapdWakeups++;
    this.hooks?.wakeKswapd(0, id, 0);
  }

  /** prep_new_page: the block's struct pages as allocated (refcount 1 on the head, PG_head above order 0). */
  private prep(pfn: number, order: number, kind: PageKind, _gfp: number): number {
    const p = this.pages;
    for (let i = pfn; i < pfn + (1 << order); i++) {
      p.kind[i] = kind;
      p.refcount[i] = i === pfn ? 1 : 0;
      p.flags[i] = 0;
      p.mapcount[i] = 0;
      p.priv[i] = -1;
    }
    p.order[pfn] = order;
    if (order > 0) p.flags[pfn] |= PageFlag.Head;
    return pfn;
  }

  /**
   * Frees 2^order frames allocated by `alloc`. Checks that pfn is the head of
   * a live allocation of that order (a double free or a wrong order is an
   * error value, never corruption). A large folio comes here whole, with its
   * order (folio_put.ts, PageCache.evict): the orders with pcp lists (up to
   * PAGE_ALLOC_COSTLY_ORDER, and the THP order) go on the running CPU's list
   * of that order, the others to the buddy lists (__free_pages_ok, free_one_page).
   * Linux: mm/page_alloc.c free_unref_page, free_unref_folios
   */
  free(pfn: number, order: number): FreeError | null {
    const p = this.pages;
    const md = this.memcgKmemData;
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= p.nrFrames) return "out-of-range";
    if (!Number.isInteger(order) || order < 0 || order > MAX_ORDER) return "wrong-order";
    if ((pfn & ((1 << order) - 1)) !== 0) return "misaligned"; // an integer below 2^31 here: no division
    const k = p.kind[pfn];
    if (
      k === PageKind.Free ||
      k === PageKind.Reserved ||
      k === PageKind.KernelImage ||
      k === PageKind.Memmap
    ) {
      return "not-allocated";
    }
    if (p.order[pfn] !== order) return p.order[pfn] < 0 ? "not-allocated" : "wrong-order";
    for (let i = pfn; i < pfn + (1 << order); i++) {
      // each page's own charge: x86 PAE's PGD block holds its preallocated PMDs (fork.ts newMm)
      if (md !== null && md[i] !== 0) this.memcgKmemUncharge(i);
      p.refcount[i] = 0;
      p.flags[i] = 0;
      p.mapcount[i] = 0;
      p.priv[i] = -1;
      p.kind[i] = PageKind.Free;
      p.order[i] = -1;
    }
    this.pgfree += 1 << order;
    // free_unref_page: the pcp orders to the running CPU's list, the others (__free_pages_ok) to the buddy lists
    if (this.pcp !== null && pcpAllowedOrder(order, this.thpOrder))
      this.pcp.free(this.zoneOf(pfn), pfn, order);
    else this.freeOne(pfn, order, false);
    return null;
  }

  /**
   * page->memcg_data of the pages charged to the memory cgroup as kernel memory (__GFP_ACCOUNT:
   * __memcg_kmem_charge_page; vmlab charges user page tables, GFP_PGTABLE_USER): 1 for MEMCG_KMEM,
   * 2 for a page table NR_PAGETABLE counts too (pagetable_pte_ctor's lruvec_stat_mod_folio).
   * The page's free uncharges it (free_pages_prepare: __memcg_kmem_uncharge_page). Made at the
   * first charge. Linux: mm/memcontrol.c __memcg_kmem_charge_page, __memcg_kmem_uncharge_page
   */
  memcgKmemData: Uint8Array | null = null;
  /** the memory cgroup's MEMCG_KMEM (memory.stat kernel) and NR_PAGETABLE (pagetables), in pages */
  memcgKmem = 0;
  memcgPagetables = 0;

  /** Marks the order-0 page at pfn charged as kernel memory (`pagetable`: NR_PAGETABLE too). */
  memcgKmemCharge(pfn: number, pagetable: boolean): void {
    if (this.memcgKmemData === null) this.memcgKmemData = new Uint8Array(this.pages.nrFrames);
    this.memcgKmemData[pfn] = pagetable ? 2 : 1;
    this.memcgKmem++;
    if (pagetable) this.memcgPagetables++;
  }

  private memcgKmemUncharge(pfn: number): void {
    const md = this.memcgKmemData!;
    if (md[pfn] === 2) this.memcgPagetables--;
    this.memcgKmem--;
    md[pfn] = 0;
  }

  /**
   * Takes a free block off its list (del_page_from_free_list), for
   * alloc_contig_pages (page_alloc_contig.ts): the caller makes its pages.
   */
  takeFreeBlock(pfn: number, order: number): void {
    this.removeFromList(this.zoneOf(pfn), pfn, order, this.blockMt[pfn >> this.pbOrder]);
  }

  /**
   * Frees pages the caller has reset to kind Free, as one block of `order` (the largest
   * is MAX_PAGE_ORDER: split_large_buddy's pieces of a gigantic folio), to the buddy lists.
   * Linux: mm/page_alloc.c __free_pages_ok (split_large_buddy, __free_one_page)
   */
  freeFreshBlock(pfn: number, order: number): void {
    this.pgfree += 1 << order;
    this.freeOne(pfn, order, false);
  }

  /**
   * Checks the free lists against struct page: every listed block is a
   * Buddy head of its order, inside its zone, not overlapping another; list
   * links are consistent; counts match. Returns problems (empty when fine).
   */
  check(): string[] {
    return checkBuddy(this);
  }
}
