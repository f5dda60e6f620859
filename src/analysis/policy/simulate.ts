import { InputError } from "../../base/errors.ts";
import type { Policy } from "./Policy.ts";
import { makePolicy } from "./policies.ts";

/** One access of a per-access table. */
export interface AccessRow {
  page: number;
  hit: boolean;
  victim: number | null;
  /** the pages in the frames in use after the access, by frame (frames fill in order and never empty) */
  frames: number[];
}

export interface PolicyResult {
  policy: string;
  frames: number;
  hits: number;
  misses: number;
  /** misses that found a free frame */
  coldMisses: number;
  /** misses that were the page's first reference (compulsory misses) */
  firstRefs: number;
  evictions: number;
  /** per-access rows, when asked for */
  accesses?: AccessRow[];
}

/**
 * The frame table of policy mode, fed one reference at a time (a trace of
 * any length streams through it). A miss takes a free frame if there is
 * one, else the policy's victim's frame. With `table`, records every access
 * (for short, textbook-sized inputs); a row holds the frames in use, never
 * the empty ones (--frames 67108864 costs nothing per row).
 */
export class PolicySim {
  private readonly policy: Policy;
  private readonly slotOf = new Map<number, number>();
  private readonly seen = new Set<number>();
  /** the page in each frame in use (frames fill in order: this grows to at most `frames`) */
  private readonly pageAt: number[] = [];
  private used = 0;
  private t = 0;
  hits = 0;
  cold = 0;
  evictions = 0;
  /** the last access's victim (null: a hit or a free frame) */
  lastVictim: number | null = null;
  readonly rows: AccessRow[] | undefined;

  constructor(
    /** a policy of makePolicy's by name, or one built by the caller */
    policyName: string | Policy,
    readonly frames: number,
    opts: { seed?: number; table?: boolean; refs?: ArrayLike<number>; nruPeriod?: number } = {},
  ) {
    if (!Number.isInteger(frames) || frames < 1)
      throw new InputError(`frames must be a positive integer, not ${frames}`);
    if (frames > 1 << 26) throw new InputError(`frames=${frames} is more than vmlab simulates (67,108,864)`);
    this.policy =
      typeof policyName === "string"
        ? makePolicy(policyName, { frames, seed: opts.seed, refs: opts.refs, nruPeriod: opts.nruPeriod })
        : policyName;
    this.rows = opts.table ? [] : undefined;
  }

  /** One reference to `page` (a store when `write`). Returns whether it hit. */
  access(page: number, write: boolean): boolean {
    const t = this.t++;
    const policy = this.policy;
    if (this.slotOf.has(page)) {
      this.hits++;
      this.lastVictim = null;
      policy.hit(page, t, write);
      this.rows?.push({ page, hit: true, victim: null, frames: this.pageAt.slice() });
      return true;
    }
    this.seen.add(page);
    let slot: number;
    let victim: number | null = null;
    if (this.used < this.frames) {
      slot = this.used++;
      this.cold++;
    } else {
      victim = policy.victim(page, t);
      const s = this.slotOf.get(victim);
      if (s === undefined) throw new Error(`${policy.name}: victim ${victim} is not resident`);
      slot = s;
      this.slotOf.delete(victim);
      policy.remove(victim);
      this.evictions++;
    }
    this.lastVictim = victim;
    this.slotOf.set(page, slot);
    this.pageAt[slot] = page;
    policy.insert(page, slot, t, write);
    this.rows?.push({ page, hit: false, victim, frames: this.pageAt.slice() });
    return false;
  }

  result(): PolicyResult {
    return {
      policy: this.policy.name,
      frames: this.frames,
      hits: this.hits,
      misses: this.t - this.hits,
      coldMisses: this.cold,
      firstRefs: this.seen.size,
      evictions: this.evictions,
      accesses: this.rows,
    };
  }
}

/** Runs a whole reference string through a policy with `frames` frames. */
export function simulate(
  refs: ArrayLike<number>,
  policyName: string,
  frames: number,
  opts: { seed?: number; table?: boolean; writes?: ArrayLike<number>; nruPeriod?: number } = {},
): PolicyResult {
  const sim = new PolicySim(policyName, frames, { ...opts, refs });
  for (let t = 0; t < refs.length; t++) sim.access(refs[t], opts.writes ? opts.writes[t] === 1 : false);
  return sim.result();
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
