/**
 * The main thread's share of `vmlab trace --mode machine` (issue #20, goal 1): MachineMode.feedRecords
 * over a decompressed trace's records in slots of 2^18 as the reading thread hands them over
 * (readRecordsRaw), 1024 frames, policy clock, 64x4,1536x12: CPU ns a record per round, and the
 * counters (checked equal between rounds).
 *   zstd -d py-50M.u64.zst -o /tmp/py-50M.u64; TRACE=/tmp/py-50M.u64 node bench/bundled.mjs bench/records.bench.ts
 * TIME_TRANSLATE=1: MachineMode's translate (every access that misses both TLB levels: the walks and
 * the faults) wrapped, and its process CPU (process.cpuUsage around each call, which adds about 4 us a
 * call) printed per round: the cold fault path's cost in a fresh process is round 0's.
 */
import { readFileSync } from "node:fs";
import { MachineMode } from "../src/analysis/trace/machineMode.ts";
import { RUN_TOTALS } from "../src/workloads/trace/runs.ts";

const TRACE = process.env.TRACE ?? "/tmp/py-50M.u64";
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const FRAMES = Number(process.env.FRAMES ?? 1024);
const SLOT = 262144;
const buf = readFileSync(TRACE);
const rec = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
const n = rec.length / 2;
const totals = new Float64Array(RUN_TOTALS);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};
let first = "";
const timeTranslate = process.env.TIME_TRANSLATE === "1";
for (let r = 0; r < ROUNDS; r++) {
  const m = new MachineMode({ frames: FRAMES, tlb: "64x4,1536x12", policy: "clock", seed: 1, wasm: true });
  let tCpu = 0;
  let tCalls = 0;
  if (timeTranslate) {
    // (a private method, wrapped on this instance only)
    const mm = m as unknown as { translate(hi: number, lo: number, kind: number): number };
    const inner = mm.translate.bind(m);
    mm.translate = (hi, lo, kind) => {
      const t = cpu();
      const pfn = inner(hi, lo, kind);
      tCpu += cpu() - t;
      tCalls++;
      return pfn;
    };
  }
  const a = cpu();
  for (let at = 0; at < n; at += SLOT) {
    const k = Math.min(SLOT, n - at);
    // (no totals: the kinds' counts are the reading thread's; the figures compared are the TLB's and faults')
    m.feedRecords(rec.subarray(2 * at, 2 * (at + k)), k, totals);
  }
  const ns = (cpu() - a) / n;
  const s = m.cpu.tlb;
  const figures = `hits ${s.hits[0]} ${s.hits[1]} misses ${s.misses[0]} ${s.misses[1]} translations ${m.cpu.translations}`;
  if (r === 0) first = figures;
  else if (figures !== first) throw new Error(`records.bench: the rounds disagree: ${figures} / ${first}`);
  const tr = timeTranslate ? `; translate ${tCalls} calls, ${(tCpu / 1e6).toFixed(1)} ms CPU` : "";
  console.log(`round ${r}: ${ns.toFixed(2)} CPU ns a record (${n} records); ${figures}${tr}`);
}
