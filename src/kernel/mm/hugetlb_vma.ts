/**
 * The HugeTLB state mm/hugetlb.ts works on: the pool (struct hstate), and
 * what a HugeTLB VMA holds: the hugetlbfs inode it maps and, for a private
 * mapping, the reservation map its creator owns. Kept apart from
 * mm/hugetlb.ts, importing nothing, so that internal.ts, vma.ts and
 * MmStruct.ts name the types without importing the code.
 *
 * - `HugetlbFile` is the inode: a MAP_HUGETLB mapping gets one of its own
 *   on the internal hugetlbfs mount (hugetlb_file_setup, shown as
 *   "/anon_hugepage (deleted)"); a forked child's VMA maps the same one.
 *   Its page cache holds a shared mapping's folios, and its reservation
 *   map (inode_resv_map) the huge-page indexes reserved or instantiated
 *   for shared mappings. `refs` counts the VMAs holding it (the file's
 *   references): the last one's close evicts the inode
 *   (hugetlbfs_evict_inode: remove_inode_hugepages, hugetlb_unreserve_pages).
 * - `HugetlbVma` is vm_private_data: for a private mapping whose creator
 *   reserved its pages, the reservation map (HPAGE_RESV_OWNER), whose
 *   entries, for a private mapping, are the indexes whose reservation was
 *   consumed (a page instantiated); HPAGE_RESV_UNMAPPED once the owner's
 *   COW took a child's page (unmap_ref_private).
 *
 * Linux: include/linux/hugetlb.h (struct resv_map, HPAGE_RESV_*),
 * fs/hugetlbfs/inode.c (hugetlbfs inode), mm/hugetlb.c (vma_resv_map).
 */

/**
 * A hugetlbfs inode of an internal mount (hugetlb_file_setup): MAP_HUGETLB's
 * (HUGETLB_ANONHUGE_INODE), or a SysV segment's (SHM_HUGETLB,
 * HUGETLB_SHMFS_INODE: S_PRIVATE, its pages reserved at shmget).
 */
export class HugetlbFile {
  /** the page cache of a shared mapping: huge-page index -> the folio's first frame */
  readonly pages = new Map<number, number>();
  /** inode_resv_map: indexes reserved (hugetlb_reserve_pages) or instantiated (vma_commit_reservation) */
  readonly resv = new Set<number>();
  /** VMAs holding the file (each VMA's vm_file reference), and the SysV segment's own (shm_file) */
  refs = 0;
  /**
   * S_PRIVATE (a SHM_HUGETLB segment's inode): hugetlbfs_file_mmap passes
   * VM_NORESERVE to hugetlb_reserve_pages, shmget reserved the pages already
   */
  shmfs = false;
  /** i_size in bytes (a fault past it is SIGBUS); MAP_HUGETLB's inode: its mapping's length, never passed */
  size = Number.POSITIVE_INFINITY;
  /** a SysV segment's shm_close, run when one of its VMAs goes (ipc/shm.c; set by ipc/shm.ts) */
  shmClose: (() => void) | null = null;
  constructor(
    /** the inode number /proc/PID/maps prints (get_next_ino; a SysV segment's: its shmid) */
    public ino: number,
    /** hstate_inode: the pool of the inode's huge page size */
    readonly h: HState,
  ) {}
}

/**
 * The hugetlbfs inode behind a file handle (a FileObject made by
 * memfd_create(MFD_HUGETLB): its pages are the inode's huge folios, its
 * own page cache stays empty), or null for every other file. Kept here,
 * keyed by the object, so that kernel/fs need not know mm's types.
 */
const fileInodes = new WeakMap<object, HugetlbFile>();

/** The hugetlbfs inode of a file handle, or null (not a hugetlbfs file). */
export function hugetlbfsInode(f: object): HugetlbFile | null {
  return fileInodes.get(f) ?? null;
}

/** Makes `file` the hugetlbfs inode of the handle `f` (memfd_create with MFD_HUGETLB). */
export function setHugetlbfsInode(f: object, file: HugetlbFile): void {
  fileInodes.set(f, file);
}

/** A private owner's reservation map (struct resv_map of HPAGE_RESV_OWNER): the indexes consumed. */
export class PrivateResvMap {
  readonly consumed = new Set<number>();
}

/** vm_private_data of a HugeTLB VMA, with the file it maps. */
export class HugetlbVma {
  constructor(
    /** hstate_vma: the pool of the mapping's huge page size (hstate_inode of its file) */
    readonly h: HState,
    readonly file: HugetlbFile,
    /** HPAGE_RESV_OWNER's map (the pieces of a split VMA share it), or null */
    public resv: PrivateResvMap | null,
    /** HPAGE_RESV_UNMAPPED: a page was unmapped from this VMA for its owner's COW; the next fault is SIGBUS */
    public unmapped = false,
  ) {
    file.refs++;
  }

  /** vm_area_dup with hugetlb_vm_op_open: the same file (a reference more), the same owner's map. */
  dup(): HugetlbVma {
    return new HugetlbVma(this.h, this.file, this.resv, this.unmapped);
  }
}

/**
 * struct hstate, one per huge page size (hstates[]: the PMD's, and the
 * PUD's where the architecture maps 1 GiB pages): the pool's counters as
 * /proc/sys/vm/nr_hugepages, /proc/meminfo (HugePages_*) and
 * /sys/kernel/mm/hugepages/hugepages-SIZEkB/ show them, and its lists.
 */
