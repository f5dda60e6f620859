/**
 * A PMD-mapped THP with a FOLL_PIN page under reclaim, Linux 6.12: the large folio is
 * folio_maybe_dma_pinned (_pincount), so shrink_folio_list keeps it before add_to_swap
 * (keep_locked): no swap slots, no try_to_unmap, so no TTU_SPLIT_HUGE_PMD and no split; the
 * folio stays whole, PMD-mapped, at its frames. MADV_PAGEOUT of part of it asks split_folio
 * first, which can_split_folio refuses (the pin's extra reference): madvise_cold_or_pageout_pte_range
 * returns with the PMD as it was. Linux: mm/vmscan.c shrink_folio_list, reclaim_pages; mm/madvise.c
 * madvise_cold_or_pageout_pte_range; mm/huge_memory.c split_huge_page_to_list_to_order, can_split_folio
 */
import { describe, it } from "vitest";
import { holds } from "../workloads/scenario/testKit.ts";

const pinnedThp = `machine ram=64M swap=64M thp=always
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M value=3
expect anon_huge(A, a 2M) == 512
let head = pfn(A, a)
kernel: p = pin_user_pages A a+8K 1 write
let act = vmstat.pgactivate
`;

describe("MADV_PAGEOUT of a pinned PMD-mapped THP", () => {
  it("covering part of it: split_folio fails (can_split_folio), the PMD stays, nothing is paged out", () => {
    holds(`${pinnedThp}A: r = madvise a+4K 8K pageout
expect r == 0
expect vmstat.thp_split_page_failed == 1
expect vmstat.thp_split_pmd == 0
expect anon_huge(A, a 2M) == 512
expect swapped(A, a 2M) == 0
expect pfn(A, a) == head
kernel: unpin_user_pages p
`);
  });

  it("covering it whole: isolated whole, keep_locked before add_to_swap, put back inactive; no PMD split", () => {
    // madvise_cold_or_pageout_pte_range's pmd_trans_huge case: folio_isolate_lru of the whole
    // folio; reclaim_pages: PG_active cleared; shrink_folio_list: folio_maybe_dma_pinned before
    // add_to_swap and before any split (keep_locked: not counted); reclaim_folio_list's
    // folio_putback_lru. Unpinned, the next MADV_PAGEOUT swaps the folio out whole
    holds(`${pinnedThp}A: r = madvise a 2M pageout
A: r2 = madvise a 2M willneed
expect vmstat.thp_split_pmd == 0
expect vmstat.thp_split_page == 0
expect anon_huge(A, a 2M) == 512
expect swapped(A, a 2M) == 0
expect vmstat.thp_swpout == 0
expect vmstat.pgactivate == act
expect meminfo.Inactive(anon) >= 2097152
expect pfn(A, a) == head
kernel: unpin_user_pages p
A: r = madvise a 2M pageout
expect swapped(A, a 2M) == 512
expect vmstat.thp_swpout == 1
`);
  });
});

describe("reclaim of a pinned PMD-mapped THP (shrink_inactive_list)", () => {
  it("kept before add_to_swap every time: whole, PMD-mapped, no swap slot taken", () => {
    holds(`${pinnedThp}reclaim 60M
expect anon_huge(A, a 2M) == 512
expect vmstat.thp_split_pmd == 0
expect vmstat.thp_split_page == 0
expect swapped(A, a 2M) == 0
expect pfn(A, a) == head
kernel: unpin_user_pages p
reclaim 60M
expect swapped(A, a 2M) == 512
`);
  });
});

const lazyPinnedKept = `A: r = madvise a 2M free
A: r = madvise a 2M willneed
reclaim 60M
expect vmstat.pglazyfreed == 0
expect present(A, a 2M) == 512
expect byte(A, a+8K) == 3
expect pfn(A, a) == head
expect vmstat.thp_split_pmd == 1
expect vmstat.thp_split_page == 0
expect vmstat.pgactivate == act + 512
expect meminfo.Active(anon) + meminfo.Inactive(anon) == 2097152
expect meminfo.Active(file) + meminfo.Inactive(file) == 0
kernel: unpin_user_pages p
`;

describe("reclaim of a pinned lazyfree PMD-mapped THP (shrink_inactive_list)", () => {
  it("the pin on its head page: the same (the folio's ref_count, not the page's)", () => {
    holds(`${pinnedThp.replace("a+8K 1 write", "a 1")}${lazyPinnedKept}`);
  });

  it("not discarded: __discard_anon_folio_pmd_locked refuses, TTU_SPLIT_HUGE_PMD, the PTE's MADV_FREE check remaps it swap-backed, activate_locked", () => {
    // madvise_free_huge_pmd (whole PMD): folio_mark_lazyfree, PMD kept. shrink_folio_list: not
    // swap-backed, so no folio_maybe_dma_pinned check; try_to_unmap(TTU_SPLIT_HUGE_PMD):
    // unmap_huge_pmd_locked -> __discard_anon_folio_pmd_locked: ref_count != map_count + 1 (the
    // pin's reference), set_pmd_at(orig_pmd), false; split_huge_pmd_locked (thp_split_pmd); the
    // first PTE's MADV_FREE check fails alike: set_pte_at(pteval), folio_set_swapbacked, walk_abort;
    // nr_lazyfree_fail, activate_locked (pgactivate += 512); folio_putback_lru: Active(anon)
    holds(`${pinnedThp}${lazyPinnedKept}`);
  });
});

describe("MADV_PAGEOUT of a pinned lazyfree PMD-mapped THP, covering it whole", () => {
  it("as under reclaim: no pin check for a lazyfree folio, try_to_unmap splits the PMD, activate_locked", () => {
    // madvise_cold_or_pageout_pte_range isolates the folio whole; reclaim_pages -> shrink_folio_list:
    // not swap-backed, so neither folio_maybe_dma_pinned nor a split_folio; try_to_unmap: the
    // discard refused (ref_count), TTU_SPLIT_HUGE_PMD, the PTE's MADV_FREE check remaps it
    // swap-backed; activate_locked (pgactivate += 512); reclaim_folio_list's folio_putback_lru
    holds(`${pinnedThp}A: r = madvise a 2M free
A: r = madvise a 2M willneed
A: r = madvise a 2M pageout
A: r = madvise a 2M willneed
expect vmstat.pglazyfreed == 0
expect present(A, a 2M) == 512
expect byte(A, a+8K) == 3
expect vmstat.thp_split_pmd == 1
expect vmstat.thp_split_page == 0
expect vmstat.pgactivate == act + 512
expect meminfo.Active(anon) == 2097152
expect meminfo.Active(file) + meminfo.Inactive(file) == 0
kernel: unpin_user_pages p
`);
  });
});
