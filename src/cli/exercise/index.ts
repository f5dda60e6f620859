/**
 * `vmlab exercise walk|tables|tlb|eat|policy|buddy|kmem|ipt|scenario|flush|cache`: problems a teacher can hand
 * out, one per seed (the same seed gives the same problem on every
 * machine: base/rng.ts), with `--solve` for the answers, each computed by
 * vmlab's own machinery (docs/exercises.md). The command and its flags
 * are in command.ts.
 */

import { buddyProblem, generateBuddyExercise, solveBuddy } from "../../analysis/exercise/buddy.ts";
import { generateIptExercise, iptProblem, solveIpt } from "../../analysis/exercise/ipt.ts";
import {
  exercisePolicies,
  generatePolicyExercise,
  policyProblem,
  solvePolicy,
} from "../../analysis/exercise/policy.ts";
import { generateTlbExercise, solveTlb, tlbProblem } from "../../analysis/exercise/tlb.ts";
import { InputError } from "../../base/errors.ts";
import {
  CACHE_EXERCISE_KINDS,
  cacheProblem,
  generateCacheExercise,
  solveCache,
} from "../../workloads/exercise/cache.ts";
import { eatProblem, generateEatExercise, solveEat } from "../../workloads/exercise/eat.ts";
import { flushProblem, generateFlushExercise, solveFlush } from "../../workloads/exercise/flush.ts";
import { generateKmemExercise, kmemProblem, solveKmem } from "../../workloads/exercise/kmem.ts";
import {
  generateScenarioExercise,
  scenarioProblem,
  solveScenario,
} from "../../workloads/exercise/scenario.ts";
import {
  generateTablesExercise,
  solveTables,
  TABLES_EXERCISE_ARCHES,
  tablesProblem,
} from "../../workloads/exercise/tables.ts";
import {
  generateWalkExercise,
  solveWalk,
  type WalkExercise,
  walkExerciseArches,
  walkProblem,
} from "../../workloads/exercise/walk.ts";
import { EXERCISE_GRANULES, generateGranuleExercise } from "../../workloads/exercise/walkGranule.ts";
import { writeWhole } from "../shared/output.ts";

/** An integer flag within [min, max], or a clear error naming the flag. */
export function intFlag(flag: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new InputError(`${flag} must be an integer from ${min} to ${max}, not '${text}'`);
  return Number(text);
}

const seedOf = (text: string): number => intFlag("--seed", text, 0, 0xffffffff);

/** Problem, then (with --solve) the answers. */
function emit(problem: string[], answers: string[] | null): string {
  const out = [...problem];
  if (answers !== null) out.push("", "Answers:", "", ...answers);
  while (out.length > 0 && out[out.length - 1] === "") out.pop();
  return `${out.join("\n")}\n`;
}

export interface WalkExerciseFlags {
  arch?: string;
  granule?: string;
  seed: string;
  n: string;
  solve: boolean;
  out?: string;
}

/** `vmlab exercise walk`. */
export function runWalkExercise(o: WalkExerciseFlags): string {
  if (o.arch === undefined) throw new InputError(`give --arch (${walkExerciseArches().join(", ")})`);
  const opts = { arch: o.arch, seed: seedOf(o.seed), count: intFlag("-n", o.n, 1, 100) };
  let ex: WalkExercise;
  if (o.granule === undefined || o.granule === "4K") ex = generateWalkExercise(opts);
  else {
    if (o.arch !== "arm64") throw new InputError(`--granule ${o.granule}: arm64 only (TCR_EL1.TG0/TG1)`);
    const granule = EXERCISE_GRANULES.find((x) => x === o.granule);
    if (granule === undefined) throw new InputError(`--granule must be 4K, 16K or 64K, not '${o.granule}'`);
    ex = generateGranuleExercise(opts, granule);
  }
  if (o.out !== undefined) writeWhole(o.out, `${ex.imageText}\n`, "--out");
  return emit(walkProblem(ex, o.out ?? null), o.solve ? solveWalk(ex).answers : null);
}

