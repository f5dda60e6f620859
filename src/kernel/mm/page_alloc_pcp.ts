/**
 * The per-CPU page lists of the page allocator (Linux: struct per_cpu_pages,
 * include/linux/mmzone.h; mm/page_alloc.c rmqueue_pcplist, free_unref_page_commit
 * and their helpers). Each populated zone has, for every CPU, NR_PCP_LISTS lists
 * of free pages, indexed by order_to_pindex(migratetype, order): the orders up to
 * PAGE_ALLOC_COSTLY_ORDER (3) and the THP order. A page freed on a CPU goes on
 * the head of its list (hot, LIFO) and is taken first by that CPU's next
 * allocation of that order; an empty list is refilled from the buddy lists with
 * a batch (rmqueue_bulk, nr_pcp_alloc); a list past pcp->high spills its oldest
 * pages back to the buddy lists (free_pcppages_bulk, nr_pcp_free). Pages on
 * these lists are not free pages to NR_FREE_PAGES (MemFree), /proc/buddyinfo or
 * the watermark checks: only the buddy lists are.
 *
 * Lists are threaded through struct page next/prev (page->pcp_list shares
 * page->lru, and so the buddy lists' links, in Linux too), one head and tail
 * per (cpu, pindex) in typed arrays. A page on a pcp list is of kind Free,
 * without PG_buddy (so __free_one_page never merges with it), order -1.
 *
 * A list holds one migrate type's pages (the pcp types: unmovable, movable,
 * reclaimable; the THP order's two lists, movable and not). An allocation takes
 * from its gfp's type's list and refills it with __rmqueue of that type (which may
 * fall back to another type's block); a freed page goes on the list of its
 * pageblock's type (a highatomic block's on the movable list).
 *
 * Not modelled: PCPF_FREE_HIGH_BATCH (set from the CPU's cache size,
 * zone_pcp_update_cacheinfo: vmlab's machines describe no last-level cache, so
 * the flag stays clear), percpu_pagelist_high_fraction (0, the default), CPU
 * hotplug, and the vmstat timer that runs decay_pcp_high every second (vmlab
 * has no clock: `refreshCpuVmStats` is its body, called on request).
 */
import { MIGRATE_PCPTYPES, MigrateType } from "./migratetype.ts";
import type { PageDescTable } from "./PageDesc.ts";
import { PageKind } from "./PageDesc.ts";

/** PAGE_ALLOC_COSTLY_ORDER (include/linux/mmzone.h) */
export const PAGE_ALLOC_COSTLY_ORDER = 3;
/** NR_LOWORDER_PCP_LISTS = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1) */
const NR_LOWORDER_PCP_LISTS = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1);
/** NR_PCP_LISTS with CONFIG_TRANSPARENT_HUGEPAGE: two THP lists (movable and not) */
export const NR_PCP_LISTS = NR_LOWORDER_PCP_LISTS + 2;
/** CONFIG_PCP_BATCH_SCALE_MAX (mm/Kconfig default) */
export const PCP_BATCH_SCALE_MAX = 5;
/** MIN_PERCPU_PAGELIST_HIGH_FRACTION (mm/page_alloc.c) */
const MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8;

/** pcp->flags (mm/page_alloc.c PCPF_*) */
export const enum Pcpf {
  /** the last free on this pcp was of an order 1..PAGE_ALLOC_COSTLY_ORDER */
  PREV_FREE_HIGH_ORDER = 1 << 0,
  /** the CPU's cache slice holds more than 3 batches (zone_pcp_update_cacheinfo); never set here */
  FREE_HIGH_BATCH = 1 << 1,
}

/** The zone as the pcp code reads it (struct zone: managed pages, low watermark, ZONE_BELOW_HIGH, ZONE_RECLAIM_ACTIVE). */
export interface PcpZone {
  readonly id: number;
  managed: number;
  readonly wmark: number[];
  /** ZONE_BELOW_HIGH: an allocation found the zone's free pages at or below the high watermark */
  belowHigh: boolean;
  /** ZONE_RECLAIM_ACTIVE: kswapd is balancing the node (set_reclaim_active) */
  reclaimActive: boolean;
}

