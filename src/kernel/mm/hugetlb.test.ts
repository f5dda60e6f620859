/**
 * HugeTLB pages (mm/hugetlb.ts): the pool and its counters at each step of
 * a mapping's life, as /proc/meminfo's HugePages_* show them; the fault's
 * huge leaf through each architecture's page tables; fork's COW and the
 * owner's famous unmap of its children; shared mappings; reclaim leaving the
 * pool alone; the pool's shrink with folios free or in use.
 * Linux: mm/hugetlb.c, fs/hugetlbfs/inode.c
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { checkedMetrics, expectationFailures } from "../../workloads/scenario/testKit.ts";
import { KernelImpl } from "../KernelImpl.ts";
import { mmapArgs } from "./userMm.ts";

/** Each architecture with its huge page size and the name of its PTE level. */
const ARCHS = [
  { arch: "x86_64", size: "2M", three: "6M", four: "8M", pages: 512, pte: "pt" },
  { arch: "arm64", size: "2M", three: "6M", four: "8M", pages: 512, pte: "l3" },
  { arch: "riscv-sv39", size: "2M", three: "6M", four: "8M", pages: 512, pte: "l0" },
  { arch: "i386-pae", size: "2M", three: "6M", four: "8M", pages: 512, pte: "pt" },
  // 2-level i386: a PSE page-directory entry maps 4 MiB (HPAGE_SHIFT 22)
  { arch: "i386", size: "4M", three: "12M", four: "16M", pages: 1024, pte: "pt" },
];

describe.each(ARCHS)("HugeTLB on $arch ($size pages)", ({ arch, size, three, four, pages, pte }) => {
  it("reserves at mmap, consumes at first touch, gives back at munmap and at exit", () => {
    expect(
      expectationFailures(`machine arch=${arch} ram=256M
spawn A
sysctl nr_hugepages=4
expect meminfo.HugePages_Total == 4
expect meminfo.HugePages_Free == 4
expect meminfo.Hugepagesize == ${size}
expect meminfo.Hugetlb == ${four}
A: buf = mmap ${three} hugetlb
expect meminfo.HugePages_Rsvd == 3
expect meminfo.HugePages_Free == 4
A: write buf 1 value=0x11
expect meminfo.HugePages_Rsvd == 2
expect meminfo.HugePages_Free == 3
# the walk ends at a huge leaf: no PTE table, one frame per 4K page of it
expect table(A, buf, ${pte}) == -1
expect hugetlb(A, buf ${size}) == ${pages}
expect pfn(A, buf+8K) == pfn(A, buf) + 2
expect rss(A, buf ${size}) == 0
expect A.rss == 0
expect mapcount(A, buf+4K) == 1
A: read buf+${size}
expect meminfo.HugePages_Rsvd == 1
expect meminfo.HugePages_Free == 2
# munmap of the first huge page: its folio back on the free list; the reservations stay
A: munmap buf ${size}
expect meminfo.HugePages_Free == 3
expect meminfo.HugePages_Rsvd == 1
# exit: the unused reservation and the folio go back
A: exit
expect meminfo.HugePages_Free == 4
expect meminfo.HugePages_Rsvd == 0
expect meminfo.HugePages_Total == 4
`),
    ).toEqual([]);
  });

  it("fork shares a private folio write-protected; a write copies it", () => {
    expect(
      expectationFailures(`machine arch=${arch} ram=256M
spawn A
sysctl nr_hugepages=3
A: buf = mmap ${size} hugetlb
A: write buf 1 value=0x11
A: fork B
expect pfn(B, buf) == pfn(A, buf)
expect mapcount(A, buf) == 2
expect meminfo.HugePages_Free == 2
B: write buf 1 value=0x22
expect pfn(B, buf) != pfn(A, buf)
expect byte(A, buf) == 0x11
expect byte(B, buf) == 0x22
expect mapcount(A, buf) == 1
expect meminfo.HugePages_Free == 1
# the parent's folio is its own again: a write reuses it
let p = pfn(A, buf)
A: write buf 1 value=0x33
expect pfn(A, buf) == p
expect meminfo.HugePages_Free == 1
B: exit
A: exit
expect meminfo.HugePages_Free == 3
expect meminfo.HugePages_Rsvd == 0
`),
    ).toEqual([]);
  });

  it("mprotect back to writable leaves a private page read-only until a write fault reuses it (hugetlb_change_protection)", () => {
    expect(
      expectationFailures(`machine arch=${arch} ram=256M
spawn A
sysctl nr_hugepages=2
A: buf = mmap ${size} hugetlb
A: s = mmap ${size} hugetlb shared
A: write buf 1 value=0x11
A: write s 1 value=0x11
let p = pfn(A, buf)
A: r = mprotect buf ${size} prot=r
A: r2 = mprotect s ${size} prot=r
A: w = mprotect buf ${size} prot=rw
A: w2 = mprotect s ${size} prot=rw
expect r + r2 + w + w2 == 0
# huge_pte_modify with the private mapping's COW protection: the write faults, hugetlb_wp reuses
let f0 = A.min_flt
A: write buf 1 value=0x22
expect A.min_flt == f0 + 1
expect pfn(A, buf) == p
expect byte(A, buf) == 0x22
# a shared writable mapping's entry is writable again at once
A: write s 1 value=0x22
expect A.min_flt == f0 + 1
expect meminfo.HugePages_Free == 0
`),
    ).toEqual([]);
  });
});

