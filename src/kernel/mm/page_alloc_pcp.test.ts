/**
 * The per-CPU page lists (page_alloc_pcp.ts) on a bare allocator: each rule of
 * mm/page_alloc.c they follow, with the figures computed from Linux's formulas.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { BuddyAllocator, Wmark } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { PageDescTable, PageFlag, PageKind } from "./PageDesc.ts";
import { AllocFlag } from "./page_alloc_fallback.ts";
import { NR_PCP_LISTS, orderToPindex, zoneBatchsize, zoneHighsize } from "./page_alloc_pcp.ts";

/** 1 GiB, two CPUs, THP order 9: DMA and DMA32 populated. `cpu.now` is the running CPU. */
function fresh(frames = 262144, nrCpus = 2) {
  const pages = new PageDescTable(frames);
  const b = new BuddyAllocator(pages, frames);
  b.freeBootRange(256, frames);
  b.setupWatermarks();
  const cpu = { now: 0 };
  b.setupPerCpuPageset(nrCpus, 9, () => cpu.now);
  const z = b.zones[1];
  const pcp = b.pcp!.sets[1]!;
  return { pages, b, cpu, z, pcp };
}

const user = (b: BuddyAllocator) => b.alloc(0, Gfp.HIGHUSER, PageKind.UserAnon);

