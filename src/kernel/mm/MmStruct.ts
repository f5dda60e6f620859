import type { Pfn } from "../../base/units.ts";
import type { PageTableMapper } from "../../hw/mmu/Mapper.ts";
import type { FileObject } from "../fs/file.ts";
import type { HugetlbFile } from "./hugetlb_vma.ts";
import { Rlimits } from "./rlim.ts";
import type { ShmemObject, Vma } from "./vma.ts";

/**
 * address_space->i_mmap of each file (and of each shared anonymous
 * mapping's shmem object, an inode of its own): every VMA that maps it, with its mm,
 * kept by vma_link and remove_vma (MmStruct.insert, MmStruct.remove).
 * rmap_walk_file, unmap_mapping_range and folio_mkclean visit these VMAs
 * only, not every address space. (Kept here, keyed by the file, so that
 * the file system's objects need not know the mm's types.)
 */
const iMmaps = new WeakMap<FileObject | ShmemObject | HugetlbFile, Map<Vma, MmStruct>>();
const NONE: ReadonlyMap<Vma, MmStruct> = new Map();

/** The VMAs that map `f`, with their mms, in the order they were linked. */
export function iMmap(f: FileObject | ShmemObject | HugetlbFile): ReadonlyMap<Vma, MmStruct> {
  return iMmaps.get(f) ?? NONE;
}

/**
 * The machine's anon_vmas and their chains (Linux: struct anon_vma with the
 * interval tree of anon_vma_chains, mm/rmap.c). Every anonymous page
 * records the anon_vma of the VMA it was faulted in (folio->mapping); the
 * anon_vma lists every VMA that may map its pages: the VMA that made it,
 * the pieces that VMA was split into or moved to (anon_vma_clone), and the
 * copies of them in forked children (anon_vma_fork chains a child's VMA to
 * every anon_vma of its parent's, plus its own). rmap_walk_anon visits
 * those VMAs only. An anon_vma is an id here (vma.anonVma); its chain is
 * the set of (VMA, mm) linked to it, in link order.
 */
export class AnonVmas {
  private last = 0;
  private readonly chains = new Map<number, Map<Vma, MmStruct>>();
  /** bumped whenever a chain may have changed (the reverse map keeps a copy of the last chain it walked) */
  gen = 0;

  /** anon_vma_alloc: a new anon_vma with no VMA linked yet */
  create(): number {
    this.gen++;
    const id = ++this.last;
    this.chains.set(id, new Map());
    return id;
  }

  /** The VMAs linked to anon_vma `id` with their mms (empty when none is). */
  vmas(id: number): ReadonlyMap<Vma, MmStruct> | undefined {
    return this.chains.get(id);
  }

  /**
   * anon_vma_chain_link: every anon_vma of vma's chain learns of vma (in
   * mm). An anon_vma whose last VMA left is linked again (mremap unmaps the
   * old VMA before the new one, a copy, goes in; its pages still name it).
   */
  link(vma: Vma, mm: MmStruct): void {
    this.gen++;
    for (const id of vma.avc) {
      let c = this.chains.get(id);
      if (c === undefined) {
        c = new Map();
        this.chains.set(id, c);
      }
      c.set(vma, mm);
    }
  }

  /** unlink_anon_vmas: vma leaves the chains; an anon_vma no VMA is linked to is dropped */
  unlink(vma: Vma): void {
    this.gen++;
    for (const id of vma.avc) {
      const c = this.chains.get(id);
      if (c === undefined) continue;
      c.delete(vma);
      if (c.size === 0) this.chains.delete(id);
    }
  }
}

/** ids for an MmStruct made outside a kernel (unit tests); a kernel numbers its own (MmContext.lastCtxId) */
let nextCtxId = 1;

/**
 * A user address space (Linux: struct mm_struct). VMAs are kept sorted by
 * address and never overlap (Linux keeps them in a maple tree; a sorted
 * array has the same semantics). Addresses are 4K page numbers.
 */
