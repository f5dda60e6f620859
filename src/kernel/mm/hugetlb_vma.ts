/**
 * What a HugeTLB VMA holds (mm/hugetlb.ts works on it): the hugetlbfs
 * inode it maps and, for a private mapping, the reservation map its
 * creator owns. Kept apart from mm/hugetlb.ts so that vma.ts and
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

/** A hugetlbfs inode (the internal mount's, for MAP_HUGETLB). */
export class HugetlbFile {
  /** the page cache of a shared mapping: huge-page index -> the folio's first frame */
  readonly pages = new Map<number, number>();
  /** inode_resv_map: indexes reserved (hugetlb_reserve_pages) or instantiated (vma_commit_reservation) */
  readonly resv = new Set<number>();
  /** VMAs holding the file (each VMA's vm_file reference) */
  refs = 0;
  /** the inode number /proc/PID/maps prints */
  constructor(readonly ino: number) {}
}

/** A private owner's reservation map (struct resv_map of HPAGE_RESV_OWNER): the indexes consumed. */
export class PrivateResvMap {
  readonly consumed = new Set<number>();
}

/** vm_private_data of a HugeTLB VMA, with the file it maps. */
export class HugetlbVma {
  constructor(
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
    return new HugetlbVma(this.file, this.resv, this.unmapped);
  }
}
