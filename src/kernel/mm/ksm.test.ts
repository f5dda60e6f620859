/**
 * Kernel Samepage Merging (mm/ksm.ts; Linux 6.12 mm/ksm.c) as scenarios:
 * MADV_MERGEABLE / MADV_UNMERGEABLE (VM_MERGEABLE, smaps "mg", the VMAs
 * vma_ksm_compatible refuses), ksmd's passes (the checksum pass, the
 * unstable tree, the stable tree, the counters), a write to a KSM page
 * (do_wp_page's copy: cow_ksm), the KSM page freed with its last mapping,
 * use_zero_pages, fork, reclaim through rmap_walk_ksm.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";
import { expectationFailures, scenarioError } from "../../workloads/scenario/testKit.ts";

/** Two processes with 4 pages each of equal bytes (value 7) at the same address. */
const TWO = `spawn A
spawn B
A: a = mmap 16K at=0x40000000
B: b = mmap 16K at=0x40000000
A: write a 16K value=7
B: write b 16K value=7`;

function outputOf(src: string, prefix: string): string[] {
  const r = runScenario(src, { checkInvariants: true });
  const failed = r.expectations.filter((e) => !e.ok);
  if (failed.length > 0)
    throw new Error(failed.map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`).join("\n"));
  return r.statements.filter((s) => s.text.startsWith(prefix)).map((s) => s.output.join("\n"));
}

for (const arch of ["x86_64", "arm64", "riscv-sv39", "i386"]) {
  describe(`KSM on ${arch}`, () => {
    it("merges equal pages of two processes after a checksum pass: one KSM page, read-only PTEs, the duplicates freed", () => {
      expect(
        expectationFailures(`machine arch=${arch} ram=64M thp=never check_tlb=on
${TWO}
A: madvise a 16K mergeable
B: madvise b 16K mergeable
let f = vmstat.pgfree
# the first pass only records each page's checksum (rmap_item->oldchecksum was 0)
ksm run=1
expect ksm.full_scans == 1
expect ksm.pages_shared == 0
expect ksm.pages_volatile == 8
expect vmstat.pgfree - f == 0
# the second: the unstable tree pairs A's first two pages, the rest join the stable node
ksm
expect ksm.full_scans == 2
expect ksm.pages_shared == 1
expect ksm.pages_sharing == 7
expect ksm.pages_unshared == 0
expect ksm.pages_volatile == 0
expect vmstat.pgfree - f == 7
expect pfn(A, a) == pfn(B, b+12K)
expect mapcount(A, a) == 8
expect rss(A, a 16K) == 4
expect dirty(A, a 16K) == 0
# general_profit_show: (pages_sharing + ksm_zero_pages) * PAGE_SIZE - ksm_rmap_items * sizeof(struct ksm_rmap_item)
expect ksm.general_profit == ${7 * 4096 - 8 * (arch === "i386" ? 36 : 64)}
expect byte(B, b+4K) == 7
expect byte(B, b+5) == 0
expect tlb.stale_uses == 0`),
      ).toEqual([]);
    });

    it("a write to a KSM page copies it (never reuses it: cow_ksm), and the KSM page goes with its last mapping", () => {
      expect(
        expectationFailures(`machine arch=${arch} ram=64M thp=never check_tlb=on
${TWO}
A: madvise a 16K mergeable
B: madvise b 16K mergeable
ksm run=1 scans=2
expect ksm.pages_sharing == 7
let k = pfn(A, a)
# a write by A: do_wp_page copies, though the KSM page is mapped 8 times (no reuse ever)
A: write a+4K value=9
expect ksm.cow_ksm == 1
expect pfn(A, a+4K) != k
expect mapcount(A, a) == 7
expect byte(A, a+4K) == 9
expect byte(B, b+4K) == 7
expect rss(A, a 16K) == 4
# the counters follow at ksmd's next visit (the rmap_item leaves the stable node then)
expect ksm.pages_sharing == 7
ksm
expect ksm.pages_sharing == 6
# the last mappings go: the KSM page is freed, its stable node pruned at the next pass
expect meminfo.AnonPages == 8K
A: munmap a 16K
expect meminfo.AnonPages == 4K
expect mapcount(B, b) == 4
B: munmap b 16K
expect meminfo.AnonPages == 0
ksm
expect ksm.pages_shared == 0
expect ksm.pages_sharing == 0
expect tlb.stale_uses == 0`),
      ).toEqual([]);
    });

    it("MADV_UNMERGEABLE breaks the KSM pages of its range (an unsharing copy each) and clears VM_MERGEABLE", () => {
      const out = outputOf(
        `machine arch=${arch} ram=64M thp=never
${TWO}
A: madvise a 16K mergeable
B: madvise b 16K mergeable
show A smaps
ksm run=1 scans=2
show B smaps_rollup
let k = pfn(B, b)
A: r = madvise a 16K unmergeable
expect r == 0
expect pfn(A, a) != k
expect pfn(A, a+4K) != pfn(A, a)
expect mapcount(B, b) == 4
expect byte(A, a+8K) == 7
expect dirty(A, a 16K) == 0
show A smaps
ksm
expect ksm.pages_sharing == 3
show A ksm_stat
show B ksm_stat`,
        "show",
      );
      expect(out[0]).toMatch(/VmFlags:.* mg/);
      expect(out[0]).toMatch(/^KSM: +0 kB$/m);
      // smaps_account: folio_test_ksm, the KSM page counted at each of B's 4 mappings
      expect(out[1]).toMatch(/^KSM: +16 kB$/m);
      expect(out[2]).not.toMatch(/ mg/);
      expect(out[3]).toContain("ksm_merging_pages 0");
      expect(out[4]).toContain("ksm_merging_pages 4");
      expect(out[4]).toMatch(/ksm_rmap_items 4/);
    });

    it("a page whose checksum changed since the last pass stays out of the unstable tree (pages_volatile)", () => {
      expect(
        expectationFailures(`machine arch=${arch} ram=64M thp=never
${TWO}
A: madvise a 4K mergeable
B: madvise b 4K mergeable
ksm run=1
A: write a value=9
ksm
# A's page changed: recorded only; B's went into the unstable tree, alone
expect ksm.pages_volatile == 1
expect ksm.pages_unshared == 1
A: write a value=7
ksm
expect ksm.pages_shared == 0
expect ksm.pages_volatile == 1
# unchanged since: A's page meets B's in this pass's unstable tree
ksm
expect ksm.pages_shared == 1
expect ksm.pages_sharing == 1
expect pfn(A, a) == pfn(B, b)
expect ksm.full_scans == 4`),
      ).toEqual([]);
    });

    // vma_ksm_compatible's refusals: MADV_MERGEABLE succeeds, sets no VM_MERGEABLE, ksmd scans nothing
    // (MAP_DROPPABLE: VM_DROPPABLE, which i386's 32-bit vm_flags cannot hold: mmap's -ENOTSUPP)
    const refused: [string, string, RegExp][] = [["a shared mapping", "shared", /VmFlags:/]];
    if (arch !== "i386") refused.push(["a MAP_DROPPABLE mapping", "droppable", /VmFlags:.* dp/]);
    for (const [what, kind, flags] of refused)
      it(`leaves alone what vma_ksm_compatible refuses: ${what} (no error, no VM_MERGEABLE)`, () => {
        const out = outputOf(
          `machine arch=${arch} ram=64M thp=never
spawn A
A: a = mmap 16K ${kind} at=0x40000000
A: write a 16K value=7
A: r = madvise a 16K mergeable
expect r == 0
show A smaps
ksm run=1 scans=3
expect ksm.pages_shared == 0
expect ksm.pages_scanned == 0
expect mapcount(A, a) == 1`,
          "show",
        );
        expect(out[0]).toMatch(flags);
        expect(out[0]).not.toMatch(/ mg/);
      });

    it("use_zero_pages=1 maps pages of zeros to the zero page (ksm_zero_pages); 0 merges them as any others", () => {
      expect(
        expectationFailures(`machine arch=${arch} ram=64M thp=never
spawn A
A: a = mmap 16K at=0x40000000
A: b = mmap 16K at=0x40100000
A: write a 16K value=0
A: write b 16K value=0
A: madvise a 16K mergeable
ksm run=1 use_zero_pages=1 scans=2
expect ksm.ksm_zero_pages == 4
expect ksm.pages_shared == 0
expect rss(A, a 16K) == 0
expect present(A, a 16K) == 4
A: write a+4K value=5
expect ksm.ksm_zero_pages == 3
expect rss(A, a 16K) == 1
expect byte(A, a+4K) == 5
expect byte(A, a+8K) == 0
# munmap's zap: the KSM zero pages' PTEs go (ksm_might_unmap_zero_page)
A: munmap a 16K
expect ksm.ksm_zero_pages == 0
A: madvise b 16K mergeable
ksm use_zero_pages=0 scans=2
expect ksm.pages_shared == 1
expect ksm.pages_sharing == 3
expect rss(A, b 16K) == 4`),
      ).toEqual([]);
    });

    it("a collapse over KSM zero-page PTEs counts them out of ksm_zero_pages (ksm_might_unmap_zero_page)", () => {
      // mm/khugepaged.c __collapse_huge_page_copy_succeeded: a zero-page PTE cleared,
      // ksm_might_unmap_zero_page(vma->vm_mm, pteval); i386's (non-PAE) PMD maps 4M
      const [h, n] = arch === "i386" ? ["4M", 1024] : ["2M", 512];
      expect(
        expectationFailures(`machine arch=${arch} ram=64M thp=madvise
spawn A
A: a = mmap ${h} at=0x40000000
A: write a 16K value=0
A: write a+16K 4K value=7
A: madvise a ${h} mergeable
ksm run=1 use_zero_pages=1 scans=2
expect ksm.ksm_zero_pages == 4
expect rss(A, a ${h}) == 1
A: madvise a ${h} hugepage
A: r = madvise a ${h} collapse
expect r == 0
expect anon_huge(A, a ${h}) == ${n}
expect rss(A, a ${h}) == ${n}
expect ksm.ksm_zero_pages == 0
expect byte(A, a+16K) == 7
A: munmap a ${h}
expect ksm.ksm_zero_pages == 0`),
      ).toEqual([]);
    });

    it("fork: the child joins KSM, maps the same KSM pages, and ksmd's next pass counts its mappings", () => {
      const out = outputOf(
        `machine arch=${arch} ram=64M thp=never
${TWO}
A: madvise a 16K mergeable
B: madvise b 16K mergeable
ksm run=1 scans=2
A: fork C
expect mapcount(A, a) == 12
expect pfn(C, a+8K) == pfn(B, b)
expect ksm.pages_sharing == 7
ksm
expect ksm.pages_sharing == 11
show C ksm_stat
C: write a value=3
expect byte(A, a) == 7
expect ksm.cow_ksm == 1
A: exit
ksm
expect ksm.pages_sharing == 6
expect mapcount(B, b) == 7`,
        "show",
      );
      expect(out[0]).toContain("ksm_merging_pages 4");
    });

    it("reclaim reaches every mapping of a KSM page (rmap_walk_ksm): swapped out whole, read back shared", () => {
      expect(
        expectationFailures(`machine arch=${arch} ram=64M swap=16M thp=never
${TWO}
A: madvise a 16K mergeable
B: madvise b 16K mergeable
ksm run=1 scans=2
expect ksm.pages_shared == 1
reclaim 64M
expect swapped(A, a 16K) == 4
expect swapped(B, b 16K) == 4
expect vmstat.pswpout == 1
# the one swap slot read back once: every PTE maps the same page again
A: read a 16K
B: read b 16K
expect byte(A, a+4K) == 7
expect byte(B, b+12K) == 7
expect pfn(A, a+4K) == pfn(B, b+12K)
expect mapcount(A, a) == 8`),
      ).toEqual([]);
    });

    it("prctl(PR_SET_MEMORY_MERGE): every compatible VMA mergeable, those made later too, inherited by fork; 0 unmerges", () => {
      expect(
        expectationFailures(`machine arch=${arch} ram=64M thp=never
spawn A
A: a = mmap 16K at=0x40000000
A: s = mmap 16K shared at=0x40200000
A: r = prctl PR_SET_MEMORY_MERGE 1
expect r == 0
A: g = prctl PR_GET_MEMORY_MERGE
expect g == 1
A: e = prctl PR_SET_MEMORY_MERGE 1 1
expect e == -22
A: b = mmap 16K at=0x40100000
A: write a 16K value=7
A: write b 16K value=7
A: write s 16K value=7
ksm run=1 scans=2
expect ksm.pages_shared == 1
expect ksm.pages_sharing == 7
expect mapcount(A, s) == 1
A: fork C
C: g2 = prctl PR_GET_MEMORY_MERGE
expect g2 == 1
A: r2 = prctl PR_SET_MEMORY_MERGE 0
expect r2 == 0
A: g3 = prctl PR_GET_MEMORY_MERGE
expect g3 == 0
expect mapcount(C, a) == 8
expect pfn(A, a) != pfn(C, a)
expect byte(A, b+4K) == 7`),
      ).toEqual([]);
    });
  });
}

describe("the ksm statement", () => {
  it("refuses what the sysfs stores refuse, at the value", () => {
    expect(scenarioError("machine ram=64M\nksm run=3")).toBe(
      "s.vm:2:9: run= must be 0 (stop), 1 (merge) or 2 (unmerge): the sysfs store's -EINVAL",
    );
    expect(scenarioError("machine ram=64M\nksm use_zero_pages=2")).toBe(
      "s.vm:2:20: use_zero_pages= must be 0 or 1 (the sysfs store's -EINVAL)",
    );
    expect(scenarioError("machine ram=64M\nksm 5")).toMatch(/^s\.vm:2:5: too many arguments to .ksm./);
  });

  it("run=2 unmerges every KSM page at once and empties the lists; run=0 stops ksmd", () => {
    expect(
      expectationFailures(`machine ram=64M thp=never
${TWO}
A: madvise a 16K mergeable
B: madvise b 16K mergeable
ksm run=1 scans=2
expect ksm.pages_sharing == 7
ksm run=2 scans=0
expect ksm.pages_shared == 0
expect ksm.pages_sharing == 0
expect mapcount(A, a) == 1
expect pfn(A, a) != pfn(B, b)
expect byte(B, b+8K) == 7
ksm run=0 scans=3
expect ksm.pages_scanned == 16`),
    ).toEqual([]);
  });
});
