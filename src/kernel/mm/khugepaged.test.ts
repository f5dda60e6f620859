/**
 * khugepaged and MADV_COLLAPSE (mm/khugepaged.ts; Linux mm/khugepaged.c):
 * each path through hpage_collapse_scan_pmd and collapse_huge_page, on
 * x86-64 and on arm64 (its PMD block), as scenarios: the bytes after a
 * collapse, one PMD and no PTE table reachable (the old one deposited:
 * VmPTE unchanged), the old frames freed, the stale-TLB checker quiet with
 * the process on another CPU; the SCAN_* reasons and thp_scan_exceed_*
 * counters of too many empty, swapped or shared PTEs; MADV_COLLAPSE without
 * the thresholds; a collapse after fork with pages shared; an mlocked range;
 * the mm slots (thp=never registers nothing; exit drops the slot).
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";
import { expectationFailures, scenarioError } from "../../workloads/scenario/testKit.ts";

/** The output of the statements whose text starts with `prefix`, joined. */
function outputOf(src: string, prefix: string): string[] {
  const r = runScenario(src, { checkInvariants: true });
  const failed = r.expectations.filter((e) => !e.ok);
  if (failed.length > 0)
    throw new Error(failed.map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`).join("\n"));
  return r.statements.filter((s) => s.text.startsWith(prefix)).map((s) => s.output.join(" "));
}

/** A 2 MiB region at 1 GiB written page by page as 4K pages (MADV_NOHUGEPAGE while it is), then MADV_HUGEPAGE. */
const REGION = `A: a = mmap 2M at=0x40000000
A: madvise a 2M nohugepage
A: write a 2M value=3
A: write a+4K value=77`;

for (const arch of ["x86_64", "arm64"]) {
  describe(`khugepaged on ${arch}`, () => {
    it("collapses a populated range: the same bytes, one PMD, the old table deposited, the old frames freed, the TLBs flushed", () => {
      expect(
        expectationFailures(`machine arch=${arch} ram=64M swap=16M thp=madvise check_tlb=on cpus=2
spawn A
switch A cpu=1
${REGION}
A: read a 2M
A: madvise a 2M hugepage
let f = vmstat.pgfree
let pte = A.pt_pages
let pt0 = meminfo.PageTables
khugepaged
expect anon_huge(A, a 2M) == 512
expect thp.pages_collapsed == 1
expect vmstat.thp_collapse_alloc == 1
expect table(A, a, pte) == -1
expect A.pt_pages == pte
expect meminfo.PageTables == pt0
expect vmstat.pgfree - f == 512
expect rss(A, a 2M) == 512
# CPU 1 held the 4K translations: the collapse flushed them
A: read a 2M
expect byte(A, a+4K) == 77
expect byte(A, a+1M) == 3
expect tlb.stale_uses == 0
# a split takes the deposited table back
A: munmap a+4K 4K
expect table(A, a, pte) != -1
expect A.pt_pages == pte
`),
      ).toEqual([]);
    });

    it("swaps in up to max_ptes_swap entries, and stops past them (SCAN_EXCEED_SWAP_PTE)", () => {
      const out = outputOf(
        `machine arch=${arch} ram=64M swap=16M thp=madvise check_tlb=on
spawn A
${REGION}
A: b = mmap 2M at=0x40400000
A: madvise b 2M nohugepage
A: write b 2M value=5
# 40 pages to swap in a, 100 in b (max_ptes_swap is 64)
A: madvise a+8K 160K pageout
A: madvise b 400K pageout
A: madvise a 2M hugepage
A: madvise b 2M hugepage
let sw = vmstat.pswpin
khugepaged
expect anon_huge(A, a 2M) == 512
expect vmstat.pswpin - sw == 40
expect anon_huge(A, b 2M) == 0
expect vmstat.thp_scan_exceed_swap_pte == 1
expect byte(A, a+12K) == 3
expect byte(A, a+4K) == 77
expect meminfo.SwapFree == meminfo.SwapTotal - 400K
expect thp.max_ptes_swap == 64
# MADV_COLLAPSE takes every swap entry
A: r = madvise b 2M collapse
expect r == 0
expect anon_huge(A, b 2M) == 512
expect byte(A, b) == 5
expect meminfo.SwapFree == meminfo.SwapTotal
expect tlb.stale_uses == 0
`,
        "khugepaged",
      );
      expect(out[0]).toContain("SCAN_EXCEED_SWAP_PTE");
    });

    it("stops at max_ptes_none empty PTEs (SCAN_EXCEED_NONE_PTE); MADV_COLLAPSE does not apply it", () => {
      const out = outputOf(
        `machine arch=${arch} ram=64M thp=madvise thp_max_ptes_none=0 check_tlb=on
spawn A
A: a = mmap 2M at=0x40000000
A: madvise a 2M hugepage
A: madvise a 2M nohugepage
A: write a 4K value=9
A: madvise a 2M hugepage
khugepaged
expect anon_huge(A, a 2M) == 0
expect vmstat.thp_scan_exceed_none_pte == 1
expect thp.pages_collapsed == 0
A: r = madvise a 2M collapse
expect r == 0
expect anon_huge(A, a 2M) == 512
expect rss(A, a 2M) == 512
expect byte(A, a) == 9
expect byte(A, a+4K) == 0
expect vmstat.thp_collapse_alloc == 1
expect tlb.stale_uses == 0
`,
        "khugepaged",
      );
      expect(out[0]).toContain("SCAN_EXCEED_NONE_PTE");
    });

    it("after fork: stops past max_ptes_shared shared pages, collapses under it; the child keeps its pages", () => {
      const out = outputOf(
        `machine arch=${arch} ram=64M thp=madvise check_tlb=on
spawn A
${REGION}
A: madvise a 2M hugepage
A: fork C
# the parent copies 100 pages: 412 still shared (max_ptes_shared is 256)
A: write a+1M 400K value=8
# the child was registered by the fork (khugepaged_fork): its 512 pages all shared
khugepaged
expect anon_huge(A, a 2M) == 0
expect anon_huge(C, a 2M) == 0
expect vmstat.thp_scan_exceed_share_pte == 2
# 300 copied: 212 shared; the parent's collapse leaves the child's pages its own; the child's
# PTEs are old (copy_present_pte: pte_mkold) until it touches one
A: write a 800K value=8
khugepaged
expect anon_huge(A, a 2M) == 512
expect anon_huge(C, a 2M) == 0
C: read a+8K
khugepaged
# no writable PTE needed (Linux 6.18)
expect anon_huge(C, a 2M) == 512
expect byte(A, a+4K) == 8
expect byte(A, a+1800K) == 3
expect byte(C, a+4K) == 77
expect byte(C, a+1M) == 3
let f = vmstat.pgfree
C: exit
expect vmstat.pgfree - f >= 512
expect tlb.stale_uses == 0
`,
        "khugepaged",
      );
      expect(out[0]).toContain("SCAN_EXCEED_SHARED_PTE");
      expect(out[1]).toContain("SCAN_LACK_REFERENCED_PAGE");
      expect(out[2]).toContain("SCAN_SUCCEED");
    });

    it("needs a young PTE or a referenced page (SCAN_LACK_REFERENCED_PAGE); MADV_COLLAPSE does not", () => {
      const out = outputOf(
        `machine arch=${arch} ram=64M thp=madvise
spawn A
${REGION}
A: madvise a 2M cold
A: madvise a 2M hugepage
khugepaged
expect anon_huge(A, a 2M) == 0
A: r = madvise a 2M collapse
expect r == 0
expect anon_huge(A, a 2M) == 512
`,
        "khugepaged",
      );
      expect(out[0]).toContain("SCAN_LACK_REFERENCED_PAGE");
    });

    it("collapses an mlocked range: the huge page is mlocked in its place", () => {
      expect(
        expectationFailures(`machine arch=${arch} ram=64M thp=madvise check_tlb=on
spawn A
${REGION}
A: mlock a 2M
expect vmstat.nr_mlock == 512
A: madvise a 2M hugepage
khugepaged
expect anon_huge(A, a 2M) == 512
expect vmstat.nr_mlock == 512
expect vmstat.nr_unevictable == 512
expect byte(A, a+4K) == 77
`),
      ).toEqual([]);
    });
  });
}

describe("khugepaged's mm slots and MADV_COLLAPSE's errors", () => {
  it("thp=never registers nothing, MADV_COLLAPSE works all the same; exit drops the slot", () => {
    expect(
      expectationFailures(`machine ram=64M thp=never
spawn A
${REGION}
A: madvise a 2M hugepage
khugepaged
expect anon_huge(A, a 2M) == 0
expect thp.full_scans == 0
A: r = madvise a 2M collapse
expect r == 0
expect anon_huge(A, a 2M) == 512
`),
    ).toEqual([]);
    expect(
      expectationFailures(`machine ram=64M thp=always
spawn A
spawn B
A: a = mmap 2M at=0x40000000
B: b = mmap 2M at=0x40000000
A: exit
khugepaged
# B alone is scanned: one full scan per wake-up
expect thp.full_scans == 1
khugepaged scans=2
expect thp.full_scans == 3
`),
    ).toEqual([]);
  });

  it("the sysfs knobs: pages_to_scan sets the PMDs a wake-up scans, max_ptes_shared=0 refuses any shared page", () => {
    expect(
      expectationFailures(`machine ram=64M thp=madvise
spawn A
A: a = mmap 4M at=0x40000000
A: madvise a 4M nohugepage
A: write a 4M
A: madvise a 4M hugepage
A: fork C
khugepaged scans=0 pages_to_scan=512 max_ptes_shared=0
expect thp.pages_to_scan == 512
expect thp.max_ptes_shared == 0
# one shared page is one too many
khugepaged
expect vmstat.thp_scan_exceed_share_pte == 1
expect anon_huge(A, a 4M) == 0
A: write a 4M
# one PMD of progress a wake-up, from the cursor: A's second 2 MiB, then C's (LACK_REFERENCED:
# its PTEs are old), then A's first on the next pass through the list
khugepaged
expect anon_huge(A, a+2M 2M) == 512
expect anon_huge(A, a 2M) == 0
khugepaged scans=3
expect anon_huge(A, a 4M) == 1024
# C's pages were shared until A's collapses; C's PTEs are old: touched now
C: read a 4M
khugepaged scans=4
expect anon_huge(C, a 4M) == 1024
`),
    ).toEqual([]);
    expect(scenarioError("machine ram=64M\nkhugepaged pages_to_scan=0\n")).toContain(
      "pages_to_scan= must be a positive number",
    );
    expect(scenarioError("machine ram=64M\nkhugepaged max_ptes_swap=512\n")).toContain(
      "max_ptes_swap= must be 0 .. HPAGE_PMD_NR - 1",
    );
  });

  it("registers on a merge: a new brk VMA is not offered to khugepaged, a heap grown by a merge is", () => {
    expect(
      expectationFailures(`machine ram=64M thp=always
spawn A
A: h = brk +4K
khugepaged
expect thp.full_scans == 0
A: h2 = brk +4M
khugepaged
expect thp.full_scans == 1
`),
    ).toEqual([]);
  });

  it("MADV_COLLAPSE: -EINVAL on MADV_NOHUGEPAGE, untouched memory and a part of a PMD off its boundary; 0 for one on it", () => {
    expect(
      expectationFailures(
        `machine ram=64M thp=madvise
spawn A
A: a = mmap 4M at=0x40000000
A: write a 2M
A: r = madvise a+2M 2M collapse
expect r == -22
A: r = madvise a+4K 8K collapse
expect r == -22
A: r = madvise a 8K collapse
expect r == 0
expect anon_huge(A, a 4M) == 0
A: madvise a 2M nohugepage
A: r = madvise a 2M collapse
expect r == -22
A: f = mmap 2M file=data at=0x50000000
A: r = madvise f 2M collapse
expect r == -22
`.replace("A: f = mmap", "file data size=2M\nA: f = mmap"),
      ),
    ).toEqual([]);
  });

  it("collapses a PTE-mapped THP into a new one, the old folio freed whole; MADV_COLLAPSE of a huge PMD is 0", () => {
    expect(
      expectationFailures(`machine ram=64M thp=always check_tlb=on
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M value=4
# mprotect of one page splits the PMD, not the folio
A: mprotect a 4K prot=r
A: mprotect a 4K prot=rw
expect anon_huge(A, a 2M) == 0
expect thp.nr_anon == 1
let f = vmstat.pgfree
khugepaged
expect anon_huge(A, a 2M) == 512
expect thp.nr_anon == 1
expect vmstat.pgfree - f == 512
expect byte(A, a+8K) == 4
A: r = madvise a 2M collapse
expect r == 0
expect vmstat.thp_collapse_alloc == 1
expect tlb.stale_uses == 0
`),
    ).toEqual([]);
  });

  it("MADV_COLLAPSE without a free 2 MiB block: -ENOMEM, thp_collapse_alloc_failed", () => {
    expect(
      expectationFailures(`machine ram=32M thp=madvise
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M
${Array.from({ length: 16 }, (_, i) => `kernel: p${i} = alloc_pages order=9 gfp=nowait`).join("\n")}
A: r = madvise a 2M collapse
expect r == -12
expect vmstat.thp_collapse_alloc_failed == 1
expect anon_huge(A, a 2M) == 0
`),
    ).toEqual([]);
  });

  it("hugepages-2048kB/enabled never stops khugepaged under thp=always (MADV_COLLAPSE ignores it); a HugeTLB mapping is never collapsed (VM_NO_KHUGEPAGED: -EINVAL)", () => {
    expect(
      expectationFailures(`machine ram=64M thp=always
sysctl nr_hugepages=2
mthp 2M never
spawn A
${REGION}
A: madvise a 2M hugepage
khugepaged
expect anon_huge(A, a 2M) == 0
expect thp.pages_collapsed == 0
A: r = madvise a 2M collapse
expect r == 0
expect anon_huge(A, a 2M) == 512
expect byte(A, a+4K) == 77
A: h = mmap 2M hugetlb
A: write h 2M value=9
A: r2 = madvise h 2M collapse
expect r2 == -22
expect byte(A, h+4K) == 9
expect hugetlb(A, h 2M) == 512
`),
    ).toEqual([]);
  });
});
