/**
 * 32-bit x86 Pgtable against Linux's headers. The expected values are
 * written out here from arch/x86/include/asm/pgtable_types.h
 * (_PAGE_BIT_*), pgtable-2level.h and pgtable-3level.h (__swp_entry,
 * __swp_pteval_entry) and include/linux/swapops.h (SWP_PTE_MARKER), as
 * 64-bit bigints, independently of the code.
 */
import { describe, expect, it } from "vitest";
import { toBig } from "../../../base/u64.ts";
import { PhysMem } from "../../../hw/PhysMem.ts";
import { mkSwapEntry, PteFlag } from "../../mm/arch.ts";
import { VmFlag } from "../../mm/vma.ts";
import { I386Pgtable } from "./pgtable_32.ts";

const b = (n: number) => 1n << BigInt(n);
const _PAGE_PRESENT = b(0);
const _PAGE_RW = b(1);
const _PAGE_USER = b(2);
const _PAGE_ACCESSED = b(5);
const _PAGE_DIRTY = b(6);
const _PAGE_PSE = b(7);
const _PAGE_PROTNONE = b(8);
const _PAGE_SPECIAL = b(9);
const _PAGE_NX = b(63);
const _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;
const _KERNPG_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY;

const big = (e: { hi: number; lo: number }) => toBig(e.hi, e.lo);
const RW = VmFlag.READ | VmFlag.WRITE;

describe("i386 (2-level) entries", () => {
  const pt = new I386Pgtable(false);

  it("geometry: 2 levels of 1024 4-byte entries, the PMD folded into the PGD, 4M huge pages", () => {
    expect([pt.levels, pt.ptrsPerTable, pt.entryBytes, pt.hpagePmdNr]).toEqual([2, 1024, 4, 1024]);
    expect(pt.levelNames).toEqual(["PTE", "PGD"]);
    expect(pt.userPgtablesCeiling * 4096).toBe(0xc0000000);
    expect(pt.pgdOrder).toBe(0);
  });

  it("user PTEs: no NX bit to set (32-bit paging has none); PAGE_NONE is PROTNONE without P", () => {
    const e = big(pt.mkUser(0x12345, 0, VmFlag.READ, true, true, false));
    expect(e).toBe(0x12345000n | _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY);
    const none = big(pt.mkUser(0x12345, 0, 0, false, false, false));
    expect(none).toBe(0x12345000n | _PAGE_PROTNONE | _PAGE_USER | _PAGE_ACCESSED);
    expect(pt.protnone(0, Number(none))).toBe(true);
    expect(pt.present(0, Number(none)) && !pt.accessible(0, Number(none))).toBe(true);
    const sp = pt.mkUser(0x10, 0, VmFlag.READ, false, false, true);
    expect(BigInt(sp.lo) & _PAGE_SPECIAL).toBe(_PAGE_SPECIAL);
  });

  it("a 4 MiB huge PMD keeps PA bits 35..32 in bits 16..13 (PSE-36); pmd_pfn reads them back", () => {
    // PA 0x234000000 (above 4 GiB): bits 31..22 = 0x34000000, bits 35..32 = 2
    const e = pt.mkUser(0x234000, 1, RW, true, true, false);
    expect(big(e)).toBe(
      0x34000000n |
        (2n << 13n) |
        _PAGE_PRESENT |
        _PAGE_RW |
        _PAGE_USER |
        _PAGE_ACCESSED |
        _PAGE_DIRTY |
        _PAGE_PSE,
    );
    expect(pt.pfn(e.hi, e.lo, 1)).toBe(0x234000);
    expect(pt.leaf(e.hi, e.lo, 1)).toBe(true);
  });

  it("pmd_populate: _PAGE_TABLE for a user table, _KERNPG_TABLE for the kernel's", () => {
    expect(big(pt.mkTable(0x1805, true))).toBe(0x1805000n | _PAGE_TABLE);
    expect(big(pt.mkTable(0x1805, false))).toBe(0x1805000n | _KERNPG_TABLE);
  });

  it("__swp_entry(0, off) = off << 9; the guard marker swp_entry(SWP_PTE_MARKER = 31, PTE_MARKER_GUARD = 4)", () => {
    for (const off of [1, 7, 0x1000, 0x7fffff]) {
      const e = mkSwapEntry(pt, off, false);
      expect(big(e)).toBe(BigInt(off) << 9n);
      expect(pt.swapOffset(e.hi, e.lo)).toBe(off);
      expect(pt.isSwap(e.hi, e.lo) && !pt.isGuard(e.hi, e.lo)).toBe(true);
    }
    expect(big(pt.guard)).toBe((31n << 1n) | (4n << 9n));
    expect(pt.isSwap(pt.guard.hi, pt.guard.lo)).toBe(false);
    expect(pt.isGuard(pt.guard.hi, pt.guard.lo)).toBe(true);
  });

  it("modify, needsFlush as pte_flags_need_flush", () => {
    const e = pt.mkUser(0x100, 0, RW, true, true, false);
    const ro = pt.modify(e.hi, e.lo, 0, PteFlag.WRITE);
    expect(BigInt(ro.lo) & _PAGE_RW).toBe(0n);
    expect(pt.needsFlush(e.hi, e.lo, ro.hi, ro.lo, 0)).toBe(true);
    const old = pt.modify(e.hi, e.lo, 0, PteFlag.YOUNG);
    expect(pt.needsFlush(e.hi, e.lo, old.hi, old.lo, 0)).toBe(false);
    expect(pt.needsFlush(0, 0, e.hi, e.lo, 0)).toBe(false);
  });

  it("pgd_ctor copies entries 768..1023 (KERNEL_PGD_BOUNDARY) and nothing below", () => {
    const phys = new PhysMem(1 << 20);
    for (let i = 0; i < 1024; i++) phys.write32(0x1000 + i * 4, (i * 4096 + 0x63) >>> 0);
    pt.pgdCtor(phys, 1, 2);
    expect(phys.read32(0x2000 + 767 * 4)).toBe(0);
    expect(phys.read32(0x2000 + 768 * 4)).toBe(phys.read32(0x1000 + 768 * 4));
    expect(phys.read32(0x2000 + 1023 * 4)).toBe(phys.read32(0x1000 + 1023 * 4));
  });
});

