/**
 * Reclaim of a huge tmpfs folio that shmem_writepage splits (Linux 6.12
 * mm/shmem.c shmem_writepage's try_split; mm/huge_memory.c
 * split_huge_page_to_list_to_order, __split_huge_page): shrink_folio_list
 * unmaps the folio whole first (try_to_unmap, TTU_SPLIT_HUGE_PMD), the split
 * drops the tails at or past i_size (shmem_fallocend) from the page cache
 * and frees them (no swap, no pgsteal; shmem_uncharge gives their blocks
 * back), the head is written, then each tail below i_size from the highest
 * (lru_add_page_tail onto reclaim's folio list).
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics } from "../../workloads/scenario/testKit.ts";

const M1 = 1 << 20;

describe("shmem_writepage's split of a huge tmpfs folio", () => {
  it("a folio across i_size: the 256 pages past it are dropped, the 256 below written (reclaim and MADV_PAGEOUT; x86-64 and i386)", () => {
    // a 1M file (256 pages) of a huge=always mount whose 2M mapping faults one PMD-size folio
    // (0..511); reclaim: folio_referenced finds nothing young (the write's PMD was not looked at
    // before), try_to_unmap clears the PMD, pageout -> shmem_writepage: i_size inside the folio,
    // split: THP_SPLIT_PAGE, no THP_SWPOUT; pages 256..511 dropped (Shmem and ShmemHugePages 0,
    // their 256 blocks uncharged: Committed_AS less 1M); pages 0..255 to 256 slots (PSWPOUT,
    // NR_VMSCAN_WRITE, pgsteal 256: the dropped pages are not reclaimed ones)
    for (const [arch, how] of [
      ["x86_64", "reclaim 4M"],
      ["i386-pae", "reclaim 4M"],
      ["x86_64", "A: r = madvise a 2M pageout"],
    ]) {
      const v = checkedMetrics(`machine arch=${arch} ram=64M swap=16M
file t size=1M fs=tmpfs huge=always
spawn A
A: a = mmap 2M prot=rw shared file=t at=0x40000000
A: write a 1M value=3
A: write a+1M-4K 4K value=9
let shp0 = meminfo.ShmemHugePages
let c0 = meminfo.Committed_AS
A: catch SIGBUS
A: read a+1M
expect A.signal == none
${how}
let shmem = meminfo.Shmem
let shp = meminfo.ShmemHugePages
let split = vmstat.thp_split_page
let swpout = vmstat.thp_swpout
let out = vmstat.pswpout
let writes = vmstat.nr_vmscan_write
let steal = vmstat.pgsteal_direct
let swapped = meminfo.SwapTotal - meminfo.SwapFree
let uncharged = c0 - meminfo.Committed_AS
A: read a+1M
expect A.signal == SIGBUS
A: read a+1M-4K
expect byte(A, a+1M-4K) == 9
A: read a
expect byte(A, a) == 3
`);
      const what = `${arch}: ${how}`;
      // before: the PMD maps the folio across i_size (can_map_large): a read there is no fault;
      // after, the page is gone: shmem_fault's shmem_get_folio_gfp, -EINVAL: SIGBUS (the expects)
      expect(v("shp0"), what).toBe(2 * M1);
      expect([v("shmem"), v("shp"), v("split"), v("swpout")], what).toEqual([0, 0, 1, 0]);
      expect([v("out"), v("writes"), v("swapped"), v("uncharged")], what).toEqual([256, 256, M1, M1]);
      // MADV_PAGEOUT is not direct reclaim: its pgsteal is no pgsteal_direct
      expect(v("steal"), what).toBe(how.startsWith("reclaim") ? 256 : 0);
    }
  });

  it("no swap cluster for the folio (try_split): the head gets the first slot, then the tails from the highest", () => {
    // swap=1M: 255 slots, no cluster of 512 (folio_alloc_swap of order 9 fails: try_split). The
    // head (index 0) is written first, then the tails the split put on the list, 511 down: 511..258
    // take the other 254 slots, 257..1 stay (no slot: redirty); page_cluster=0: one page a swap-in
    const v = checkedMetrics(`machine ram=64M swap=1M page_cluster=0
file t size=2M fs=tmpfs huge=always
spawn A
A: a = mmap 2M prot=rw shared file=t at=0x40000000
A: write a 2M value=3
A: write a+511p 4K value=9
A: write a+257p 4K value=7
reclaim 4M
let shmem = meminfo.Shmem
let shp = meminfo.ShmemHugePages
let split = vmstat.thp_split_page
let swpout = vmstat.thp_swpout
let out = vmstat.pswpout
let m0 = vmstat.pgmajfault
A: read a
let m1 = vmstat.pgmajfault
A: read a+511p
let m2 = vmstat.pgmajfault
A: read a+258p
let m3 = vmstat.pgmajfault
A: read a+257p
let m4 = vmstat.pgmajfault
expect byte(A, a) == 3
expect byte(A, a+511p) == 9
expect byte(A, a+257p) == 7
`);
    expect([v("split"), v("swpout"), v("out"), v("shp"), v("shmem")]).toEqual([1, 0, 255, 0, 257 * 4096]);
    // a (the head), a+511p and a+258p were written: major faults; a+257p stayed: minor
    expect([v("m1") - v("m0"), v("m2") - v("m1"), v("m3") - v("m2"), v("m4") - v("m3")]).toEqual([
      1, 1, 1, 0,
    ]);
  });
  it("split_folio outside reclaim (MADV_PAGEOUT of part of the PMD, a hole punched in the folio) drops the pages past i_size too", () => {
    // a 1M file (256 pages) on a huge=always mount, its folio 0..511 PMD-mapped by A alone.
    // madvise_cold_or_pageout_pte_range: the range (1M) is not the whole PMD: split_folio ->
    //   split_huge_page_to_list_to_order(list NULL): end = DIV_ROUND_UP(i_size) = 256, unmap_folio
    //   zaps the PMD (a file folio is not mapped again), __split_huge_page drops pages 256..511
    //   (shmem_uncharge: Committed_AS less 1M), THP_SPLIT_PAGE; then regular_folio finds no PTE
    //   table: nothing paged out (pswpout 0), nothing mapped.
    // shmem_fallocate(PUNCH_HOLE) of page 1: find_lock_entries skips the folio (not wholly inside),
    //   shmem_get_partial_folio -> truncate_inode_partial_folio -> split_folio: the same drop of
    //   256..511, then page 1 goes: Shmem 1M - 4K, Committed_AS less 1M + 4K.
    for (const [what, op] of [
      ["pageout", "A: r = madvise a 1M pageout"],
      ["punch", "A: r = fallocate t 4K 4K keep_size punch_hole"],
    ]) {
      const v = checkedMetrics(`machine ram=64M swap=16M
file t size=1M fs=tmpfs huge=always
spawn A
A: a = mmap 2M prot=rw shared file=t at=0x40000000
A: write a 1M value=3
let c0 = meminfo.Committed_AS
let s0 = vmstat.thp_split_page
${op}
let shmem = meminfo.Shmem
let shp = meminfo.ShmemHugePages
let split = vmstat.thp_split_page - s0
let swpout = vmstat.pswpout
let uncharged = c0 - meminfo.Committed_AS
let p = present(A, a 2M)
`);
      const hole = what === "punch" ? 4096 : 0;
      expect([v("r"), v("shmem"), v("shp"), v("split"), v("swpout")], what).toEqual([0, M1 - hole, 0, 1, 0]);
      expect([v("uncharged"), v("p")], what).toEqual([M1 + hole, 0]);
    }
  });
});
