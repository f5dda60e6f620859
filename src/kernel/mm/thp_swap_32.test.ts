/**
 * CONFIG_THP_SWAP is 64-bit only (mm/Kconfig: depends on ... && 64BIT): on i386 and PAE,
 * folio_alloc_swap gives a large folio no entry, so shrink_folio_list's add_to_swap fails, the
 * folio is split (split_folio_to_list, THP_SWPOUT_FALLBACK) and its pages go one by one; on x86-64
 * the THP goes whole (THP_SWPOUT, 512 slots of one cluster).
 */
import { describe, it } from "vitest";
import { holds } from "../../workloads/scenario/testKit.ts";

describe("THP swap-out needs CONFIG_THP_SWAP (64BIT)", () => {
  it("i386 PAE: MADV_PAGEOUT of a THP falls back and splits; x86-64: the THP goes whole", () => {
    holds(`
machine arch=i386-pae ram=128M swap=64M thp=always
spawn A
A: a = mmap 4M
A: write a 4M value=1
expect anon_huge(A, a 4M) == 1024
A: madvise a 2M pageout
expect vmstat.thp_swpout == 0
expect vmstat.thp_swpout_fallback == 1
expect swapped(A, a 2M) == 512
expect anon_huge(A, a+2M 2M) == 512
`);
    holds(`
machine ram=128M swap=64M thp=always
spawn A
A: a = mmap 4M
A: write a 4M value=1
A: madvise a 2M pageout
expect vmstat.thp_swpout == 1
expect vmstat.thp_swpout_fallback == 0
expect swapped(A, a 2M) == 512
`);
  });

  it("i386 (4M PMDs): the fallback splits the 1024-page THP", () => {
    holds(`
machine arch=i386 ram=128M swap=64M thp=always
spawn A
A: a = mmap 8M
A: write a 8M value=1
expect anon_huge(A, a 8M) == 2048
A: madvise a 4M pageout
expect vmstat.thp_swpout == 0
expect vmstat.thp_swpout_fallback == 1
expect swapped(A, a 4M) == 1024
`);
  });
});