/** What the pcp lists call in the buddy allocator (the zone lock's side). */
export interface PcpBuddy {
  readonly pages: PageDescTable;
  /** __rmqueue: a block of 2^order of migrate type `mt` (or a fallback's) off the buddy lists, or -1 */
  rmqueueMt(z: PcpZone, order: number, mt: number, allocFlags: number): number;
  /** up to `max` order-0 __rmqueue calls at once: the first pfn of a run of `runLen` pages, or -1 */
  rmqueueRun0(z: PcpZone, max: number, mt: number, allocFlags: number): number;
  readonly runLen: number;
  /** pageblock_order, and each pageblock's migrate type (get_pfnblock_migratetype) */
  readonly pbOrder: number;
  readonly blockMt: Uint8Array;
  /** __free_one_page(page, pfn, zone, order, mt, FPI_NONE), `z` the pcp's zone (every page on its lists is the zone's) */
  freeOneBuddy(pfn: number, order: number, z: PcpZone): void;
  /** zone_watermark_ok(zone, 0, high_wmark_pages(zone), ZONE_MOVABLE, 0) */
  aboveHighWmark(z: PcpZone): boolean;
}

/** pcp_allowed_order: the orders that go through the pcp lists. Linux: mm/page_alloc.c */
export function pcpAllowedOrder(order: number, thpOrder: number): boolean {
  return order <= PAGE_ALLOC_COSTLY_ORDER || order === thpOrder;
}

/** order_to_pindex(migratetype, order). Linux: mm/page_alloc.c */
export function orderToPindex(migratetype: number, order: number): number {
  if (order > PAGE_ALLOC_COSTLY_ORDER)
    return NR_LOWORDER_PCP_LISTS + (migratetype === MigrateType.MOVABLE ? 1 : 0);
  return MIGRATE_PCPTYPES * order + migratetype;
}

/** pindex_to_order. Linux: mm/page_alloc.c */
function pindexToOrder(pindex: number, thpOrder: number): number {
  return pindex >= NR_LOWORDER_PCP_LISTS ? thpOrder : (pindex / MIGRATE_PCPTYPES) | 0;
}

/** rounddown_pow_of_two */
function rounddownPow2(n: number): number {
  return n <= 0 ? 0 : 2 ** (31 - Math.clz32(n));
}

/**
 * zone_batchsize: ~0.1% of the zone or 1 MiB, whichever is smaller, divided by 4
 * and clamped to 2^n - 1. Linux: mm/page_alloc.c zone_batchsize (CONFIG_MMU)
 */
export function zoneBatchsize(managed: number): number {
  let batch = Math.min(Math.floor(managed / 1024), 1048576 / 4096);
  batch = Math.floor(batch / 4);
  if (batch < 1) batch = 1;
  return rounddownPow2(batch + Math.floor(batch / 2)) - 1;
}

/**
 * zone_highsize: the low watermark (high_fraction 0) or managed / high_fraction,
 * split over the CPUs of the zone's node (cpu_online: a CPU coming up, not yet in
 * the mask), at least 4 batches. Linux: mm/page_alloc.c zone_highsize
 */
export function zoneHighsize(
  managed: number,
  lowWmark: number,
  batch: number,
  nrCpus: number,
  cpuOnline: number,
  highFraction: number,
): number {
  const total = highFraction === 0 ? lowWmark : Math.floor(managed / highFraction);
  const nrSplitCpus = nrCpus + cpuOnline;
  const high = Math.floor(total / nrSplitCpus);
  return Math.max(high, batch << 2);
}

/**
 * One zone's per-CPU pagesets (zone->per_cpu_pageset): struct per_cpu_pages of
 * every CPU, as typed arrays indexed by CPU (lists by cpu * NR_PCP_LISTS + pindex).
 * Linux: include/linux/mmzone.h struct per_cpu_pages; mm/page_alloc.c
 */
