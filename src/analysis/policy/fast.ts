/**
 * Policy mode's fast path for long traces: LRU, FIFO and CLOCK with at
 * most one hash lookup per reference (page -> frame) and the policy's state
 * in typed arrays indexed by frame. The results are those of PolicySim with the same
 * policy (checked by property tests); the per-access table is not kept.
 *
 * A page number (an integer below 2^53; a trace's are below 2^35) is held
 * as its two 32-bit halves, so that a reference from a trace record is
 * looked up from the record's words with integer operations only
 * (`feedRecords`): no float page number, no division, no boxing.
 *
 * A reference to the page referenced just before is a hit that changes
 * nothing under these three policies (the page is LRU's most recent, and
 * its CLOCK reference bit is already set: no victim was chosen in between),
 * so it is counted without the lookup (py-50M: over 43% of its references);
 * so is a reference to the page before it, while no miss came between
 * (see prevLo: another 40%).
 */
import { InputError } from "../../base/errors.ts";
import { ClockHand } from "../clockHand.ts";
import { pageHash } from "./pageHash.ts";
import { PageSet } from "./pageSet.ts";
import type { PolicyResult } from "./simulate.ts";

export const FAST_POLICIES = ["lru", "fifo", "clock"] as const;
export type FastPolicy = (typeof FAST_POLICIES)[number];

const LRU = 0;
const FIFO = 1;
const CLOCK = 2;

/**
 * A frame's four words in `FastSim.fr`: its page's low and high halves, and
 * (LRU) its neighbours in the recency list, the one used just after it
 * (nearer the head) and just before it (nearer the tail), -1 at the ends.
 */
const LO = 0;
const HI = 1;
const NEWER = 2;
const OLDER = 3;

export class FastSim {
  /** four words per frame (LO, HI, NEWER, OLDER): a lookup and LRU's move to the head touch one frame's 16 bytes */
  private readonly fr: Int32Array;
  /**
   * The resident pages: buckets holding a frame + 1 (0: empty), open
   * addressing with linear probing from the page's hash, kept at most half
   * full (it grows with the frames in use), deletion by backward shift
   * (Knuth, TAOCP vol. 3, 6.4, Algorithm R).
   */
  private tab = new Int32Array(16);
  private mask = 15;
  /** 32 - log2(buckets) */
  private shift = 28;
  /** every page referenced so far (a miss that adds one is a first reference) */
  private readonly seen = new PageSet();
  private readonly kind: number;
  /** LRU: the most and the least recently used frame */
  private head = -1;
  private tail = -1;
  /** CLOCK: a reference bit per frame */
  private readonly ref: Uint8Array;
  private readonly hand: ClockHand;
  private used = 0;
  /** references so far */
  private t = 0;
  misses = 0;
  evictions = 0;
  /**
   * The page referenced last (always resident: only a later miss chooses a
   * victim) as its two halves, and its frame; lastHi -1: none yet.
   */
  private lastLo = 0;
  private lastHi = -1;
  private lastSlot = -1;
  /**
   * The page referenced before it, while no miss came after (prevHi -1:
   * none). A reference to it is a hit that changes nothing under FIFO and
   * CLOCK (its reference bit is still set: no victim scan since) and under
   * LRU only swaps the two most recent pages, which is kept in these fields
   * alone: until the next lookup or miss, the LRU list may hold the two the
   * other way round (syncLru puts lastSlot back at the head). py-50M: 20 M
   * of its 29 M references that are not to the last page.
   */
  private prevLo = 0;
  private prevHi = -1;
  private prevSlot = -1;

  constructor(
    policy: FastPolicy,
    readonly frames: number,
  ) {
    if (!Number.isInteger(frames) || frames < 1)
      throw new InputError(`frames must be a positive integer, not ${frames}`);
    if (frames > 1 << 26) throw new InputError(`frames=${frames} is more than vmlab simulates (67,108,864)`);
    this.kind = FAST_POLICIES.indexOf(policy);
    if (this.kind < 0) throw new InputError(`no fast path for policy '${policy}'`);
    this.fr = new Int32Array(4 * frames);
    this.hand = new ClockHand(frames);
    this.ref = new Uint8Array(this.kind === CLOCK ? frames : 0);
  }

  /** the hits so far */
  get hits(): number {
    return this.t - this.misses;
  }

