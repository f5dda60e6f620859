/**
 * A review of the page-fault path against Linux 6.12's mm/memory.c (handle_mm_fault,
 * __handle_mm_fault, handle_pte_fault, do_anonymous_page, do_wp_page, wp_page_reuse,
 * wp_page_copy, wp_can_reuse_anon_folio, do_fault, do_read_fault, do_fault_around,
 * do_cow_fault, do_shared_fault, mm_account_fault) and mm/filemap.c filemap_map_pages,
 * filemap_fault: scenarios the other fault tests (pgfault, fork, mthp, huge_memory, file_pmd)
 * leave out, each expected figure derived by hand from the Linux source in the comment above it.
 *
 * Differences this review found and fixed:
 * - A read fault on a file page past EOF returned SIGBUS before do_read_fault's fault-around
 *   ran (filemap.ts filemapFault). Linux's do_read_fault calls do_fault_around first
 *   (filemap_map_pages maps the cached pages of the window up to file_end), then __do_fault ->
 *   filemap_fault, whose `index >= max_idx` gives VM_FAULT_SIGBUS: the cached pages below EOF
 *   in the window are mapped by the fault that ends in SIGBUS.
 * - A fault of a file (or PFNMAP) VMA that found no PTE table (pmd_none) and mapped nothing
 *   (SIGBUS) left the PTE table fault.ts allocated; Linux allocates it only as
 *   vmf->prealloc_pte (do_fault_around) and frees it unused (do_fault: pte_free of
 *   vmf->prealloc_pte; do_fault's no-->fault case: pte_offset_map_lock of a none PMD is NULL,
 *   VM_FAULT_SIGBUS), so VmPTE and meminfo PageTables do not grow.
 * - wp_page_reuse calls flush_cache_page(vma, address, pte_pfn(orig_pte)) before it makes the
 *   PTE writable (memory.c wp_page_reuse, for do_wp_page's reuse of an exclusive anonymous
 *   page, wp_pfn_shared and wp_page_shared); vmlab flushed only on a copy (wp_page_copy). On a
 *   VIVT cache that is one more cache.page_flushes per reuse.
 * - do_cow_fault read the file page first and allocated the copy after it; Linux allocates the
 *   copy first (vmf_anon_prepare, folio_prealloc), then __do_fault reads the file page: the
 *   copy's pfn comes before the read-around's, and a copy that cannot be had is VM_FAULT_OOM
 *   before any read (no PGMAJFAULT, nothing cached). The copy joins the LRU at finish_fault.
 * - wp_can_reuse_anon_folio ends with folio_move_anon_rmap (folio->mapping = the faulting VMA's
 *   anon_vma); vmlab left a page a forked child reused on the parent's anon_vma, whose chain
 *   (every VMA of the fork tree) reclaim's rmap walks then went through.
 *
 * Left as they are (docs/processes.md "Not yet"): VM_FAULT_OOM kills the faulting task in
 * vmlab's architecture handlers, where 6.12's pagefault_out_of_memory retries the fault; arm64's
 * old prefaulted PTEs (arch_wants_old_prefaulted_pte: cpu_has_hw_af) are young in vmlab;
 * wp_page_copy's second
 * flush_cache_page (after the copy); the 6.18 behaviours vmlab models on purpose (mTHP reuse,
 * can_map_large); the mTHP charge before the allocation. Not modelled: NUMA balancing
 * (do_numa_page), FAULT_FLAG_UNSHARE (KSM's break_ksm aside: ksm.ts), userfaultfd, FOLL_FORCE writes (maybe_mkwrite),
 * VM_FAULT_HWPOISON, VM_FAULT_RETRY, check_stable_address_space, PUD THP, PMD migration
 * entries, VM_DROPPABLE's VM_FAULT_OOM mask (its never-swap-backed folio: droppable.test.ts), perf's fault events, memcg PGFAULT. Checked and equal: handle_pte_fault's
 * spurious path (x86 and arm64 define flush_tlb_fix_spurious_fault as nothing; RISC-V's
 * ptep_set_access_flags returns 1 without Svvptc, so update_mmu_cache's local sfence.vma ends
 * every fault, as vmlab's riscv handler does), the PMD level (huge_pmd_set_accessed, wp_huge_pmd),
 * wp_can_reuse_anon_folio's refcount test (> 3, lru_add_drain, 1 + swapcache, folio_free_swap),
 * wp_page_copy's RSS moves, alloc_anon_folio's order choice, do_fault_around's window, and
 * mm_account_fault (PGFAULT for every handle_mm_fault, min/maj only without VM_FAULT_ERROR).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { PteFlag } from "./arch.ts";
import { mmapArgs, VmFault } from "./userMm.ts";

describe("do_anonymous_page and do_wp_page's copy from the zero page", () => {
  it("a read maps the zero page (no RSS); the write after it copies from it (wp_page_copy, pfn_is_zero), never reuses", () => {
    // do_anonymous_page, !FAULT_FLAG_WRITE and !mm_forbids_zeropage (only s390 forbids it):
    //   pte_mkspecial(pfn_pte(my_zero_pfn)): no folio, no add_mm_counter: rss 0, anon 0
    // the write: handle_pte_fault, pte present, !pte_write -> do_wp_page; vm_normal_page of the
    //   zero pfn is NULL (special), not VM_SHARED -> wp_page_copy: pfn_is_zero, a zeroed folio
    //   (folio_prealloc(..., true)), no copy; old_folio NULL: inc_mm_counter(MM_ANONPAGES): rss 1
    //   no wp_page_reuse: pgreuse unchanged; two faults: pgfault +2, min_flt +2
    const failed = expectationFailures(`
machine ram=64M
spawn A
A: a = mmap 8K
let f0 = vmstat.pgfault
let m0 = A.min_flt
let r0 = vmstat.pgreuse
A: read a
expect rss(A, a 8K) == 0
expect present(A, a 8K) == 1
expect byte(A, a) == 0
A: write a value=7
expect rss(A, a 8K) == 1
expect anon(A, a 8K) == 1
expect byte(A, a) == 7
expect vmstat.pgfault - f0 == 2
expect A.min_flt - m0 == 2
expect vmstat.pgreuse - r0 == 0
`);
    expect(failed).toEqual([]);
  });

  it("a write to a private file page mapped read-only copies it into an anonymous page (RSS file -1, anon +1)", () => {
    // read s: do_read_fault, fault-around maps both cached pages read-only (private: no
    //   VM_SHARED, so maybe_mkwrite is not asked): rss 2, anon 0
    // write s: do_wp_page, the folio is a page-cache one (not anon) -> wp_page_copy:
    //   !folio_test_anon(old_folio): dec_mm_counter(mm_counter_file), inc_mm_counter(ANON):
    //   rss stays 2, anon 1; the file keeps its byte (the copy took the write)
    const failed = expectationFailures(`
machine ram=64M
file f size=8K
spawn A
A: fadvise f 0 0 willneed
A: s = mmap 8K prot=rw private file=f
let b0 = file_byte(f, 0)
A: read s
expect rss(A, s 8K) == 2
expect anon(A, s 8K) == 0
A: write s value=9
expect rss(A, s 8K) == 2
expect anon(A, s 8K) == 1
expect byte(A, s) == 9
expect file_byte(f, 0) == b0
expect b0 != 9
expect vmstat.pgreuse == 0
`);
    expect(failed).toEqual([]);
  });
});

describe("do_fault_around's window (fault_around_bytes 64K: 16 pages)", () => {
  it("starts at the VMA's start when the aligned window would begin before it, and runs 16 pages from there", () => {
    // the VMA at 0x40003000 (pte_index 3), 32 pages of a file all cached (POSIX_FADV_WILLNEED:
    //   force_page_cache_ra, lookahead 0: no folio PG_readahead, so next_uptodate_folio skips none)
    // the read at +20K: pte_off 8, vma_off 5
    //   from_pte = max(ALIGN_DOWN(8, 16) = 0, 8 - min(8, 5) = 3) = 3
    //   to_pte = min3(3 + 16, 512, 8 + 32 - 5 = 35) - 1 = 18: PTEs 3..18, the VMA's pages 0..15
    const failed = expectationFailures(`
machine ram=64M
file f size=128K
spawn A
A: fadvise f 0 0 willneed
expect cached(f) == 32
A: m = mmap 128K prot=r file=f at=0x40003000 fixed
let f0 = vmstat.pgfault
A: read m+20K
expect rss(A, m 128K) == 16
expect rss(A, m 64K) == 16
expect vmstat.pgfault - f0 == 1
A: read m+60K
expect vmstat.pgfault - f0 == 1
`);
    expect(failed).toEqual([]);
  });

  it("stops at the PTE table's end: a VMA across a 2M boundary is mapped around in two faults", () => {
    // the VMA at 0x401F8000 (pte_index 504), 16 pages: PTEs 504..511 of one table, 0..7 of the next
    // the read at +28K: pte_off 511, vma_off 7
    //   from_pte = max(ALIGN_DOWN(511, 16) = 496, 511 - min(511, 7) = 504) = 504
    //   to_pte = min3(504 + 16 = 520, PTRS_PER_PTE 512, 511 + 16 - 7 = 520) - 1 = 511: 8 pages
    // the read at +32K: pte_off 0, vma_off 8
    //   from_pte = max(0, 0 - min(0, 8) = 0) = 0; to_pte = min3(16, 512, 0 + 16 - 8 = 8) - 1 = 7: 8 more
    const failed = expectationFailures(`
machine ram=64M
file f size=64K
spawn A
A: fadvise f 0 0 willneed
A: m = mmap 64K prot=r file=f at=0x401F8000 fixed
let f0 = vmstat.pgfault
A: read m+28K
expect rss(A, m 64K) == 8
expect rss(A, m 32K) == 8
A: read m+32K
expect rss(A, m 64K) == 16
expect vmstat.pgfault - f0 == 2
`);
    expect(failed).toEqual([]);
  });
});

describe("SIGBUS past EOF (filemap_fault: index >= max_idx)", () => {
  it("a read fault past EOF maps the cached pages of its fault-around window first, then SIGBUS BUS_ADRERR", () => {
    // the file is one page (4K), the mapping two; B's read caches page 0 (B maps it, A does not);
    //   A's anonymous page below the mapping made the PTE table the fault uses (with none, 6.18's
    //   filemap_map_pages maps no PTE past a folio that reaches EOF: can_map_large, and vmlab
    //   models 6.18 there; 6.12's pmd_install would map page 0 then too)
    // A reads s+4K: do_read_fault -> do_fault_around: pte_off 1, vma_off 1:
    //   from_pte = max(0, 1 - 1) = 0, to_pte = min3(16, 512, 1 + 2 - 1 = 2) - 1 = 1;
    //   filemap_map_pages(0, 1): end_pgoff = min(1, file_end 0) = 0: page 0 mapped (rss 1), not
    //   the faulting one: ret 0 -> __do_fault -> filemap_fault: index 1 >= max_idx 1:
    //   VM_FAULT_SIGBUS; mm_fault_error: SIGBUS BUS_ADRERR
    // mm_account_fault: PGFAULT counted (+1), VM_FAULT_ERROR: neither min_flt nor maj_flt
    // A's read of s then finds page 0 mapped: no fault (pgfault unchanged)
    const failed = expectationFailures(`
machine ram=64M
file short size=4K
spawn A
spawn B
A: catch SIGBUS
B: t = mmap 4K prot=r file=short
B: read t
expect cached(short) == 1
A: a = mmap 4K at=0x40000000 fixed
A: write a
A: s = mmap 8K prot=r file=short at=0x40001000 fixed
let f0 = vmstat.pgfault
let n0 = A.min_flt + A.maj_flt
A: read s+4K
expect A.signal == SIGBUS
expect vmstat.pgfault - f0 == 1
expect A.min_flt + A.maj_flt == n0
expect rss(A, s 8K) == 1
expect mapcount(A, s 4K) == 2
A: read s
expect vmstat.pgfault - f0 == 1
`);
    expect(failed).toEqual([]);
  });

  it("a fault past EOF that maps nothing leaves no PTE table (do_fault frees vmf->prealloc_pte)", () => {
    // nothing of the file is cached, and A's mapping is alone in its 2M (no PTE table there)
    // __handle_mm_fault: pud_alloc, pmd_alloc (the PMD table exists: A's other mapping at
    //   0x40200000 put the PUD and PMD tables there), pmd_none -> handle_pte_fault: vmf->pte NULL
    //   -> do_pte_missing -> do_fault -> do_read_fault -> do_fault_around: pmd_none, so
    //   vmf->prealloc_pte = pte_alloc_one; filemap_map_pages: next_uptodate_folio finds
    //   nothing (end_pgoff clamped to file_end 0; page 0 not cached): goto out, no pmd_install
    //   -> __do_fault -> filemap_fault: SIGBUS -> do_fault: pte_free(prealloc_pte)
    // so VmPTE stays what the other mapping's PTE table + PMD + PUD tables made it
    const failed = expectationFailures(`
machine ram=64M
file short size=4K
spawn A
A: catch SIGBUS
A: a = mmap 4K at=0x40200000 fixed
A: write a
let pt0 = meminfo.PageTables
A: s = mmap 8K prot=r file=short at=0x40000000 fixed
A: read s+4K
expect A.signal == SIGBUS
expect meminfo.PageTables == pt0
expect cached(short) == 0
`);
    expect(failed).toEqual([]);
  });
});

describe("wp_page_reuse's flush_cache_page (VIVT)", () => {
  it("a write that reuses the page after the fork's child exited flushes the page's lines once", () => {
    // fork: flush_cache_dup_mm (cache.flushes 1), both PTEs write-protected
    // B exits: exit_mmap flush_cache_mm (cache.flushes 2); the page's mapcount 1, refcount 1
    // A's write: do_wp_page -> !PageAnonExclusive (fork cleared it) -> wp_can_reuse_anon_folio:
    //   refcount 1 (the LRU batch drained) -> reuse: wp_page_reuse -> flush_cache_page:
    //   cache.page_flushes 1; PGREUSE
    const failed = expectationFailures(`
machine ram=64M cache=vivt cache_asid=on
spawn A
A: a = mmap 4K
A: write a value=5
A: fork B
B: exit
expect cache.page_flushes == 0
A: write a value=6
expect vmstat.pgreuse == 1
expect cache.page_flushes == 1
`);
    expect(failed).toEqual([]);
  });
});

describe("do_cow_fault (a write fault on a private file mapping, no PTE)", () => {
  it("allocates the private copy before it reads the file page (folio_prealloc, then __do_fault)", () => {
    // do_cow_fault: vmf_anon_prepare, folio_prealloc (the copy's page: GFP_HIGHUSER_MOVABLE), only
    //   then __do_fault -> filemap_fault: no folio, do_sync_mmap_readahead reads the 16-page file
    //   around page 0 (ra_pages 32 > the file: all 16), PGMAJFAULT; copy_mc_user_highpage;
    //   finish_fault maps the copy (folio_add_new_anon_rmap, folio_add_lru_vma)
    // the page allocator hands out the movable pcp list's pages in ascending pfn order on a fresh
    //   machine (rmqueue_bulk's list_add_tail, __rmqueue_pcplist from the head): the copy's pfn is
    //   below the file page's (which B maps afterwards to read its pfn)
    const failed = expectationFailures(`
machine ram=64M
file f size=64K
spawn A
spawn B
A: s = mmap 4K prot=rw private file=f
A: write s value=3
expect A.maj_flt == 1
expect vmstat.pgmajfault == 1
expect cached(f) == 16
expect anon(A, s 4K) == 1
B: t = mmap 4K prot=r file=f
B: read t
let pa = pfn(A, s)
let pb = pfn(B, t)
expect pa < pb
expect byte(A, s) == 3
`);
    expect(failed).toEqual([]);
  });
});

describe("handle_pte_fault's spurious fault (the PTE already allows the access)", () => {
  it("makes the PTE young (and dirty on a write), allocates nothing, and is counted as a fault", () => {
    // handle_pte_fault: pte present, pte_same; not a write to a read-only PTE, so
    //   entry = pte_mkyoung(orig_pte), and pte_mkdirty too for FAULT_FLAG_WRITE;
    //   ptep_set_access_flags stores it if it changed (x86: no flush; flush_tlb_fix_spurious_fault
    //   is nothing on x86). handle_mm_fault -> mm_account_fault: PGFAULT +1 each time
    // a written page made old and clean (as reclaim's aging and writeback would leave it):
    //   the read: young, still clean; the write: young and dirty; a third, nothing to change
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const a = k.mmap(t, mmapArgs(4096));
    expect(k.userAccess(0, t, a, Access.Write, 7).ok).toBe(true);
    const mm = t.mm!;
    const vpn = Number(a / 4096n);
    const vma = mm.vmaAt(vpn)!;
    const um = k.userMm;
    const pt = um.env.pgtable;
    const leaf = () => um.readPte(mm, vpn)!;
    const first = leaf();
    const old = pt.modify(first.hi, first.lo, 0, PteFlag.YOUNG | PteFlag.DIRTY);
    pt.set(um.env.phys, first.pa, old.hi, old.lo);
    const f0 = um.pgfault;
    const rss0 = mm.rssAnon;
    expect(um.handleMmFault(mm, vma, vpn, false)).toBe(VmFault.OK);
    let e = leaf();
    expect([pt.young(e.hi, e.lo), pt.dirty(e.hi, e.lo), pt.write(e.hi, e.lo)]).toEqual([true, false, true]);
    expect(um.handleMmFault(mm, vma, vpn, true)).toBe(VmFault.OK);
    e = leaf();
    expect([pt.young(e.hi, e.lo), pt.dirty(e.hi, e.lo), pt.pfn(e.hi, e.lo, 0)]).toEqual([
      true,
      true,
      pt.pfn(first.hi, first.lo, 0),
    ]);
    expect(um.handleMmFault(mm, vma, vpn, true)).toBe(VmFault.OK);
    expect(leaf()).toEqual(e);
    expect(um.pgfault - f0).toBe(3);
    expect(mm.rssAnon).toBe(rss0);
    expect(um.pgreuse).toBe(0);
  });
});

describe("wp_can_reuse_anon_folio's folio_move_anon_rmap", () => {
  it("a page a forked child reuses moves to the child's own anon_vma; one it copies is the child's from the start", () => {
    // fork: anon_vma_fork gives B's VMA its own anon_vma, chained to A's; the shared pages keep
    //   A's (folio->mapping); fork cleared PageAnonExclusive (folio_try_dup_anon_rmap)
    // A exits: page 0 is B's alone (refcount 1): B's write -> do_wp_page -> wp_can_reuse_anon_folio
    //   -> folio_move_anon_rmap(folio, vma): folio->mapping = B's anon_vma; wp_page_reuse (same pfn)
    // page 1, written by B while A lived: wp_page_copy, the copy folio_add_new_anon_rmap'd to B's
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    const a = k.spawn("A")!;
    k.switchTo(0, a);
    const va = k.mmap(a, mmapArgs(2 * 4096));
    expect(k.userAccess(0, a, va, Access.Write, 1).ok).toBe(true);
    expect(k.userAccess(0, a, va + 4096n, Access.Write, 1).ok).toBe(true);
    const vpn = Number(va / 4096n);
    const parentAv = a.mm!.vmaAt(vpn)!.anonVma;
    const b = k.fork(a, "B")!;
    const childAv = b.mm!.vmaAt(vpn)!.anonVma;
    expect(childAv).not.toBe(parentAv);
    const pfn0 = k.userMm.readPte(b.mm!, vpn)!;
    const old0 = k.arch.pgtable.pfn(pfn0.hi, pfn0.lo, 0);
    expect(k.vmscan.anonVma[old0]).toBe(parentAv);
    k.switchTo(0, b);
    expect(k.userAccess(0, b, va + 4096n, Access.Write, 2).ok).toBe(true);
    const e1 = k.userMm.readPte(b.mm!, vpn + 1)!;
    expect(k.vmscan.anonVma[k.arch.pgtable.pfn(e1.hi, e1.lo, 0)]).toBe(childAv);
    k.exit(a, "exit");
    const reuse0 = k.userMm.pgreuse;
    expect(k.userAccess(0, b, va, Access.Write, 2).ok).toBe(true);
    const e0 = k.userMm.readPte(b.mm!, vpn)!;
    expect(k.arch.pgtable.pfn(e0.hi, e0.lo, 0)).toBe(old0);
    expect(k.userMm.pgreuse - reuse0).toBe(1);
    expect(k.vmscan.anonVma[old0]).toBe(childAv);
  });
});
