/**
 * Trace replay as whole processes (issue #20, goals 1, 4 and 5): what a
 * user waits for, Node's start included.
 *
 *   machine mode  `vmlab trace FILE --mode machine --policy clock --tlb
 *                 64x4,1536x12 --frames N --json` against `vmref --frames N
 *                 FILE`, the two spawned one after the other, alternating,
 *                 best of RUNS each (wall clock); the counters compared.
 *                 Goal: vmlab/vmref (vmref's time over vmlab's) >= 1.0.
 *   policy LRU    `vmlab trace FILE --mode policy --policy lru`, references
 *                 per second of the whole process. Goal: >= 65 M/s
 *                 (libCacheSim's LRU in-process on this machine).
 *   sweep         `vmlab sweep` of the same configurations with --jobs 1 and
 *                 --jobs 2, alternating; the time with two over the linear
 *                 time (half the time with one), and each side's CPU.
 *                 Goal: <= 1.8.
 *   early read    (BENCH_ONLY=early) machine mode with the reading job the
 *                 launcher starts before the CLI loads (speculate.ts) against
 *                 the same run without it (VMLAB_SPECULATE=0), alternating:
 *                 best and median wall clock, the main thread's waits.
 *   start-up      `vmlab --version` against `node -e 0`, alternating, best of
 *                 STARTUP_RUNS (10): what every command pays before its work.
 *   10^9 pipe     (only with BENCH_BILLION=1: about a minute or more)
 *                 `vmlab gen hotcold --pages 64 --refs 1e9 | vmlab trace -
 *                 --frames 1024`: the peak RSS of each process, sampled
 *                 from /proc every 100 ms during the run, and the rate.
 *                 Goal: constant memory (the same peak as a 10^7 run).
 *
 * The traces: the shared ones, and py-200M (py-50M four times over, made
 * once into bench/.build/ with the zstd command) for a 200 M-reference file.
 * The machine has two cores that other jobs share: each figure is the best
 * of RUNS (default 3; BENCH_RUNS=N), and ranges across runs are printed.
 *
 * Run: npm run bench:process   (BENCH_BILLION=1 npm run bench:process for the pipe;
 * BENCH_ONLY=machine, policy, startup, sweep, pipe or early for one part)
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { BUILD, buildVmref, COUNTERS, ROOT, SHARED } from "./common.ts";

// package.json's bin, as `vmlab` runs (bin/vmlab.mjs loads the same launcher through Node's ES module loader)
const VMLAB = resolve(ROOT, "bin", "vmlab.cjs");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ONLY = process.env.BENCH_ONLY;
/**
 * NODE_EXTRA_CA_CERTS, when the environment sets it (this sandbox does: /etc/ssl/certs/ca-certificates.crt):
 * Node 20 reads and parses that file and its own root store at every start, before any JavaScript
 * runs (node::crypto::UseExtraCaCerts, 416 M instructions of gzip-10M's 998 M on the main thread;
 * bench/RESULTS.md, procstart). BENCH_CA=unset runs every vmlab process with it unset (vmref is C:
 * it never reads it), to show the figures of a machine without it; the start-up part times both.
 */
const EXTRA_CA = process.env.NODE_EXTRA_CA_CERTS ?? "";
const CA_UNSET = process.env.BENCH_CA === "unset";
/** The environment a vmlab process gets besides this one's (`env`), NODE_EXTRA_CA_CERTS emptied under BENCH_CA=unset. */
const vmlabEnv = (env: Record<string, string> = {}): Record<string, string> | undefined =>
  CA_UNSET ? { ...env, NODE_EXTRA_CA_CERTS: "" } : Object.keys(env).length > 0 ? env : undefined;
/** Whether the part is asked for (all but the pipe and the early read, unless BENCH_ONLY names one). */
const part = (name: string) => (ONLY === undefined ? name !== "pipe" && name !== "early" : ONLY === name);

interface Timed {
  seconds: number;
  /** CPU seconds of the process and its threads (user + system), to 10 ms */
  cpu: number;
  out: string;
  err: string;
  /** `vmlab trace` with VMLAB_TRACE_CPU=1: CPU seconds of its main thread and of its reading thread */
  threads?: { main: number; reading: number; mainWaited: number; readingWaited: number };
  /** the same line's raw slots whose totals the main thread counted, and the ring's slots used (if it says) */
  ring?: { counted: number; used: number };
}

