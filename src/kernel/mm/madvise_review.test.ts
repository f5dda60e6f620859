/**
 * A review of madvise(2) against Linux 6.12 (mm/madvise.c do_madvise, madvise_behavior_valid,
 * madvise_walk_vmas, madvise_vma_behavior, madvise_update_vma, madvise_dontneed_free_valid_vma,
 * madvise_dontneed_free, madvise_free_single_vma, madvise_cold, madvise_pageout, can_madv_lru_vma,
 * madvise_populate; mm/vma.c vma_modify; mm/hugetlb.c hugetlb_vm_op_split): scenarios the other
 * madvise tests (madvise_errno, madvise_free, madvise_willneed, userMm) leave out, each expected
 * figure derived by hand from the Linux source in the comment above it.
 *
 * The walk (madvise_walk_vmas) visits the VMAs of [start, end) in address order; the first visit
 * that returns an error ends it with that error, the VMAs before it advised; a hole is remembered
 * and returned (-ENOMEM) only if every visit succeeded. Each check below is one VMA's visit, so
 * where it sits decides what the VMAs before it got.
 *
 * Differences this review found and fixed (madvise.ts):
 * - MADV_DONTNEED_LOCKED (24, Linux 5.18+, in madvise_behavior_valid) was -EINVAL as an unknown
 *   advice; it is MADV_DONTNEED that VM_LOCKED does not refuse (madvise_dontneed_free_valid_vma:
 *   `forbidden = VM_PFNMAP`, `if (behavior != MADV_DONTNEED_LOCKED) forbidden |= VM_LOCKED`).
 * - HugeTLB VMAs were refused for MADV_COLD, MADV_PAGEOUT and MADV_FREE before anything was done;
 *   Linux refuses them in the walk (can_madv_lru_vma, madvise_dontneed_free_valid_vma), after the
 *   VMAs below them were advised.
 * - The VMA flag advices split a HugeTLB VMA at any 4K boundary (leaving VMAs that do not cover
 *   whole huge pages); Linux's split_vma asks hugetlb_vm_op_split, which refuses an address off a
 *   huge page boundary with -EINVAL, and madvise_update_vma splits nothing when the flags would
 *   not change (`if (new_flags == vma->vm_flags && ...) return 0`).
 *
 * - MADV_WILLNEED on HugeTLB drained the LRU add batch as for anonymous memory; its vm_file is a
 *   hugetlbfs file, whose noop_backing_dev_info makes generic_fadvise ignore the advice.
 * - MADV_FREE and MADV_PAGEOUT split the PMD of a THP a forked child maps too, and of the huge
 *   zero page, when the range covered it in part (MADV_PAGEOUT with swap: in whole too); Linux
 *   leaves both PMD-mapped (folio_likely_mapped_shared, is_huge_zero_pmd).
 * - MADV_FREE did not split an mTHP folio the range maps in part (it marked its pages one by one).
 *
 * Left as they are (docs/processes.md "Not yet"): MADV_HWPOISON and MADV_SOFT_OFFLINE -EINVAL
 * (no CONFIG_MEMORY_FAILURE); MADV_MERGEABLE / MADV_UNMERGEABLE are KSM's now (ksm.test.ts);
 * MADV_GUARD_INSTALL / MADV_GUARD_REMOVE are Linux 6.13's (6.12's madvise_behavior_valid refuses
 * them: -EINVAL). (VM_DROPPABLE's MADV_KEEPONFORK and MADV_DODUMP -EINVAL: droppable.test.ts.)
 * (Four found here are now as Linux's: mseal's
 * -EPERM and vm.max_map_count's -EAGAIN, mremap_features.test.ts; MADV_PAGEOUT of anonymous
 * pages with no swap slot, pageout_noswap.test.ts; an mTHP folio MADV_FREE covers whole moved
 * through the lru_lazyfree batch at once, madvise_free.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { holds } from "../../workloads/scenario/testKit.ts";
import { A, B, errnoMachine, P } from "../errno.testkit.ts";
import { Errno, mmapArgs } from "./userMm.ts";

/** A's 16 KiB mlocked (MAP_LOCKED: populated and mlocked), written, at 0x40000000 */
const LOCKED16 = `machine ram=64M
spawn A
A: a = mmap 16K locked at=0x40000000 fixed
A: write a 16K value=1
expect locked(A, a 16K) == 4
expect meminfo.Mlocked == 16384
`;

