/**
 * A map from page numbers (integers below 2^53; trace pages are below 2^35)
 * to non-negative integers, in typed arrays: open addressing with linear
 * probing, deletion by backward shift (Knuth, TAOCP vol. 3, 6.4, Algorithm
 * R), doubled when it is half full. A JS Map keyed by page numbers of 2^31
 * and above boxes each key (a heap number per lookup); this allocates only
 * when it grows, which suits the per-reference paths of trace replay.
 */
const EMPTY = -1;

export class PageMap {
  private keys: Float64Array;
  private vals: Int32Array;
  private mask: number;
  /** 32 - log2(capacity): the hash's top bits pick the slot (Fibonacci hashing) */
  private shift: number;
  size = 0;

  constructor(expected = 16) {
    let cap = 16;
    while (cap < 2 * expected) cap *= 2;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
  }

  /** The home slot of `page`: its low and high words mixed (multiplicative hashing). */
  private home(page: number): number {
    const lo = page >>> 0;
    const hi = (page / 4294967296) | 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  /** The value of `page`, or -1 when it has none. */
  get(page: number): number {
    const keys = this.keys;
    for (let i = this.home(page); ; i = (i + 1) & this.mask) {
      const k = keys[i];
      if (k === page) return this.vals[i];
      if (k === EMPTY) return -1;
    }
  }

  /** Sets the value of `page` (a value >= 0). */
  set(page: number, value: number): void {
    const keys = this.keys;
    for (let i = this.home(page); ; i = (i + 1) & this.mask) {
      const k = keys[i];
      if (k === page) {
        this.vals[i] = value;
        return;
      }
      if (k === EMPTY) {
        keys[i] = page;
        this.vals[i] = value;
        if (++this.size * 2 > keys.length) this.grow();
        return;
      }
    }
  }

  /** Removes `page`; returns whether it was there. */
  delete(page: number): boolean {
    const i = this.slot(page);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  /** The value of `page`, which is removed (get, then delete, in one probe); -1 when it has none. */
  take(page: number): number {
    const i = this.slot(page);
    if (i < 0) return -1;
    const v = this.vals[i];
    this.removeAt(i);
    return v;
  }

  /** The slot holding `page`, or -1. */
  private slot(page: number): number {
    const keys = this.keys;
    for (let i = this.home(page); ; i = (i + 1) & this.mask) {
      const k = keys[i];
      if (k === page) return i;
      if (k === EMPTY) return -1;
    }
  }

  /** Empties slot i, whose key is there. */
  private removeAt(at: number): void {
    const keys = this.keys;
    const vals = this.vals;
    const mask = this.mask;
    let i = at;
    // Algorithm R: move back each later key of the cluster whose home is not between the hole and it
    for (let j = (i + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      // stays when its home is cyclically in (i, j]: one compare of offsets from i (no branch on a
      // wrap-around, whose compares a first optimized version had no feedback for: a deopt)
      if (((this.home(keys[j]) - i - 1) & mask) < ((j - i) & mask)) continue;
      keys[i] = keys[j];
      vals[i] = vals[j];
      i = j;
    }
    keys[i] = EMPTY;
    this.size--;
  }

  private grow(): void {
    const keys = this.keys;
    const vals = this.vals;
    this.keys = new Float64Array(keys.length * 2).fill(EMPTY);
    this.vals = new Int32Array(keys.length * 2);
    this.mask = keys.length * 2 - 1;
    this.shift--;
    this.size = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) this.set(keys[i], vals[i]);
  }
}
