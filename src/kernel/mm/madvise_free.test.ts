/**
 * MADV_FREE as Linux 6.12 does it: madvise_free_pte_range (which folios it
 * marks, swap entries dropped), folio_mark_lazyfree (onto the inactive file
 * list, so reclaim finds lazy-free pages without swap), and try_to_unmap_one's
 * MADV_FREE check (a clean page is discarded with no swap I/O; a page written
 * again is kept and becomes swap-backed). Each scenario states its
 * expectations; the test asserts that every one held.
 */

import { describe, expect, it } from "vitest";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";

describe("MADV_FREE", () => {
  it("moves an mTHP folio's lru_lazyfree batch at once (a large folio), where order-0 folios wait for the 31st or a drain", () => {
    // b's 4 order-0 folios: folio_batch_add, fewer than 31: they wait (pglazyfree 0, not lazy-free)
    // a's 64K folio, covered whole: madvise_free_single_vma's lru_add_drain moves b's 4 first;
    //   then one folio_mark_lazyfree of a large folio: __folio_batch_add_and_move moves the batch
    //   at once, its 16 pages with it (pglazyfree 4 + 16; vmlab's LRU holds them page by page)
    expect(
      expectationFailures(`machine ram=128M thp=never
mthp 64K always
spawn A
A: a = mmap 64K at=0x40000000
A: write a 64K value=1
expect thp.hugepages_64kB_nr_anon == 1
A: b = mmap 16K at=0x40100000
A: write b 16K value=2
A: madvise b 16K free
expect vmstat.pglazyfree == 0
expect lazyfree(A, b 16K) == 0
A: madvise a 64K free
expect thp.hugepages_64kB_nr_anon == 1
expect vmstat.pglazyfree == 4 + 16
expect lazyfree(A, a 64K) == 16
expect lazyfree(A, b 16K) == 4
`),
    ).toEqual([]);
  });

  it("with no swap, MADV_PAGEOUT discards the clean lazy-free pages and keeps those written again", () => {
    expect(
      expectationFailures(`machine ram=64M swap=0
spawn A
A: a = mmap 16p
A: write a 16p value=7
A: madvise a 16p free
# folio_mark_lazyfree queues them in this CPU's lru_lazyfree batch (fewer than 31): not yet lazy-free
expect lazyfree(A, a 16p) == 0
expect vmstat.pglazyfree == 0
expect meminfo.Inactive(file) == 0
A: write a 4p value=9
# madvise_pageout's lru_add_drain moves the batch (lru_lazyfree), then pages them out
A: madvise a 16p pageout
expect vmstat.pglazyfree == 16
expect rss(A, a 16p) == 4
expect byte(A, a) == 9
expect byte(A, a+8p) == -1
expect vmstat.pglazyfreed == 12
let f = A.min_flt
A: read a 16p
expect A.min_flt - f == 12
expect byte(A, a+8p) == 0
`),
    ).toEqual([]);
  });

  it("memory pressure drops clean lazy-free pages without writing them to swap; redirtied pages stay", () => {
    expect(
      expectationFailures(`machine ram=64M swap=16M
spawn A
A: a = mmap 32p
A: write a 32p value=7
A: madvise a 32p free
A: write a+16p 16p value=5
let out = vmstat.pswpout
reclaim 64K
expect rss(A, a 32p) == 16
expect swapped(A, a 32p) == 0
expect vmstat.pswpout == out
expect vmstat.pglazyfreed == 16
expect byte(A, a+16p) == 5
expect lazyfree(A, a 32p) == 0
`),
    ).toEqual([]);
  });

  it("drops swap entries in the range: the slots are freed and the next read is a zero page, not a swap-in", () => {
    expect(
      expectationFailures(`machine ram=64M swap=16M
spawn A
A: s = mmap 8p
A: write s 8p value=3
A: madvise s 8p pageout
expect swapped(A, s 8p) == 8
let sf = meminfo.SwapFree
A: madvise s 8p free
expect swapped(A, s 8p) == 0
expect meminfo.SwapFree == sf + 32K
let maj = A.maj_flt
A: read s 8p
expect A.maj_flt == maj
expect byte(A, s) == 0
`),
    ).toEqual([]);
  });

  it("marks a page a forked child shares, skips a shared dirty one; a child's dirty PTE keeps the page", () => {
    expect(
      expectationFailures(`machine ram=64M swap=0
spawn A
A: a = mmap 8p
A: write a 8p value=7
A: fork B
A: madvise a 8p free
# waiting in the lru_lazyfree batch; reclaim's lru_add_drain moves them first
expect lazyfree(A, a 8p) == 0
reclaim 32K
# A's clean mappings were discarded; B's dirty PTEs made the pages dirty and swap-backed again
expect rss(A, a 8p) == 0
expect rss(B, a 8p) == 8
expect lazyfree(B, a 8p) == 0
expect byte(B, a) == 7
B: fork C
B: madvise a 8p free
expect lazyfree(B, a 8p) == 0
C: exit
B: madvise a 8p free
expect lazyfree(B, a 8p) == 0
reclaim 32K
expect vmstat.pglazyfree == 16
expect rss(B, a 8p) == 0
`),
    ).toEqual([]);
  });

  it("keeps a transparent huge page it covers whole huge, and reclaim discards it whole", () => {
    expect(
      expectationFailures(`machine ram=64M swap=0 thp=always
spawn A
A: a = mmap 4M at=0x40000000
A: write a 4M
expect anon_huge(A, a 4M) == 1024
let sp = vmstat.thp_split_pmd
A: madvise a 2M free
expect anon_huge(A, a 2M) == 512
expect lazyfree(A, a 2M) == 512
expect vmstat.thp_split_pmd == sp
A: madvise a+2M 1M free
expect anon_huge(A, a+2M 2M) == 0
# the split's 256 pages queue one by one: 8 full batches of 31 moved, 8 still wait
expect lazyfree(A, a+2M 2M) == 248
expect vmstat.pglazyfree == 512 + 248
reclaim 4M
expect rss(A, a 2M) == 0
expect rss(A, a+2M 2M) == 256
expect vmstat.pglazyfreed == 768
expect vmstat.thp_split_pmd == sp + 1
A: read a 2M
expect byte(A, a) == 0
`),
    ).toEqual([]);
  });
});
