/**
 * Faulting pages in for MAP_POPULATE, mlock, mprotect of a locked mapping
 * and mremap of a locked one. Linux: mm/gup.c (__mm_populate,
 * populate_vma_page_range); the single-page fault itself is core/gup.ts.
 */
import { Errno, type MmContext, VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { VmFlag } from "./vma.ts";

/** A population fault of one page, counted against the task (core/gup.ts populate). */
export type Populate = (vpn: number, write: boolean) => VmFault;

/**
 * __mm_populate(start, len, ignore_errors): populate_vma_page_range on each
 * VMA of the range in turn — nothing for VM_LOCKONFAULT, -EFAULT for a
 * PROT_NONE VMA (!vma_is_accessible), else a write fault per page for a
 * private writable mapping (FOLL_WRITE, to break COW) and a read fault
 * (FOLL_FORCE) otherwise; VM_IO/VM_PFNMAP VMAs are skipped. A fault that
 * fails ends the population: -ENOMEM for VM_FAULT_OOM, -EFAULT otherwise
 * (faultin_page). With `ignoreErrors` (MAP_POPULATE, mm_populate) a failing
 * VMA is left and the next one populated. Each VMA's faults end with
 * lru_add_drain (populate_vma_page_range), which also processes the mlock
 * batch the faults of a VM_LOCKED VMA filled. Returns 0 or -errno.
 */
export function mmPopulate(
  ctx: MmContext,
  mm: MmStruct,
  start: number,
  end: number,
  fault: Populate,
  ignoreErrors: boolean,
): number {
  for (let v = start; v < end; ) {
    let vma = mm.vmaAt(v);
    if (vma === null) {
      // find_vma_intersection: the next VMA inside the range, if any
      vma = mm.vmas.find((x) => x.vmEnd > v && x.vmStart < end) ?? null;
      if (vma === null) break;
      v = vma.vmStart;
    }
    const stop = Math.min(end, vma.vmEnd);
    const err = populateVmaPageRange(ctx, vma.vmFlags, v, stop, fault);
    if (err < 0 && !ignoreErrors) return err;
    v = stop;
  }
  return 0;
}

/**
 * populate_vma_page_range over [start, end) of one VMA with flags `f`
 * (__get_user_pages, then lru_add_drain); 0 or -errno.
 * Linux: mm/gup.c populate_vma_page_range
 */
function populateVmaPageRange(
  ctx: MmContext,
  f: number,
  start: number,
  end: number,
  fault: Populate,
): number {
  if (f & (VmFlag.IO | VmFlag.PFNMAP)) return 0;
  if (f & VmFlag.LOCKONFAULT) return 0;
  if (!(f & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))) return -Errno.EFAULT;
  const err = getUserPages(f, start, end, fault);
  ctx.env.lru?.fbatches.drain();
  return err;
}

/** __get_user_pages for population: a fault per page, write for a private writable VMA (FOLL_WRITE). */
function getUserPages(f: number, start: number, end: number, fault: Populate): number {
  const write = (f & (VmFlag.WRITE | VmFlag.SHARED)) === VmFlag.WRITE;
  for (let v = start; v < end; v++) {
    const r = fault(v, write);
    if (r & VmFault.OOM) return -Errno.ENOMEM;
    if (r & (VmFault.SIGBUS | VmFault.SIGSEGV)) return -Errno.EFAULT;
  }
  return 0;
}
