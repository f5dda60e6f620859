/**
 * TlbArray's base-page arrays against a plain model of a true-LRU set-associative TLB (SDM Vol. 3A
 * §4.10.2 with true LRU: each set a list, most recent first, at most `ways` long): random inserts,
 * insertMissed after a miss, insertRun of uncovered pages (short runs whose pages fall in distinct
 * sets, and long ones that put several pages in a set), lookups and every
 * invalidation; after each step every way (key, frame, meta, attributes, in recency order, invalid
 * ways last), evictions, valid, occupancy, the insert serial and what each call returned equal.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { runOr } from "./Tlb.ts";
import { InvalidateHow, Meta, TlbArray, tlbInsertSerial } from "./TlbArray.ts";

const G = Meta.G;

interface Entry {
  key: number;
  pfn: number;
  meta: number;
  attr: number;
}

/** The model: per set its entries, most recent first; the counters a TLB keeps. */
class LruModel {
  readonly sets: Entry[][];
  evictions = 0;
  serial = 0;

  constructor(
    readonly nSets: number,
    readonly ways: number,
  ) {
    this.sets = Array.from({ length: nSets }, () => []);
  }

  private set(vpn: number): Entry[] {
    return this.sets[vpn % this.nSets];
  }

  /** A hit (G, or the ASID's) moves to the front; returns whether one hit. */
  lookup(vpn: number, asid: number): boolean {
    const s = this.set(vpn);
    const i = s.findIndex((e) => e.key === vpn * 8 && ((e.meta & G) !== 0 || (e.meta & 0xffff) === asid));
    if (i < 0) return false;
    s.unshift(...s.splice(i, 1));
    return true;
  }

  /** An entry of the same key, ASID and G bit is replaced; else the least recent goes when the set is full. */
  insert(vpn: number, pfn: number, meta: number, attr: number): void {
    this.serial++;
    const s = this.set(vpn);
    const i = s.findIndex((e) => e.key === vpn * 8 && ((e.meta ^ meta) & (0xffff | G)) === 0);
    if (i >= 0) s.splice(i, 1);
    else if (s.length === this.ways) {
      s.pop();
      this.evictions++;
    }
    s.unshift({ key: vpn * 8, pfn, meta: meta & ~Meta.HELD_SIZE_MASK, attr });
  }

  invalidate(vpn: number | null, asid: number, how: InvalidateHow): number {
    let n = 0;
    for (let si = 0; si < this.nSets; si++) {
      const s = this.sets[si];
      const keep = s.filter((e) => {
        if (vpn !== null && e.key !== vpn * 8) return true;
        const global = (e.meta & G) !== 0;
        const own = (e.meta & 0xffff) === asid;
        const hit =
          how === InvalidateHow.PcidAndGlobal
            ? global || own
            : how === InvalidateHow.PcidNonGlobal
              ? !global && own
              : how === InvalidateHow.AllNonGlobal
                ? !global
                : true;
        return !hit;
      });
      n += s.length - keep.length;
      this.sets[si] = keep;
    }
    return n;
  }

  covers(vpn: number): boolean {
    return this.set(vpn).some((e) => e.key === vpn * 8);
  }
}

/** Where the array and the model differ, or "". */
function differ(a: TlbArray, m: LruModel, serial0: number): string {
  let valid = 0;
  for (let s = 0; s < m.nSets; s++) {
    const list = m.sets[s];
    valid += list.length;
    for (let w = 0; w < a.ways; w++) {
      const i = s * a.ways + w;
      const e = list[w];
      if (e === undefined) {
        if (a.keys[i] !== -1) return `set ${s} way ${w}: key ${a.keys[i]}, model invalid`;
        continue;
      }
      if (a.keys[i] !== e.key || a.pfns[i] !== e.pfn || a.metas[i] !== e.meta || a.attrs[i] !== e.attr)
        return `set ${s} way ${w}: ${a.keys[i]}/${a.pfns[i]}/${a.metas[i]}/${a.attrs[i]}, model ${e.key}/${e.pfn}/${e.meta}/${e.attr}`;
    }
  }
  if (a.valid !== valid || a.occupancy() !== valid || a.occupancy(0) !== valid)
    return `valid ${a.valid} (occupancy ${a.occupancy()}), model ${valid}`;
  if (a.evictions !== m.evictions) return `evictions ${a.evictions}, model ${m.evictions}`;
  if (tlbInsertSerial() - serial0 !== m.serial)
    return `insert serial +${tlbInsertSerial() - serial0}, model +${m.serial}`;
  if (!a.baseOnly) return "not baseOnly";
  return "";
}

