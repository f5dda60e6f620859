/**
 * fork of an mm with pinned pages (MMF_HAS_PINNED), Linux 6.12: copy_present_pte's
 * folio_try_dup_anon_rmap_pte refuses a maybe-pinned exclusive page and copy_present_page gives
 * the child its own copy (fork's note says so: those pages are not shared copy-on-write);
 * copy_hugetlb_page_range's hugetlb_try_dup_anon_rmap refuses a pinned HugeTLB folio and the
 * child gets a copy of the whole huge page (mm/hugetlb_fork.ts), or the fork fails without one.
 * Linux: mm/memory.c copy_present_pte, copy_present_page; mm/hugetlb.c copy_hugetlb_page_range
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../workloads/scenario/session.ts";
import { holds } from "../workloads/scenario/testKit.ts";

describe("fork of a pinned 4K page", () => {
  it("the note counts the copied page apart from the pages shared copy-on-write", () => {
    const r = runScenario(`machine ram=64M
spawn A
A: a = mmap 12K
A: write a 12K value=3
kernel: p = pin_user_pages A a+4K 1 write
A: fork B
expect pfn(B, a+4K) != pfn(A, a+4K)
expect pfn(B, a) == pfn(A, a)
`);
    expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
    // copy_present_page for the pinned page; the other two pages shared, write-protected
    expect(r.statements[5].output.join("\n")).toMatch(
      /child B pid \d+: \d+ VMAs, 2 pages shared copy-on-write, 1 copied \(maybe DMA-pinned\), \d+ page-table pages/,
    );
  });
});

describe("fork of a pinned HugeTLB page (copy_hugetlb_page_range)", () => {
  const pinned = (pool: number) => `machine ram=256M
spawn A
sysctl nr_hugepages=${pool}
A: buf = mmap 4M hugetlb
A: write buf 4M value=0x11
kernel: p = pin_user_pages A buf+2M 1 write
expect meminfo.HugePages_Free == ${pool - 2}
`;

  it("the pinned folio is copied for the child; the parent keeps it writable and exclusive", () => {
    // hugetlb_try_dup_anon_rmap: the second folio is exclusive and _pincount 1: -EBUSY; the child's
    // copy comes from the pool without a reservation (the child's VMA owns none): one folio less free.
    // The first folio is shared as before, both entries write-protected
    holds(`${pinned(3)}A: fork B
expect meminfo.HugePages_Free == 0
expect pfn(B, buf+2M) != pfn(A, buf+2M)
expect pfn(B, buf) == pfn(A, buf)
expect byte(B, buf+2M) == 0x11
expect hugetlb(B, buf 4M) == 1024
# the parent writes its pinned page without a fault (its entry still writable); the child's copy
# is its own (hugetlb_install_folio: writable, dirty) and does not see it
let f = A.min_flt
A: write buf+2M 4K value=0x22
expect A.min_flt == f
expect byte(B, buf+2M) == 0x11
let g = B.min_flt
B: write buf+2M 4K value=0x33
expect B.min_flt == g
expect byte(A, buf+2M) == 0x22
# the shared folio: a write faults (hugetlb_wp)
A: write buf 4K value=0x44
expect A.min_flt == f + 1
kernel: unpin_user_pages p
`);
  });

  it("no folio for the child's copy: the fork fails", () => {
    const err = (() => {
      try {
        runScenario(`${pinned(2)}A: fork B\n`);
        return "";
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(err).toMatch(/fork: out of memory/);
  });
});