export class PerCpuPages {
  /** head and tail pfn of each (cpu, pindex) list, -1 = empty */
  readonly head: Int32Array;
  readonly tail: Int32Array;
  /** pcp->count: pages on the CPU's lists */
  readonly count: Int32Array;
  /** pcp->high: the count at which a free spills (tuned between high_min and high_max) */
  readonly high: Int32Array;
  readonly highMin: Int32Array;
  readonly highMax: Int32Array;
  /** pcp->batch: the chunk of a refill and of a spill */
  readonly batch: Int32Array;
  /** pcp->flags (Pcpf) */
  readonly flags: Uint8Array;
  /** pcp->alloc_factor: refills double (<< alloc_factor) while allocations run without frees */
  readonly allocFactor: Int32Array;
  /** pcp->free_count: pages freed lately without allocations between (sizes the spill) */
  readonly freeCount: Int32Array;

  constructor(readonly nrCpus: number) {
    this.head = new Int32Array(nrCpus * NR_PCP_LISTS).fill(-1);
    this.tail = new Int32Array(nrCpus * NR_PCP_LISTS).fill(-1);
    this.count = new Int32Array(nrCpus);
    this.high = new Int32Array(nrCpus);
    // per_cpu_pages_init: the boot pageset's values (BOOT_PAGESET_HIGH 0, BOOT_PAGESET_BATCH 1)
    this.highMin = new Int32Array(nrCpus);
    this.highMax = new Int32Array(nrCpus);
    this.batch = new Int32Array(nrCpus).fill(1);
    this.flags = new Uint8Array(nrCpus);
    this.allocFactor = new Int32Array(nrCpus);
    this.freeCount = new Int32Array(nrCpus);
  }
}

/**
 * The pcp lists of every populated zone, and the allocator's paths through them.
 * Linux: mm/page_alloc.c (setup_zone_pageset, rmqueue_pcplist, free_unref_page,
 * drain_pages_zone, drain_all_pages, decay_pcp_high)
 */
export class PcpLists {
  /** by zone id; null for an unpopulated zone (it keeps the boot pageset: no lists) */
  readonly sets: (PerCpuPages | null)[];
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly order: Int8Array;
  /** the zones by id (the zone of a pcp set's pages) */
  private readonly zoneById: PcpZone[] = [];

  constructor(
    private readonly buddy: PcpBuddy,
    zones: readonly PcpZone[],
    readonly nrCpus: number,
    /** HPAGE_PMD_ORDER: the one order above PAGE_ALLOC_COSTLY_ORDER with lists */
    readonly thpOrder: number,
    /** smp_processor_id(): the CPU the kernel runs on */
    private readonly runningCpu: () => number,
  ) {
    const p = buddy.pages;
    this.next = p.next;
    this.prev = p.prev;
    this.order = p.order;
    this.sets = zones.map((z) => (z.managed > 0 ? new PerCpuPages(nrCpus) : null));
    for (const z of zones) this.zoneById[z.id] = z;
    for (const z of zones) this.zoneUpdate(z, 0);
  }

  /** The running CPU (0 when out of range). */
  cpu(): number {
    const c = this.runningCpu();
    return c >= 0 && c < this.nrCpus ? c : 0;
  }

  /**
   * zone_set_pageset_high_and_batch (setup_zone_pageset, zone_pcp_update: at boot and
   * whenever the watermarks change): batch and high_min/high_max of every CPU's pageset.
   * Linux: mm/page_alloc.c zone_set_pageset_high_and_batch
   */
  zoneUpdate(z: PcpZone, cpuOnline: number): void {
    const pcp = this.sets[z.id];
    if (pcp === null) return;
    const batch = Math.max(1, zoneBatchsize(z.managed));
    const low = z.wmark[1];
    const highMin = zoneHighsize(z.managed, low, batch, this.nrCpus, cpuOnline, 0);
    const highMax = zoneHighsize(
      z.managed,
      low,
      batch,
      this.nrCpus,
      cpuOnline,
      MIN_PERCPU_PAGELIST_HIGH_FRACTION,
    );
    pcp.batch.fill(batch);
    pcp.highMin.fill(highMin);
    pcp.highMax.fill(highMax);
  }

