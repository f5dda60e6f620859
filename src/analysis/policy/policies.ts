import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import type { Policy, PolicyOptions } from "./Policy.ts";

/** A JS Map keeps insertion order: delete + set moves a key to the end in O(1). */
type Order = Map<number, true>;

function first(m: Map<number, unknown>): number {
  return m.keys().next().value as number;
}

function last(m: Map<number, unknown>): number {
  let k = -1;
  for (const key of m.keys()) k = key;
  return k;
}

/** FIFO: evict the page loaded longest ago. */
export class Fifo implements Policy {
  readonly name = "fifo";
  private q: Order = new Map();
  hit(): void {}
  victim(): number {
    return first(this.q);
  }
  insert(page: number): void {
    this.q.set(page, true);
  }
  remove(page: number): void {
    this.q.delete(page);
  }
}

/** LRU: evict the page referenced longest ago. */
export class Lru implements Policy {
  readonly name: string = "lru";
  protected q: Order = new Map();
  hit(page: number): void {
    this.q.delete(page);
    this.q.set(page, true);
  }
  victim(): number {
    return first(this.q);
  }
  insert(page: number): void {
    this.q.set(page, true);
  }
  remove(page: number): void {
    this.q.delete(page);
  }
}

/** MRU: evict the page referenced most recently (good for cyclic scans larger than memory). */
export class Mru extends Lru {
  override readonly name = "mru";
  override victim(): number {
    return this.lastKey;
  }
  private lastKey = -1;
  override hit(page: number): void {
    super.hit(page);
    this.lastKey = page;
  }
  override insert(page: number): void {
    super.insert(page);
    this.lastKey = page;
  }
  override remove(page: number): void {
    super.remove(page);
    if (page === this.lastKey) this.lastKey = last(this.q);
  }
}

/**
 * OPT (Belady's MIN): evict the resident page whose next reference is
 * farthest in the future (never again counts as farthest). The next-use
 * index of every reference is computed in one backward pass; a max-heap
 * with lazy deletion finds the victim in O(log n).
 */
export class Opt implements Policy {
  readonly name = "opt";
  private readonly nextUse: Float64Array;
  private readonly resident = new Map<number, number>(); // page -> its next use
  private heapKey: number[] = [];
  private heapPage: number[] = [];

  constructor(refs: ArrayLike<number>) {
    this.nextUse = new Float64Array(refs.length);
    const seen = new Map<number, number>();
    for (let t = refs.length - 1; t >= 0; t--) {
      this.nextUse[t] = seen.get(refs[t]) ?? Number.POSITIVE_INFINITY;
      seen.set(refs[t], t);
    }
  }

  private push(key: number, page: number): void {
    const k = this.heapKey;
    const p = this.heapPage;
    let i = k.length;
    k.push(key);
    p.push(page);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      // max-heap on next use; ties: the smaller page first (deterministic)
      if (k[parent] > k[i] || (k[parent] === k[i] && p[parent] < p[i])) break;
      [k[parent], k[i]] = [k[i], k[parent]];
      [p[parent], p[i]] = [p[i], p[parent]];
      i = parent;
    }
  }

  private pop(): void {
    const k = this.heapKey;
    const p = this.heapPage;
    const lk = k.pop()!;
    const lp = p.pop()!;
    if (k.length === 0) return;
    k[0] = lk;
    p[0] = lp;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < k.length && (k[l] > k[m] || (k[l] === k[m] && p[l] < p[m]))) m = l;
      if (r < k.length && (k[r] > k[m] || (k[r] === k[m] && p[r] < p[m]))) m = r;
      if (m === i) return;
      [k[m], k[i]] = [k[i], k[m]];
      [p[m], p[i]] = [p[i], p[m]];
      i = m;
    }
  }

  hit(page: number, t: number): void {
    this.resident.set(page, this.nextUse[t]);
    this.push(this.nextUse[t], page);
  }
  victim(): number {
    for (;;) {
      const page = this.heapPage[0];
      if (this.resident.get(page) === this.heapKey[0]) return page;
      this.pop(); // stale entry
    }
  }
  insert(page: number, _slot: number, t: number): void {
    this.hit(page, t);
  }
  remove(page: number): void {
    this.resident.delete(page);
  }
}

/**
 * CLOCK: the frames in a circle with a reference bit each; the hand clears
 * set bits and evicts the first page whose bit is clear, then points past
 * it. A loaded page starts with its bit set (as the C reference simulator).
 */
export class Clock implements Policy {
  readonly name: string = "clock";
  private readonly pageAt: Float64Array;
  private readonly ref: Uint8Array;
  private readonly slotOf = new Map<number, number>();
  private hand = 0;
  refClears = 0;

