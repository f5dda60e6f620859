/**
 * A review of mremap(2) and mprotect(2) against Linux 6.12 (mm/mremap.c SYSCALL_DEFINE5(mremap),
 * vma_to_resize, vma_expandable, mremap_to, move_vma, move_page_tables; mm/vma.c copy_vma,
 * vma_merge_extend, vma_merge_new_range, vma_modify_flags; mm/mmap.c __get_unmapped_area;
 * mm/huge_memory.c __thp_get_unmapped_area, change_huge_pmd; mm/mprotect.c do_mprotect_pkey,
 * mprotect_fixup, change_pte_range, can_change_pte_writable; include/asm-generic/tlb.h
 * tlb_end_vma; arch/x86/include/asm/tlbflush.h pte_needs_flush): the places where vmlab differed,
 * each expected figure derived by hand from the Linux source in the comment above it.
 *
 * Notation: addresses as the scenario writes them; a VMA as [start, end) pgoff; "anon_vma"
 * is set by the first fault that maps an anonymous page (a read of anonymous memory maps the
 * zero page and sets none). The stack is [0x7ffffffde000, 0x7ffffffff000), mmap_base
 * 0x7ffff7fff000 (docs/processes.md).
 *
 * Left out, as vmlab differs there still (docs/processes.md "Not yet"): PROT_GROWSDOWN/PROT_GROWSUP
 * (no way to ask for them; MREMAP_DONTUNMAP, vm.max_map_count and mseal are modelled since:
 * mremap_features.test.ts), and the stride of an mmu_gather's flush (tlb_get_unmap_shift: a gather
 * that changed huge PMDs only flushes with PMD_SIZE steps; vmlab's goes page by page, so an
 * mprotect of one THP is one full flush rather than x86's one INVLPG or arm64's one TLBI) with
 * the generic pmdp_invalidate's flush_pmd_tlb_range in change_huge_pmd (arm64, RISC-V).
 */
import { describe, it } from "vitest";
import { holds } from "../../workloads/scenario/testKit.ts";