  /** Pages on every CPU's lists of the zone. */
  zoneCount(zoneId: number): number {
    const pcp = this.sets[zoneId];
    if (pcp === null) return 0;
    let n = 0;
    for (let c = 0; c < this.nrCpus; c++) n += pcp.count[c];
    return n;
  }

  /** Pages on every pcp list. */
  total(): number {
    let n = 0;
    for (let id = 0; id < this.sets.length; id++) n += this.zoneCount(id);
    return n;
  }

  // ---- allocation ----

  /**
   * Whether the running CPU's list of order-0 pages of migrate type `mt` of zone `id` holds `n`
   * pages or more (reads only): that many order-0 allocations in a row take theirs off it, no
   * rmqueue_bulk (and so no change to the zone's free pages) among them. For Buddy.order0FastSure(N).
   */
  holds0(id: number, mt: number, n: number): boolean {
    const pcp = this.sets[id];
    if (pcp === null || pcp === undefined) return false;
    let pfn = pcp.head[this.cpu() * NR_PCP_LISTS + orderToPindex(mt, 0)];
    const next = this.next;
    for (let i = 0; i < n; i++) {
      if (pfn === -1) return false;
      pfn = next[pfn];
    }
    return true;
  }

  /**
   * rmqueue_pcplist and __rmqueue_pcplist: the first page of the running CPU's list
   * for this order, the list refilled from the buddy lists first when empty. Returns
   * the pfn, or -1 when the buddy lists had nothing either.
   * Linux: mm/page_alloc.c rmqueue_pcplist, __rmqueue_pcplist
   */
  rmqueue(z: PcpZone, order: number, mt: number, allocFlags: number): number {
    const pcp = this.sets[z.id]!;
    const cpu = this.cpu();
    pcp.freeCount[cpu] >>= 1;
    const li = cpu * NR_PCP_LISTS + orderToPindex(mt, order);
    let pfn = pcp.head[li];
    if (pfn === -1) {
      const batch = this.nrPcpAlloc(pcp, cpu, z, order);
      pcp.count[cpu] += this.rmqueueBulk(z, order, batch, pcp, li, mt, allocFlags) << order;
      pfn = pcp.head[li];
      if (pfn === -1) return -1;
    }
    const next = this.next[pfn];
    pcp.head[li] = next;
    if (next === -1) pcp.tail[li] = -1;
    else this.prev[next] = -1;
    this.next[pfn] = -1;
    pcp.count[cpu] -= 1 << order;
    return pfn;
  }

  /**
   * Up to `max` order-0 rmqueue calls (above) one after the other, their pfns into out[at..]:
   * the pages off the head of the running CPU's movable order-0 list in list order, each
   * allocation's `free_count >>= 1` and count; an empty list is refilled (nr_pcp_alloc,
   * rmqueue_bulk) only as the first allocation of a call, which then ends after that page
   * (the refill moved free pages off the buddy lists, so the caller's watermark checks before
   * the next allocation read another NR_FREE_PAGES). Returns the pages taken (0: the buddy
   * lists had none either). For a batch of demand-zero faults (BuddyAllocator.allocRun0).
   * Linux: mm/page_alloc.c rmqueue_pcplist, __rmqueue_pcplist (per call, in the same order)
   */
  rmqueueRun0(
    z: PcpZone,
    out: Float64Array,
    at: number,
    max: number,
    mt: number,
    allocFlags: number,
  ): number {
    const pcp = this.sets[z.id]!;
    const cpu = this.cpu();
    const li = cpu * NR_PCP_LISTS + orderToPindex(mt, 0);
    const next = this.next;
    let pfn = pcp.head[li];
    let end = max;
    const refill = pfn === -1;
    if (refill) {
      pcp.freeCount[cpu] >>= 1; // the refilling call's own, as rmqueue makes it
      const batch = this.nrPcpAlloc(pcp, cpu, z, 0);
      pcp.count[cpu] += this.rmqueueBulk(z, 0, batch, pcp, li, mt, allocFlags);
      pfn = pcp.head[li];
      if (pfn === -1) return 0;
      end = 1;
    }
    let k = 0;
    const prev = this.prev;
    while (k < end && pfn !== -1) {
      out[at + k++] = pfn;
      prev[pfn] = -1; // as it was when it became the list's head
      const n = next[pfn];
      next[pfn] = -1;
      pfn = n;
    }
    if (!refill) {
      // each call's free_count >>= 1 (31 halvings or more leave 0, or -1)
      let fc = pcp.freeCount[cpu];
      for (let j = 0; j < k && fc !== 0 && fc !== -1; j++) fc >>= 1;
      pcp.freeCount[cpu] = fc;
    }
    pcp.head[li] = pfn;
    if (pfn === -1) pcp.tail[li] = -1;
    else this.prev[pfn] = -1;
    pcp.count[cpu] -= k;
    return k;
  }

