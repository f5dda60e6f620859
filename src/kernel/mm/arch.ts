/**
 * What generic mm code asks of an architecture about page tables, and
 * nothing else: Linux's include/linux/pgtable.h contract, which each
 * arch/X/include/asm/pgtable*.h fills in. The x86-64 implementation is in
 * kernel/arch/x86/pgtable.ts; mm/ reaches an architecture only through this.
 *
 * - the vocabulary of entries: pte_none, pte_present, pte_protnone,
 *   pte_accessible, pte_write, pte_dirty, pte_young, pte_special,
 *   pmd_trans_huge (`leaf`), pte_pfn/pmd_pfn, the swap-entry and PTE-marker
 *   encodings, and the entries mm makes (pfn_pte with vm_get_page_prot,
 *   pte_mkyoung/mkdirty/mkwrite/mkold/mkclean/wrprotect as `modify`,
 *   __split_huge_pmd's PTEs, pmd_populate's table entries);
 * - the geometry: levels, PTRS_PER_*, the PMD level of transparent huge
 *   pages, USER_PGTABLES_CEILING;
 * - entries in RAM (ptep_get, set_pte_at, set_pgd with PTI's mirror);
 * - building tables (the mapper: p?d_alloc) and a new mm's PGD (pgd_alloc:
 *   the kernel half, and PTI's pair).
 *
 * Entries are two unsigned 32-bit halves (hi, lo); an architecture with
 * 32-bit entries keeps hi = 0. Methods that return an entry return a new
 * `Entry`; nothing here is on the per-access path (faults, system calls and
 * reclaim only).
 */
import type { Pfn } from "../../base/units.ts";
import type { FrameAllocator, PageTableMapper } from "../../hw/mmu/Mapper.ts";
import type { PhysMem } from "../../hw/PhysMem.ts";
import type { MmStruct } from "./MmStruct.ts";

/**
 * Which flush of a user range the generic mm asks for: the architectures
 * issue different operations for each (arm64: last-level TLBIs for leaf
 * changes only; x86: IPIs to lazy CPUs too once page tables were freed).
 */
export const enum TlbFlush {
  /** flush_tlb_range: entries at any level may have changed (arm64 TLBI VAE1IS) */
  Range = 0,
  /** flush_tlb_page: one leaf entry (arm64 TLBI VALE1IS) */
  Page = 1,
  /** tlb_flush of an mmu_gather that freed no page table (arm64 last_level: VALE1IS) */
  Leaves = 2,
  /** tlb_flush of an mmu_gather that freed page tables (tlb->freed_tables: arm64 VAE1IS, x86 reaches lazy CPUs) */
  Tables = 3,
  /**
   * flush_pmd_tlb_range: huge PMD entries over whole PMDs, stride PMD_SIZE
   * (arm64: __flush_tlb_range with tlb_level 2; RISC-V: one fence per PMD;
   * x86 has no flush_pmd_tlb_range of its own: the generic flush_tlb_range)
   */
  Pmd = 4,
}

/** One page-table entry's value. */
export interface Entry {
  hi: number;
  lo: number;
}

/** Software-visible state bits every architecture's entries carry, for `modify`. */
export const enum PteFlag {
  /** accessed (x86 A, ARM64 AF, RISC-V A): pte_mkyoung / pte_mkold */
  YOUNG = 1,
  /** dirty (x86 D; ARM64 !AP[2] with DBM; RISC-V D): pte_mkdirty / pte_mkclean */
  DIRTY = 2,
  /** writable: pte_mkwrite / pte_wrprotect */
  WRITE = 4,
}

