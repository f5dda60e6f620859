/**
 * Resident touches on the kernel model (issue #20, goal 3): 256 MiB (MIB=)
 * of anonymous memory on a 2 GiB machine, written once (every page faults),
 * then PASSES= passes alternating write/read, one userAccessRange per pass,
 * one touch per page, so every touch misses both TLB levels and walks.
 * Prints CPU ns per touch (process.cpuUsage) of the faulting pass and the
 * median resident pass, and the MMU's counters (equal in every tree).
 * ARCH=NAME runs it on another architecture (any `arch=` of the Kernel
 * config; default x86_64). MTHP=KB enables anonymous mTHP of that size
 * (hugepages-<KB>kB/enabled = always) before the first pass: on arm64, 64
 * and above map contiguous PTEs (one TLB entry per 64K block).
 * Usage: node bench/bundled.mjs bench/touch.bench.ts (from /tmp/tools/touch.bench.ts).
 */
import { Access } from "../src/hw/access.ts";
import { benchArch, cpuNs, touchMachine } from "./benchEnv.ts";

const ARCH = benchArch();

const MIB = Number(process.env.MIB ?? 256);
const PASSES = Number(process.env.PASSES ?? 6);
const PAGES = (MIB << 20) / 4096;
const { k, t, hi, lo } = touchMachine(ARCH, MIB);
if (process.env.MTHP !== undefined && !k.mthpSet(Number(process.env.MTHP), "always"))
  throw new Error(`MTHP=${process.env.MTHP}: no such mTHP size`);
let t0 = cpuNs();
k.userAccessRange(0, t, hi, lo, PAGES, 4096, Access.Write, 1);
const faulting = (cpuNs() - t0) / PAGES;
const resident: number[] = [];
for (let p = 0; p < PASSES; p++) {
  t0 = cpuNs();
  k.userAccessRange(0, t, hi, lo, PAGES, 4096, p & 1 ? Access.Read : Access.Write, 2);
  resident.push((cpuNs() - t0) / PAGES);
}
resident.sort((a, b) => a - b);
const c = k.view.cpu(0);
console.log(
  JSON.stringify({
    arch: ARCH,
    faultingNs: Math.round(faulting),
    residentNs: Math.round(resident[resident.length >> 1]),
    residentMinNs: Math.round(resident[0]),
    walks: c.walks,
    walkRefs: c.walkRefs,
    tlbMisses: c.tlbMisses,
  }),
);
