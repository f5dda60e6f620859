/**
 * The memory cgroup's memory.stat and memory.current against Linux 6.12 (mm/memcontrol.c
 * memory_stat_format, each figure derived by hand): `anon` is the memcg's NR_ANON_MAPPED, as
 * meminfo's AnonPages is the node's, so a page only the swap cache holds is in `swapcached` and
 * not in `anon`.
 */
import { describe, expect, it } from "vitest";
import { runHolds } from "./testKit.ts";

describe("memory.stat (6.12 memory_stat_format)", () => {
  it("anon is NR_ANON_MAPPED: swap readahead's unmapped neighbours are swapcached, not anon", () => {
    // 64 pages paged out whole; the read of page 0 faults it in with swap_vma_readahead's window
    // (the fault's page and 4 after it: 5 pages in the swap cache), of which 1 is mapped
    runHolds([
      "machine ram=256M swap=64M memory_max=64M",
      "spawn A",
      "A: a = mmap 256K at=0x40000000",
      "A: write a 256K value=0x5a",
      "A: madvise a 256K pageout",
      "expect meminfo.AnonPages == 0",
      "A: read a 4K",
      "expect meminfo.SwapCached == 20K",
      "expect meminfo.AnonPages == 4K",
      "expect memory.stat.anon == 4K",
      "expect memory.stat.swapcached == 20K",
      "expect vmstat.nr_anon_pages == 1",
      // the neighbours mapped by their own faults (swap_cache_get_folio finds them): anon grows
      "A: read a + 4K 8K",
      "expect meminfo.AnonPages == 12K",
      "expect memory.stat.anon == 12K",
    ]);
  });
});