export interface Pgtable {
  /** levels of a full walk (x86-64: 4, or 5 with LA57) */
  readonly levels: number;
  /** entries per table at every level (PTRS_PER_PTE = PTRS_PER_PMD = ...) */
  readonly ptrsPerTable: number;
  /** bytes per entry */
  readonly entryBytes: number;
  /**
   * `set` of an 8-byte entry below the top level is PhysMem.write64 of its halves and nothing
   * more (not so on the inverted machine: HashPgtable.set drops the IPT entries made from the PTE,
   * pte_update -> hpte_need_flush): a caller may then store the entry into its table's words
   * itself where nothing observes stores (PhysMem.frameWordsToStore; the reverse map, rmap.ts).
   */
  readonly setIsStore: boolean;
  /** the level whose entries map transparent huge pages (the PMD: 1) and its base pages (HPAGE_PMD_NR) */
  readonly pmdLevel: number;
  readonly hpagePmdNr: number;
  /**
   * The PUD level maps HugeTLB's gigantic pages (PUD_SIZE, 1 GiB): x86-64
   * with X86_FEATURE_GBPAGES (arch/x86/mm/hugetlbpage.c
   * arch_hugetlb_valid_size), arm64 with 4K pages (a level-1 block:
   * arch/arm64/mm/hugetlbpage.c), RISC-V Sv39/48/57 (a leaf at level 2:
   * arch/riscv/mm/hugetlbpage.c). Absent: PMD-sized HugeTLB pages only
   * (i386, PAE or not, has no 1 GiB pages).
   */
  readonly hugetlbPud?: boolean;
  /**
   * CONFIG_MMU_GATHER_MERGE_VMAS (x86): an mmu_gather's range spans the VMAs
   * it walked and is flushed once; absent (arm64, RISC-V): tlb_end_vma
   * flushes at each VMA's end (include/asm-generic/tlb.h tlb_end_vma).
   */
  readonly mmuGatherMergeVmas?: boolean;
  /**
   * arm64's tlb_flush (arch/arm64/include/asm/tlb.h): a fullmm gather (exit_mmap) whose flush
   * frees no table issues no TLBI ("we only care about invalidating the walk-cache, since the
   * ASID allocator won't reallocate our ASID without invalidating the entire TLB"); one that
   * freed tables is flush_tlb_mm. Absent (x86, RISC-V): a fullmm flush is the whole mm's.
   */
  readonly fullmmFlushesWalkCacheOnly?: boolean;
  /** first vpn of the kernel half: tables below it are a process's own (USER_PGTABLES_CEILING) */
  readonly userPgtablesCeiling: number;
  /**
   * The first vpn init_mm's root translates: 0 where one root serves both
   * halves and every process's PGD carries a copy of the kernel half (x86);
   * `userPgtablesCeiling` where the kernel half has a root register of its
   * own (arm64 TTBR1 = swapper_pg_dir): a process's PGD then holds the user
   * half only, and a kernel vpn is walked from init_mm's root, never from a
   * process's.
   */
  readonly kernelRootVpn: number;
  /**
   * ptep_set_access_flags flushes the page after a write fault's change
   * (arm64: an abort leaves the stale entry in the TLB, so
   * __ptep_set_access_flags issues flush_tlb_page when `dirty`); false
   * where the fault itself dropped it (x86).
   */
  readonly accessFlagsFlush: boolean;
  /**
   * Does pmdp_invalidate_ad flush the huge entry at once? The generic one is pmdp_invalidate
   * (flush_pmd_tlb_range: arm64, RISC-V); x86's own (__HAVE_ARCH_PMDP_INVALIDATE_AD) does not,
   * since an invalid entry's accessed and dirty bits cannot change. change_huge_pmd uses it.
   */
  readonly pmdpInvalidateAdFlushes?: boolean;
  /**
   * ptep_clear_flush_young (folio_referenced's accessed-bit clear of a
   * PTE) flushes the page when its accessed bit was set: the generic
   * mm/pgtable-generic.c version (flush_tlb_page) and arm64's
   * __ptep_clear_flush_young (flush_tlb_page_nosync: TLBI VALE1IS without
   * the DSB that waits for it). False where the architecture's own
   * version only clears the bit (x86 arch/x86/mm/pgtable.c, i386 and PAE
   * included; RISC-V asm/pgtable.h): the TLB entry survives and the CPU
   * keeps using it without setting the accessed bit again, which is only
   * set by a walk, until a context switch or a VM operation drops it
   * ("incorrect page aging"). pmdp_clear_flush_young flushes the huge
   * PMD's range on every architecture (x86's own version and the generic
   * one both do).
   */
  readonly clearYoungFlush: boolean;
  /**
   * arch_wants_old_prefaulted_pte: fault-around maps the pages other than
   * the faulting one old (set_pte_range's `prefault`), so reclaim does not
   * take an unused neighbour for a used page (arm64 with the hardware
   * Access flag: !arch_faults_on_old_pte). Absent: false (young, as
   * vm_page_prot's _PAGE_ACCESSED makes them).
   */
  readonly oldPrefaultedPte?: boolean;
  /**
   * VM_DATA_DEFAULT_FLAGS is VM_DATA_FLAGS_NON_EXEC (RISC-V): a heap grown by
   * brk is never executable. Absent: VM_DATA_FLAGS_TSK_EXEC (x86, arm64):
   * VM_EXEC when the task's personality has READ_IMPLIES_EXEC.
   */
  readonly dataNonExec?: boolean;
  /** Linux's names of the levels, leaf first: PTE, PMD, PUD, (P4D,) PGD */
  readonly levelNames: readonly string[];

