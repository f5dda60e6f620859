/**
 * TlbArray's filter (tlbFilter.ts) against the scans it skips: twin arrays, one with the
 * filter and one without (countFills(0, 0) turns it off, as relocate does), through random
 * inserts (every size held, fractured pieces, ASIDs, global entries, attributes), insertMissed,
 * insertRun, lookups and every invalidation, on every shape of array vmlab builds; after each step
 * the entries, their order and every counter equal, and every valid entry's bit set in its set's
 * filter words. And invalidateAll(_, Everything) (clear: the keys set invalid at once)
 * against dropping the same entries one by one.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { runOr } from "./Tlb.ts";
import { InvalidateHow, Meta, TlbArray } from "./TlbArray.ts";
import { filterHash, filterWord } from "./tlbFilter.ts";

const G = Meta.G;
const ARM64_PAGES = [1, 16, 512, 8192, 262144]; // a 4K, 64K-contiguous, 2M, 32M, 1G ladder

/** entries, ways, sizeMask, pagesPer: the L1s and STLBs of the presets, walk caches, odd ones */
const SHAPES: [number, number, number, readonly number[] | undefined][] = [
  [64, 4, 1, undefined],
  [1536, 12, 3, undefined],
  [32, 4, 2, undefined],
  [16, 4, 4, undefined],
  [8, 2, 7, undefined],
  [8, 8, 1, undefined],
  [4, 1, 1, undefined],
  [48, 12, 3, ARM64_PAGES],
  [64, 4, 0b10101, ARM64_PAGES],
];

interface Internals {
  filter: Int32Array | null;
  filterShift: number;
  filterSetShift: number;
  valid: number;
  bySize: Int32Array;
}

/** Where the visible states of a and b differ (keys in way order, what valid ways hold, the counters), or "". */
function differ(a: TlbArray, b: TlbArray): string {
  for (let i = 0; i < a.entries; i++) {
    if (a.keys[i] !== b.keys[i]) return `key of way ${i}: ${a.keys[i]} / ${b.keys[i]}`;
    if (a.keys[i] === -1) continue;
    if (a.pfns[i] !== b.pfns[i] || a.metas[i] !== b.metas[i] || a.attrs[i] !== b.attrs[i]) return `way ${i}`;
  }
  const va = (a as unknown as Internals).valid;
  const vb = (b as unknown as Internals).valid;
  if (va !== vb || va !== a.occupancy()) return `valid ${va} / ${vb}`;
  if (a.evictions !== b.evictions) return `evictions ${a.evictions} / ${b.evictions}`;
  if (a.baseOnly !== b.baseOnly || a.mayHoldPieces !== b.mayHoldPieces) return "baseOnly / pieces";
  // the valid entries by size code (insertRun counts the ones it drops without their metas while
  // every entry is a base page's), against the held sizes of the entries themselves
  const held = new Int32Array(8);
  for (let i = 0; i < a.entries; i++) if (a.keys[i] !== -1) held[(a.metas[i] >>> Meta.HELD_SIZE_SHIFT) & 7]++;
  const bySize = (a as unknown as Internals).bySize;
  if (held.join() !== bySize.join()) return `bySize ${bySize.join()} / held ${held.join()}`;
  return "";
}

/** The keys of b's ways, in order (an invalidation that drops nothing moves none). */
function keysOf(b: TlbArray): string {
  return b.keys.join(",");
}

/** A valid entry whose bit is not set in its set's filter words (the filter must hold a superset), or "". */
function unfiltered(a: TlbArray): string {
  const { filter, filterShift, filterSetShift } = a as unknown as Internals;
  for (let i = 0; i < a.entries; i++) {
    const k = a.keys[i];
    if (k === -1) continue;
    const set = Math.floor(i / a.ways);
    const h = filterHash(k) >>> filterShift;
    if ((filter![filterWord(set, h, filterSetShift)] & (1 << h)) === 0) return `way ${i} (key ${k})`;
  }
  return "";
}