  constructor(private readonly frames: number) {
    this.pageAt = new Float64Array(frames).fill(-1);
    this.ref = new Uint8Array(frames);
  }
  hit(page: number): void {
    this.ref[this.slotOf.get(page)!] = 1;
  }
  victim(): number {
    for (;;) {
      const s = this.hand;
      this.hand = (this.hand + 1) % this.frames;
      if (this.ref[s]) {
        this.ref[s] = 0;
        this.refClears++;
        continue;
      }
      return this.pageAt[s];
    }
  }
  insert(page: number, slot: number): void {
    this.pageAt[slot] = page;
    this.ref[slot] = 1;
    this.slotOf.set(page, slot);
  }
  remove(page: number): void {
    const s = this.slotOf.get(page)!;
    this.slotOf.delete(page);
    this.pageAt[s] = -1;
  }
}

/**
 * Second chance: FIFO order with a reference bit (set by the load and by every
 * hit); the oldest page with its bit set gets it cleared and goes to the back
 * of the queue instead of out. CLOCK is the same algorithm on a circle, so the
 * two evict the same pages.
 */
export class SecondChance implements Policy {
  readonly name = "second-chance";
  private q = new Map<number, number>(); // page -> R bit, in FIFO order
  hit(page: number): void {
    this.q.set(page, 1);
  }
  victim(): number {
    for (;;) {
      const page = first(this.q);
      if (this.q.get(page) === 0) return page;
      this.q.delete(page);
      this.q.set(page, 0);
    }
  }
  insert(page: number): void {
    this.q.set(page, 1); // the reference that loaded it sets R, as in CLOCK
  }
  remove(page: number): void {
    this.q.delete(page);
  }
}

/**
 * NRU (not recently used): R and M bits per page; every `period` references
 * the R bits are cleared (the clock tick). The victim is a random page of the
 * lowest class: 0 (not referenced, clean), 1 (not referenced, modified),
 * 2 (referenced, clean), 3 (referenced, modified).
 */
export class Nru implements Policy {
  readonly name = "nru";
  private readonly r = new Map<number, number>();
  private readonly m = new Map<number, number>();
  private readonly rng: Rng;

  constructor(
    private readonly period: number,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }
  private tick(t: number): void {
    if (t > 0 && t % this.period === 0) for (const k of this.r.keys()) this.r.set(k, 0);
  }
  hit(page: number, t: number, write: boolean): void {
    this.tick(t);
    this.r.set(page, 1);
    if (write) this.m.set(page, 1);
  }
  victim(_incoming: number, t: number): number {
    this.tick(t);
    const classes: number[][] = [[], [], [], []];
    for (const [page, r] of this.r) classes[r * 2 + (this.m.get(page) ?? 0)].push(page);
    const c = classes.find((x) => x.length > 0)!;
    return c[this.rng.below(c.length)];
  }
  insert(page: number, _slot: number, _t: number, write: boolean): void {
    this.r.set(page, 1);
    this.m.set(page, write ? 1 : 0);
  }
  remove(page: number): void {
    this.r.delete(page);
    this.m.delete(page);
  }
}

/** LFU: evict the resident page with the fewest references since it was loaded; ties: loaded longest ago. */
export class Lfu implements Policy {
  readonly name = "lfu";
  private readonly count = new Map<number, number>(); // in load order
  hit(page: number): void {
    this.count.set(page, this.count.get(page)! + 1);
  }
  victim(): number {
    let best = -1;
    let min = Number.POSITIVE_INFINITY;
    for (const [page, c] of this.count) {
      if (c < min) {
        min = c;
        best = page;
      }
    }
    return best;
  }
  insert(page: number): void {
    this.count.set(page, 1);
  }
  remove(page: number): void {
    this.count.delete(page);
  }
}

/** Random: evict a uniformly chosen resident page (seeded). */
export class RandomPolicy implements Policy {
  readonly name = "random";
  private readonly pages: number[] = [];
  private readonly index = new Map<number, number>();
  private readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  hit(): void {}
  victim(): number {
    return this.pages[this.rng.below(this.pages.length)];
  }
  insert(page: number): void {
    this.index.set(page, this.pages.length);
    this.pages.push(page);
  }
  remove(page: number): void {
    const i = this.index.get(page)!;
    const lastPage = this.pages.pop()!;
    if (lastPage !== page) {
      this.pages[i] = lastPage;
      this.index.set(lastPage, i);
    }
    this.index.delete(page);
  }
}

/**
 * SIEVE (Zhang et al., NSDI 2024): a FIFO queue with a visited bit; the hand
 * moves from the oldest entry towards the newest, clearing visited bits and
 * evicting the first unvisited entry, and keeps its place; new entries go to
 * the head, hits only set the bit.
 */
