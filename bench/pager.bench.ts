/**
 * `vmlab trace --pager linux` against machine mode (issue #20, goal 2): the
 * same trace through the kernel model's fault handling and through the
 * reference pager, each as a whole process (`bin/vmlab.cjs`, Node's start
 * included), one after the other, ROUNDS times. Prints each side's best and
 * median wall time, the ratio machine / linux (speed of --pager linux as a
 * fraction of machine mode's; the goal is 0.8 or more), and the TLB
 * counters of both, which must agree on the hit path (the kernel pager's
 * faults differ from the reference pager's only where memory runs short).
 *
 * Run: npm run bench:pager [-- TRACE [FRAMES]]   (default: gzip-10M, 1024 frames; ROUNDS=5)
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ROOT, SHARED } from "./common.ts";

const trace = process.argv[2] ?? resolve(SHARED, "traces", "gzip-10M.u64.zst");
const frames = process.argv[3] ?? "1024";
const rounds = Number(process.env.ROUNDS ?? 5);
const tlb = "64x4,1536x12";
const vmlab = resolve(ROOT, "bin", "vmlab.cjs");

function run(args: string[]): { seconds: number; out: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [vmlab, "trace", trace, ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`vmlab trace ${args.join(" ")} failed: ${r.stderr}`);
  return { seconds, out: r.stdout };
}

/** The "TLB L1 ... hits, ... misses" lines of a report. */
function tlbLines(out: string): string[] {
  return out
    .split("\n")
    .filter((l) => /^\s*TLB L\d/.test(l))
    .map((l) => l.trim().replace(/\s+/g, " "));
}

function main() {
  if (!existsSync(trace)) {
    console.log(`pager bench: no trace at ${trace}`);
    return;
  }
  const machineArgs = ["--mode", "machine", "--policy", "clock", "--tlb", tlb, "--frames", frames];
  const linuxArgs = [
    "--mode",
    "machine",
    "--pager",
    "linux",
    "--policy",
    "linux",
    "--tlb",
    tlb,
    "--frames",
    frames,
  ];
  console.log(
    `pager bench: ${trace}, ${frames} frames, TLB ${tlb}, ${rounds} rounds, whole processes, alternating`,
  );
  const m: number[] = [];
  const l: number[] = [];
  let outM = "";
  let outL = "";
  for (let i = 0; i < rounds; i++) {
    const a = run(machineArgs);
    const b = run(linuxArgs);
    m.push(a.seconds);
    l.push(b.seconds);
    outM = a.out;
    outL = b.out;
    console.log(
      `  round ${i + 1}: machine ${a.seconds.toFixed(2)} s, --pager linux ${b.seconds.toFixed(2)} s`,
    );
  }
  const best = (xs: number[]) => Math.min(...xs);
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const pairs = m.map((x, i) => x / l[i]).sort((x, y) => x - y);
  console.log(
    `  machine mode: best ${best(m).toFixed(2)} s, median ${median(m).toFixed(2)} s; --pager linux: best ${best(l).toFixed(2)} s, median ${median(l).toFixed(2)} s`,
  );
  console.log(
    `  --pager linux speed / machine mode: ${(best(m) / best(l)).toFixed(2)} (best against best), ${pairs[Math.floor(pairs.length / 2)].toFixed(2)} (median of the rounds' pairs); goal 0.80`,
  );
  console.log(`  machine mode  ${tlbLines(outM).join("; ")}`);
  console.log(`  --pager linux ${tlbLines(outL).join("; ")}`);
}

main();
