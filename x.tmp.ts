import { readFileSync } from "node:fs";
import { openTrace } from "./src/workloads/trace/input.ts";
import { readTrace } from "./src/workloads/trace/formats.ts";
import { MachineMode } from "./src/analysis/trace/machineMode.ts";
const exp = JSON.parse(readFileSync("../shared/bench/expected-counters.json", "utf8")).runs;
const only = process.argv[2];
for (const run of exp) {
  if (only && !run.trace.startsWith(only)) continue;
  const mm = new MachineMode({ frames: run.frames, tlb: "64x4,1536x12", policy: "clock", dataOnly: run.mode === "data-only" });
  const t0 = performance.now();
  await readTrace(openTrace(`../shared/traces/${run.trace}`), "bin", (w, n) => mm.feed(w, n));
  const s = (performance.now() - t0) / 1000;
  const r = mm.result() as any;
  const diffs = Object.keys(run).filter((k) => !["trace","mode","frames","seconds","records_per_s"].includes(k) && String(r[k]) !== String(run[k])).map((k) => `${k}: ${r[k]} vs ${run[k]}`);
  console.log(run.trace, run.mode, run.frames, s.toFixed(2) + "s", (r.records / s / 1e6).toFixed(1) + "M/s", "vmref", (run.records_per_s/1e6).toFixed(0), diffs.length ? diffs.join("; ") : "ALL EQUAL");
}
