/**
 * mremap: shrink, grow in place, or move a mapping with its page-table
 * entries. Linux: mm/mremap.c (do_mremap, move_vma, move_page_tables).
 */
import { splitRange } from "./huge_memory.ts";
import { Errno, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { getUnmappedArea, isFree, munmap } from "./mmap.ts";
import { MmuGather } from "./mmu_gather.ts";
import { ptePa, ptepGetAndClear, readPte, setPteAt } from "./pgtable.ts";
import { type Vma, VmFlag } from "./vma.ts";

/**
 * mremap (mm/mremap.c): shrink in place, grow in place when the pages
 * after the area are free, else move (maymove) the VMA and its page
 * tables to a new range, freeing the old one. Returns the new start vpn
 * or -errno.
 * Linux: mm/mremap.c SYSCALL_DEFINE5(mremap) (mremap_to, vma_expandable)
 */
export function mremap(
  ctx: MmContext,
  mm: MmStruct,
  start: number,
  oldPages: number,
  newPages: number,
  mayMove: boolean,
  fixedTo: number,
): number {
  const vma = mm.vmaAt(start);
  if (vma === null) return -Errno.EFAULT;
  // resize_is_valid: an old_size of 0 "duplicates" a mapping, which only a shared one can be
  if (oldPages === 0 && !(vma.vmFlags & (VmFlag.SHARED | VmFlag.MAYSHARE))) return -Errno.EINVAL;
  if (start + oldPages > vma.vmEnd) return -Errno.EFAULT;
  if (vma.vmFlags & (VmFlag.DONTEXPAND | VmFlag.PFNMAP) && newPages > oldPages) return -Errno.EFAULT;
  if (fixedTo >= 0) {
    if (fixedTo === start) return -Errno.EINVAL;
    munmap(ctx, mm, fixedTo, newPages);
    return moveVma(ctx, mm, vma, start, oldPages, newPages, fixedTo);
  }
  if (newPages <= oldPages) {
    if (newPages < oldPages) munmap(ctx, mm, start + newPages, oldPages - newPages);
    return start;
  }
  // grow in place: the area must end the VMA and the pages after it be free
  if (
    start + oldPages === vma.vmEnd &&
    isFree(mm, vma.vmEnd, newPages - oldPages) &&
    start + newPages <= ctx.env.taskSizeVpn
  ) {
    vma.vmEnd = start + newPages;
    if (vma.vmFlags & VmFlag.ACCOUNT) mm.committed += newPages - oldPages;
    return start;
  }
  if (!mayMove) return -Errno.ENOMEM;
  const to = getUnmappedArea(ctx, mm, newPages, -1);
  if (to < 0) return -Errno.ENOMEM;
  return moveVma(ctx, mm, vma, start, oldPages, newPages, to);
}

/**
 * move_vma + move_page_tables: the PTEs move (no copy, no fault), the old range is unmapped and flushed.
 * Linux: mm/mremap.c move_vma, move_page_tables
 */
function moveVma(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  start: number,
  oldPages: number,
  newPages: number,
  to: number,
): number {
  const moved = Math.min(oldPages, newPages);
  splitRange(ctx, mm, start, start + oldPages);
  const pt = ctx.env.pgtable;
  const entries: { hi: number; lo: number }[] = [];
  ctx.env.cache.flushCacheRange(mm, start, moved); // move_page_tables: flush_cache_range(vma, old_addr, old_end)
  const tlb = new MmuGather(ctx, mm);
  for (let i = 0; i < moved; i++) {
    const pte = readPte(ctx, mm, start + i);
    entries.push(pte === null ? { hi: 0, lo: 0 } : ptepGetAndClear(ctx, tlb, pte.pa, start + i, 0));
  }
  // move_ptes: a present entry moved (force_flush) flushes the whole old range (flush_tlb_range)
  if (tlb.pending) tlb.flushRange(start, moved);
  tlb.finish();
  const nv = vma.clone();
  nv.vmStart = to;
  nv.vmEnd = to + newPages;
  // copy_vma: the page offset moves with the pages (a file mapping keeps its file offset;
  // an anonymous one keeps its linear index, which the reverse map relies on)
  nv.vmPgoff = vma.vmPgoff + (start - vma.vmStart);
  // the old range goes away (its PTEs are already cleared, so nothing is freed twice)
  munmap(ctx, mm, start, oldPages);
  mm.insert(nv);
  if (nv.vmFlags & VmFlag.ACCOUNT) mm.committed += newPages;
  for (let i = 0; i < moved; i++) {
    const e = entries[i];
    if (pt.none(e.hi, e.lo)) continue;
    const pa = ptePa(ctx, mm, to + i, true);
    if (pa < 0) return -Errno.ENOMEM;
    setPteAt(ctx, pa, e.hi, e.lo);
  }
  return to;
}
