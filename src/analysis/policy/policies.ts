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

/** A ghost list of at most `cap` page numbers: `page` joins, the oldest falls out. */
function remember(ghost: Order, page: number, cap: number): void {
  ghost.set(page, true);
  if (ghost.size > cap) ghost.delete(first(ghost));
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

/**
 * 2Q (Johnson & Shasha, VLDB 1994, the full version): new pages enter A1in,
 * a FIFO of a quarter of the frames; a page evicted from A1in is remembered
 * in A1out (page numbers only, half the frames); a page that misses while
 * remembered goes to Am, an LRU list. A victim comes from A1in while it is
 * over its share, else from Am's LRU end.
 */
export class TwoQ implements Policy {
  readonly name = "2q";
  private a1in: Order = new Map();
  private a1out: Order = new Map();
  private am: Order = new Map();
  private readonly kin: number;
  private readonly kout: number;
  constructor(frames: number) {
    this.kin = Math.max(1, Math.floor(frames / 4));
    this.kout = Math.max(1, Math.floor(frames / 2));
  }
  hit(page: number): void {
    if (this.am.delete(page)) this.am.set(page, true); // Am is LRU; A1in hits change nothing
  }
  victim(): number {
    return this.a1in.size > this.kin || this.am.size === 0 ? first(this.a1in) : first(this.am);
  }
  insert(page: number): void {
    if (this.a1out.delete(page)) this.am.set(page, true);
    else this.a1in.set(page, true);
  }
  remove(page: number): void {
    if (this.a1in.delete(page)) remember(this.a1out, page, this.kout);
    else this.am.delete(page);
  }
}

/**
 * S3-FIFO (Yang et al., SOSP 2023, the original version): a small FIFO S
 * (10% of the frames), a main FIFO M and a ghost FIFO G of as many page
 * numbers as M's share. A hit bumps a 2-bit counter. New pages go to S, or
 * to M when G remembers them. Eviction works on S while S holds its share:
 * its oldest page moves to M if it was hit (counter cleared), else leaves
 * and is remembered in G; otherwise on M, where a hit page is reinserted
 * with its counter decremented and an unhit one leaves.
 */
export class S3Fifo implements Policy {
  readonly name = "s3-fifo";
  private s: Order = new Map();
  private m: Order = new Map();
  private g: Order = new Map();
  private freq = new Map<number, number>();
  private readonly smallSize: number;
  private readonly ghostSize: number;
  constructor(frames: number) {
    this.smallSize = Math.max(1, Math.floor(frames / 10));
    this.ghostSize = Math.max(1, frames - this.smallSize);
  }
  hit(page: number): void {
    this.freq.set(page, Math.min(3, (this.freq.get(page) ?? 0) + 1));
  }
  victim(): number {
    for (;;) {
      if (this.s.size >= this.smallSize || this.m.size === 0) {
        const t = first(this.s);
        if ((this.freq.get(t) ?? 0) >= 1) {
          this.s.delete(t);
          this.m.set(t, true);
          this.freq.set(t, 0);
          continue;
        }
        return t;
      }
      const t = first(this.m);
      const f = this.freq.get(t) ?? 0;
      if (f >= 1) {
        this.m.delete(t);
        this.m.set(t, true);
        this.freq.set(t, f - 1);
        continue;
      }
      return t;
    }
  }
  insert(page: number): void {
    this.freq.set(page, 0);
    if (this.g.delete(page)) this.m.set(page, true);
    else this.s.set(page, true);
  }
  remove(page: number): void {
    this.freq.delete(page);
    if (this.s.delete(page)) remember(this.g, page, this.ghostSize);
    else this.m.delete(page);
  }
}

/**
 * LIRS (Jiang & Zhang, SIGMETRICS 2002): pages with a small inter-reference
 * recency (LIR) hold most frames; the rest (HIR, 1% of the frames, at least
 * one) are the only victims. The stack S orders pages by recency, with
 * non-resident HIR pages kept as history, and its bottom is always a LIR
 * page (stack pruning); the queue Q lists the resident HIR pages in order.
 * A HIR page referenced again while still in S has a smaller recency than
 * the bottom LIR page: it becomes LIR, and that page becomes HIR.
 */
export class Lirs implements Policy {
  readonly name = "lirs";
  private stack: Order = new Map(); // bottom (oldest) first
  private q: Order = new Map(); // resident HIR pages, front first
  private readonly lir = new Set<number>();
  private readonly resident = new Set<number>();
  private readonly lirSize: number;
  constructor(frames: number) {
    const hir = Math.max(1, Math.floor(frames / 100));
    this.lirSize = Math.max(1, frames - hir); // one frame: a single LIR page, the fallback victim
  }
  private toTop(page: number): void {
    this.stack.delete(page);
    this.stack.set(page, true);
  }
  /** Removes HIR entries from the stack's bottom until a LIR page is there. */
  private prune(): void {
    for (const p of this.stack.keys()) {
      if (this.lir.has(p)) break;
      this.stack.delete(p);
    }
  }
  /** The bottom LIR page becomes a resident HIR page at the end of Q. */
  private demoteBottom(): void {
    const b = first(this.stack);
    this.stack.delete(b);
    this.lir.delete(b);
    this.q.set(b, true);
    this.prune();
  }
  hit(page: number): void {
    if (this.lir.has(page)) {
      const wasBottom = first(this.stack) === page;
      this.toTop(page);
      if (wasBottom) this.prune();
      return;
    }
    // a resident HIR page
    if (this.stack.has(page)) {
      this.toTop(page);
      this.lir.add(page);
      this.q.delete(page);
      if (this.lir.size > this.lirSize) this.demoteBottom();
    } else {
      this.toTop(page);
      this.q.delete(page);
      this.q.set(page, true);
    }
  }
  victim(): number {
    if (this.q.size > 0) return first(this.q);
    // every resident page is LIR (too few frames for a HIR share): the bottom LIR page
    return first(this.stack);
  }
  insert(page: number): void {
    this.resident.add(page);
    if (this.lir.size < this.lirSize) {
      // warming up: LIR until the LIR share is full
      this.lir.add(page);
      this.toTop(page);
      return;
    }
    if (this.stack.has(page)) {
      // a non-resident HIR page still in the stack: its recency beats the bottom LIR page
      this.toTop(page);
      this.lir.add(page);
      if (this.lir.size > this.lirSize) this.demoteBottom();
    } else {
      this.toTop(page);
      this.q.set(page, true);
    }
  }
  remove(page: number): void {
    this.resident.delete(page);
    this.q.delete(page);
    if (this.lir.delete(page)) {
      // the fallback victim was the bottom LIR page
      this.stack.delete(page);
      this.prune();
    }
    // a HIR page stays in the stack as history (non-resident)
  }
}

/**
 * Linux's two-list LRU for one list pair (mm/swap.c folio_mark_accessed,
 * mm/vmscan.c shrink_active_list / shrink_inactive_list), each reference
 * standing for a folio_mark_accessed: a new page enters the inactive list;
 * a reference sets PG_referenced, and a second one on an inactive page
 * activates it (to the active list's head, flag cleared). Before a victim is
 * taken, the active list is aged while it is larger than the inactive one
 * (inactive_is_low with ratio 1): its tail pages move to the inactive
 * list's head. The victim is the inactive list's tail. Workingset refault
 * detection (shadow entries) is not modelled.
 */
export class LinuxTwoList implements Policy {
  readonly name = "linux";
  private active: Order = new Map(); // tail (oldest) first
  private inactive: Order = new Map();
  private readonly referenced = new Set<number>();
  hit(page: number): void {
    if (this.inactive.has(page)) {
      if (this.referenced.has(page)) {
        this.inactive.delete(page);
        this.active.set(page, true);
        this.referenced.delete(page);
      } else this.referenced.add(page);
    } else if (!this.referenced.has(page)) this.referenced.add(page);
  }
  victim(): number {
    while (this.active.size > this.inactive.size) {
      const t = first(this.active);
      this.active.delete(t);
      this.referenced.delete(t);
      // to the inactive list's head: the newest end of the map
      this.inactive.set(t, true);
    }
    return first(this.inactive);
  }
  insert(page: number): void {
    this.inactive.set(page, true);
  }
  remove(page: number): void {
    this.inactive.delete(page);
    this.active.delete(page);
    this.referenced.delete(page);
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
  "2q",
  "lirs",
  "s3-fifo",
  "linux",
] as const;

/** Other spellings of the names, as papers and courses write them (Belady's MIN is OPT). */
export const POLICY_ALIASES: Readonly<Record<string, (typeof POLICY_NAMES)[number]>> = {
  s3fifo: "s3-fifo",
  belady: "opt",
  min: "opt",
  second_chance: "second-chance",
};

/** A policy's name as POLICY_NAMES spells it (an alias resolved; any other word unchanged). */
export function policyName(name: string): string {
  return Object.hasOwn(POLICY_ALIASES, name) ? POLICY_ALIASES[name] : name;
}

/** The names for --help: every policy, then the aliases. */
export function policyNamesHelp(): string {
  const aliases = Object.entries(POLICY_ALIASES).map(([a, n]) => `${a} = ${n}`);
  return `${POLICY_NAMES.join(", ")} (also ${aliases.join(", ")})`;
}

export function makePolicy(name: string, opts: PolicyOptions): Policy {
  const seed = opts.seed ?? 1;
  switch (policyName(name)) {
    case "fifo":
      return new Fifo();
    case "lru":
      return new Lru();
    case "mru":
      return new Mru();
    case "opt":
      if (!opts.refs) throw new InputError("opt needs the whole reference string in advance");
      return new Opt(opts.refs);
    case "clock":
      return new Clock(opts.frames);
    case "second-chance":
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
    case "2q":
      return new TwoQ(opts.frames);
    case "s3-fifo":
      return new S3Fifo(opts.frames);
    case "lirs":
      return new Lirs(opts.frames);
    case "linux":
      return new LinuxTwoList();
  }
  throw new InputError(`unknown policy '${name}' (${policyNamesHelp()})`);
}
