/** Folding records into runs: nothing lost, nothing merged that should not be. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { foldRuns, RUN_MAX, RUN_TOTALS } from "./runs.ts";

/** Records as words from [page, offset, kind] triples (page below 2^35). */
function words(recs: [number, number, number][]): Uint32Array {
  const w = new Uint32Array(2 * recs.length);
  recs.forEach(([page, off, kind], i) => {
    const rec = (page * 4096 + off) * 4 + kind;
    w[2 * i] = rec % 2 ** 32;
    w[2 * i + 1] = Math.floor(rec / 2 ** 32);
  });
  return w;
}

/** The runs back as [page, side, count, anyWrite, first record's low word]. */
function unfold(out: Uint32Array, m: number) {
  const r: [number, number, number, number, number][] = [];
  for (let i = 0; i < m; i++) {
    const lo = out[2 * i];
    const hi = out[2 * i + 1];
    r.push([
      (hi & 0x1ffff) * 262144 + (lo >>> 14),
      (lo & 3) === 0 ? 1 : 0,
      ((hi >>> 17) & 0x3fff) + 1,
      hi >>> 31,
      lo,
    ]);
  }
  return r;
}

/** The same, written plainly. */
function naive(recs: [number, number, number][]) {
  const r: [number, number, number, number, number][] = [];
  const w = words(recs);
  recs.forEach(([page, , kind], i) => {
    const side = kind === 0 ? 1 : 0;
    const last = r[r.length - 1];
    if (last && last[0] === page && last[1] === side && last[2] < RUN_MAX) {
      last[2]++;
      if (kind >= 2) last[3] = 1;
    } else r.push([page, side, 1, kind >= 2 ? 1 : 0, w[2 * i]]);
  });
  return r;
}

const record = fc.tuple(
  fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 2 ** 35 - 1 })),
  fc.integer({ min: 0, max: 4095 }),
  fc.integer({ min: 0, max: 3 }),
);

describe("runs", () => {
  it("fold consecutive records of one page and side, and keep every record's kind and offset in the totals", () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 300 }), (recs) => {
        const out = new Uint32Array(2 * recs.length);
        const totals = new Float64Array(RUN_TOTALS);
        const m = foldRuns(words(recs), recs.length, out, totals);
        expect(unfold(out, m)).toEqual(naive(recs));
        const kinds = [0, 1, 2, 3].map((k) => recs.filter((r) => r[2] === k).length);
        const off = (fetch: boolean) =>
          recs.filter((r) => (r[2] === 0) === fetch).reduce((a, r) => a + r[1], 0);
        expect(Array.from(totals)).toEqual([...kinds, off(false), off(true), recs.length]);
      }),
      { numRuns: 300 },
    );
  });

  it("split a run at RUN_MAX records and keep a fetch apart from a load of the same page", () => {
    const recs: [number, number, number][] = Array.from({ length: RUN_MAX + 5 }, (_, i) => [7, i % 4096, 1]);
    recs.push([7, 0, 0], [7, 8, 2]);
    const out = new Uint32Array(2 * recs.length);
    const m = foldRuns(words(recs), recs.length, out, new Float64Array(RUN_TOTALS));
    expect(unfold(out, m).map((r) => r.slice(0, 4))).toEqual([
      [7, 0, RUN_MAX, 0],
      [7, 0, 5, 0],
      [7, 1, 1, 0],
      [7, 0, 1, 1],
    ]);
  });

  it("stop before a record whose address is at or beyond 2^47, and say how many it took", () => {
    const w = words([
      [1, 0, 1],
      [1, 8, 2],
    ]);
    const bad = new Uint32Array(6);
    bad.set(w);
    bad[5] = 131072; // high word 2^17: address 2^47
    const totals = new Float64Array(RUN_TOTALS);
    const out = new Uint32Array(6);
    expect(foldRuns(bad, 3, out, totals)).toBe(1);
    expect(totals[6]).toBe(2);
  });
});
