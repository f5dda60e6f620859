/**
 * arm64 Pgtable against Linux v6.12's headers. The expected values are
 * written here independently, as 64-bit bigints, from the #defines of
 * arch/arm64/include/asm/pgtable-hwdef.h and pgtable-prot.h (BIT(n) = 1n << n).
 */
import { describe, expect, it } from "vitest";
import { fromBig, toBig } from "../../../base/u64.ts";
import type { PageTableMapper } from "../../../hw/mmu/Mapper.ts";
import { BumpFrames } from "../../../hw/mmu/Mapper.ts";
import { PhysMem } from "../../../hw/PhysMem.ts";
import { mkSwapEntry, PteFlag } from "../../mm/arch.ts";
import { Arm64Pgtable } from "./pgtable.ts";

const b = (n: number) => 1n << BigInt(n);
// pgtable-hwdef.h
const PTE_VALID = b(0);
const PTE_TABLE_BIT = b(1);
const PTE_TYPE_PAGE = 3n;
const PMD_TYPE_TABLE = 3n;
const PTE_USER = b(6);
const PTE_RDONLY = b(7);
const PTE_SHARED = 3n << 8n;
const PTE_AF = b(10);
const PTE_NG = b(11);
const PTE_DBM = b(51);
const PTE_CONT = b(52);
const PTE_PXN = b(53);
const PTE_UXN = b(54);
const PMD_TABLE_PXN = b(59);
const PMD_TABLE_UXN = b(60);
// pgtable-prot.h
const PTE_WRITE = PTE_DBM;
const PTE_DIRTY = b(55);
const PTE_SPECIAL = b(56);
const PTE_PRESENT_INVALID = PTE_NG;
const _PAGE_DEFAULT = PTE_TYPE_PAGE | PTE_AF | PTE_SHARED; // | PTE_ATTRINDX(MT_NORMAL = 0)
const PAGE_NONE =
  (_PAGE_DEFAULT & ~PTE_VALID) | PTE_PRESENT_INVALID | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN;
const PAGE_SHARED = _PAGE_DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN | PTE_WRITE;
const PAGE_SHARED_EXEC = _PAGE_DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_WRITE;
const PAGE_READONLY = _PAGE_DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN;
const PAGE_READONLY_EXEC = _PAGE_DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN;
const PAGE_EXECONLY = _PAGE_DEFAULT | PTE_RDONLY | PTE_NG | PTE_PXN;
// the swap entry (pgtable.h) and the guard marker (swap.h, swapops.h)
const __SWP_TYPE_SHIFT = 6n;
const __SWP_OFFSET_SHIFT = 12n;
const SWP_PTE_MARKER = 31n; // (1 << MAX_SWAPFILES_SHIFT) - SWP_PTE_MARKER_NUM
const PTE_MARKER_GUARD = b(2);

const VM_READ = 1;
const VM_WRITE = 2;
const VM_EXEC = 4;
const VM_SHARED = 8;

const noMapper = (): PageTableMapper => {
  throw new Error("no mapper in this test");
};
const pt = new Arm64Pgtable(noMapper);
const big = (e: { hi: number; lo: number }) => toBig(e.hi, e.lo);
const split = (v: bigint): [number, number] => {
  const { hi, lo } = fromBig(v);
  return [hi, lo];
};
const pfnBits = (pfn: number) => BigInt(pfn) << 12n;

describe("Arm64Pgtable geometry", () => {
  it("is 4 levels of 512 8-byte entries, THP at the PMD, the whole TTBR0 range user", () => {
    expect([pt.levels, pt.ptrsPerTable, pt.entryBytes, pt.pmdLevel, pt.hpagePmdNr]).toEqual([
      4, 512, 8, 1, 512,
    ]);
    expect(pt.levelNames).toEqual(["PTE", "PMD", "PUD", "PGD"]);
    expect(pt.userPgtablesCeiling).toBe(Number((1n << 48n) >> 12n)); // TASK_SIZE >> PAGE_SHIFT
    expect(pt.pgdOrder).toBe(0);
    expect(pt.userPgd(1234)).toBe(1234);
  });
});