describe("mremap, reviewed against 6.12", () => {
  it("an area grown in place joins the next VMA when it now touches it and is compatible (vma_merge_extend)", () => {
    // a [0x10000, 0x10001) pgoff 0x10000, b [0x10002, 0x10003) pgoff 0x10002, neither faulted.
    // mremap a 4K -> 8K: vma_to_resize passes; old_len == vm_end - addr and vma_expandable (nothing
    // in [0x10001, 0x10002)); vma_merge_extend: vma_merge_new_range([0x10001, 0x10002), prev a,
    // next b): can_merge_left (a with itself), can_merge_right (same flags, no anon_vma on
    // either side, pgoff 0x10000 + 2 == b's 0x10002) -> a covers [0x10000, 0x10003), b is gone
    holds(`
machine ram=64M
spawn A
A: a = mmap 4K at=0x10000000 fixed
A: b = mmap 4K at=0x10002000 fixed
A: r = mremap a 4K 8K
expect r == 0x10000000
expect vmas(A, a 12K) == 1
`);
    // both written: two anon_vmas; can_vma_merge_right's is_mergeable_anon_vma(a's, b's) fails,
    // so a grows alone to [0x10000, 0x10002) and b stays: 2 VMAs, the data where it was
    holds(`
machine ram=64M
spawn A
A: a = mmap 4K at=0x10000000 fixed
A: b = mmap 4K at=0x10002000 fixed
A: write a value=1
A: write b value=2
A: r = mremap a 4K 8K
expect r == 0x10000000
expect vmas(A, a 12K) == 2
expect byte(A, a) == 1
expect byte(A, b) == 2
`);
  });

  it("a move's new VMA merges with its neighbours (copy_vma), an unfaulted anonymous one at the new address's page offset", () => {
    // c [0x20000, 0x20001) pgoff 0x20000; d [0x30000, 0x30001), no anon_vma. mremap_to d -> 0x20001:
    // copy_vma: vma_is_anonymous && !anon_vma -> pgoff = 0x20001; vma_merge_new_range with prev c
    // (0x20000 + 1 == 0x20001) -> c grows to [0x20000, 0x20002); the old range is unmapped
    holds(`
machine ram=64M
spawn A
A: c = mmap 4K at=0x20000000 fixed
A: d = mmap 4K at=0x30000000 fixed
A: r = mremap d 4K 4K maymove to=0x20001000
expect r == 0x20001000
expect vmas(A, c 8K) == 1
expect vmas(A, d 4K) == 0
`);
    // d written first: it has an anon_vma, so its pgoff stays 0x30000 (the reverse map finds its
    // page by it) and 0x20000 + 1 != 0x30000: no merge, two VMAs, the page moved with its data
    holds(`
machine ram=64M
spawn A
A: c = mmap 4K at=0x20000000 fixed
A: d = mmap 4K at=0x30000000 fixed
A: write d value=7
A: r = mremap d 4K 4K maymove to=0x20001000
expect r == 0x20001000
expect vmas(A, c 8K) == 2
expect byte(A, 0x20001000) == 7
`);
    // VM_SPECIAL never merges (vma_merge_new_range: "Special VMAs are unmergeable"): a HugeTLB
    // VMA (VM_DONTEXPAND) moved to the end of another, a device page (VM_PFNMAP | VM_IO) to
    // the end of the same device's previous page: two VMAs each time
    holds(`
machine ram=64M
sysctl nr_hugepages=4
kbuf = device fb size=8K
spawn A
A: h1 = mmap 2M hugetlb at=0x40000000
A: h2 = mmap 2M hugetlb at=0x40800000
A: r = mremap h2 2M 2M maymove to=0x40200000
expect r == 0x40200000
expect vmas(A, h1 4M) == 2
A: u = mmap 4K shared dev=fb at=0x10000000 fixed
A: w = mmap 4K shared dev=fb offset=4K at=0x20000000 fixed
A: r2 = mremap w 4K 4K maymove to=0x10001000
expect r2 == 0x10001000
expect vmas(A, u 8K) == 2
`);
  });

  it("growing in place may end inside the stack guard gap (vma_expandable: get_unmapped_area with MAP_FIXED)", () => {
    // a [0x7ffffff1d000, +4K): 0xc1000 bytes (193 pages) below the stack, inside stack_guard_gap
    // (256 pages). vma_expandable(a, 4K): find_vma_intersection([0x7ffffff1e000, 0x7ffffff1f000))
    // is empty; get_unmapped_area(NULL, vm_start, 8K, 0, MAP_FIXED) returns vm_start
    // (arch_get_unmapped_area_topdown: MAP_FIXED -> addr): grown in place, no MREMAP_MAYMOVE needed
    holds(`
machine ram=64M
spawn A
A: a = mmap 4K at=0x7ffffff1d000 fixed
A: r = mremap a 4K 8K
expect r == 0x7ffffff1d000
expect vmas(A, a 8K) == 1
`);
  });

  it("a move that does not grow still asks vm_enough_memory (move_vma: to_account = 0)", () => {
    // a: 1M private writable, VM_ACCOUNT (256 pages charged under the default heuristic mode).
    // overcommit_memory=2, ratio 1: CommitLimit = 1% of RAM (about 140 pages) < Committed_AS.
    // mremap_to a 1M -> 1M at 0x20000000: move_vma, VM_ACCOUNT: security_vm_enough_memory_mm(mm, 0):
    // __vm_enough_memory: vm_committed_as (>= 256) < allowed (<= 140) fails -> -ENOMEM; the
    // target was unmapped (nothing there), the mapping stays at a
    holds(`
machine ram=64M
spawn A
A: a = mmap 1M at=0x10000000
A: write a value=3
sysctl overcommit_memory=2 overcommit_ratio=1
A: r = mremap a 1M 1M maymove to=0x20000000
expect r == -12
expect rss(A, a 1M) == 1
expect vmas(A, 0x20000000 1M) == 0
`);
    // the same with ratio 100 (CommitLimit about 14000 pages): the move goes through
    holds(`
machine ram=64M
spawn A
A: a = mmap 1M at=0x10000000
A: write a value=3
sysctl overcommit_memory=2 overcommit_ratio=100
A: r = mremap a 1M 1M maymove to=0x20000000
expect r == 0x20000000
expect byte(A, 0x20000000) == 3
`);
  });

  it("a growth moved without MREMAP_FIXED lands THP-aligned when its length is a multiple of 2 MiB (thp_get_unmapped_area)", () => {
    // b [0x10000000, +1M) written, c right after it: no growth in place. get_unmapped_area(NULL, 0,
    // 2M, pgoff, 0): private anonymous, no hint, len % PMD_SIZE == 0 -> thp_get_unmapped_area_vmflags:
    // off 0, len_pad 4M: the top-down search gives 0x7ffff7fff000 - 4M = 0x7ffff7bff000;
    // off_sub = (0 - 0x7ffff7bff000) & (2M - 1) = 0x1000 -> 0x7ffff7c00000 (the plain search:
    // 0x7ffff7dff000). The 256 pages move with their data
    holds(`
machine ram=64M
spawn A
A: b = mmap 1M at=0x10000000 fixed
A: c = mmap 4K at=0x10100000 fixed
A: write b 1M value=9
A: r = mremap b 1M 2M maymove
expect r == 0x7ffff7c00000
expect rss(A, r 2M) == 256
expect byte(A, r+1020K) == 9
`);
  });

  it("where the data cache has colours (SHMLBA), a shared mapping moves to its offset's colour (arch_get_unmapped_area)", () => {
    // 32K 4-way VIPT: SHMLBA 8K, two colours. a: page 0 of shm at 0x7ffff7ffe000 (colour 0), g
    // above it, h below it at 0x7ffff7ffd000. mremap a 4K -> 8K: not expandable (g);
    // get_unmapped_area(file, 0, 8K, 0, MAP_SHARED) -> arm's arch_get_unmapped_area_topdown with
    // align_mask SHMLBA - 1, align_offset 0: the highest 8K-aligned 8K below h, 0x7ffff7ffa000 (the
    // plain search: 0x7ffff7ffb000, the other colour). MREMAP_FIXED to 0x10001000 (colour 1,
    // pgoff 0): mremap_to's get_unmapped_area(..., MAP_FIXED | MAP_SHARED):
    // (addr - (pgoff << PAGE_SHIFT)) & (SHMLBA - 1) -> -EINVAL; to 0x10002000 it moves
    holds(`
machine ram=64M cache=vipt cache_size=32K cache_ways=4 cache_line=64
file shm size=8K fs=tmpfs
spawn A
A: a = mmap 4K file=shm shared
A: write a value=5
A: g = mmap 4K at=a+4K fixed
A: h = mmap 4K at=a-4K fixed
A: r = mremap a 4K 8K maymove
expect r == 0x7ffff7ffa000
expect byte(A, r) == 5
A: e = mremap r 4K 4K maymove to=0x10001000
expect e == -22
A: o = mremap r 4K 4K maymove to=0x10002000
expect o == 0x10002000
expect byte(A, o) == 5
`);
  });
});

