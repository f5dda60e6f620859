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
 * the host memory per simulated frame (heap + array buffers after the run and a GC,
 * divided by the machine's frames plus swap slots in use). Issue #20's goals
 * are printed as ratios beside the figures: touches without pressure at
 * 10 M/s, reclaim at 1 M pages/s. The baseline's touches after its first
 * pass (every page resident: a TLB miss and a walk each, no fault) are
 * timed apart as well.
 *
 * ARCH=NAME runs it on another architecture (every `arch=` the Kernel
 * config accepts: x86_64, x86_64-la57, arm64, riscv-sv39/48/57, i386,
 * i386-pae); ARCH=all runs the baseline (ranges) and the pressure run on
 * each, in a process of its own, and prints one line per architecture with
 * its CPU time per touch against x86_64's in the same command. On 32-bit
 * x86 a SCALE above 1 is capped at 1 GiB cycled (a 3 GiB user space) and
 * 2 GiB of baseline RAM; a capped size is said in the output.
 *
 * Run: npm run bench:reclaim (SCALE=0.25: a quarter of every size; the
 * baseline's machine is then 512 MiB)
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Access } from "../src/hw/access.ts";
import { KERNEL_ARCH_NAMES, type KernelArchName } from "../src/kernel/core/config.ts";
import { Kernel, mmapArgs } from "../src/kernel/Kernel.ts";

/** SCALE=0.25: every size a quarter (256 MiB cycled through 64 MiB of RAM), for quicker alternating runs */
const SCALE = Number(process.env.SCALE ?? 1);
const size = (b: number) => (b >= 1 << 30 ? `${b / 2 ** 30} GiB` : `${b / 2 ** 20} MiB`);

/** 32-bit x86: a 3 GiB user space (TASK_SIZE = PAGE_OFFSET) and, without PAE, 4 GiB of physical memory */
const is32 = (arch: KernelArchName) => arch === "i386" || arch === "i386-pae";

/**
 * The sizes on one architecture: `bytes` cycled, the baseline's RAM, and
 * why a size was capped (null: none was).
 */
function sizesFor(arch: KernelArchName): { bytes: number; baseRam: number; capped: string | null } {
  const want = Math.round((1 << 30) * SCALE);
  if (!is32(arch) || want <= 1 << 30) return { bytes: want, baseRam: 2 * want, capped: null };
  return {
    bytes: 1 << 30,
    baseRam: 2 ** 31,
    capped: `capped at 1 GiB cycled, 2 GiB baseline RAM: ${arch}'s user space is 3 GiB`,
  };
}

/**
 * The main thread's own CPU seconds (Linux: /proc's schedstat; elsewhere NaN). CPU above it is
 * V8's other threads: TurboFan's concurrent compiles (most of it in a cold process's first pass)
 * and the GC's helpers.
 */
const mainTask = `/proc/self/task/${process.pid}/schedstat`;
function mainCpu(): number {
  try {
    return Number(readFileSync(mainTask, "utf8").split(" ")[0]) / 1e9;
  } catch {
    return Number.NaN;
  }
}

/** One run's figures. */
interface Run {
  k: Kernel;
  t: NonNullable<ReturnType<Kernel["spawn"]>>;
  seconds: number;
  cpu: number;
  /** the main thread's CPU seconds (mainCpu) */
  main: number;
  touches: number;
  firstPass: number;
  /** CPU seconds of the passes after the first write pass */
  cpuResident: number;
}

/**
 * The touches: each pass writes every page, then reads every page. `range`:
 * one Kernel.userAccessRange call per pass (the scenario engine's `P: write
 * a 1G`), the byte written being the pass's; otherwise one userAccess per
 * page (a bigint address and a result object each), the byte the page's.
 */
function cycle(
  arch: KernelArchName,
  bytes: number,
  ramBytes: number,
  swapBytes: number,
  passes: number,
  range: boolean,
): Run {
  const pages = bytes / 4096;
  const k = new Kernel({ arch, ramBytes, cpus: 1, swapBytes, overcommit: "always" });
  const t = k.spawn("cycler")!;
  k.switchTo(0, t);
  const base = k.mmap(t, mmapArgs(bytes));
  if (base < 0n) throw new Error(`${arch}: mmap of ${size(bytes)} failed: ${base}`);
  const baseHi = Number(base >> 32n);
  const baseLo = Number(base & 0xffffffffn);
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const main0 = mainCpu();
  let touches = 0;
  let firstPass = 0;
  let cpuFirst = 0;
  for (let pass = 0; pass < passes; pass++) {
    for (const access of [Access.Write, Access.Read]) {
      if (pass === 0 && access === Access.Read) {
        firstPass = Number(process.hrtime.bigint() - start) / 1e9;
        const u = process.cpuUsage(cpu0);
        cpuFirst = (u.user + u.system) / 1e6;
      }
      if (range) {
        const value = (pass + 1) & 0xff;
        const done = k.userAccessRange(0, t, baseHi, baseLo, pages, 4096, access, value);
        const rec = k.lastAccess;
        if (done !== pages) throw new Error(`${arch}: touch ${done} failed: ${rec.signal}`);
        if (access === Access.Read && rec.value !== value)
          throw new Error(`${arch}: page ${pages - 1} lost its contents`);
        touches += done;
        continue;
      }
      for (let i = 0; i < pages; i++) {
        const r = k.userAccess(0, t, base + BigInt(i) * 4096n, access, i & 0xff);
        if (!r.ok) throw new Error(`${arch}: touch ${i} failed: ${r.signal}`);
        if (access === Access.Read && r.value !== (i & 0xff))
          throw new Error(`${arch}: page ${i} lost its contents`);
        touches++;
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu0);
  const main = mainCpu() - main0;
  // CPU time (user + system) beside the wall time: on a shared machine the wall time moves with the load
  const cpu = (used.user + used.system) / 1e6;
  if (range) {
    // the range's pages hold the last pass's byte: a sample of them, one access each
    for (let i = 0; i < pages; i += 4099) {
      const r = k.userAccess(0, t, base + BigInt(i) * 4096n, Access.Read);
      if (!r.ok || r.value !== passes) throw new Error(`${arch}: page ${i} lost its contents`);
    }
  }
  return { k, t, seconds, cpu, main, touches, firstPass, cpuResident: cpu - cpuFirst };
}

/** The pressure run (a quarter of the cycled size as RAM, as much swap as is cycled) and the host memory it holds. */
function pressure(arch: KernelArchName, bytes: number, passes: number, range: boolean) {
  global.gc?.();
  const mem0 = process.memoryUsage();
  const p = cycle(arch, bytes, bytes / 4, bytes, passes, range);
  global.gc?.(); // what the simulation holds, not the run's garbage not yet collected
  const mem1 = process.memoryUsage();
  // Linux's names and the totals vmlab adds (pgscan, pgsteal, kswapd_runs = pageoutrun, direct_reclaims)
  const s = { ...p.k.view.vmstat(), ...p.k.view.vmstatCompat() };
  const m = p.k.view.meminfo();
  const swapUsed = (m.SwapTotal - m.SwapFree) / 4096;
  const nrFrames = p.k.view.machine().frames;
  const hostBytes = mem1.heapUsed + mem1.arrayBuffers - (mem0.heapUsed + mem0.arrayBuffers);
  return { p, s, swapUsed, nrFrames, hostBytes };
}

/** One architecture, every figure (ARCH=NAME). */
function one(arch: KernelArchName, passes: number, range: boolean) {
  const { bytes, baseRam, capped } = sizesFor(arch);
  const pages = bytes / 4096;
  console.log(
    `reclaim bench, arch=${arch}: ${size(bytes)} of anonymous memory, ${passes} write+read passes, ${range ? "one userAccessRange per pass" : "one userAccess per page"}${capped ? ` (${capped})` : ""}`,
  );
  const report = (b: Run, how: string) => {
    const rate = b.touches / b.seconds;
    const resident = (b.touches - pages) / (b.seconds - b.firstPass);
    console.log(
      `  baseline (${size(baseRam)} RAM, nothing reclaimed), ${how}: ${b.touches} touches in ${b.seconds.toFixed(2)} s (CPU ${b.cpu.toFixed(2)} s, main thread ${b.main.toFixed(2)} s) = ${(rate / 1e6).toFixed(2)} M touches/s (goal 10 M/s: ${(rate / 10e6).toFixed(3)}); after the first write pass (all resident): ${(resident / 1e6).toFixed(2)} M/s`,
    );
  };
  const base = cycle(arch, bytes, baseRam, 0, passes, range);
  report(base, range ? "ranges" : "per page");
  if (range) {
    global.gc?.();
    const perPage = cycle(arch, bytes, baseRam, 0, passes, false);
    report(perPage, "per page");
    console.log(`    CPU time per page / ranges: ${(perPage.cpu / base.cpu).toFixed(2)}x`);
  }
  const { p, s, swapUsed, nrFrames, hostBytes } = pressure(arch, bytes, passes, range);
  console.log(
    `  pressure (${size(bytes / 4)} RAM, ${size(bytes)} swap): ${p.touches} touches in ${p.seconds.toFixed(2)} s (CPU ${p.cpu.toFixed(2)} s) = ${(p.touches / p.seconds / 1e6).toFixed(2)} M touches/s`,
  );
  console.log(
    `    reclaimed ${s.pgsteal} pages (${(s.pgsteal / p.seconds / 1e3).toFixed(1)} k pages/s, ${(s.pgsteal / p.cpu / 1e3).toFixed(1)} k per CPU second; goal 1 M/s: ${(s.pgsteal / p.seconds / 1e6).toFixed(3)}), scanned ${s.pgscan}, swapped out ${s.pswpout}, in ${s.pswpin}, major faults ${p.t.majFlt}, kswapd runs ${s.kswapd_runs}, direct reclaims ${s.direct_reclaims}`,
  );
  console.log(
    `  ratio pressure / baseline, time per touch: ${(p.seconds / p.touches / (base.seconds / base.touches)).toFixed(1)}x`,
  );
  const frames = nrFrames + swapUsed;
  console.log(
    `  host memory: ${(hostBytes / 2 ** 20).toFixed(0)} MiB for ${nrFrames} frames + ${swapUsed} swap slots = ${(hostBytes / frames).toFixed(0)} bytes per simulated page (4 KiB only for pages of varied bytes: hw/PageStore.ts)`,
  );
}

/** One architecture's figures for ARCH=all: CPU seconds per touch of each run, and their rates. */
interface Line {
  arch: KernelArchName;
  capped: string | null;
  /** CPU seconds per touch: the baseline by ranges, its passes after the first write pass, the pressure run */
  base: number;
  resident: number;
  press: number;
  reclaimedPerCpu: number;
  bytesPerPage: number;
}

/** ARCH_LINE=1 (a child of ARCH=all): the baseline by ranges and the pressure run, as one JSON line. */
function line(arch: KernelArchName, passes: number, range: boolean) {
  const { bytes, baseRam, capped } = sizesFor(arch);
  const b = cycle(arch, bytes, baseRam, 0, passes, range);
  const { p, s, hostBytes, nrFrames, swapUsed } = pressure(arch, bytes, passes, range);
  const l: Line = {
    arch,
    capped,
    base: b.cpu / b.touches,
    resident: b.cpuResident / (b.touches - bytes / 4096),
    press: p.cpu / p.touches,
    reclaimedPerCpu: s.pgsteal / p.cpu,
    bytesPerPage: hostBytes / (nrFrames + swapUsed),
  };
  console.log(JSON.stringify(l));
}

/**
 * Every architecture (ARCH=all): each in a process of its own (as a
 * scenario runs one architecture: the generic code's call sites see one
 * format, and no architecture pays another's JIT warm-up), one line each,
 * with the CPU time per touch of each run over x86_64's in this command
 * (above 1: slower than x86_64).
 */
function all(passes: number, range: boolean) {
  console.log(
    `reclaim bench, every architecture (one process each): ${size(Math.round((1 << 30) * SCALE))} of anonymous memory, ${passes} write+read passes, ${range ? "one userAccessRange per pass" : "one userAccess per page"}; rates per CPU second, CPU time per touch over x86_64's`,
  );
  const self = fileURLToPath(import.meta.url);
  // under BENCH_TSX=1 this file is the .ts source: its children need tsx too
  const args = [...process.execArgv, ...(self.endsWith(".ts") ? ["--import", "tsx"] : []), self];
  let ref: Line | null = null;
  for (const arch of KERNEL_ARCH_NAMES) {
    const r = spawnSync(process.execPath, args, {
      env: { ...process.env, ARCH: arch, ARCH_LINE: "1" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (r.status !== 0) throw new Error(`ARCH=${arch}: exit ${r.status}`);
    const l = JSON.parse(r.stdout.trim().split("\n").pop()!) as Line;
    ref ??= l;
    const x = (v: number, base: number) => `${(v / base).toFixed(2)}x`;
    console.log(
      `  ${arch.padEnd(11)} baseline ${(1 / l.base / 1e6).toFixed(2)} M touches/s (${x(l.base, ref.base)}), resident ${(1 / l.resident / 1e6).toFixed(2)} M/s (${x(l.resident, ref.resident)}); pressure ${(1 / l.press / 1e6).toFixed(2)} M touches/s (${x(l.press, ref.press)}), reclaimed ${(l.reclaimedPerCpu / 1e3).toFixed(1)} k pages/s; ${l.bytesPerPage.toFixed(0)} B/page${l.capped ? ` (${l.capped})` : ""}`,
    );
  }
}

function main() {
  const passes = Number(process.env.PASSES ?? 2);
  // TOUCH=page: every touch through userAccess, under pressure too
  const range = process.env.TOUCH !== "page";
  const arch = process.env.ARCH ?? "x86_64";
  if (arch === "all") return all(passes, range);
  if (!(KERNEL_ARCH_NAMES as readonly string[]).includes(arch)) {
    console.error(`ARCH=${arch}: one of ${KERNEL_ARCH_NAMES.join(", ")}, or all`);
    process.exit(2);
  }
  if (process.env.ARCH_LINE === "1") return line(arch as KernelArchName, passes, range);
  one(arch as KernelArchName, passes, range);
}

main();
