/**
 * A read (FOLL_PIN without FOLL_WRITE) pin of a HugeTLB page, Linux 6.12: follow_huge_pmd's
 * gup_must_unshare (an anonymous folio not PageAnonExclusive; a FOLL_LONGTERM pin of a
 * page-cache folio in a COW mapping) returns -EMLINK, faultin_page's FAULT_FLAG_UNSHARE fault goes
 * to hugetlb_fault -> hugetlb_wp(unshare): a folio mapped once is only marked exclusive, one
 * shared with a fork's child is copied into a new folio mapped read-only and clean
 * (make_huge_pte(vma, page, !unshare)). The pin then holds the page the process keeps.
 * Linux: mm/gup.c follow_huge_pmd, faultin_page; mm/internal.h gup_must_unshare; mm/hugetlb.c
 * hugetlb_fault, hugetlb_wp
 */
import { describe, expect, it } from "vitest";
import { feedSession, holds } from "../workloads/scenario/testKit.ts";

const forked = `machine ram=256M
spawn A
sysctl nr_hugepages=3
A: buf = mmap 2M hugetlb
A: write buf 2M value=0x11
A: fork B
let shared = pfn(A, buf)
let f = A.min_flt
`;

describe("a read pin of a HugeTLB page shared with a child (hugetlb_wp with FAULT_FLAG_UNSHARE)", () => {
  it("the caller gets its own read-only copy, pinned; its later write reuses it (no copy), the pin sees it", () => {
    const s = feedSession(`${forked}kernel: p = pin_user_pages A buf 1
expect p == 1
# gup_must_unshare: PageAnon, not exclusive (fork shared it): -EMLINK, one unshare fault counted
# against A; hugetlb_wp: mapcount 2, so a copy from the pool (A owns the reservation: outside it)
expect pfn(A, buf) != shared
expect pfn(B, buf) == shared
expect A.min_flt == f + 1
expect meminfo.HugePages_Free == 1
expect byte(A, buf) == 0x11
let mine = pfn(A, buf)
# the copy's entry is read-only: A's write faults, and hugetlb_wp reuses the exclusive folio
A: write buf 4K value=0x22
expect A.min_flt == f + 2
expect pfn(A, buf) == mine
expect meminfo.HugePages_Free == 1
expect byte(B, buf) == 0x11
`);
    // the pin holds A's own folio (try_grab_folio after the unshare), not the one B keeps
    const mine = Number(s.variables.get("mine"));
    const r = s.finish();
    expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
    expect(r.statements.find((x) => x.output.join().includes("pages pinned"))?.output.join("\n")).toContain(
      `pfn 0x${mine.toString(16)}`,
    );
  });

  it("a folio the caller alone maps is only marked exclusive: no copy, the entry stays read-only", () => {
    // B exits: A's folio mapped once but not PageAnonExclusive (fork cleared it); the unshare
    // marks it (folio_move_anon_rmap, SetPageAnonExclusive), no copy; a second read pin takes it
    // without a fault; the entry is still read-only, so A's write faults once (reuse)
    holds(`${forked}B: exit
kernel: p = pin_user_pages A buf 1
expect pfn(A, buf) == shared
expect A.min_flt == f + 1
expect meminfo.HugePages_Free == 2
kernel: q = pin_user_pages A buf 1
expect A.min_flt == f + 1
A: write buf 4K value=0x22
expect A.min_flt == f + 2
expect pfn(A, buf) == shared
kernel: unpin_user_pages p
kernel: unpin_user_pages q
`);
  });

  it("a FOLL_LONGTERM read pin of a private mapping's page-cache folio breaks COW early", () => {
    // a hugetlbfs file F mapped private and only read: the entry maps F's page-cache folio (not
    // PageAnon). A short-term read pin takes it as it is; gup_must_unshare for FOLL_LONGTERM in a
    // COW mapping: hugetlb_wp copies it into an anonymous folio mapped read-only (the private
    // VMA's reservation), which the pin holds; F's folio is untouched
    holds(`machine ram=256M
spawn A
sysctl nr_hugepages=3
A: memfd F hugetlb
A: r = ftruncate F 2M
A: s = mmap 2M shared file=F
A: write s 2M value=0x33
A: m = mmap 2M private file=F
A: read m 4K
let pc = pfn(A, s)
expect pfn(A, m) == pc
kernel: t = pin_user_pages A m 1
expect pfn(A, m) == pc
kernel: unpin_user_pages t
let f = A.min_flt
kernel: l = pin_user_pages A m 1 longterm
expect l == 1
expect A.min_flt == f + 1
expect pfn(A, m) != pc
expect pfn(A, s) == pc
expect byte(A, m) == 0x33
expect meminfo.HugePages_Free == 1
A: write m 4K value=0x44
expect A.min_flt == f + 2
expect byte(A, s) == 0x33
kernel: unpin_user_pages l
`);
  });
});
