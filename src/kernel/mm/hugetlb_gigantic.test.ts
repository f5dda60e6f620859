/**
 * 1 GiB HugeTLB pages (a gigantic hstate next to the default one): the
 * pool per size, taken from the buddy allocator by alloc_contig_pages (and
 * failing on a fragmented machine), MAP_HUGE_1GB mappings mapped by one
 * PUD-level leaf on each architecture that has them, reservations, fork's
 * COW, mprotect, munmap's split rule, smaps; i386's refusal; x86-64 without
 * GBPAGES. Linux: mm/hugetlb.c, mm/page_alloc.c alloc_contig_pages,
 * arch/{x86,arm64,riscv}/mm/hugetlbpage.c
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { checkedMetrics, expectationFailures } from "../../workloads/scenario/testKit.ts";
import { X86Pgtable } from "../arch/x86/pgtable.ts";
import { KernelImpl } from "../KernelImpl.ts";
import { hugetlbHstates } from "./hugetlb_vma.ts";
import { mmapArgs } from "./userMm.ts";

/** The architectures with 1 GiB pages, and the names of their PMD level in `table(P, ADDR, LEVEL)`. */
const ARCHS = [
  { arch: "x86_64", pmd: "pd" },
  { arch: "x86_64-la57", pmd: "pd" },
  { arch: "arm64", pmd: "l2" },
  { arch: "riscv-sv39", pmd: "l1" },
  { arch: "riscv-sv48", pmd: "l1" },
];

describe.each(ARCHS)("1 GiB HugeTLB pages on $arch", ({ arch, pmd }) => {
  it("a PUD leaf maps the page; fork shares it read-only and a write copies it", () => {
    expect(
      expectationFailures(`machine arch=${arch} ram=3G
spawn A
n = sysctl nr_hugepages=2 size=1G
expect n == 2
# the default pool (2M) is what meminfo's HugePages_* show; Hugetlb sums every size
expect meminfo.HugePages_Total == 0
expect meminfo.Hugepagesize == 2M
expect meminfo.Hugetlb == 2G
A: buf = mmap 1G hugetlb size=1G
A: write buf+4K 1 value=0x11
expect hugetlb(A, buf 1G) == 262144
expect table(A, buf, ${pmd}) == -1
expect pfn(A, buf+8K) == pfn(A, buf) + 2
expect pfn(A, buf+1G-4K) == pfn(A, buf) + 262143
expect mapcount(A, buf+512M) == 1
expect A.rss == 0
A: fork B
expect pfn(B, buf) == pfn(A, buf)
expect mapcount(A, buf) == 2
B: write buf 1 value=0x22
expect pfn(B, buf) != pfn(A, buf)
expect byte(B, buf+4K) == 0x11
expect byte(B, buf) == 0x22
expect byte(A, buf) == 0
expect mapcount(A, buf) == 1
B: exit
A: exit
expect meminfo.Hugetlb == 2G
`),
    ).toEqual([]);
  });
});

