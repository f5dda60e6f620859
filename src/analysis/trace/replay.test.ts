/**
 * Policy mode on the reading thread's runs (Replay.feedRuns, FastSim.feedRuns):
 * which runs take them, and the same summary from a shared trace read as runs
 * (zstd and the fold on the reading thread, as `vmlab trace FILE` reads a bin
 * file) as from its records.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { readRuns, readTrace } from "../../workloads/trace/formats.ts";
import { openTrace } from "../../workloads/trace/input.ts";
import { Replay, type SimSettings } from "./replay.ts";

const SHARED = resolve(import.meta.dirname, "../../../../shared");
const TRACE = `${SHARED}/traces/gzip-10M.u64.zst`;

/** Policy mode's settings (the machine-mode fields unused). */
function policy(name: string, frames: number, dataOnly: boolean): SimSettings {
  return {
    machine: false,
    linuxPager: false,
    frames,
    seed: 1,
    policy: name,
    dataOnly,
    tlb: "",
    page: "4k",
    arch: "x86_64",
  } as unknown as SimSettings;
}

const BASE = { trace: "t", format: "bin", compression: "zstd", seconds: 0, complete: true } as const;

describe("policy mode on runs", () => {
  it("takes runs with LRU, FIFO and CLOCK and nothing alongside; not with other policies or an analysis", () => {
    for (const p of ["lru", "fifo", "clock"])
      expect(new Replay(policy(p, 64, false)).takesRuns, p).toBe(true);
    for (const p of ["opt", "nru", "arc", "random"])
      expect(new Replay(policy(p, 64, false)).takesRuns, p).toBe(false);
    const withCurve = new Replay(policy("lru", 64, false));
    withCurve.addCurves({ sizes: [16, 64], exact: true, shardsRate: null, curvePolicies: [] });
    expect(withCurve.takesRuns).toBe(false);
    const withWss = new Replay(policy("clock", 64, false));
    withWss.addSamplers({ wss: { tau: 1000, every: 1000 }, tlbCurveWays: null });
    expect(withWss.takesRuns).toBe(false);
  });

  it.skipIf(!existsSync(TRACE))(
    "gives gzip-10M's summary from the reading thread's runs as from its records (every policy, all and data only)",
    async () => {
      const configs = ["lru", "fifo", "clock"].flatMap((p) => [policy(p, 100, false), policy(p, 100, true)]);
      const byRun = configs.map((s) => new Replay(s));
      const byRecord = configs.map((s) => new Replay(s));
      await readRuns(TRACE, (w, n, totals) => {
        for (const r of byRun) r.feedRuns(w, n, totals);
      });
      await readTrace(openTrace(TRACE), "bin", (w, n) => {
        for (const r of byRecord) r.feed(w, n);
      });
      configs.forEach((s, i) => {
        const got = byRun[i].summary(BASE);
        expect(got, `${s.policy}${s.dataOnly ? " data only" : ""}`).toEqual(byRecord[i].summary(BASE));
        expect(got.evictions).toBeGreaterThan(0);
        expect(byRun[i].fed).toBe(byRecord[i].fed);
      });
    },
    60_000,
  );
});
