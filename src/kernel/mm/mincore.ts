/**
 * mincore(2): which pages of a range are resident, one byte per page (bit
 * 0). A present PTE, or a huge PMD, is resident; an empty one (or a PTE
 * marker: a guard region) asks the page cache of a file VMA (a hole of an
 * anonymous VMA is not resident); a swap entry asks the swap cache.
 * Linux: mm/mincore.c
 */
import type { FileObject } from "../fs/file.ts";
import { Errno, linearIndex, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { leafFor, pmdOf, pteOffset } from "./pgtable.ts";
import { type ShmemObject, type Vma, VmFlag } from "./vma.ts";

/**
 * mincore_page: is page `index` of a file (or shmem object) in its page
 * cache and up to date (vmlab's cached pages always are)? A tmpfs or shmem
 * page reclaim wrote to swap is found through its swap entry in the swap
 * cache (filemap_get_incore_folio).
 * Linux: mm/mincore.c mincore_page, mm/swap_state.c filemap_get_incore_folio
 */
function mincorePage(ctx: MmContext, obj: FileObject | ShmemObject, index: number): number {
  const resident = "cache" in obj ? obj.cache : obj.pages;
  if (resident.has(index)) return 1;
  const slot = obj.swapped.get(index);
  return slot !== undefined && ctx.env.swap?.cache.has(slot) ? 1 : 0;
}

/**
 * __mincore_unmapped_range: a page with no PTE: a file or shared anonymous
 * mapping (vm_file: the shmem object) asks its page cache; a private
 * anonymous hole is 0. A device mapping (VM_PFNMAP: the walk reports it as
 * one hole) asks the device file's page cache, which has no pages: 0.
 * Linux: mm/mincore.c __mincore_unmapped_range, mm/pagewalk.c walk_page_test
 */
function unmappedPage(ctx: MmContext, vma: Vma, vpn: number): number {
  if (vma.vmFlags & VmFlag.PFNMAP) return 0;
  const index = vma.vmPgoff + (vpn - vma.vmStart);
  if (vma.file) return mincorePage(ctx, vma.file, index);
  if (vma.shmem) return mincorePage(ctx, vma.shmem, linearIndex(vma, vpn));
  return 0;
}

/**
 * do_mincore over pages [start, start + vec.length) of mm: fills vec VMA by
 * VMA (can_do_mincore: vmlab's files are the caller's, so every file VMA is
 * walked) and returns 0, or -ENOMEM at the first page no VMA covers (the
 * bytes before it are filled, as sys_mincore copies each chunk out before
 * the next). Per page, as mincore_pte_range: a huge PMD (a THP, the huge
 * zero page, a PMD-mapped file folio) is 1 for its every page; no page
 * table, an empty PTE or a PTE marker (pte_none_mostly) is the page cache's
 * answer; a present PTE (PROT_NONE too) is 1; a swap entry is whether the
 * swap cache holds its slot (mincore_page on swap_address_space), other
 * non-swap entries (migration) 1.
 * Linux: mm/mincore.c do_mincore, mincore_pte_range, mincore_unmapped_range
 */
export function doMincore(ctx: MmContext, mm: MmStruct, start: number, vec: Uint8Array): number {
  const pt = ctx.env.pgtable;
  const n = vec.length;
  let i = 0;
  while (i < n) {
    const vma = mm.vmaAt(start + i); // vma_lookup
    if (vma === null) return -Errno.ENOMEM;
    const end = Math.min(vma.vmEnd - start, n);
    for (; i < end; i++) {
      const vpn = start + i;
      if (vma.vmFlags & VmFlag.PFNMAP) {
        vec[i] = 0;
        continue;
      }
      const pmd = pmdOf(ctx, mm, vpn);
      if (pmd === null || pt.none(pmd.hi, pmd.lo)) {
        // mincore_hugetlb: a 1 GiB HugeTLB page's PUD leaf (no PMD table below it) is present
        if (pmd === null && vma.htlb !== null && leafFor(ctx, mm, vpn) !== null) vec[i] = 1;
        else vec[i] = unmappedPage(ctx, vma, vpn); // mincore_unmapped_range (pte_hole)
        continue;
      }
      if (pt.leaf(pmd.hi, pmd.lo, pt.pmdLevel) || !pt.table(pmd.hi, pmd.lo, 1)) {
        vec[i] = 1; // pmd_trans_huge_lock: a huge PMD, present or not (a PMD migration entry)
        continue;
      }
      const e = pt.get(ctx.env.phys, pteOffset(ctx, pmd.hi, pmd.lo, vpn));
      if (pt.none(e.hi, e.lo) || pt.isGuard(e.hi, e.lo)) vec[i] = unmappedPage(ctx, vma, vpn);
      else if (pt.present(e.hi, e.lo) || pt.protnone(e.hi, e.lo)) vec[i] = 1;
      else if (pt.isSwap(e.hi, e.lo)) vec[i] = ctx.env.swap?.cache.has(pt.swapOffset(e.hi, e.lo)) ? 1 : 0;
      else vec[i] = 1; // non_swap_entry: migration or hwpoison, always up to date
    }
  }
  return 0;
}
