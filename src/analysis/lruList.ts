/**
 * A doubly linked list over slots 0..n-1 in two Int32Arrays, most recent at
 * the head: the recency order of exact LRU with O(1) moves and no
 * allocation (policy mode's fast path, machine mode's LRU pager).
 */
export class LruList {
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  head = -1;
  tail = -1;

  constructor(n: number) {
    this.prev = new Int32Array(n);
    this.next = new Int32Array(n);
  }

  /** Slot s was used: to the head. */
  touch(s: number): void {
    if (this.head === s) return;
    this.unlink(s);
    this.linkHead(s);
  }

  linkHead(s: number): void {
    this.prev[s] = -1;
    this.next[s] = this.head;
    if (this.head >= 0) this.prev[this.head] = s;
    this.head = s;
    if (this.tail < 0) this.tail = s;
  }

  unlink(s: number): void {
    const p = this.prev[s];
    const nx = this.next[s];
    if (p >= 0) this.next[p] = nx;
    else this.head = nx;
    if (nx >= 0) this.prev[nx] = p;
    else this.tail = p;
  }
}