export class MmStruct {
  readonly vmas: Vma[] = [];
  /** bumped on every TLB flush request (mm->context.tlb_gen) */
  tlbGen = 1;
  /**
   * page-table changes whose TLB flush is still owed: open mmu_gathers
   * (mm->tlb_flush_pending, inc_tlb_flush_pending). Zero between operations.
   */
  tlbFlushPending = 0;
  /**
   * mm->tlb_flush_batched: reclaim's deferred flushes of this mm (bits
   * 0-14: batches pending, 16-30: batches flushed; mm/tlbbatch.ts).
   */
  tlbFlushBatched = 0;
  /** CPUs that have this mm loaded (mm_cpumask) */
  readonly cpumask = new Set<number>();
  /** resident pages by kind (MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES) */
  rssAnon = 0;
  /** swap entries in the page tables (MM_SWAPENTS) */
  swapEnts = 0;
  rssFile = 0;
  rssShmem = 0;
  /** page-table pages below the top level (VmPTE), the tables huge PMDs hold in deposit too */
  ptPages = 0;
  /**
   * mm->hugetlb_usage (pages): HugeTLB pages this mm's own faults and fork's copy mapped
   * (hugetlb_count_add), less those its unmaps took (hugetlb_count_sub); a huge page seen
   * through another mm's shared PMD table is not counted (mm/hugetlb_pmd_share.ts)
   */
  hugetlbUsage = 0;
  /**
   * mm->hiwater_rss and mm->hiwater_vm (pages): the high-water marks of RSS
   * and total_vm, kept only where they are about to drop (updateHiwaterRss,
   * updateHiwaterVm); readers take the max with the current value
   * (get_mm_hiwater_rss, get_mm_hiwater_vm). Linux: include/linux/mm_types.h
   */
  hiwaterRss = 0;
  hiwaterVm = 0;
  /**
   * The PTE tables deposited by huge PMDs, by the PMD table that holds
   * them (pmd_huge_pte: with split PMD locks, one list per PMD page).
   * Linux: mm/pgtable-generic.c pgtable_trans_huge_deposit
   */
  readonly pmdHugePte = new Map<number, number[]>();
  /**
   * The resource limits of the process this mm belongs to (current->signal->rlim: the
   * signal_struct its tasks share; core/sched.ts sets it at spawn and fork, threads share it
   * as they share the mm). Linux reads them through current; vmlab's mapping paths through the mm.
   */
  rlim = new Rlimits();
  /**
   * mm->def_flags: VMA flags every new mapping of the mm starts with (do_mmap, do_brk_flags).
   * vmlab's only ones are mlockall(MCL_FUTURE)'s VM_LOCKED and MCL_ONFAULT's VM_LOCKONFAULT
   * (mm/mlock.c apply_mlockall_flags). A new mm starts with 0: mm_init keeps only
   * VM_INIT_DEF_MASK (VM_NOHUGEPAGE, which vmlab never sets) of the parent's (kernel/fork.c).
   */
  defFlags = 0;
  /**
   * MMF_HAS_PINNED: a FOLL_PIN get_user_pages ran on this mm once (mm_set_has_pinned_flag, never
   * cleared; copy_process does not inherit it). Fork then copies a maybe-pinned exclusive
   * anonymous page at once (folio_needs_cow_for_dma). Linux: mm/gup.c mm_set_has_pinned_flag
   */
  hasPinned = false;
  /** the pages fork copied into this child rather than share (copy_present_page: maybe DMA-pinned); vmlab's, for fork's note */
  forkCopied = 0;
  /**
   * MMF_DISABLE_THP: prctl(PR_SET_THP_DISABLE, 1) ran (kernel/sys.c); no transparent huge page
   * of any order on this mm's VMAs (vma_thp_disabled: faults, khugepaged, MADV_COLLAPSE, shmem,
   * file PMD mappings). In MMF_INIT_MASK: a forked child inherits it (kernel/fork.c mmf_init_flags).
   */
  disableThp = false;
  /** pages of private writable mappings charged against overcommit (Committed_AS share) */
  committed = 0;
  /**
   * Pages mm->locked_vm counts that no VM_LOCKED VMA holds (vmlab counts locked_vm from the
   * VMAs, plus this): MREMAP_DONTUNMAP clears VM_LOCKED on the whole old VMA and leaves locked_vm
   * as it was (mm/mremap.c move_vma), so the old VMA's pages outside the moved range stay counted
   * until exit (a forked child starts at 0: mm_init)
   */
  lockedVmStale = 0;
  /** start_brk (a vpn) and the break itself (bytes: brk need not be page-aligned) */
  startBrk = 0;
  brkBytes = 0;
  /** top of the main stack (exclusive), in pages */
  stackTop = 0;
  /** mmap_base: top-down allocations start below it */
  mmapBase = 0;
  /** exit_mmap has run; the PGD stays until no CPU has the mm loaded */
  dead = false;
  /** tasks sharing this mm (mm_users) */
  users = 1;
  /**
   * mm->context.pkey_allocation_map: bit N set when protection key N is
   * allocated (init_new_context sets bit 0 where the CPU has keys)
   */
  pkeyAllocationMap = 0;
  /**
   * mm->context.execute_only_pkey: the key of PROT_EXEC-only mappings, -1
   * until one is needed (init_new_context, with keys); 0 in a zeroed mm
   * where the CPU has none, which makes key 0 unfreeable there
   */
  executeOnlyPkey = 0;
  private nextAnonVma = 1;
  /** the machine's anon_vmas (null for an mm made outside a kernel: ids are then the mm's own) */
  anonVmas: AnonVmas | null = null;
  /**
   * The operating-system profile's per-process state (profile=windows: the
   * VAD tree and the process's exception record, kernel/os/windows); null
   * for Linux, whose state is the fields above.
   */
  osState: unknown = null;
  /**
   * The editor of this mm's page tables (mm/pgtable.ts mapper), built once
   * for the context that owns the mm and kept: the fault and reclaim paths
   * reach the tables through it on every call.
   */
  ptMapper: PageTableMapper | null = null;
  ptMapperOwner: object | null = null;
  /**
   * The PMD table pmdPa found last (mm/pgtable.ts): the physical address of the table under
   * which `pmdTableKey` (a vpn / the pages one PMD table spans) lies, found from `pmdTableRoot`
   * while no upper table had been unlinked since (`pmdTableEpoch`); -1: none.
   */
  pmdTableKey = -1;
  pmdTablePa = 0;
  pmdTableRoot = -1;
  pmdTableEpoch = -1;
  /**
   * The index in `vmas` of the VMA the last user fault was in (core/findvma.ts): the next fault of a
   * run of accesses is almost always in it. A host shortcut (Linux 6.12 has no per-thread vmacache
   * since 6.1: lock_vma_under_rcu walks the maple tree), checked on use, never trusted.
   */
  faultVmaIndex = 0;

