/**
 * Reclaim throughput (issue #5): one process cycles 1 GiB of anonymous
 * memory through a machine with 256 MiB of RAM and 1 GiB of swap, writing
 * every page then reading every page, twice, so that nearly every touch after
 * the first 200 MiB needs a page reclaimed (swapped out) and, on the reads,
 * swapped back in. The baseline, in the same process, is the same touches on
 * a machine with enough RAM (2 GiB) that nothing is reclaimed: the ratio is
 * what memory pressure costs per touch.
 *
 * Prints pages reclaimed per second, touches per second for both runs, and
 * the host memory per simulated frame (heap + array buffers after the run,
 * divided by the machine's frames plus swap slots in use). Issue #20's goals
 * are printed as ratios beside the figures: touches without pressure at
 * 10 M/s, reclaim at 1 M pages/s. The baseline's touches after its first
 * pass (every page resident: a TLB miss and a walk each, no fault) are
 * timed apart as well.
 *
 * Run: npm run bench:reclaim
 */
import { Access } from "../src/hw/access.ts";
import { Kernel, mmapArgs } from "../src/kernel/Kernel.ts";

const GIB = 1 << 30;
const PAGES = GIB / 4096;

function cycle(ramBytes: number, swapBytes: number, passes: number) {
  const k = new Kernel({ ramBytes, cpus: 1, swapBytes, overcommit: "always" });
  const t = k.spawn("cycler")!;
  k.switchTo(0, t);
  const base = k.mmap(t, mmapArgs(GIB));
  if (base < 0n) throw new Error(`mmap failed: ${base}`);
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let touches = 0;
  let firstPass = 0;
  for (let pass = 0; pass < passes; pass++) {
    for (const access of [Access.Write, Access.Read]) {
      if (pass === 0 && access === Access.Read) firstPass = Number(process.hrtime.bigint() - start) / 1e9;
      for (let i = 0; i < PAGES; i++) {
        const r = k.userAccess(0, t, base + BigInt(i) * 4096n, access, i & 0xff);
        if (!r.ok) throw new Error(`touch ${i} failed: ${r.signal}`);
        if (access === Access.Read && r.value !== (i & 0xff)) throw new Error(`page ${i} lost its contents`);
        touches++;
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu0);
  // CPU time (user + system) beside the wall time: on a shared machine the wall time moves with the load
  const cpu = (used.user + used.system) / 1e6;
  return { k, t, seconds, cpu, touches, firstPass };
}

function main() {
  const passes = Number(process.env.PASSES ?? 2);
  console.log(`reclaim bench: 1 GiB of anonymous memory, ${passes} write+read passes`);
  const base = cycle(2 * GIB, 0, passes);
  const baseRate = base.touches / base.seconds;
  const resident = (base.touches - PAGES) / (base.seconds - base.firstPass);
  console.log(
    `  baseline (2 GiB RAM, nothing reclaimed): ${base.touches} touches in ${base.seconds.toFixed(2)} s (CPU ${base.cpu.toFixed(2)} s) = ${(baseRate / 1e6).toFixed(2)} M touches/s (goal 10 M/s: ${(baseRate / 10e6).toFixed(3)}); after the first write pass (all resident): ${(resident / 1e6).toFixed(2)} M/s`,
  );
  global.gc?.();
  const mem0 = process.memoryUsage();
  const p = cycle(256 << 20, GIB, passes);
  const mem1 = process.memoryUsage();
  const s = p.k.view.vmstat();
  const m = p.k.view.meminfo();
  const swapUsed = (m.SwapTotal - m.SwapFree) / 4096;
  const nrFrames = p.k.view.machine().frames;
  console.log(
    `  pressure (256 MiB RAM, 1 GiB swap): ${p.touches} touches in ${p.seconds.toFixed(2)} s (CPU ${p.cpu.toFixed(2)} s) = ${(p.touches / p.seconds / 1e6).toFixed(2)} M touches/s`,
  );
  console.log(
    `    reclaimed ${s.pgsteal} pages (${(s.pgsteal / p.seconds / 1e3).toFixed(1)} k pages/s, ${(s.pgsteal / p.cpu / 1e3).toFixed(1)} k per CPU second; goal 1 M/s: ${(s.pgsteal / p.seconds / 1e6).toFixed(3)}), scanned ${s.pgscan}, swapped out ${s.pswpout}, in ${s.pswpin}, major faults ${p.t.majFlt}, kswapd runs ${s.kswapd_runs}, direct reclaims ${s.direct_reclaims}`,
  );
  console.log(
    `  ratio pressure / baseline, time per touch: ${(p.seconds / p.touches / (base.seconds / base.touches)).toFixed(1)}x`,
  );
  const frames = nrFrames + swapUsed;
  const bytes = mem1.heapUsed + mem1.arrayBuffers - (mem0.heapUsed + mem0.arrayBuffers);
  console.log(
    `  host memory: ${(bytes / 2 ** 20).toFixed(0)} MiB for ${nrFrames} frames + ${swapUsed} swap slots = ${(bytes / frames).toFixed(0)} bytes per simulated page (4 KiB only for pages of varied bytes: hw/PageStore.ts)`,
  );
}

main();