describe("MADV_DONTNEED_LOCKED (madvise_dontneed_free_valid_vma)", () => {
  it("zaps the pages of a VM_LOCKED VMA that MADV_DONTNEED refuses; the VMA stays locked and the next fault mlocks its page", () => {
    // MADV_DONTNEED: forbidden = VM_PFNMAP | VM_LOCKED: -EINVAL, nothing zapped
    // MADV_DONTNEED_LOCKED over 8K: zap_page_range_single of 2 pages; each mlocked folio's rmap
    //   removal munlocks it (__folio_remove_rmap -> munlock_vma_folio), so Mlocked drops by 8K
    // the VMA keeps VM_LOCKED (smaps "lo"); a write fault there maps a new page and mlocks it
    //   (folio_add_lru_vma -> mlock_new_folio): 3 mlocked pages, nr_mlock 3; the page after it
    //   stays unmapped (byte -1: not present), to refault zero-filled
    holds(`${LOCKED16}A: r = madvise a 16K dontneed
expect r == -22
expect rss(A, a 16K) == 4
A: r = madvise a 8K dontneed_locked
expect r == 0
expect rss(A, a 16K) == 2
expect locked(A, a 16K) == 2
expect meminfo.Mlocked == 8192
expect byte(A, a+8K) == 1
expect vm_flags(A, a) == "rd wr mr mw me lo ac sd"
A: write a value=2
expect byte(A, a) == 2
expect byte(A, a+4K) == -1
expect locked(A, a 16K) == 3
expect vmstat.nr_mlock == 3
`);
  });

  it("refuses VM_PFNMAP (a device's remap_pfn_range mapping) and a HugeTLB VMA from inside a huge page", () => {
    // forbidden = VM_PFNMAP: -EINVAL; HugeTLB: `start & ~huge_page_mask` -EINVAL, the end rounded
    // down to a huge page (h+2M 4K: start == end, 0 with nothing zapped)
    holds(`machine ram=64M
device fb size=8K
sysctl nr_hugepages=2
spawn A
A: d = mmap 8K shared dev=fb
A: r = madvise d 8K dontneed_locked
expect r == -22
A: h = mmap 4M hugetlb at=0x40000000
A: write h 4M
A: r = madvise h+4K 4K dontneed_locked
expect r == -22
A: r = madvise h+2M 4K dontneed_locked
expect r == 0
expect hugetlb(A, h 4M) == 1024
A: r = madvise h 2052K dontneed_locked
expect r == 0
expect hugetlb(A, h 4M) == 512
`);
  });
});

/** A 4 KiB anonymous VMA written just below a 2 MiB HugeTLB VMA at 0x40000000 (a = its page). */
const ANON_THEN_HUGETLB = (machine: string) => `machine ram=64M ${machine}
sysctl nr_hugepages=1
spawn A
A: h = mmap 2M hugetlb at=0x40000000
A: write h
A: a = mmap 4K at=0x3ffff000 fixed
A: write a value=3
expect dirty(A, a 4K) == 1
`;