const SHAPES: [number, number][] = [
  [64, 4],
  [1536, 12],
  [128, 8],
  [16, 16],
  [8, 2],
  [4, 1],
];

describe("TlbArray against a true-LRU model", () => {
  it("keeps every way, its order and every counter as the model, through random steps on every shape", () => {
    let distinctRuns = 0;
    let sharedRuns = 0;
    for (let shape = 0; shape < SHAPES.length; shape++) {
      const [entries, ways] = SHAPES[shape];
      const sets = entries / ways;
      const rng = new Rng(0x7b + shape);
      const a = new TlbArray(entries, ways, 1, 3, "lru");
      const m = new LruModel(sets, ways);
      const serial0 = tlbInsertSerial();
      const span = entries * 3; // pages drawn from: the sets fill and evict
      const steps = entries > 1000 ? 3000 : 4000;
      let withAttrs = false;
      for (let step = 0; step < steps; step++) {
        const op = rng.below(20);
        const vpn = rng.below(span);
        const asid = rng.below(3);
        // attributes only later (until the first, the attribute array is not moved)
        const attr = () => {
          if (step < steps / 2 || rng.below(6) !== 0) return 0;
          withAttrs = true;
          return 3 + rng.below(4);
        };
        let ra: number | boolean = 0;
        let rb: number | boolean = 0;
        if (op < 4) {
          const meta = asid | (rng.below(8) === 0 ? G : 0) | (rng.below(64) << Meta.RIGHTS_SHIFT);
          const at = attr();
          a.insert(vpn, 0, vpn + 5, meta, at);
          m.insert(vpn, vpn + 5, meta, at);
        } else if (op < 6) {
          // insertMissed after a lookup of the page for the ASID missed (its precondition)
          ra = a.lookup(vpn, asid) >= 0;
          rb = m.lookup(vpn, asid);
          if (!rb) {
            const at = attr();
            a.insertMissed(vpn, vpn + 6, asid | Meta.D, at);
            m.insert(vpn, vpn + 6, asid | Meta.D, at);
          }
        } else if (op < 10) {
          // a run of pages no entry covers: short (distinct sets, most of the time) or long
          const stepSize = rng.pick([1, 1, 1, 2, 3, 16, sets + 1, 2 * sets]);
          const count = 1 + (rng.below(3) === 0 ? rng.below(3 * entries) : rng.below(Math.max(1, sets)));
          const first = rng.below(span);
          let n = 0;
          while (n < count && !m.covers(first + n * stepSize)) n++;
          const marks = new Uint8Array(Math.max(1, (n - 1) * stepSize + 1));
          a.markCovered(first, marks.length, marks);
          for (let j = 0; j < n; j++) expect(marks[j * stepSize]).toBe(0);
          const pfns = new Float64Array(n);
          const metas = new Int32Array(n);
          const attrs = new Int32Array(n);
          for (let j = 0; j < n; j++) {
            pfns[j] = 9000 + j;
            metas[j] = (j % 3) | (rng.below(4) === 0 ? Meta.D : 0) | (rng.below(16) === 0 ? G : 0);
            attrs[j] = attr();
          }
          const low = stepSize & (sets - 1);
          if (low !== 0 && n * (low & -low) <= sets) distinctRuns++;
          else if (n > 1) sharedRuns++;
          a.insertRun(first, stepSize, n, pfns, metas, attrs, runOr(metas, n), runOr(attrs, n));
          for (let j = 0; j < n; j++) m.insert(first + j * stepSize, pfns[j], metas[j], attrs[j]);
        } else if (op < 15) {
          ra = a.lookup(vpn, asid) >= 0;
          rb = m.lookup(vpn, asid);
        } else if (op < 19) {
          const how = rng.below(4) as InvalidateHow;
          ra = rng.below(2) === 0 ? a.invalidatePage(vpn, asid, how) : a.invalidateBasePage(vpn, asid, how);
          rb = m.invalidate(vpn, asid, how);
        } else {
          const how = rng.below(4) as InvalidateHow;
          ra = a.invalidateAll(asid, how);
          rb = m.invalidate(null, asid, how);
        }
        if (ra !== rb) expect(`returned ${ra}, model ${rb}, at step ${step} of shape ${shape}`).toBe("");
        const d = differ(a, m, serial0);
        if (d !== "") expect(`${d} at step ${step} of shape ${shape}`).toBe("");
      }
      expect(withAttrs).toBe(true);
    }
    expect(distinctRuns).toBeGreaterThan(2000);
    expect(sharedRuns).toBeGreaterThan(500);
  });
});