  constructor(
    public pgdPfn: Pfn,
    /** unique id of this mm for ASID reuse (Linux: mm->context.ctx_id, from the machine's last_mm_ctx_id) */
    readonly ctxId: number = nextCtxId++,
  ) {}

  /** A fresh anon_vma id (split pieces share theirs; merges need compatible ones). */
  newAnonVma(): number {
    return this.anonVmas !== null ? this.anonVmas.create() : this.nextAnonVma++;
  }

  /**
   * anon_vma_prepare: the VMA (already in this mm) gets its own anon_vma
   * at its first anonymous page, and is linked to it.
   * Linux: mm/rmap.c __anon_vma_prepare
   */
  anonVmaPrepare(vma: Vma): void {
    if (vma.anonVma !== 0) return;
    vma.anonVma = this.newAnonVma();
    vma.avc.push(vma.anonVma);
    this.anonVmas?.link(vma, this);
  }

  /**
   * A merge: `vma` (without an anon_vma) takes over the one of `from`, and
   * every anon_vma `from` is chained to. Linux: mm/vma.c dup_anon_vma
   */
  dupAnonVma(vma: Vma, from: Vma): void {
    if (vma.anonVma !== 0 || from.anonVma === 0) return;
    vma.anonVma = from.anonVma;
    vma.avc = from.avc.slice();
    if (this.vmas.includes(vma)) this.anonVmas?.link(vma, this);
  }