describe("HugeTLB in the walk: the VMAs below it advised first", () => {
  it("MADV_FREE over [anon][HugeTLB]: the anonymous page made clean (lazy-free), then -EINVAL", () => {
    // [a, a+4K): madvise_free_single_vma -> madvise_free_pte_range: the dirty PTE cleaned
    //   (clear_young_dirty_ptes), folio_mark_lazyfree
    // [h, h+2M): madvise_dontneed_free_valid_vma: HugeTLB and not DONTNEED: false, -EINVAL
    holds(`${ANON_THEN_HUGETLB("")}A: r = madvise a 2052K free
expect r == -22
expect dirty(A, a 4K) == 0
expect hugetlb(A, h 2M) == 512
`);
  });

  it("MADV_PAGEOUT over [anon][HugeTLB]: the anonymous page goes to swap, then -EINVAL (can_madv_lru_vma)", () => {
    // [a, a+4K): madvise_pageout: mapcount 1, reclaim_pages writes it to swap: 1 swap entry,
    //   read back by the next touch
    // [h, h+2M): can_madv_lru_vma: VM_HUGETLB: -EINVAL
    holds(`${ANON_THEN_HUGETLB("swap=16M")}A: r = madvise a 2052K pageout
expect r == -22
expect swapped(A, a 4K) == 1
expect rss(A, a 4K) == 0
A: read a
expect byte(A, a) == 3
`);
  });

  it("a range that starts in the HugeTLB VMA is -EINVAL with nothing done; MADV_DONTNEED over [anon][HugeTLB] zaps both", () => {
    // [h, h+2M) first: can_madv_lru_vma -EINVAL before the walk reaches anything else
    // MADV_DONTNEED from a (4K) into the huge page: the anonymous page zapped; HugeTLB from its
    //   start (aligned), end h+2M: the huge page zapped; 0
    holds(`${ANON_THEN_HUGETLB("swap=16M")}A: r = madvise h 2M cold
expect r == -22
A: r = madvise a 2052K dontneed
expect r == 0
expect rss(A, a 4K) == 0
expect hugetlb(A, h 2M) == 0
`);
  });
});

describe("MADV_WILLNEED on HugeTLB (madvise_willneed, generic_fadvise)", () => {
  it("is ignored, the LRU add batch left as it is; on anonymous memory it drains the batch", () => {
    // 4 written anonymous pages wait in this CPU's lru_add batch (fewer than 31): Inactive(anon) 0
    // [h, h+2M): vm_file is hugetlb_file_setup's hugetlbfs file, not shmem_mapping: vfs_fadvise ->
    //   generic_fadvise: inode_to_bdi is noop_backing_dev_info: "ignore advice", 0, no lru_add_drain
    // [a, a+16K): no vm_file: the swap-in walk (nothing swapped), then lru_add_drain: 16 KiB
    holds(`machine ram=64M
sysctl nr_hugepages=1
spawn A
A: h = mmap 2M hugetlb at=0x40000000
A: a = mmap 16K
A: write a 16K
expect meminfo.Inactive(anon) == 0
A: r = madvise h 2M willneed
expect r == 0
expect meminfo.Inactive(anon) == 0
expect meminfo.HugePages_Free == 1
A: r = madvise a 16K willneed
expect r == 0
expect meminfo.Inactive(anon) == 16384
`);
  });
});

describe("a huge PMD that MADV_FREE / MADV_PAGEOUT leave alone (madvise_free_huge_pmd, madvise_cold_or_pageout_pte_range)", () => {
  it("a THP a forked child maps too stays PMD-mapped and dirty, covered in part or whole", () => {
    // after fork both map the THP: folio_likely_mapped_shared: MADV_FREE's madvise_free_huge_pmd
    //   "goto out" (no split, no clean: false), then pte_offset_map_lock fails on the huge PMD:
    //   nothing; MADV_PAGEOUT's pmd_trans_huge case "goto huge_unlock" for a part and for the
    //   whole: nothing reclaimed, nothing swapped
    holds(`machine ram=64M thp=always swap=16M
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M value=1
expect anon_huge(A, a 2M) == 512
A: fork B
A: r = madvise a 1M free
expect r == 0
expect anon_huge(A, a 2M) == 512
expect dirty(A, a 2M) == 512
A: r = madvise a 1M pageout
expect anon_huge(A, a 2M) == 512
A: r = madvise a 2M pageout
expect anon_huge(A, a 2M) == 512
expect swapped(A, a 2M) == 0
expect anon_huge(B, a 2M) == 512
`);
  });

  it("the huge zero page keeps its PMD (no PTE table) under a partial MADV_FREE or MADV_PAGEOUT", () => {
    // read faults with thp=always map the huge zero page (do_huge_pmd_anonymous_page, use_zero_page):
    //   is_huge_zero_pmd: madvise_free_huge_pmd "goto out", the PTE walk finds no table; pageout's
    //   "goto huge_unlock": table(A, z, pte) stays -1 (a PMD leaf, no PTE table)
    holds(`machine ram=64M thp=always swap=16M
spawn A
A: z = mmap 4M at=0x40200000
A: read z 4M
expect pfn(A, z) == pfn(A, z+2M)
expect table(A, z, pte) == -1
A: r = madvise z 1M free
expect r == 0
expect table(A, z, pte) == -1
A: r = madvise z+2M 1M pageout
expect r == 0
expect table(A, z+2M, pte) == -1
expect pfn(A, z) == pfn(A, z+2M)
`);
  });
});

