import { POLICY_NAMES, policyName } from "../analysis/policy/policies.ts";
import { type PolicyResult, parseRefs, simulate } from "../analysis/policy/simulate.ts";
import { InputError } from "../base/errors.ts";

export interface PolicyCliOptions {
  refs: string;
  frames: string;
  policy: string;
  json: boolean;
  table?: boolean;
  seed: string;
}

/** Above this many references the per-access table is left out unless asked for. */
const TABLE_LIMIT = 200;
/** --json's rows hold the frames after each access: at most this many numbers in all. */
const JSON_CELL_LIMIT = 20_000_000;

/**
 * `vmlab policy`: a page-replacement exercise. Prints the per-access table
 * (hit or miss, the victim, the frames after) for short inputs, then the
 * counts; `--policy all` compares every policy; `--json` prints
 * {"accesses": [...], "hits": N, "misses": N} (an array of those for all), a row per reference.
 */
export function runPolicyCli(o: PolicyCliOptions): string {
  const refs = parseRefs(o.refs);
  const frames = Number(o.frames);
  if (!/^\d+$/.test(o.frames) || frames < 1)
    throw new InputError(`--frames must be a positive integer, not '${o.frames}'`);
  const seed = Number(o.seed);
  if (!Number.isSafeInteger(seed)) throw new InputError(`--seed must be an integer, not '${o.seed}'`);
  const names = o.policy === "all" ? [...POLICY_NAMES] : [policyName(o.policy)];
  // frames beyond the distinct pages are never used (no page is ever evicted then, whatever the
  // policy): the simulation gets no more than it can use, the report says what was asked for
  const simFrames = Math.min(frames, new Set(refs).size);
  // --json has a row for every reference, whatever the length (OSTEP's streams run to
  // thousands); the text table only up to TABLE_LIMIT unless --table asks
  const table = o.json || (o.table ?? refs.length <= TABLE_LIMIT);
  const cells = refs.length * simFrames * (o.json ? names.length : 1);
  if (o.json && cells > JSON_CELL_LIMIT)
    throw new InputError(
      `--json: ${refs.length} references × ${simFrames} frames${names.length > 1 ? ` × ${names.length} policies` : ""} is more than vmlab lists (${JSON_CELL_LIMIT.toLocaleString("en-US")} frame cells); vmlab trace --mode policy gives the counts of any length`,
    );
  const results = names.map((n) =>
    simulate(refs, n, simFrames, { seed, table: table && (o.json || names.length === 1) }),
  );
  if (o.json) {
    const doc = results.map((r) => ({
      policy: r.policy,
      frames,
      // the frames in use, in frame order (frames fill in order and are never emptied, so no gap is lost)
      ...(r.accesses ? { accesses: r.accesses } : {}),
      hits: r.hits,
      misses: r.misses,
    }));
    return JSON.stringify(doc.length === 1 ? doc[0] : doc, null, 2);
  }
  const lines: string[] = [];
  if (results.length === 1 && results[0].accesses) lines.push(...formatTable(results[0], simFrames));
  lines.push(
    `${"policy".padEnd(14)} ${"misses".padStart(8)} ${"hits".padStart(8)} ${"miss ratio".padStart(10)}   (${refs.length} references, ${frames} frames)`,
  );
  for (const r of results) {
    lines.push(
      `${r.policy.padEnd(14)} ${String(r.misses).padStart(8)} ${String(r.hits).padStart(8)} ${((100 * r.misses) / refs.length).toFixed(1).padStart(9)}%`,
    );
  }
  return lines.join("\n");
}

/** The table's frame columns: the frames that can be used (`.` for one still empty). */
function formatTable(r: PolicyResult, columns: number): string[] {
  const width = Math.max(4, ...r.accesses!.map((a) => String(a.page).length));
  const cell = (i: number, frames: number[]) => (i < frames.length ? String(frames[i]) : ".").padStart(width);
  const row = (frames: number[]) => Array.from({ length: columns }, (_, i) => cell(i, frames)).join(" ");
  const lines = [
    `${"t".padStart(4)}  ${"page".padStart(width)}  result  ${"victim".padStart(width)}  frames`,
  ];
  r.accesses!.forEach((a, i) => {
    lines.push(
      `${String(i + 1).padStart(4)}  ${String(a.page).padStart(width)}  ${a.hit ? "hit   " : "MISS  "}  ${a.victim === null ? " ".repeat(width) : String(a.victim).padStart(width)}  ${row(a.frames)}`,
    );
  });
  lines.push("");
  return lines;
}