  /**
   * nr_pcp_alloc: how many blocks a refill takes: batch, doubled (alloc_factor) while
   * allocations come without frees, bounded by what high leaves room for; high grows
   * by the batch unless the zone is below its high watermark.
   * Linux: mm/page_alloc.c nr_pcp_alloc
   */
  /**
   * How many order-0 pages the running CPU's refill of zone `id` would take (nr_pcp_alloc's batch)
   * once its lists hold `taken` fewer pages than now (reads only). For the fast path's forecasts:
   * a refill whose pages are all on the buddy's lists of the request's type needs no fallback.
   */
  refillCount0(id: number, z: PcpZone, taken: number): number {
    const pcp = this.sets[id];
    if (pcp === null || pcp === undefined) return 1;
    const cpu = this.cpu();
    const baseBatch = pcp.batch[cpu];
    const highMin = pcp.highMin[cpu];
    const highMax = pcp.highMax[cpu];
    let high = Math.min(Math.max(pcp.high[cpu], highMin), highMax);
    if (high < baseBatch) return 1;
    const batch = baseBatch << pcp.allocFactor[cpu];
    if (highMin !== highMax && !z.belowHigh) high = Math.min(high + batch, highMax);
    const n = Math.min(batch, Math.max(high - (pcp.count[cpu] - taken) - baseBatch, baseBatch));
    return n > 1 ? Math.max(n, 2) : n;
  }

  private nrPcpAlloc(pcp: PerCpuPages, cpu: number, z: PcpZone, order: number): number {
    const baseBatch = pcp.batch[cpu];
    const highMin = pcp.highMin[cpu];
    const highMax = pcp.highMax[cpu];
    let high = Math.min(Math.max(pcp.high[cpu], highMin), highMax);
    pcp.high[cpu] = high;
    // PCP disabled or the boot pageset
    if (high < baseBatch) return 1;
    let batch = order ? baseBatch : baseBatch << pcp.allocFactor[cpu];
    if (highMin !== highMax && !z.belowHigh) {
      high = Math.min(high + batch, highMax);
      pcp.high[cpu] = high;
    }
    if (!order) {
      const maxNrAlloc = Math.max(high - pcp.count[cpu] - baseBatch, baseBatch);
      if (batch <= maxNrAlloc && pcp.allocFactor[cpu] < PCP_BATCH_SCALE_MAX) pcp.allocFactor[cpu]++;
      batch = Math.min(batch, maxNrAlloc);
    }
    if (batch > 1) batch = Math.max(batch >> order, 2);
    return batch;
  }

