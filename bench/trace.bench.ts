/**
 * Trace replay (issue #6), next to the C reference simulator on the same
 * compressed trace file and configuration, in the same command:
 *
 *   machine mode   `vmlab trace` end to end (zstd decode and the records'
 *                  totals on the reading thread, each record through the
 *                  hit loop, the MMU, the CLOCK pager: the raw path) against
 *                  vmref, both from the .zst file; the counters are compared
 *                  too, and the runs path (the reading thread folds) and the
 *                  record-by-record path (standard input, or analyses
 *                  alongside) are shown beside
 *   policy mode    LRU over the page numbers (M references/s; goal: > 30)
 *   one-pass MRC   the exact LRU curve at every size against one LRU run
 *                  (goal: within 3x)
 *
 * Each figure is the best of 3 runs. Peak memory is the process's maximum
 * RSS, and the memory after each run (traces stream: it must not grow with
 * the trace's length).
 * Run: npm run bench:trace   (needs gcc and libzstd-dev for the C side)
 */
import { resolve } from "node:path";
import { StackDistance } from "../src/analysis/mrc.ts";
import { FastSim } from "../src/analysis/policy/fast.ts";
import { MachineMode } from "../src/analysis/trace/machineMode.ts";
import { readTrace } from "../src/workloads/trace/formats.ts";
import { openTrace } from "../src/workloads/trace/input.ts";
import { openSource } from "../src/workloads/trace/open.ts";
import { pageAt } from "../src/workloads/trace/record.ts";
import { buildVmref, COUNTERS, runVmref, SHARED } from "./common.ts";

async function best<T>(runs: number, f: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  let bestS = Number.POSITIVE_INFINITY;
  let value: T | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    value = await f();
    bestS = Math.min(bestS, (performance.now() - t0) / 1000);
  }
  return { seconds: bestS, value: value! };
}

const pageOf = pageAt;

async function main(): Promise<void> {
  const vmref = buildVmref();
  if ("error" in vmref) console.log(`C reference unavailable: ${vmref.error}`);
  console.log(`node ${process.version}; trace replay, vmlab against vmref in the same command (best of 3)\n`);
  for (const [trace, frames] of [
    ["gzip-10M.u64.zst", 1024],
    ["py-50M.u64.zst", 256],
    ["py-50M.u64.zst", 1024],
  ] as const) {
    const file = resolve(SHARED, "traces", trace);
    console.log(`${trace}, ${frames} frames, TLB 64x4,1536x12, CLOCK`);
    // what `vmlab trace FILE` does: the trace layer opens the file on the raw path (the reading
    // thread decompresses and counts the totals; the hit loop checks and takes each record) or,
    // with `raw` off, on the runs path (the reading thread checks and folds the records into runs)
    const read = (raw: boolean) =>
      best(3, async () => {
        const mm = new MachineMode({ frames, tlb: "64x4,1536x12", policy: "clock" });
        const source = openSource(file, { format: "auto", runs: mm.takesRuns, raw: raw && mm.takesRecords });
        if (source.path !== (raw ? "raw" : "runs")) throw new Error(`${file} is read as ${source.path}`);
        await source.read({
          records: (w, n) => mm.feed(w, n),
          runs: (w, n, totals) => mm.feedRuns(w, n, totals),
          raw: (w, n, totals) => mm.feedRecords(w, n, totals),
        });
        return mm.result();
      });
    const m = await read(true);
    const byRuns = await read(false);
    // record by record, as from standard input or with an analysis alongside
    const byRecord = await best(3, async () => {
      const mm = new MachineMode({ frames, tlb: "64x4,1536x12", policy: "clock" });
      await readTrace(openTrace(file), "bin", (w, n) => mm.feed(w, n));
      return mm.result();
    });
    const same =
      JSON.stringify(m.value) === JSON.stringify(byRecord.value) &&
      JSON.stringify(m.value) === JSON.stringify(byRuns.value);
    const rate = m.value.records / m.seconds;
    console.log(
      `  vmlab machine mode  ${(rate / 1e6).toFixed(1).padStart(6)} M/s  (${m.seconds.toFixed(3)} s; as runs ${(byRuns.value.records / byRuns.seconds / 1e6).toFixed(1)} M/s, record by record ${(byRecord.value.records / byRecord.seconds / 1e6).toFixed(1)} M/s, ${same ? "the same figures" : "OTHER FIGURES"})`,
    );
    if ("path" in vmref) {
      let bestC = Number.POSITIVE_INFINITY;
      let c: Record<string, number | string> = {};
      for (let i = 0; i < 3; i++) {
        c = runVmref(vmref.path, ["--frames", String(frames), file]);
        bestC = Math.min(bestC, Number(c.seconds));
      }
      const cRate = Number(c.records) / bestC;
      const r = m.value as unknown as Record<string, unknown>;
      const diff = COUNTERS.filter((k) => String(r[k]) !== String(c[k]));
      console.log(
        `  vmref               ${(cRate / 1e6).toFixed(1).padStart(6)} M/s  (${bestC.toFixed(3)} s)`,
      );
      console.log(
        `  ratio vmlab/vmref = ${(rate / cRate).toFixed(2)}; counters ${diff.length ? `DIFFER: ${diff.join(", ")}` : "equal"}`,
      );
    }
    const lru = await best(3, async () => {
      const sim = new FastSim("lru", frames);
      await readTrace(openTrace(file), "bin", (w, n) => {
        for (let i = 0; i < n; i++) sim.access(pageOf(w, i));
      });
      return sim.result();
    });
    const curve = await best(3, async () => {
      const sd = new StackDistance();
      await readTrace(openTrace(file), "bin", (w, n) => {
        for (let i = 0; i < n; i++) sd.access(pageOf(w, i));
      });
      return sd;
    });
    const lruRate = (lru.value.hits + lru.value.misses) / lru.seconds;
    console.log(
      `  policy mode LRU     ${(lruRate / 1e6).toFixed(1).padStart(6)} M refs/s (${lru.seconds.toFixed(3)} s)`,
    );
    console.log(
      `  one-pass LRU curve  ${curve.seconds.toFixed(3)} s = ${(curve.seconds / lru.seconds).toFixed(2)}x one LRU run; misses at ${frames} frames ${curve.value.misses(frames)} (LRU run: ${lru.value.misses})`,
    );
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    console.log(
      `  after the runs: heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB${gc ? " (after a full GC)" : ""}, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB\n`,
    );
  }
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

await main();
