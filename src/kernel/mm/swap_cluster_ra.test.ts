/**
 * Shmem swap-in readahead reads the aligned block of 2^page_cluster swap
 * slots around the faulting one whoever owns them: anonymous pages of any
 * process, other shmem objects (swap_cluster_readahead knows slots, not
 * owners). Anonymous swap-in reads by the VMA's PTEs (swap_vma_readahead).
 * Linux: mm/shmem.c shmem_swapin_cluster, mm/swap_state.c swap_cluster_readahead, swapin_readahead
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics } from "../../workloads/scenario/testKit.ts";

const run = checkedMetrics;

/**
 * B's 4 anonymous pages paged out to slots 1..4, then A's 4 shmem pages to
 * 5..8 (slot 0 is the header), on a machine with `swap` of swap.
 */
const twoOwners = (swap: string) => `machine ram=32M swap=${swap}
spawn A
spawn B
B: a = mmap 4p
B: write a 4p value=3
A: s = mmap 4p shared
A: write s 4p value=5
B: madvise a 4p pageout
A: madvise s 4p pageout
`;

describe("swap_cluster_readahead for shmem", () => {
  it("a shmem swap-in reads another process's anonymous slots of its block: that process's faults are minor", () => {
    // A's fault on s (slot 5) reads the block 1..7
    const v = run(`${twoOwners("16M")}let in0 = vmstat.pswpin
let ra0 = vmstat.swap_ra
A: read s 1p
let ra = vmstat.swap_ra - ra0
let cached = meminfo.SwapCached
let mb = B.maj_flt
B: read a 4p
let b_majors = B.maj_flt - mb
expect byte(B, a+2p) == 3
let ma = A.maj_flt
A: read s 4p
let a_majors = A.maj_flt - ma
expect byte(A, s+3p) == 5
let swapins = vmstat.pswpin - in0
let cached_end = meminfo.SwapCached
A: munmap s 4p
let swap_end = meminfo.SwapTotal - meminfo.SwapFree
`);
    // slots 1..4 (B's) and 6, 7 (A's) read ahead; slot 8 is in the next block
    expect([v("ra"), v("cached") / 4096]).toEqual([6, 6]);
    expect([v("b_majors"), v("a_majors")]).toEqual([0, 1]);
    expect(v("swapins")).toBe(8);
    // A's pages left the swap cache for their object; B's stay there, mapped, holding their
    // slots (a read swap-in keeps the swap cache while swap is not half full), as after a major
    // fault of B's own
    expect([v("cached_end") / 4096, v("swap_end") / 4096]).toEqual([4, 4]);
  });

  it("a read-ahead anonymous page nobody mapped is freed by reclaim, its slot kept: the owner's fault is major", () => {
    const v = run(`${twoOwners("64M")}A: read s 1p
let cached1 = meminfo.SwapCached
A: b = mmap 28M
A: write b 28M
A: munmap b 28M
let cached2 = meminfo.SwapCached
let mb = B.maj_flt
B: read a 1p
let b_majors = B.maj_flt - mb
expect byte(B, a) == 3
`);
    expect(v("cached1") / 4096).toBe(6);
    expect(v("cached2")).toBe(0);
    expect(v("b_majors")).toBe(1);
  });

  it("anonymous swap-in reads by the VMA (swap_vma_readahead): another process's slots in the block are not read", () => {
    const v = run(`machine ram=32M swap=16M
spawn A
spawn B
B: a = mmap 4p
B: write a 4p value=3
A: c = mmap 4p
A: write c 4p value=6
B: madvise a 4p pageout
A: madvise c 4p pageout
let ra0 = vmstat.swap_ra
A: read c 1p
let ra = vmstat.swap_ra - ra0
let mb = B.maj_flt
B: read a 1p
let b_majors = B.maj_flt - mb
`);
    // A's fault reads its own 3 other PTEs' slots (6..8), none of B's (1..4)
    expect([v("ra"), v("b_majors")]).toEqual([3, 1]);
  });
});
