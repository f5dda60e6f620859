/**
 * An mmu_gather's flush covers what it cleared with the stride of the lowest level it cleared
 * (include/asm-generic/tlb.h tlb_get_unmap_shift / tlb_get_unmap_size, from tlb->cleared_ptes,
 * cleared_pmds, cleared_puds): a change of huge PMDs alone is one invalidation per 2 MiB, not one
 * per 4 KiB page (which for 512 pages is a whole flush on every architecture). And change_huge_pmd's
 * pmdp_invalidate_ad flushes the huge entry at once on arm64 and RISC-V (the generic
 * pmdp_invalidate: flush_pmd_tlb_range), not on x86 (its own, without a flush).
 *
 * The machine: an 8 MiB buffer written whole with thp=always, so four huge PMDs; then mprotect of
 * the second 2 MiB and munmap of the last 4 MiB, counting on CPU 0 the invalidations by address
 * (INVLPG, TLBI by VA, SFENCE.VMA of an address) and full flushes, and arm64's TLBI broadcasts.
 */
import { describe, it } from "vitest";
import { holds } from "../../workloads/scenario/testKit.ts";

/** the scenario with the architecture and an expectation line after each change */
function scenario(arch: string, afterMprotect: string[], afterMunmap: string[]): string {
  return [
    `machine ram=256M thp=always arch=${arch}`,
    "spawn A",
    "A: buf = mmap 8M",
    "A: write buf 8M",
    "expect thp.thp_fault_alloc == 4",
    "let p = tlb.page_invalidations(cpu=0)",
    "let f = tlb.flushes(cpu=0)",
    "let b = tlb.broadcasts",
    "A: mprotect buf+2M 2M prot=r",
    ...afterMprotect,
    "let p2 = tlb.page_invalidations(cpu=0)",
    "let f2 = tlb.flushes(cpu=0)",
    "let b2 = tlb.broadcasts",
    "A: munmap buf+4M 4M",
    ...afterMunmap,
  ].join("\n");
}

describe("an mmu_gather's stride (tlb_get_unmap_shift) and change_huge_pmd's flush", () => {
  for (const arch of ["x86_64", "i386-pae"])
    it(`${arch}: one INVLPG per huge PMD changed, no full flush (flush_tlb_mm_range with stride_shift PMD_SHIFT)`, () => {
      // mprotect: change_huge_pmd (x86's pmdp_invalidate_ad flushes nothing), tlb_flush_pmd_range
      // over 2 MiB: cleared_pmds only, so (end - start) >> PMD_SHIFT = 1 <= 33: one INVLPG.
      // munmap: zap_huge_pmd twice (tlb_remove_pmd_tlb_entry), no page table freed (the PMD
      // table also maps buf's first 4 MiB; a THP's deposited PTE table is freed directly): two.
      holds(
        scenario(
          arch,
          ["expect tlb.page_invalidations(cpu=0) == p + 1", "expect tlb.flushes(cpu=0) == f"],
          ["expect tlb.page_invalidations(cpu=0) == p2 + 2", "expect tlb.flushes(cpu=0) == f2"],
        ),
      );
    });

  it("arm64: change_huge_pmd's pmdp_invalidate flushes at once, then the gather's last-level TLBI with stride PMD_SIZE", () => {
    // mprotect: flush_pmd_tlb_range (__flush_tlb_range(vma, addr, addr + PMD_SIZE, PMD_SIZE,
    // false, 2): one TLBI VAE1IS), then tlb_flush (last_level, stride 2 MiB: one TLBI VALE1IS);
    // without the stride that was 512 pages >= MAX_DVM_OPS: TLBI ASIDE1IS.
    // munmap: pmdp_huge_get_and_clear_full flushes nothing; tlb_flush over 4 MiB with stride
    // 2 MiB: two TLBI VALE1IS. Each TLBI is broadcast (tlb.broadcasts) and counted on CPU 0.
    holds(
      scenario(
        "arm64",
        ["expect tlb.broadcasts == b + 2", "expect tlb.page_invalidations(cpu=0) == p + 2"],
        ["expect tlb.broadcasts == b2 + 2", "expect tlb.page_invalidations(cpu=0) == p2 + 2"],
      ),
    );
  });

  it("RISC-V: the same, one SFENCE.VMA of an address per huge PMD (flush_tlb_mm_range's stride under tlb_flush_all_threshold)", () => {
    // mprotect: pmdp_invalidate's flush_pmd_tlb_range (one fence), then the gather's
    // flush_tlb_mm_range(mm, start, end, PMD_SIZE): 1 <= 64 strides, one fence; munmap: two
    holds(
      scenario(
        "riscv-sv39",
        ["expect tlb.page_invalidations(cpu=0) == p + 2", "expect tlb.flushes(cpu=0) == f"],
        ["expect tlb.page_invalidations(cpu=0) == p2 + 2", "expect tlb.flushes(cpu=0) == f2"],
      ),
    );
  });

  it("a gather that cleared PTEs as well flushes page by page: 4K pages and a huge PMD in one mprotect", () => {
    // buf's first 2 MiB split into PTEs by a 4K mprotect (one page, one INVLPG), then mprotect of
    // the first 4 MiB: 511 PTEs and one huge PMD: cleared_ptes, stride 4K, 1024 pages > 33: a
    // full flush on x86
    holds(
      [
        "machine ram=256M thp=always",
        "spawn A",
        "A: buf = mmap 8M",
        "A: write buf 8M",
        "A: mprotect buf 4K prot=r",
        "expect thp.thp_split_pmd == 1",
        "let f = tlb.flushes(cpu=0)",
        "let p = tlb.page_invalidations(cpu=0)",
        "A: mprotect buf+4K 4M-4K prot=r",
        "expect tlb.flushes(cpu=0) == f + 1",
        "expect tlb.page_invalidations(cpu=0) == p",
      ].join("\n"),
    );
  });

  it("HugeTLB: hugetlb_change_protection flushes the whole range at once with the huge page's stride, whether or not an entry changed", () => {
    // flush_hugetlb_tlb_range(vma, start, end): flush_tlb_range of a VM_HUGETLB VMA, stride
    // huge_page_shift on x86: 4 MiB of 2 MiB pages is two INVLPGs; the first mprotect finds no
    // entry (nothing faulted yet) and flushes the same two; mprotect's own gather owes nothing
    holds(
      [
        "machine ram=256M",
        "sysctl nr_hugepages=4",
        "spawn A",
        "A: h = mmap 4M hugetlb",
        "let p = tlb.page_invalidations(cpu=0)",
        "let f = tlb.flushes(cpu=0)",
        "A: mprotect h 4M prot=r",
        "expect tlb.page_invalidations(cpu=0) == p + 2",
        "A: mprotect h 4M prot=rw",
        "A: write h 4M",
        "A: mprotect h 4M prot=r",
        "expect tlb.page_invalidations(cpu=0) == p + 6",
        "expect tlb.flushes(cpu=0) == f",
      ].join("\n"),
    );
  });
});
