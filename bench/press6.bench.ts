/**
 * Pressure run for reclaim per page (issue #20 goal 3, branch reclaim6): MIB (256) MiB of
 * anonymous memory cycled P (4) times through a quarter of it as RAM with as much swap,
 * one userAccessRange per pass (writes on even passes, reads on odd). Prints CPU seconds
 * (process.cpuUsage), ns per touch and the counters that must stay equal between trees.
 * Run: node bench/bundled.mjs bench/press6.bench.ts (CPUS=2: the mm on two CPUs).
 */
import { Access } from "../src/hw/access.ts";
import { Kernel, mmapArgs } from "../src/kernel/Kernel.ts";

const MIB = Number(process.env.MIB ?? 256);
const P = Number(process.env.P ?? 4);
const ARCH = (process.env.ARCH ?? "x86_64") as "x86_64";
const k = new Kernel({
  arch: ARCH,
  ramBytes: (MIB << 20) / 4,
  cpus: 1,
  swapBytes: MIB << 20,
  overcommit: "always",
});
const t = k.spawn("c")!;
k.switchTo(0, t);
const base = k.mmap(t, mmapArgs(MIB << 20));
const hi = Number(base >> 32n);
const lo = Number(base & 0xffffffffn);
const pages = (MIB << 20) / 4096;
const c0 = process.cpuUsage();
for (let p = 0; p < P; p++) {
  const done = k.userAccessRange(
    0,
    t,
    hi,
    lo,
    pages,
    4096,
    p % 2 === 0 ? Access.Write : Access.Read,
    (p + 1) & 0xff,
  );
  if (done !== pages) throw new Error(`pass ${p}: ${done}`);
}
const u = process.cpuUsage(c0);
const cpu = (u.user + u.system) / 1e6;
// Linux's names and the totals vmlab adds (pgscan, pgsteal, kswapd_runs = pageoutrun, direct_reclaims)
const s = { ...k.view.vmstat(), ...k.view.vmstatCompat() };
console.log(
  JSON.stringify({
    cpu: +cpu.toFixed(3),
    nsPerTouch: Math.round((cpu / (P * pages)) * 1e9),
    kReclaimedPerCpuS: +(s.pgsteal / cpu / 1e3).toFixed(1),
    pgsteal: s.pgsteal,
    pgscan: s.pgscan,
    pswpout: s.pswpout,
    pswpin: s.pswpin,
    majflt: t.majFlt,
    kswapd: s.kswapd_runs,
  }),
);
