/**
 * RISC-V's Pgtable against Linux's pgtable.h helpers, its layouts against
 * Documentation/arch/riscv/vm-layout.rst, and the ASID allocator.
 */
import { describe, expect, it } from "vitest";
import { BumpFrames, RiscvMapper } from "../../../hw/arch/riscv/Mapper.ts";
import { PhysMem } from "../../../hw/PhysMem.ts";
import { mkSwapEntry, PteFlag } from "../../mm/arch.ts";
import { RiscvAsidAllocator } from "./context.ts";
import { riscvLayout, riscvLayoutConsts } from "./layout.ts";
import {
  PAGE_NONE,
  PageBit,
  RiscvPgtable,
  SWP_PTE_MARKER,
  swpEntryPte,
  swpOffset,
  swpType,
} from "./pgtable.ts";

const pt = new RiscvPgtable(3, (phys, alloc) => new RiscvMapper(phys, alloc, 3));
const VM_READ = 1;
const VM_WRITE = 2;
const VM_EXEC = 4;
const VM_SHARED = 8;

describe("RISC-V PTEs (pgtable-bits.h, pgtable.h)", () => {
  it("user leaves: _PAGE_BASE (V A U), rights from protection_map, W only when asked, D and SPECIAL in RSW", () => {
    const e = pt.mkUser(0x12345, 0, VM_READ | VM_WRITE, true, true, false);
    expect(e.lo & 0x3ff).toBe(
      PageBit.PRESENT | PageBit.ACCESSED | PageBit.USER | PageBit.READ | PageBit.WRITE | PageBit.DIRTY,
    );
    expect(pt.pfn(e.hi, e.lo, 0)).toBe(0x12345);
    // private writable before COW: read-only (PAGE_COPY)
    const cow = pt.mkUser(7, 0, VM_READ | VM_WRITE, false, false, false);
    expect(pt.write(cow.hi, cow.lo)).toBe(false);
    // PROT_EXEC alone: execute-only, a valid RISC-V leaf
    const x = pt.mkUser(7, 0, VM_EXEC, false, false, false);
    expect(x.lo & PageBit.LEAF).toBe(PageBit.EXEC);
    const special = pt.mkUser(7, 0, VM_READ | VM_SHARED, false, false, true);
    expect(pt.special(special.hi, special.lo)).toBe(true);
    expect(special.lo & (1 << 8)).toBe(1 << 8);
    // a big frame number reaches the high word (PPN from bit 10)
    const big = pt.mkUser(2 ** 30 + 5, 0, VM_READ, false, false, false);
    expect(big.hi).toBe(2 ** 30 / 2 ** 22);
    expect(pt.pfn(big.hi, big.lo, 0)).toBe(2 ** 30 + 5);
  });

  it("PROT_NONE is _PAGE_PROT_NONE (= G) with V clear: present, not accessible, protnone", () => {
    const e = pt.mkUser(9, 0, 0, false, false, false);
    expect(e.lo & 0x3ff).toBe(PAGE_NONE);
    expect(e.lo & PageBit.PRESENT).toBe(0);
    expect(pt.present(e.hi, e.lo)).toBe(true);
    expect(pt.accessible(e.hi, e.lo)).toBe(false);
    expect(pt.protnone(e.hi, e.lo)).toBe(true);
    expect(pt.isSwap(e.hi, e.lo)).toBe(false);
    expect(pt.leaf(e.hi, e.lo, 1)).toBe(true);
    // a kernel page is global and valid: present, never protnone
    expect(pt.protnone(0, PageBit.PRESENT | PageBit.GLOBAL | PageBit.READ)).toBe(false);
  });

  it("tables carry V alone; a huge PMD is a leaf (one of R, W, X) with its frame masked to 2M", () => {
    const t = pt.mkTable(0x800, true);
    expect(t.lo & 0x3ff).toBe(PageBit.PRESENT);
    expect(pt.table(t.hi, t.lo, 1)).toBe(true);
    expect(pt.leaf(t.hi, t.lo, 1)).toBe(false);
    const huge = pt.mkUser(1024, 1, VM_READ | VM_WRITE, true, true, false);
    expect(pt.leaf(huge.hi, huge.lo, 1)).toBe(true);
    expect(pt.table(huge.hi, huge.lo, 1)).toBe(false);
    const split = pt.splitPte(huge.hi, huge.lo, 1024 + 3, false);
    expect(pt.pfn(split.hi, split.lo, 0)).toBe(1027);
    expect(split.lo & 0x3ff).toBe(huge.lo & 0x3ff);
    const zero = pt.splitPte(huge.hi, huge.lo, 1024, true);
    expect(pt.write(zero.hi, zero.lo) || pt.dirty(zero.hi, zero.lo)).toBe(false);
    expect(pt.special(zero.hi, zero.lo)).toBe(true);
  });

  it("modify is one bit each: W, D, A", () => {
    const e = pt.mkUser(3, 0, VM_READ | VM_WRITE, true, true, false);
    const old = pt.modify(e.hi, e.lo, 0, PteFlag.YOUNG | PteFlag.DIRTY | PteFlag.WRITE);
    expect(old.lo & (PageBit.ACCESSED | PageBit.DIRTY | PageBit.WRITE)).toBe(0);
    const back = pt.modify(old.hi, old.lo, PteFlag.YOUNG | PteFlag.DIRTY | PteFlag.WRITE, 0);
    expect(back).toEqual(e);
  });

  it("needsFlush: only an entry with V set can be cached", () => {
    const e = pt.mkUser(3, 0, VM_READ, false, false, false);
    expect(pt.needsFlush(e.hi, e.lo, 0, 0, 0)).toBe(true);
    const none = pt.mkUser(3, 0, 0, false, false, false);
    expect(pt.needsFlush(none.hi, none.lo, e.hi, e.lo, 0)).toBe(false);
  });
});

