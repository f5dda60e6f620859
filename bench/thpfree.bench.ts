/**
 * Freeing transparent huge pages (branch thpfree): on a 2 GiB x86-64 machine,
 * thp=always, MIB= (256) MiB of anonymous memory is faulted in by one write per
 * 2 MiB (one THP fault each) and unmapped whole (zap_huge_pmd, the gather's
 * free), ROUNDS= (20) times in a row, then the same with 4K pages (a
 * MADV_NOHUGEPAGE mapping, one write per page). Prints CPU ms (process.cpuUsage)
 * of each phase and the counters that show where the freed memory went:
 * THP faults, pgfree, free pages on the buddy lists and on the pcp lists, and
 * the pfn of the last THP (with THP frees going back whole, every round reuses
 * the blocks of the last).
 * Usage: node bench/bundled.mjs bench/thpfree.bench.ts
 */
import { Access } from "../src/hw/access.ts";
import { mmapArgs } from "../src/kernel/Kernel.ts";
import { KernelImpl } from "../src/kernel/KernelImpl.ts";

const MIB = Number(process.env.MIB ?? 256);
const ROUNDS = Number(process.env.ROUNDS ?? 20);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const k = new KernelImpl({ ramBytes: 2 * 2 ** 30, cpus: 1, swapBytes: 0, thp: "always", arch: "x86_64" });
const spawned = k.spawn("c");
if (spawned === null) throw new Error("spawn failed");
const t = spawned;
k.switchTo(0, t);
const HUGE = 2n << 20n;
function phase(huge: boolean): number {
  const t0 = cpuMs();
  for (let r = 0; r < ROUNDS; r++) {
    const len = BigInt(MIB) << 20n;
    const m = k.mmap(t, mmapArgs(Number(len + HUGE)));
    const base = ((m + HUGE - 1n) / HUGE) * HUGE;
    if (!huge) k.madvise(t, base, len, "nohugepage");
    const step = huge ? HUGE : 4096n;
    for (let a = base; a < base + len; a += step)
      if (!k.userAccess(0, t, a, Access.Write, 1).ok) throw new Error("write failed");
    k.munmap(t, m, len + HUGE);
  }
  return cpuMs() - t0;
}
const thpMs = phase(true);
const lastThp = k.userMm.thpStats.thp_fault_alloc;
const smallMs = phase(false);
console.log(
  JSON.stringify({
    thpMs: Math.round(thpMs),
    smallMs: Math.round(smallMs),
    thpFaults: lastThp,
    pgfree: k.buddy.pgfree,
    freeBuddy: k.buddy.freePages(),
    freePcp: k.buddy.pcp?.total() ?? 0,
    minFlt: t.minFlt,
  }),
);
