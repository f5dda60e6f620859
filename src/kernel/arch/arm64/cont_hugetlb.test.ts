/**
 * arm64's contiguous HugeTLB sizes with the 4K granule (Linux 6.12
 * arch/arm64/mm/hugetlbpage.c): 64K, 16 page descriptors with PTE_CONT
 * (CONT_PTE_SIZE), and 32M, 16 level-2 blocks with it (CONT_PMD_SIZE), each
 * a pool of its own (`sysctl nr_hugepages=N size=64K`), mapped with
 * MAP_HUGE_64KB (16 << MAP_HUGE_SHIFT) or MAP_HUGE_32MB (25). Every change
 * of a present run is break-before-make: the run cleared, flush_tlb_range
 * over it with stride PAGE_SIZE (TLB_FLUSH_VMA(mm, 0)), then written. The
 * TLBI counts are derived from __flush_tlb_range without FEAT_TLBIRANGE:
 * one TLBI VAE1IS per 4K page below MAX_DVM_OPS (512) pages, one ASIDE1IS
 * from there (the 32M run's 8192 pages).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import { checkedMetrics, expectationFailures } from "../../../workloads/scenario/testKit.ts";
import { KernelImpl } from "../../KernelImpl.ts";
import { mmapArgs } from "../../mm/userMm.ts";

describe("arm64 64K HugeTLB pages (CONT_PTE_SIZE)", () => {
  it("a fault maps 16 PTEs with the Contiguous bit, flushed twice over the run; the TLB holds one 64K entry", () => {
    const m = checkedMetrics(`machine arch=arm64 ram=256M check_tlb=on
spawn A
n = sysctl nr_hugepages=2 size=64K
let total = meminfo.Hugetlb
A: buf = mmap 64K hugetlb size=64K
let i0 = tlb.page_invalidations
let f0 = tlb.flushes
A: write buf+4K 1 value=0x11
let i1 = tlb.page_invalidations
let f1 = tlb.flushes
let m1 = tlb.misses
A: read buf 1
A: read buf+8K 1
A: read buf+60K 1
let m2 = tlb.misses
let pages = hugetlb(A, buf 64K)
let p0 = pfn(A, buf)
let p2 = pfn(A, buf+8K)
let p15 = pfn(A, buf+60K)
let b = byte(A, buf+4K)
let rss = A.rss
`);
    expect(m("n")).toBe(2);
    expect(m("total")).toBe(128 * 1024);
    // hugetlb_no_page's set_huge_pte_at: clear_flush, 16 TLBI VAE1IS; then the private write's
    // hugetlb_wp reuse: huge_ptep_set_access_flags breaks the run again (write differs): 16 more
    expect(m("i1") - m("i0")).toBe(32);
    expect(m("f1") - m("f0")).toBe(0);
    // the write walked the run once; the TLB entry it filled covers all 16 pages (D8.6.1)
    expect(m("m2") - m("m1")).toBe(0);
    expect(m("pages")).toBe(16);
    expect(m("p0") % 16).toBe(0);
    expect(m("p2")).toBe(m("p0") + 2);
    expect(m("p15")).toBe(m("p0") + 15);
    expect(m("b")).toBe(0x11);
    expect(m("rss")).toBe(0);
  });

  it("fork write-protects the run at once (huge_ptep_set_wrprotect), the child's write copies 64K", () => {
    const m = checkedMetrics(`machine arch=arm64 ram=256M check_tlb=on
spawn A
n = sysctl nr_hugepages=2 size=64K
A: buf = mmap 64K hugetlb size=64K
A: write buf+4K 1 value=0x11
let i0 = tlb.page_invalidations
A: fork B
let i1 = tlb.page_invalidations
let shared = mapcount(A, buf)
B: write buf 1 value=0x22
let childOwn = pfn(B, buf)
let parent = pfn(A, buf)
let bB = byte(B, buf+4K)
let bA = byte(A, buf)
let after = mapcount(A, buf)
`);
    // copy_hugetlb_page_range: huge_ptep_set_wrprotect of the parent's run, get_clear_contig_flush:
    // 16 TLBI VAE1IS; the child's set_huge_pte_at flushes its own (unused) ASID's range: 16 more
    expect(m("i1") - m("i0")).toBe(32);
    expect(m("shared")).toBe(2);
    expect(m("childOwn")).not.toBe(m("parent"));
    expect(m("childOwn") % 16).toBe(0);
    expect(m("bB")).toBe(0x11);
    expect(m("bA")).toBe(0);
    expect(m("after")).toBe(1);
  });

  it("mprotect remakes each run (modify_prot_start/commit), then flush_hugetlb_tlb_range at stride PAGE_SIZE", () => {
    const m = checkedMetrics(`machine arch=arm64 ram=256M check_tlb=on
spawn A
n = sysctl nr_hugepages=2 size=64K
A: buf = mmap 128K hugetlb size=64K
A: write buf 1 value=1
A: write buf+64K 1 value=2
let i0 = tlb.page_invalidations
A: mprotect buf 128K prot=r
let i1 = tlb.page_invalidations
A: r = mprotect buf+32K 64K prot=rw
A: u = munmap buf+16K 16K
A: v = munmap buf+64K 64K
let i2 = tlb.page_invalidations
let left = hugetlb(A, buf 128K)
s = sysctl nr_hugepages=1 size=64K
let total = meminfo.Hugetlb
`);
    // two runs: each set_huge_pte_at's clear_flush, 16 TLBIs; then the VMA's 32 pages at stride 4K
    expect(m("i1") - m("i0")).toBe(16 + 16 + 32);
    // hugetlb_vm_op_split: only at a 64K boundary
    expect(m("r")).toBe(-22);
    expect(m("u")).toBe(-22);
    expect(m("v")).toBe(0);
    // the unmapped run: tlb_flush_pte_range of its 64K (cleared_ptes: stride 4K), 16 TLBI VALE1IS
    expect(m("i2") - m("i1")).toBe(16);
    expect(m("left")).toBe(16);
    // the unmapped folio went back to the pool's free list: shrinking the pool frees it
    expect(m("total")).toBe(64 * 1024);
  });

  it("smaps: KernelPageSize and MMUPageSize 64 kB (vma_kernel_pagesize, vma_mmu_pagesize); pagemap's frame", () => {
    const k = new KernelImpl({ arch: "arm64", ramBytes: 256 << 20, cpus: 1 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    expect(k.sysctlHugepages(1, null, 64)).toBe(1);
    // MAP_HUGE_64KB: 16 << MAP_HUGE_SHIFT; the length rounds up to 64K, the address is 64K-aligned
    const addr = k.mmap(t, mmapArgs(4096, { hugetlb: true, hugetlbSizeLog: 16 }));
    expect(addr).toBeGreaterThan(0n);
    expect(addr % 65536n).toBe(0n);
    k.userAccess(0, t, addr + 4096n * 3n, Access.Write, 7);
    const v = k.view.smaps(t).find((s) => s.vma.hugetlbIno !== undefined);
    expect(v?.vma.pages).toBe(16);
    expect(v?.kernelPageSize).toBe(65536);
    expect(v?.privateHugetlb).toBe(65536);
    expect(v?.rss).toBe(0);
    const e = k.view.pagemap(t, Number(addr / 4096n) + 5, 1)[0].entry;
    expect(`0x${(e >> 56n).toString(16)}`).toBe("0x81");
    expect(Number(e & 0xffffffffffffn) % 16).toBe(5);
  });
});

describe("arm64 32M HugeTLB pages (CONT_PMD_SIZE)", () => {
  it("16 contiguous 2M blocks; every break flushes the whole ASID (8192 pages >= MAX_DVM_OPS)", () => {
    const m = checkedMetrics(`machine arch=arm64 ram=256M check_tlb=on
spawn A
n = sysctl nr_hugepages=1 size=32M
A: buf = mmap 32M hugetlb size=32M
let i0 = tlb.page_invalidations
let f0 = tlb.flushes
A: write buf+2M+8K 1 value=0x33
let i1 = tlb.page_invalidations
let f1 = tlb.flushes
let p0 = pfn(A, buf)
let p1 = pfn(A, buf+2M+8K)
let p15 = pfn(A, buf+30M)
let pages = hugetlb(A, buf 32M)
A: fork B
let f2 = tlb.flushes
B: read buf+2M+8K 1
let bB = byte(B, buf+2M+8K)
A: munmap buf 32M
let i3 = tlb.page_invalidations
let f3 = tlb.flushes
`);
    expect(m("n")).toBe(1);
    // clear_flush and the write's break: an ASIDE1IS each, no TLBI by VA
    expect(m("i1") - m("i0")).toBe(0);
    expect(m("f1") - m("f0")).toBe(2);
    expect(m("p0") % 8192).toBe(0);
    expect(m("p1")).toBe(m("p0") + 514);
    expect(m("p15")).toBe(m("p0") + 7680);
    expect(m("pages")).toBe(8192);
    // fork: the parent's run write-protected (get_clear_contig_flush) and the child's set: 2 ASIDE1IS,
    // then dup_mmap's flush_tlb_mm(oldmm), whatever was copied: a third
    expect(m("f2") - m("f1")).toBe(3);
    expect(m("bB")).toBe(0x33);
    // the unmap's gather: tlb_flush_pmd_range of 32M, stride PMD_SIZE, 16 TLBI VALE1IS
    expect(m("i3") - m("i1")).toBe(16);
    expect(m("f3") - m("f2")).toBe(0);
  });
});

describe("arm64 32M HugeTLB pages with FEAT_TLBIRANGE", () => {
  it("each break is one TLBI RVAE1IS: __TLBI_RANGE_NUM at scale 2 covers the 8192 pages at once", () => {
    const m = checkedMetrics(`machine arch=arm64 ram=256M check_tlb=on tlbi_range=on
spawn A
n = sysctl nr_hugepages=1 size=32M
A: buf = mmap 32M hugetlb size=32M
let i0 = tlb.page_invalidations
let f0 = tlb.flushes
A: write buf+2M+8K value=0x33
let i1 = tlb.page_invalidations
let f1 = tlb.flushes
`);
    // (3 + 1) * 2^(5 * 2 + 1) = 8192 pages: one range operation per flush_tlb_range, no ASIDE1IS
    expect(m("i1") - m("i0")).toBe(2);
    expect(m("f1") - m("f0")).toBe(0);
  });
});

describe("the contiguous sizes where Linux has none", () => {
  it.each(["x86_64", "i386", "i386-pae", "riscv-sv39"])(
    "%s: no 64K or 32M pool (ENOENT), MAP_HUGE_64KB EINVAL",
    (arch) => {
      const m = checkedMetrics(`machine arch=${arch} ram=256M
spawn A
a = sysctl nr_hugepages=1 size=64K
b = sysctl nr_hugepages=1 size=32M
A: c = mmap 64K hugetlb size=64K
A: d = mmap 32M hugetlb size=32M
`);
      expect([m("a"), m("b"), m("c"), m("d")]).toEqual([-2, -2, -22, -22]);
    },
  );

  it("arm64 refuses other sizes (arch_hugetlb_valid_size): MAP_HUGE_16MB", () => {
    expect(
      expectationFailures(`machine arch=arm64 ram=256M
spawn A
A: c = mmap 16M hugetlb size=16M
expect c == -22
`),
    ).toEqual([]);
  });
});
