/**
 * `vmlab exercise policy`: a reference string and a frame count; for each
 * reference, hit or miss and the page evicted, under FIFO, LRU, OPT and
 * CLOCK (or the policies asked for). The answers are policy mode's own
 * (analysis/policy/simulate.ts: the frame table and the policies of
 * `vmlab policy`), so `vmlab policy --refs ... --frames ... --policy P`
 * prints the same table.
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
}

export const DEFAULT_EXERCISE_POLICIES = ["fifo", "lru", "opt", "clock"] as const;

export interface PolicyExercise {
  seed: number;
  refs: number[];
  frames: number;
  policies: readonly string[];
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
  // drawn again (from the same stream) until it needs evictions: more distinct pages than frames
  let refs: number[] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    refs = drawRefs(rng, o.count, o.pages, frames);
    if (new Set(refs).size > frames || o.pages <= frames) break;
  }
  return { seed: o.seed, refs, frames, policies: o.policies };
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
  const results = ex.policies.map((p) => simulate(ex.refs, p, ex.frames, { table: true, seed: ex.seed }));
  const answers: string[] = [];
  const width = Math.max(4, ...ex.refs.map((r) => String(r).length));
  for (const r of results) {
    answers.push(`${r.policy.toUpperCase()}:`);
    answers.push(
      `  ${"t".padStart(3)}  ${"page".padStart(width)}  result  ${"evicts".padStart(width)}  frames`,
    );
    r.accesses!.forEach((a, i) => {
      const frames = Array.from({ length: ex.frames }, (_, k) =>
        (k < a.frames.length ? String(a.frames[k]) : ".").padStart(width),
      ).join(" ");
      answers.push(
        `  ${String(i + 1).padStart(3)}  ${String(a.page).padStart(width)}  ${a.hit ? "hit " : "MISS"}    ${(a.victim === null ? "" : String(a.victim)).padStart(width)}  ${frames}`,
      );
    });
    answers.push(
      `  ${counted(r.hits, "hit")}, ${counted(r.misses, "miss")} (${r.firstRefs} compulsory), ${counted(r.evictions, "eviction")}`,
      "",
    );
  }
  return { answers, results };
}
