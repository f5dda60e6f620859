/**
 * vmstat swap_ra_hit (mm/swap_state.c swap_cache_get_folio): a fault that
 * finds in the swap cache a page readahead read (PG_readahead) counts one
 * hit and clears the flag; the faulting page itself, or a page found again,
 * counts none. Anonymous memory (swap_vma_readahead) and shmem
 * (swap_cluster_readahead), and the page's contents after the hit.
 */
import { describe, expect, it } from "vitest";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";

describe("swap readahead hits", () => {
  it("count each anonymous page read ahead once, when a fault first finds it", () => {
    expect(
      expectationFailures(`
machine ram=256M swap=64M
spawn A
A: a = mmap 64K
A: write a 64K value=0x33
A: madvise a 64K pageout
A: read a+8K
expect vmstat.swap_ra >= 1
expect vmstat.swap_ra_hit == 0
expect A.maj_flt == 1
# every page touched once: each one either faulted it in (major) or found a page readahead read
A: read a 64K
expect vmstat.swap_ra_hit == vmstat.swap_ra
expect A.maj_flt + vmstat.swap_ra_hit == 16
let h = vmstat.swap_ra_hit
A: write a 64K value=1
expect vmstat.swap_ra_hit == h
expect byte(A, a+60K) == 1
`),
    ).toEqual([]);
  });

  it("count shmem pages the cluster readahead read (slot 0, the header, is never read)", () => {
    expect(
      expectationFailures(`
machine ram=256M swap=64M
spawn A
A: s = mmap 64K shared
A: write s 64K value=0x21
A: madvise s 64K pageout
expect vmstat.pswpout == 16
A: read s+8K
expect vmstat.swap_ra == 6
expect vmstat.swap_ra_hit == 0
A: read s+12K
A: read s+16K
expect vmstat.swap_ra_hit == 2
A: read s+12K
expect vmstat.swap_ra_hit == 2
expect byte(A, s+16K) == 0x21
`),
    ).toEqual([]);
  });
});