describe("HugeTLB reservations and the pool", () => {
  it("mmap fails with ENOMEM when the pool cannot cover the mapping, unless MAP_NORESERVE", () => {
    const m = checkedMetrics(`machine ram=256M
spawn A
sysctl nr_hugepages=2
A: a = mmap 6M hugetlb
A: b = mmap 4M hugetlb
A: c = mmap 2M hugetlb
A: d = mmap 2M hugetlb noreserve
let rsvd = meminfo.HugePages_Rsvd
`);
    expect(m("a")).toBe(-12);
    expect(m("b")).toBeGreaterThan(0);
    expect(m("c")).toBe(-12);
    expect(m("d")).toBeGreaterThan(0);
    expect(m("rsvd")).toBe(2);
  });

  it("a MAP_NORESERVE mapping takes no reservation and gets SIGBUS at the fault when the pool is empty", () => {
    expect(
      expectationFailures(`machine ram=256M
spawn A
sysctl nr_hugepages=2
A: r = mmap 2M hugetlb
A: n = mmap 4M hugetlb noreserve
expect meminfo.HugePages_Rsvd == 1
A: catch SIGBUS
A: write n
expect A.signal == none
expect meminfo.HugePages_Free == 1
# the last free folio is reserved for r: n may not take it
A: write n+2M
expect A.signal == SIGBUS
expect hugetlb(A, n+2M 2M) == 0
A: write r
expect meminfo.HugePages_Free == 0
expect meminfo.HugePages_Rsvd == 0
`),
    ).toEqual([]);
  });

  it("the owner's COW with no folio left unmaps the child's page; the child's next fault is SIGBUS", () => {
    expect(
      expectationFailures(`machine ram=256M
spawn A
sysctl nr_hugepages=1
A: buf = mmap 2M hugetlb
A: write buf 1 value=0x11
A: fork B
B: read buf
expect byte(B, buf) == 0x11
# no free folio for the copy: unmap_ref_private takes the page from the child
A: write buf 1 value=0x22
expect byte(A, buf) == 0x22
expect hugetlb(B, buf 2M) == 0
expect mapcount(A, buf) == 1
B: catch SIGBUS
B: read buf
expect B.signal == SIGBUS
expect B.alive == 1
`),
    ).toEqual([]);
  });

  it("a child without reserves cannot COW when the only free folio is reserved: SIGBUS", () => {
    expect(
      expectationFailures(`machine ram=256M
spawn A
sysctl nr_hugepages=2
A: buf = mmap 4M hugetlb
A: write buf 1 value=0x11
A: fork B
expect meminfo.HugePages_Rsvd == 1
B: catch SIGBUS
B: write buf 1 value=0x22
expect B.signal == SIGBUS
expect byte(B, buf) == 0x11
# the parent's second page is still covered
A: write buf+2M
expect meminfo.HugePages_Free == 0
`),
    ).toEqual([]);
  });

  it("a shared mapping's folio is shared by the processes that map it, and freed with the last", () => {
    expect(
      expectationFailures(`machine ram=256M
spawn A
sysctl nr_hugepages=2
A: buf = mmap 4M shared hugetlb
expect meminfo.HugePages_Rsvd == 2
A: write buf 1 value=0x11
A: fork B
# fork copies no entry of a shared mapping: the child faults the folio in from the page cache
expect hugetlb(B, buf 2M) == 0
B: read buf
expect pfn(B, buf) == pfn(A, buf)
expect byte(B, buf) == 0x11
B: write buf+2M 1 value=0x22
A: read buf+2M
expect pfn(A, buf+2M) == pfn(B, buf+2M)
expect byte(A, buf+2M) == 0x22
expect meminfo.HugePages_Free == 0
expect meminfo.HugePages_Rsvd == 0
A: munmap buf 4M
expect meminfo.HugePages_Free == 0
B: exit
expect meminfo.HugePages_Free == 2
expect meminfo.HugePages_Rsvd == 0
`),
    ).toEqual([]);
  });

  it("reclaim never takes a HugeTLB page", () => {
    expect(
      expectationFailures(`machine ram=64M swap=64M
spawn A
sysctl nr_hugepages=4
A: h = mmap 8M hugetlb
A: write h 8M value=0x5a
let f = meminfo.HugePages_Free
A: a = mmap 40M
A: write a 40M
reclaim 32M
expect vmstat.pswpout > 0
expect hugetlb(A, h 8M) == 2048
expect meminfo.HugePages_Free == f
expect byte(A, h+6M) == 0x5a
`),
    ).toEqual([]);
  });

  it("shrinking the pool frees free folios; folios in use or reserved become surplus, freed when let go", () => {
    expect(
      expectationFailures(`machine ram=256M
spawn A
sysctl nr_hugepages=4
A: a = mmap 2M hugetlb
A: write a
A: b = mmap 2M hugetlb
n = sysctl nr_hugepages=0
expect n == 0
expect meminfo.HugePages_Total == 2
expect meminfo.HugePages_Surp == 2
expect meminfo.HugePages_Free == 1
expect meminfo.HugePages_Rsvd == 1
A: munmap a 2M
expect meminfo.HugePages_Total == 1
expect meminfo.HugePages_Surp == 1
A: munmap b 2M
expect meminfo.HugePages_Total == 0
expect meminfo.HugePages_Surp == 0
expect meminfo.Hugetlb == 0
`),
    ).toEqual([]);
  });

  it("growing the pool stops when no free block of the huge page size is left", () => {
    const m = checkedMetrics(`machine ram=64M
n = sysctl nr_hugepages=1000
let total = meminfo.HugePages_Total
n2 = sysctl nr_hugepages=1000
`);
    expect(m("n")).toBeGreaterThan(0);
    expect(m("n")).toBeLessThan(32);
    expect(m("total")).toBe(m("n"));
    expect(m("n2")).toBe(m("n"));
  });

  it("nr_overcommit_hugepages lets a reservation take surplus folios, given back at munmap", () => {
    expect(
      expectationFailures(`machine ram=256M
spawn A
sysctl nr_hugepages=1 nr_overcommit_hugepages=2
A: buf = mmap 6M hugetlb
expect buf > 0
expect meminfo.HugePages_Total == 3
expect meminfo.HugePages_Surp == 2
expect meminfo.HugePages_Rsvd == 3
A: write buf 6M
A: munmap buf 6M
expect meminfo.HugePages_Total == 1
expect meminfo.HugePages_Surp == 0
A: x = mmap 8M hugetlb
expect x == -12
`),
    ).toEqual([]);
  });
});

