/**
 * TlbArray.insertRun (the closed form of a run of insertMissed of distinct base pages, none
 * covered by an entry: markCovered) against the inserts one by one, on arrays pre-filled at random
 * with 4K and 2M entries of several ASIDs, global ones and attributes; and markCovered against
 * peek-style coverage.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runOr } from "./Tlb.ts";
import { InvalidateHow, Meta, TlbArray, tlbInsertSerial } from "./TlbArray.ts";

function snapshot(a: TlbArray): unknown {
  return {
    keys: Array.from(a.keys),
    pfns: Array.from(a.pfns),
    metas: Array.from(a.metas),
    attrs: Array.from(a.attrs),
    evictions: a.evictions,
    occ: [a.occupancy(), a.occupancy(0), a.occupancy(1)],
    pieces: a.mayHoldPieces,
  };
}

const fillArb = fc.array(
  fc.record({
    vpn: fc.integer({ min: 0, max: 4000 }),
    size: fc.constantFrom(0, 0, 0, 1),
    asid: fc.nat(2),
    global: fc.boolean(),
    attr: fc.constantFrom(0, 0, 0, 5),
  }),
  { maxLength: 120 },
);

describe("TlbArray.insertRun (fast-check)", () => {
  it("leaves every entry, order, eviction, count and the insert serial as insertMissed one by one", () => {
    fc.assert(
      fc.property(
        fc.constantFrom([16, 4], [64, 4], [1536, 12], [8, 8], [4, 1]),
        fillArb,
        fc.integer({ min: 0, max: 6000 }),
        fc.integer({ min: 1, max: 1200 }),
        fc.constantFrom(1, 1, 2, 3, 16, 513),
        fc.constantFrom(0, 0, 3),
        fc.boolean(),
        ([entries, ways], fills, vpn0, count, step, attrEvery, fractured) => {
          const mk = () => {
            const a = new TlbArray(entries, ways, 3, 3, "t");
            for (const f of fills)
              a.insert(
                f.vpn,
                f.size,
                f.vpn,
                f.asid | (f.global ? Meta.G : 0) | (3 << Meta.RIGHTS_SHIFT),
                f.attr,
              );
            return a;
          };
          const a = mk();
          const b = mk();
          // the run's pages no entry covers, in order (as the fold cuts its spans)
          const marks = new Uint8Array((count - 1) * step + 1);
          const any = a.markCovered(vpn0, marks.length, marks);
          expect(any).toBe(marks.includes(1));
          let n = 0;
          while (n < count && marks[n * step] === 0) n++;
          // markCovered against the entries' ranges
          for (let j = 0; j < marks.length; j += Math.max(1, step >> 1)) {
            const vpn = vpn0 + j;
            const covered = fills.some((f) =>
              f.size === 0 ? f.vpn === vpn : Math.floor(f.vpn / 512) === Math.floor(vpn / 512),
            );
            if (marks[j] === 1) expect(covered, `page ${vpn} marked`).toBe(true);
            else expect(b.peek(vpn, 0) < 0 && b.peek(vpn, 1) < 0 && b.peek(vpn, 2) < 0).toBe(true);
          }
          const pfns = new Float64Array(n);
          const metas = new Int32Array(n);
          const attrs = new Int32Array(n);
          for (let j = 0; j < n; j++) {
            pfns[j] = 7000 + j;
            metas[j] = (j % 3) | ((j & 1) << 22) | (fractured && j === n >> 1 ? 1 << Meta.SRC_SIZE_SHIFT : 0);
            attrs[j] = attrEvery !== 0 && j % attrEvery === 1 ? 9 : 0;
          }
          const s0 = tlbInsertSerial();
          a.insertRun(vpn0, step, n, pfns, metas, attrs, runOr(metas, n), runOr(attrs, n));
          const s1 = tlbInsertSerial();
          for (let j = 0; j < n; j++) b.insertMissed(vpn0 + j * step, pfns[j], metas[j], attrs[j]);
          expect(s1 - s0).toBe(n);
          expect(tlbInsertSerial() - s1).toBe(n);
          expect(snapshot(a)).toEqual(snapshot(b));
          // and both go on alike
          a.insert(vpn0, 0, 1, 0, 0);
          b.insert(vpn0, 0, 1, 0, 0);
          expect(a.lookup(vpn0 + step, 0)).toBe(b.lookup(vpn0 + step, 0));
          expect(snapshot(a)).toEqual(snapshot(b));
        },
      ),
      { numRuns: 400, seed: 0x1257 },
    );
  });
});

/** The pages of first .. first + n - 1 some valid entry of `a` covers, from its keys (4K and 2M). */
function coveredByKeys(a: TlbArray, first: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.entries; i++) {
    const k = a.keys[i];
    if (k === -1) continue;
    const size = k % 8;
    const per = size === 0 ? 1 : 512;
    const from = ((k - size) / 8) * per;
    for (let v = Math.max(from, first); v < Math.min(from + per, first + n); v++) out.push(v - first);
  }
  return [...new Set(out)].sort((x, y) => x - y);
}

describe("TlbArray.markCovered after runs that replace every way (its key bounds)", () => {
  it("marks exactly the pages an entry covers, after any sequence of inserts, runs and invalidations", () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("run" as const),
        vpn: fc.nat(20000),
        count: fc.integer({ min: 1, max: 3000 }),
        step: fc.constantFrom(1, 1, 2, 3),
      }),
      fc.record({ kind: fc.constant("insert" as const), vpn: fc.nat(24000), size: fc.constantFrom(0, 0, 1) }),
      fc.record({ kind: fc.constant("invlpg" as const), vpn: fc.nat(24000) }),
      fc.record({ kind: fc.constant("flush" as const) }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom([64, 4], [1536, 12], [8, 8]),
        fc.array(op, { maxLength: 12 }),
        fc.array(fc.nat(24000), { minLength: 1, maxLength: 6 }),
        ([entries, ways], ops, probes) => {
          const a = new TlbArray(entries, ways, 3, 3, "t");
          for (const o of ops) {
            if (o.kind === "run") {
              // the run's pages no entry covers (insertRun's precondition), as the fold cuts them
              const span = (o.count - 1) * o.step + 1;
              const marks = new Uint8Array(span);
              a.markCovered(o.vpn, span, marks);
              let n = 0;
              while (n < o.count && marks[n * o.step] === 0) n++;
              const pfns = new Float64Array(n).fill(5);
              const metas = new Int32Array(n).fill(1);
              a.insertRun(o.vpn, o.step, n, pfns, metas, new Int32Array(n), n > 0 ? 1 : 0, 0);
            } else if (o.kind === "insert") a.insert(o.vpn, o.size, o.vpn, 1, 0);
            else if (o.kind === "invlpg") a.invalidatePage(o.vpn, 1, InvalidateHow.PcidAndGlobal);
            else a.invalidateAll(0, InvalidateHow.Everything);
            // and the pages at the ends of what is held: a range that ends at the lowest, one from the highest
            const held = [...a.keys].filter((k) => k !== -1 && k % 8 === 0).map((k) => k / 8);
            const ends = held.length === 0 ? [] : [Math.min(...held) - 511, Math.max(...held)];
            for (const p of [...probes, ...ends]) {
              const marks = new Uint8Array(512);
              const any = a.markCovered(p, 512, marks);
              const got = [...marks.keys()].filter((j) => marks[j] === 1);
              expect(got).toEqual(coveredByKeys(a, p, 512));
              expect(any).toBe(got.length > 0);
            }
          }
        },
      ),
      { numRuns: 300, seed: 0x6b3d },
    );
  });
});