  /**
   * rmqueue_bulk: `count` blocks off the buddy lists, each added at the list's tail
   * (so the list runs in the order the buddy handed them out). Returns how many.
   * Linux: mm/page_alloc.c rmqueue_bulk
   */
  private rmqueueBulk(
    z: PcpZone,
    order: number,
    count: number,
    pcp: PerCpuPages,
    li: number,
    mt: number,
    allocFlags: number,
  ): number {
    const next = this.next;
    const prev = this.prev;
    let i = 0;
    if (order === 0) {
      // runs of pages in the order __rmqueue_smallest hands them out (BuddyAllocator.rmqueueRun0)
      while (i < count) {
        const first = this.buddy.rmqueueRun0(z, count - i, mt, allocFlags);
        if (first < 0) break;
        const n = this.buddy.runLen;
        let t = pcp.tail[li];
        for (let pfn = first; pfn < first + n; pfn++) {
          this.order[pfn] = -1;
          next[pfn] = -1;
          prev[pfn] = t;
          if (t === -1) pcp.head[li] = pfn;
          else next[t] = pfn;
          t = pfn;
        }
        pcp.tail[li] = t;
        i += n;
      }
      return i;
    }
    for (; i < count; i++) {
      const pfn = this.buddy.rmqueueMt(z, order, mt, allocFlags);
      if (pfn < 0) break;
      const t = pcp.tail[li];
      next[pfn] = -1;
      prev[pfn] = t;
      if (t === -1) pcp.head[li] = pfn;
      else next[t] = pfn;
      pcp.tail[li] = pfn;
    }
    return i;
  }

  // ---- free ----

  /**
   * free_unref_page_commit: the freed block (its struct pages already reset, kind
   * Free) goes on the head of the running CPU's list; when the count reaches what
   * nr_pcp_high allows, nr_pcp_free blocks go back to the buddy lists
   * (free_pcppages_bulk), and a zone back above its high watermark drops
   * ZONE_BELOW_HIGH. Linux: mm/page_alloc.c free_unref_page, free_unref_page_commit
   */
  free(z: PcpZone, pfn: number, order: number): void {
    const pcp = this.sets[z.id]!;
    const cpu = this.cpu();
    pcp.allocFactor[cpu] >>= 1;
    // free_unref_page: the list of the pageblock's type; a highatomic (or CMA) block's page on the movable one
    let mt = this.buddy.blockMt[pfn >> this.buddy.pbOrder];
    if (mt >= MIGRATE_PCPTYPES) mt = MigrateType.MOVABLE;
    const pindex = orderToPindex(mt, order);
    const li = cpu * NR_PCP_LISTS + pindex;
    const h = pcp.head[li];
    this.next[pfn] = h;
    this.prev[pfn] = -1;
    if (h === -1) pcp.tail[li] = pfn;
    else this.prev[h] = pfn;
    pcp.head[li] = pfn;
    pcp.count[cpu] += 1 << order;
    const batch = pcp.batch[cpu];
    let freeHigh = false;
    const flags = pcp.flags[cpu];
    if (order && order <= PAGE_ALLOC_COSTLY_ORDER) {
      freeHigh =
        pcp.freeCount[cpu] >= batch &&
        (flags & Pcpf.PREV_FREE_HIGH_ORDER) !== 0 &&
        ((flags & Pcpf.FREE_HIGH_BATCH) === 0 || pcp.count[cpu] >= batch);
      pcp.flags[cpu] = flags | Pcpf.PREV_FREE_HIGH_ORDER;
    } else if (flags & Pcpf.PREV_FREE_HIGH_ORDER) {
      pcp.flags[cpu] = flags & ~Pcpf.PREV_FREE_HIGH_ORDER;
    }
    if (pcp.freeCount[cpu] < batch << PCP_BATCH_SCALE_MAX) pcp.freeCount[cpu] += 1 << order;
    const high = this.nrPcpHigh(pcp, cpu, z, batch, freeHigh);
    if (pcp.count[cpu] >= high) {
      this.freePcppagesBulk(z, pcp, cpu, this.nrPcpFree(pcp, cpu, batch, high, freeHigh), pindex);
      if (z.belowHigh && this.buddy.aboveHighWmark(z)) z.belowHigh = false;
    }
  }

