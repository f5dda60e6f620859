/**
 * Dirty page-cache pages under reclaim (Linux 6.12, page_writeback.ts): ext4
 * has no ->writepage, so reclaim never writes one (nr_vmscan_write stays at
 * the swap's pages); it activates a dirty folio with PG_reclaim
 * (nr_vmscan_immediate_reclaim), wakes the flusher when a batch took only
 * dirty folios, and the flusher's end of writeback rotates PG_reclaim folios
 * to the inactive tail (pgrotated), where the next scan frees them.
 */
import { describe, expect, it } from "vitest";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import { PageFlag } from "./PageDesc.ts";
import { DirtyFolio, ReclaimWriteback } from "./page_writeback.ts";

/** c's 64 clean cached pages, then g's 64 pages dirtied through a shared mapping and unmapped (PG_referenced from the zap) */
const CLEAN_THEN_DIRTY = `file c size=256K cached
file g size=256K
spawn A
A: m = mmap 256K shared file=g
A: write m 256K value=9
A: munmap m 256K
`;

describe("dirty page-cache pages and reclaim", () => {
  it("direct reclaim frees clean pages first, activates dirty ones and wakes the flusher on an all-dirty batch", () => {
    expect(
      expectationFailures(`
machine ram=64M
${CLEAN_THEN_DIRTY}expect vmstat.nr_inactive_file == 128
expect vmstat.nr_dirty == 64
# try_to_free_pages for 32 pages, cache trim mode (plenty of inactive file pages, none refaulting):
# the file list alone, size >> priority pages a step: 1, 1, 3, 7, 14 at priorities 7 to 3 (26, short
# of 32), 25 at priority 2: 51 of c's clean pages, nothing dirty reached, no flusher
reclaim 128K
expect vmstat.pgsteal_direct == 51
expect vmstat.pgscan_direct == 51
expect vmstat.nr_written == 0
expect vmstat.nr_dirty == 64
# c's other 13 go; then g's pages, all dirty: each activated with PG_reclaim, until a batch
# took only dirty ones: the flusher writes all 64 of g's dirty pages, the 17 activated with
# PG_reclaim rotate to the inactive tail, and the later steps free all of them
reclaim 512K
expect vmstat.nr_vmscan_immediate_reclaim == 17
expect vmstat.pgactivate == 17
expect vmstat.nr_written == 64
expect vmstat.pgrotated == 17
expect vmstat.nr_vmscan_write == 0
expect vmstat.nr_dirty == 0
expect vmstat.pgsteal_direct == 128
expect vmstat.pgscan_direct == 145
expect vmstat.nr_inactive_file == 0
# what the flusher wrote is the file's
A: m2 = mmap 256K shared file=g
A: read m2 256K
expect byte(A, m2) == 9
expect byte(A, m2+252K) == 9
`),
    ).toEqual([]);
  });

  it("under pressure only the flusher writes a disk file's pages, and each once", () => {
    expect(
      expectationFailures(`
machine ram=64M
file f size=24M
# no background writeback (balance_dirty_pages' limits at their highest): reclaim meets the dirty pages
sysctl dirty_ratio=100 dirty_background_ratio=100
spawn A
A: m = mmap 24M shared file=f
A: write m 24M value=7
A: munmap m 24M
A: a = mmap 40M
A: write a 40M value=1
expect vmstat.nr_vmscan_write == 0
expect vmstat.nr_written == 6144
expect vmstat.nr_dirty == 0
expect vmstat.nr_vmscan_immediate_reclaim >= 1
expect vmstat.pgrotated == vmstat.nr_vmscan_immediate_reclaim
A: m2 = mmap 24M shared file=f
A: read m2 4K
expect byte(A, m2) == 7
`),
    ).toEqual([]);
  });

  it("the other policies write dirty file pages from reclaim (a filesystem with writepage)", () => {
    expect(
      expectationFailures(`
machine ram=64M policy=clock
${CLEAN_THEN_DIRTY}reclaim 512K
expect vmstat.nr_vmscan_immediate_reclaim == 0
expect vmstat.nr_vmscan_write == 64
expect vmstat.nr_written == 64
expect vmstat.nr_dirty == 0
`),
    ).toEqual([]);
  });

  it("MADV_PAGEOUT unmaps a dirty file page and puts it back active for the flusher; msync writes it", () => {
    expect(
      expectationFailures(`
machine ram=64M
file f size=64K
spawn A
A: m = mmap 64K shared file=f
A: write m 64K value=5
A: madvise m 64K pageout
expect present(A, m) == 0
expect vmstat.nr_file_pages == 16
expect vmstat.nr_dirty == 16
expect vmstat.nr_vmscan_immediate_reclaim == 16
expect vmstat.nr_written == 0
# reclaim_folio_list's folio_putback_lru: PG_active, in the LRU add batch (31 folios; PG_lru clear)
expect vmstat.nr_active_file == 0
expect vmstat.nr_inactive_file == 0
A: msync m 64K
expect vmstat.nr_written == 16
expect vmstat.nr_dirty == 0
# their writeback ended with PG_reclaim, but folio_rotate_reclaimable skips a folio off the lists
expect vmstat.pgrotated == 0
# reclaim drains the batch (active), refills the inactive list from it and frees them, clean
reclaim 64K
expect vmstat.pgdeactivate == 16
expect vmstat.pgsteal_direct == 16
expect vmstat.nr_file_pages == 0
expect vmstat.nr_vmscan_write == 0
A: read m 4K
expect byte(A, m) == 5
`),
    ).toEqual([]);
  });
});

