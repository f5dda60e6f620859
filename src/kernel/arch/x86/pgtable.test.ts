/**
 * x86-64's swap PTE against arch/x86/include/asm/pgtable_64.h: the offset
 * inverted in bits 58..9 (__swp_entry with L1TF's inversion), the type in
 * bits 63..59, and the exclusive marker _PAGE_SWP_EXCLUSIVE = _PAGE_PSE
 * (bit 7), outside both fields.
 */
import { describe, expect, it } from "vitest";
import { toBig } from "../../../base/u64.ts";
import { reservedMasks } from "../../../hw/arch/x86_64/pte.ts";
import { mkSwapEntry } from "../../mm/arch.ts";
import { HI_ADDR, KERNEL_MAXPHYADDR, X86Pgtable } from "./pgtable.ts";

const pt = new X86Pgtable(4, false);
const big = (e: { hi: number; lo: number }) => toBig(e.hi, e.lo);
const MASK64 = (1n << 64n) - 1n;

describe("x86-64 swap entries", () => {
  it.each([1, 9, 0x123456, 2 ** 31 + 7])(
    "offset %d: ~offset << 9 with type 0, bit 7 the exclusive marker",
    (off) => {
      const plain = mkSwapEntry(pt, off, false);
      // __swp_entry(0, off): (~off << SWP_OFFSET_SHIFT >> SWP_TYPE_BITS), SWP_OFFSET_SHIFT = 9 + 5
      const want = (((~BigInt(off) & MASK64) << 14n) & MASK64) >> 5n;
      expect(big(plain)).toBe(want);
      const ex = mkSwapEntry(pt, off, true);
      expect(big(ex)).toBe(want | (1n << 7n));
      expect([pt.swapExclusive(plain.hi, plain.lo), pt.swapExclusive(ex.hi, ex.lo)]).toEqual([false, true]);
      expect(pt.isSwap(ex.hi, ex.lo) && !pt.present(ex.hi, ex.lo) && !pt.none(ex.hi, ex.lo)).toBe(true);
      expect(pt.swapOffset(ex.hi, ex.lo)).toBe(off);
      expect(big(pt.swapClearExclusive(ex.hi, ex.lo))).toBe(want);
    },
  );
});

// mk_pte of a user page (vm_get_page_prot, then pte_mkwrite/mkdirty/mkspecial) against the entry
// built bit by bit from the manual's and Linux's positions: frame, P, RW, US, A, D, PS at the PMD
// level, bit 9 special (_PAGE_SPECIAL, SOFTW1), bit 8 PROTNONE (a PAGE_NONE VMA: no P), bits 62..59
// the key, bit 63 XD unless VM_EXEC
describe("x86-64 user entries (mkUser)", () => {
  it("sets each bit the VMA and the caller ask for, and no other", () => {
    const pfns = [0, 1, 0x12345, 2 ** 20 - 1, 2 ** 20, 0xabcdef123, 2 ** 40 - 1];
    for (const pfn of pfns)
      for (let level = 0; level < 2; level++)
        for (const vmFlags of [0, 1, 2, 3, 4, 5, 7, 1 + 3 * 2 ** 32, 7 + 15 * 2 ** 32])
          for (let f = 0; f < 8; f++) {
            const [writable, dirty, special] = [(f & 1) !== 0, (f & 2) !== 0, (f & 4) !== 0];
            const e = pt.mkUser(pfn, level, vmFlags, writable, dirty, special);
            let want = (BigInt(pfn) << 12n) | 0x1n | 0x4n | 0x20n; // P, US, A
            if (writable) want |= 0x2n;
            if (dirty) want |= 0x40n;
            if (level > 0) want |= 0x80n;
            if (special) want |= 1n << 9n;
            if ((vmFlags & 7) === 0) want = (want & ~1n) | (1n << 8n); // PAGE_NONE: PROTNONE for P
            want |= BigInt(Math.floor(vmFlags / 2 ** 32) & 15) << 59n;
            if (!(vmFlags & 4)) want |= 1n << 63n;
            expect(big(e), `pfn ${pfn} level ${level} vmFlags ${vmFlags} f ${f}`).toBe(want);
          }
  });
});

// pte_pfn / pmd_pfn: address bits 45..12 (MAXPHYADDR 46), a large leaf's PAT bit (12) not part of
// the frame, the bits above MAXPHYADDR (NX, the key, bits 51..46) ignored
describe("x86-64 entries' frames (pfn)", () => {
  it("reads back every frame mkUser makes, at both levels, whatever the bits above the address", () => {
    expect(HI_ADDR).toBe(reservedMasks(KERNEL_MAXPHYADDR).hiAddrMask);
    for (const pfn of [0, 1, 0x12345, 2 ** 20 - 1, 2 ** 20, 2 ** 31 + 5, 2 ** 32 + 3, 2 ** 34 - 1])
      for (let level = 0; level < 2; level++) {
        const lpfn = level > 0 ? pfn - (pfn % 512) : pfn;
        const e = pt.mkUser(lpfn, level, 7 + 15 * 2 ** 32, true, true, false);
        expect(pt.pfn(e.hi, e.lo, level), `pfn ${lpfn} level ${level}`).toBe(lpfn);
        // bits 51..46 set (reserved above MAXPHYADDR) and, at the PMD level, PAT (bit 12)
        const hi = (e.hi | (0x3f << 14)) >>> 0;
        const lo = level > 0 ? (e.lo | 0x1000) >>> 0 : e.lo;
        expect(pt.pfn(hi, lo, level), `pfn ${lpfn} level ${level}, high bits`).toBe(lpfn);
      }
  });
});