  /** find_vma: the first VMA with vmEnd > vpn (it may start above vpn), or null. */
  findVma(vpn: number): Vma | null {
    const i = this.findVmaIndex(vpn);
    return i < this.vmas.length ? this.vmas[i] : null;
  }

  /** find_vma's search: the index of the first VMA with vmEnd > vpn (vmas.length: none). */
  findVmaIndex(vpn: number): number {
    let lo = 0;
    let hi = this.vmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.vmas[mid].vmEnd > vpn) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The VMA containing vpn, or null. */
  vmaAt(vpn: number): Vma | null {
    const v = this.findVma(vpn);
    return v !== null && v.vmStart <= vpn ? v : null;
  }

  indexOf(vma: Vma): number {
    return this.vmas.indexOf(vma);
  }

  insert(vma: Vma): void {
    let i = 0;
    while (i < this.vmas.length && this.vmas[i].vmStart < vma.vmStart) i++;
    this.vmas.splice(i, 0, vma);
    this.anonVmas?.link(vma, this);
    const mapping = vma.file ?? vma.shmem ?? vma.htlb?.file ?? null;
    if (mapping !== null) {
      // vma_link_file
      let m = iMmaps.get(mapping);
      if (m === undefined) {
        m = new Map();
        iMmaps.set(mapping, m);
      }
      m.set(vma, this);
    }
  }

  remove(vma: Vma): void {
    const i = this.vmas.indexOf(vma);
    if (i >= 0) {
      this.vmas.splice(i, 1);
      this.anonVmas?.unlink(vma);
      const mapping = vma.file ?? vma.shmem ?? vma.htlb?.file ?? null;
      if (mapping !== null) iMmaps.get(mapping)?.delete(vma); // remove_vma -> unlink_file_vma
    }
  }

  get rss(): number {
    return this.rssAnon + this.rssFile + this.rssShmem;
  }

  totalVm(): number {
    let n = 0;
    for (const v of this.vmas) n += v.pages;
    return n;
  }

  /**
   * update_hiwater_rss: record RSS as the high-water mark before it drops.
   * Called only where Linux calls it: munmap (vms_clear_ptes),
   * zap_page_range_single (MADV_DONTNEED, unmap_mapping_range),
   * madvise_free_single_vma, try_to_unmap_one (reclaim) and
   * try_to_migrate_one. Linux: include/linux/mm.h update_hiwater_rss
   */
  updateHiwaterRss(): void {
    const rss = this.rssAnon + this.rssFile + this.rssShmem;
    if (this.hiwaterRss < rss) this.hiwaterRss = rss;
  }

  /**
   * update_hiwater_vm: record total_vm before it drops (munmap:
   * vms_complete_munmap_vmas). Linux: include/linux/mm.h update_hiwater_vm
   */
  updateHiwaterVm(): void {
    const vm = this.totalVm();
    if (this.hiwaterVm < vm) this.hiwaterVm = vm;
  }
}

/**
 * The part [a, b) of [start, end) each VMA covers, in address order, the next VMA looked up
 * again from the last part's end (the caller may split VMAs between): madvise_walk_vmas' loop.
 */
export function* vmaParts(mm: MmStruct, start: number, end: number): Generator<[Vma, number, number]> {
  let at = start;
  while (at < end) {
    const v = mm.vmas.find((x) => x.vmEnd > at && x.vmStart < end);
    if (v === undefined) return;
    const b = Math.min(end, v.vmEnd);
    yield [v, Math.max(at, v.vmStart), b];
    at = b;
  }
}