export interface TablesExerciseFlags {
  arch?: string;
  seed: string;
  solve: boolean;
}

/** `vmlab exercise tables`. */
export function runTablesExercise(o: TablesExerciseFlags): string {
  if (o.arch === undefined) throw new InputError(`give --arch (${TABLES_EXERCISE_ARCHES.join(", ")})`);
  const ex = generateTablesExercise({ arch: o.arch, seed: seedOf(o.seed) });
  return emit(tablesProblem(ex), o.solve ? solveTables(ex).answers : null);
}

export interface TlbExerciseFlags {
  seed: string;
  n: string;
  entries: string;
  ways?: string;
  pages: string;
  processes: string;
  pcid: boolean;
  solve: boolean;
}

/** `vmlab exercise tlb`. */
export function runTlbExercise(o: TlbExerciseFlags): string {
  const entries = intFlag("--entries", o.entries, 1, 64);
  const ways = o.ways === undefined ? entries : intFlag("--ways", o.ways, 1, entries);
  const sets = entries / ways;
  if (!Number.isInteger(sets) || (sets & (sets - 1)) !== 0)
    throw new InputError(
      `--entries ${entries} / --ways ${ways} must divide into a power-of-two number of sets (entries / ways)`,
    );
  const processes = intFlag("--processes", o.processes, 1, 6);
  if (o.pcid && processes === 1)
    throw new InputError("--pcid needs --processes 2 or more (PCIDs tell address spaces apart)");
  const ex = generateTlbExercise({
    seed: seedOf(o.seed),
    count: intFlag("-n", o.n, 1, 200),
    entries,
    ways,
    pages: intFlag("--pages", o.pages, 1, 240),
    processes,
    pcid: o.pcid,
  });
  return emit(tlbProblem(ex), o.solve ? solveTlb(ex).answers : null);
}

export interface PolicyExerciseFlags {
  seed: string;
  n: string;
  pages: string;
  frames?: string;
  policy: string;
  /** a string that shows Belady's anomaly (FIFO and LRU at F and F + 1 frames) */
  belady?: boolean;
  solve: boolean;
}

/** `vmlab exercise policy`. */
export function runPolicyExercise(o: PolicyExerciseFlags): string {
  const ex = generatePolicyExercise({
    seed: seedOf(o.seed),
    count: intFlag("-n", o.n, 1, 200),
    pages: intFlag("--pages", o.pages, 2, 100),
    frames: o.frames === undefined ? null : intFlag("--frames", o.frames, 1, 32),
    policies: exercisePolicies(o.policy),
    belady: o.belady === true,
  });
  return emit(policyProblem(ex), o.solve ? solvePolicy(ex).answers : null);
}

export interface BuddyExerciseFlags {
  seed: string;
  n: string;
  frames: string;
  solve: boolean;
}

/** `vmlab exercise buddy`. */
export function runBuddyExercise(o: BuddyExerciseFlags): string {
  const frames = intFlag("--frames", o.frames, 16, 1024);
  if ((frames & (frames - 1)) !== 0) throw new InputError(`--frames must be a power of two, not ${frames}`);
  const ex = generateBuddyExercise({
    seed: seedOf(o.seed),
    count: intFlag("-n", o.n, 1, 100),
    orderOfMemory: Math.log2(frames),
  });
  return emit(buddyProblem(ex), o.solve ? solveBuddy(ex).answers : null);
}

export interface IptExerciseFlags {
  seed: string;
  n: string;
  frames: string;
  spaces: string;
  solve: boolean;
}

/** `vmlab exercise ipt`. */
export function runIptExercise(o: IptExerciseFlags): string {
  const ex = generateIptExercise({
    seed: seedOf(o.seed),
    count: intFlag("-n", o.n, 1, 100),
    frames: intFlag("--frames", o.frames, 8, 64),
    spaces: intFlag("--spaces", o.spaces, 1, 4),
  });
  return emit(iptProblem(ex), o.solve ? solveIpt(ex).answers : null);
}