/** CPU seconds of this process's waited-for children so far (/proc/self/stat cutime + cstime). */
function childCpu(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[13]) + Number(f[14])) / 100; // fields 16 and 17, in clock ticks of 1/100 s
}

/** Runs a command to its end; wall-clock and CPU seconds and its standard output. */
function timed(cmd: string, args: string[], env?: Record<string, string>): Timed {
  const c0 = childCpu();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    maxBuffer: 1 << 26,
    env: env && { ...process.env, ...env },
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  const t =
    /^vmlab trace: main thread ([\d.]+) s CPU, reading thread ([\d.]+) s CPU; waited: main ([\d.]+) s for a slot, reading ([\d.]+) s/m.exec(
      r.stderr,
    );
  const g = /; totals counted by main: (\d+) of \d+ slots; ring: (\d+) of/m.exec(r.stderr);
  return {
    seconds,
    ring: g ? { counted: Number(g[1]), used: Number(g[2]) } : undefined,
    cpu: childCpu() - c0,
    out: r.stdout,
    err: r.stderr,
    threads: t
      ? { main: Number(t[1]), reading: Number(t[2]), mainWaited: Number(t[3]), readingWaited: Number(t[4]) }
      : undefined,
  };
}

/** The two commands RUNS times each, alternating: every time of each. */
function alternate(a: () => Timed, b: () => Timed): [Timed[], Timed[]] {
  const as: Timed[] = [];
  const bs: Timed[] = [];
  for (let i = 0; i < RUNS; i++) {
    as.push(a());
    bs.push(b());
  }
  return [as, bs];
}

const best = (ts: Timed[]) => Math.min(...ts.map((t) => t.seconds));
const worst = (ts: Timed[]) => Math.max(...ts.map((t) => t.seconds));
const range = (ts: Timed[]) => `${best(ts).toFixed(3)}-${worst(ts).toFixed(3)} s`;
const bestCpu = (ts: Timed[]) => Math.min(...ts.map((t) => t.cpu));

/** py-50M four times over (205 M references), made once. */
function py200(): string | null {
  const out = resolve(BUILD, "py-200M.u64.zst");
  if (existsSync(out)) return out;
  const src = resolve(SHARED, "traces", "py-50M.u64.zst");
  try {
    execFileSync("sh", [
      "-c",
      `zstd -dcq "${src}" "${src}" "${src}" "${src}" | zstd -q -3 -o "${out}.tmp" && mv "${out}.tmp" "${out}"`,
    ]);
    return out;
  } catch (e) {
    console.log(`py-200M not made (needs the zstd command): ${(e as Error).message.split("\n")[0]}`);
    return null;
  }
}

/** `vmlab trace FILE` as the machine-mode goal runs it (vmref's TLB and clock), JSON out: machine mode is the default. */
function machineArgs(file: string, frames: number): string[] {
  return [
    VMLAB,
    "trace",
    file,
    "--policy",
    "clock",
    "--tlb",
    "64x4,1536x12",
    "--frames",
    String(frames),
    "--json",
  ];
}

function machineVsVmref(vmref: string | null, file: string, frames: number): void {
  const name = file.split("/").pop();
  // VMLAB_TRACE_CPU=1: the CPU of each thread, which says which one bounds the wall clock (the
  // main thread's simulation, or the reading thread's zstd and fold)
  const vmlab = () =>
    timed(
      process.execPath,
      [...machineArgs(file, frames), "--mode", "machine", "--no-progress"],
      vmlabEnv({ VMLAB_TRACE_CPU: "1" }),
    );
  if (vmref === null) {
    const v = [vmlab(), vmlab(), vmlab()];
    console.log(`  ${name}, ${frames} frames: vmlab ${range(v)} (no vmref)`);
    return;
  }
  const [v, c] = alternate(vmlab, () => timed(vmref, ["--frames", String(frames), file]));
  const mine = JSON.parse(v[0].out).machine as Record<string, unknown>;
  const theirs = JSON.parse(c[0].out) as Record<string, unknown>;
  const diff = COUNTERS.filter((k) => String(mine[k]) !== String(theirs[k]));
  const records = Number(theirs.records);
  console.log(
    `  ${name}, ${frames} frames: vmlab ${range(v)} (${(records / best(v) / 1e6).toFixed(1)} M/s), vmref ${range(c)}; ratio vmlab/vmref = ${(best(c) / best(v)).toFixed(2)} (best against best; worst against worst ${(worst(c) / worst(v)).toFixed(2)}); counters ${diff.length ? `DIFFER: ${diff.join(", ")}` : "equal"}`,
  );
  // CPU time is less at the mercy of other jobs on the machine than wall-clock time
  console.log(
    `    CPU (user + system, best): vmlab ${bestCpu(v).toFixed(2)} s, vmref ${bestCpu(c).toFixed(2)} s; ratio ${(bestCpu(c) / bestCpu(v)).toFixed(2)}`,
  );
  const th = v.filter((t) => t.threads !== undefined);
  if (th.length > 0) {
    const f = (k: "main" | "reading" | "mainWaited" | "readingWaited") =>
      th.map((t) => t.threads![k].toFixed(2)).join(" ");
    console.log(
      `    vmlab's threads by run (wall ${v.map((t) => t.seconds.toFixed(2)).join(" ")} s): CPU main ${f("main")}, reading ${f("reading")} s; waited: main for a slot ${f("mainWaited")}, reading for a free one ${f("readingWaited")} s`,
    );
  }
  const rg = v.filter((t) => t.ring !== undefined);
  if (rg.length > 0)
    console.log(
      `    raw slots' totals counted by the main thread, by run: ${rg.map((t) => t.ring!.counted).join(" ")}; the ring's slots used: ${rg.map((t) => t.ring!.used).join(" ")}`,
    );
}

