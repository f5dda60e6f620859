/**
 * PhysMem.write64 takes its halves as 32-bit numbers in either form (int32 or uint32: their bits):
 * x86's set_pte passes them `| 0` (a half at or above 2^31, the XD bit or a swap entry's, passed
 * unsigned would be a new heap number per call) and write64 hands them to PageStore.writeQword
 * `| 0`. Two machines, one storing every 64-bit word with int32 halves and one with uint32 halves,
 * through random sequences of stores into frames of every kind (untouched, uniform, one word off
 * the pattern, materialised, and back), end with the same words, the same page states and the same
 * host slots.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pfnUnchecked } from "../base/units.ts";
import { PhysMem } from "./PhysMem.ts";

const FRAMES = 4;

describe("PhysMem.write64: int32 and uint32 halves store the same bits", () => {
  it("leaves the same memory and page states either way", () => {
    const word = fc.oneof(
      fc.constant(0),
      fc.constant(0x80000000),
      fc.constant(0xffffffff),
      fc.integer({ min: 0, max: 0xffffffff }),
    );
    const store = fc.record({
      frame: fc.integer({ min: 0, max: FRAMES - 1 }),
      q: fc.oneof(fc.constant(0), fc.constant(7), fc.integer({ min: 0, max: 511 })),
      hi: word,
      lo: word,
      fill: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(store, { maxLength: 40 }), (ops) => {
        const signed = new PhysMem(FRAMES * 4096);
        const unsigned = new PhysMem(FRAMES * 4096);
        for (const { frame, q, hi, lo, fill } of ops) {
          if (fill) {
            // a uniform frame of that pattern, then the store below into it
            signed.store.fill(frame, lo | 0, hi | 0);
            unsigned.store.fill(frame, lo | 0, hi | 0);
          }
          const pa = frame * 4096 + q * 8;
          signed.write64(pa, hi | 0, lo | 0);
          unsigned.write64(pa, hi >>> 0, lo >>> 0);
          expect(signed.read64Hi(pa)).toBe(hi >>> 0);
          expect(signed.read64Lo(pa)).toBe(lo >>> 0);
        }
        for (let f = 0; f < FRAMES; f++) {
          expect(signed.store.state(f)).toBe(unsigned.store.state(f));
          const a = signed.frameWords(pfnUnchecked(f));
          const aw = a === null ? null : Array.from(a);
          const b = unsigned.frameWords(pfnUnchecked(f));
          expect(aw).toEqual(b === null ? null : Array.from(b));
        }
        expect(signed.materialized).toBe(unsigned.materialized);
      }),
      { numRuns: 300, seed: 20261206 },
    );
  });
});