describe("1 GiB HugeTLB pages: the pool", () => {
  it("alloc_contig_pages fails while a page sits in every free 1 GiB range, and succeeds once it goes", () => {
    const m = checkedMetrics(`machine arch=x86_64 ram=2G
spawn A
A: m = mmap 1500M populate
A: munmap m 1496M
let kept = pfn(A, m+1496M)
a = sysctl nr_hugepages=1 size=1G
let free = meminfo.MemFree
A: munmap m+1496M 4M
b = sysctl nr_hugepages=1 size=1G
let total = meminfo.Hugetlb
let mid = meminfo.MemFree
c = sysctl nr_hugepages=0 size=1G
let after = meminfo.MemFree
`);
    // the kept pages are in [1G, 2G), the one range without the kernel's reserved frames
    expect(Math.floor(m("kept") / 262144)).toBe(1);
    expect(m("free")).toBeGreaterThan(2 ** 30); // memory enough, but not one free 1 GiB range
    expect(m("a")).toBe(0);
    expect(m("b")).toBe(1);
    expect(m("total")).toBe(2 ** 30);
    expect(m("c")).toBe(0);
    expect(m("after") - m("mid")).toBe(2 ** 30); // the range went back to the buddy lists
  });

  it("reserves at mmap (ENOMEM beyond the pool), never overcommits, and SIGBUS without a reservation", () => {
    expect(
      expectationFailures(`machine arch=x86_64 ram=3G
spawn A
n = sysctl nr_hugepages=1 size=1G
o = sysctl nr_overcommit_hugepages=4 size=1G
expect o == -22
A: big = mmap 2G hugetlb size=1G
expect big == -12
A: r = mmap 1G hugetlb size=1G
A: a = mmap 1G hugetlb size=1G noreserve
A: catch SIGBUS
A: write a
expect A.signal == SIGBUS
A: write r
expect A.signal == SIGBUS
expect hugetlb(A, r 1G) == 262144
# the default pool is apart: its size still maps
A: s = mmap 2M hugetlb
expect s == -12
`),
    ).toEqual([]);
  });

  it("munmap and mprotect split a 1 GiB VMA only on a 1 GiB boundary; mprotect read-only faults writes", () => {
    expect(
      expectationFailures(`machine arch=arm64 ram=3G
spawn A
n = sysctl nr_hugepages=2 size=1G
A: buf = mmap 2G hugetlb size=1G
A: write buf 1 value=0x11
A: u = munmap buf+2M 2M
expect u == -22
A: p = mprotect buf+2M 1G prot=r
expect p == -22
A: q = mprotect buf 1G prot=r
expect q == 0
A: catch SIGSEGV
A: write buf+4K 1
expect A.signal == SIGSEGV
expect byte(A, buf) == 0x11
A: q2 = mprotect buf 1G prot=rw
A: write buf+4K 1 value=0x22
expect byte(A, buf+4K) == 0x22
A: v = munmap buf+1G 1G
expect v == 0
expect meminfo.Hugetlb == 2G
`),
    ).toEqual([]);
  });

  it("smaps shows KernelPageSize and MMUPageSize of 1 GiB and the folio as Private_Hugetlb; pagemap, mincore", () => {
    const k = new KernelImpl({ ramBytes: 3 * 2 ** 30, cpus: 1 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    expect(k.sysctlHugepages(1, null, 1048576)).toBe(1);
    const addr = k.mmap(t, mmapArgs(2 ** 30, { hugetlb: true, hugetlbSizeLog: 30 }));
    expect(addr).toBeGreaterThan(0n);
    expect(addr % 2n ** 30n).toBe(0n);
    expect([...k.mincore(t, addr, 8192n).vec]).toEqual([0, 0]);
    k.userAccess(0, t, addr + 4096n, Access.Write, 1);
    // mincore_hugetlb: every page of the 1 GiB page is resident
    expect([...k.mincore(t, addr + 2n ** 29n, 8192n).vec]).toEqual([1, 1]);
    const v = k.view.smaps(t).find((s) => s.vma.hugetlbIno !== undefined);
    expect(v?.kernelPageSize).toBe(2 ** 30);
    expect(v?.privateHugetlb).toBe(2 ** 30);
    expect(v?.rss).toBe(0);
    // /proc/self/pagemap: present, exclusive, anonymous; the frame of the byte inside the page
    const e = k.view.pagemap(t, Number(addr / 4096n) + 5, 1)[0].entry;
    expect(`0x${(e >> 56n).toString(16)}`).toBe("0x81");
    expect(Number(e & 0xffffffffffffn) % 262144).toBe(5);
    // MAP_HUGE_2MB is the default pool's (empty here), MAP_HUGE_16MB no pool's
    expect(k.mmap(t, mmapArgs(4096, { hugetlb: true, hugetlbSizeLog: 24 }))).toBe(-22n);
    expect(k.mmap(t, mmapArgs(4096, { hugetlb: true, hugetlbSizeLog: 21 }))).toBe(-12n);
  });
});

describe("1 GiB HugeTLB pages where there are none", () => {
  it.each(["i386", "i386-pae"])("%s has no 1 GiB pool: sysctl ENOENT, mmap EINVAL", (arch) => {
    const m = checkedMetrics(`machine arch=${arch} ram=1G
spawn A
n = sysctl nr_hugepages=1 size=1G
A: buf = mmap 4M hugetlb size=1G
`);
    expect(m("n")).toBe(-2);
    expect(m("buf")).toBe(-22);
  });

  it("x86-64 registers the 1 GiB hstate only with GBPAGES (pdpe1gb)", () => {
    expect(hugetlbHstates(new X86Pgtable(4, false)).map((h) => h.sizeKb)).toEqual([2048, 1048576]);
    expect(hugetlbHstates(new X86Pgtable(4, false, false)).map((h) => h.sizeKb)).toEqual([2048]);
    expect(hugetlbHstates(new X86Pgtable(5, false, true)).map((h) => [h.sizeKb, h.level])).toEqual([
      [2048, 1],
      [1048576, 2],
    ]);
  });
});