describe("MADV_FREE on mTHP folios (madvise_free_pte_range, madvise_folio_pte_batch)", () => {
  it("a 64K folio covered in part is split first; one covered whole stays large; reclaim discards both", () => {
    // 128K = two 64K folios (16 pages each), all 32 PTEs dirty
    // a 32K: folio_pte_batch finds 8 < 16 PTEs, not shared: split_folio (hugepages_64kB split 1,
    //   nr_anon 1), then the 8 order-0 pages are cleaned and marked: dirty 32 - 8 = 24
    // a+64K 64K: 16 == 16: the folio stays large, its 16 PTEs cleaned: dirty 8 (pages 8..15)
    // pageout over all, no swap: the 8 + 16 lazy-free pages discarded (pglazyfreed 24)
    holds(`machine ram=128M thp=never
mthp 64K always
spawn A
A: a = mmap 128K at=0x40000000
A: write a 128K value=1
expect thp.hugepages_64kB_nr_anon == 2
expect dirty(A, a 128K) == 32
A: r = madvise a 32K free
expect r == 0
expect thp.hugepages_64kB_split == 1
expect thp.hugepages_64kB_nr_anon == 1
expect dirty(A, a 128K) == 24
A: r = madvise a+64K 64K free
expect thp.hugepages_64kB_nr_anon == 1
expect dirty(A, a 128K) == 8
A: r = madvise a 128K pageout
expect vmstat.pglazyfreed == 24
expect rss(A, a 128K) == 8
`);
  });
});

describe("the VMA flag advices on HugeTLB (madvise_update_vma, vma_modify, hugetlb_vm_op_split)", () => {
  it("a split off a huge page boundary is -EINVAL; unchanged flags split nothing; a failed end split keeps the start's", () => {
    // h+4K 4K dontfork: vma_modify splits at h+4K first: hugetlb_vm_op_split -EINVAL; 1 VMA
    // h+4K 4K dodump: VM_DONTDUMP already clear: new_flags == vm_flags, 0 and no split (a HugeTLB
    //   VMA is not VM_SPECIAL for MADV_DODUMP)
    // h+2M 2052K dontfork: the split at h+2M succeeds, the one at h+4M+4K fails: -EINVAL, 2 VMAs
    //   ([h, h+2M) and [h+2M, h+6M), HugeTLB VMAs being VM_DONTEXPAND never merge), no VM_DONTCOPY
    // h+2M 2M dontfork: split at h+4M: 3 VMAs, the middle one "dc"
    holds(`machine ram=64M
sysctl nr_hugepages=3
spawn A
A: h = mmap 6M hugetlb at=0x40000000
A: write h 6M
A: r = madvise h+4K 4K dontfork
expect r == -22
expect vmas(A, h 6M) == 1
expect vm_flags(A, h) == "rd wr mr mw me de ht sd"
A: r = madvise h+4K 4K dodump
expect r == 0
expect vmas(A, h 6M) == 1
A: r = madvise h+2M 2052K dontfork
expect r == -22
expect vmas(A, h 6M) == 2
expect vm_flags(A, h+2M) == "rd wr mr mw me de ht sd"
A: r = madvise h+2M 2M dontfork
expect r == 0
expect vmas(A, h 6M) == 3
expect vm_flags(A, h+2M) == "rd wr mr mw me dc de ht sd"
expect vm_flags(A, h+4M) == "rd wr mr mw me de ht sd"
expect hugetlb(A, h 6M) == 1536
`);
  });

  it("a split refused in the second VMA of the range: the first advised, then -EINVAL", () => {
    // [a, a+4K) anonymous: VM_DONTCOPY set; [h, h+2M+4K) of a 4M HugeTLB VMA: the split at
    //   h+2M+4K fails: -EINVAL (vma_modify: vm_start == start, no start split)
    holds(`machine ram=64M
sysctl nr_hugepages=2
spawn A
A: h = mmap 4M hugetlb at=0x40000000
A: a = mmap 4K at=0x3ffff000 fixed
A: r = madvise a 2056K dontfork
expect r == -22
expect vm_flags(A, a) == "rd wr mr mw me dc ac sd"
expect vmas(A, h 4M) == 1
expect vm_flags(A, h) == "rd wr mr mw me de ht sd"
`);
  });
});

