import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { BuddyAllocator, MAX_ORDER, Wmark } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { MigrateType } from "./migratetype.ts";
import { PageDescTable, PageKind } from "./PageDesc.ts";

function fresh(frames: number, start = 256) {
  const pages = new PageDescTable(frames);
  const b = new BuddyAllocator(pages, frames);
  b.freeBootRange(start, frames);
  b.setupWatermarks();
  return { pages, b };
}

describe("buddy allocator", () => {
  it("hands boot memory out in the largest aligned blocks, zone by zone", () => {
    const { b } = fresh(8192); // 32 MiB: DMA 0-16M, DMA32 16-32M
    const [dma, dma32] = b.zones;
    // 256..4096 in DMA: 256/256, 512/512, 1024/1024, 2048/1024 (max order 10) ...
    expect(dma.managed).toBe(4096 - 256);
    expect(dma32.managed).toBe(4096);
    expect(Array.from(dma32.nrFree)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
    expect(Array.from(dma.nrFree)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3]);
    expect(b.check()).toEqual([]);
  });

  it("splits the smallest block that fits and merges buddies back on free", () => {
    const { b, pages } = fresh(8192);
    const z = b.zones[1];
    const a = b.alloc(0, Gfp.KERNEL, PageKind.KernelPages);
    expect(a).toBe(4096); // Normal is empty, DMA32 first: the head of its order-10 list
    expect(Array.from(z.nrFree)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3]);
    expect(pages.kind[a]).toBe(PageKind.KernelPages);
    const c = b.alloc(0, Gfp.KERNEL, PageKind.KernelPages);
    expect(c).toBe(4097); // the buddy of the first
    expect(b.free(a, 0)).toBeNull();
    expect(b.free(c, 0)).toBeNull();
    expect(Array.from(z.nrFree)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
    expect(b.check()).toEqual([]);
  });

  it("refuses double frees, wrong orders and frames it never gave out", () => {
    const { b } = fresh(8192);
    const a = b.alloc(2, Gfp.KERNEL, PageKind.KernelPages);
    expect(b.free(a, 1)).toBe("wrong-order");
    expect(b.free(a + 1, 0)).toBe("not-allocated");
    expect(b.free(a, 2)).toBeNull();
    expect(b.free(a, 2)).toBe("not-allocated");
    expect(b.free(10, 0)).toBe("not-allocated"); // reserved low memory
    expect(b.free(8192, 0)).toBe("out-of-range");
    expect(b.free(-1, 0)).toBe("out-of-range");
    expect(b.free(a, 11)).toBe("wrong-order");
    expect(b.check()).toEqual([]);
  });

  it("computes min_free_kbytes and watermarks as Linux does", () => {
    const { b } = fresh(262144, 256); // 1 GiB
    const managed = 262144 - 256;
    expect(b.minFreeKbytes).toBe(Math.floor(Math.sqrt(managed * 4 * 16)));
    const dma32 = b.zones[1];
    const min = Math.floor((Math.floor(b.minFreeKbytes / 4) * dma32.managed) / managed);
    expect(dma32.wmark[Wmark.Min]).toBe(min);
    const tmp = Math.max(Math.floor(min / 4), Math.floor((dma32.managed * 10) / 10000));
    expect(dma32.wmark[Wmark.Low]).toBe(min + tmp);
    expect(dma32.wmark[Wmark.High]).toBe(min + 2 * tmp);
    // DMA keeps a reserve against DMA32 allocations: managed(DMA32) / 256
    expect(b.zones[0].lowmemReserve[1]).toBe(Math.floor(dma32.managed / 256));
  });

  it("lets GFP_ATOMIC dip below the min watermark where GFP_KERNEL fails", () => {
    const { b } = fresh(8192);
    // exhaust down to just above DMA32's min, with DMA unusable (its reserve)
    const got: number[] = [];
    for (;;) {
      const pfn = b.alloc(0, Gfp.NOWAIT, PageKind.KernelPages);
      if (pfn < 0) break;
      got.push(pfn);
    }
    expect(b.alloc(0, Gfp.KERNEL, PageKind.KernelPages)).toBe(-1); // no reclaim hooks: fails
    expect(b.alloc(0, Gfp.ATOMIC, PageKind.KernelPages)).toBeGreaterThanOrEqual(0);
    expect(b.failedAllocs).toBe(2);
    expect(b.kswapdWakeups).toBeGreaterThan(0);
  });

  it("prepares an order-0 page alike from the fast path and the slow path (prep_new_page)", () => {
    const { b, pages } = fresh(8192);
    // the struct page as prep_new_page leaves it, whatever the free page held before
    const expectPrepared = (pfn: number, kind: PageKind) => {
      expect(pfn).toBeGreaterThanOrEqual(0);
      expect([pages.kind[pfn], pages.refcount[pfn], pages.flags[pfn], pages.mapcount[pfn]]).toEqual([
        kind,
        1,
        0,
        0,
      ]);
      expect([pages.priv[pfn], pages.order[pfn], pages.next[pfn], pages.prev[pfn]]).toEqual([-1, 0, -1, -1]);
    };
    const dirty = (pfn: number) => {
      // stale fields on a free page (a model bug elsewhere would leave such): the allocation resets them
      pages.mapcount[pfn] = 7;
      pages.priv[pfn] = 12345;
      pages.refcount[pfn] = 3;
    };
    // fast path: the low watermark allows it; the page is the head of the order-0 list after a split
    const first = b.alloc(0, Gfp.KERNEL, PageKind.KernelPages);
    expectPrepared(first, PageKind.KernelPages);
    const next = b.zones[1].head[MigrateType.MOVABLE]; // order 0's list (a bare allocator: all movable)
    dirty(next);
    expect(b.alloc(0, Gfp.HIGHUSER, PageKind.UserAnon)).toBe(next);
    expectPrepared(next, PageKind.UserAnon);
    // slow path: below the low watermark only GFP_ATOMIC's retry at min succeeds
    while (b.alloc(0, Gfp.NOWAIT, PageKind.KernelPages) >= 0);
    const z = b.zones[1];
    const head = z.head.findIndex((h) => h !== -1);
    dirty(z.head[head]);
    const wakeups = b.kswapdWakeups;
    const slow = b.alloc(0, Gfp.ATOMIC, PageKind.UserAnon);
    expect(b.kswapdWakeups).toBeGreaterThan(wakeups); // it went through the slow path
    expectPrepared(slow, PageKind.UserAnon);
    expect(b.check()).toEqual([]);
  });

  it("fails a high-order allocation when memory is fragmented although plenty is free", () => {
    const { b } = fresh(8192);
    const pfns: number[] = [];
    for (;;) {
      const pfn = b.alloc(0, Gfp.NOWAIT, PageKind.KernelPages);
      if (pfn < 0) break;
      pfns.push(pfn);
    }
    for (const pfn of pfns) if (pfn % 2 === 0) b.free(pfn, 0); // free every other page
    expect(b.freePages()).toBeGreaterThan(3000);
    // the untouched reserve below min (~200 pages here) cannot hold an order-9 block (512 pages)
    expect(b.alloc(9, Gfp.KERNEL, PageKind.KernelPages)).toBe(-1);
    expect(b.alloc(0, Gfp.KERNEL, PageKind.KernelPages)).toBeGreaterThanOrEqual(0);
    expect(b.check()).toEqual([]);
  });

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`matches a naive model over random alloc/free sequences (seed ${seed})`, () => {
      const rng = new Rng(seed);
      const frames = 16384;
      const { b, pages } = fresh(frames);
      const live = new Map<number, number>(); // pfn -> order
      const owned = new Uint8Array(frames);
      for (let step = 0; step < 3000; step++) {
        if (live.size === 0 || rng.float() < 0.55) {
          const order = rng.below(rng.float() < 0.8 ? 3 : MAX_ORDER + 1);
          const pfn = b.alloc(order, Gfp.NOWAIT, PageKind.KernelPages);
          if (pfn < 0) continue;
          expect(pfn % 2 ** order).toBe(0);
          for (let i = pfn; i < pfn + 2 ** order; i++) {
            expect(owned[i], `step ${step}: pfn ${i} handed out twice`).toBe(0);
            owned[i] = 1;
          }
          live.set(pfn, order);
        } else {
          const keys = [...live.keys()];
          const pfn = keys[rng.below(keys.length)];
          const order = live.get(pfn)!;
          expect(b.free(pfn, order)).toBeNull();
          for (let i = pfn; i < pfn + 2 ** order; i++) owned[i] = 0;
          live.delete(pfn);
        }
        if (step % 250 === 0) expect(b.check()).toEqual([]);
      }
      let used = 0;
      for (const [, order] of live) used += 2 ** order;
      expect(b.freePages()).toBe(b.managedPages() - used);
      for (const [pfn, order] of live) expect(pages.order[pfn]).toBe(order);
      for (const [pfn, order] of live) b.free(pfn, order);
      expect(b.check()).toEqual([]);
      // everything merged back: the same free lists as at boot
      expect(Array.from(b.zones[1].nrFree)).toEqual(Array.from(fresh(frames).b.zones[1].nrFree));
    });
  }
});