export class Sieve implements Policy {
  readonly name = "sieve";
  // a doubly linked list from tail (oldest) to head (newest)
  private readonly prev = new Map<number, number>(); // towards the tail
  private readonly next = new Map<number, number>(); // towards the head
  private readonly visited = new Map<number, number>();
  private head = -1;
  private tail = -1;
  private hand = -1;
  hit(page: number): void {
    this.visited.set(page, 1);
  }
  victim(): number {
    let p = this.hand === -1 ? this.tail : this.hand;
    for (;;) {
      if (p === -1) p = this.tail;
      if (this.visited.get(p) === 1) {
        this.visited.set(p, 0);
        p = this.next.get(p)!;
        continue;
      }
      this.hand = this.next.get(p)!; // the entry after the victim, towards the head
      return p;
    }
  }
  insert(page: number): void {
    this.visited.set(page, 0);
    this.prev.set(page, this.head);
    this.next.set(page, -1);
    if (this.head !== -1) this.next.set(this.head, page);
    this.head = page;
    if (this.tail === -1) this.tail = page;
  }
  remove(page: number): void {
    const p = this.prev.get(page)!;
    const n = this.next.get(page)!;
    if (p !== -1) this.next.set(p, n);
    else this.tail = n;
    if (n !== -1) this.prev.set(n, p);
    else this.head = p;
    if (this.hand === page) this.hand = n;
    this.prev.delete(page);
    this.next.delete(page);
    this.visited.delete(page);
  }
}

/**
 * ARC (Megiddo & Modha, FAST 2003): two LRU lists of resident pages, T1
 * (seen once recently) and T2 (seen at least twice), with ghost lists B1, B2
 * of recently evicted pages; the target size p of T1 adapts on ghost hits.
 */
export class Arc implements Policy {
  readonly name = "arc";
  private t1: Order = new Map();
  private t2: Order = new Map();
  private b1: Order = new Map();
  private b2: Order = new Map();
  private p = 0;
  constructor(private readonly c: number) {}

  hit(page: number): void {
    this.t1.delete(page);
    this.t2.delete(page);
    this.t2.set(page, true);
  }

  /** REPLACE(x, p) of the paper, after adapting p for a ghost hit. */
  victim(incoming: number): number {
    if (this.b1.has(incoming)) this.p = Math.min(this.c, this.p + Math.max(1, this.b2.size / this.b1.size));
    else if (this.b2.has(incoming)) this.p = Math.max(0, this.p - Math.max(1, this.b1.size / this.b2.size));
    const fromT1 =
      this.t1.size > 0 && (this.t1.size > this.p || (this.b2.has(incoming) && this.t1.size === this.p));
    const src = fromT1 || this.t2.size === 0 ? this.t1 : this.t2;
    return first(src);
  }

  insert(page: number): void {
    if (this.b1.has(page) || this.b2.has(page)) {
      this.b1.delete(page);
      this.b2.delete(page);
      this.t2.set(page, true);
    } else {
      // case IV: a page in no list; keep |T1| + |B1| <= c and the whole directory <= 2c
      const l1 = this.t1.size + this.b1.size;
      if (l1 >= this.c && this.b1.size > 0) this.b1.delete(first(this.b1));
      else if (
        l1 < this.c &&
        this.t1.size + this.t2.size + this.b1.size + this.b2.size >= 2 * this.c &&
        this.b2.size > 0
      ) {
        this.b2.delete(first(this.b2));
      }
      this.t1.set(page, true);
    }
  }

  remove(page: number): void {
    if (this.t1.delete(page)) this.b1.set(page, true);
    else if (this.t2.delete(page)) this.b2.set(page, true);
  }
}

export const POLICY_NAMES = [
  "fifo",
  "lru",
  "mru",
  "opt",
  "clock",
  "second-chance",
  "nru",
  "lfu",
  "random",
  "sieve",
  "arc",
] as const;
/** Named in the issue; not implemented yet. */
export const POLICIES_LATER = ["2q", "lirs", "s3-fifo", "linux"];

export function makePolicy(name: string, opts: PolicyOptions): Policy {
  const seed = opts.seed ?? 1;
  switch (name) {
    case "fifo":
      return new Fifo();
    case "lru":
      return new Lru();
    case "mru":
      return new Mru();
    case "opt":
    case "min":
      if (!opts.refs) throw new InputError("opt needs the whole reference string in advance");
      return new Opt(opts.refs);
    case "clock":
      return new Clock(opts.frames);
    case "second-chance":
    case "second_chance":
      return new SecondChance();
    case "nru":
      return new Nru(opts.nruPeriod ?? opts.frames, seed);
    case "lfu":
      return new Lfu();
    case "random":
      return new RandomPolicy(seed);
    case "sieve":
      return new Sieve();
    case "arc":
      return new Arc(opts.frames);
  }
  if (POLICIES_LATER.includes(name))
    throw new InputError(`policy '${name}' is not implemented in this version of vmlab yet`);
  throw new InputError(`unknown policy '${name}' (${POLICY_NAMES.join(", ")})`);
}