describe("swap entries (__swp_entry: type in bits 7-11, offset from bit 12)", () => {
  it("round-trips offsets up to 2^50, and is neither present nor none", () => {
    for (const off of [1, 2, 0xfffff, 0x100000, 0x123456789, 2 ** 50 - 1]) {
      const e = mkSwapEntry(pt, off, false);
      expect(pt.isSwap(e.hi, e.lo), `offset ${off}`).toBe(true);
      expect(pt.swapOffset(e.hi, e.lo)).toBe(off);
      expect(pt.present(e.hi, e.lo) || pt.none(e.hi, e.lo)).toBe(false);
      expect(e.lo & (PageBit.PRESENT | PageBit.LEAF | PageBit.PROT_NONE)).toBe(0);
    }
    const e = swpEntryPte(5, 77);
    expect(e.lo).toBe((77 << 12) | (5 << 7));
    expect([swpType(e.hi, e.lo), swpOffset(e.hi, e.lo)]).toEqual([5, 77]);
  });

  it("the guard marker is a swap-type entry of SWP_PTE_MARKER, not a swap-area entry", () => {
    const g = pt.guard;
    expect(swpType(g.hi, g.lo)).toBe(SWP_PTE_MARKER);
    expect(pt.isGuard(g.hi, g.lo)).toBe(true);
    expect(pt.isSwap(g.hi, g.lo)).toBe(false);
    const s = mkSwapEntry(pt, 4, false);
    expect(pt.isGuard(s.hi, s.lo)).toBe(false);
  });

  it("a PGD copies swapper_pg_dir's entries 256..511 and nothing below", () => {
    const phys = new PhysMem(1 << 20);
    const alloc = new BumpFrames(1, phys.nrFrames);
    const m = pt.mapper(phys, alloc);
    expect(m).toBeInstanceOf(RiscvMapper);
    for (let i = 0; i < 512; i++) phys.write64(4096 + i * 8, 0, i + 1);
    pt.pgdCtor(phys, 1, 2);
    expect(phys.read32(2 * 4096 + 255 * 8)).toBe(0);
    expect(phys.read32(2 * 4096 + 256 * 8)).toBe(257);
    expect(phys.read32(2 * 4096 + 511 * 8)).toBe(512);
  });
});