  // ---- what an entry is ----
  /** pte_none: nothing at all (no mapping, swap entry or marker) */
  none(hi: number, lo: number): boolean;
  /** pte_present: maps a frame, PROT_NONE included */
  present(hi: number, lo: number): boolean;
  /** pte_accessible: maps a frame the hardware may use (present and not PROT_NONE) */
  accessible(hi: number, lo: number): boolean;
  /** pte_protnone: maps a frame with no access (PAGE_NONE) */
  protnone(hi: number, lo: number): boolean;
  /**
   * pte_access_permitted's user check beyond a valid entry (absent: none): arm64 wants PTE_USER, so
   * gup_fast leaves an execute-only entry (PAGE_EXECONLY, EPAN) to the slow path
   */
  userAccessPermitted?(hi: number, lo: number): boolean;
  write(hi: number, lo: number): boolean;
  dirty(hi: number, lo: number): boolean;
  young(hi: number, lo: number): boolean;
  /** pte_special: no struct page is refcounted for it (the zero page, remap_pfn_range frames) */
  special(hi: number, lo: number): boolean;
  /** at level > 0: maps a page (a huge PMD, present or PROT_NONE) rather than pointing to a table (pmd_trans_huge) */
  leaf(hi: number, lo: number, level: number): boolean;
  /** at level > 0: points to a present table (pmd_present && !pmd_leaf) */
  table(hi: number, lo: number, level: number): boolean;
  /** pte_pfn / pmd_pfn: the first frame a leaf maps, or the frame of the table an entry points to */
  pfn(hi: number, lo: number, level: number): number;
  /**
   * pte_needs_flush / huge_pmd_needs_flush: may a TLB still hold a
   * translation from the old entry that the new one does not allow? False
   * when the old entry was never cached (not present) or the change only
   * adds what hardware would otherwise fault on and retry (a spurious fault
   * at most) or only clears the accessed bit. An architecture without its
   * own rule answers true for every change of a present entry
   * (include/asm-generic/tlb.h's default).
   */
  needsFlush(oldHi: number, oldLo: number, newHi: number, newLo: number, level: number): boolean;

  // ---- entries that map nothing ----
  /** is_swap_pte: a swap entry (vmlab has one swap area: type 0) */
  isSwap(hi: number, lo: number): boolean;
  /** swp_offset: the slot of a swap entry (the exclusive marker ignored) */
  swapOffset(hi: number, lo: number): number;
  /**
   * The high half of swp_entry_to_pte(swp_entry(0, offset)), with the
   * exclusive marker when `exclusive` (pte_swp_mkexclusive: try_to_unmap_one
   * of a PageAnonExclusive page). The two halves come from two calls, so
   * that reclaim makes no object per swap entry (`mkSwapEntry` joins them).
   */
  mkSwapHi(offset: number, exclusive: boolean): number;
  /** The low half of the same entry. */
  mkSwapLo(offset: number, exclusive: boolean): number;
  /**
   * set_pte_at(swp_entry_to_pte(swp_entry(0, offset))) at `pa`, with the
   * exclusive marker when `exclusive`: try_to_unmap_one's store of the swap
   * entry, one call (the entry's halves as mkSwapHi and mkSwapLo make them).
   */
  setSwap(phys: PhysMem, pa: number, offset: number, exclusive: boolean): void;
  /** pte_swp_exclusive: the swap entry carries the exclusive marker (_PAGE_SWP_EXCLUSIVE) */
  swapExclusive(hi: number, lo: number): boolean;
  /** pte_swp_clear_exclusive: the same swap entry without the marker */
  swapClearExclusive(hi: number, lo: number): Entry;
  /** a guard marker (MADV_GUARD_INSTALL, Linux 6.13 PTE_MARKER_GUARD) */
  isGuard(hi: number, lo: number): boolean;
  readonly guard: Entry;

