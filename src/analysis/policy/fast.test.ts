/**
 * FastSim (policy mode's fast path) against PolicySim (the textbook
 * simulation with its own policy objects): the same hit or miss at every
 * reference and the same counts, whether the pages come one by one
 * (access) or as trace records in batches cut anywhere (feedRecords), on
 * reference strings with the locality the shortcuts rely on (the same page
 * again, two pages in turn) and pages a slip in the halves would merge.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { foldRuns, RUN_MAX, RUN_TOTALS } from "../../workloads/trace/runs.ts";
import { FAST_POLICIES, FastSim } from "./fast.ts";
import { PolicySim } from "./simulate.ts";

/**
 * Pages whose low 32 bits, high bits or low 18 bits (a record's low word)
 * are equal, neighbours, and the largest a record holds (2^35 - 1).
 */
const PAGES = [
  0x100,
  0x101,
  0x100 + 2 ** 18,
  0x100 + 2 ** 32,
  0x101 + 2 ** 32,
  2 ** 32,
  2 ** 31,
  2 ** 31 - 1,
  2 ** 35 - 1,
  2 ** 35 - 1 - 2 ** 32,
  2 ** 34,
  0,
];

/**
 * A reference string with locality: each step one page of a pool of 2 to
 * 12 (a small pool against a few frames gives hits, and misses with
 * evictions, at every step), repeated 1-3 times, or the page two steps
 * before (the last two pages in turn).
 */
const refs = fc.integer({ min: 2, max: PAGES.length }).chain((pool) =>
  fc
    .array(
      fc.oneof(
        { arbitrary: fc.tuple(fc.integer({ min: 0, max: pool - 1 }), fc.constant(1)), weight: 4 },
        {
          arbitrary: fc.tuple(fc.integer({ min: 0, max: pool - 1 }), fc.integer({ min: 2, max: 3 })),
          weight: 1,
        },
        { arbitrary: fc.constant([-1, 1] as [number, number]), weight: 2 },
      ),
      { minLength: 1, maxLength: 200, size: "max" },
    )
    .map((steps) => {
      const pages: number[] = [];
      for (const [p, times] of steps) {
        const page = p >= 0 ? PAGES[p] : (pages[pages.length - 2] ?? PAGES[0]);
        for (let k = 0; k < times; k++) pages.push(page);
      }
      return pages;
    }),
);

/** The trace records of `pages` (record.ts's layout by hand: kind lo & 3, offset (lo >>> 2) & 4095, page hi * 2^18 + (lo >>> 14)); kind 0 is a fetch. */
function records(pages: number[], kinds: number[]): Uint32Array {
  const w = new Uint32Array(2 * pages.length);
  pages.forEach((page, i) => {
    w[2 * i] = (((page % 2 ** 18) << 14) | (((i * 37) & 4095) << 2) | kinds[i % kinds.length]) >>> 0;
    w[2 * i + 1] = Math.floor(page / 2 ** 18);
  });
  return w;
}

const counts = (r: ReturnType<FastSim["result"]>) => [
  r.hits,
  r.misses,
  r.evictions,
  r.coldMisses,
  r.firstRefs,
];