describe("HugeTLB mappings' geometry", () => {
  it("rounds the length up, places on a huge page boundary, refuses a misaligned fixed address and split", () => {
    expect(
      expectationFailures(`machine ram=256M
spawn A
sysctl nr_hugepages=4
A: buf = mmap 3M hugetlb noreserve
expect vmas(A, buf 4M) == 1
A: f = mmap 2M hugetlb noreserve at=0x40001000 fixed
expect f == -22
A: h = mmap 2M hugetlb noreserve at=0x40001000
expect h == 0x40200000
A: r = munmap buf 4K
expect r == -22
# the start's split at a huge page boundary stays when the end's fails (vms_gather_munmap_vmas)
A: r2 = munmap buf+2M 4K
expect r2 == -22
expect vmas(A, buf 4M) == 2
A: p = mprotect buf 4K prot=r
expect p == -22
A: p2 = mprotect buf 2M prot=r
expect p2 == 0
A: catch SIGSEGV
A: write buf
expect A.signal == SIGSEGV
`),
    ).toEqual([]);
  });

  it("mremap moves whole huge entries, shrinks, and refuses to grow; MADV_DONTNEED frees a folio", () => {
    expect(
      expectationFailures(`machine ram=256M
spawn A
sysctl nr_hugepages=4
A: buf = mmap 4M hugetlb
A: write buf 4M value=0x5a
let p = pfn(A, buf+2M)
A: g = mremap buf 4M 8M maymove
expect g == -22
A: m = mremap buf 4M 4M maymove to=0x40000000
expect m == 0x40000000
expect hugetlb(A, buf 4M) == 0
expect pfn(A, 0x40200000) == p
expect byte(A, 0x40200000) == 0x5a
expect meminfo.HugePages_Free == 2
A: s = mremap 0x40000000 4M 2M
expect meminfo.HugePages_Free == 3
A: d = madvise 0x40000000 2M dontneed
expect d == 0
expect meminfo.HugePages_Free == 4
expect meminfo.HugePages_Rsvd == 0
A: exit
expect meminfo.HugePages_Free == 4
`),
    ).toEqual([]);
  });

  it("madvise refuses free, cold, pageout and guards on HugeTLB, and DONTNEED off a boundary; DONTNEED frees whole pages only", () => {
    expect(
      expectationFailures(`machine ram=256M
spawn A
sysctl nr_hugepages=2
A: buf = mmap 4M hugetlb
A: write buf 4M
A: f = madvise buf 2M free
A: c = madvise buf 2M cold
A: p = madvise buf 2M pageout
A: g = madvise buf 4K guard_install
A: d = madvise buf+4K 4K dontneed
expect f == -22
expect c == -22
expect p == -22
expect g == -22
expect d == -22
# the end rounds down: 3M frees the first huge page only
A: d2 = madvise buf 3M dontneed
expect d2 == 0
expect hugetlb(A, buf 4M) == 512
expect meminfo.HugePages_Free == 1
`),
    ).toEqual([]);
  });
});

