import { describe, expect, it } from "vitest";
import { FastSim } from "../../src/analysis/policy/fast.ts";
import { readTrace } from "../../src/workloads/trace/formats.ts";
import { openTrace } from "../../src/workloads/trace/input.ts";
import { cowDemo } from "./cow.ts";
import { replayAtSizes } from "./replay.ts";

describe("the library example", () => {
  it("shows copy-on-write through the API", () => {
    const r = cowDemo();
    expect(r.childFrameBefore).toBe(r.parentFrame);
    expect(r.childFrameAfter).not.toBe(r.parentFrame);
    expect(r.childFaults).toBe(1);
    expect(r.problems).toEqual([]);
  });

  it("replays a trace through machine mode at several sizes: LRU's faults equal policy mode's misses at each", async () => {
    const file = "examples/traces/hotcold.u64.gz";
    const sizes = [4, 8, 16, 32, 64];
    const rows = await replayAtSizes(file, sizes);
    const pages: number[] = [];
    await readTrace(openTrace(file), "bin", (w, n) => {
      for (let i = 0; i < n; i++) pages.push(w[2 * i + 1] * 262144 + (w[2 * i] >>> 14));
    });
    rows.forEach((row, i) => {
      const lru = new FastSim("lru", sizes[i]);
      for (const p of pages) lru.access(p);
      expect(row.faults, `${sizes[i]} frames`).toBe(lru.result().misses);
      expect(row.accesses).toBe(pages.length);
      // LRU is a stack algorithm: more frames never fault more
      if (i > 0) expect(row.faults).toBeLessThanOrEqual(rows[i - 1].faults);
    });
    expect(rows[0].faults).toBeGreaterThan(rows[rows.length - 1].faults);
  });
});