export class HState {
  /** huge_page_order */
  readonly order: number;
  /** nr_huge_pages: the pool, surplus included */
  nrHugePages = 0;
  /** free_huge_pages: pool folios on the free list */
  freeHugePages = 0;
  /** resv_huge_pages: free folios promised to mappings */
  resvHugePages = 0;
  /** surplus_huge_pages: folios beyond nr_hugepages, from the overcommit */
  surplusHugePages = 0;
  /** nr_overcommit_huge_pages (/proc/sys/vm/nr_overcommit_hugepages) */
  nrOvercommitHugePages = 0;
  /** hugepage_freelists: first frames of free folios; the last element is the list's head */
  readonly freeList: number[] = [];
  /** hugepage_activelist: first frames of folios in use */
  readonly active = new Set<number>();
  /** folios that are anonymous (a private mapping's: folio_test_anon) */
  readonly anon = new Set<number>();
  /** the last hugetlbfs inode number handed out (get_next_ino) */
  lastIno = 0;
  /** counters (vmlab's own: Linux has no vmstat for them): pool folios allocated and freed, faults, COW copies */
  readonly stats = { poolAlloc: 0, poolAllocFail: 0, poolFree: 0, faults: 0, cowCopies: 0, sigbus: 0 };

  constructor(
    /** pages_per_huge_page: HPAGE_PMD_NR of the architecture, or PUD_SIZE's pages */
    readonly nrPages: number,
    /** the page-table level whose leaf maps one (huge_pte_alloc: the PMD's, or the PUD's) */
    readonly level: number,
    /**
     * num_contig_ptes: the entries at `level` that map one (1; 16 for arm64's
     * CONT_PTE / CONT_PMD sizes and RISC-V's 64K NAPOT: mm/hugetlb_cont.ts)
     */
    readonly ncontig = 1,
  ) {
    this.order = 31 - Math.clz32(nrPages);
  }

  /** hstate_is_gigantic: above MAX_PAGE_ORDER, from alloc_contig_pages rather than the buddy lists */
  get gigantic(): boolean {
    return this.order > 10;
  }

  /** huge_page_size in kB, as the sysfs directory hugepages-<kB>kB names it */
  get sizeKb(): number {
    return this.nrPages * 4;
  }

  /** persistent_huge_pages: nr_hugepages as /proc/sys/vm/nr_hugepages reads it */
  get persistent(): number {
    return this.nrHugePages - this.surplusHugePages;
  }
}

/**
 * The hstates an architecture registers at boot (hugetlb_add_hstate from
 * its hugetlb_init / arch_hugetlb_valid_size): HPAGE_SIZE, the PMD's (the
 * default_hstate: default_hugepagesz is not a machine key), and PUD_SIZE
 * where `hugetlbPud` (x86-64 with GBPAGES, arm64 4K, RISC-V); i386 has the
 * PMD's only (4 MiB, or 2 MiB with PAE). Then the sizes an architecture maps
 * by runs of contiguous entries (`hugetlbCont`: arm64's 32M and 64K, RISC-V
 * Svnapot's 64K).
 * Linux: mm/hugetlb.c hugetlb_init, hugetlb_add_hstate; arch/x86/mm/hugetlbpage.c
 * gigantic_pages_init; arch/arm64/mm/hugetlbpage.c hugetlbpage_init; arch/riscv/mm/hugetlbpage.c
 */
export function hugetlbHstates(pt: {
  readonly pmdLevel: number;
  readonly hpagePmdNr: number;
  readonly ptrsPerTable: number;
  readonly levels: number;
  readonly hugetlbPud?: boolean;
  readonly hugetlbCont?: {
    readonly sizes: readonly { readonly nrPages: number; readonly level: number }[];
  } | null;
}): HState[] {
  const hs = [new HState(pt.hpagePmdNr, pt.pmdLevel)];
  if (pt.hugetlbPud === true && pt.pmdLevel + 1 < pt.levels)
    hs.push(new HState(pt.hpagePmdNr * pt.ptrsPerTable, pt.pmdLevel + 1));
  // the contiguous sizes (arm64 CONT_PMD_SIZE, CONT_PTE_SIZE; RISC-V's NAPOT 64K)
  for (const c of pt.hugetlbCont?.sizes ?? [])
    hs.push(new HState(c.nrPages, c.level, c.nrPages / pt.ptrsPerTable ** c.level));
  return hs;
}

/**
 * page_hstate / folio_hstate of a frame of kind hugetlb (in the pool or in
 * use): the pool whose folio holds it, found by the folio head's order (a
 * pool folio's first frame keeps its huge_page_order) and the pool's own
 * lists (a 16-aligned frame inside a 2M folio may keep a stale order 4 from
 * an earlier life: the 64K pool's lists do not hold it); the default pool
 * when none matches.
 */
export function frameHstate(
  hstates: readonly HState[],
  order: { readonly [i: number]: number },
  pfn: number,
): HState {
  for (let i = hstates.length - 1; i > 0; i--) {
    const h = hstates[i];
    const head = pfn - (pfn % h.nrPages);
    if (order[head] === h.order && (h.active.has(head) || h.freeList.includes(head))) return h;
  }
  return hstates[0];
}
