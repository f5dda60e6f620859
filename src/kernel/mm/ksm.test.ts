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
import { expectationFailures } from "../../workloads/scenario/testKit.ts";

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
expect ksm.general_profit > 0
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
      expect(out[1]).not.toMatch(/ mg/);
      expect(out[2]).toContain("ksm_merging_pages 0");
      expect(out[3]).toContain("ksm_merging_pages 4");
      expect(out[3]).toMatch(/ksm_rmap_items 4/);
    });
  });
}