/** Machine mode with and without the launcher's early reading job (VMLAB_SPECULATE), alternating. */
function earlyRead(file: string, frames: number): void {
  const run = (on: boolean) => () =>
    timed(
      process.execPath,
      machineArgs(file, frames),
      vmlabEnv({ VMLAB_TRACE_CPU: "1", VMLAB_SPECULATE: on ? "1" : "0" }),
    );
  const [on, off] = alternate(run(true), run(false));
  if (on[0].out !== off[0].out.replace(/"seconds": [\d.e+-]+/, on[0].out.match(/"seconds": [\d.e+-]+/)![0]))
    throw new Error(`${file}: the runs with and without the early read differ`);
  const median = (ts: Timed[]) => ts.map((t) => t.seconds).sort((a, b) => a - b)[ts.length >> 1];
  const waits = (ts: Timed[]) => ts.map((t) => t.threads?.mainWaited.toFixed(2) ?? "-").join(" ");
  console.log(
    `  ${file.split("/").pop()}, ${frames} frames: early read ${best(on).toFixed(3)} s best, ${median(on).toFixed(3)} median; without ${best(off).toFixed(3)} s, ${median(off).toFixed(3)}; ratio ${(best(off) / best(on)).toFixed(2)} (best), ${(median(off) / median(on)).toFixed(2)} (median); main waited for a slot ${waits(on)} / ${waits(off)} s`,
  );
}

function policyLru(file: string, frames: number): void {
  const runs: Timed[] = [];
  for (let i = 0; i < RUNS; i++)
    runs.push(
      timed(
        process.execPath,
        [
          VMLAB,
          "trace",
          file,
          "--mode",
          "policy",
          "--policy",
          "lru",
          "--frames",
          String(frames),
          "--json",
          "--no-progress",
        ],
        vmlabEnv(),
      ),
    );
  const refs = Number(JSON.parse(runs[0].out).accesses);
  console.log(
    `  ${file.split("/").pop()}, ${frames} frames: ${(refs / best(runs) / 1e6).toFixed(1)} M refs/s whole process (${range(runs)}; goal 65); ${(refs / bestCpu(runs) / 1e6).toFixed(1)} M refs per CPU second`,
  );
}

