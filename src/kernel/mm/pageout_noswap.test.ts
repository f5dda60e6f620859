/**
 * MADV_PAGEOUT of anonymous memory that add_to_swap cannot give a slot, as Linux 6.12 does it
 * (mm/madvise.c madvise_cold_or_pageout_pte_range / _huge_pmd, mm/vmscan.c reclaim_pages,
 * reclaim_folio_list, shrink_folio_list). Every expected figure is derived in the comment above it.
 *
 * reclaim_pages clears PG_active of each isolated folio; shrink_folio_list then finds no slot
 * (no swap device: get_swap_pages' avail_pgs is 0; or every slot taken), goes to
 * activate_locked_split (PG_active set, stat->nr_activate: shrink_folio_list's own
 * count_vm_events(PGACTIVATE) counts it in vmstat pgactivate, whatever stat reclaim_folio_list passes)
 * and reclaim_folio_list puts the folio back (folio_putback_lru -> folio_add_lru: this CPU's
 * lru_add batch of 31, then Active(anon) when it drains). The page stays mapped. A large folio
 * fails add_to_swap first, is split (split_folio_to_list; THP_SWPOUT_FALLBACK for a PMD-size one)
 * and each of its pages then fails alike.
 */
import { describe, it } from "vitest";
import { holds } from "../../workloads/scenario/testKit.ts";

describe("MADV_PAGEOUT without a swap slot (shrink_folio_list's activate_locked_split)", () => {
  it("no swap: the pages stay mapped and go back active through the LRU add batch", () => {
    // write: 4 new anonymous folios wait in the lru_add batch; willneed's lru_add_drain puts them
    //   on Inactive(anon) (16 KiB). pageout: lru_add_drain, isolate all 4 (off the lists: 0 and
    //   0), add_to_swap fails, back into the batch (still 0 and 0); willneed drains: Active(anon)
    //   16 KiB. Nothing reclaimed, nothing unmapped; pgactivate 4 (one per page activated).
    holds(`machine ram=64M
spawn A
A: a = mmap 16K
A: write a 16K value=7
A: r = madvise a 16K willneed
expect meminfo.Inactive(anon) == 16384
expect meminfo.Active(anon) == 0
A: r = madvise a 16K pageout
expect r == 0
expect rss(A, a 16K) == 4
expect meminfo.Inactive(anon) == 0
expect meminfo.Active(anon) == 0
A: r = madvise a 16K willneed
expect meminfo.Active(anon) == 16384
expect meminfo.Inactive(anon) == 0
expect vmstat.pgactivate == 4
expect byte(A, a+12K) == 7
`);
  });

  it("swap with one free slot: the first page goes to swap, the other three back active", () => {
    // swap=8K: the header page and one slot. The table's 4 pages in order: page 0 takes the slot
    //   (written, PTE a swap entry; under writeback it is kept in the swap cache and put back,
    //   inactive: 4 KiB of SwapCached and Inactive(anon)); pages 1-3: add_to_swap fails:
    //   activate_locked_split, 12 KiB of Active(anon)
    holds(`machine ram=64M swap=8K
spawn A
A: a = mmap 16K
A: write a 16K value=7
A: r = madvise a 16K willneed
A: r = madvise a 16K pageout
expect rss(A, a 16K) == 3
expect swapped(A, a 16K) == 1
A: r = madvise a 16K willneed
expect meminfo.Active(anon) == 12288
expect meminfo.Inactive(anon) == 4096
expect meminfo.SwapCached == 4096
`);
  });

  it("no swap: a THP the range covers whole is split to 4K pages, each back active (THP_SWPOUT_FALLBACK)", () => {
    // madvise_cold_or_pageout_huge_pmd isolates the whole PMD-mapped folio; shrink_folio_list:
    //   add_to_swap fails on a large folio, split_folio_to_list (its PMD remapped as 512 PTEs),
    //   THP_SWPOUT_FALLBACK 1; the head and then each tail fail add_to_swap: all 512 back active
    holds(`machine ram=64M thp=always
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M value=1
expect anon_huge(A, a 2M) == 512
A: r = madvise a 2M pageout
expect r == 0
expect anon_huge(A, a 2M) == 0
expect rss(A, a 2M) == 512
expect vmstat.thp_swpout_fallback == 1
A: r = madvise a 2M willneed
expect meminfo.Active(anon) == 2097152
expect byte(A, a+1M) == 1
`);
  });
});
