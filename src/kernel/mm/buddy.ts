import { assert, ModelBug } from "../../base/assert.ts";
import { Gfp } from "./gfp.ts";
import { type PageDescTable, PageFlag, PageKind } from "./PageDesc.ts";
import { PcpLists, pcpAllowedOrder } from "./page_alloc_pcp.ts";

/**
 * Largest order: blocks of 2^10 pages (4 MiB). Linux: MAX_PAGE_ORDER. A block's
 * 2^order pages are `1 << order` here (a `**` with a variable exponent is a call
 * into V8's pow, on every allocation and free).
 */
export const MAX_ORDER = 10;
export const NR_ORDERS = MAX_ORDER + 1;

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
}

/** x86-64's (and arm64's, as vmlab boots it) zones. */
export const ZONES_64: ZoneLayout = {
  names: ZONE_NAMES,
  endPfns: ZONE_END_PFN as [number, number, number],
  normal: 2,
  highmem: 2,
};
/** vm.lowmem_reserve_ratio defaults (DMA, DMA32, Normal). */
const LOWMEM_RESERVE_RATIO = [256, 256, 32];
/** vm.watermark_scale_factor default (fraction of 10000). */
const WATERMARK_SCALE_FACTOR = 10;

export const enum Wmark {
  Min = 0,
  Low = 1,
  High = 2,
}

/** alloc_flags of the page allocator's slow path (mm/internal.h ALLOC_*), the ones modelled. */
const enum AllocFlag {
  MIN_RESERVE = 1 << 0,
  NON_BLOCK = 1 << 1,
}