  // ---- entries mm makes ----
  /**
   * A user leaf at `level` (a PTE, or a huge PMD) for `pfn` under a VMA's
   * rights (pfn_pte(pfn, vm_get_page_prot(vmFlags))): accessed, no-execute
   * unless VM_EXEC, PAGE_NONE without any right; then writable, dirty and
   * special as asked (maybe_mkwrite, pte_mkdirty, pte_mkspecial).
   */
  mkUser(
    pfn: number,
    level: number,
    vmFlags: number,
    writable: boolean,
    dirty: boolean,
    special: boolean,
  ): Entry;
  /**
   * mkUser written into `out` (returned): the demand-zero fault's PTE without an object per
   * fault (do_anonymous_page, mm/memory.ts), the same bits as mkUser's.
   */
  mkUserInto(
    out: Entry,
    pfn: number,
    level: number,
    vmFlags: number,
    writable: boolean,
    dirty: boolean,
    special: boolean,
  ): Entry;
  /**
   * Where pfn_pte puts a base page's frame, when it is a shift of the frame number alone: for
   * every pfn below 2^(32 - userPfnShift), mkUser(pfn, 0, ...) is mkUser(0, 0, ...) (whose low
   * half is below 2^userPfnShift) with pfn * 2^userPfnShift added to its low half and the same
   * high half (a PTE's other bits are the VMA's rights and the flags asked, the same for every
   * frame). doAnonymousRun (mm/anon_fault.ts) makes a run's PTEs from one mkUser so. Absent or
   * 0: not so (each PTE made by mkUserInto).
   */
  readonly userPfnShift?: number;
  /** The entry with PteFlag bits set and cleared (pte_mkyoung, pte_mkdirty, pte_mkwrite, pte_mkold, pte_mkclean, pte_wrprotect). */
  modify(hi: number, lo: number, set: number, clear: number): Entry;
  /** modify, the entry written into `out` (returned): no new object */
  modifyInto(out: Entry, hi: number, lo: number, set: number, clear: number): Entry;
  /** A PTE for frame `pfn` of a huge PMD being split, with the PMD's rights and state (__split_huge_pmd_locked). */
  splitPte(pmdHi: number, pmdLo: number, pfn: number, special: boolean): Entry;
  /** A table entry pointing to the table in frame `pfn` (pmd_populate: the table of a user mapping). */
  mkTable(pfn: number, user: boolean): Entry;

  // ---- entries in RAM ----
  /** ptep_get */
  get(phys: PhysMem, pa: number): Entry;
  /** set_pte_at / set_pmd_at (below the top level); the halves signed or unsigned (each taken `>>> 0`) */
  set(phys: PhysMem, pa: number, hi: number, lo: number): void;
  /** set_pgd / pgd_clear: a top-level entry, mirrored where the architecture keeps a second PGD (PTI) */
  setTop(phys: PhysMem, pa: number, hi: number, lo: number): void;

