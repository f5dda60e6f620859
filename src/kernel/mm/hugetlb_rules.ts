/**
 * What mremap, madvise, munmap and mprotect refuse of a HugeTLB VMA (kept
 * apart from mm/hugetlb.ts for its size): lengths and addresses off the
 * huge page size, advice that cannot apply, splits off a boundary.
 * Linux: mm/mremap.c, mm/madvise.c, mm/hugetlb.c hugetlb_vm_op_split
 */
import { hstateVma } from "./hugetlb_pool.ts";
import { Errno, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { type Vma, VmFlag } from "./vma.ts";

/**
 * mremap's rules for a HugeTLB VMA: the lengths round up to the huge page
 * size, both addresses must sit on a huge page boundary (-EINVAL) and the
 * mapping may not grow (-EINVAL: the reservation map cannot be split).
 * Returns the rounded lengths, or -errno.
 * Linux: mm/mremap.c SYSCALL_DEFINE5(mremap) (is_vm_hugetlb_page)
 */
export function hugetlbMremapLengths(
  vma: Vma,
  start: number,
  oldPages: number,
  newPages: number,
  fixedTo: number,
): { oldPages: number; newPages: number } | number {
  const nr = hstateVma(vma).nrPages;
  const o = Math.ceil(oldPages / nr) * nr;
  const n = Math.ceil(newPages / nr) * nr;
  if (start % nr !== 0 || (fixedTo >= 0 && fixedTo % nr !== 0) || n > o) return -Errno.EINVAL;
  return { oldPages: o, newPages: n };
}

/**
 * madvise's refusals for a HugeTLB VMA in [start, end) (-EINVAL): MADV_FREE
 * (madvise_dontneed_free_valid_vma), MADV_COLD and MADV_PAGEOUT
 * (can_madv_lru_vma), MADV_GUARD_INSTALL (is_valid_guard_vma: `lruOrFree`),
 * and MADV_DONTNEED from off a huge page boundary (`dontneed`).
 * Linux: mm/madvise.c madvise_dontneed_free_valid_vma, can_madv_lru_vma, is_valid_guard_vma
 */
export function hugetlbMadviseRefused(
  _ctx: MmContext,
  mm: MmStruct,
  start: number,
  end: number,
  dontneed: boolean,
  lruOrFree: boolean,
): boolean {
  for (const v of mm.vmas) {
    if (v.vmStart >= end || v.vmEnd <= start || !(v.vmFlags & VmFlag.HUGETLB)) continue;
    if (lruOrFree || (dontneed && Math.max(start, v.vmStart) % hstateVma(v).nrPages !== 0)) return true;
  }
  return false;
}

/** hugetlb_vm_op_split: a HugeTLB VMA splits only at a huge page boundary (else -EINVAL). */
export function hugetlbMaySplit(vma: Vma, vpn: number): boolean {
  return !(vma.vmFlags & VmFlag.HUGETLB) || vpn % hstateVma(vma).nrPages === 0;
}
