/**
 * x86-64's swap PTE against arch/x86/include/asm/pgtable_64.h: the offset
 * inverted in bits 58..9 (__swp_entry with L1TF's inversion), the type in
 * bits 63..59, and the exclusive marker _PAGE_SWP_EXCLUSIVE = _PAGE_PSE
 * (bit 7), outside both fields.
 */
import { describe, expect, it } from "vitest";
import { toBig } from "../../../base/u64.ts";
import { X86Pgtable } from "./pgtable.ts";

const pt = new X86Pgtable(4, false);
const big = (e: { hi: number; lo: number }) => toBig(e.hi, e.lo);
const MASK64 = (1n << 64n) - 1n;

describe("x86-64 swap entries", () => {
  it.each([1, 9, 0x123456, 2 ** 31 + 7])(
    "offset %d: ~offset << 9 with type 0, bit 7 the exclusive marker",
    (off) => {
      const plain = pt.mkSwap(off, false);
      // __swp_entry(0, off): (~off << SWP_OFFSET_SHIFT >> SWP_TYPE_BITS), SWP_OFFSET_SHIFT = 9 + 5
      const want = (((~BigInt(off) & MASK64) << 14n) & MASK64) >> 5n;
      expect(big(plain)).toBe(want);
      const ex = pt.mkSwap(off, true);
      expect(big(ex)).toBe(want | (1n << 7n));
      expect([pt.swapExclusive(plain.hi, plain.lo), pt.swapExclusive(ex.hi, ex.lo)]).toEqual([false, true]);
      expect(pt.isSwap(ex.hi, ex.lo) && !pt.present(ex.hi, ex.lo) && !pt.none(ex.hi, ex.lo)).toBe(true);
      expect(pt.swapOffset(ex.hi, ex.lo)).toBe(off);
      expect(big(pt.swapClearExclusive(ex.hi, ex.lo))).toBe(want);
    },
  );
});