  // ---- tables ----
  /** The software walker and builder of this architecture's tables, taking table pages from `alloc`. */
  mapper(phys: PhysMem, alloc: FrameAllocator): PageTableMapper;
  /**
   * The tables under the top level's user entries come with the PGD and go
   * with it (x86 PAE: pgd_alloc's preallocate_pmds; the PDPTEs are loaded
   * only at a CR3 write, so they are never changed after pgd_ctor):
   * free_pgd_range leaves them. Absent: false.
   */
  readonly preallocatedPmds?: boolean;
  /** The order of a PGD allocation (0; 1 for PTI's kernel/user pair; 2 for PAE's PDPT with its three user PMDs) */
  readonly pgdOrder: number;
  /**
   * PMD tables inside the PGD's own block (x86 PAE without PTI: the three user
   * PMDs), each counted as preallocate_pmds counts it (NR_PAGETABLE,
   * mm_inc_nr_pmds). Absent: 0.
   */
  readonly pgdBlockPmds?: number;
  /**
   * The pages of the PGD block pgd_alloc allocates with GFP_PGTABLE_USER as pages, so that
   * __GFP_ACCOUNT charges them to the memory cgroup as kernel memory (MEMCG_KMEM: memory.stat
   * kernel, not pagetables: no constructor). Absent: 0 (RISC-V's GFP_KERNEL; PAE's PDPT from the
   * pgd_cache slab).
   */
  readonly pgdAccountPages?: number;
  /**
   * CONFIG_HUGETLB_PMD_PAGE_TABLE_SHARING (ARCH_WANT_HUGE_PMD_SHARE and SPLIT_PMD_PTLOCKS):
   * shared HugeTLB mappings share PMD tables (mm/hugetlb_pmd_share.ts).
   */
  readonly hugePmdShare: boolean;
  /** pgd_ctor: fills a new PGD (zeroed, `pgdOrder` pages at pgdPfn) with the kernel half of init_mm's */
  pgdCtor(phys: PhysMem, kernelPgdPfn: number, pgdPfn: number): void;
  /** The PGD user code runs on (PTI: the second page of the pair). */
  userPgd(pgdPfn: number): Pfn;
  /**
   * pgd_alloc's tables outside the PGD block, after pgdCtor (x86 PAE with
   * PTI: preallocate_pmds, pgd_prepopulate_pmd, pgd_prepopulate_user_pmd),
   * each a zeroed page-table page from `alloc` (-1: none left). False when
   * one was missing; those taken are back through `free`. Absent: none.
   */
  pgdAllocTables?(
    phys: PhysMem,
    kernelPgdPfn: number,
    pgdPfn: number,
    alloc: () => number,
    free: (pfn: number) => void,
  ): boolean;
  /** pgd_free's pgd_mop_up_pmds: the tables pgdAllocTables gave the PGD, each to `free`. */
  pgdFreeTables?(phys: PhysMem, pgdPfn: number, free: (pfn: number) => void): void;
  /**
   * Contiguous PTEs the architecture manages behind the PTE accessors
   * (arm64 CONFIG_ARM64_CONTPTE: arch/arm64/mm/contpte.c); absent or null
   * elsewhere (and on arm64 with contpte off). Generic mm calls it at its
   * PTE writes (mm/pgtable.ts setPteAt, ptepModify, ptepClearFlushOf,
   * ptepSetAccessFlags; the raw clears of zap, reclaim, mremap, khugepaged;
   * the accessed-bit clear of folio_referenced; set_ptes of an mTHP fault).
   */
  readonly contpte?: ContPte | null;
  /**
   * HugeTLB sizes mapped by a run of contiguous entries (arm64 4K granule:
   * CONT_PTE_SIZE 64K and CONT_PMD_SIZE 32M, arch/arm64/mm/hugetlbpage.c;
   * RISC-V with Svnapot: 64K NAPOT PTEs, arch/riscv/mm/hugetlbpage.c);
   * absent or null: none (x86, i386: arch_hugetlb_valid_size refuses them).
   */
  readonly hugetlbCont?: HugetlbCont | null;
}

/**
 * An architecture's contiguous HugeTLB sizes and arch_make_huge_pte's mark
 * (mm/hugetlb_cont.ts uses them as the arch's huge_pte helpers do).
 */
export interface HugetlbCont {
  /** each size: its base pages and the level of its entries (num_contig_ptes: 16 entries each) */
  readonly sizes: readonly { readonly nrPages: number; readonly level: number }[];
  /**
   * Entry `i` of the run whose first entry (a user leaf at `level` for the
   * folio's first frame, pfn_pte(pfn, prot)) is (hi, lo), with the run's
   * mark: arm64 pte_mkcont with pfn + i * dpfn (set_huge_pte_at); RISC-V
   * pte_mknapot (PPN[3:0] = 1000, N), the same entry for every i.
   */
  contEntry(hi: number, lo: number, level: number, i: number): Entry;
  /** pte_cont / pte_napot: the entry is one of a run */
  isCont(hi: number, lo: number): boolean;
  /**
   * RISC-V's NAPOT runs (every entry alike): huge_ptep_set_access_flags
   * always breaks and remakes the run, get_clear_contig_flush flushes only
   * a run that was not none. False: arm64's (each entry its own frames).
   */
  readonly napot: boolean;
}

/**
 * What the contpte hooks use of the kernel (a subset of MmEnv): RAM, the
 * TLB flush of an mm's range, and the live mTHP folios (page_folio of a
 * frame, folio_nr_pages).
 */
export interface ContPteEnv {
  readonly phys: PhysMem;
  flushTlbMmRange(mm: MmStruct, startVpn: number, nrPages: number, kind?: TlbFlush, stride?: number): void;
  readonly mthp?: {
    readonly liveOrders: number;
    headOf(pfn: number): number;
    readonly heads: Map<number, number>;
  };
}

