/**
 * TlbArray.insertRun (the closed form of a run of insertMissed of distinct base pages, none
 * covered by an entry: markCovered) against the inserts one by one, on arrays pre-filled at random
 * with 4K and 2M entries of several ASIDs, global ones and attributes; and markCovered against
 * peek-style coverage.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Meta, TlbArray, tlbInsertSerial } from "./TlbArray.ts";

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
          a.insertRun(vpn0, step, n, pfns, metas, attrs);
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
