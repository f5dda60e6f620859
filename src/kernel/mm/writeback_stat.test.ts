/**
 * /proc/vmstat's writeback counters: nr_dirtied (folio_account_dirtied: each
 * disk-file page that becomes dirty, once until it is clean again),
 * nr_written (folio_end_writeback: the page cache's writebacks and swap
 * writes) and nr_vmscan_write (pageout: the pages reclaim wrote itself: swap
 * only, as ext4 has no writepage).
 */
import { describe, expect, it } from "vitest";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";

describe("writeback counters", () => {
  it("count a file page dirtied once until written back, and every page written, reclaim's apart", () => {
    expect(
      expectationFailures(`
machine ram=256M swap=64M
file f size=64K
file t size=64K fs=tmpfs
spawn A
A: m = mmap 64K shared file=f
A: write m 64K value=7
expect vmstat.nr_dirtied == 16
expect vmstat.nr_dirty == 16
A: write m 64K value=8
expect vmstat.nr_dirtied == 16
expect vmstat.nr_written == 0
A: buf = mmap 64K
A: w = syscall write f buf 8K offset=0
expect vmstat.nr_dirtied == 16
# tmpfs cannot write back: its pages are not accounted
A: w2 = syscall write t buf 64K offset=0
expect vmstat.nr_dirtied == 16
# ext4 has no writepage: reclaim leaves a dirty file page to the flusher (page_writeback.ts)
A: madvise m 64K pageout
expect vmstat.nr_written == 0
expect vmstat.nr_vmscan_write == 0
expect vmstat.nr_dirty == 16
A: msync m 64K
expect vmstat.nr_written == 16
expect vmstat.nr_dirty == 0
A: write m 4K value=9
expect vmstat.nr_dirtied == 17
A: a = mmap 64K
A: write a 64K value=1
A: madvise a 64K pageout
expect vmstat.pswpout == 16
expect vmstat.nr_vmscan_write == 16
expect vmstat.nr_written == 32
# clean swap-cache pages go again without a write
A: read a 64K
A: madvise a 64K pageout
expect vmstat.nr_written == 32
expect vmstat.nr_vmscan_write == 16
A: read a 64K
expect byte(A, a+4K) == 1
`),
    ).toEqual([]);
  });
});
