/**
 * Transparent huge pages and their page tables (issue #16): each huge PMD
 * holds a deposited PTE table (pgtable_trans_huge_deposit), counted in
 * pt_pages (VmPTE) and PageTables; a split uses it, a zap frees it, fork
 * deposits one for the child. mremap moves a whole, aligned huge PMD
 * (move_huge_pmd) and a whole PTE table (move_normal_pmd) without touching
 * a page, splits a huge PMD it covers in part, and flushes the old range so
 * that no CPU reaches the old address through its TLB.
 * Linux: mm/huge_memory.c, mm/pgtable-generic.c, mm/mremap.c
 */

import { describe, expect, it } from "vitest";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";

describe("a huge PMD's deposited page table", () => {
  it("is allocated at the fault, counted, used by a split, freed by a zap, deposited again by fork", () => {
    expect(
      expectationFailures(`machine ram=64M thp=always
spawn A
A: fork C0
let c0 = C0.pt_pages
C0: exit
let p0 = A.pt_pages
let t0 = meminfo.PageTables
A: a = mmap 4M at=0x40000000
A: write a 4M
expect anon_huge(A, a 4M) == 1024
# a PUD, a PMD table and one deposited table per huge PMD
expect A.pt_pages == p0 + 4
expect meminfo.PageTables == t0 + 16K
A: fork C1
expect C1.pt_pages == c0 + 4
C1: exit
# a split takes the deposited table: no page allocated, pt_pages unchanged; the
# unmapped page stays with its folio, queued for the deferred split: nothing freed
let m = meminfo.MemFree
let f = vmstat.pgfree
A: munmap a+4K 4K
expect anon_huge(A, a 2M) == 0
expect table(A, a, pt) != -1
expect A.pt_pages == p0 + 4
expect vmstat.pgfree == f
expect meminfo.MemFree == m
expect vmstat.thp_deferred_split_page == 1
# zapping a whole huge PMD frees its deposited table
A: munmap a+2M 2M
expect A.pt_pages == p0 + 3
expect meminfo.PageTables == t0 + 12K
`),
    ).toEqual([]);
  });

  it("a read fault's huge zero page deposits one too", () => {
    expect(
      expectationFailures(`machine ram=64M thp=always
spawn A
let p0 = A.pt_pages
A: a = mmap 2M at=0x40000000
A: read a
expect present(A, a 2M) == 512
expect A.pt_pages == p0 + 3
A: write a+8K value=5
expect anon_huge(A, a 2M) == 512
expect A.pt_pages == p0 + 3
A: munmap a 2M
expect A.pt_pages == p0
`),
    ).toEqual([]);
  });
});

describe("mremap of transparent huge pages", () => {
  it("moves whole aligned huge PMDs: still huge, same frames, no split, no fault, no new table", () => {
    expect(
      expectationFailures(`machine ram=64M thp=always
spawn A
A: a = mmap 4M at=0x40000000
A: write a 4M value=7
let pa = pfn(A, a)
let pb = pfn(A, a+2M)
let p1 = A.pt_pages
let splits = vmstat.thp_split_pmd
let f = A.min_flt
# 3 GiB: another PMD table, so the deposited tables follow their PMDs there
A: b = mremap a 4M 4M maymove to=0xc0000000
expect b == 0xc0000000
expect anon_huge(A, b 4M) == 1024
expect meminfo.AnonHugePages == 4M
expect vmstat.thp_split_pmd == splits
expect pfn(A, b) == pa
expect pfn(A, b+2M) == pb
expect A.pt_pages == p1
A: write b 4M value=8
expect A.min_flt == f
expect byte(A, b+3M) == 8
# the deposited tables go with their PMDs, then the emptied PMD table and PUD
A: munmap b 4M
expect A.pt_pages == p1 - 4
`),
    ).toEqual([]);
  });

  it("splits a huge PMD the move covers in part, and moves its PTEs", () => {
    expect(
      expectationFailures(`machine ram=64M thp=always
spawn A
A: a = mmap 4M at=0x40000000
A: write a 4M value=7
let splits = vmstat.thp_split_pmd
let p1 = A.pt_pages
let pc = pfn(A, a+3M)
let f = A.min_flt
A: c = mremap a+3M 1M 1M maymove to=0xc0000000
expect vmstat.thp_split_pmd == splits + 1
expect anon_huge(A, a 3M) == 512
expect anon_huge(A, c 1M) == 0
expect pfn(A, c) == pc
expect byte(A, c+4K) == 7
# a PMD table and a PTE table at the destination; the split used the deposited table
expect A.pt_pages == p1 + 2
A: read a 3M
A: read c 1M
expect A.min_flt == f
`),
    ).toEqual([]);
  });

  it("moves whole PTE tables at PMD granularity (move_normal_pmd)", () => {
    expect(
      expectationFailures(`machine ram=64M thp=never
spawn A
A: a = mmap 4M at=0x40000000
A: write a 4M value=3
let t1 = table(A, a, pt)
let t2 = table(A, a+2M, pt)
let p1 = A.pt_pages
let f = A.min_flt
A: b = mremap a 4M 4M maymove to=0x40400000
expect table(A, b, pt) == t1
expect table(A, b+2M, pt) == t2
expect table(A, a, pt) == -1
expect A.pt_pages == p1
A: read b 4M
expect A.min_flt == f
expect byte(A, b+3M) == 3
`),
    ).toEqual([]);
  });

  it("moves a whole PMD table at PUD granularity (move_normal_pud), deposited tables with it", () => {
    expect(
      expectationFailures(`machine ram=64M thp=never overcommit=always
spawn A
A: a = mmap 1G at=0x40000000
A: write a
A: write a+512M
A: write a+1023M
let d = table(A, a, pd)
let t1 = table(A, a+512M, pt)
let t2 = table(A, a+1023M, pt)
let p1 = A.pt_pages
A: b = mremap a 1G 1G maymove to=0x80000000
expect table(A, b, pd) == d
expect table(A, b+512M, pt) == t1
expect table(A, b+1023M, pt) == t2
expect A.pt_pages == p1
`),
    ).toEqual([]);
    expect(
      expectationFailures(`machine ram=64M thp=always overcommit=always
spawn A
A: a = mmap 1G at=0x40000000
A: write a
A: write a+512M
let d = table(A, a, pd)
let p1 = A.pt_pages
A: b = mremap a 1G 1G maymove to=0x80000000
expect table(A, b, pd) == d
expect anon_huge(A, b 1G) == 1024
expect A.pt_pages == p1
A: munmap b 2M
expect A.pt_pages == p1 - 1
`),
    ).toEqual([]);
  });

  for (const arch of ["x86_64", "arm64", "riscv-sv39"])
    it(`flushes the old range on ${arch}: the old address faults, no stale TLB entry is used`, () => {
      expect(
        expectationFailures(`machine arch=${arch} ram=64M thp=always check_tlb=on cpus=2
spawn A
A: catch SIGSEGV
A: a = mmap 4M at=0x40000000
A: write a 4M
A: s = mmap 2M at=0x80000000
A: madvise s 2M nohugepage
A: write s 2M
A: b = mremap a 4M 4M maymove to=0xc0000000
A: t = mremap s 2M 2M maymove to=0x100000000
A: read a+1M
expect A.signal == SIGSEGV
A: read s+4K
expect A.si_addr == s+4K
A: read b+1M
A: read t+4K
expect tlb.stale_uses == 0
`),
      ).toEqual([]);
    });
});