/** `vmlab --version` and bare `node -e 0`, alternating: the best and the median of each. */
function startup(): void {
  const runs = Number(process.env.STARTUP_RUNS ?? 10);
  const vm: Timed[] = [];
  const bare: Timed[] = [];
  // with the environment's NODE_EXTRA_CA_CERTS, also both without it, in the same rounds (parsed
  // before any JavaScript runs: what it costs every Node start)
  const withCa = EXTRA_CA !== "" && !CA_UNSET;
  const without = { NODE_EXTRA_CA_CERTS: "" };
  const vmNo: Timed[] = [];
  const bareNo: Timed[] = [];
  timed(process.execPath, [VMLAB, "--version"]); // the bundle (and its code cache) made first
  for (let i = 0; i < runs; i++) {
    vm.push(timed(process.execPath, [VMLAB, "--version"], vmlabEnv()));
    bare.push(timed(process.execPath, ["-e", "0"], vmlabEnv()));
    if (!withCa) continue;
    vmNo.push(timed(process.execPath, [VMLAB, "--version"], without));
    bareNo.push(timed(process.execPath, ["-e", "0"], without));
  }
  const median = (ts: Timed[]) => ts.map((t) => t.seconds).sort((a, b) => a - b)[ts.length >> 1];
  console.log(
    `  vmlab --version ${best(vm).toFixed(3)} s best, ${median(vm).toFixed(3)} s median; node -e 0 ${best(bare).toFixed(3)} s best, ${median(bare).toFixed(3)} s median; above bare Node ${((best(vm) - best(bare)) * 1000).toFixed(0)} ms (best against best)${CA_UNSET ? " (NODE_EXTRA_CA_CERTS unset: BENCH_CA)" : ""}`,
  );
  if (!withCa) return;
  console.log(
    `  the same with NODE_EXTRA_CA_CERTS (${EXTRA_CA}) unset: vmlab --version ${best(vmNo).toFixed(3)} s best, ${median(vmNo).toFixed(3)} s median; node -e 0 ${best(bareNo).toFixed(3)} s best, ${median(bareNo).toFixed(3)} s median: the variable costs every Node start ${((median(bare) - median(bareNo)) * 1000).toFixed(0)} ms here (medians; CPU, best of each: ${(bestCpu(bare) * 1000).toFixed(0)} against ${(bestCpu(bareNo) * 1000).toFixed(0)} ms; BENCH_CA=unset runs vmlab without it)`,
  );
}

function sweep(file: string): void {
  const args = (jobs: number) => [
    VMLAB,
    "sweep",
    file,
    "--mode",
    "machine,policy",
    "--policy",
    "clock,lru",
    "--frames",
    "256,1024",
    "--jobs",
    String(jobs),
    "--json",
    "--no-progress",
  ];
  // VMLAB_SWEEP_CPU=1: each job thread says its CPU at its end (src/cli/sweepGroup.ts)
  const env = vmlabEnv({ VMLAB_SWEEP_CPU: "1" });
  const [one, two] = alternate(
    () => timed(process.execPath, args(1), env),
    () => timed(process.execPath, args(2), env),
  );
  const same =
    JSON.stringify(
      JSON.parse(one[0].out).results.map((r: { summary: unknown }) => r.summary && strip(r.summary)),
    ) ===
    JSON.stringify(
      JSON.parse(two[0].out).results.map((r: { summary: unknown }) => r.summary && strip(r.summary)),
    );
  console.log(
    `  ${file.split("/").pop()}, 8 configurations: 1 worker ${range(one)}, 2 workers ${range(two)}; speed-up ${(best(one) / best(two)).toFixed(2)}x, 2 workers' time over linear ${(best(two) / (best(one) / 2)).toFixed(2)} (goal <= 1.8; figures ${same ? "equal" : "DIFFER"})`,
  );
  // the sweep's CPU (all its threads): what decoding the trace once per sweep saves shows here,
  // and it is less at the mercy of other jobs on the machine than the wall clock
  console.log(
    `    CPU (user + system, best): 1 worker ${bestCpu(one).toFixed(2)} s, 2 workers ${bestCpu(two).toFixed(2)} s`,
  );
  // what the wall clock would be if every thread had a core of its own and the process two: the
  // slowest job thread, or half the process's CPU; on a loaded machine the wall clock says more of
  // the other jobs than of the sweep, and this says how the sweep's work divides between its threads
  const bound = (t: Timed) => {
    const jobs = [...t.err.matchAll(/^vmlab sweep: job thread \d+: ([\d.]+) s CPU/gm)].map((m) =>
      Number(m[1]),
    );
    return Math.max(...jobs, t.cpu / 2);
  };
  const b1 = Math.min(...one.map(bound));
  const b2 = Math.min(...two.map(bound));
  console.log(
    `    CPU-bound estimate (slowest job thread, or half the CPU; best): 1 worker ${b1.toFixed(2)} s, 2 workers ${b2.toFixed(2)} s; 2 workers' over linear ${(b2 / (b1 / 2)).toFixed(2)}`,
  );
}

/** A summary without its timing. */
function strip(s: unknown): unknown {
  const { seconds: _s, ...rest } = s as Record<string, unknown>;
  return rest;
}