  /** One reference to `page` (an integer below 2^53); returns whether it hit. */
  access(page: number): boolean {
    const lo = page | 0;
    const hi = (page / 4294967296) | 0;
    this.t++;
    if (lo === this.lastLo && hi === this.lastHi) return true;
    this.syncLru();
    const s = this.find(lo, hi);
    if (s < 0) {
      this.miss(lo, hi);
      return false;
    }
    if (this.kind === LRU) this.toHead(s);
    else if (this.kind === CLOCK) this.ref[s] = 1;
    this.lastLo = lo;
    this.lastHi = hi;
    this.lastSlot = s;
    this.prevHi = -1;
    return true;
  }

  /**
   * `n` trace records of `w` (record.ts's layout written out: kind lo & 3, a
   * fetch 0; the page hi * 2^18 + (lo >>> 14), hi below 2^17, as the decoder
   * has checked), the fetches skipped when `dataOnly`: the same figures as
   * access() on each record's page, in one pass over the words. A record is
   * a run of one (its high word's bits 17..31 are zero): feedRuns' loop.
   */
  feedRecords(w: Uint32Array, n: number, dataOnly: boolean): void {
    this.feedRuns(w, n, dataOnly);
  }

  /**
   * `n` runs of the reading thread (workloads/trace/runs.ts's layout written
   * out, as in MachineMode.feedRuns: the first record's low word; the high
   * word in bits 0..16 of the second, the records minus one in bits 17..30,
   * bit 31 a write, which a replacement policy over page numbers ignores),
   * the fetch runs skipped when `dataOnly` (a run is all fetches or all
   * data). A run of N references to one page is its first reference
   * followed by N - 1 hits that change nothing under LRU, FIFO and CLOCK
   * (the page is LRU's most recent and its reference bit is set; no victim
   * is chosen in between): the same figures as feedRecords on the records
   * it was folded from (fast.test.ts holds it to that and to PolicySim).
   * The hit path is written out here (the last two pages in locals, find,
   * LRU's move to the head); a miss goes through miss().
   */
  feedRuns(w: Uint32Array, n: number, dataOnly: boolean): void {
    const kind = this.kind;
    const ref = this.ref;
    const fr = this.fr;
    let lastLo = this.lastLo;
    let lastHi = this.lastHi;
    let lastSlot = this.lastSlot;
    let prevLo = this.prevLo;
    let prevHi = this.prevHi;
    let prevSlot = this.prevSlot;
    let tab = this.tab;
    let shift = this.shift;
    let mask = this.mask;
    let refs = 0;
    for (let i = 0; i < n; i++) {
      const lo = w[2 * i];
      if (dataOnly && (lo & 3) === 0) continue;
      const rw = w[2 * i + 1];
      refs += ((rw >>> 17) & 0x3fff) + 1;
      const rhi = rw & 0x1ffff;
      const pLo = (rhi << 18) | (lo >>> 14);
      const pHi = rhi >>> 14;
      if (pLo === lastLo && pHi === lastHi) continue;
      if (pLo === prevLo && pHi === prevHi) {
        // the page before the last: the two swap places
        prevLo = lastLo;
        prevHi = lastHi;
        lastLo = pLo;
        lastHi = pHi;
        const s = prevSlot;
        prevSlot = lastSlot;
        lastSlot = s;
        continue;
      }
      // find() written out
      let s = -1;
      for (let b = pageHash(pLo, pHi) >>> shift; ; b = (b + 1) & mask) {
        const e = tab[b] - 1;
        if (e < 0) break;
        if (fr[4 * e + LO] === pLo && fr[4 * e + HI] === pHi) {
          s = e;
          break;
        }
      }
      if (s >= 0) {
        if (kind === LRU) {
          // syncLru, then s (not the head: the last page is) to the head
          let head = this.head;
          if (head !== lastSlot) {
            this.toHead(lastSlot);
            head = lastSlot;
          }
          const newer = fr[4 * s + NEWER];
          const older = fr[4 * s + OLDER];
          fr[4 * newer + OLDER] = older;
          if (older >= 0) fr[4 * older + NEWER] = newer;
          else this.tail = newer;
          fr[4 * s + NEWER] = -1;
          fr[4 * s + OLDER] = head;
          fr[4 * head + NEWER] = s;
          this.head = s;
        } else if (kind === CLOCK) ref[s] = 1;
        prevLo = lastLo;
        prevHi = lastHi;
        prevSlot = lastSlot;
        lastLo = pLo;
        lastHi = pHi;
        lastSlot = s;
        continue;
      }
      this.lastHi = lastHi;
      this.lastSlot = lastSlot;
      this.miss(pLo, pHi);
      lastLo = pLo;
      lastHi = pHi;
      lastSlot = this.lastSlot;
      prevHi = -1;
      // a miss may have grown the table
      tab = this.tab;
      shift = this.shift;
      mask = this.mask;
    }
    this.t += refs;
    this.lastLo = lastLo;
    this.lastHi = lastHi;
    this.lastSlot = lastSlot;
    this.prevLo = prevLo;
    this.prevHi = prevHi;
    this.prevSlot = prevSlot;
  }

