import { InputError } from "../../base/errors.ts";
import type { Policy } from "./Policy.ts";
import { makePolicy } from "./policies.ts";

/** One access of a per-access table. */
export interface AccessRow {
  page: number;
  hit: boolean;
  victim: number | null;
  /** frame contents after the access, by frame (null = empty) */
  frames: (number | null)[];
}

export interface PolicyResult {
  policy: string;
  frames: number;
  hits: number;
  misses: number;
  /** misses that found a free frame (cold misses) */
  coldMisses: number;
  evictions: number;
  /** per-access rows, when asked for */
  accesses?: AccessRow[];
}

/**
 * Runs a reference string through a policy with `frames` frames. A miss
 * takes a free frame if there is one, else the policy's victim's frame.
 * With `table`, records every access (for short, textbook-sized inputs).
 */
export function simulate(
  refs: ArrayLike<number>,
  policyName: string,
  frames: number,
  opts: { seed?: number; table?: boolean; writes?: ArrayLike<number>; nruPeriod?: number } = {},
): PolicyResult {
  if (!Number.isInteger(frames) || frames < 1)
    throw new InputError(`frames must be a positive integer, not ${frames}`);
  if (frames > 1 << 26) throw new InputError(`frames=${frames} is more than vmlab simulates (67,108,864)`);
  const policy: Policy = makePolicy(policyName, { frames, seed: opts.seed, refs, nruPeriod: opts.nruPeriod });
  const slotOf = new Map<number, number>();
  const pageAt: (number | null)[] = new Array(frames).fill(null);
  let used = 0;
  let hits = 0;
  let cold = 0;
  let evictions = 0;
  const rows: AccessRow[] | undefined = opts.table ? [] : undefined;
  for (let t = 0; t < refs.length; t++) {
    const page = refs[t];
    const write = opts.writes ? opts.writes[t] === 1 : false;
    if (slotOf.has(page)) {
      hits++;
      policy.hit(page, t, write);
      rows?.push({ page, hit: true, victim: null, frames: pageAt.slice() });
      continue;
    }
    let slot: number;
    let victim: number | null = null;
    if (used < frames) {
      slot = used++;
      cold++;
    } else {
      victim = policy.victim(page, t);
      slot = slotOf.get(victim)!;
      if (slot === undefined) throw new Error(`${policy.name}: victim ${victim} is not resident`);
      slotOf.delete(victim);
      policy.remove(victim);
      evictions++;
    }
    slotOf.set(page, slot);
    pageAt[slot] = page;
    policy.insert(page, slot, t, write);
    rows?.push({ page, hit: false, victim, frames: pageAt.slice() });
  }
  return {
    policy: policy.name,
    frames,
    hits,
    misses: refs.length - hits,
    coldMisses: cold,
    evictions,
    accesses: rows,
  };
}

/** Parses a page-reference list such as `1,2,3,4,1,2,5` (spaces allowed). */
export function parseRefs(text: string, where?: string): number[] {
  const parts = text.split(/[\s,]+/).filter((p) => p !== "");
  if (parts.length === 0) throw new InputError(`${where ?? "--refs"}: no page numbers`);
  return parts.map((p, i) => {
    if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(p))
      throw new InputError(`${where ?? "--refs"}: item ${i + 1} ('${p}') is not a page number`);
    const n = Number(p);
    if (!Number.isSafeInteger(n))
      throw new InputError(`${where ?? "--refs"}: item ${i + 1} ('${p}') is too large`);
    return n;
  });
}
