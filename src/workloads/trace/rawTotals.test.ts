/**
 * readRecordsRaw's totals from a reading thread without WebAssembly
 * (VMLAB_WASM=0 when the thread starts: the thread counts them with its
 * JavaScript loop instead of wasm/fold.ts's totals). A file of its own: its
 * reading threads are this file's, started after the variable is set.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRecordsRaw } from "./formats.ts";
import { foldRuns, RUN_TOTALS } from "./runs.ts";

describe("readRecordsRaw on a reading thread without WebAssembly", () => {
  beforeAll(() => {
    process.env.VMLAB_WASM = "0";
  });
  afterAll(() => {
    delete process.env.VMLAB_WASM;
  });

  it("hands on each batch's fold totals, counted in JavaScript", async () => {
    const n = 300_001; // two batches of 2^18 and the rest, an odd count in the last
    const w = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) {
      w[2 * i] =
        (((Math.floor(i / 3) % 5000) << 12) | ((i * 8) & 4095)) * 4 + (i % 7 === 0 ? 0 : 1 + (i % 3));
      w[2 * i + 1] = i % 11;
    }
    const path = join(mkdtempSync(join(tmpdir(), "vmlab-raw-")), "r.u64");
    writeFileSync(path, w);
    const got: number[][] = [];
    const stats = await readRecordsRaw(path, (_w, count, t) => {
      got.push(Array.from(t));
      return count;
    });
    expect(stats.records).toBe(n);
    const want: number[][] = [];
    for (let at = 0; at < n; at += 262144) {
      const k = Math.min(262144, n - at);
      const t = new Float64Array(RUN_TOTALS);
      foldRuns(w.subarray(2 * at, 2 * (at + k)), k, new Uint32Array(2 * k), t);
      want.push(Array.from(t));
    }
    expect(got).toEqual(want);
  });
});