describe("vm_get_page_prot via mkUser (protection_map, no EPAN)", () => {
  const pfn = 0x12345;
  const rows: [string, number, bigint][] = [
    ["---p", 0, PAGE_NONE],
    ["r--p", VM_READ, PAGE_READONLY],
    ["-w-p", VM_WRITE, PAGE_READONLY],
    ["rw-p", VM_READ | VM_WRITE, PAGE_READONLY],
    ["--xp", VM_EXEC, PAGE_READONLY_EXEC],
    ["r-xp", VM_READ | VM_EXEC, PAGE_READONLY_EXEC],
    ["-wxp", VM_WRITE | VM_EXEC, PAGE_READONLY_EXEC],
    ["rwxp", VM_READ | VM_WRITE | VM_EXEC, PAGE_READONLY_EXEC],
    ["---s", VM_SHARED, PAGE_NONE],
    ["r--s", VM_SHARED | VM_READ, PAGE_READONLY],
    ["-w-s", VM_SHARED | VM_WRITE, PAGE_SHARED],
    ["rw-s", VM_SHARED | VM_READ | VM_WRITE, PAGE_SHARED],
    ["--xs", VM_SHARED | VM_EXEC, PAGE_READONLY_EXEC],
    ["r-xs", VM_SHARED | VM_READ | VM_EXEC, PAGE_READONLY_EXEC],
    ["-wxs", VM_SHARED | VM_WRITE | VM_EXEC, PAGE_SHARED_EXEC],
    ["rwxs", VM_SHARED | VM_READ | VM_WRITE | VM_EXEC, PAGE_SHARED_EXEC],
  ];
  it.each(rows)(
    "%s is pfn_pte(pfn, its protection_map entry) when mapped writable as the prot says",
    (_n, vm, prot) => {
      const writable = (prot & PTE_WRITE) !== 0n;
      expect(big(pt.mkUser(pfn, 0, vm, writable, false, false))).toBe(prot | pfnBits(pfn));
    },
  );
  it("private writable memory is read-only until COW; writable only when asked (maybe_mkwrite)", () => {
    const e = pt.mkUser(pfn, 0, VM_READ | VM_WRITE, false, false, false);
    expect(pt.write(e.hi, e.lo)).toBe(false);
    expect(pt.dirty(e.hi, e.lo)).toBe(false);
  });
  it("EPAN: PROT_EXEC alone is PAGE_EXECONLY", () => {
    const epan = new Arm64Pgtable(noMapper, { epan: true });
    expect(big(epan.mkUser(pfn, 0, VM_EXEC, false, false, false))).toBe(PAGE_EXECONLY | pfnBits(pfn));
    expect(big(epan.mkUser(pfn, 0, VM_EXEC | VM_SHARED, false, false, false))).toBe(
      PAGE_EXECONLY | pfnBits(pfn),
    );
  });
  it("do_anonymous_page: pte_mkwrite(pte_mkdirty(...)) clears PTE_RDONLY", () => {
    const e = big(pt.mkUser(pfn, 0, VM_READ | VM_WRITE, true, true, false));
    expect(e).toBe(((PAGE_READONLY | PTE_WRITE | PTE_DIRTY) & ~PTE_RDONLY) | pfnBits(pfn));
  });
  it("the DBM table: (dirty, writable) -> (RDONLY, WRITE, DIRTY)", () => {
    const cases: [boolean, boolean, bigint][] = [
      [false, false, PTE_RDONLY],
      [false, true, PTE_RDONLY | PTE_WRITE],
      [true, false, PTE_RDONLY | PTE_DIRTY],
      [true, true, PTE_WRITE | PTE_DIRTY],
    ];
    for (const [dirty, writable, bits] of cases) {
      const e = pt.mkUser(pfn, 0, VM_READ | VM_WRITE | VM_SHARED, writable, dirty, false);
      expect(big(e) & (PTE_RDONLY | PTE_WRITE | PTE_DIRTY)).toBe(bits);
      expect(pt.write(e.hi, e.lo)).toBe(writable);
      expect(pt.dirty(e.hi, e.lo)).toBe(dirty);
    }
  });
  it("special (pte_mkspecial) and a pfn above 4 GiB of RAM", () => {
    const high = 0x3_4567_89ab; // 2^33-ish frames: pa bits up to 46
    const e = big(pt.mkUser(high, 0, VM_READ, false, false, true));
    expect(e).toBe(PAGE_READONLY | PTE_SPECIAL | pfnBits(high));
    expect(pt.pfn(...split(e), 0)).toBe(high);
  });
  it("a huge PMD is pmd_mkhuge(pfn_pmd(...)): PMD_TABLE_BIT cleared, a block", () => {
    const e = big(pt.mkUser(0x200, 1, VM_READ | VM_WRITE, true, true, false));
    const pte = ((PAGE_READONLY | PTE_WRITE | PTE_DIRTY) & ~PTE_RDONLY) | pfnBits(0x200);
    expect(e).toBe(pte & ~PTE_TABLE_BIT);
    const [hi, lo] = split(e);
    expect(pt.leaf(hi, lo, 1)).toBe(true);
    expect(pt.table(hi, lo, 1)).toBe(false);
    expect(pt.pfn(hi, lo, 1)).toBe(0x200);
  });
});

