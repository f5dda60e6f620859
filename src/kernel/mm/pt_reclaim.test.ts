/**
 * CONFIG_PT_RECLAIM (Linux 6.14 and later): MADV_DONTNEED frees a PTE table
 * that its zap covered whole and left empty (mm/memory.c zap_pte_range,
 * mm/pt_reclaim.c); a table zapped in parts, or holding a guard marker the
 * zap keeps, stays. pt_pages (VmPTE) follows.
 */

import { describe, expect, it } from "vitest";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";

describe("MADV_DONTNEED frees empty PTE tables", () => {
  it("a table zapped whole goes; one zapped in halves, or with a guard marker, stays", () => {
    expect(
      expectationFailures(`machine ram=64M thp=never
spawn A
A: a = mmap 6M at=0x40000000
A: write a 6M
let p0 = A.pt_pages
A: madvise a 2M dontneed
expect A.pt_pages == p0 - 1
expect table(A, a, pt) == -1
A: madvise a+2M 1M dontneed
A: madvise a+3M 1M dontneed
expect A.pt_pages == p0 - 1
A: madvise a+4M+5p 1p guard_install
A: madvise a+4M 2M dontneed
expect A.pt_pages == p0 - 1
expect guard(A, a+4M 2M) == 1
A: read a+1M
expect A.pt_pages == p0
expect byte(A, a+1M) == 0
`),
    ).toEqual([]);
  });
});