/** One memory zone: free lists by order, watermarks, counters. Linux: struct zone. */
export class Zone {
  /** head and tail pfn of each order's free list, -1 = empty */
  readonly head = new Int32Array(NR_ORDERS).fill(-1);
  readonly tail = new Int32Array(NR_ORDERS).fill(-1);
  readonly nrFree = new Float64Array(NR_ORDERS);
  freePages = 0;
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

/** Called by the allocator when it runs short; the kernel installs these (Kernel installs kswapd, direct reclaim and the OOM killer). */
export interface BuddyHooks {
  /**
   * wakeup_kswapd for the node, once per slow path (wake_all_kswapds: one call per pgdat): the
   * allocation's order and highest zone index (kswapd_order, kswapd_highest_zoneidx)
   */
  wakeKswapd(order: number, highestZone: number): void;
  /** try to free at least 2^order pages synchronously; returns pages freed */
  directReclaim(order: number, gfp: number): number;
  /** the last resort for small orders; returns true if memory was freed (a task was killed) */
  outOfMemory(order: number, gfp: number): boolean;
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
 * Not modelled: migrate types, compaction; one node.
 */
export class BuddyAllocator {
  readonly zones: Zone[];
  hooks: BuddyHooks | null = null;
  /** the per-CPU page lists (zone->per_cpu_pageset), once setupPerCpuPageset made them */
  pcp: PcpLists | null = null;
  /** HPAGE_PMD_ORDER, the order of the pcp lists above PAGE_ALLOC_COSTLY_ORDER (-1: none yet) */
  private thpOrder = -1;
  /** PGALLOC by zone (pgalloc_dma, pgalloc_dma32, pgalloc_normal): pages handed out */
  readonly pgalloc = new Float64Array(3);
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
  ) {
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

  /** __rmqueue_smallest, for rmqueue_bulk (page_alloc_pcp.ts). */
  rmqueueSmallest(z: Zone, order: number): number {
    return this.rmqueue(z, order);
  }

  /** the length of the run rmqueueRun0 took */
  runLen = 0;

  /**
   * rmqueue_bulk's order-0 __rmqueue_smallest calls, up to `max` of them at once: the
   * first pfn of a run of `runLen` pages taken in a row. One call takes the head of the
   * order-0 list (a run of 1); past an empty order-0 list it takes the smallest block,
   * whose pages the following calls would take in ascending order (expand puts the
   * halves at the heads of the lists below it, all empty): the run is its first
   * pages, and what is left of it goes on those lists as __rmqueue_smallest would have
   * left it (the aligned pieces after the run, each heading its own list). The state
   * after is the same as after `runLen` calls of __rmqueue_smallest, without putting
   * each half on a list to take it off again. Returns -1 when the zone has nothing.
   * Linux: mm/page_alloc.c rmqueue_bulk, __rmqueue_smallest, expand
   */
  rmqueueRun0(z: Zone, max: number): number {
    let current = 0;
    while (current <= MAX_ORDER && z.head[current] === -1) current++;
    if (current > MAX_ORDER) return -1;
    const pfn = z.head[current];
    this.removeFromList(z, pfn, current);
    const size = 1 << current;
    const n = Math.min(max, size);
    this.runLen = n;
    // the pieces after the run: offset n, then each next offset's alignment (ctz) gives its order
    for (let off = n; off < size; ) {
      const o = 31 - Math.clz32(off & -off);
      this.addToList(z, pfn + off, o, false);
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
    return this.watermarkOk(z, 0, z.wmark[Wmark.High], 2, 0);
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
    for (const z of this.zones) if (z.managed > 0) n += z.wmark[Wmark.High];
    return n;
  }

  /** Total managed pages (MemTotal). */
  managedPages(): number {
    let n = 0;
    for (const z of this.zones) n += z.managed;
    return n;
  }

  // ---- free lists (intrusive, through struct page next/prev) ----

  private addToList(z: Zone, pfn: number, order: number, toTail: boolean): void {
    const p = this.pages;
    p.order[pfn] = order;
    p.flags[pfn] |= PageFlag.Buddy;
    p.kind[pfn] = PageKind.Free;
    if (z.head[order] === -1) {
      p.next[pfn] = -1;
      p.prev[pfn] = -1;
      z.head[order] = pfn;
      z.tail[order] = pfn;
    } else if (toTail) {
      const t = z.tail[order];
      p.next[t] = pfn;
      p.prev[pfn] = t;
      p.next[pfn] = -1;
      z.tail[order] = pfn;
    } else {
      const h = z.head[order];
      p.prev[h] = pfn;
      p.next[pfn] = h;
      p.prev[pfn] = -1;
      z.head[order] = pfn;
    }
    z.nrFree[order]++;
    z.freePages += 1 << order;
  }

  private removeFromList(z: Zone, pfn: number, order: number): void {
    const p = this.pages;
    const next = p.next[pfn];
    const prev = p.prev[pfn];
    if (prev === -1) z.head[order] = next;
    else p.next[prev] = next;
    if (next === -1) z.tail[order] = prev;
    else p.prev[next] = prev;
    p.next[pfn] = -1;
    p.prev[pfn] = -1;
    p.flags[pfn] &= ~PageFlag.Buddy;
    p.order[pfn] = -1;
    z.nrFree[order]--;
    z.freePages -= 1 << order;
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
   * freeOne with the block's zone known (free_pcppages_bulk frees one zone's pages). The
   * buddy test (page_is_buddy: in the zone, PageBuddy, the same order), del_page_from_free_list
   * and add_to_free_list / add_to_free_list_tail as removeFromList and addToList do them,
   * on the struct-page arrays held in locals.
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
    let merged = 0;
    while (order < MAX_ORDER) {
      const buddy = pfn ^ (1 << order);
      if (buddy < start || buddy >= end || (flags[buddy] & PageFlag.Buddy) === 0 || ord[buddy] !== order)
        break;
      // removeFromList(z, buddy, order)
      const n = next[buddy];
      const pv = prev[buddy];
      if (pv === -1) head[order] = n;
      else next[pv] = n;
      if (n === -1) tail[order] = pv;
      else prev[n] = pv;
      next[buddy] = -1;
      prev[buddy] = -1;
      flags[buddy] &= ~PageFlag.Buddy;
      ord[buddy] = -1;
      z.nrFree[order]--;
      merged += 1 << order;
      pfn &= buddy;
      order++;
    }
    z.freePages -= merged;
    if (!toTail && order < MAX_ORDER - 1) {
      const higher = pfn & (pfn ^ (1 << order));
      const hb = higher ^ (1 << (order + 1));
      toTail = hb >= start && hb < end && (flags[hb] & PageFlag.Buddy) !== 0 && ord[hb] === order + 1;
    }
    this.addToList(z, pfn, order, toTail);
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
    const lowmemPages = this.managedPages();
    const lowmemKb = lowmemPages * 4;
    this.minFreeKbytes =
      minFreeKbytes ?? Math.min(262144, Math.max(128, Math.floor(Math.sqrt(lowmemKb * 16))));
    const pagesMin = Math.floor(this.minFreeKbytes / 4);
    for (const z of this.zones) {
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
      const clear = this.zones[i].managed === 0;
      for (let j = i + 1; j < 3; j++) {
        upper += this.zones[j].managed;
        this.zones[i].lowmemReserve[j] = clear ? 0 : Math.floor(upper / LOWMEM_RESERVE_RATIO[i]);
      }
    }
  }

  /**
   * zone_watermark_ok: is there enough free memory in z to take 2^order pages
   * and stay above `mark` (plus the lowmem reserve), and is a block of that
   * order or larger free?
   */
  watermarkOk(z: Zone, order: number, mark: number, highestZone: number, allocFlags: number): boolean {
    let min = mark;
    const free = z.freePages - ((1 << order) - 1);
    if (allocFlags & AllocFlag.MIN_RESERVE) {
      min -= Math.floor(min / 2);
      if (allocFlags & AllocFlag.NON_BLOCK) min -= Math.floor(min / 4);
    }
    if (free <= min + z.lowmemReserve[highestZone]) return false;
    if (order === 0) return true;
    for (let o = order; o <= MAX_ORDER; o++) if (z.nrFree[o] > 0) return true;
    return false;
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
    const pfn = this.fromFreelist(order, highest, Wmark.Low, 0);
    if (pfn >= 0) return order === 0 ? this.prep0(pfn, kind) : this.prep(pfn, order, kind, gfp);
    return this.allocSlowpath(order, gfp, kind, highest);
  }

  /** gfp_zone: the highest zone an allocation of `gfp` may take from. */
  private gfpZone(gfp: number): number {
    return gfp & Gfp.DMA
      ? ZoneId.DMA
      : gfp & Gfp.DMA32
        ? ZoneId.DMA32
        : gfp & Gfp.HIGHMEM
          ? this.layout.highmem
          : this.layout.normal;
  }

  /**
   * Whether an order-0 allocation of `gfp` made now is get_page_from_freelist's first try in the
   * first zone it looks at: that zone passes its low watermark (zone_watermark_ok, order 0), so the
   * fast path takes a page there (its free pages are on the buddy lists: rmqueue_bulk or
   * __rmqueue_smallest finds one) and the slow path (kswapd's wakeup, reclaim) is not entered.
   * Changes nothing. core/faultfold.ts asks it before each fault of a batch it resolves at once.
   */
  order0FastSure(gfp: number): boolean {
    const highest = this.gfpZone(gfp);
    for (let id = highest; id >= 0; id--) {
      const z = this.zones[id];
      if (z.managed === 0) continue;
      return this.watermarkOk(z, 0, z.wmark[Wmark.Low], highest, 0);
    }
    return false;
  }

  /**
   * Up to `max` order-0 allocations of `gfp` one after the other, each made only when
   * order0FastSure holds just before it (the first that it does not hold for ends the run),
   * each as `alloc` makes it on that fast path (get_page_from_freelist's first zone: the high
   * watermark's ZONE_BELOW_HIGH mark, rmqueue_pcplist or __rmqueue_smallest, the zone's
   * PGALLOC count, prep_new_page): the same pages in the same order, every list, count and
   * mark as the calls one by one leave them. Between two pcp refills the zone's free pages do
   * not change, so neither do the watermark checks: they are made once per refill (the pcp
   * side: PcpLists.rmqueueRun0). The pfns go to out[0..]; returns how many. For a batch of
   * demand-zero faults (mm/anon_run.ts), where nothing between two allocations touches the
   * allocator. Linux: mm/page_alloc.c __alloc_pages, get_page_from_freelist, rmqueue
   */
  allocRun0(gfp: number, kind: PageKind, out: Float64Array, max: number): number {
    const highest = this.gfpZone(gfp);
    let id = highest;
    while (id >= 0 && this.zones[id].managed === 0) id--;
    if (id < 0) return 0;
    const z = this.zones[id];
    const pcp = this.pcp;
    let done = 0;
    while (done < max) {
      if (!this.watermarkOk(z, 0, z.wmark[Wmark.Low], highest, 0)) break; // order0FastSure
      // fromFreelist at zone z: ZONE_BELOW_HIGH marked as it marks it (the low watermark: just seen)
      if (pcp !== null && !z.belowHigh && !this.watermarkOk(z, 0, z.wmark[Wmark.High], highest, 0))
        z.belowHigh = true;
      let k = 0;
      if (pcp !== null) k = pcp.rmqueueRun0(z, out, done, max - done);
      if (k === 0) {
        const pfn = this.rmqueue(z, 0);
        if (pfn < 0) throw new ModelBug("allocRun0: a zone above its low watermark has no free page");
        out[done] = pfn;
        k = 1;
      }
      this.pgalloc[id] += k;
      for (let i = done; i < done + k; i++) this.prep0(out[i], kind);
      done += k;
    }
    return done;
  }

  /**
   * Whether `n` order-0 allocations of `gfp` in a row, nothing freed or allocated between them
   * (do_swap_page's swap-in and its readahead's, core/faultfold_swap.ts), each take
   * get_page_from_freelist's first try: the zones from the highest `gfp` allows down, those
   * below their low watermark passed over, the first that passes it takes the page (so the slow
   * path, kswapd's wakeup and reclaim, is not entered). With pcp lists, the running CPU's order-0
   * list of that zone holds n - 1 pages, so the first n - 1 allocations take theirs from it and
   * no zone's free pages (which the watermarks read) change; without them each takes one page
   * off that zone's buddy lists, which stays above its watermark n - 1 pages over it (the zones
   * above it, which it passed over, stay below theirs). Changes nothing.
   */
  order0FastSureN(gfp: number, n: number): boolean {
    const highest = this.gfpZone(gfp);
    const pcp = this.pcp;
    for (let id = highest; id >= 0; id--) {
      const z = this.zones[id];
      if (z.managed === 0) continue;
      const low = z.wmark[Wmark.Low];
      if (!this.watermarkOk(z, 0, low, highest, 0)) continue;
      if (n <= 1) return true;
      return pcp !== null ? pcp.holdsMovable0(id, n - 1) : this.watermarkOk(z, 0, low + n - 1, highest, 0);
    }
    return false;
  }

  /**
   * The allocation the fast path could not make at the low watermark.
   * Linux: mm/page_alloc.c __alloc_pages_slowpath (wake_all_kswapds, the
   * min-watermark retry, __alloc_pages_direct_reclaim, __alloc_pages_may_oom)
   */
  private allocSlowpath(order: number, gfp: number, kind: PageKind, highest: number): number {
    // wake_all_kswapds: wakeup_kswapd once per node (vmlab has one) if a zone it may use is managed
    if (gfp & Gfp.KSWAPD_RECLAIM && this.zones.some((z) => z.id <= highest && z.managed > 0)) {
      this.kswapdWakeups++;
      this.hooks?.wakeKswapd(order, highest);
    }
    let flags = 0;
    if (gfp & Gfp.HIGH) flags |= AllocFlag.MIN_RESERVE;
    if (!(gfp & Gfp.DIRECT_RECLAIM)) flags |= AllocFlag.NON_BLOCK;
    for (let attempt = 0; attempt < 16; attempt++) {
      let pfn = this.fromFreelist(order, highest, Wmark.Min, flags);
      if (pfn >= 0) return this.prep(pfn, order, kind, gfp);
      if (!(gfp & Gfp.DIRECT_RECLAIM) || this.hooks === null) break;
      this.allocStalls++;
      // gfp_zone: __GFP_HIGHMEM | __GFP_MOVABLE is ZONE_MOVABLE, else the zone the allocation starts from
      const movable = (gfp & (Gfp.HIGHMEM | Gfp.MOVABLE)) === (Gfp.HIGHMEM | Gfp.MOVABLE);
      this.allocStallByZone[movable ? 3 : highest]++;
      if (this.hooks.directReclaim(order, gfp) > 0) {
        // __alloc_pages_direct_reclaim: the retry after reclaim, and once more after
        // drain_all_pages when it failed (the pages may sit on per-CPU lists)
        pfn = this.fromFreelist(order, highest, Wmark.Min, flags);
        if (pfn < 0 && this.pcp !== null) {
          this.pcp.drainAllPages();
          pfn = this.fromFreelist(order, highest, Wmark.Min, flags);
        }
        if (pfn >= 0) return this.prep(pfn, order, kind, gfp);
        continue;
      }
      if (order > 3 || gfp & Gfp.NORETRY) break;
      if (!this.hooks.outOfMemory(order, gfp)) break;
    }
    this.failedAllocs++;
    return -1;
  }

  /**
   * get_page_from_freelist: the first zone from `highest` down whose watermark allows
   * it and that has a block (rmqueue: from the running CPU's pcp list for the orders
   * that have one, else from the buddy lists). With pcp lists, a zone found at or
   * below its high watermark is marked ZONE_BELOW_HIGH on the way.
   * Linux: mm/page_alloc.c get_page_from_freelist, rmqueue
   */
  private fromFreelist(order: number, highest: number, which: Wmark, flags: number): number {
    const pcp = this.pcp;
    for (let id = highest; id >= 0; id--) {
      const z = this.zones[id];
      if (z.managed === 0) continue;
      if (pcp === null || z.belowHigh || !this.watermarkOk(z, order, z.wmark[Wmark.High], highest, flags)) {
        if (pcp !== null) z.belowHigh = true;
        if (!this.watermarkOk(z, order, z.wmark[which], highest, flags)) continue;
      }
      let pfn = -1;
      if (pcp !== null && pcpAllowedOrder(order, this.thpOrder)) pfn = pcp.rmqueue(z, order);
      if (pfn < 0) pfn = this.rmqueue(z, order);
      if (pfn >= 0) {
        this.pgalloc[id] += 1 << order;
        return pfn;
      }
    }
    return -1;
  }

  /** __rmqueue_smallest: take the first block of the smallest order that has one; split it (expand). */
  private rmqueue(z: Zone, order: number): number {
    for (let current = order; current <= MAX_ORDER; current++) {
      const pfn = z.head[current];
      if (pfn === -1) continue;
      this.removeFromList(z, pfn, current);
      if (current > order) this.expand(z, pfn, order, current);
      return pfn;
    }
    return -1;
  }

  /**
   * expand: the halves of a block of order `high` split down to `low` go back on their free
   * lists, the block's first 2^low pages kept (at the head of each list, as __add_to_free_list).
   * A function of its own, as in Linux: most allocations split nothing, and the one that does
   * is off the fault path's inlined code.
   * Linux: mm/page_alloc.c expand
   */
  private expand(z: Zone, pfn: number, low: number, high: number): void {
    while (high > low) {
      high--;
      this.addToList(z, pfn + (1 << high), high, false);
    }
  }

  /**
   * prep_new_page of an order-0 page (every user page a fault allocates): what `prep` does for
   * order 0, on the one struct page without the loop. Linux: mm/page_alloc.c prep_new_page
   * (post_alloc_hook: set_page_refcounted)
   */
  private prep0(pfn: number, kind: PageKind): number {
    const p = this.pages;
    p.kind[pfn] = kind;
    p.refcount[pfn] = 1;
    p.flags[pfn] = 0;
    p.mapcount[pfn] = 0;
    p.priv[pfn] = -1;
    p.order[pfn] = 0;
    return pfn;
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
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= p.nrFrames) return "out-of-range";
    if (!Number.isInteger(order) || order < 0 || order > MAX_ORDER) return "wrong-order";
    if (pfn % (1 << order) !== 0) return "misaligned";
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
   * Takes a free block off its list (del_page_from_free_list), for
   * alloc_contig_pages (page_alloc_contig.ts): the caller makes its pages.
   */
  takeFreeBlock(pfn: number, order: number): void {
    this.removeFromList(this.zoneOf(pfn), pfn, order);
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

  /** /proc/buddyinfo lines. */
  buddyinfo(): string[] {
    return this.zones
      .filter((z) => z.managed > 0)
      .map(
        (z) =>
          `Node 0, zone ${z.name.padStart(8)} ${Array.from(z.nrFree, (n) => String(n).padStart(6)).join(" ")} `,
      );
  }

  /**
   * Checks the free lists against struct page: every listed block is a
   * Buddy head of its order, inside its zone, not overlapping another; list
   * links are consistent; counts match. Returns problems (empty when fine).
   */
  check(): string[] {
    const problems: string[] = [];
    const p = this.pages;
    for (const z of this.zones) {
      let free = 0;
      for (let order = 0; order <= MAX_ORDER; order++) {
        let n = 0;
        let prev = -1;
        for (let pfn = z.head[order]; pfn !== -1; pfn = p.next[pfn]) {
          if (p.prev[pfn] !== prev)
            problems.push(`buddy ${z.name} order ${order}: broken back link at pfn ${pfn}`);
          if (!(p.flags[pfn] & PageFlag.Buddy) || p.order[pfn] !== order)
            problems.push(`buddy ${z.name}: pfn ${pfn} listed at order ${order} but not marked so`);
          if (pfn % (1 << order) !== 0)
            problems.push(`buddy ${z.name}: pfn ${pfn} misaligned for order ${order}`);
          if (pfn < z.startPfn || pfn + (1 << order) > z.endPfn)
            problems.push(`buddy ${z.name}: block ${pfn}/${order} outside the zone`);
          for (let i = pfn; i < pfn + (1 << order); i++)
            if (p.kind[i] !== PageKind.Free)
              problems.push(`buddy: pfn ${i} in a free block but kind ${p.kind[i]}`);
          prev = pfn;
          n++;
          if (n > p.nrFrames) {
            problems.push(`buddy ${z.name} order ${order}: list loops`);
            break;
          }
        }
        if (z.tail[order] !== prev)
          problems.push(`buddy ${z.name} order ${order}: tail is ${z.tail[order]}, last is ${prev}`);
        if (n !== z.nrFree[order])
          problems.push(`buddy ${z.name} order ${order}: ${n} blocks listed, nr_free ${z.nrFree[order]}`);
        free += n * (1 << order);
      }
      if (free !== z.freePages)
        problems.push(`buddy ${z.name}: ${free} pages listed, free_pages ${z.freePages}`);
      let freeKind = 0;
      for (let i = z.startPfn; i < z.endPfn; i++) if (p.kind[i] === PageKind.Free) freeKind++;
      const onPcp = this.pcp?.zoneCount(z.id) ?? 0;
      if (freeKind !== z.freePages + onPcp)
        problems.push(
          `buddy ${z.name}: ${freeKind} frames of kind free, free_pages ${z.freePages} + ${onPcp} on pcp lists`,
        );
    }
    if (this.pcp !== null) problems.push(...this.pcp.check());
    return problems;
  }
}
