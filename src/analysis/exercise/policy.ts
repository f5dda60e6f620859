/**
 * `vmlab exercise policy`: a reference string and a frame count; for each
 * reference, hit or miss and the page evicted, under FIFO, LRU, OPT and
 * CLOCK (or the policies asked for). The answers are policy mode's own
 * (analysis/policy/simulate.ts: the frame table and the policies of
 * `vmlab policy`), so `vmlab policy --refs ... --frames ... --policy P`
 * prints the same table.
 *
 * With `belady`, the string is one where FIFO misses more with one frame
 * more (Belady, Nelson and Shedler 1969, "An anomaly in space-time
 * characteristics of certain programs running in a paging machine"): the
 * student runs FIFO at F and F + 1 frames, and LRU at both, which as a
 * stack algorithm (Mattson et al. 1970) cannot show the anomaly.
 */
import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import { POLICY_NAMES } from "../policy/policies.ts";
import { type PolicyResult, simulate } from "../policy/simulate.ts";
import { counted } from "./tlb.ts";

export interface PolicyExerciseOptions {
  seed: number;
  /** references in the string */
  count: number;
  /** distinct pages the string draws from (0..pages-1) */
  pages: number;
  /** frames; null: 3 or 4, from the seed */
  frames: number | null;
  policies: readonly string[];
  /** find a string that shows Belady's anomaly under FIFO (policies: fifo and lru, at F and F + 1 frames) */
  belady?: boolean;
}

export const DEFAULT_EXERCISE_POLICIES = ["fifo", "lru", "opt", "clock"] as const;

export interface PolicyExercise {
  seed: number;
  refs: number[];
  frames: number;
  policies: readonly string[];
  /** the string shows Belady's anomaly: the answers run each policy at frames and frames + 1 */
  belady: boolean;
}

/** Checks the policy names (policy mode's, `all` for every one). */
export function exercisePolicies(list: string): string[] {
  if (list === "all") return [...POLICY_NAMES];
  const names = list.split(",").map((s) => s.trim());
  for (const n of names)
    if (!(POLICY_NAMES as readonly string[]).includes(n))
      throw new InputError(`--policy: '${n}' is not a policy (${POLICY_NAMES.join(", ")}, or all)`);
  return names;
}

/**
 * A reference string with locality: most references go to a working set of
 * frames + 1 pages (so that something must be evicted), which drifts as
 * the other references bring in new pages; no page is referenced twice in
 * a row. The same options give the same string.
 */
export function generatePolicyExercise(o: PolicyExerciseOptions): PolicyExercise {
  const rng = new Rng(o.seed);
  const frames = o.frames ?? 3 + rng.below(2);
  if (o.belady)
    return {
      seed: o.seed,
      refs: beladyRefs(rng, o, frames),
      frames,
      policies: ["fifo", "lru"],
      belady: true,
    };
  // drawn again (from the same stream) until it needs evictions: more distinct pages than frames
  let refs: number[] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    refs = drawRefs(rng, o.count, o.pages, frames);
    if (new Set(refs).size > frames || o.pages <= frames) break;
  }
  return { seed: o.seed, refs, frames, policies: o.policies, belady: false };
}

/** Strings tried before giving up on an anomaly (each a FIFO run at two sizes). */
const BELADY_TRIES = 200_000;

const fifoMisses = (refs: number[], frames: number) => simulate(refs, "fifo", frames).misses;

/**
 * Uniform strings over the pages, drawn until FIFO misses more at frames + 1 than at frames.
 * The anomaly needs more distinct pages than frames + 1 and enough references to cycle through
 * them twice: a clear error when none turns up.
 */
function beladyRefs(rng: Rng, o: PolicyExerciseOptions, frames: number): number[] {
  if (o.pages < frames + 2)
    throw new InputError(`--belady needs --pages of at least frames + 2 (${frames + 2}), not ${o.pages}`);
  // long strings rarely show it and each try costs their length: the draws are bounded by work
  const tries = Math.min(BELADY_TRIES, Math.ceil(BELADY_WORK / o.count));
  for (let t = 0; t < tries; t++) {
    const refs: number[] = [];
    for (let i = 0; i < o.count; i++) {
      let p: number;
      do p = rng.below(o.pages);
      while (p === refs[i - 1]);
      refs.push(p);
    }
    if (fifoMisses(refs, frames + 1) > fifoMisses(refs, frames)) return refs;
  }
  const built = classicBelady(rng, o, frames);
  if (built !== null) return built;
  throw new InputError(
    `--belady: no string of ${o.count} references over ${o.pages} pages showed the anomaly at ${frames} frames in ${tries.toLocaleString("en-US")} tries` +
      (frames < 3
        ? "; give --frames of 3 or more"
        : `; give -n of at least ${3 * frames + 3} (Belady's string for ${frames} frames)`),
  );
}

/** References simulated (twice each) before the search gives up: about a second. */
const BELADY_WORK = 3_000_000;

/**
 * Belady, Nelson and Shedler's string (1 2 3 4 1 2 5 1 2 3 4 5 for 3 frames) widened to F >= 3
 * frames: 1..F+1, 1..F-1, F+2, 1..F-1, F, F+1, F+2 (3F + 3 references; FIFO misses 2F + 3 times
 * with F frames, 2F + 4 with F + 1), its pages F + 2 distinct ones the seed picks; the rest of
 * the string alternates pages F and F + 1, held at both sizes, so each is a hit at both and
 * FIFO's queues do not move. Null when the string does not fit in the references asked for.
 */
