/**
 * MADV_COLLAPSE and khugepaged on the kernel model (mm/khugepaged.ts): MIB=
 * (default 256) MiB of anonymous memory on a 2 GiB machine, written page by
 * page as 4K pages (THP `madvise`, no MADV_HUGEPAGE yet), then collapsed:
 * by MADV_COLLAPSE over the whole range, or (MODE=khugepaged) by MADV_HUGEPAGE
 * and khugepaged wake-ups until nothing is left. Prints CPU ns per 2 MiB
 * collapsed (process.cpuUsage) and the counters (equal in every tree).
 * ARCH=NAME runs it on another architecture (default x86_64).
 * Usage: node bench/bundled.mjs bench/collapse.bench.ts
 */
import { Access } from "../src/hw/access.ts";
import { benchArch, cpuNs, touchMachine } from "./benchEnv.ts";

const ARCH = benchArch();
const MIB = Number(process.env.MIB ?? 256);
const MODE = process.env.MODE ?? "madvise";
const PAGES = (MIB << 20) / 4096;
const { k, t, base, hi, lo } = touchMachine(ARCH, MIB);
k.userAccessRange(0, t, hi, lo, PAGES, 4096, Access.Write, 1);
const len = BigInt(MIB) << 20n;
const t0 = cpuNs();
let wakeups = 0;
if (MODE === "khugepaged") {
  k.madvise(t, base, len, "hugepage");
  while (k.khugepaged() > 0) wakeups++;
  wakeups++;
} else if (k.madvise(t, base, len, "collapse") !== 0n) throw new Error("MADV_COLLAPSE failed");
const ns = cpuNs() - t0;
const v = k.view.vmstat();
console.log(
  JSON.stringify({
    arch: ARCH,
    mode: MODE,
    nsPerPmd: Math.round(ns / (MIB / 2)),
    thpCollapseAlloc: v.thp_collapse_alloc,
    pgfree: v.pgfree,
    wakeups,
  }),
);
