/**
 * The first faulting pass of a COLD process (issue #20, goal 3): bench:reclaim's baseline as one
 * fresh process sees it, JIT warm-up included. A 2 GiB x86-64 machine (ARCH=), one process,
 * MIB= (1024) MiB of anonymous memory; the first write pass in CHUNKS= (16) userAccessRange calls
 * (each page a demand-zero write fault), then PASSES= (3) more whole passes (read, write, read),
 * one userAccessRange each. One JSON line: wall, CPU and main-thread CPU ms (Linux) of every chunk
 * of the first pass and of each pass, the boot's wall and CPU ms, and the counters every tree must give alike (walks, walk references,
 * TLB misses, minor faults, MemFree, a checksum of sampled PTEs' pfns). CPU includes V8's
 * compile thread: CPU above wall is compile work done beside the pass.
 *
 * Run one sample: node bench/bundled.mjs bench/coldpass.bench.ts. For base-vs-new, fresh
 * processes alternating: node bench/coldpass-ab.mjs BASE THIS (bench/README.md).
 */
import { readFileSync, writeSync } from "node:fs";
import { Access } from "../src/hw/access.ts";
import { taskOf } from "../src/kernel/core/task.ts";
import { Kernel, mmapArgs } from "../src/kernel/Kernel.ts";
import { benchArch } from "./benchEnv.ts";

const ARCH = benchArch();
const MIB = Number(process.env.MIB ?? 1024);
const CHUNKS = Number(process.env.CHUNKS ?? 16);
const PASSES = Number(process.env.PASSES ?? 3);
const PAGES = (MIB << 20) / 4096;
if (PAGES % CHUNKS !== 0) throw new Error(`CHUNKS=${CHUNKS} must divide ${PAGES} pages`);
const PER = PAGES / CHUNKS;
/** BENCH_MARKS=1: a line on stdout after every chunk (written at once), to place --trace-opt's lines (run under `stdbuf -o0`) */
const MARKS = process.env.BENCH_MARKS === "1";

const wall = () => Number(process.hrtime.bigint()) / 1e6;
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/**
 * The main thread's own CPU time in ms (Linux: /proc's schedstat, ns on the CPU; elsewhere NaN): what
 * the pass waits for on a quiet machine, without V8's compile threads, and less moved by the other
 * processes of a loaded one than wall time (which counts the main thread's waits for a core)
 */
const mainTask = `/proc/self/task/${process.pid}/schedstat`;
const main = () => {
  try {
    return Number(readFileSync(mainTask, "utf8").split(" ")[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
};
const r2 = (x: number) => Math.round(x * 100) / 100;

let w0 = wall();
let c0 = cpu();
const k = new Kernel({ ramBytes: 2 * 2 ** 30, cpus: 1, swapBytes: 0, overcommit: "always", arch: ARCH });
const t = k.spawn("cold");
if (t === null) throw new Error("spawn failed");
k.switchTo(0, t);
const base = k.mmap(t, mmapArgs(MIB << 20));
if (base < 0n) throw new Error(`mmap of ${MIB} MiB failed: ${base}`);
const boot = { wall: r2(wall() - w0), cpu: r2(cpu() - c0) };

const chunkWall: number[] = [];
const chunkCpu: number[] = [];
const chunkMain: number[] = [];
const passMain: number[] = [];
let m0 = 0;
const passWall: number[] = [];
const passCpu: number[] = [];
const pw0 = wall();
const pm0 = main();
if (MARKS) writeSync(1, "[coldpass: first pass starts]\n");
const pc0 = cpu();
for (let i = 0; i < CHUNKS; i++) {
  const a = base + BigInt(i * PER) * 4096n;
  w0 = wall();
  c0 = cpu();
  m0 = main();
  const done = k.userAccessRange(0, t, Number(a >> 32n), Number(a & 0xffffffffn), PER, 4096, Access.Write, 1);
  chunkWall.push(r2(wall() - w0));
  if (MARKS) writeSync(1, `[coldpass: chunk ${i} done, ${r2(wall() - pw0)} ms into the pass]\n`);
  chunkCpu.push(r2(cpu() - c0));
  chunkMain.push(r2(main() - m0));
  if (done !== PER) throw new Error(`chunk ${i}: ${done} of ${PER} touches, ${k.lastAccess.signal}`);
}
passWall.push(r2(wall() - pw0));
passCpu.push(r2(cpu() - pc0));
passMain.push(r2(main() - pm0));
const hi = Number(base >> 32n);
const lo = Number(base & 0xffffffffn);
for (let p = 0; p < PASSES; p++) {
  w0 = wall();
  c0 = cpu();
  m0 = main();
  const done = k.userAccessRange(0, t, hi, lo, PAGES, 4096, p & 1 ? Access.Write : Access.Read, 1);
  passWall.push(r2(wall() - w0));
  passCpu.push(r2(cpu() - c0));
  passMain.push(r2(main() - m0));
  if (MARKS) writeSync(1, `[coldpass: pass ${p + 1} done]\n`);
  if (done !== PAGES) throw new Error(`pass ${p + 1}: ${done} of ${PAGES} touches`);
}

// what every tree must give alike
const c = { ...k.view.cpu(0) };
const memFree = k.view.meminfo().MemFree;
let sum = 0;
for (let i = 0; i < PAGES; i += 97) {
  const r = k.userAccess(0, t, base + BigInt(i) * 4096n, Access.Read);
  if (r.ok) sum = (sum * 31 + r.pa / 4096) % 1000000007;
}
console.log(
  JSON.stringify({
    arch: ARCH,
    mib: MIB,
    boot,
    chunkWall,
    chunkCpu,
    chunkMain,
    passWall,
    passCpu,
    passMain,
    counters: {
      walks: c.walks,
      walkRefs: c.walkRefs,
      tlbMisses: c.tlbMisses,
      pageFaults: c.pageFaults,
      minFlt: taskOf(t).minFlt,
      memFree,
      pfnSum: sum,
    },
  }),
);