  /**
   * nr_pcp_high: the count at which this free spills; tunes pcp->high on the way
   * (down while kswapd reclaims or the zone is below its high watermark, up to
   * hold a batch of frees otherwise). Linux: mm/page_alloc.c nr_pcp_high
   */
  private nrPcpHigh(pcp: PerCpuPages, cpu: number, z: PcpZone, batch: number, freeHigh: boolean): number {
    const highMin = pcp.highMin[cpu];
    const highMax = pcp.highMax[cpu];
    let high = Math.min(Math.max(pcp.high[cpu], highMin), highMax);
    pcp.high[cpu] = high;
    if (!high) return 0;
    if (freeHigh) {
      pcp.high[cpu] = Math.max(high - (batch << PCP_BATCH_SCALE_MAX), highMin);
      return 0;
    }
    if (z.reclaimActive) {
      const freeCount = Math.max(pcp.freeCount[cpu], batch);
      pcp.high[cpu] = Math.max(high - freeCount, highMin);
      return Math.min(batch << 2, pcp.high[cpu]);
    }
    if (highMin === highMax) return high;
    if (z.belowHigh) {
      const freeCount = Math.max(pcp.freeCount[cpu], batch);
      pcp.high[cpu] = Math.max(high - freeCount, highMin);
      high = Math.max(pcp.count[cpu], highMin);
    } else if (pcp.count[cpu] >= high) {
      const needHigh = pcp.freeCount[cpu] + batch;
      if (pcp.high[cpu] < needHigh) pcp.high[cpu] = Math.min(Math.max(needHigh, highMin), highMax);
    }
    return high;
  }

  /**
   * nr_pcp_free: how many pages a spill returns: at least a batch, more after a run
   * of frees (free_count), leaving a batch on the lists. Linux: mm/page_alloc.c nr_pcp_free
   */
  private nrPcpFree(pcp: PerCpuPages, cpu: number, batch: number, high: number, freeHigh: boolean): number {
    if (freeHigh) return Math.min(pcp.count[cpu], batch << PCP_BATCH_SCALE_MAX);
    if (high < batch) return 1;
    const minNrFree = batch;
    const maxNrFree = high - batch;
    return Math.max(minNrFree, Math.min(pcp.freeCount[cpu], maxNrFree));
  }

  /**
   * free_pcppages_bulk: `count` pages back to the buddy lists, the lists taken round
   * robin starting with `pindex`, each from its tail (the coldest page first).
   * Linux: mm/page_alloc.c free_pcppages_bulk
   */
  private freePcppagesBulk(z: PcpZone, pcp: PerCpuPages, cpu: number, count: number, pindex: number): void {
    count = Math.min(pcp.count[cpu], count);
    pindex--;
    const base = cpu * NR_PCP_LISTS;
    while (count > 0) {
      let li: number;
      do {
        if (++pindex > NR_PCP_LISTS - 1) pindex = 0;
        li = base + pindex;
      } while (pcp.head[li] === -1);
      const order = pindexToOrder(pindex, this.thpOrder);
      const nrPages = 1 << order;
      do {
        const pfn = pcp.tail[li];
        const prev = this.prev[pfn];
        pcp.tail[li] = prev;
        if (prev === -1) pcp.head[li] = -1;
        else this.next[prev] = -1;
        this.prev[pfn] = -1;
        count -= nrPages;
        pcp.count[cpu] -= nrPages;
        this.order[pfn] = -1;
        this.buddy.freeOneBuddy(pfn, order, z);
      } while (count > 0 && pcp.head[li] !== -1);
    }
  }

  // ---- draining ----

  /**
   * drain_pages_zone: every page of one CPU's lists of the zone back to the buddy
   * lists, batch << CONFIG_PCP_BATCH_SCALE_MAX at a time. Linux: mm/page_alloc.c drain_pages_zone
   */
  drainPagesZone(cpu: number, zoneId: number): void {
    const pcp = this.sets[zoneId];
    if (pcp === null) return;
    let count: number;
    do {
      count = pcp.count[cpu];
      if (count) {
        const toDrain = Math.min(count, pcp.batch[cpu] << PCP_BATCH_SCALE_MAX);
        this.freePcppagesBulk(this.zoneById[zoneId], pcp, cpu, toDrain, 0);
        count -= toDrain;
      }
    } while (count);
  }

  /** drain_local_pages(NULL): the running CPU's lists of every zone. Linux: mm/page_alloc.c drain_local_pages */
  drainLocalPages(): void {
    const cpu = this.cpu();
    for (let id = 0; id < this.sets.length; id++) this.drainPagesZone(cpu, id);
  }

