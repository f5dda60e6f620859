/**
 * pin_user_pages_fast over huge leaves, Linux 6.12: gup_fast_pmd_range hands a PMD leaf to
 * gup_fast_pmd_leaf (a PMD-mapped THP, a HugeTLB PMD: 6.12 has no separate hugetlb path in
 * gup_fast), which takes the pages from the leaf without FOLL_TOUCH (no touch_pmd: the PMD is not
 * made young), pins the large folio by _pincount (try_grab_folio_fast, one per page), and falls
 * back to the slow path where gup_must_unshare(NULL, ...) refuses a read pin of a folio that is
 * not exclusive. The scenario's note counts the pages gup_fast took.
 * Linux: mm/gup.c gup_fast_pmd_range, gup_fast_pmd_leaf, try_grab_folio_fast, gup_fast_folio_allowed
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../workloads/scenario/session.ts";

/** The run's failed expectations, and the output of its pin_user_pages statements in order. */
function run(src: string): { failed: string[]; pins: string[] } {
  const r = runScenario(src);
  const failed = r.expectations.filter((e) => !e.ok).map((e) => `${e.line}: ${e.text}`);
  const pins = r.statements.map((s) => s.output.join("\n")).filter((o) => o.includes("pages pinned"));
  return { failed, pins };
}

describe("gup_fast_pmd_leaf: a PMD-mapped THP", () => {
  it("pins from the huge PMD without touch_pmd, _pincount on the folio; the slow path's pin makes it young", () => {
    const { failed, pins } = run(`machine ram=64M thp=always
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M value=3
expect anon_huge(A, a 2M) == 512
A: r = madvise a 2M cold
expect young(A, a) == 0
let f = A.min_flt
kernel: p = pin_user_pages A a 2 fast
expect p == 2
expect young(A, a) == 0
expect anon_huge(A, a 2M) == 512
expect vmstat.nr_foll_pin_acquired == 2
expect A.min_flt == f
kernel: q = pin_user_pages A a+8K 1
expect young(A, a) == 1
# _pincount 3: fork's copy_huge_pmd refuses the maybe-pinned folio (folio_try_dup_anon_rmap_pmd)
A: fork B
expect vmstat.thp_split_pmd == 1
kernel: unpin_user_pages p
kernel: unpin_user_pages q
expect vmstat.nr_foll_pin_released == 3
`);
    expect(failed).toEqual([]);
    expect(pins[0]).toContain("2 by gup_fast");
  });

  it("a read pin of a huge PMD shared with a child falls back: gup_must_unshare, then the slow path's unshare", () => {
    const { failed, pins } = run(`machine ram=64M thp=always
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M value=3
A: fork B
let shared = pfn(A, a+20K)
kernel: p = pin_user_pages A a+20K 3 fast
expect p == 3
# gup_fast_pmd_leaf grabbed the 3 pages (record_subpages), gup_must_unshare put them back
# (gup_put_folio); the slow path then pinned them: acquired 3 + 3, released 3
expect vmstat.nr_foll_pin_acquired == 6
expect vmstat.nr_foll_pin_released == 3
expect vmstat.thp_split_pmd == 1
expect pfn(A, a+20K) != shared
expect pfn(B, a+20K) == shared
kernel: unpin_user_pages p
`);
    expect(failed).toEqual([]);
    expect(pins[0]).toContain("0 by gup_fast");
  });
});

describe("gup_fast over a HugeTLB PMD", () => {
  const huge = `machine ram=256M
spawn A
sysctl nr_hugepages=3
A: buf = mmap 4M hugetlb
A: write buf 4M value=0x11
`;
  it("pins the HugeTLB folio from its PMD (_pincount on the head): fork copies it for the child", () => {
    const { failed, pins } = run(`${huge}let f = A.min_flt
kernel: p = pin_user_pages A buf+2M 2 write longterm fast
expect p == 2
expect A.min_flt == f
expect vmstat.nr_foll_pin_acquired == 2
# hugetlb_try_dup_anon_rmap: _pincount 2, the child gets its own copy of the second folio
A: fork B
expect meminfo.HugePages_Free == 0
expect pfn(B, buf+2M) != pfn(A, buf+2M)
expect pfn(B, buf) == pfn(A, buf)
kernel: unpin_user_pages p
`);
    expect(failed).toEqual([]);
    expect(pins[0]).toContain("2 by gup_fast");
  });

  it("a read pin of a HugeTLB folio shared with a child falls back to the slow path's unshare", () => {
    const { failed, pins } = run(`${huge}A: fork B
let shared = pfn(A, buf)
kernel: p = pin_user_pages A buf 1 fast
expect vmstat.nr_foll_pin_acquired == 2
expect vmstat.nr_foll_pin_released == 1
expect pfn(A, buf) != shared
expect pfn(B, buf) == shared
kernel: unpin_user_pages p
`);
    expect(failed).toEqual([]);
    expect(pins[0]).toContain("0 by gup_fast");
  });
});

describe("gup_fast's refusal after try_grab_folio_fast (gup_put_folio)", () => {
  it("a 4K page shared with a child: the read pin counted acquired and released once, then the slow path's", () => {
    // gup_fast_pte_range: try_grab_folio_fast (NR_FOLL_PIN_ACQUIRED), gup_must_unshare(NULL, ...)
    // refuses the page that is not PageAnonExclusive: gup_put_folio (NR_FOLL_PIN_RELEASED)
    const { failed, pins } = run(`machine ram=64M
spawn A
A: a = mmap 8K
A: write a 8K value=3
A: fork B
kernel: p = pin_user_pages A a 2 fast
expect p == 2
expect vmstat.nr_foll_pin_acquired == 3
expect vmstat.nr_foll_pin_released == 1
kernel: unpin_user_pages p
expect vmstat.nr_foll_pin_released == 3
`);
    expect(failed).toEqual([]);
    expect(pins[0]).toContain("0 by gup_fast");
  });
});