describe("per-CPU page lists", () => {
  it("sizes batch and high as zone_batchsize and zone_highsize do", () => {
    const { b, z, pcp } = fresh();
    // 0.1% of the zone or 1 MiB, / 4, clamped to 2^n - 1
    const raw = Math.floor(Math.min(Math.floor(z.managed / 1024), 256) / 4);
    expect(zoneBatchsize(z.managed)).toBe(2 ** Math.floor(Math.log2(raw + Math.floor(raw / 2))) - 1);
    expect(pcp.batch[0]).toBe(zoneBatchsize(z.managed));
    // high_min: the low watermark over the CPUs; high_max: an eighth of the zone over the CPUs
    expect(pcp.highMin[1]).toBe(Math.max(Math.floor(z.wmark[Wmark.Low] / 2), pcp.batch[0] * 4));
    expect(pcp.highMax[1]).toBe(Math.floor(z.managed / 8 / 2));
    expect(zoneHighsize(1000, 100, 63, 2, 0, 0)).toBe(252); // at least 4 batches
    // a small zone: batch 1 (DMA, 15 MiB)
    expect(b.pcp!.sets[0]!.batch[0]).toBe(1);
    // no pageset has been used: high is still 0 (per_cpu_pages_init)
    expect(Array.from(pcp.high)).toEqual([0, 0]);
    expect(orderToPindex(1, 0)).toBe(1);
    expect(orderToPindex(1, 9)).toBe(NR_PCP_LISTS - 1);
  });

  it("takes a batch off the buddy lists at the first allocation on a CPU: MemFree drops by the batch", () => {
    const { b, z, pcp } = fresh();
    const before = b.freePages();
    const a = user(b);
    const batch = pcp.batch[0];
    expect(a).toBeGreaterThanOrEqual(0);
    expect(before - b.freePages()).toBe(batch);
    expect(pcp.count[0]).toBe(batch - 1);
    expect(pcp.high[0]).toBe(pcp.highMin[0] + batch); // nr_pcp_alloc grows high by a batch
    // the next batch - 1 allocations come off the list: MemFree does not move
    const mid = b.freePages();
    const got = [a];
    for (let i = 1; i < batch; i++) got.push(user(b));
    expect(b.freePages()).toBe(mid);
    expect(pcp.count[0]).toBe(0);
    // the list runs in the order the buddy handed the pages out: ascending pfns
    expect(got).toEqual(got.map((_, i) => a + i));
    // the refill after that doubles (alloc_factor 1)
    user(b);
    expect(mid - b.freePages()).toBe(2 * batch);
    expect(b.pgalloc[1]).toBe(batch + 1);
    expect(z.freePages).toBe(b.freePages() - b.zones[0].freePages);
    expect(b.check()).toEqual([]);
  });

  it("hands a freed page to the same CPU's next allocation (LIFO, hot), without MemFree rising", () => {
    const { b, pcp } = fresh();
    const a = user(b);
    const c = user(b);
    const free0 = b.freePages();
    expect(b.free(a, 0)).toBeNull();
    expect(b.freePages()).toBe(free0);
    expect(b.pgfree).toBeGreaterThan(0);
    expect(b.pages.flags[a] & PageFlag.Buddy).toBe(0); // on a pcp list, not the buddy's
    expect(b.free(c, 0)).toBeNull();
    expect(user(b)).toBe(c);
    expect(user(b)).toBe(a);
    expect(pcp.count[0]).toBe(pcp.batch[0] - 2);
    // a double free of a page on a pcp list is caught
    expect(b.free(c, 0)).toBeNull();
    expect(b.free(c, 0)).toBe("not-allocated");
    expect(b.check()).toEqual([]);
  });

  it("spills the oldest pages to the buddy lists when the count reaches high", () => {
    const { b, pcp } = fresh(32768); // 128 MiB: free_count, and so high, stays small
    const held: number[] = [];
    for (let i = 0; i < 2000; i++) held.push(user(b));
    // frees fill CPU 0's list; nr_pcp_high grows high to hold a batch of frees, up to high_max
    let spilled = -1;
    for (let i = 0; i < held.length; i++) {
      const countBefore = pcp.count[0];
      const freeBefore = b.freePages();
      b.free(held[i], 0);
      if (b.freePages() > freeBefore) {
        spilled = i;
        // free_pcppages_bulk returned nr_pcp_free pages: between batch and high - batch
        const n = b.freePages() - freeBefore;
        expect(countBefore + 1 - pcp.count[0]).toBe(n);
        expect(n).toBeGreaterThanOrEqual(pcp.batch[0]);
        expect(pcp.count[0]).toBeGreaterThanOrEqual(pcp.batch[0]);
        break;
      }
    }
    expect(spilled).toBeGreaterThan(0);
    expect(spilled + 1).toBeGreaterThanOrEqual(pcp.highMin[0] - pcp.batch[0]);
    // the oldest (first freed) went back to the buddy lists; the newest is still on the list
    expect(b.pages.kind[held[0]]).toBe(PageKind.Free);
    expect(b.pcp!.sets[1]!.head[orderToPindex(1, 0)]).toBe(held[spilled]);
    expect(b.check()).toEqual([]);
  });

  it("keeps each CPU's lists apart: a page freed on CPU 1 is reused on CPU 1, not CPU 0", () => {
    const { b, cpu, pcp } = fresh();
    const a = user(b);
    cpu.now = 1;
    const free0 = b.freePages();
    b.free(a, 0);
    expect(pcp.count[1]).toBe(1);
    expect(b.freePages()).toBe(free0);
    cpu.now = 0;
    const c = user(b);
    expect(c).not.toBe(a);
    cpu.now = 1;
    expect(user(b)).toBe(a); // CPU 1's list: the one page, no refill
    expect(b.freePages()).toBe(free0);
    expect(pcp.count[1]).toBe(0);
    // CPU 1's first refill then takes its own batch
    user(b);
    expect(free0 - b.freePages()).toBe(pcp.batch[1]);
    expect(b.check()).toEqual([]);
  });

  it("drains every CPU's lists when the allocation after direct reclaim fails, then succeeds", () => {
    const { b, cpu } = fresh(32768); // 128 MiB
    // CPU 1 takes everything an allocation that may not reclaim can have; its refills
    // (rmqueue_bulk, which checks no watermark) leave pages on its lists
    cpu.now = 1;
    const held: number[] = [];
    for (;;) {
      const p = b.alloc(0, Gfp.NOWAIT, PageKind.UserAnon);
      if (p < 0) break;
      held.push(p);
    }
    const onCpu1 = b.pcp!.sets[1]!.count[1] + b.pcp!.sets[0]!.count[1];
    expect(onCpu1).toBeGreaterThan(0);
    let reclaims = 0;
    b.hooks = {
      wakeKswapd: () => {},
      // "reclaim" frees 4 pages on CPU 0: onto its (short) lists, the buddy lists stay under the watermark
      directReclaim: () => {
        reclaims++;
        for (let i = 0; i < 4; i++) b.free(held.pop()!, 0);
        return 4;
      },
      outOfMemory: () => false,
    };
    cpu.now = 0;
    const free = b.freePages();
    const p = b.alloc(0, Gfp.HIGHUSER, PageKind.UserAnon);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(reclaims).toBe(1);
    expect(b.allocStalls).toBe(1);
    // drain_all_pages: CPU 1's pages (and CPU 0's 4) went back to the buddy lists
    expect(b.pcp!.sets[1]!.count[1] + b.pcp!.sets[0]!.count[1]).toBe(0);
    expect(b.freePages() + b.pcp!.total() + 1).toBe(free + onCpu1 + 4);
    expect(b.check()).toEqual([]);
  });

  it("counts a direct reclaim's stall under the allocation's gfp_zone (allocstall_movable for a user page)", () => {
    // try_to_free_pages' reclaim_idx = gfp_zone(gfp_mask): __GFP_HIGHMEM | __GFP_MOVABLE is
    // ZONE_MOVABLE (index 3 here), GFP_HIGHUSER on 64-bit and GFP_KERNEL ZONE_NORMAL, GFP_DMA32 ZONE_DMA32
    for (const [gfp, zone] of [
      [Gfp.HIGHUSER_MOVABLE, 3],
      [Gfp.HIGHUSER, 2],
      [Gfp.KERNEL, 2],
      [Gfp.KERNEL | Gfp.DMA32, 1],
    ] as const) {
      const { b } = fresh(32768);
      const held: number[] = [];
      for (;;) {
        const p = b.alloc(0, Gfp.NOWAIT, PageKind.UserAnon);
        if (p < 0) break;
        held.push(p);
      }
      b.hooks = {
        wakeKswapd: () => {},
        directReclaim: () => {
          for (let i = 0; i < 64; i++) b.free(held.pop()!, 0);
          return 64;
        },
        outOfMemory: () => false,
      };
      expect(b.alloc(0, gfp, PageKind.UserAnon)).toBeGreaterThanOrEqual(0);
      const want = [0, 0, 0, 0];
      want[zone] = 1;
      expect([...b.allocStallByZone], `gfp ${gfp}`).toEqual(want);
      expect(b.allocStalls).toBe(1);
    }
  });

  it("watermark checks see only the buddy lists: pages on pcp lists do not keep an allocation off the slow path", () => {
    const { b, z, cpu } = fresh(32768);
    cpu.now = 1;
    user(b); // CPU 1 holds a batch on its list
    cpu.now = 0;
    let n = 0;
    while (b.alloc(0, Gfp.NOWAIT, PageKind.UserAnon) >= 0) n++;
    expect(n).toBeGreaterThan(0);
    // free (buddy) is at the min watermark although CPU 1's list holds pages
    expect(z.freePages).toBeLessThanOrEqual(z.wmark[Wmark.Min] + 1);
    expect(b.pcp!.zoneCount(1)).toBeGreaterThan(0);
    expect(b.failedAllocs).toBe(1);
    expect(z.belowHigh).toBe(true);
  });

  it("takes THP-order blocks through their own list, two at a refill", () => {
    const { b, pcp } = fresh();
    const before = b.freePages();
    const h = b.alloc(9, Gfp.HIGHUSER, PageKind.UserAnon);
    expect(h % 512).toBe(0);
    expect(before - b.freePages()).toBe(1024); // max(batch >> 9, 2) blocks
    expect(pcp.count[0]).toBe(512);
    expect(b.free(h, 9)).toBeNull();
    expect(b.alloc(9, Gfp.HIGHUSER, PageKind.UserAnon)).toBe(h);
    // order 10 is not a pcp order: straight from the buddy lists
    const f = b.freePages();
    b.alloc(10, Gfp.HIGHUSER, PageKind.UserAnon);
    expect(f - b.freePages()).toBe(1024);
    expect(b.check()).toEqual([]);
  });

  it("drain_local_pages empties the running CPU's lists; decay_pcp_high steps high down and trims the list", () => {
    const { b, cpu, pcp } = fresh();
    const held: number[] = [];
    for (let i = 0; i < 400; i++) held.push(user(b));
    for (const p of held) b.free(p, 0);
    const high = pcp.high[0];
    expect(high).toBeGreaterThan(pcp.highMin[0]);
    const count = pcp.count[0];
    const free = b.freePages();
    expect(b.pcp!.refreshCpuVmStats(0)).toBeGreaterThan(0);
    const want = Math.max(count - (pcp.batch[0] << 5), high - (high >> 3), pcp.highMin[0]);
    expect(pcp.high[0]).toBe(want);
    expect(pcp.count[0]).toBe(Math.min(count, want));
    expect(b.freePages() - free).toBe(count - pcp.count[0]);
    cpu.now = 0;
    b.pcp!.drainLocalPages();
    expect(pcp.count[0]).toBe(0);
    expect(b.check()).toEqual([]);
  });

  it("takes runs (rmqueueRun0) to the same state as one __rmqueue call per page, fallbacks included", () => {
    for (let seed = 1; seed <= 6; seed++) {
      // two bare allocators grouping by mobility, with the same history of allocations and frees
      // of mixed orders and migrate types
      const make = () => {
        const pages = new PageDescTable(16384);
        const b = new BuddyAllocator(pages, 16384);
        b.freeBootRange(256, 16384);
        b.buildAllZonelists();
        b.setupWatermarks();
        return b;
      };
      const a = make();
      const c = make();
      const rng = new Rng(seed);
      const live: [number, number][] = [];
      for (let i = 0; i < 3000; i++) {
        if (live.length > 0 && rng.float() < 0.45) {
          const [pfn, order] = live.splice(Math.floor(rng.float() * live.length), 1)[0];
          a.free(pfn, order);
          c.free(pfn, order);
        } else {
          const order = rng.float() < 0.7 ? 0 : Math.floor(rng.float() * 5);
          const gfp = rng.float() < 0.3 ? Gfp.KERNEL : Gfp.HIGHUSER_MOVABLE;
          const pa = a.alloc(order, gfp, PageKind.KernelPages);
          expect(c.alloc(order, gfp, PageKind.KernelPages)).toBe(pa);
          if (pa >= 0) live.push([pa, order]);
        }
      }
      const z = 1;
      let longest = 0;
      for (let round = 0; round < 40; round++) {
        const want = 1 + Math.floor(rng.float() * 300);
        const mt = Math.floor(rng.float() * 3);
        const flags = rng.float() < 0.5 ? AllocFlag.NOFRAGMENT : 0;
        const got: number[] = [];
        while (got.length < want) {
          const first = a.rmqueueRun0(a.zones[z], want - got.length, mt, flags);
          if (first < 0) break;
          for (let i = 0; i < a.runLen; i++) got.push(first + i);
          longest = Math.max(longest, a.runLen);
        }
        const one: number[] = [];
        while (one.length < want) {
          const pfn = c.rmqueueMt(c.zones[z], 0, mt, flags);
          if (pfn < 0) break;
          one.push(pfn);
        }
        expect(got).toEqual(one);
        for (const k of ["head", "tail", "nrFree"] as const) expect(a.zones[z][k]).toEqual(c.zones[z][k]);
        expect(a.blockMt).toEqual(c.blockMt);
        expect(a.zones[z].freePages).toBe(c.zones[z].freePages);
        for (const k of ["flags", "order", "next", "prev", "kind"] as const) {
          // the taken pages' own next/prev/order are the caller's to set: compare the rest
          const pa = Array.from(a.pages[k]);
          const pc = Array.from(c.pages[k]);
          for (const pfn of one) pa[pfn] = pc[pfn] = 0;
          expect(pa).toEqual(pc);
        }
        // give them back, so that later rounds split again
        for (const pfn of got.slice(0, Math.floor(got.length / 2))) {
          a.freeOneBuddy(pfn, 0, a.zoneOf(pfn));
          c.freeOneBuddy(pfn, 0, c.zoneOf(pfn));
        }
      }
      expect(longest).toBeGreaterThan(16);
    }
  });
});
