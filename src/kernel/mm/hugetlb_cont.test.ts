/**
 * The hstates an architecture registers with its contiguous sizes
 * (hugetlbpage_init: arm64 PUD, CONT_PMD, PMD, CONT_PTE; RISC-V's
 * napot_hugetlbpages_init with has_svnapot()), the entries
 * arch_make_huge_pte and set_huge_pte_at make for a run, and frameHstate
 * telling a 2M folio's frame from a 64K folio's by the pools' lists.
 */
import { describe, expect, it } from "vitest";
import type { PageTableMapper } from "../../hw/mmu/Mapper.ts";
import { Arm64Pgtable } from "../arch/arm64/pgtable.ts";
import { RiscvPgtable } from "../arch/riscv/pgtable.ts";
import { frameHstate, hugetlbHstates } from "./hugetlb_vma.ts";

const noMapper = (): PageTableMapper => {
  throw new Error("no mapper in this test");
};

describe("the contiguous hstates", () => {
  it("arm64 (4K granule): 2M, 1G, then 64K of 16 PTEs and 32M of 16 PMDs", () => {
    const hs = hugetlbHstates(new Arm64Pgtable(noMapper));
    expect(hs.map((h) => [h.sizeKb, h.level, h.ncontig, h.order, h.gigantic])).toEqual([
      [2048, 1, 1, 9, false],
      [1048576, 2, 1, 18, true],
      [64, 0, 16, 4, false],
      [32768, 1, 16, 13, true],
    ]);
  });

  it("RISC-V: the 64K NAPOT size only with Svnapot", () => {
    expect(hugetlbHstates(new RiscvPgtable(3, noMapper)).map((h) => h.sizeKb)).toEqual([2048, 1048576]);
    const hs = hugetlbHstates(new RiscvPgtable(4, noMapper, true));
    expect(hs.map((h) => [h.sizeKb, h.level, h.ncontig])).toEqual([
      [2048, 1, 1],
      [1048576, 2, 1],
      [64, 0, 16],
    ]);
  });

  it("arm64 set_huge_pte_at: entry i maps pfn + i * dpfn, each with PTE_CONT (bit 52)", () => {
    const pt = new Arm64Pgtable(noMapper);
    const c = pt.hugetlbCont;
    const e0 = pt.mkUser(0x12340, 0, 0x3, true, true, false);
    for (const i of [0, 1, 15]) {
      const e = c.contEntry(e0.hi, e0.lo, 0, i);
      expect(pt.pfn(e.hi, e.lo, 0)).toBe(0x12340 + i);
      expect((e.hi >>> 20) & 1).toBe(1);
      expect(e.lo & 0xfff).toBe(e0.lo & 0xfff);
    }
    // a 32M run: 2M blocks, pfn + 512 i (frames above 4 GiB: the address's high half)
    const b0 = pt.mkUser(0x100000 + 8192, 1, 0x3, false, false, false);
    const b15 = c.contEntry(b0.hi, b0.lo, 1, 15);
    expect(pt.pfn(b15.hi, b15.lo, 1)).toBe(0x100000 + 8192 + 15 * 512);
    expect(c.isCont(b15.hi, b15.lo)).toBe(true);
    expect(c.isCont(b0.hi, b0.lo)).toBe(false);
  });

  it("RISC-V pte_mknapot: PPN[3:0] = 1000 and N, the same entry 16 times; pte_pfn gives the block's first frame", () => {
    const pt = new RiscvPgtable(3, noMapper, true);
    const c = pt.hugetlbCont!;
    const e0 = pt.mkUser(0x4560, 0, 0x3, true, true, false);
    const n = c.contEntry(e0.hi, e0.lo, 0, 0);
    expect(c.contEntry(e0.hi, e0.lo, 0, 9)).toEqual(n);
    expect(n.hi >>> 31).toBe(1);
    expect((n.lo >>> 10) & 15).toBe(8);
    expect(pt.pfn(n.hi, n.lo, 0)).toBe(0x4560);
    expect(n.lo & 0x3ff).toBe(e0.lo & 0x3ff);
  });

  it("frameHstate: a stale order 4 on a frame inside a 2M pool folio does not make it a 64K folio", () => {
    const hs = hugetlbHstates(new Arm64Pgtable(noMapper));
    const order = new Int8Array(4096).fill(-1);
    order[1024] = 9; // a 2M folio at 1024, in use
    order[1024 + 48] = 4; // left over from an earlier 64K block
    hs[0].active.add(1024);
    order[2048] = 4; // a 64K folio at 2048, free in its pool
    hs[2].freeList.push(2048);
    expect(frameHstate(hs, order, 1024 + 50).sizeKb).toBe(2048);
    expect(frameHstate(hs, order, 2048 + 5).sizeKb).toBe(64);
  });
});
