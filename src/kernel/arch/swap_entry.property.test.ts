/**
 * Every architecture's swap entry (Pgtable.mkSwapHi / mkSwapLo, isSwap,
 * swapOffset, swapExclusive, swapClearExclusive) against Linux's macros
 * written out in 64-bit integers, over random offsets up to the largest
 * each format holds (above 2^32 pages where it allows):
 * - x86-64 and PAE (pgtable_64.h __swp_entry, pgtable-3level.h
 *   __swp_pteval_entry): ~offset << SWP_OFFSET_SHIFT (14) >> SWP_TYPE_BITS
 *   (5): the offset inverted in bits 58..9 (L1TF), type 0 in bits 63..59;
 *   50 offset bits. _PAGE_SWP_EXCLUSIVE = _PAGE_PSE (bit 7).
 * - 2-level i386 (pgtable-2level.h __swp_entry): offset << 9, type 0 in
 *   bits 5..1; 23 offset bits in a 4-byte PTE. Exclusive: bit 7.
 * - arm64 (asm/pgtable.h __swp_entry): offset << 12 masked to 50 bits
 *   (__SWP_OFFSET_MASK), type 0 in bits 10:6. PTE_SWP_EXCLUSIVE: bit 2.
 * - RISC-V RV64 (asm/pgtable.h __swp_entry): offset << 12 (52 bits), type 0
 *   in bits 11:7. _PAGE_SWP_EXCLUSIVE = _PAGE_ACCESSED: bit 6.
 * - RISC-V RV32 (the same macros, "bits 12 to XLEN-1"): offset << 12 in a
 *   4-byte PTE, 20 offset bits.
 * Offsets start at 1: slot 0 is the swap header's (Linux never allocates
 * it; with arm64's or RISC-V's type 0 its entry would be pte_none). x86's
 * stop 2^23 short of 2^50: vmlab's is_swap_pte tells a swap entry from its
 * guard marker (bit 10, high half 0) by a non-zero high half, which the
 * inverted offset of those last 2^23 slots does not set.
 * Each architecture is built through the registry (kernel/arch/index.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PhysMem } from "../../hw/PhysMem.ts";
import { type KernelArchName, resolveConfig } from "../core/config.ts";
import { mkSwapEntry, type Pgtable } from "../mm/arch.ts";
import { ARCHES, archFor } from "./index.ts";

const MASK64 = (1n << 64n) - 1n;

interface Format {
  /** the largest offset the PTE holds */
  maxOffset: bigint;
  /** swp_entry_to_pte(swp_entry(0, offset)) as a 64-bit value */
  encode: (offset: bigint) => bigint;
  /** the exclusive marker's bit */
  exclusiveBit: number;
}

const x86: Format = {
  maxOffset: (1n << 50n) - (1n << 23n) - 1n,
  encode: (o) => (((~o & MASK64) << 14n) & MASK64) >> 5n,
  exclusiveBit: 7,
};
const FORMATS: Record<string, Format> = {
  x86_64: x86,
  "x86_64-la57": x86,
  "i386-pae": x86,
  i386: { maxOffset: (1n << 23n) - 1n, encode: (o) => o << 9n, exclusiveBit: 7 },
  arm64: { maxOffset: (1n << 50n) - 1n, encode: (o) => o << 12n, exclusiveBit: 2 },
  "riscv-sv32": { maxOffset: (1n << 20n) - 1n, encode: (o) => o << 12n, exclusiveBit: 6 },
  "riscv-sv39": { maxOffset: (1n << 52n) - 1n, encode: (o) => o << 12n, exclusiveBit: 6 },
  "riscv-sv48": { maxOffset: (1n << 52n) - 1n, encode: (o) => o << 12n, exclusiveBit: 6 },
  "riscv-sv57": { maxOffset: (1n << 52n) - 1n, encode: (o) => o << 12n, exclusiveBit: 6 },
};

function pgtableOf(arch: KernelArchName): Pgtable {
  return archFor(resolveConfig({ ramBytes: 64 * 2 ** 20, arch })).pgtable;
}

/** offsets: small ones, ones around 2^31 and 2^32, and any up to the format's largest */
function offsets(max: bigint): fc.Arbitrary<number> {
  const upTo = (m: bigint) => fc.bigInt({ min: 1n, max: m < max ? m : max }).map(Number);
  const near = (b: bigint) =>
    b > max
      ? upTo(max)
      : fc.bigInt({ min: b - 64n < 1n ? 1n : b - 64n, max: b + 64n > max ? max : b + 64n }).map(Number);
  return fc.oneof(upTo(4096n), near(1n << 31n), near(1n << 32n), upTo(max), fc.constant(Number(max)));
}

describe("swap entries on every architecture", () => {
  it("names a format for every architecture the registry has", () => {
    expect(Object.keys(FORMATS).sort()).toEqual(Object.keys(ARCHES).sort());
  });

  for (const arch of Object.keys(FORMATS) as KernelArchName[]) {
    it(`${arch}: mkSwapHi/mkSwapLo/setSwap are Linux's bits, and isSwap/swapOffset/exclusive read them back`, () => {
      const pt = pgtableOf(arch);
      const phys = new PhysMem(1 << 16);
      const f = FORMATS[arch];
      const exBit = BigInt(1 << f.exclusiveBit);
      fc.assert(
        fc.property(offsets(f.maxOffset), fc.boolean(), (off, exclusive) => {
          const hi = pt.mkSwapHi(off, exclusive);
          const lo = pt.mkSwapLo(off, exclusive);
          for (const w of [hi, lo]) expect(Number.isInteger(w) && w >= 0 && w < 2 ** 32).toBe(true);
          const want = f.encode(BigInt(off)) | (exclusive ? exBit : 0n);
          expect((BigInt(hi) << 32n) | BigInt(lo), `offset ${off}`).toBe(want);
          expect(mkSwapEntry(pt, off, exclusive)).toEqual({ hi, lo });
          // setSwap (try_to_unmap_one's store) writes the same entry
          const pa = 4096 + pt.entryBytes * ((off % 511) + 1);
          pt.set(phys, pa, 0x1234, 0x5678);
          pt.setSwap(phys, pa, off, exclusive);
          expect(pt.get(phys, pa)).toEqual({ hi: pt.entryBytes === 8 ? hi : 0, lo });
          expect(pt.isSwap(hi, lo)).toBe(true);
          expect(pt.present(hi, lo) || pt.none(hi, lo) || pt.isGuard(hi, lo)).toBe(false);
          expect(pt.swapOffset(hi, lo)).toBe(off);
          expect(pt.swapExclusive(hi, lo)).toBe(exclusive);
          const plain = pt.swapClearExclusive(hi, lo);
          expect(plain).toEqual({ hi: pt.mkSwapHi(off, false), lo: pt.mkSwapLo(off, false) });
          expect(pt.swapOffset(plain.hi, plain.lo)).toBe(off);
        }),
        { numRuns: 400 },
      );
    });
  }
});