describe("layouts (vm-layout.rst)", () => {
  const rows = (bits: 39 | 48 | 57) =>
    Object.fromEntries(riscvLayout(bits, 6 << 20).regions.map((r) => [r.name, [r.start, r.end]]));
  it("Sv39", () => {
    const r = rows(39);
    expect(r.user).toEqual([0n, 0x40_0000_0000n]);
    expect(r.fixmap).toEqual([0xffffffc4fea00000n, 0xffffffc4ff000000n]);
    expect(r["PCI io"]).toEqual([0xffffffc4ff000000n, 0xffffffc500000000n]);
    expect(r.vmemmap).toEqual([0xffffffc500000000n, 0xffffffc600000000n]);
    expect(r.vmalloc).toEqual([0xffffffc600000000n, 0xffffffd600000000n]);
    expect(r["direct map"]).toEqual([0xffffffd600000000n, 0xfffffff600000000n]);
    expect(r.modules).toEqual([0xffffffff00600000n, 0xffffffff80000000n]);
    expect(r.kernel[0]).toBe(0xffffffff80000000n);
  });
  it("Sv48", () => {
    const r = rows(48);
    expect(r.user).toEqual([0n, 0x8000_0000_0000n]);
    expect(r.fixmap[0]).toBe(0xffff8d7ffea00000n);
    expect(r.vmemmap).toEqual([0xffff8d8000000000n, 0xffff8f8000000000n]);
    expect(r.vmalloc).toEqual([0xffff8f8000000000n, 0xffffaf8000000000n]);
    expect(r["direct map"]).toEqual([0xffffaf8000000000n, 0xffffef8000000000n]);
  });
  it("Sv57: the user range 64 PB, the heap at ELF_ET_DYN_BASE of DEFAULT_MAP_WINDOW (2^47)", () => {
    const l = riscvLayout(57, 6 << 20);
    const r = rows(57);
    expect(r.user).toEqual([0n, 0x0100_0000_0000_0000n]);
    expect(r.fixmap[0]).toBe(0xff1bfffffea00000n);
    expect(r.vmemmap).toEqual([0xff1c000000000000n, 0xff20000000000000n]);
    expect(r.vmalloc).toEqual([0xff20000000000000n, 0xff60000000000000n]);
    expect(r["direct map"]).toEqual([0xff60000000000000n, 0xffe0000000000000n]);
    expect(l.taskSize).toBe(1n << 56n);
    expect(l.userEnd).toBe(1n << 56n);
    expect(l.brkStart).toBe(0x55555555a000n); // ELF_PAGESTART(2^47 / 3 * 2) + 5 pages
    expect(riscvLayout(39, 0).brkStart).toBe(0x2aaaaaf000n);
    expect(riscvLayoutConsts(39, 0).taskSize).toBe(riscvLayout(39, 0).taskSize);
  });
});

describe("the ASID allocator (context.c)", () => {
  it("hands out 1, 2, ... then rolls over: a new version, running ASIDs kept, a flush queued on every hart", () => {
    const a = new RiscvAsidAllocator(3, 2); // 8 ASIDs, 2 harts
    expect(a.useAsidAllocator).toBe(true);
    const ctx = Array.from({ length: 8 }, () => ({ id: 0 }));
    const got = ctx.slice(0, 7).map((c, i) => a.setMmAsid(c, i % 2).asid);
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(a.rollovers).toBe(0);
    // hart 0 runs ctx[6] (ASID 7), hart 1 ctx[5] (ASID 6): the eighth mm forces a rollover
    const r = a.setMmAsid(ctx[7], 0);
    expect(a.rollovers).toBe(1);
    expect(r.flushAll).toBe(true);
    expect([6, 7]).not.toContain(r.asid);
    // hart 1 keeps ctx[5]'s ASID in the new version, and flushes at its next slow path
    const r1 = a.setMmAsid(ctx[5], 1);
    expect(r1.asid).toBe(6);
    expect(r1.flushAll).toBe(true);
    const again = a.setMmAsid(ctx[5], 1);
    expect(again).toEqual({ asid: 6, flushAll: false, fast: true });
  });

  it("with no more ASIDs than twice the harts, the allocator is off (set_mm_noasid)", () => {
    expect(new RiscvAsidAllocator(2, 2).useAsidAllocator).toBe(false);
  });
});

describe("the swap PTE's exclusive marker (_PAGE_SWP_EXCLUSIVE = _PAGE_ACCESSED, bit 6)", () => {
  it("pte_swp_mkexclusive sets bit 6 only; the offset and is_swap_pte ignore it", () => {
    for (const off of [1, 0x100000, 2 ** 40 + 3]) {
      const plain = mkSwapEntry(pt, off, false);
      const ex = mkSwapEntry(pt, off, true);
      expect([ex.hi, ex.lo >>> 0]).toEqual([plain.hi, (plain.lo | (1 << 6)) >>> 0]);
      expect([pt.swapExclusive(plain.hi, plain.lo), pt.swapExclusive(ex.hi, ex.lo)]).toEqual([false, true]);
      expect(pt.isSwap(ex.hi, ex.lo) && !pt.present(ex.hi, ex.lo)).toBe(true);
      expect(pt.swapOffset(ex.hi, ex.lo)).toBe(off);
      expect(pt.swapClearExclusive(ex.hi, ex.lo)).toEqual(plain);
    }
  });
});
