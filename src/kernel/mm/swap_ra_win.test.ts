/**
 * swap_vma_readahead's window as Linux 6.12 sizes and places it
 * (mm/swap_state.c __swapin_nr_pages, swap_vma_ra_win, and the hits
 * swap_cache_get_folio counts in the VMA's swap_readahead_info): a VMA's
 * first fault reads 8 pages around it (GET_SWAP_RA_VAL's 4 hits); a fault
 * that follows the last one reads the window after it, one that precedes it
 * the window before; hits grow the window (rounded up to a power of two from
 * 4, at most 2^page_cluster, and 2^5 whatever page_cluster says); with no
 * hits it halves each time down to no readahead, or 2 next to the last fault.
 * Shmem's swap_cluster_readahead sizes its aligned cluster the same way from
 * the global readahead hits (swapin_nr_pages).
 */
import { describe, expect, it } from "vitest";
import { holds, swapped64 } from "../../workloads/scenario/testKit.ts";
import { swapinNrPages } from "./swap_state.ts";

describe("__swapin_nr_pages", () => {
  it("hits + 2 rounded up to a power of two from 4, at most max_pages, never below half the last window", () => {
    // (prev offset, offset, hits, max pages, last window) -> pages
    const cases: [number, number, number, number, number, number][] = [
      [0, 100, 4, 8, 0, 8], // a VMA's first fault: GET_SWAP_RA_VAL's 4 hits
      [0, 100, 4, 32, 0, 8],
      [99, 100, 0, 8, 0, 2], // no hits, next to the last fault
      [101, 100, 0, 8, 0, 2],
      [50, 100, 0, 8, 0, 1], // no hits, elsewhere: no readahead
      [50, 100, 0, 8, 8, 4], // ... but not below half the last window
      [50, 100, 1, 8, 0, 4], // 3 -> 4
      [50, 100, 3, 32, 0, 8], // 5 -> 8
      [50, 100, 7, 32, 0, 16], // 9 -> 16
      [50, 100, 63, 32, 0, 32], // capped
      [50, 100, 7, 8, 16, 8], // half the last window is 8 too
    ];
    for (const [prev, off, hits, max, win, want] of cases)
      expect(swapinNrPages(prev, off, hits, max, win), `${[prev, off, hits, max, win]}`).toBe(want);
  });
});

/** A 64-page buffer at a 2 MiB boundary (one PTE table), written and paged out whole. */
const SETUP = `${swapped64()}expect A.swap == 64
`;

describe("swap_vma_readahead's window", () => {
  it("a sequential read: 5 pages at the start, then 8 after each fault that follows the last (page_cluster=3)", () => {
    // majors at pages 0, 5, 13, ..., 61: [0, 5) clipped by the VMA, then [5, 13) ... [61, 64)
    holds(`${SETUP}
A: read a 256K
expect A.maj_flt == 9
expect vmstat.swap_ra == 55
expect vmstat.swap_ra_hit == 55
expect byte(A, a+252K) == 0x5a
`);
  });

  it("a read backwards: the window ends at the fault when it precedes the last one", () => {
    // majors at 63 ([60, 64)), 59 ([52, 60)), 51, 43, 35, 27, 19, 11, 3 ([0, 4))
    const steps = Array.from({ length: 64 }, (_, i) => `A: read a+${(63 - i) * 4}K`).join("\n");
    holds(`${SETUP}
${steps}
expect A.maj_flt == 9
expect vmstat.swap_ra == 55
`);
  });

  it("scattered faults: the window shrinks by half each time (8, 4, 2, 1) with no hits", () => {
    // 0: [0, 5) (4 read); 16: 4 pages [15, 19) (3); 32: 2 pages [32, 34) (1); 48: none
    holds(`${SETUP}
A: read a
A: read a+64K
A: read a+128K
A: read a+192K
expect A.maj_flt == 4
expect vmstat.swap_ra == 8
expect vmstat.swap_ra_hit == 0
`);
  });

  it("page_cluster=0: no window; page_cluster=9: hits grow it to 2^5 pages, not 2^9", () => {
    holds(`${swapped64("page_cluster=0")}
A: read a 256K
expect A.maj_flt == 64
expect vmstat.swap_ra == 0
`);
    // majors at 0 ([0, 5)), 5 (4 hits: 8), 13 (7 hits: 16), 29 (15 hits: 32), 61 ([61, 64))
    holds(`${swapped64("page_cluster=9")}
A: read a 256K
expect A.maj_flt == 5
expect vmstat.swap_ra == 59
`);
  });

  it("shmem: swap_cluster_readahead's window from the global hits, 8, 4, 2, then none for scattered faults", () => {
    // four faults far apart in a shared mapping's slots: 7 + 3 + 1 + 0 pages read ahead (all 28
    // with a window that never shrinks)
    holds(`
machine ram=256M swap=64M
spawn A
A: a = mmap 1M shared
A: write a 1M value=0x33
A: madvise a 1M pageout
A: read a+40K
A: read a+296K
A: read a+552K
A: read a+808K
expect A.maj_flt == 4
expect vmstat.swap_ra == 11
expect vmstat.swap_ra_hit == 0
`);
  });
});