describe("what an entry is", () => {
  const pfn = 0x4242;
  const readonly = PAGE_READONLY | pfnBits(pfn);
  const none = PAGE_NONE | pfnBits(pfn);
  const noneBlock = (PAGE_NONE & ~PTE_TABLE_BIT) | pfnBits(0x400);
  const table = PMD_TYPE_TABLE | PMD_TABLE_PXN | pfnBits(0x777);
  const swap = (3n << __SWP_OFFSET_SHIFT) | (0n << __SWP_TYPE_SHIFT);
  const guard = (SWP_PTE_MARKER << __SWP_TYPE_SHIFT) | (PTE_MARKER_GUARD << __SWP_OFFSET_SHIFT);
  // [name, value, level, none, present, accessible, protnone, leaf, table, isSwap, isGuard]
  const rows: [string, bigint, number, ...boolean[]][] = [
    ["zero", 0n, 0, true, false, false, false, false, false, false, false],
    ["PAGE_READONLY pte", readonly, 0, false, true, true, false, true, false, false, false],
    ["PAGE_NONE pte", none, 0, false, true, false, true, true, false, false, false],
    ["PAGE_NONE block", noneBlock, 1, false, true, false, true, true, false, false, false],
    ["user table", table, 1, false, true, true, false, false, true, false, false],
    ["swap entry", swap, 0, false, false, false, false, false, false, true, false],
    ["guard marker", guard, 0, false, false, false, false, false, false, false, true],
  ];
  it.each(rows)("%s", (_n, v, level, ...want) => {
    const [hi, lo] = split(v);
    expect([
      pt.none(hi, lo),
      pt.present(hi, lo),
      pt.accessible(hi, lo),
      pt.protnone(hi, lo),
      pt.leaf(hi, lo, level),
      pt.table(hi, lo, level),
      pt.isSwap(hi, lo),
      pt.isGuard(hi, lo),
    ]).toEqual(want);
  });
  it("pte_young, pte_special, pte_write, pte_dirty read their bits", () => {
    const rows: [bigint, boolean, boolean, boolean, boolean][] = [
      [PTE_AF, true, false, false, false],
      [PTE_SPECIAL | PTE_RDONLY, false, true, false, false],
      [PTE_WRITE | PTE_RDONLY, false, false, true, false],
      [PTE_WRITE, false, false, true, true], // hardware dirty (DBM, AP[2] clear)
      [PTE_DIRTY | PTE_RDONLY, false, false, false, true], // software dirty
    ];
    for (const [v, young, special, write, dirty] of rows) {
      const [hi, lo] = split(v | PTE_VALID);
      expect([pt.young(hi, lo), pt.special(hi, lo), pt.write(hi, lo), pt.dirty(hi, lo)]).toEqual([
        young,
        special,
        write,
        dirty,
      ]);
    }
  });
  it("the guard marker is make_pte_marker(PTE_MARKER_GUARD)", () => {
    expect(big(pt.guard)).toBe(
      (SWP_PTE_MARKER << __SWP_TYPE_SHIFT) | (PTE_MARKER_GUARD << __SWP_OFFSET_SHIFT),
    );
  });
});

