/**
 * A set of page numbers for policy mode's fast path (fast.ts: every page
 * referenced so far), a page held as its two 32-bit halves (`lo` the low 32
 * bits as an int32, `hi` the bits above, below 2^21): the halves come
 * straight from a trace record's words, so no float page number is made.
 * Open addressing with linear probing in one Int32Array of [lo, hi] pairs,
 * doubled when half full: nothing is allocated but when it grows.
 */
import { pageHash } from "./pageHash.ts";

/** A pair whose `hi` word is EMPTY holds no page (a page's hi is >= 0). */
const EMPTY = -1;

export class PageSet {
  private words = PageSet.empty(16);
  private mask = 15;
  /** 32 - log2(buckets) */
  private shift = 28;
  size = 0;

  private static empty(buckets: number): Int32Array {
    const w = new Int32Array(2 * buckets);
    for (let b = 0; b < buckets; b++) w[2 * b + 1] = EMPTY;
    return w;
  }

  /** The bucket of page (lo, hi), or -1 - the empty bucket where it would go. */
  private find(lo: number, hi: number): number {
    const { words, mask } = this;
    for (let b = pageHash(lo, hi) >>> this.shift; ; b = (b + 1) & mask) {
      const h = words[2 * b + 1];
      if (h === hi && words[2 * b] === lo) return b;
      if (h === EMPTY) return -1 - b;
    }
  }

  has(lo: number, hi: number): boolean {
    return this.find(lo, hi) >= 0;
  }

  /** Adds page (lo, hi); returns whether it was new. */
  add(lo: number, hi: number): boolean {
    let b = this.find(lo, hi);
    if (b >= 0) return false;
    if ((this.size + 1) * 2 > this.mask + 1) {
      this.grow();
      b = this.find(lo, hi);
    }
    b = -1 - b;
    this.words[2 * b] = lo;
    this.words[2 * b + 1] = hi;
    this.size++;
    return true;
  }

  /** Doubles the buckets (every page placed again). */
  private grow(): void {
    const old = this.words;
    const buckets = old.length; // twice the old number of buckets
    this.words = PageSet.empty(buckets);
    this.mask = buckets - 1;
    this.shift--;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i + 1] === EMPTY) continue;
      const b = -1 - this.find(old[i], old[i + 1]);
      this.words[2 * b] = old[i];
      this.words[2 * b + 1] = old[i + 1];
    }
  }
}