  /** The frame of page (lo, hi), or -1 when it is not resident. */
  private find(lo: number, hi: number): number {
    const { tab, fr, mask } = this;
    for (let b = pageHash(lo, hi) >>> this.shift; ; b = (b + 1) & mask) {
      const e = tab[b] - 1;
      if (e < 0) return -1;
      if (fr[4 * e + LO] === lo && fr[4 * e + HI] === hi) return e;
    }
  }

  /** Frame s now holds its page (not in the table yet): into its empty bucket. */
  private insert(s: number): void {
    const { tab, mask } = this;
    let b = pageHash(this.fr[4 * s + LO], this.fr[4 * s + HI]) >>> this.shift;
    while (tab[b] !== 0) b = (b + 1) & mask;
    tab[b] = s + 1;
  }

  /** Frame s's page leaves the table: the later buckets of its cluster move back (Algorithm R). */
  private remove(s: number): void {
    const { tab, fr, mask, shift } = this;
    let i = pageHash(fr[4 * s + LO], fr[4 * s + HI]) >>> shift;
    while (tab[i] !== s + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; tab[j] !== 0; j = (j + 1) & mask) {
      const e = tab[j] - 1;
      const h = pageHash(fr[4 * e + LO], fr[4 * e + HI]) >>> shift;
      if (i <= j ? i < h && h <= j : i < h || h <= j) continue;
      tab[i] = tab[j];
      i = j;
    }
    tab[i] = 0;
  }

  /** Doubles the buckets (the frames in use placed again). */
  private grow(): void {
    const buckets = 2 * (this.mask + 1);
    this.tab = new Int32Array(buckets);
    this.mask = buckets - 1;
    this.shift--;
    const { tab, fr, mask, shift } = this;
    for (let s = 0; s < this.used; s++) {
      let b = pageHash(fr[4 * s + LO], fr[4 * s + HI]) >>> shift;
      while (tab[b] !== 0) b = (b + 1) & mask;
      tab[b] = s + 1;
    }
  }

  /** LRU: frame s to the head of the recency list (unlinked first when it is in it). */
  private toHead(s: number, linked = true): void {
    const fr = this.fr;
    if (linked) {
      if (this.head === s) return;
      const newer = fr[4 * s + NEWER];
      const older = fr[4 * s + OLDER];
      if (newer >= 0) fr[4 * newer + OLDER] = older;
      else this.head = older;
      if (older >= 0) fr[4 * older + NEWER] = newer;
      else this.tail = newer;
    }
    fr[4 * s + NEWER] = -1;
    fr[4 * s + OLDER] = this.head;
    if (this.head >= 0) fr[4 * this.head + NEWER] = s;
    this.head = s;
    if (this.tail < 0) this.tail = s;
  }

  /** LRU: the list as the recency order has it (lastSlot at the head; see prevLo). */
  private syncLru(): void {
    if (this.kind === LRU && this.lastHi >= 0 && this.head !== this.lastSlot) this.toHead(this.lastSlot);
  }

  /** The page (lo, hi) missed: it takes a free frame, or the victim's; it becomes the last page, with none before it. */
  private miss(lo: number, hi: number): void {
    this.syncLru();
    this.misses++;
    this.seen.add(lo, hi);
    let s: number;
    let linked = false;
    if (this.used < this.frames) {
      // one more page held: the table stays at most half full
      if (2 * (this.used + 1) > this.mask + 1) this.grow();
      s = this.used++;
    } else {
      s = this.victim();
      this.remove(s);
      this.evictions++;
      linked = true;
    }
    this.fr[4 * s + LO] = lo;
    this.fr[4 * s + HI] = hi;
    this.insert(s);
    if (this.kind === LRU) this.toHead(s, linked);
    else if (this.kind === CLOCK) this.ref[s] = 1;
    this.lastLo = lo;
    this.lastHi = hi;
    this.lastSlot = s;
    this.prevHi = -1;
  }

  private victim(): number {
    if (this.kind === LRU) return this.tail;
    return this.kind === FIFO ? this.hand.fifo() : this.hand.clock(this.ref);
  }

  result(): PolicyResult {
    return {
      policy: FAST_POLICIES[this.kind],
      frames: this.frames,
      hits: this.t - this.misses,
      misses: this.misses,
      coldMisses: this.used,
      firstRefs: this.seen.size,
      evictions: this.evictions,
    };
  }
}
