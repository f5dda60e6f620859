/**
 * RISC-V's 64K HugeTLB pages with Svnapot (`svnapot=on`; Linux 6.12
 * arch/riscv/mm/hugetlbpage.c under CONFIG_RISCV_ISA_SVNAPOT with
 * has_svnapot()): 16 PTEs, each pte_mknapot of the folio's first frame
 * (PPN[3:0] = 1000, N = bit 63), written after clear_flush (the Svnapot
 * chapter: "first mark all of the PTEs invalid, then issue SFENCE.VMA
 * instruction(s) covering all 4 KiB regions within the range"). The hart
 * translates a NAPOT PTE with the low VPN bits (the privileged spec's
 * Svnapot chapter); vmlab's harts cache it as 4K pieces, which the spec
 * allows. The SFENCE.VMA counts follow local_flush_tlb_range_asid: one per
 * page up to tlb_flush_all_threshold (64) pages.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import { checkedMetrics } from "../../../workloads/scenario/testKit.ts";
import { KernelImpl } from "../../KernelImpl.ts";
import { mmapArgs } from "../../mm/userMm.ts";

describe("RISC-V 64K NAPOT HugeTLB pages", () => {
  it("the fault writes 16 NAPOT PTEs after a fence of the run; the write's access flags break it again", () => {
    const m = checkedMetrics(`machine arch=riscv-sv39 ram=256M svnapot=on check_tlb=on
spawn A
n = sysctl nr_hugepages=2 size=64K
A: buf = mmap 64K hugetlb size=64K
let i0 = tlb.page_invalidations
A: write buf+4K 1 value=0x11
let i1 = tlb.page_invalidations
let m1 = tlb.misses
A: write buf 1 value=0x22
A: read buf+60K 1
let m2 = tlb.misses
let p0 = pfn(A, buf)
let p1 = pfn(A, buf+4K)
let p15 = pfn(A, buf+60K)
let b1 = byte(A, buf+4K)
let b0 = byte(A, buf)
let pages = hugetlb(A, buf 64K)
A: mprotect buf 64K prot=r
let i2 = tlb.page_invalidations
let f2 = tlb.flushes
A: munmap buf 64K
let i3 = tlb.page_invalidations
let f3 = tlb.flushes
`);
    expect(m("n")).toBe(2);
    // set_huge_pte_at's clear_flush (16 SFENCE.VMA), huge_ptep_set_access_flags' unconditional
    // get_clear_contig_flush for a NAPOT pte (16), update_mmu_cache's local_flush_tlb_page (1)
    expect(m("i1") - m("i0")).toBe(33);
    // each other page is its own 4K TLB entry here: two misses
    expect(m("m2") - m("m1")).toBe(2);
    // the low VPN bits select the frame inside the 64K block
    expect(m("p0") % 16).toBe(0);
    expect(m("p1")).toBe(m("p0") + 1);
    expect(m("p15")).toBe(m("p0") + 15);
    expect([m("b0"), m("b1")]).toEqual([0x22, 0x11]);
    expect(m("pages")).toBe(16);
    // commit's clear_flush (16), then flush_tlb_range of the VMA, the stride reset to PAGE_SIZE (16)
    expect(m("i2") - m("i1")).toBe(32);
    // the unmap freed the PTE table: tlb_flush's flush_tlb_mm (freed_tables), no fence by address
    expect(m("i3") - m("i2")).toBe(0);
    expect(m("f3") - m("f2")).toBe(1);
  });

  it("every PTE of the run is pte_mknapot(pfn_pte(head)): PPN[3:0] = 1000 and N, the same 16 times", () => {
    const k = new KernelImpl({ arch: "riscv-sv48", ramBytes: 256 << 20, cpus: 1, svnapot: true });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    expect(k.sysctlHugepages(2, null, 64)).toBe(2);
    const addr = k.mmap(t, mmapArgs(65536, { hugetlb: true, hugetlbSizeLog: 16 }));
    expect(addr % 65536n).toBe(0n);
    k.userAccess(0, t, addr + 8192n, Access.Write, 5);
    const vpn = Number(addr / 4096n);
    const first = k.userMm.leafFor(t.mm!, vpn)!;
    const head = first.pfn;
    expect(head % 16).toBe(0);
    for (let i = 0; i < 16; i++) {
      const e = k.userMm.leafFor(t.mm!, vpn + i)!;
      expect([e.hi, e.lo]).toEqual([first.hi, first.lo]);
      expect(e.pfn).toBe(head + i);
    }
    // bit 63 N, PPN[3:0] = 0b1000 (PTE bits 13:10), PPN = head | 8
    expect(first.hi >>> 31).toBe(1);
    expect((first.lo >>> 10) & 15).toBe(8);
    expect((first.lo >>> 10) - 8).toBe(head % 4194304);
    const v = k.view.smaps(t).find((s) => s.vma.hugetlbIno !== undefined);
    expect(v?.kernelPageSize).toBe(65536);
  });

  it("without svnapot=on there is no 64K pool (has_svnapot() false)", () => {
    const m = checkedMetrics(`machine arch=riscv-sv39 ram=256M
spawn A
a = sysctl nr_hugepages=1 size=64K
A: b = mmap 64K hugetlb size=64K
`);
    expect([m("a"), m("b")]).toEqual([-2, -22]);
  });

  it("svnapot is a RISC-V machine key", () => {
    expect(() => checkedMetrics("machine arch=arm64 svnapot=on\n")).toThrow(/svnapot/);
  });
});