  /** drain_all_pages(NULL): every CPU's lists of every zone. Linux: mm/page_alloc.c __drain_all_pages */
  drainAllPages(): void {
    for (let cpu = 0; cpu < this.nrCpus; cpu++)
      for (let id = 0; id < this.sets.length; id++) if (this.zoneCount(id) > 0) this.drainPagesZone(cpu, id);
  }

  /**
   * decay_pcp_high: high steps down an eighth towards high_min (at most to count minus
   * batch << CONFIG_PCP_BATCH_SCALE_MAX), and pages above the new high go back to the
   * buddy lists. Returns whether more is to do. Linux: mm/page_alloc.c decay_pcp_high
   */
  decayPcpHigh(zoneId: number, cpu: number): number {
    const pcp = this.sets[zoneId];
    if (pcp === null) return 0;
    let todo = 0;
    const highMin = pcp.highMin[cpu];
    const batch = pcp.batch[cpu];
    if (pcp.high[cpu] > highMin) {
      const h = pcp.high[cpu];
      pcp.high[cpu] = Math.max(pcp.count[cpu] - (batch << PCP_BATCH_SCALE_MAX), h - (h >> 3), highMin);
      if (pcp.high[cpu] > highMin) todo++;
    }
    const toDrain = pcp.count[cpu] - pcp.high[cpu];
    if (toDrain > 0) {
      this.freePcppagesBulk(this.zoneById[zoneId], pcp, cpu, toDrain, 0);
      todo++;
    }
    return todo;
  }

  /**
   * refresh_cpu_vm_stats(true)'s pcp part, on one CPU: decay_pcp_high of each zone
   * (the vmstat_update work, every sysctl_stat_interval on Linux). Linux: mm/vmstat.c refresh_cpu_vm_stats
   */
  refreshCpuVmStats(cpu: number): number {
    let todo = 0;
    for (let id = 0; id < this.sets.length; id++) todo += this.decayPcpHigh(id, cpu);
    return todo;
  }

  /** Problems with the lists (empty when fine): links, counts, and each page free and off the buddy lists. */
  check(): string[] {
    const problems: string[] = [];
    const p = this.buddy.pages;
    for (let id = 0; id < this.sets.length; id++) {
      const pcp = this.sets[id];
      if (pcp === null) continue;
      for (let cpu = 0; cpu < this.nrCpus; cpu++) {
        let pages = 0;
        for (let pindex = 0; pindex < NR_PCP_LISTS; pindex++) {
          const li = cpu * NR_PCP_LISTS + pindex;
          const order = pindexToOrder(pindex, this.thpOrder);
          let prev = -1;
          let n = 0;
          for (let pfn = pcp.head[li]; pfn !== -1; pfn = p.next[pfn]) {
            if (p.prev[pfn] !== prev)
              problems.push(`pcp zone ${id} cpu ${cpu} list ${pindex}: broken back link at ${pfn}`);
            if (p.zone[pfn] !== id)
              problems.push(`pcp zone ${id} cpu ${cpu}: pfn ${pfn} of zone ${p.zone[pfn]}`);
            for (let i = pfn; i < pfn + (1 << order); i++)
              if (p.kind[i] !== PageKind.Free)
                problems.push(`pcp: pfn ${i} on a pcp list but kind ${p.kind[i]}`);
            if (p.flags[pfn] !== 0) problems.push(`pcp: pfn ${pfn} on a pcp list with flags ${p.flags[pfn]}`);
            prev = pfn;
            pages += 1 << order;
            if (++n > p.nrFrames) {
              problems.push(`pcp zone ${id} cpu ${cpu} list ${pindex}: loops`);
              break;
            }
          }
          if (pcp.tail[li] !== prev)
            problems.push(`pcp zone ${id} cpu ${cpu} list ${pindex}: tail ${pcp.tail[li]}, last ${prev}`);
        }
        if (pages !== pcp.count[cpu])
          problems.push(`pcp zone ${id} cpu ${cpu}: ${pages} pages listed, count ${pcp.count[cpu]}`);
      }
    }
    return problems;
  }
}