/** Peak RSS (VmHWM) of a live process in KiB, or 0 once it is gone. */
function hwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** gen | trace - with `refs` references; the peak RSS of each side sampled during the run. */
async function pipe(refs: number): Promise<void> {
  const t0 = process.hrtime.bigint();
  const gen = spawn(
    process.execPath,
    [VMLAB, "gen", "hotcold", "--pages", "64", "--refs", String(refs), "--write-ratio", "0.3"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const trace = spawn(
    process.execPath,
    [VMLAB, "trace", "-", "--frames", "1024", "--json", "--no-progress"],
    {
      stdio: [gen.stdout, "pipe", "inherit"],
    },
  );
  let out = "";
  trace.stdout.setEncoding("utf8");
  trace.stdout.on("data", (s: string) => {
    out += s;
  });
  const peak = { gen: 0, trace: 0 };
  const samples: number[] = [];
  const timer = setInterval(() => {
    peak.gen = Math.max(peak.gen, hwm(gen.pid!));
    const t = hwm(trace.pid!);
    peak.trace = Math.max(peak.trace, t);
    if (t > 0) samples.push(t);
  }, 100);
  const code = await new Promise<number | null>((res) => trace.on("close", res));
  clearInterval(timer);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (code !== 0) throw new Error(`trace - exited with ${code}`);
  const r = JSON.parse(out);
  // the trace side's peak at a tenth of the run and at its end: constant memory keeps them equal
  const early = samples[Math.floor(samples.length / 10)] ?? 0;
  console.log(
    `  ${refs.toExponential(0)} references: ${seconds.toFixed(1)} s, ${(r.accesses / seconds / 1e6).toFixed(1)} M/s; peak RSS trace ${(peak.trace / 1024).toFixed(0)} MiB (${(early / 1024).toFixed(0)} MiB a tenth of the way), gen ${(peak.gen / 1024).toFixed(0)} MiB; ${r.faults} faults, ${r.accesses} accesses`,
  );
}

async function main(): Promise<void> {
  const built = buildVmref();
  const vmref = "path" in built ? built.path : null;
  if (vmref === null && "error" in built) console.log(`C reference unavailable: ${built.error}`);
  const traces = resolve(SHARED, "traces");
  const big = part("machine") || part("policy") || part("early") ? py200() : null;
  console.log(
    `node ${process.version}; whole processes (node's start included), ${RUNS} runs each, alternating; wall-clock ranges`,
  );
  if (EXTRA_CA !== "")
    console.log(
      CA_UNSET
        ? "(BENCH_CA=unset: vmlab runs with NODE_EXTRA_CA_CERTS unset, as on a machine without it)"
        : `(NODE_EXTRA_CA_CERTS=${EXTRA_CA} here: Node parses it at every start, before any JavaScript; the start-up part says what it costs, BENCH_CA=unset runs vmlab without it)`,
    );
  console.log("");
  if (part("machine")) {
    console.log("machine mode (goal 1: vmlab/vmref >= 1.0, counters equal)");
    machineVsVmref(vmref, resolve(traces, "gzip-10M.u64.zst"), 1024);
    machineVsVmref(vmref, resolve(traces, "py-50M.u64.zst"), 256);
    machineVsVmref(vmref, resolve(traces, "py-50M.u64.zst"), 1024);
    if (big) machineVsVmref(vmref, big, 1024);
  }
  if (part("policy")) {
    console.log("\npolicy mode LRU (goal 1: >= 65 M references/s)");
    policyLru(resolve(traces, "gzip-10M.u64.zst"), 1024);
    policyLru(resolve(traces, "py-50M.u64.zst"), 1024);
    if (big) policyLru(big, 1024);
  }
  if (part("early")) {
    console.log("\nmachine mode with the launcher's early read against without it (same output)");
    earlyRead(resolve(traces, "py-50M.u64.zst"), 256);
    earlyRead(resolve(traces, "py-50M.u64.zst"), 1024);
    if (big) earlyRead(big, 1024);
  }
  if (part("startup")) {
    console.log("\nstart-up (every command's fixed cost)");
    startup();
  }
  if (part("sweep")) {
    console.log("\nsweep, one worker against two (goal 5)");
    sweep(resolve(traces, "gzip-10M.u64.zst"));
    sweep(resolve(traces, "py-50M.u64.zst"));
  }
  if (process.env.BENCH_BILLION === "1" || ONLY === "pipe") {
    console.log("\nvmlab gen hotcold --pages 64 --write-ratio 0.3 | vmlab trace - --frames 1024 (goal 4)");
    await pipe(1e7);
    await pipe(Number(process.env.BENCH_REFS ?? 1e9));
  } else console.log("\n(the 10^9-reference pipe: BENCH_BILLION=1)");
}

await main();