describe("i386-pae (3-level) entries", () => {
  const pt = new I386Pgtable(true);

  it("geometry: 3 levels of 512 8-byte entries (the PDPT's 4 used), the PUD folded into the PGD", () => {
    expect([pt.levels, pt.ptrsPerTable, pt.entryBytes, pt.hpagePmdNr]).toEqual([3, 512, 8, 512]);
    expect(pt.levelNames).toEqual(["PTE", "PMD", "PGD"]);
    expect(pt.pgdOrder).toBe(2);
    expect(pt.preallocatedPmds).toBe(true);
    expect(pt.userPgtablesCeiling / 512 ** 2).toBe(3);
  });

  it("user PTEs carry NX unless VM_EXEC; frames above 4 GiB in the high half", () => {
    const e = pt.mkUser(0x123456, 0, RW, true, false, false);
    expect(big(e)).toBe(0x123456000n | _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_NX);
    expect(pt.pfn(e.hi, e.lo, 0)).toBe(0x123456);
    const x = pt.mkUser(0x10, 0, VmFlag.READ | VmFlag.EXEC, false, false, false);
    expect(big(x) & _PAGE_NX).toBe(0n);
    // NX going away needs no flush; NX coming does
    expect(pt.needsFlush(x.hi, x.lo, e.hi, e.lo, 0)).toBe(true);
  });

  it("a PDPTE is a table at the top level, never a leaf", () => {
    expect(pt.table(0, 0x5001, 2)).toBe(true);
    expect(pt.leaf(0, 0x5001 | 0x80, 2)).toBe(false);
  });

  it("__swp_pteval_entry: the offset inverted from bit 9 (L1TF), type 0 in bits 63..59", () => {
    for (const off of [1, 0x12345, 0xffffff]) {
      const e = big(mkSwapEntry(pt, off, false));
      const want = (~BigInt(off) << 14n) & ((1n << 64n) - 1n);
      expect(e).toBe(want >> 5n);
      const s = mkSwapEntry(pt, off, false);
      expect(pt.swapOffset(s.hi, s.lo)).toBe(off);
      expect(pt.isSwap(s.hi, s.lo)).toBe(true);
    }
  });

  it("pgd_ctor: PDPTEs 0..2 point to the three pages after the PDPT (P only), PDPTE 3 is the kernel's", () => {
    const phys = new PhysMem(1 << 20);
    phys.write64(0x1000 + 24, 0, 0x9001);
    pt.pgdCtor(phys, 1, 0x10);
    for (let i = 0; i < 3; i++) expect(phys.read32(0x10000 + i * 8)).toBe((0x11 + i) * 4096 + 1);
    expect(phys.read32(0x10000 + 24)).toBe(0x9001);
  });
});

describe("the swap PTE's exclusive marker (_PAGE_SWP_EXCLUSIVE = _PAGE_PSE, bit 7)", () => {
  it.each([false, true])(
    "pae=%s: pte_swp_mkexclusive sets bit 7 only; the offset and is_swap_pte ignore it",
    (pae) => {
      const pt = new I386Pgtable(pae);
      for (const off of [1, 9, 0x7fffff]) {
        const plain = mkSwapEntry(pt, off, false);
        const ex = mkSwapEntry(pt, off, true);
        expect(big(ex)).toBe(big(plain) | _PAGE_PSE);
        expect([pt.swapExclusive(plain.hi, plain.lo), pt.swapExclusive(ex.hi, ex.lo)]).toEqual([false, true]);
        expect(pt.isSwap(ex.hi, ex.lo) && !pt.present(ex.hi, ex.lo) && !pt.isGuard(ex.hi, ex.lo)).toBe(true);
        expect(pt.swapOffset(ex.hi, ex.lo)).toBe(off);
        expect(big(pt.swapClearExclusive(ex.hi, ex.lo))).toBe(big(plain));
      }
    },
  );
});
