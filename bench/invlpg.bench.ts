/**
 * Tlb.invalidatePage alone, as reclaim's flush_tlb_page makes it (one INVLPG per page unmapped,
 * of a page whose entry the TLB evicted long ago): the skylake TLB's data path filled by runs of
 * `RUN=` (12) pages (Tlb.fillMissedRun, as the pressure run's fault batches), each run followed by
 * the invalidation of as many pages touched `LAG=` (200000) pages before, `MIB=` (64) MiB of pages
 * in all. For callgrind.mjs (instructions per page) and CPU ns per page; prints the entries
 * dropped and a checksum of the STLB (equal in every tree).
 * Usage: node bench/bundled.mjs bench/invlpg.bench.ts; node bench/callgrind.mjs bench/invlpg.bench.ts
 */
import type { Vpn } from "../src/base/units.ts";
import { makeTlb } from "../src/hw/mmu/Tlb.ts";
import { InvalidateHow } from "../src/hw/mmu/TlbArray.ts";
import { cpuNs } from "./benchEnv.ts";

const MIB = Number(process.env.MIB ?? 64);
const RUN = Number(process.env.RUN ?? 12);
const LAG = Number(process.env.LAG ?? 200000);
const PAGES = (MIB << 20) / 4096;
const tlb = makeTlb("skylake");
const pfns = new Float64Array(RUN);
const metas = new Int32Array(RUN).fill(1 | (7 << 16));
const attrs = new Int32Array(RUN);
// FIRST=: the first page (default 2^24; user pages, as 0x7f0000000, have keys above 2^31)
const first = Number(process.env.FIRST ?? 1 << 24);
let dropped = 0;
const t0 = cpuNs();
for (let done = 0; done < PAGES; done += RUN) {
  const vpn = first + done + (done / RUN) * 3; // runs with gaps: the sets each run lands in move on
  for (let i = 0; i < RUN; i++) pfns[i] = 1000 + ((vpn + i) & 0xfffff);
  tlb.fillMissedRun(vpn, 1, RUN, pfns, metas, attrs, false, false);
  for (let i = 0; i < RUN; i++)
    dropped += tlb.invalidatePage((vpn + i - LAG) as Vpn, 1, InvalidateHow.PcidAndGlobal);
}
const ns = (cpuNs() - t0) / PAGES;
const l2 = tlb.levels[1].arrays[0];
let sum = 0;
for (let i = 0; i < l2.entries; i++) sum = (sum * 31 + l2.keys[i] + l2.pfns[i]) % 1e9;
console.log(JSON.stringify({ nsPerPage: Number(ns.toFixed(1)), dropped, sum, evictions: l2.evictions }));
