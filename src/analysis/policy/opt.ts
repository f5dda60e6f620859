/**
 * OPT (Belady's MIN) over a page string of any length, for traces: the
 * string is kept as dense page ids, 4 bytes a reference in chunks (no
 * doubling copies), and nothing else grows with its length.
 *
 * `run` makes two passes over it. The backward pass overwrites each id with
 * the time of the page's next reference (NEVER when there is none) and
 * leaves each page's first reference. The forward pass then knows, for
 * every page, when it is next referenced (`nextOf`); the page referenced at
 * time t is the one whose next reference is t, the root of a min-heap of
 * all pages on `nextOf`. The resident pages sit in a max-heap on `nextOf`:
 * its root is the victim. So the memory is 4 bytes a reference plus a few
 * words a distinct page, and a reference costs a heap step or two.
 *
 * Its figures are those of PolicySim with the `opt` policy (the tests
 * check): evicting any page never referenced again changes no count, so
 * ties need no rule.
 */
import { InputError } from "../../base/errors.ts";
import type { PolicyResult } from "./simulate.ts";

const SHIFT = 22;
const CHUNK = 1 << SHIFT;
const MASK = CHUNK - 1;
const NEVER = 0xffffffff;
/** references kept at most (4 GiB of page ids) */
export const OPT_MAX_REFS = 2 ** 30;
/** distinct pages at most (a JavaScript Map holds 2^24 keys) */
export const OPT_MAX_PAGES = 2 ** 24;

export class OptString {
  private readonly ids = new Map<number, number>();
  private readonly chunks: Uint32Array[] = [];
  /** references kept */
  length = 0;

  /** Appends a reference to `page`. */
  add(page: number): void {
    let id = this.ids.get(page);
    if (id === undefined) {
      id = this.ids.size;
      if (id >= OPT_MAX_PAGES)
        throw new InputError(
          `opt keeps every distinct page: more than ${OPT_MAX_PAGES.toLocaleString("en-US")} is more than vmlab simulates`,
        );
      this.ids.set(page, id);
    }
    const n = this.length;
    if ((n & MASK) === 0) {
      if (n >= OPT_MAX_REFS)
        throw new InputError(
          `opt keeps the whole page string (4 bytes a reference): more than ${OPT_MAX_REFS.toLocaleString("en-US")} references is more than vmlab simulates`,
        );
      this.chunks.push(new Uint32Array(CHUNK));
    }
    this.chunks[n >>> SHIFT][n & MASK] = id;
    this.length = n + 1;
  }

  /** The figures of OPT with `frames` frames. The string is consumed (run it once). */
  run(frames: number): PolicyResult {
    const n = this.length;
    const d = this.ids.size;
    const ch = this.chunks;
    // backward: each reference gets its page's next reference; `nextOf` ends as each page's first
    const nextOf = new Uint32Array(d).fill(NEVER);
    for (let t = n - 1; t >= 0; t--) {
      const c = ch[t >>> SHIFT];
      const i = t & MASK;
      const id = c[i];
      c[i] = nextOf[id];
      nextOf[id] = t;
    }
    // every page in a min-heap on its next reference; the root is the page of the current time
    const all = new MinHeap(d, nextOf);
    for (let id = 0; id < d; id++) all.push(id);
    const resident = new MaxHeap(Math.min(frames, d), d, nextOf);
    let hits = 0;
    let evictions = 0;
    for (let t = 0; t < n; t++) {
      const id = all.top();
      nextOf[id] = ch[t >>> SHIFT][t & MASK];
      all.rootIncreased();
      if (resident.has(id)) {
        hits++;
        resident.increased(id);
      } else if (resident.size < frames) resident.push(id);
      else {
        resident.replaceTop(id);
        evictions++;
      }
    }
    return {
      policy: "opt",
      frames,
      hits,
      misses: n - hits,
      coldMisses: Math.min(frames, d),
      firstRefs: d,
      evictions,
    };
  }
}

/** A binary min-heap of page ids on key[id] (ids only enter; only the root's key grows). */
class MinHeap {
  private readonly h: Uint32Array;
  private size = 0;
  constructor(
    capacity: number,
    private readonly key: Uint32Array,
  ) {
    this.h = new Uint32Array(capacity);
  }
  top(): number {
    return this.h[0];
  }
  push(id: number): void {
    const { h, key } = this;
    let i = this.size++;
    const k = key[id];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (key[h[p]] <= k) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = id;
  }
  /** The root's key grew: sift it down. */
  rootIncreased(): void {
    const { h, key, size } = this;
    const id = h[0];
    const k = key[id];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const c = r < size && key[h[r]] < key[h[l]] ? r : l;
      if (key[h[c]] >= k) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = id;
  }
}

/** An indexed binary max-heap of page ids on key[id]: membership, a key that grows, the root replaced. */
class MaxHeap {
  private readonly h: Uint32Array;
  /** an id's place in h, -1 when absent */
  private readonly pos: Int32Array;
  size = 0;
  constructor(
    capacity: number,
    ids: number,
    private readonly key: Uint32Array,
  ) {
    this.h = new Uint32Array(capacity);
    this.pos = new Int32Array(ids).fill(-1);
  }
  has(id: number): boolean {
    return this.pos[id] >= 0;
  }
  push(id: number): void {
    const i = this.size++;
    this.h[i] = id;
    this.pos[id] = i;
    this.up(i);
  }
  /** id's key grew: towards the root. */
  increased(id: number): void {
    this.up(this.pos[id]);
  }
  /** The root (the largest key) leaves; id takes its place. */
  replaceTop(id: number): void {
    this.pos[this.h[0]] = -1;
    this.h[0] = id;
    this.pos[id] = 0;
    this.down(0);
  }
  private up(i: number): void {
    const { h, key, pos } = this;
    const id = h[i];
    const k = key[id];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (key[h[p]] >= k) break;
      h[i] = h[p];
      pos[h[i]] = i;
      i = p;
    }
    h[i] = id;
    pos[id] = i;
  }
  private down(i: number): void {
    const { h, key, pos, size } = this;
    const id = h[i];
    const k = key[id];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const c = r < size && key[h[r]] > key[h[l]] ? r : l;
      if (key[h[c]] <= k) break;
      h[i] = h[c];
      pos[h[i]] = i;
      i = c;
    }
    h[i] = id;
    pos[id] = i;
  }
}