describe("HugeTLB mappings in a core dump", () => {
  it("follow coredump_filter's HugeTLB bits: private dumped by default, shared only with bit 6", () => {
    const m = checkedMetrics(`machine ram=256M
spawn A
sysctl nr_hugepages=3
A: p = mmap 4M hugetlb
A: s = mmap 2M hugetlb shared
A: write p
A: write s
A: d = coredump
A: all = coredump filter=0x73
A: none = coredump filter=0x13
`);
    expect(m("d")).toBe(4 << 20);
    expect(m("all")).toBe(6 << 20);
    expect(m("none")).toBe(0);
  });
});

describe("the HugeTLB pool's sysfs files", () => {
  it("show persistent, free, reserved and surplus pages and the overcommit", () => {
    const k = new KernelImpl({ ramBytes: 64 << 20, cpus: 1 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    k.sysctlHugepages(2, 1);
    const a = k.mmap(t, mmapArgs(6 << 20, { hugetlb: true })); // 3 pages: one surplus
    k.userAccess(0, t, a, Access.Write, 1);
    const d = "/sys/kernel/mm/hugepages/hugepages-2048kB";
    const h = k.view.hugepages();
    expect([
      h[`${d}/nr_hugepages`],
      h[`${d}/free_hugepages`],
      h[`${d}/resv_hugepages`],
      h[`${d}/surplus_hugepages`],
      h[`${d}/nr_overcommit_hugepages`],
      h["/proc/sys/vm/nr_hugepages"],
    ]).toEqual([2, 2, 2, 1, 1, 2]);
  });
});

describe("HugeTLB counters in /proc/vmstat", () => {
  it("counts the pool's folios from the buddy allocator, and the failures", () => {
    const m = checkedMetrics(`machine ram=64M
n = sysctl nr_hugepages=1000
let ok = vmstat.htlb_buddy_alloc_success
let fail = vmstat.htlb_buddy_alloc_fail
`);
    expect(m("ok")).toBe(m("n"));
    expect(m("fail")).toBe(1);
  });
});

describe("HugeTLB folios in /proc/kpageflags", () => {
  it("are huge and compound, anonymous (private, exclusive) or dirty in the page cache (shared), as this machine's 6.18 shows them", () => {
    const k = new KernelImpl({ ramBytes: 64 << 20, cpus: 1 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    k.sysctlHugepages(2);
    const p = k.mmap(t, mmapArgs(2 << 20, { hugetlb: true }));
    const s = k.mmap(t, mmapArgs(2 << 20, { hugetlb: true, shared: true }));
    k.userAccess(0, t, p, Access.Write, 1);
    k.userAccess(0, t, s, Access.Write, 1);
    const pfn = (va: bigint) => k.view.page(t, Number(va / 4096n)).pfn;
    const flags = (f: number) => `0x${k.view.kpageflags(f)!.toString(16)}`;
    // read on the host (probe: /proc/self/pagemap, /proc/kpageflags): HUGE, COMPOUND_HEAD or _TAIL,
    // MMAP, UPTODATE; ANON and OWNER_2 (PageAnonExclusive) for the private folio, DIRTY for the shared one
    expect([flags(pfn(p)), flags(pfn(p) + 1), flags(pfn(s)), flags(pfn(s) + 1)]).toEqual([
      "0x400029808",
      "0x400031808",
      "0x28818",
      "0x30818",
    ]);
    // /proc/self/pagemap on the host: present and PM_MMAP_EXCLUSIVE, PM_FILE for the shared
    // folio (pagemap_hugetlb_range; soft-dirty, bit 55, left out: the host has none)
    const pm = (va: bigint) => `0x${(k.view.pagemap(t, Number(va / 4096n), 1)[0].entry >> 56n).toString(16)}`;
    expect([pm(p), pm(p + 4096n), pm(s)]).toEqual(["0x81", "0x81", "0xa1"]);
  });
});