describe("swap entries (__swp_entry, __swp_offset)", () => {
  it.each([1, 2, 0xfffff, 0x100000, 2 ** 32 + 5, 2 ** 50 - 1])("offset %d", (offset) => {
    const e = mkSwapEntry(pt, offset, false);
    expect(big(e)).toBe(BigInt(offset) << __SWP_OFFSET_SHIFT);
    expect(pt.isSwap(e.hi, e.lo)).toBe(true);
    expect(pt.present(e.hi, e.lo)).toBe(false);
    expect(pt.none(e.hi, e.lo)).toBe(false);
    expect(pt.swapOffset(e.hi, e.lo)).toBe(offset);
  });
  it("an exclusive swap entry (PTE_SWP_EXCLUSIVE, bit 2) is still a swap entry", () => {
    const [hi, lo] = split((9n << __SWP_OFFSET_SHIFT) | b(2));
    expect(pt.isSwap(hi, lo)).toBe(true);
    expect(pt.swapOffset(hi, lo)).toBe(9);
    expect(pt.swapExclusive(hi, lo)).toBe(true);
    expect(big(mkSwapEntry(pt, 9, true))).toBe((9n << __SWP_OFFSET_SHIFT) | b(2));
    expect(pt.swapExclusive(mkSwapEntry(pt, 9, false).hi, mkSwapEntry(pt, 9, false).lo)).toBe(false);
    const c = pt.swapClearExclusive(hi, lo);
    expect(big(c)).toBe(9n << __SWP_OFFSET_SHIFT);
  });
});

describe("modify: pte_mk*/wrprotect exactly as arm64 does them", () => {
  const base = PAGE_READONLY | pfnBits(7); // RDONLY, AF, no WRITE
  const rows: [string, bigint, number, number, bigint][] = [
    ["pte_mkwrite: WRITE, RDONLY cleared", base, PteFlag.WRITE, 0, (base | PTE_WRITE) & ~PTE_RDONLY],
    ["pte_mkdirty on read-only: PTE_DIRTY only", base, PteFlag.DIRTY, 0, base | PTE_DIRTY],
    [
      "pte_mkdirty on writable-clean: RDONLY cleared",
      base | PTE_WRITE,
      PteFlag.DIRTY,
      0,
      (base | PTE_WRITE | PTE_DIRTY) & ~PTE_RDONLY,
    ],
    ["pte_mkold", base, 0, PteFlag.YOUNG, base & ~PTE_AF],
    ["pte_mkyoung", base & ~PTE_AF, PteFlag.YOUNG, 0, base],
    [
      "pte_wrprotect of a hardware-dirty pte keeps the dirt in PTE_DIRTY",
      (base | PTE_WRITE) & ~PTE_RDONLY,
      0,
      PteFlag.WRITE,
      base | PTE_DIRTY,
    ],
    ["pte_wrprotect of a writable-clean pte", base | PTE_WRITE, 0, PteFlag.WRITE, base],
    [
      "pte_mkclean of a writable-dirty pte: writable-clean",
      ((base | PTE_WRITE) & ~PTE_RDONLY) | PTE_DIRTY,
      0,
      PteFlag.DIRTY,
      base | PTE_WRITE,
    ],
    [
      "page_mkclean: pte_wrprotect then pte_mkclean",
      ((base | PTE_WRITE) & ~PTE_RDONLY) | PTE_DIRTY,
      0,
      PteFlag.DIRTY | PteFlag.WRITE,
      base,
    ],
    [
      "do_wp_page reuse: mkyoung, mkdirty, mkwrite",
      base & ~PTE_AF,
      PteFlag.WRITE | PteFlag.DIRTY | PteFlag.YOUNG,
      0,
      ((base | PTE_WRITE) & ~PTE_RDONLY) | PTE_DIRTY,
    ],
  ];
  it.each(rows)("%s", (_n, v, set, clear, want) => {
    const [hi, lo] = split(v);
    expect(big(pt.modify(hi, lo, set, clear))).toBe(want);
  });
});

