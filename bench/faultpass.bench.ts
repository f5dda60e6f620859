/**
 * Faulting touches alone (issue #20, goal 3): ROUNDS= (4) fresh machines (2 GiB of RAM, no swap),
 * each writing MIB= (1536) MiB of fresh anonymous memory once through one Kernel.userAccessRange
 * (every page a demand-zero write fault: the MMU's faulting walk, the #PF, do_user_addr_fault,
 * handle_mm_fault, do_anonymous_page, the retry). Prints one JSON line: CPU ns per fault of every
 * round (process.cpuUsage, the pass only), the best and the median, and the counters every tree must
 * give alike (walks, walk references, TLB misses, page faults, minor faults, free pages, RSS, LRU
 * sizes, a checksum of the PTEs' frames). ARCH= as touch.bench.ts. For profiles: `node --cpu-prof
 * --cpu-prof-dir=DIR bench/bundled.mjs bench/faultpass.bench.ts`.
 */
import { Access } from "../src/hw/access.ts";
import { taskOf } from "../src/kernel/core/task.ts";
import { benchArch, cpuNs, touchMachine } from "./benchEnv.ts";

const ARCH = benchArch();
const MIB = Number(process.env.MIB ?? 1536);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const PAGES = (MIB << 20) / 4096;
const ns: number[] = [];
let counters: Record<string, unknown> = {};
for (let r = 0; r < ROUNDS; r++) {
  const { k, t, base, hi, lo } = touchMachine(ARCH, MIB);
  const t0 = cpuNs();
  const done = k.userAccessRange(0, t, hi, lo, PAGES, 4096, Access.Write, 1);
  ns.push((cpuNs() - t0) / PAGES);
  const c = k.view.cpu(0);
  const mi = k.view.meminfo();
  let sum = 0;
  for (let p = 0; p < PAGES; p += 97) {
    const r1 = k.userAccess(0, t, base + BigInt(p * 4096), Access.Read);
    if (r1.ok) sum = (sum * 31 + r1.pa / 4096) % 1000000007;
  }
  counters = {
    done,
    walks: c.walks,
    walkRefs: c.walkRefs,
    tlbMisses: c.tlbMisses,
    pageFaults: c.pageFaults,
    minflt: taskOf(t).minFlt,
    memFree: mi.MemFree,
    anon: mi["Inactive(anon)"],
    rss: taskOf(t).mm?.rssAnon,
    pfnSum: sum,
  };
}
const sorted = [...ns].sort((a, b) => a - b);
console.log(
  JSON.stringify({
    arch: ARCH,
    rounds: ns.map(Math.round),
    bestNs: Math.round(sorted[0]),
    medianNs: Math.round(sorted[sorted.length >> 1]),
    ...counters,
  }),
);
