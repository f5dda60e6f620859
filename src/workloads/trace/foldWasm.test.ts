/**
 * The reading thread's WebAssembly fold (wasm/fold.ts, embedded in
 * foldWasm.ts) against foldRuns, the JavaScript reference, on random
 * records: the same runs, word for word, and the same totals; the same stop
 * before a record whose address is at or beyond 2^47.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromBase64, instantiate, wasmApi } from "../../base/wasm.ts";
import { FOLD_WASM } from "./foldWasm.ts";
import { foldRuns, RUN_MAX, RUN_TOTALS } from "./runs.ts";

/** The module in a shared memory of 2 MiB: records at 0, runs at 1 MiB, totals at 2 MiB - 64. */
function wasmFolder() {
  const memory = new (wasmApi()!.Memory)({ initial: 32, maximum: 32, shared: true });
  const fold = instantiate(fromBase64(FOLD_WASM), memory).fold as (
    rec: number,
    n: number,
    out: number,
    totals: number,
  ) => number;
  const buf = memory.buffer;
  return (rec: Uint32Array, n: number) => {
    new Uint32Array(buf, 0, rec.length).set(rec);
    const totals = new Float64Array(buf, (2 << 20) - 64, RUN_TOTALS);
    totals.fill(0);
    const m = fold(0, n, 1 << 20, (2 << 20) - 64);
    return { runs: Array.from(new Uint32Array(buf, 1 << 20, 2 * m)), totals: Array.from(totals) };
  };
}

function jsFold(rec: Uint32Array, n: number) {
  const out = new Uint32Array(2 * n);
  const totals = new Float64Array(RUN_TOTALS);
  const m = foldRuns(rec, n, out, totals);
  return { runs: Array.from(out.subarray(0, 2 * m)), totals: Array.from(totals) };
}

/** Records as words: a few pages (long runs) or any below 2^35, any offset and kind; now and then a bad one. */
const records = fc
  .array(
    fc.tuple(
      fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 ** 35 - 1 })),
      fc.integer({ min: 0, max: 4095 }),
      fc.integer({ min: 0, max: 3 }),
      fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 40 })),
      fc.integer({ min: 0, max: 200 }),
    ),
    { maxLength: 60 },
  )
  .map((groups) => {
    const w: number[] = [];
    for (const [page, off, kind, repeat, bad] of groups)
      for (let r = 0; r < repeat; r++) {
        const k = repeat > 1 && r % 3 === 1 ? (kind + r) & 3 : kind; // kinds mixed inside a page's group
        const rec = (page * 4096 + ((off + r * 8) & 4095)) * 4 + k;
        w.push(rec % 2 ** 32, bad === 0 ? 131072 + (page % 1000) : Math.floor(rec / 2 ** 32));
      }
    return new Uint32Array(w);
  });

describe("the WebAssembly fold", () => {
  it("makes foldRuns' runs and totals, and stops where it stops", () => {
    const fold = wasmFolder();
    fc.assert(
      fc.property(records, (rec) => {
        const n = rec.length / 2;
        expect(fold(rec, n)).toEqual(jsFold(rec, n));
      }),
      { numRuns: 300 },
    );
  });

  it("splits a run at RUN_MAX records, as foldRuns does", () => {
    const fold = wasmFolder();
    const n = RUN_MAX * 2 + 5;
    const rec = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) rec[2 * i] = (7 << 14) | ((i & 1023) << 2) | (i % 7 === 0 ? 3 : 1);
    const got = fold(rec, n);
    expect(got).toEqual(jsFold(rec, n));
    expect(got.runs.length).toBe(6);
  });

  it("counts foldRuns' totals of valid records without folding them (totals), at any count", () => {
    const memory = new (wasmApi()!.Memory)({ initial: 32, maximum: 32, shared: true });
    const totalsOf = instantiate(fromBase64(FOLD_WASM), memory).totals as (
      rec: number,
      n: number,
      t: number,
    ) => void;
    const buf = memory.buffer;
    fc.assert(
      fc.property(records, fc.integer({ min: 0, max: 7 }), (rec, cut) => {
        // the valid records (totals does not look for a bad one), less a few: every count mod 4
        const w: number[] = [];
        for (let i = 0; i < rec.length; i += 2) if (rec[i + 1] < 131072) w.push(rec[i], rec[i + 1]);
        const n = Math.max(0, w.length / 2 - cut);
        new Uint32Array(buf, 8, w.length).set(w); // (at 8: a load that is not 16-aligned)
        const t = new Float64Array(buf, (2 << 20) - 64, RUN_TOTALS).fill(0);
        totalsOf(8, n, (2 << 20) - 64);
        expect(Array.from(t)).toEqual(jsFold(new Uint32Array(w), n).totals);
      }),
      { numRuns: 300 },
    );
  });

  it("counts across its chunks of 32K steps (totals)", () => {
    const memory = new (wasmApi()!.Memory)({ initial: 64, maximum: 64, shared: true });
    const totalsOf = instantiate(fromBase64(FOLD_WASM), memory).totals as (
      rec: number,
      n: number,
      t: number,
    ) => void;
    const n = 300_001; // past the first chunk of 32K steps of 8 records, every offset 4095
    const rec = new Uint32Array(memory.buffer, 0, 2 * n);
    for (let i = 0; i < n; i++) rec[2 * i] = (i << 14) | (4095 << 2) | (i % 5 === 0 ? 0 : (i % 3) + 1);
    const t = new Float64Array(memory.buffer, 3 << 20, RUN_TOTALS).fill(0);
    totalsOf(0, n, 3 << 20);
    expect(Array.from(t)).toEqual(jsFold(rec.slice(), n).totals);
  });

  it("keeps its lanes' sums exact at their largest (totals: every record a modify at offset 4095)", () => {
    const memory = new (wasmApi()!.Memory)({ initial: 128, maximum: 128, shared: true });
    const totalsOf = instantiate(fromBase64(FOLD_WASM), memory).totals as (
      rec: number,
      n: number,
      t: number,
    ) => void;
    const n = 2 * 262144 + 5; // two whole chunks, each lane's sum of low 14 bits 65536 * 0x3fff, and a tail
    const rec = new Uint32Array(memory.buffer, 0, 2 * n);
    for (let i = 0; i < n; i++) rec[2 * i] = (i << 14) | 0x3fff;
    const t = new Float64Array(memory.buffer, 5 << 20, RUN_TOTALS).fill(0);
    totalsOf(0, n, 5 << 20);
    expect(Array.from(t)).toEqual(jsFold(rec.slice(), n).totals);
    expect(t[3]).toBe(n); // (all modifies)
    expect(t[4]).toBe(4095 * n);
  });
});