describe("TlbArray's key filter", () => {
  it("skips only scans that drop nothing: twins with and without it end every step alike, on every shape", () => {
    let skipped = 0;
    let dropped = 0;
    for (let shape = 0; shape < SHAPES.length; shape++) {
      const [entries, ways, mask, pagesPer] = SHAPES[shape];
      const rng = new Rng(100 + shape);
      const a = new TlbArray(entries, ways, mask, 3, "f", pagesPer);
      const b = new TlbArray(entries, ways, mask, 3, "s", pagesPer);
      b.countFills(0, 0); // the scanning twin
      expect((b as unknown as Internals).filter).toBe(null);
      const per = a.pagesPer;
      const held = [0, 1, 2, 3, 4].filter((s) => (mask & (1 << s)) !== 0);
      const span = entries * 24; // pages drawn from: about a third of them held when full
      const page = () => {
        const v = rng.below(span);
        // keys that differ only above their low 32 bits share a bucket (vpn + k * 2^29)
        return rng.below(8) === 0 ? v + rng.below(4) * 2 ** 29 : v;
      };
      const meta = (asid: number) => asid | (rng.below(8) === 0 ? G : 0);
      for (let step = 0; step < 6000; step++) {
        const op = rng.below(20);
        const vpn = page();
        const asid = rng.below(3);
        let ra: number;
        let rb: number;
        if (op < 7) {
          const size = held[rng.below(held.length)];
          // a base-page piece of a larger page, now and then (its source size in the meta)
          const src = size === 0 && rng.below(10) === 0 ? 2 : size;
          const m = meta(asid) | (src << Meta.SRC_SIZE_SHIFT);
          const attr = rng.below(10) === 0 ? 5 : 0;
          const first = Math.floor(vpn / per[size]) * per[size];
          ra = a.insert(vpn, size, first + 7, m, attr);
          rb = b.insert(vpn, size, first + 7, m, attr);
        } else if (op < 9 && (mask & 1) !== 0) {
          // insertMissed after a miss of the page for its ASID (its precondition)
          const m = asid; // no G: a global entry of another ASID would match the lookup
          ra = a.peek(vpn, asid);
          rb = b.peek(vpn, asid);
          if (ra === -1) {
            a.insertMissed(vpn, vpn + 9, m, 0);
            b.insertMissed(vpn, vpn + 9, m, 0);
          }
        } else if (op === 9 && (mask & 1) !== 0) {
          // insertRun of pages no entry covers (markCovered marks none)
          const step = 1 + rng.below(3);
          const count = 1 + rng.below(ways * 3);
          const first = rng.below(span);
          const marks = new Uint8Array(step * count);
          a.markCovered(first, step * count, marks);
          let covered = false;
          for (let j = 0; j < count; j++) if (marks[j * step] !== 0) covered = true;
          ra = rb = 0;
          if (!covered) {
            const pfns = new Float64Array(count).map((_, j) => first + j * step + 11);
            const metas = new Int32Array(count).fill(asid);
            const attrs = new Int32Array(count);
            const ors = [runOr(metas, count), runOr(attrs, count)] as const;
            a.insertRun(first, step, count, pfns, metas, attrs, ...ors);
            b.insertRun(first, step, count, pfns, metas, attrs, ...ors);
          }
        } else if (op < 13) {
          ra = a.lookup(vpn, asid);
          rb = b.lookup(vpn, asid);
        } else if (op < 18) {
          const how = rng.below(4) as InvalidateHow;
          const before = keysOf(b);
          if (a.baseOnly && rng.below(2) === 0) {
            ra = a.invalidateBasePage(vpn, asid, how);
            rb = b.invalidateBasePage(vpn, asid, how);
          } else {
            ra = a.invalidatePage(vpn, asid, how);
            rb = b.invalidatePage(vpn, asid, how);
          }
          if (rb === 0) expect(keysOf(b)).toBe(before); // nothing dropped, nothing moved
          dropped += rb;
          if (ra === 0) skipped++;
        } else {
          const how = rng.below(rng.below(4) === 0 ? 4 : 3) as InvalidateHow;
          if (how === InvalidateHow.Everything) {
            // clear against the same entries dropped one by one: non-global ones, then the globals
            ra = a.invalidateAll(asid, how);
            rb = b.invalidateAll(asid, InvalidateHow.AllNonGlobal);
            rb += b.invalidateAll(0, InvalidateHow.PcidAndGlobal);
          } else {
            ra = a.invalidateAll(asid, how);
            rb = b.invalidateAll(asid, how);
          }
        }
        expect(ra).toBe(rb);
        const d = differ(a, b);
        if (d !== "") expect(`${d} at step ${step} of shape ${shape}`).toBe("");
        const u = unfiltered(a);
        if (u !== "") expect(`${u} at step ${step} of shape ${shape}`).toBe("");
      }
    }
    expect(dropped).toBeGreaterThan(1000);
    expect(skipped).toBeGreaterThan(1000);
  });

  it("gets from insertRun the bits the inserts one by one set, for runs whose tags cross 2^31 and 2^32", () => {
    // insertRun steps its keys' tag bits down as int32 (filterMix of the tag's low 32 bits): runs
    // of user pages (tags above 2^32) and across the sign and wrap of the low half
    const runs: [number, number, number][] = [
      [2 ** 31 - 20, 1, 40],
      [2 ** 32 - 9, 3, 30],
      [0x7f0000000 - 100, 1, 511],
      [0x7fffffff0 + 2 ** 32, 7, 25],
      [2 ** 40 - 2 ** 32 + 5, 2 ** 32 + 1, 20],
    ];
    let bits = 0;
    for (const [first, step, count] of runs) {
      const a = new TlbArray(1536, 12, 1, 3, "run");
      const b = new TlbArray(1536, 12, 1, 3, "one");
      const pfns = new Float64Array(count).map((_, j) => 100 + j);
      const metas = new Int32Array(count).fill(1);
      const attrs = new Int32Array(count);
      a.insertRun(first, step, count, pfns, metas, attrs, runOr(metas, count), 0);
      for (let j = 0; j < count; j++) b.insertMissed(first + j * step, 100 + j, 1, 0);
      const fa = (a as unknown as Internals).filter!;
      const fb = (b as unknown as Internals).filter!;
      expect(Array.from(fa), `run from ${first}, step ${step}`).toEqual(Array.from(fb));
      for (const w of fa) bits += w === 0 ? 0 : 1;
      expect(Array.from(a.keys)).toEqual(Array.from(b.keys));
    }
    expect(bits).toBeGreaterThan(100);
  });

  it("is off once the entries are relocated for the WebAssembly hit loop, and invalidations still drop them", () => {
    const a = new TlbArray(64, 4, 1, 3, "r");
    a.insert(5, 0, 105, 1);
    a.relocate(new ArrayBuffer(24 * 64), 0);
    expect((a as unknown as Internals).filter).toBe(null);
    // a way filled outside (as wasm/hits.ts does), then invalidated by a scan
    const base = (6 & 15) * 4;
    a.keys[base] = 6 * 8;
    a.metas[base] = 1;
    a.countFills(1, 0);
    expect(a.invalidatePage(6, 1, InvalidateHow.PcidAndGlobal)).toBe(1);
    expect(a.invalidateBasePage(5, 1, InvalidateHow.PcidAndGlobal)).toBe(1);
    expect(a.occupancy()).toBe(0);
  });
});
