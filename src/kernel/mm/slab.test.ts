import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { BuddyAllocator } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { PageDescTable, PageKind } from "./PageDesc.ts";
import { calculateOrder, kmallocIndex, SlabAllocator } from "./slab.ts";

function fresh(cpus = 1) {
  const pages = new PageDescTable(16384);
  const buddy = new BuddyAllocator(pages, 16384);
  buddy.freeBootRange(256, 16384);
  buddy.setupWatermarks();
  return { pages, buddy, slab: new SlabAllocator(buddy, pages, cpus) };
}

describe("slab (SLUB) caches", () => {
  it("picks slab orders as SLUB's calculate_order does", () => {
    // 1 CPU: at least 8 objects per slab
    expect([8, 64, 192, 512, 1024, 2048, 4096, 8192].map((s) => calculateOrder(s, 1))).toEqual([
      0, 0, 0, 0, 1, 2, 3, 3,
    ]);
    // 2 CPUs: at least 12
    expect([512, 1024, 2048].map((s) => calculateOrder(s, 2))).toEqual([1, 2, 3]);
  });

  it("maps sizes to kmalloc classes, 96 and 192 included", () => {
    expect([1, 8, 9, 64, 65, 96, 97, 129, 193, 4097, 8192, 8193].map(kmallocIndex)).toEqual([
      0, 0, 1, 3, 4, 4, 5, 6, 7, 12, 12, -1,
    ]);
  });

  it("hands out consecutive objects of one slab, and reuses the last freed first", () => {
    const { slab } = fresh();
    const c = slab.caches[kmallocIndex(64)];
    const a = slab.alloc(c, Gfp.KERNEL);
    const b = slab.alloc(c, Gfp.KERNEL);
    expect(b - a).toBe(64);
    expect(slab.free(a)).toBeNull();
    expect(slab.alloc(c, Gfp.KERNEL)).toBe(a);
    expect(slab.free(a)).toBeNull();
    expect(slab.free(a)).toBe("double-free");
    expect(slab.free(b + 8)).toBe("misaligned");
    expect(slab.free(0x1000)).toBe("not-slab");
    expect(slab.check()).toEqual([]);
  });

  it("gives empty slabs back to the page allocator beyond min_partial", () => {
    const { slab, buddy, pages } = fresh();
    const c = slab.caches[kmallocIndex(4096)]; // order 3: 8 objects a slab
    const free0 = buddy.freePages();
    const objs: number[] = [];
    for (let i = 0; i < 8 * 20; i++) objs.push(slab.alloc(c, Gfp.KERNEL));
    expect(c.numSlabs).toBe(20);
    expect(buddy.freePages()).toBe(free0 - 20 * 8);
    for (const o of objs) expect(pages.kind[Math.floor(o / 4096)]).toBe(PageKind.Slab);
    for (const o of objs) expect(slab.free(o)).toBeNull();
    expect(c.activeObjs).toBe(0);
    // the current slab and min_partial (5) empty partial slabs stay
    expect(c.numSlabs).toBeLessThanOrEqual(1 + c.minPartial + 1);
    expect(c.numSlabs).toBeGreaterThan(1);
    expect(slab.check()).toEqual([]);
    expect(buddy.check()).toEqual([]);
  });

  it("keeps its books over random kmalloc/kfree sequences (seed 7)", () => {
    const { slab, buddy } = fresh(2);
    const rng = new Rng(7);
    const live: number[] = [];
    for (let step = 0; step < 4000; step++) {
      if (live.length === 0 || rng.float() < 0.6) {
        const c = slab.caches[rng.below(slab.caches.length)];
        const pa = slab.alloc(c, Gfp.KERNEL);
        if (pa >= 0) live.push(pa);
      } else {
        const i = rng.below(live.length);
        expect(slab.free(live[i])).toBeNull();
        live.splice(i, 1);
      }
    }
    expect(new Set(live).size).toBe(live.length);
    expect(slab.check()).toEqual([]);
    expect(buddy.check()).toEqual([]);
  });
});