describe("do_madvise's checks, in Linux's order", () => {
  it("advice, start alignment, length rounding and wrap, an empty range, a hole after the mapped part", () => {
    const { k, t } = errnoMachine();
    // madvise_behavior_valid first: an unknown advice is -EINVAL even for a good range
    expect(k.madvise(t, B(A + 1), B(P), "bogus")).toBe(B(-Errno.EINVAL));
    // !PAGE_ALIGNED(start)
    expect(k.madvise(t, B(A + 1), 0n, "dontneed")).toBe(B(-Errno.EINVAL));
    // len_in && !len: a length that PAGE_ALIGN rounds to 0
    expect(k.madvise(t, B(A), (1n << 64n) - 1n, "dontneed")).toBe(B(-Errno.EINVAL));
    // end < start: the range wraps
    expect(k.madvise(t, B(A), (1n << 64n) - B(A), "dontneed")).toBe(B(-Errno.EINVAL));
    // end == start: 0 before the VMAs are looked at (nothing mapped there)
    expect(k.madvise(t, B(A), 0n, "dontneed")).toBe(0n);
    // no VMA at or after start: -ENOMEM
    expect(k.madvise(t, B(A), B(P), "dontneed")).toBe(B(-Errno.ENOMEM));
    // a length rounded up: 1 byte is the whole page
    expect(k.mmap(t, mmapArgs(2 * P, { addr: A, fixed: true }))).toBe(B(A));
    expect(k.madvise(t, B(A + P), 1n, "dontfork")).toBe(0n);
    expect(t.mm!.vmas.length >= 2).toBe(true);
    expect(t.mm!.vmaAt((A + P) / P)!.vmStart).toBe((A + P) / P);
  });

  it("a hole between VMAs: both advised, then -ENOMEM; a hole then a refused VMA: -EINVAL wins", () => {
    // [a, a+4K) [hole 4K] [a+8K, a+12K): dontneed zaps both, unmapped_error -ENOMEM
    // [a, a+4K) [hole] [locked]: the locked VMA's visit returns -EINVAL, which the walk returns
    holds(`machine ram=64M
spawn A
A: a = mmap 4K at=0x40000000 fixed
A: b = mmap 4K at=0x40002000 fixed
A: write a value=1
A: write b value=1
A: r = madvise a 12K dontneed
expect r == -12
expect rss(A, a 12K) == 0
A: c = mmap 4K locked at=0x40004000 fixed
A: write a value=1
A: r = madvise a 20K dontneed
expect r == -22
expect rss(A, a 4K) == 0
expect locked(A, c 4K) == 1
`);
  });
});
