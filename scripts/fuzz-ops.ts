/**
 * One try of the `ops` fuzz target (scripts/fuzz.ts): the random-operation
 * fuzz of processes (test/fuzz/processModel.ts: spawn, fork, exit, mmap,
 * munmap, mprotect, MADV_PAGEOUT and accesses on two CPUs, checked against a
 * naive model with the invariant checker and the TLB coherence checker on)
 * with the parameters in a JSON file:
 *
 *   node --import tsx scripts/fuzz-ops.ts PARAMS.json
 *
 * {"seed": N, "steps": N, "pcid": bool, "thp": bool, "pressure": bool,
 *  "policy": "linux"|"mglru"|"clock"|"fifo"|"lru"|"random", "pti": bool}.
 * Exit 0 when every check held; a broken check prints the seed and the
 * failed rule and exits 3 (the harness counts it as a crash and keeps the
 * file); bad parameters exit 2.
 */
import { readFileSync } from "node:fs";
import { type FuzzPolicy, runFuzz } from "../test/fuzz/processModel.ts";

const POLICIES: readonly FuzzPolicy[] = ["linux", "mglru", "clock", "fifo", "lru", "random"];

function params(file: string) {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new RangeError(`${file}: ${(e as Error).message}`);
  }
  const int = (k: string, max: number): number => {
    const v = p[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max)
      throw new RangeError(`${file}: "${k}" must be an integer 0..${max}`);
    return v;
  };
  const bool = (k: string): boolean => {
    if (typeof p[k] !== "boolean") throw new RangeError(`${file}: "${k}" must be true or false`);
    return p[k] as boolean;
  };
  const seed = int("seed", 0x7fffffff);
  const steps = int("steps", 100_000);
  const flags = { pcid: bool("pcid"), thp: bool("thp"), pressure: bool("pressure"), pti: bool("pti") };
  const policy = p.policy as FuzzPolicy;
  if (!POLICIES.includes(policy))
    throw new RangeError(`${file}: "policy" must be one of ${POLICIES.join(", ")}`);
  return { seed, steps, ...flags, policy };
}

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write("usage: fuzz-ops PARAMS.json\n");
  process.exit(2);
}
let p: ReturnType<typeof params>;
try {
  p = params(file);
} catch (e) {
  process.stderr.write(`fuzz-ops: ${(e as Error).message}\n`);
  process.exit(2);
}
const quiet = console.log;
console.log = () => {}; // the model's progress lines
try {
  // coverage checks off: a short random run need not reach swap or the disk file
  runFuzz(p.seed, p.steps, p.pcid, p.thp, p.pressure, p.policy, p.pti, false);
  console.log = quiet;
} catch (e) {
  console.log = quiet;
  process.stderr.write(`fuzz-ops: ${JSON.stringify(p)}: a check failed: ${(e as Error).message}\n`);
  process.exit(3);
}
