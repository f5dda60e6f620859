/**
 * fallocate(2) of a hugetlbfs file (a MFD_HUGETLB memfd), the page-cache
 * side: whole huge folios allocated into the inode from the pool through a
 * pseudo VMA (VM_HUGETLB | VM_MAYSHARE | VM_SHARED, no VM_NORESERVE), which
 * consumes an inode reservation where one covers the index, and adds one
 * (region_add) where none does; a hole's whole folios removed with their
 * reservations (the mappings were zapped by the caller). Unlike shmem,
 * a failed allocation keeps the folios added before it (-ENOSPC).
 * Linux: fs/hugetlbfs/inode.c hugetlbfs_fallocate, hugetlbfs_punch_hole,
 * hugetlbfs_zero_partial_page, remove_inode_hugepages; mm/hugetlb.c
 * alloc_hugetlb_folio, hugetlb_unreserve_pages
 */
import { pfnUnchecked } from "../../base/units.ts";
import { allocHugetlbFolio, hugetlbAcctMemory } from "./hugetlb.ts";
import { hugetlbFolioPut } from "./hugetlb_pool.ts";
import { type HugetlbFile, HugetlbVma } from "./hugetlb_vma.ts";
import { Errno, type MmContext } from "./internal.ts";
import { Vma, VmFlag } from "./vma.ts";

/**
 * hugetlbfs_fallocate's loop over the huge-page indexes [start, end): an
 * index the inode holds is skipped (filemap_get_folio), another gets a
 * zeroed folio (alloc_hugetlb_folio, folio_zero_user,
 * hugetlb_add_to_page_cache: the cache's one reference). 0, or -ENOSPC at
 * the first index the pool cannot serve (the folios added stay).
 */
export function hugetlbFallocAlloc(ctx: MmContext, file: HugetlbFile, start: number, end: number): number {
  const h = file.h;
  const pseudo = new Vma(0, h.nrPages, VmFlag.HUGETLB | VmFlag.MAYSHARE | VmFlag.SHARED, 0, "");
  pseudo.htlb = new HugetlbVma(h, file, null);
  file.refs--; // the pseudo VMA holds no reference (pseudo_vma.vm_file = file, no get_file)
  for (let idx = start; idx < end; idx++) {
    if (file.pages.has(idx)) continue;
    const head = allocHugetlbFolio(ctx, pseudo, idx, false);
    if (head < 0) return -Errno.ENOSPC;
    for (let i = 0; i < h.nrPages; i++) ctx.env.phys.zeroFrame(pfnUnchecked(head + i)); // folio_zero_user
    file.pages.set(idx, head); // the allocation's reference becomes the cache's (folio_put after the add)
  }
  return 0;
}

/**
 * hugetlbfs_zero_partial_page: the bytes [from, to) of the inode's folio
 * holding byte `from` are zeroed, if the inode has one there.
 */
export function hugetlbZeroPartial(ctx: MmContext, file: HugetlbFile, from: number, to: number): void {
  const hsize = file.h.nrPages * 4096;
  const head = file.pages.get(Math.floor(from / hsize));
  if (head === undefined) return;
  const base = head * 4096 - Math.floor(from / hsize) * hsize;
  for (let off = from; off < to; off++) ctx.env.phys.write8(base + off, 0);
}

/**
 * remove_inode_hugepages(inode, start, end) of a hole (not a truncate): each
 * folio the inode holds in [start, end) leaves it (its last reference, as
 * the caller zapped every mapping: remove_inode_single_folio), and for each
 * hugetlb_unreserve_pages(inode, index, index + 1, 1) deletes its index
 * from the inode's map (region_del) and gives back the global reservation
 * by region_del's count less the one folio freed: nothing, as an instantiated
 * index is in the map (vma_commit_reservation). An index reserved but never
 * instantiated has no folio and keeps its reservation: a hole gives back
 * only pages that were there (a truncate gives back the rest, hugetlbTruncate).
 * Linux: fs/hugetlbfs/inode.c remove_inode_hugepages, remove_inode_single_folio;
 * mm/hugetlb.c hugetlb_unreserve_pages
 */
export function hugetlbRemoveRange(ctx: MmContext, file: HugetlbFile, start: number, end: number): void {
  for (const [idx, head] of [...file.pages])
    if (idx >= start && idx < end) {
      file.pages.delete(idx); // hugetlb_delete_from_page_cache
      hugetlbFolioPut(ctx, head);
      const chg = file.resv.delete(idx) ? 1 : 0; // region_del(resv_map, index, index + 1)
      // hugepage_subpool_put_pages (no subpool: chg - freed), hugetlb_acct_memory(h, -gbl_reserve)
      if (chg - 1 !== 0) hugetlbAcctMemory(ctx, file.h, -(chg - 1));
    }
}
