/**
 * BuddyAllocator.allocRun0 (and PcpLists.rmqueueRun0 under it) against the allocations one by
 * one it stands for: two allocators brought to the same state by the same random allocations and
 * frees (of order 0 and above, on two CPUs, memory near the low watermark), then one takes a run
 * of order-0 pages at once and the other page by page, each asked order0FastSure first (as
 * core/faultfold.ts's batch asks it), stopping at the first it does not hold for. The pages, their
 * order, and every list link, struct page field, zone figure, pcp figure (count, high,
 * alloc_factor, free_count, the lists) and counter end alike.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { BuddyAllocator } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { PageDescTable, PageKind } from "./PageDesc.ts";

const FRAMES = 8192; // 32 MiB: DMA and DMA32

function fresh(pcp: boolean) {
  const pages = new PageDescTable(FRAMES);
  const b = new BuddyAllocator(pages, FRAMES);
  b.freeBootRange(256, FRAMES);
  b.setupWatermarks();
  const cpu = { now: 0 };
  if (pcp) b.setupPerCpuPageset(2, 9, () => cpu.now);
  return { b, cpu };
}

/** Everything an allocation may change, as plain data. */
function state(b: BuddyAllocator) {
  const p = b.pages;
  return {
    pages: [p.kind, p.flags, p.order, p.refcount, p.mapcount, p.next, p.prev, p.priv].map((a) =>
      Array.from(a),
    ),
    zones: b.zones.map((z) => ({
      head: Array.from(z.head),
      tail: Array.from(z.tail),
      nrFree: Array.from(z.nrFree),
      freePages: z.freePages,
      belowHigh: z.belowHigh,
    })),
    pcp: b.pcp?.sets.map((s) =>
      s === null
        ? null
        : [s.head, s.tail, s.count, s.high, s.allocFactor, s.freeCount, s.batch].map((a) => Array.from(a)),
    ),
    pgalloc: Array.from(b.pgalloc),
    pgfree: b.pgfree,
    slow: [b.kswapdWakeups, b.allocStalls, b.failedAllocs],
  };
}

function twins(seed: number, pcp: boolean) {
  const rng = new Rng(seed);
  const a = fresh(pcp);
  const b = fresh(pcp);
  const held: number[][] = [[], []];
  let pfnsOk = 0;
  let stoppedShort = 0;
  for (let step = 0; step < 120; step++) {
    const cpu = rng.below(2);
    a.cpu.now = cpu;
    b.cpu.now = cpu;
    const op = rng.below(4);
    if (op === 0) {
      // a burst of allocations (some of higher orders) or frees, alike on both
      const order = rng.below(3) === 0 ? rng.below(4) : 0;
      const n = 1 + rng.below(400);
      for (let i = 0; i < n; i++) {
        if (!a.b.order0FastSure(Gfp.HIGHUSER_MOVABLE)) break;
        const x = a.b.alloc(order, Gfp.HIGHUSER_MOVABLE, PageKind.UserAnon);
        const y = b.b.alloc(order, Gfp.HIGHUSER_MOVABLE, PageKind.UserAnon);
        expect(y).toBe(x);
        if (x >= 0) held[order === 0 ? 0 : 1].push(x * 16 + order);
      }
    } else if (op === 1) {
      for (let n = rng.below(300); n > 0 && held[0].length + held[1].length > 0; n--) {
        const list = held[held[0].length > 0 && (held[1].length === 0 || rng.below(4) > 0) ? 0 : 1];
        const j = rng.below(list.length);
        const v = list[j];
        list[j] = list[list.length - 1];
        list.pop();
        expect(a.b.free(Math.floor(v / 16), v % 16)).toBeNull();
        expect(b.b.free(Math.floor(v / 16), v % 16)).toBeNull();
      }
    } else {
      // the run: at once on `a`, one by one on `b`
      const max = 1 + rng.below(rng.below(2) === 0 ? 600 : 40);
      const out = new Float64Array(max);
      const k = a.b.allocRun0(Gfp.HIGHUSER_MOVABLE, PageKind.UserAnon, out, max);
      const one: number[] = [];
      while (one.length < max && b.b.order0FastSure(Gfp.HIGHUSER_MOVABLE))
        one.push(b.b.alloc(0, Gfp.HIGHUSER_MOVABLE, PageKind.UserAnon));
      expect(Array.from(out.subarray(0, k)), `step ${step}`).toEqual(one);
      for (const x of one) held[0].push(x * 16);
      pfnsOk += k;
      if (k < max) stoppedShort++;
    }
    expect(state(a.b), `step ${step}`).toEqual(state(b.b));
  }
  expect(a.b.check()).toEqual([]);
  return { pfnsOk, stoppedShort };
}

describe("allocRun0 leaves what its allocations one by one leave", () => {
  it("with the pcp lists (refills inside a run, the low watermark reached mid-run)", () => {
    for (const seed of [1, 2, 3]) {
      const r = twins(seed, true);
      expect(r.pfnsOk).toBeGreaterThan(1000);
      expect(r.stoppedShort).toBeGreaterThan(0);
    }
  });
  it("without them (the buddy lists page by page)", () => {
    const r = twins(4, false);
    expect(r.pfnsOk).toBeGreaterThan(1000);
    expect(r.stoppedShort).toBeGreaterThan(0);
  });
});
