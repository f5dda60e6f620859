/**
 * TlbArray.insertRun alone, as a fault batch of the touch bench calls it (Tlb.fillMissedRun): the
 * skylake data path's base-page arrays (L1 64x4, STLB 1536x12), runs of 511 pages one leaf table
 * after another (`RUN=` pages a call, 511), `MIB=` (64) MiB of pages in all. For callgrind.mjs (instructions per page) and
 * CPU ns per page; prints a checksum of both arrays' keys and counters (equal in every tree).
 * Usage: node bench/bundled.mjs bench/insertrun.bench.ts; node bench/callgrind.mjs bench/insertrun.bench.ts
 */
import { TlbArray } from "../src/hw/mmu/TlbArray.ts";
import { cpuNs } from "./benchEnv.ts";

const MIB = Number(process.env.MIB ?? 64);
const PAGES = (MIB << 20) / 4096;
/** RUN=: pages per call (511: a fault batch of one leaf table; 8-16: the pressure run's short runs) */
const N = Number(process.env.RUN ?? 511);
/** ONLY=l1 or l2: one array alone */
const ONLY = process.env.ONLY ?? "";
const l1 = new TlbArray(64, 4, 1, 1, "L1");
const l2 = new TlbArray(1536, 12, 3, 1, "L2");
const pfns = new Float64Array(N);
const metas = new Int32Array(N);
const attrs = new Int32Array(N);
/** FIRST=: the first run's page (2^20; `FIRST=$((0x7f0000000))` for user pages, whose keys are above 2^31) */
let vpn = Number(process.env.FIRST ?? 1 << 20);
const t0 = cpuNs();
for (let done = 0; done < PAGES; done += N) {
  for (let i = 0; i < N; i++) {
    pfns[i] = vpn + 7 + i;
    metas[i] = 1 | (7 << 8);
  }
  // the OR of the run's metas and attrs (the fold's walks keep it as they write them)
  if (ONLY !== "l2") l1.insertRun(vpn + 1, 1, N, pfns, metas, attrs, 1 | (7 << 8), 0);
  if (ONLY !== "l1") l2.insertRun(vpn + 1, 1, N, pfns, metas, attrs, 1 | (7 << 8), 0);
  vpn += N === 511 ? 512 : N + 1; // a short run: the next one starts past a page left out
}
const ns = (cpuNs() - t0) / PAGES;
let sum = 0;
for (const a of [l1, l2])
  for (let i = 0; i < a.entries; i++) sum = (sum * 31 + a.keys[i] + a.pfns[i] + a.metas[i]) % 1e9;
console.log(
  JSON.stringify({
    nsPerPage: Number(ns.toFixed(1)),
    sum,
    ev: [l1.evictions, l2.evictions],
    valid: [l1.valid, l2.valid],
  }),
);
