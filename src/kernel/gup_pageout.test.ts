/**
 * MADV_PAGEOUT (madvise_cold_or_pageout_pte_range -> reclaim_pages -> shrink_folio_list with
 * ignore_references) of pinned pages, Linux 6.12. madvise_cold_or_pageout_pte_range itself does
 * not look at pins: a small folio on the LRU mapped once is isolated whatever its reference count.
 * mm/madvise.c; mm/vmscan.c reclaim_folio_list, shrink_folio_list; mm/rmap.c try_to_unmap_one.
 */
import { describe, it } from "vitest";
import { holds, PAGE_ON_LRU } from "../workloads/scenario/testKit.ts";

describe("MADV_PAGEOUT of a pinned lazyfree page", () => {
  it("try_to_unmap_one's MADV_FREE check fails: remapped, swap-backed, activate_locked, put back active", () => {
    // reclaim_pages: the lazyfree folio (inactive file list) isolated; shrink_folio_list: anon but
    // not swap-backed, so no add_to_swap and no pin check; try_to_unmap_one clears the PTE, reads
    // ref_count 1 + 1 + 1024 != 1 + map_count: set_pte_at(pteval), folio_set_swapbacked, walk_abort;
    // activate_locked: PG_active, nr_activate, pgactivate; reclaim_folio_list's folio_putback_lru:
    // Active(anon). Not discarded (pglazyfreed 0), the frame and its bytes stay
    holds(`${PAGE_ON_LRU}let pf = pfn(A, a)
kernel: p = pin_user_pages A a 1
A: r = madvise a 4K free
A: r = madvise a 4K willneed
expect meminfo.Inactive(file) == 4096
let act = vmstat.pgactivate
A: r = madvise a 4K pageout
expect r == 0
A: r = madvise a 4K willneed
expect vmstat.pgactivate == act + 1
expect vmstat.pglazyfreed == 0
expect meminfo.Active(file) + meminfo.Inactive(file) == 0
expect meminfo.Active(anon) == 4096
expect present(A, a) == 1
expect pfn(A, a) == pf
expect byte(A, a) == 5
kernel: unpin_user_pages p
A: r = madvise a 4K pageout
expect swapped(A, a) == 1
A: read a 4K
expect byte(A, a) == 5
`);
  });

  it("unpinned but written after MADV_FREE: the same activate_locked, then swapped out by the next pageout", () => {
    // try_to_unmap_one: the PTE dirty, folio_mark_dirty; ref_count == 1 + map_count but dirty:
    // "the folio was redirtied", remapped, folio_set_swapbacked; activate_locked (pgactivate)
    holds(`${PAGE_ON_LRU}A: r = madvise a 4K free
A: write a 4K value=7
A: r = madvise a 4K willneed
let act = vmstat.pgactivate
A: r = madvise a 4K pageout
A: r = madvise a 4K willneed
expect vmstat.pgactivate == act + 1
expect vmstat.pglazyfreed == 0
expect meminfo.Active(anon) == 4096
expect present(A, a) == 1
A: r = madvise a 4K pageout
expect swapped(A, a) == 1
A: read a 4K
expect byte(A, a) == 7
`);
  });
});
