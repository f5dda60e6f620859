/**
 * Miss-ratio curves and working sets.
 *
 * - StackDistance: exact LRU stack distances in one pass (Mattson et al.,
 *   1970): a reference's distance is 1 + the number of distinct pages used
 *   since the page's last use. The top 16 of the LRU stack are kept in a
 *   small array (most re-references land there: distance = position); the
 *   pages below carry one mark each in a Fenwick tree, at the position they
 *   got when they left the top, so the marks after a page's own count the
 *   distinct pages used since besides the top's: O(log n) a reference.
 *   LRU with F frames hits exactly the references of distance <= F, so one
 *   pass gives the miss count at every memory size, equal to separate LRU
 *   runs. Positions are renumbered when the tree fills, so memory stays
 *   proportional to the number of distinct pages, not to the trace.
 * - Shards: the same over a spatially hashed sample of the pages (Waldspurger
 *   et al., FAST '15, fixed rate with the SHARDS-adj correction): distances
 *   are scaled by 1/R; for traces too long to do exactly.
 * - Denning's working set W(t, tau): distinct pages referenced in the last
 *   tau references, sampled every `every` references.
 */
import { InputError } from "../base/errors.ts";

/** A Fenwick tree of counts over positions 0..size-1. */
class Fenwick {
  readonly tree: Int32Array;
  constructor(readonly size: number) {
    this.tree = new Int32Array(size + 1);
  }
  add(i: number, d: number): void {
    const t = this.tree;
    for (let x = i + 1; x <= this.size; x += x & -x) t[x] += d;
  }
  /** sum of positions 0..i */
  prefix(i: number): number {
    const t = this.tree;
    let s = 0;
    for (let x = i + 1; x > 0; x -= x & -x) s += t[x];
    return s;
  }
}

export interface MissRatioPoint {
  frames: number;
  misses: number;
  missRatio: number;
}

export class StackDistance {
  /** page -> dense id */
  private readonly ids = new Map<number, number>();
  /**
   * The top of the LRU stack, most recent first, kept exactly in a small
   * array: most re-references land here and need no tree work at all.
   */
  private readonly top: Int32Array;
  private topLen = 0;
  /** per id: 1 while in `top`; else its position in the tree */
  private inTop = new Uint8Array(1024);
  private pos = new Int32Array(1024);
  /**
   * Pages below the top, one mark each at the position it got when it left
   * the top. Pages leave the top in recency order, so positions increase
   * with recency: the marks after a page's own are the distinct pages used
   * since, besides the top's.
   */
  private bit: Fenwick;
  private next = 0;
  private below = 0;
  /** hist[d]: references at stack distance d (1-based), weighted */
  private hist = new Float64Array(1024);
  /** first references (infinite distance), weighted */
  cold = 0;
  references = 0;

  /** `slots`: the tree's first size (renumbered when full, with room for four times the pages below the top). */
  constructor(
    private readonly slots = 1 << 16,
    topSize = 16,
  ) {
    this.bit = new Fenwick(slots);
    this.top = new Int32Array(topSize);
  }

  /** One reference to `page`, counting `weight` references (1, or 1/R when sampled). */
  access(page: number, weight = 1): void {
    this.references += weight;
    let id = this.ids.get(page);
    if (id === undefined) {
      this.cold += weight;
      id = this.ids.size;
      this.ids.set(page, id);
      if (id === this.inTop.length) this.grow();
      this.enterTop(id, this.topLen);
      return;
    }
    const top = this.top;
    if (this.inTop[id] === 1) {
      let i = 0;
      while (top[i] !== id) i++;
      this.record(i + 1, weight);
      // to the front
      for (let j = i; j > 0; j--) top[j] = top[j - 1];
      top[0] = id;
      return;
    }
    const p = this.pos[id];
    this.record(this.topLen + 1 + this.below - this.bit.prefix(p), weight);
    this.bit.add(p, -1);
    this.below--;
    this.enterTop(id, this.topLen);
  }

  /** `id` goes to the front of the top; if the top was full its last page goes below it. */
  private enterTop(id: number, len: number): void {
    const top = this.top;
    // in the top before a renumbering can look: only pages below the top carry marks
    this.inTop[id] = 1;
    let end = len;
    if (len === top.length) {
      const out = top[len - 1];
      if (this.next === this.bit.size) this.compact();
      this.inTop[out] = 0;
      this.pos[out] = this.next;
      this.bit.add(this.next++, 1);
      this.below++;
      end = len - 1;
    } else this.topLen++;
    for (let j = end; j > 0; j--) top[j] = top[j - 1];
    top[0] = id;
  }

  private grow(): void {
    const n = this.inTop.length * 2;
    const t = new Uint8Array(n);
    t.set(this.inTop);
    this.inTop = t;
    const p = new Int32Array(n);
    p.set(this.pos);
    this.pos = p;
  }

  protected record(d: number, weight: number): void {
    if (d >= this.hist.length) {
      const h = new Float64Array(Math.max(d + 1, this.hist.length * 2));
      h.set(this.hist);
      this.hist = h;
    }
    this.hist[d] += weight;
  }

