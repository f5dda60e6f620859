/**
 * pgscan counts pages, not folios (Linux 6.12 mm/vmscan.c isolate_lru_folios: nr_scanned +=
 * folio_nr_pages, "Account all pages in a folio"): a large page-cache or shmem folio, which
 * vmlab's LRU lists hold page by page, scanned and reclaimed whole counts all its pages.
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics } from "../../workloads/scenario/testKit.ts";

describe("pgscan of large folios", () => {
  it("a huge tmpfs folio swapped out whole counts its 512 pages in pgscan_anon, as in pgsteal_anon", () => {
    // two PMD-size folios, dirty (written), reclaimed whole to swap (CONFIG_THP_SWAP: thp_swpout)
    const v = checkedMetrics(`machine ram=64M swap=64M
file t size=4M fs=tmpfs huge=always
reclaim 4M
let scan = vmstat.pgscan_anon
let steal = vmstat.pgsteal_anon
let thp = vmstat.thp_swpout
`);
    expect([v("thp"), v("steal"), v("scan")]).toEqual([2, 1024, 1024]);
  });

  it("a disk file's 64K folios dropped whole count 16 pages each in pgscan_file", () => {
    const v = checkedMetrics(`machine ram=64M swap=0
file f size=1M cached folio=64K
reclaim 1M
let scan = vmstat.pgscan_file
let steal = vmstat.pgsteal_file
`);
    expect(v("steal")).toBe(256);
    expect(v("scan")).toBe(256);
  });
});