/**
 * The contpte hooks (arm64 asm/pgtable.h's CONFIG_ARM64_CONTPTE wrappers
 * around __set_ptes, __ptep_get_and_clear...). `pa` is the PTE's address,
 * `vpn` the page it maps in mm. Off the per-access path: faults, system
 * calls and reclaim only; a PTE without the bit costs one read.
 */
export interface ContPte {
  /** CONT_PTES: the PTEs of one block (arm64 4K granule: 16) */
  readonly nr: number;
  /** pte_cont */
  isCont(hi: number, lo: number): boolean;
  /** pte_mkcont of a PTE mm made (a PTE of a fully covered aligned block of set_ptes) */
  mkCont(e: Entry): Entry;
  /** contpte_try_unfold: the PTE at pa is about to change alone: unfold its block if folded (break-before-make) */
  tryUnfold(env: ContPteEnv, mm: MmStruct, pa: number, vpn: number): void;
  /** contpte_try_fold: after set_pte of the PTE at pa, fold its block if it is the last and the 16 qualify */
  tryFold(env: ContPteEnv, mm: MmStruct, pa: number, vpn: number): void;
  /**
   * set_pte_at (set_ptes, nr = 1): the value without the bit, written after
   * unfolding the old PTE's block, then contpte_try_fold; with mm null only
   * the write (a PTE of no folded block, no fold tried).
   */
  setPte(env: ContPteEnv, mm: MmStruct | null, pa: number, vpn: number, hi: number, lo: number): void;
  /** contpte_try_unfold_partial at both ends of [vpn, end) of the PTE table `tablePfn`: clearing the range leaves no half block folded */
  unfoldPartial(env: ContPteEnv, mm: MmStruct, tablePfn: number, vpn: number, end: number): void;
  /**
   * contpte_ptep_test_and_clear_young / contpte_ptep_clear_flush_young of a
   * contiguous PTE: AF cleared on the whole block, young if any had it, the
   * block's range flushed when `flush` and it was young.
   */
  clearYoung(env: ContPteEnv, mm: MmStruct, pa: number, vpn: number, flush: boolean): boolean;
  /**
   * contpte_ptep_set_access_flags of a contiguous PTE: access and dirty set
   * on the whole block (flushed when `dirty`), or, if the write permission
   * changes, the block unfolded and the one PTE set.
   */
  setAccessFlags(env: ContPteEnv, mm: MmStruct, pa: number, vpn: number, next: Entry, dirty: boolean): void;
}

/**
 * swp_entry_to_pte(swp_entry(0, offset)) as one `Entry` (pte_swp_mkexclusive
 * when `exclusive`), for code off reclaim's path (tests, views): both halves
 * of `Pgtable.mkSwapHi` / `mkSwapLo`.
 */
export function mkSwapEntry(pt: Pgtable, offset: number, exclusive: boolean): Entry {
  return { hi: pt.mkSwapHi(offset, exclusive), lo: pt.mkSwapLo(offset, exclusive) };
}

/**
 * What reclaim's batched TLB flush asks of an architecture
 * (CONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH: asm/tlbflush.h's
 * arch_tlbbatch_* hooks), bound to the CPU the reclaiming task runs on. The
 * architecture keeps the batch's own part (struct
 * arch_tlbflush_unmap_batch: x86 and RISC-V a cpumask, arm64 nothing);
 * mm/tlbbatch.ts keeps the generic part (struct tlbflush_unmap_batch).
 * Absent (MmEnv.tlbUbc undefined): try_to_unmap flushes every page at once.
 */
export interface ArchTlbBatch {
  /** arch_tlbbatch_should_defer(mm): may this PTE's flush wait for the batch's? */
  shouldDefer(mm: MmStruct): boolean;
  /** arch_tlbbatch_add_pending(batch, mm, uaddr): the page at `vpn` of mm was cleared without a flush */
  addPending(mm: MmStruct, vpn: number): void;
  /** arch_tlbbatch_flush(batch): every flush the batch owes, then the batch is empty */
  flush(): void;
  /** arch_flush_tlb_batched_pending(mm): what mprotect, munmap, mremap and madvise owe a batch that may not have flushed mm yet */
  flushBatchedPending(mm: MmStruct): void;
}