  /** Renumbers the marks 0..m-1 in order, into a tree with room for four times as many. */
  private compact(): void {
    const ids: number[] = [];
    for (let id = 0; id < this.ids.size; id++) if (this.inTop[id] === 0) ids.push(id);
    ids.sort((x, y) => this.pos[x] - this.pos[y]);
    this.bit = new Fenwick(Math.max(this.slots, 4 * ids.length));
    ids.forEach((id, i) => {
      this.pos[id] = i;
      this.bit.add(i, 1);
    });
    this.next = ids.length;
  }

  /** Distinct pages seen. */
  get distinct(): number {
    return this.ids.size;
  }

  /** Misses of LRU with `frames` frames (exact): cold misses plus references of distance > frames. */
  misses(frames: number): number {
    let hits = 0;
    const h = this.hist;
    for (let d = 1; d <= frames && d < h.length; d++) hits += h[d];
    return this.references - hits;
  }

  /** The curve at the given sizes (one pass over the histogram). */
  curve(sizes: number[]): MissRatioPoint[] {
    const sorted = [...sizes].sort((a, b) => a - b);
    const out: MissRatioPoint[] = [];
    const h = this.hist;
    let hits = 0;
    let d = 1;
    for (const f of sorted) {
      for (; d <= f && d < h.length; d++) hits += h[d];
      const misses = this.references - hits;
      out.push({ frames: f, misses, missRatio: this.references > 0 ? misses / this.references : 0 });
    }
    return out;
  }
}

/**
 * SHARDS: only pages whose hash falls below R * 2^32 are tracked; each
 * sampled reference stands for 1/R references at distance d/R.
 */
export class Shards {
  private readonly sd = new ScaledDistance();
  private readonly threshold: number;
  /** all references, sampled or not */
  references = 0;
  sampled = 0;

  constructor(readonly rate: number) {
    if (!(rate > 0 && rate <= 1)) throw new InputError(`SHARDS rate must be in (0, 1], not ${rate}`);
    this.threshold = Math.floor(rate * 4294967296);
    this.sd.scale = 1 / rate;
  }

  access(page: number): void {
    this.references++;
    if (hash32(page) >= this.threshold) return;
    this.sampled++;
    this.sd.access(page, 1 / this.rate);
  }

  /**
   * The curve. SHARDS-adj puts the difference between the expected and the
   * actual number of sampled references into the smallest distance (hits at
   * every size), which corrects most of fixed-rate sampling's error: the
   * misses stay the sample's, scaled, over all references.
   */
  curve(sizes: number[]): MissRatioPoint[] {
    return this.sd.curve(sizes).map((p) => {
      const ratio = this.references > 0 ? Math.max(0, Math.min(1, p.misses / this.references)) : 0;
      return { frames: p.frames, misses: ratio * this.references, missRatio: ratio };
    });
  }

  get distinctEstimate(): number {
    return this.sd.distinct / this.rate;
  }
}

/** Stack distances scaled by 1/R (the d - 1 sampled pages in between stand for (d - 1)/R). */
class ScaledDistance extends StackDistance {
  scale = 1;
  protected override record(d: number, weight: number): void {
    // d - 1 distinct sampled pages came between: they stand for (d - 1) / R pages
    super.record(1 + Math.round((d - 1) * this.scale), weight);
  }
}

/** A 32-bit mix of a page number (murmur3's finaliser over both halves). */
export function hash32(page: number): number {
  let h = (page >>> 0) ^ Math.imul(Math.floor(page / 4294967296), 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Denning's working set: W(t, tau) sampled every `every` references. */
export class WorkingSet {
  private readonly last = new Map<number, number>();
  private t = 0;
  readonly samples: { t: number; wss: number }[] = [];

  constructor(
    readonly tau: number,
    readonly every: number,
  ) {
    if (!(Number.isInteger(tau) && tau >= 1))
      throw new InputError(`tau must be a positive integer, not ${tau}`);
    if (!(Number.isInteger(every) && every >= 1))
      throw new InputError(`the sampling interval must be a positive integer, not ${every}`);
  }

  access(page: number): void {
    this.last.set(page, this.t++);
    if (this.t % this.every === 0) this.sample();
  }

  private sample(): void {
    const from = this.t - this.tau;
    let w = 0;
    for (const [page, at] of this.last) {
      if (at >= from) w++;
      else if (at < from - 4 * this.tau) this.last.delete(page); // long gone: keep the map small
    }
    this.samples.push({ t: this.t, wss: w });
  }
}

/** Memory sizes for a curve: powers of two and their midpoints up to `max`, and `max` itself. */
export function curveSizes(max: number): number[] {
  const out = new Set<number>();
  for (let f = 1; f <= max; f *= 2) {
    out.add(f);
    if (f * 1.5 <= max && f >= 2) out.add(Math.round(f * 1.5));
  }
  out.add(max);
  return [...out].sort((a, b) => a - b);
}