function classicBelady(rng: Rng, o: PolicyExerciseOptions, frames: number): number[] | null {
  if (frames < 3 || o.count < 3 * frames + 3) return null;
  const label: number[] = [];
  while (label.length < frames + 2) {
    const p = rng.below(o.pages);
    if (!label.includes(p)) label.push(p);
  }
  const run = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
  const refs = [
    ...run(1, frames + 1),
    ...run(1, frames - 1),
    frames + 2,
    ...run(1, frames - 1),
    frames,
    frames + 1,
    frames + 2,
  ];
  while (refs.length < o.count) refs.push(refs.length % 2 === 0 ? frames : frames + 1);
  const out = refs.map((r) => label[r - 1]);
  if (!(fifoMisses(out, frames + 1) > fifoMisses(out, frames)))
    throw new Error(`exercise policy: Belady's string shows no anomaly at ${frames} frames`);
  return out;
}

function drawRefs(rng: Rng, count: number, pages: number, frames: number): number[] {
  const ws: number[] = [];
  while (ws.length < Math.min(pages, frames + 1)) {
    const p = rng.below(pages);
    if (!ws.includes(p)) ws.push(p);
  }
  const refs: number[] = [];
  for (let t = 0; t < count; t++) {
    let page: number;
    do {
      if (rng.float() < 0.75) page = rng.pick(ws);
      else {
        page = rng.below(pages);
        if (!ws.includes(page)) ws[rng.below(ws.length)] = page;
      }
    } while (page === refs[t - 1]);
    refs.push(page);
  }
  return refs;
}

export function policyProblem(ex: PolicyExercise): string[] {
  if (ex.belady)
    return [
      `Page replacement exercise (Belady's anomaly): seed ${ex.seed}`,
      "",
      `Reference string (${ex.refs.length} references): ${ex.refs.join(" ")}`,
      `Frames: ${ex.frames}, then ${ex.frames + 1}; all empty at the start.`,
      "",
      `1. Run FIFO with ${ex.frames} frames and with ${ex.frames + 1}: each reference's hit or miss and the page`,
      "   evicted; the misses of each. What is odd?",
      `2. Run LRU with ${ex.frames} frames and with ${ex.frames + 1}. Can LRU ever do this, and why not?`,
      "",
      `Check: vmlab policy --refs ${ex.refs.join(",")} --frames ${ex.frames} --policy fifo (and --frames ${ex.frames + 1})`,
    ];
  return [
    `Page replacement exercise: seed ${ex.seed}`,
    "",
    `Reference string (${ex.refs.length} references): ${ex.refs.join(" ")}`,
    `Frames: ${ex.frames}, all empty at the start.`,
    "",
    `For each policy (${ex.policies.map((p) => p.toUpperCase()).join(", ")}) and each reference, say hit or miss,`,
    "and for a miss that finds no free frame, which page is evicted; then the totals.",
    "",
    `Check: vmlab policy --refs ${ex.refs.join(",")} --frames ${ex.frames} --policy ${ex.policies[0] ?? "lru"}`,
  ];
}

/** The answers: policy mode's per-reference table for each policy, and its totals. */
export function solvePolicy(ex: PolicyExercise): { answers: string[]; results: PolicyResult[] } {
  const runs = ex.belady
    ? ex.policies.flatMap((p) => [ex.frames, ex.frames + 1].map((frames) => ({ p, frames })))
    : ex.policies.map((p) => ({ p, frames: ex.frames }));
  const results = runs.map(({ p, frames }) => simulate(ex.refs, p, frames, { table: true, seed: ex.seed }));
  const answers: string[] = [];
  const width = Math.max(4, ...ex.refs.map((r) => String(r).length));
  for (const [n, r] of results.entries()) {
    const frames = runs[n].frames;
    answers.push(ex.belady ? `${r.policy.toUpperCase()}, ${frames} frames:` : `${r.policy.toUpperCase()}:`);
    answers.push(
      `  ${"t".padStart(3)}  ${"page".padStart(width)}  result  ${"evicts".padStart(width)}  frames`,
    );
    r.accesses!.forEach((a, i) => {
      const held = Array.from({ length: frames }, (_, k) =>
        (k < a.frames.length ? String(a.frames[k]) : ".").padStart(width),
      ).join(" ");
      answers.push(
        `  ${String(i + 1).padStart(3)}  ${String(a.page).padStart(width)}  ${a.hit ? "hit " : "MISS"}    ${(a.victim === null ? "" : String(a.victim)).padStart(width)}  ${held}`,
      );
    });
    answers.push(
      `  ${counted(r.hits, "hit")}, ${counted(r.misses, "miss")} (${r.firstRefs} compulsory), ${counted(r.evictions, "eviction")}`,
      "",
    );
  }
  if (ex.belady) {
    const [f0, f1, l0, l1] = results.map((r) => r.misses);
    answers.push(
      `FIFO misses ${f1} times with ${ex.frames + 1} frames against ${f0} with ${ex.frames}: more memory, more misses`,
      "(Belady's anomaly). FIFO's frames at one size need not hold those at the other.",
      `LRU misses ${l1} times with ${ex.frames + 1} frames against ${l0} with ${ex.frames}: LRU is a stack algorithm (the`,
      `pages it holds in ${ex.frames} frames are always among those it holds in ${ex.frames + 1}), so one more frame never costs a miss.`,
    );
  }
  return { answers, results };
}
