/**
 * Shmem folios below the PMD size for shared anonymous memory (Linux 6.11+,
 * as 6.12 has them): hugepages-<size>kB/shmem_enabled from 8K to the PMD
 * size, shmem_allowable_huge_orders' orders below the PMD's,
 * shmem_suitable_orders (the VMA's fit, the xarray's conflicts from the
 * highest order down), the fallback loop of shmem_alloc_and_add_folio, the
 * per-size stats shmem_alloc / shmem_fallback, what finish_fault maps
 * (set_pte_range over the whole folio), reclaim writing such a folio whole
 * and MADV_REMOVE splitting it (stats/split).
 * Linux: mm/shmem.c shmem_allowable_huge_orders, shmem_suitable_orders,
 * shmem_alloc_and_add_folio, thpsize_shmem_enabled_store; mm/memory.c finish_fault
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics } from "../../workloads/scenario/testKit.ts";

const run = checkedMetrics;
const K64 = 64 << 10;

describe("shared anonymous memory in folios below the PMD size", () => {
  it("hugepages-64kB/shmem_enabled=always: a fault allocates a 64K folio and maps its 16 pages", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=always size=64K
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a+21p value=7
let p = present(A, a 2M)
let flt = A.min_flt
let rss = A.rss
let shmem = meminfo.Shmem
let shp = meminfo.ShmemHugePages
let fa = vmstat.thp_file_alloc
let alloc = thp.hugepages_64kB_shmem_alloc
expect byte(A, a+21p) == 7
expect byte(A, a+16p) == 0
expect byte(A, a+31p) == 0
`);
    // the folio of pages 16..31 (index 21 rounded down to 16), one fault, all 16 PTEs
    // (finish_fault: set_pte_range over the folio inside the VMA and the page table)
    expect([v("p"), v("flt"), v("rss"), v("shmem")]).toEqual([16, 1, 16, K64]);
    // ShmemHugePages and THP_FILE_ALLOC count PMD-size folios only; the size's shmem_alloc this one
    expect([v("shp"), v("fa"), v("alloc")]).toEqual([0, 0, 1]);
  });

  it("the highest order granted wins; shmem_enabled=never leaves the PMD size (inherit) out", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=always size=64K
thp shmem_enabled=advise size=32K
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a value=1
let p1 = present(A, a 2M)
thp shmem_enabled=always
A: b = mmap 2M prot=rw shared at=0x40400000
A: write b value=1
let p2 = present(A, b 2M)
A: c = mmap 2M prot=rw shared at=0x40800000
thp shmem_enabled=never size=64K
A: madvise c 2M hugepage
thp shmem_enabled=never
A: write c value=1
let p3 = present(A, c 2M)
let a64 = thp.hugepages_64kB_shmem_alloc
let a32 = thp.hugepages_32kB_shmem_alloc
let a2m = thp.hugepages_2048kB_shmem_alloc
`);
    // 64K (always; the PMD size inherits never); then 2M (inherit, shmem_enabled=always); then
    // 32K (advise, with MADV_HUGEPAGE)
    expect([v("p1"), v("p2"), v("p3")]).toEqual([16, 512, 8]);
    expect([v("a64"), v("a2m"), v("a32")]).toEqual([1, 1, 1]);
  });

  it("shmem_suitable_orders: an order whose block holds a page is dropped; the VMA must hold the block", () => {
    const v = run(`machine ram=64M
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a+5p value=5
thp shmem_enabled=always size=64K
thp shmem_enabled=always size=16K
A: write a+1p value=1
let p1 = present(A, a 2M)
A: b = mmap 40K prot=rw shared at=0x40400000
A: write b+1p value=2
let p2 = present(A, b 40K)
let a16 = thp.hugepages_16kB_shmem_alloc
`);
    // pages 0..15 hold page 5: 64K dropped, 16K (pages 0..3) taken: 4 PTEs and page 5's
    expect(v("p1")).toBe(5);
    // a 40K mapping holds no 64K block (thp_vma_suitable_orders): 16K again
    expect([v("p2"), v("a16")]).toEqual([4, 2]);
  });

  it("within_size: every within_size order once one fits inside i_size (the mapping's length)", () => {
    const v = run(`machine ram=64M
thp shmem_enabled=within_size size=16K
thp shmem_enabled=within_size size=64K
spawn A
A: a = mmap 40K prot=rw shared at=0x40000000
A: write a value=1
let p1 = present(A, a 40K)
A: write a+9p value=1
let p2 = present(A, a 40K)
`);
    // index 0: round_up(1, 4) = 4 <= 10 pages of i_size: 16K (64K does not fit the VMA); index 9:
    // round_up(10, 16) = 16 and round_up(10, 4) = 12 are past 10: a 4K page
    expect([v("p1"), v("p2")]).toEqual([4, 5]);
  });

  it("reclaim writes a 64K folio to swap whole; MADV_REMOVE of part of one splits it", () => {
    const v = run(`machine ram=64M swap=64M page_cluster=0
thp shmem_enabled=always size=64K
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a 16p value=3
A: write a+16p 16p value=4
let out0 = vmstat.pswpout
A: r = madvise a 64K pageout
let out = vmstat.pswpout
let swpout = thp.hugepages_64kB_swpout
let thpswp = vmstat.thp_swpout
let sw = meminfo.SwapTotal - meminfo.SwapFree
A: madvise a+16p 4K remove
let split = thp.hugepages_64kB_split
let tsp = vmstat.thp_split_page
let p = present(A, a+16p 64K)
A: read a+3p
A: read a+16p
expect byte(A, a+3p) == 3
expect byte(A, a+17p) == 4
expect byte(A, a+16p) == 0
`);
    // swap_writepage of the whole folio: 16 pages, the size's swpout, no THP_SWPOUT (not PMD-size)
    expect([v("r"), v("out") - v("out0"), v("swpout"), v("thpswp"), v("sw")]).toEqual([0, 16, 1, 0, K64]);
    // truncate_inode_partial_folio: split_folio counts the size's split, not THP_SPLIT_PAGE
    // its other 15 pages stay mapped
    expect([v("split"), v("tsp"), v("p")]).toEqual([1, 0, 15]);
  });

  it("hugepages-2048kB/stats/split counts with thp_split_page: shared anonymous, tmpfs (truncate) and anonymous splits", () => {
    const v = run(`machine ram=64M thp=always
thp shmem_enabled=always
file t size=4M fs=tmpfs huge=always
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a value=1
A: madvise a+1M 4K remove
let s1 = thp.hugepages_2048kB_split
let t1 = vmstat.thp_split_page
A: r = ftruncate t 3M
let s2 = thp.hugepages_2048kB_split
A: b = mmap 2M prot=rw at=0x40400000
A: write b value=1
A: madvise b+4K 4K pageout
let s3 = thp.hugepages_2048kB_split
let t3 = vmstat.thp_split_page
`);
    // split_huge_page_to_list_to_order: count_vm_event(THP_SPLIT_PAGE) and
    // count_mthp_stat(HPAGE_PMD_ORDER, MTHP_STAT_SPLIT) together
    expect([v("s1"), v("t1"), v("s2"), v("s3"), v("t3")]).toEqual([1, 1, 2, 3, 3]);
  });

  it("an 8K folio (order 1, shmem only): two pages, written to swap whole, its stats under hugepages-8kB", () => {
    const v = run(`machine ram=64M swap=16M page_cluster=0
thp shmem_enabled=always size=8K
spawn A
A: a = mmap 2M prot=rw shared at=0x40000000
A: write a+3p value=9
let p = present(A, a 2M)
let alloc = thp.hugepages_8kB_shmem_alloc
A: r = madvise a 16K pageout
let swpout = thp.hugepages_8kB_swpout
let out = vmstat.pswpout
A: read a+3p
expect byte(A, a+3p) == 9
`);
    expect([v("p"), v("alloc"), v("r"), v("swpout"), v("out")]).toEqual([2, 1, 0, 1, 2]);
  });
});