export interface ScenarioExerciseFlags {
  seed: string;
  arch?: string;
  solve: boolean;
  out?: string;
}

/** `vmlab exercise scenario`. */
export function runScenarioExercise(o: ScenarioExerciseFlags): string {
  const ex = generateScenarioExercise({ seed: seedOf(o.seed), arch: o.arch ?? null });
  const problem = scenarioProblem(ex);
  if (o.out !== undefined) writeWhole(o.out, `${problem.join("\n")}\n`, "--out");
  return emit(problem, o.solve ? solveScenario(ex).answers : null);
}

export interface FlushExerciseFlags {
  seed: string;
  arch?: string;
  n: string;
  solve: boolean;
  out?: string;
}

/** `vmlab exercise flush`. */
export function runFlushExercise(o: FlushExerciseFlags): string {
  const ex = generateFlushExercise({
    seed: seedOf(o.seed),
    arch: o.arch ?? null,
    count: intFlag("-n", o.n, 1, 8),
  });
  const problem = flushProblem(ex);
  if (o.out !== undefined) writeWhole(o.out, `${problem.join("\n")}\n`, "--out");
  return emit(problem, o.solve ? solveFlush(ex).answers : null);
}

export interface CacheExerciseFlags {
  seed: string;
  kind?: string;
  n: string;
  solve: boolean;
  out?: string;
}

/** `vmlab exercise cache`. */
export function runCacheExercise(o: CacheExerciseFlags): string {
  const kind = CACHE_EXERCISE_KINDS.find((k) => k === o.kind) ?? null;
  if (o.kind !== undefined && kind === null)
    throw new InputError(`--kind must be one of ${CACHE_EXERCISE_KINDS.join(", ")}, not '${o.kind}'`);
  const ex = generateCacheExercise({ seed: seedOf(o.seed), kind, count: intFlag("-n", o.n, 1, 16) });
  const problem = cacheProblem(ex);
  if (o.out !== undefined) writeWhole(o.out, `${problem.join("\n")}\n`, "--out");
  return emit(problem, o.solve ? solveCache(ex).answers : null);
}

export interface EatExerciseFlags {
  seed: string;
  arch?: string;
  n: string;
  entries: string;
  psc: boolean;
  times?: string;
  solve: boolean;
}

/** `vmlab exercise eat`. */
export function runEatExercise(o: EatExerciseFlags): string {
  let times: [number, number, number] | null = null;
  if (o.times !== undefined) {
    const parts = o.times.split(",");
    if (parts.length !== 3)
      throw new InputError(`--times takes three numbers of ns, t,m,f (e.g. 20,100,5000), not '${o.times}'`);
    times = [
      intFlag("--times' TLB lookup", parts[0], 0, 1_000_000),
      intFlag("--times' memory access", parts[1], 1, 1_000_000),
      intFlag("--times' fault service", parts[2], 0, 1_000_000_000),
    ];
  }
  const ex = generateEatExercise({
    seed: seedOf(o.seed),
    arch: o.arch ?? "x86_64",
    count: intFlag("-n", o.n, 1, 100),
    entries: intFlag("--entries", o.entries, 1, 64),
    psc: o.psc,
    times,
  });
  return emit(eatProblem(ex), o.solve ? solveEat(ex).answers : null);
}

export interface KmemExerciseFlags {
  seed: string;
  arch?: string;
  n: string;
  cpus: string;
  solve: boolean;
}

/** `vmlab exercise kmem`. */
export function runKmemExercise(o: KmemExerciseFlags): string {
  const ex = generateKmemExercise({
    seed: seedOf(o.seed),
    arch: o.arch ?? "x86_64",
    count: intFlag("-n", o.n, 1, 30),
    cpus: intFlag("--cpus", o.cpus, 1, 64),
  });
  return emit(kmemProblem(ex), o.solve ? solveKmem(ex).answers : null);
}