describe("fsync and sync", () => {
  it("write a file's dirty pages, or every file's, clean their PTEs and leave tmpfs alone", () => {
    expect(
      expectationFailures(`
machine ram=64M
file f size=64K
file g size=64K
file t size=64K fs=tmpfs
spawn A
A: m = mmap 64K shared file=f
A: write m 64K value=5
A: n = mmap 64K shared file=g
A: write n 16K value=6
expect vmstat.nr_dirty == 20
A: r = syscall fsync f
expect r == 0
expect vmstat.nr_dirty == 4
expect vmstat.nr_written == 16
expect dirty(A, m) == 0
A: r2 = syscall fsync t
expect r2 == 0
expect vmstat.nr_written == 16
sync
expect vmstat.nr_dirty == 0
expect vmstat.nr_written == 20
expect dirty(A, n) == 0
# the clean, write-protected PTE: the next write faults (page_mkwrite) and dirties it again
expect A.min_flt == 18
A: write m 4K value=1
expect A.min_flt == 19
expect A.maj_flt == 2
expect vmstat.nr_dirty == 1
expect vmstat.nr_dirtied == 21
A: r3 = syscall fdatasync f
expect vmstat.nr_written == 21
# what was written is the file's
A: munmap m 64K
A: madvise n 64K pageout
drop_caches 1
A: m2 = mmap 64K shared file=f
A: read m2 8K
expect byte(A, m2) == 1
expect byte(A, m2+4K) == 5
`),
    ).toEqual([]);
  });
});

describe("ReclaimWriteback", () => {
  it("counts immediate reclaim unless kswapd meets a PG_reclaim folio on a PGDAT_DIRTY node", () => {
    const flags = new Uint16Array(4);
    const wb = new ReclaimWriteback(() => 0);
    // direct reclaim: activated, PG_reclaim set, counted
    expect(wb.dirtyFolio(flags, 1, false, false)).toBe(DirtyFolio.Activate);
    expect(flags[1] & PageFlag.Reclaim).not.toBe(0);
    expect(wb.immediate).toBe(1);
    // kswapd, PG_reclaim set, but the node not PGDAT_DIRTY: counted again
    expect(wb.dirtyFolio(flags, 1, true, false)).toBe(DirtyFolio.Activate);
    expect(wb.immediate).toBe(2);
    // PGDAT_DIRTY comes from a kswapd pass whose file pages taken were all unqueued dirty
    wb.startNode();
    wb.taken1(3, true);
    wb.taken1(1, false);
    wb.endBatch();
    wb.endNode(true);
    expect(wb.pgdatDirty).toBe(false);
    wb.startNode();
    wb.taken1(2, true);
    wb.endBatch();
    wb.endNode(false); // direct reclaim never sets it
    expect(wb.pgdatDirty).toBe(false);
    wb.startNode();
    wb.taken1(2, true);
    wb.endBatch();
    wb.endNode(true);
    expect(wb.pgdatDirty).toBe(true);
    // now pageout is reached: no writepage -> activated, not counted; RECLAIM_CLEAN keeps it
    expect(wb.dirtyFolio(flags, 1, true, false)).toBe(DirtyFolio.Activate);
    expect(wb.dirtyFolio(flags, 1, true, true)).toBe(DirtyFolio.Keep);
    expect(wb.immediate).toBe(2);
    // a folio without PG_reclaim is still only marked
    expect(wb.dirtyFolio(flags, 2, true, false)).toBe(DirtyFolio.Activate);
    expect(wb.immediate).toBe(3);
    expect(flags[2] & PageFlag.Reclaim).not.toBe(0);
  });

  it("wakes the flusher only when every page a batch took was dirty", () => {
    let runs = 0;
    const wb = new ReclaimWriteback(() => {
      runs++;
      return 5;
    });
    wb.endBatch(); // nothing taken (an anon batch)
    expect(runs).toBe(0);
    wb.taken1(1, true);
    wb.taken1(1, false);
    wb.endBatch();
    expect(runs).toBe(0);
    wb.taken1(4, true);
    wb.endBatch();
    expect(runs).toBe(1);
    expect(wb.flusherRuns).toBe(1);
    expect(wb.flusherPages).toBe(5);
    wb.endBatch(); // the counts start again after each batch
    expect(runs).toBe(1);
  });
});
