/**
 * MADV_COLD over an anonymous mTHP folio (Linux 6.12 mm/madvise.c
 * madvise_cold_or_pageout_pte_range): madvise_folio_pte_batch counts the PTEs
 * mapping the folio from the first in the range; fewer than its pages and the
 * folio is split (split_folio; remap_page maps the pages again, and the walk
 * goes on with the order-0 page), unless it is mapped elsewhere too
 * (folio_likely_mapped_shared); mapped whole, all its PTEs are made old
 * (clear_young_dirty_ptes over the batch) and the folio deactivated whole.
 */
import { describe, expect, it } from "vitest";
import { checkedMetrics } from "../../workloads/scenario/testKit.ts";

const MTHP = `machine ram=128M thp=never
mthp 64K always
spawn A
A: a = mmap 64K at=0x40000000
A: write a 64K value=1
`;

describe("MADV_COLD over an anonymous mTHP folio", () => {
  it("in part: split, the pages stay mapped, only the range's deactivated; whole: every PTE made old", () => {
    const v = checkedMetrics(`${MTHP}let n0 = thp.hugepages_64kB_nr_anon
A: madvise a+4K 4K cold
let n1 = thp.hugepages_64kB_nr_anon
let split = thp.hugepages_64kB_split
let p = present(A, a 64K)
let y = young(A, a 64K)
A: b = mmap 64K at=0x40100000
A: write b 64K value=2
A: madvise b 64K cold
let yb = young(A, b 64K)
let nb = thp.hugepages_64kB_nr_anon
`);
    expect([v("n0"), v("n1"), v("split"), v("p")]).toEqual([1, 0, 1, 16]);
    expect(v("y")).toBe(15); // the range's one page made old
    expect([v("yb"), v("nb")]).toEqual([0, 1]);
  });

  it("a folio a forked child maps too is left whole", () => {
    const v = checkedMetrics(`${MTHP}A: fork B
A: madvise a+4K 4K cold
let split = thp.hugepages_64kB_split
let n = thp.hugepages_64kB_nr_anon
`);
    expect([v("split"), v("n")]).toEqual([0, 1]);
  });
});
