import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { MachineMode } from "./src/analysis/trace/machineMode.ts";
import { readTrace } from "./src/workloads/trace/formats.ts";
import { openTrace } from "./src/workloads/trace/input.ts";

const raw = execFileSync("zstd", ["-dcq", "../shared/traces/py-50M.u64.zst"], { maxBuffer: 2 ** 31 });
const words = new Uint32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
for (let rep = 0; rep < 3; rep++) {
  const mm = new MachineMode({ frames: 1024, tlb: "64x4,1536x12", policy: "clock" });
  const t0 = performance.now();
  const n = words.length / 2;
  for (let at = 0; at < n; at += 65536) {
    const c = Math.min(65536, n - at);
    mm.feed(words.subarray(2 * at, 2 * (at + c)), c);
  }
  const s = (performance.now() - t0) / 1000;
  console.log("in-memory sim", s.toFixed(3), (n / s / 1e6).toFixed(1), "M/s");
}
