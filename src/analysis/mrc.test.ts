/** The one-pass miss-ratio curve against per-size LRU runs, SHARDS against exact, the working set, the fast path. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { curveSizes, Shards, StackDistance, WorkingSet } from "./mrc.ts";
import { FAST_POLICIES, FastSim } from "./policy/fast.ts";
import { PolicySim } from "./policy/simulate.ts";
import { TlbCurve } from "./tlbCurve.ts";

const pagesArb = fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 400 });

describe("one-pass LRU miss-ratio curve", () => {
  it("equals a separate LRU run at every memory size (random and adversarial strings)", () => {
    fc.assert(
      fc.property(pagesArb, (pages) => {
        // the default, and a tiny top and tree: most references then go through the tree and its renumbering
        for (const sd of [new StackDistance(), new StackDistance(8, 2)]) {
          for (const p of pages) sd.access(p);
          const distinct = new Set(pages).size;
          for (let f = 1; f <= distinct + 1; f++) {
            const lru = new FastSim("lru", f);
            for (const p of pages) lru.access(p);
            expect(sd.misses(f)).toBe(lru.result().misses);
          }
        }
      }),
      { numRuns: 200, seed: 11 },
    );
    // a cyclic scan one page larger than memory: LRU misses every reference
    const scan = Array.from({ length: 500 }, (_, i) => i % 11);
    const sd = new StackDistance();
    for (const p of scan) sd.access(p);
    expect([sd.misses(10), sd.misses(11)]).toEqual([500, 11]);
  });

  it("stays exact across the renumbering of times (more references than the tree holds)", () => {
    const sd = new StackDistance(1 << 10, 4); // renumbered many times over 300,000 references
    const lru = [50, 700, 2999].map((f) => new FastSim("lru", f));
    let x = 12345;
    for (let i = 0; i < 300_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const page = i % 3 === 0 ? x % 3000 : (x >>> 8) % 60; // a hot set inside a larger footprint
      sd.access(page);
      for (const l of lru) l.access(page);
    }
    expect(lru.map((l) => sd.misses(l.frames))).toEqual(lru.map((l) => l.result().misses));
    expect(sd.curve([50, 700]).map((p) => p.misses)).toEqual([
      lru[0].result().misses,
      lru[1].result().misses,
    ]);
  });
});

describe("the fast path of policy mode", () => {
  it("gives PolicySim's results for LRU, FIFO and CLOCK", () => {
    fc.assert(
      fc.property(pagesArb, fc.integer({ min: 1, max: 12 }), (pages, frames) => {
        for (const policy of FAST_POLICIES) {
          const fast = new FastSim(policy, frames);
          const slow = new PolicySim(policy, frames);
          for (const p of pages) {
            expect(fast.access(p)).toBe(slow.access(p, false));
          }
          const [a, b] = [fast.result(), slow.result()];
          expect([a.misses, a.evictions, a.firstRefs]).toEqual([b.misses, b.evictions, b.firstRefs]);
        }
      }),
      { numRuns: 200, seed: 12 },
    );
  });
});

describe("Denning's working set", () => {
  it("counts the distinct pages of the last tau references", () => {
    const ws = new WorkingSet(3, 1);
    for (const p of [1, 2, 1, 3, 4, 4, 4, 4]) ws.access(p);
    expect(ws.samples.map((s) => s.wss)).toEqual([1, 2, 2, 3, 3, 2, 1, 1]);
  });
});

describe("SHARDS", () => {
  it("approximates the exact curve of a large-footprint trace within 0.02 (mean absolute error)", () => {
    // a skewed reference stream over 200,000 pages: SHARDS is for footprints this large
    const exact = new StackDistance();
    const approx = new Shards(0.1);
    let x = 7;
    const n = 2_000_000;
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const u = x / 4294967296;
      const page = Math.floor(200_000 * u ** 3); // density rising toward page 0
      exact.access(page);
      approx.access(page);
    }
    const sizes = curveSizes(200_000).filter((f) => f >= 100); // sizes well above 1/R
    const e = exact.curve(sizes);
    const a = approx.curve(sizes);
    const mae = e.reduce((sum, p, i) => sum + Math.abs(p.missRatio - a[i].missRatio), 0) / sizes.length;
    console.log(
      `SHARDS R=0.1, 2M references over 200,000 pages: MAE ${mae.toFixed(5)} over ${sizes.length} sizes; ${approx.sampled} references sampled`,
    );
    expect(mae).toBeLessThan(0.02);
    expect(approx.sampled).toBeLessThan(n * 0.15);
  }, 60_000);
});

describe("TLB miss curves", () => {
  it("a set-associative TLB with one set is the fully associative LRU TLB of the same size", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 500 }), (vpns) => {
        for (const e of [4, 8, 16]) {
          const c = new TlbCurve(e, [e]);
          for (const v of vpns) c.access(v);
          const r = c.result();
          expect(r.setAssociative[0]).toBe(r.fullyAssociative[0]);
        }
      }),
      { numRuns: 150, seed: 21 },
    );
  });

  it("counts the conflict misses of a set-associative TLB that a fully associative one does not take", () => {
    // 8 pages that all fall in set 0 of a 64-entry 4-way TLB (16 sets): a cycle over them misses every time
    const c = new TlbCurve(4, [64]);
    for (let i = 0; i < 800; i++) c.access((i % 8) * 16);
    const r = c.result();
    expect(r.setAssociative[0]).toBe(1);
    expect(r.fullyAssociative[0]).toBe(8 / 800);
    expect(r.reachKiB).toEqual([256]);
  });
});