describe("policy mode's fast path (LRU, FIFO, CLOCK)", () => {
  it("hits and misses as PolicySim does, reference by reference (access and one-record batches)", () => {
    fc.assert(
      fc.property(refs, fc.integer({ min: 1, max: 8 }), (pages, frames) => {
        const w = records(pages, [1]);
        for (const policy of FAST_POLICIES) {
          const slow = new PolicySim(policy, frames);
          const byPage = new FastSim(policy, frames);
          const byRecord = new FastSim(policy, frames);
          const want: boolean[] = [];
          const got: boolean[] = [];
          const gotRecords: boolean[] = [];
          pages.forEach((p, i) => {
            want.push(slow.access(p, false));
            got.push(byPage.access(p));
            const before = byRecord.hits;
            byRecord.feedRecords(w.subarray(2 * i), 1, false);
            gotRecords.push(byRecord.hits > before);
          });
          expect(got, `${policy}, ${frames} frames`).toEqual(want);
          expect(gotRecords, `${policy}, ${frames} frames`).toEqual(want);
          expect(counts(byPage.result()), policy).toEqual(counts(slow.result()));
          expect(counts(byRecord.result()), policy).toEqual(counts(slow.result()));
        }
      }),
      { numRuns: 150, seed: 20 },
    );
  });

  it("keeps LRU's order when the last two pages swapped places before a third came (5 1 2 1 2 5 9 2, 3 frames)", () => {
    // after 1 2 (the two swap), 5 is looked up: the order is 5 2 1, so 9 evicts 1 and 2 hits
    const pages = [5, 1, 2, 1, 2, 5, 9, 2];
    const fast = new FastSim("lru", 3);
    fast.feedRecords(records(pages, [1]), pages.length, false);
    const slow = new PolicySim("lru", 3);
    const hits = pages.map((p) => slow.access(p, false));
    expect(hits[7]).toBe(true);
    expect(counts(fast.result())).toEqual(counts(slow.result()));
  });

  it("gives the same counts from batches cut anywhere, mixed with access, fetches skipped with dataOnly", () => {
    fc.assert(
      fc.property(
        refs,
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 7 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 12 }),
        fc.boolean(),
        (pages, frames, kinds, cuts, dataOnly) => {
          const w = records(pages, kinds);
          const taken = pages.filter((_, i) => !dataOnly || kinds[i % kinds.length] !== 0);
          for (const policy of FAST_POLICIES) {
            const slow = new PolicySim(policy, frames);
            for (const p of taken) slow.access(p, false);
            const fast = new FastSim(policy, frames);
            // batches of the cuts' lengths, every other one reference by reference through access
            let at = 0;
            cuts.forEach((len, k) => {
              const n = Math.min(len, pages.length - at);
              if (k % 2 === 0) fast.feedRecords(w.subarray(2 * at), n, dataOnly);
              else
                for (let i = at; i < at + n; i++)
                  if (!dataOnly || kinds[i % kinds.length] !== 0) fast.access(pages[i]);
              at += n;
            });
            fast.feedRecords(w.subarray(2 * at), pages.length - at, dataOnly);
            expect(counts(fast.result()), policy).toEqual(counts(slow.result()));
          }
        },
      ),
      { numRuns: 150, seed: 21 },
    );
  });

  it("keeps pages up to 2^53 apart (access)", () => {
    const big = [2 ** 53 - 1, 2 ** 53 - 1 - 2 ** 32, 2 ** 52, 2 ** 52 + 1, 2 ** 40, 2 ** 40 + 2 ** 32];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...big), { maxLength: 200 }),
        fc.integer({ min: 1, max: 5 }),
        (pages, frames) => {
          for (const policy of FAST_POLICIES) {
            const slow = new PolicySim(policy, frames);
            const fast = new FastSim(policy, frames);
            for (const p of pages) expect(fast.access(p)).toBe(slow.access(p, false));
            expect(counts(fast.result())).toEqual(counts(slow.result()));
          }
        },
      ),
      { numRuns: 100, seed: 22 },
    );
  });

  it("grows its table past its first size: many frames, pages spread wide", () => {
    // 3,000 frames and 5,000 pages: the page table doubles several times, and evicts once full
    let x = 7;
    const pages: number[] = [];
    for (let i = 0; i < 40_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      pages.push(i % 4 === 0 ? ((x >>> 9) % 5000) * 0x10001 : (x >>> 7) % 90);
    }
    const w = records(pages, [1, 2, 0]);
    for (const policy of FAST_POLICIES) {
      const slow = new PolicySim(policy, 3000);
      for (const p of pages) slow.access(p, false);
      const fast = new FastSim(policy, 3000);
      fast.feedRecords(w, pages.length, false);
      const r = fast.result();
      expect(counts(r)).toEqual(counts(slow.result()));
      expect(r.evictions).toBeGreaterThan(0);
    }
  });

  it("gives the same counts from the reading thread's runs (foldRuns, batches cut anywhere, dataOnly) as from the records and PolicySim", () => {
    fc.assert(
      fc.property(
        refs,
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 7 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 12 }),
        fc.boolean(),
        (pages, frames, kinds, cuts, dataOnly) => {
          // a page repeated with the same kinds folds into runs of several records (writes among them)
          const w = records(pages, kinds);
          const taken = pages.filter((_, i) => !dataOnly || kinds[i % kinds.length] !== 0);
          const out = new Uint32Array(2 * pages.length);
          for (const policy of FAST_POLICIES) {
            const slow = new PolicySim(policy, frames);
            for (const p of taken) slow.access(p, false);
            const byRecord = new FastSim(policy, frames);
            byRecord.feedRecords(w, pages.length, dataOnly);
            const byRun = new FastSim(policy, frames);
            let at = 0;
            let folded = 0;
            for (const len of [...cuts, pages.length]) {
              const n = Math.min(len, pages.length - at);
              const totals = new Float64Array(RUN_TOTALS);
              const m = foldRuns(w.subarray(2 * at, 2 * (at + n)), n, out, totals);
              expect(totals[6]).toBe(n);
              folded += m;
              byRun.feedRuns(out, m, dataOnly);
              at += n;
            }
            expect(counts(byRun.result()), policy).toEqual(counts(slow.result()));
            expect(counts(byRun.result()), policy).toEqual(counts(byRecord.result()));
            expect(folded).toBeLessThanOrEqual(pages.length);
          }
        },
      ),
      { numRuns: 150, seed: 23 },
    );
  });

  it("counts a run as long as foldRuns makes (RUN_MAX records) as that many references", () => {
    // 0x100 (a store) 40,000 times, 0x101, 0x100 again: runs of RUN_MAX, the rest, then two of one
    const pages = [...Array(40_000).fill(0x100), 0x101, 0x100, 2 ** 35 - 1];
    const w = records(pages, [2]);
    const out = new Uint32Array(2 * pages.length);
    const totals = new Float64Array(RUN_TOTALS);
    const m = foldRuns(w, pages.length, out, totals);
    expect(m).toBe(6);
    expect(((out[1] >>> 17) & 0x3fff) + 1).toBe(RUN_MAX);
    for (const policy of FAST_POLICIES) {
      const slow = new PolicySim(policy, 2);
      for (const p of pages) slow.access(p, true);
      const fast = new FastSim(policy, 2);
      fast.feedRuns(out, m, false);
      expect(counts(fast.result()), policy).toEqual(counts(slow.result()));
      expect(fast.hits + fast.misses).toBe(pages.length);
    }
  });
});
