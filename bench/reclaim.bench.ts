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
 * Run: npm run bench:reclaim (SCALE=0.25: a quarter of every size; the
 * baseline's machine is then 512 MiB)
 */
import { Access } from "../src/hw/access.ts";
import { Kernel, mmapArgs } from "../src/kernel/Kernel.ts";

/** SCALE=0.25: every size a quarter (256 MiB cycled through 64 MiB of RAM), for quicker alternating runs */
const SCALE = Number(process.env.SCALE ?? 1);
const GIB = Math.round((1 << 30) * SCALE);
const PAGES = GIB / 4096;
const size = (b: number) => (b >= 1 << 30 ? `${b / 2 ** 30} GiB` : `${b / 2 ** 20} MiB`);

/**
 * The touches: each pass writes every page, then reads every page. `range`:
 * one Kernel.userAccessRange call per pass (the scenario engine's `P: write
 * a 1G`), the byte written being the pass's; otherwise one userAccess per
 * page (a bigint address and a result object each), the byte the page's.
 */
function cycle(ramBytes: number, swapBytes: number, passes: number, range: boolean) {
  const k = new Kernel({ ramBytes, cpus: 1, swapBytes, overcommit: "always" });
  const t = k.spawn("cycler")!;
  k.switchTo(0, t);
  const base = k.mmap(t, mmapArgs(GIB));
  if (base < 0n) throw new Error(`mmap failed: ${base}`);
  const baseHi = Number(base >> 32n);
  const baseLo = Number(base & 0xffffffffn);
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let touches = 0;
  let firstPass = 0;
  for (let pass = 0; pass < passes; pass++) {
    for (const access of [Access.Write, Access.Read]) {
      if (pass === 0 && access === Access.Read) firstPass = Number(process.hrtime.bigint() - start) / 1e9;
      if (range) {
        const value = (pass + 1) & 0xff;
        const done = k.userAccessRange(0, t, baseHi, baseLo, PAGES, 4096, access, value);
        const rec = k.lastAccess;
        if (done !== PAGES) throw new Error(`touch ${done} failed: ${rec.signal}`);
        if (access === Access.Read && rec.value !== value)
          throw new Error(`page ${PAGES - 1} lost its contents`);
        touches += done;
        continue;
      }
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
  if (range) {
    // the range's pages hold the last pass's byte: a sample of them, one access each
    for (let i = 0; i < PAGES; i += 4099) {
      const r = k.userAccess(0, t, base + BigInt(i) * 4096n, Access.Read);
      if (!r.ok || r.value !== passes) throw new Error(`page ${i} lost its contents`);
    }
  }
  return { k, t, seconds, cpu, touches, firstPass };
}

function main() {
  const passes = Number(process.env.PASSES ?? 2);
  // TOUCH=page: every touch through userAccess, under pressure too
  const range = process.env.TOUCH !== "page";
  console.log(
    `reclaim bench: ${size(GIB)} of anonymous memory, ${passes} write+read passes, ${range ? "one userAccessRange per pass" : "one userAccess per page"}`,
  );
  const report = (b: ReturnType<typeof cycle>, how: string) => {
    const rate = b.touches / b.seconds;
    const resident = (b.touches - PAGES) / (b.seconds - b.firstPass);
    console.log(
      `  baseline (${size(2 * GIB)} RAM, nothing reclaimed), ${how}: ${b.touches} touches in ${b.seconds.toFixed(2)} s (CPU ${b.cpu.toFixed(2)} s) = ${(rate / 1e6).toFixed(2)} M touches/s (goal 10 M/s: ${(rate / 10e6).toFixed(3)}); after the first write pass (all resident): ${(resident / 1e6).toFixed(2)} M/s`,
    );
  };
  const base = cycle(2 * GIB, 0, passes, range);
  report(base, range ? "ranges" : "per page");
  if (range) {
    global.gc?.();
    const perPage = cycle(2 * GIB, 0, passes, false);
    report(perPage, "per page");
    console.log(`    CPU time per page / ranges: ${(perPage.cpu / base.cpu).toFixed(2)}x`);
  }
  global.gc?.();
  const mem0 = process.memoryUsage();
  const p = cycle(GIB / 4, GIB, passes, range);
  const mem1 = process.memoryUsage();
  const s = p.k.view.vmstat();
  const m = p.k.view.meminfo();
  const swapUsed = (m.SwapTotal - m.SwapFree) / 4096;
  const nrFrames = p.k.view.machine().frames;
  console.log(
    `  pressure (${size(GIB / 4)} RAM, ${size(GIB)} swap): ${p.touches} touches in ${p.seconds.toFixed(2)} s (CPU ${p.cpu.toFixed(2)} s) = ${(p.touches / p.seconds / 1e6).toFixed(2)} M touches/s`,
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