describe("mprotect, reviewed against 6.12", () => {
  it("the rights a VMA has already change nothing: no split, no THP split (mprotect_fixup: newflags == oldflags)", () => {
    // a: 2M at a 2M boundary, one huge PMD (thp=always). mprotect a+4K 4K prot=rw: newflags ==
    // oldflags -> return 0 before vma_modify_flags: one VMA, the PMD whole, thp_split_pmd 0.
    // prot=r: split_vma twice (vma_adjust_trans_huge splits the PMD: thp_split_pmd 1), 3 VMAs
    holds(`
machine ram=64M thp=always
spawn A
A: a = mmap 2M at=0x40000000
A: write a 2M value=1
expect anon_huge(A, a 2M) == 512
A: r = mprotect a+4K 4K prot=rw
expect r == 0
expect anon_huge(A, a 2M) == 512
expect vmas(A, a 2M) == 1
expect vmstat.thp_split_pmd == 0
A: r2 = mprotect a+4K 4K prot=r
expect r2 == 0
expect anon_huge(A, a 2M) == 0
expect vmas(A, a 2M) == 3
expect vmstat.thp_split_pmd == 1
`);
    // a HugeTLB VMA: the same rights over half a huge page return 0 (no split is tried); new
    // rights there fail in split_vma (hugetlb_vm_op_split: -EINVAL)
    holds(`
machine ram=64M
sysctl nr_hugepages=2
spawn A
A: h = mmap 2M hugetlb
A: r = mprotect h 4K prot=rw
expect r == 0
A: r2 = mprotect h 4K prot=r
expect r2 == -22
expect vmas(A, h 2M) == 1
`);
  });

  it("pte_modify keeps the accessed bit: pages MADV_COLD aged stay old and reclaim takes them at the first look", () => {
    // 4 pages written, MADV_COLD: deactivated, PTEs made old. mprotect of the first 2 to r:
    // change_pte_range: pte_modify(oldpte, PAGE_READONLY) keeps _PAGE_ACCESSED clear (it is in
    // _PAGE_CHG_MASK). reclaim: shrink_folio_list finds no referenced PTE: 4 scanned, 4 written
    // to swap, none activated (had mprotect set A, 2 would be kept once and scanned again: 6)
    holds(`
machine ram=64M swap=64M
spawn A
A: a = mmap 16K
A: write a 16K value=1
A: madvise a 16K cold
A: mprotect a 8K prot=r
reclaim 16K
expect swapped(A, a 16K) == 4
expect vmstat.pgscan_anon == 4
expect vmstat.pgsteal_anon == 4
expect vmstat.pgactivate == 0
`);
  });

  it("the flush: at each VMA's end on arm64 and RISC-V (tlb_end_vma), once over the range on x86 (MMU_GATHER_MERGE_VMAS)", () => {
    // a [0x10000, 0x10001) rw, written; b [0x10001, 0x10010) r, its last page read (the zero page).
    // mprotect a 64K prot=rx changes both; the PTEs that need a flush: a's (RW cleared, NX
    // cleared) and b's at 0x1000f (NX cleared). arm64 (pte_needs_flush: always) and RISC-V:
    // tlb_end_vma after a flushes [0x10000, 0x10001), after b [0x1000f, 0x10010): 2 invalidations
    // by address (VALE1IS; SFENCE.VMA). x86 merges: one flush_tlb_mm_range over [0x10000,
    // 0x10010), 16 pages <= tlb_single_page_flush_ceiling (33): 16 INVLPG. No full flush anywhere
    for (const [arch, inv] of [
      ["arm64", 2],
      ["riscv-sv48", 2],
      ["x86_64", 16],
    ] as const)
      holds(
        `
machine arch=${arch} ram=64M
spawn A
A: a = mmap 4K at=0x10000000
A: b = mmap 60K at=0x10001000 prot=r
A: write a value=1
A: read b+56K
let inv = tlb.page_invalidations
let full = tlb.flushes
A: r = mprotect a 64K prot=rx
expect r == 0
expect tlb.page_invalidations - inv == ${inv}
expect tlb.flushes - full == 0
expect vmas(A, a 64K) == 2
`,
        arch,
      );
    // x86 flushes at a VM_PFNMAP VMA's end too (tlb->vma_pfn): u, a device page (remap_pfn_range),
    // read; v [0x10001, 0x10010) written at 0x1000f. prot=r: u's PTE loses RW -> flush [0x10000,
    // 0x10001) at u's end (1 INVLPG); v's at tlb_finish_mmu: [0x1000f, 0x10010) (1 INVLPG)
    holds(`
machine ram=64M
kbuf = device fb size=4K
spawn A
A: u = mmap 4K shared dev=fb at=0x10000000 fixed
A: v = mmap 60K at=0x10001000 fixed
A: read u
A: write v+56K value=1
let inv = tlb.page_invalidations
let full = tlb.flushes
A: r = mprotect u 64K prot=r
expect r == 0
expect tlb.page_invalidations - inv == 2
expect tlb.flushes - full == 0
`);
  });
});
