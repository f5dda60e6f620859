/**
 * Policy mode's fast path for long traces: LRU, FIFO and CLOCK with one
 * hash lookup per reference (page -> frame) and the policy's state in typed
 * arrays indexed by frame. The results are those of PolicySim with the same
 * policy (checked by property tests); the per-access table is not kept.
 *
 * A reference to the page referenced just before is a hit that changes
 * nothing under these three policies (the page is LRU's most recent, and
 * its CLOCK reference bit is already set: no victim was chosen in between),
 * so it is counted without the lookup (py-50M: over 43% of its references).
 * The page -> frame map is a PageMap (typed arrays; a Map boxes page
 * numbers above 2^31 on every lookup).
 */
import { InputError } from "../../base/errors.ts";
import { ClockHand } from "../clockHand.ts";
import { LruList } from "../lruList.ts";
import { PageMap } from "../pageMap.ts";
import type { PolicyResult } from "./simulate.ts";

export const FAST_POLICIES = ["lru", "fifo", "clock"] as const;
export type FastPolicy = (typeof FAST_POLICIES)[number];

export class FastSim {
  private readonly slotOf: PageMap;
  private readonly seen = new Set<number>();
  private readonly pageAt: Float64Array;
  private readonly ref: Uint8Array;
  private readonly lru: LruList;
  private readonly kind: number;
  private used = 0;
  private readonly hand: ClockHand;
  private t = 0;
  /** the page referenced last (always resident), or -1 */
  private last = -1;
  hits = 0;
  evictions = 0;

  constructor(
    policy: FastPolicy,
    readonly frames: number,
  ) {
    if (!Number.isInteger(frames) || frames < 1)
      throw new InputError(`frames must be a positive integer, not ${frames}`);
    if (frames > 1 << 26) throw new InputError(`frames=${frames} is more than vmlab simulates (67,108,864)`);
    this.kind = FAST_POLICIES.indexOf(policy);
    if (this.kind < 0) throw new InputError(`no fast path for policy '${policy}'`);
    this.pageAt = new Float64Array(frames);
    this.slotOf = new PageMap(frames);
    this.hand = new ClockHand(frames);
    this.ref = new Uint8Array(this.kind === 2 ? frames : 0);
    this.lru = new LruList(this.kind === 0 ? frames : 0);
  }

  /** One reference; returns whether it hit. */
  access(page: number): boolean {
    this.t++;
    if (page === this.last) {
      this.hits++;
      return true;
    }
    this.last = page;
    const slot = this.slotOf.get(page);
    if (slot >= 0) {
      this.hits++;
      if (this.kind === 0) {
        this.lru.touch(slot);
      } else if (this.kind === 2) this.ref[slot] = 1;
      return true;
    }
    if (this.seen.size < 1 << 30) this.seen.add(page);
    let s: number;
    if (this.used < this.frames) s = this.used++;
    else {
      s = this.victim();
      this.slotOf.delete(this.pageAt[s]);
      this.evictions++;
      if (this.kind === 0) this.lru.unlink(s);
    }
    this.pageAt[s] = page;
    this.slotOf.set(page, s);
    if (this.kind === 0) this.lru.linkHead(s);
    else if (this.kind === 2) this.ref[s] = 1;
    return false;
  }

  private victim(): number {
    if (this.kind === 0) return this.lru.tail;
    return this.kind === 1 ? this.hand.fifo() : this.hand.clock(this.ref);
  }

  result(): PolicyResult {
    return {
      policy: FAST_POLICIES[this.kind],
      frames: this.frames,
      hits: this.hits,
      misses: this.t - this.hits,
      coldMisses: this.used,
      firstRefs: this.seen.size,
      evictions: this.evictions,
    };
  }
}