describe("splitPte (__split_huge_pmd_locked) and mkTable (pmd_populate)", () => {
  it("a writable dirty block splits into writable dirty pages of the same rights", () => {
    const block = ((PAGE_READONLY | PTE_WRITE | PTE_DIRTY) & ~PTE_RDONLY & ~PTE_TABLE_BIT) | pfnBits(0x400);
    const [hi, lo] = split(block | PTE_CONT);
    expect(big(pt.splitPte(hi, lo, 0x405, false))).toBe(
      (block | PTE_TABLE_BIT) - pfnBits(0x400) + pfnBits(0x405),
    );
  });
  it("a PROT_NONE block splits into PAGE_NONE ptes", () => {
    const [hi, lo] = split((PAGE_NONE & ~PTE_TABLE_BIT) | pfnBits(0x400));
    expect(big(pt.splitPte(hi, lo, 0x401, false))).toBe(PAGE_NONE | pfnBits(0x401));
  });
  it("the huge zero page splits into read-only, clean, special ptes", () => {
    const [hi, lo] = split((PAGE_READONLY & ~PTE_TABLE_BIT) | PTE_SPECIAL | pfnBits(0x600));
    expect(big(pt.splitPte(hi, lo, 0x99, true))).toBe(PAGE_READONLY | PTE_SPECIAL | pfnBits(0x99));
  });
  it("user tables carry PXNTable, kernel tables UXNTable", () => {
    expect(big(pt.mkTable(0x1_0000_0, true))).toBe(PMD_TYPE_TABLE | PMD_TABLE_PXN | pfnBits(0x1_0000_0));
    expect(big(pt.mkTable(0x55, false))).toBe(PMD_TYPE_TABLE | PMD_TABLE_UXN | pfnBits(0x55));
    const [hi, lo] = split(PMD_TYPE_TABLE | PMD_TABLE_PXN | pfnBits(0x123456));
    expect(pt.pfn(hi, lo, 2)).toBe(0x123456);
  });
});

describe("entries in RAM, the PGD, the mapper", () => {
  it("get/set/setTop store 8 little-endian bytes; pgdCtor copies nothing (no kernel half in a user PGD)", () => {
    const phys = new PhysMem(64 * 4096);
    for (let i = 0; i < 512; i++) phys.write64(4 * 4096 + i * 8, 0, 0x1003 + i); // a "swapper_pg_dir"
    pt.pgdCtor(phys, 4, 5);
    for (let i = 0; i < 512; i++) expect(pt.get(phys, 5 * 4096 + i * 8)).toEqual({ hi: 0, lo: 0 });
    pt.set(phys, 6 * 4096 + 8, 0x80000000, 0x403);
    expect(phys.read32(6 * 4096 + 12)).toBe(0x80000000);
    pt.setTop(phys, 5 * 4096, 0x10000000, 0x7003);
    expect(pt.get(phys, 5 * 4096)).toEqual({ hi: 0x10000000, lo: 0x7003 });
  });
  it("mapper() is the factory's", () => {
    const stub = { levels: 4 } as unknown as PageTableMapper;
    const phys = new PhysMem(4096 * 4);
    const alloc = new BumpFrames(1, 4);
    let seen: unknown[] = [];
    const p = new Arm64Pgtable((ph, al) => {
      seen = [ph, al];
      return stub;
    });
    expect(p.mapper(phys, alloc)).toBe(stub);
    expect(seen).toEqual([phys, alloc]);
  });
});

describe("needsFlush (asm-generic pte_needs_flush: every change of a valid descriptor)", () => {
  it("a valid entry owes a flush on any change; an invalid one (none, swap, PROT_NONE) never", () => {
    const page = pt.mkUser(0x1234, 0, 0x3 /* VM_READ|VM_WRITE */, true, true, false);
    expect(page.lo & 1).toBe(1);
    expect(pt.needsFlush(page.hi, page.lo, 0, 0, 0)).toBe(true);
    const young = pt.modify(page.hi, page.lo, 0, PteFlag.YOUNG);
    expect(pt.needsFlush(page.hi, page.lo, young.hi, young.lo, 0)).toBe(true);
    const none = pt.mkUser(0x1234, 0, 0, false, false, false); // PAGE_NONE: PTE_PRESENT_INVALID
    expect(pt.protnone(none.hi, none.lo)).toBe(true);
    expect(pt.needsFlush(none.hi, none.lo, page.hi, page.lo, 0)).toBe(false);
    const swap = mkSwapEntry(pt, 7, false);
    expect(pt.needsFlush(swap.hi, swap.lo, page.hi, page.lo, 0)).toBe(false);
  });
});
