/**
 * mlock, mlock2(MLOCK_ONFAULT) and munlock below the system-call layer.
 * Linux: mm/mlock.c (do_mlock, apply_vma_lock_flags, mlock_fixup,
 * sys_munlock), mm/gup.c (__mm_populate, populate_vma_page_range).
 */
import { Errno, type MmContext, type VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { isMapped, setFlags } from "./mmap.ts";
import { VmFlag } from "./vma.ts";

/**
 * mlock / mlock2 on the pages [start, end) of mm (the system call has
 * rounded the range to pages): -ENOMEM if a page is not mapped, else
 * VM_LOCKED (and VM_LOCKONFAULT with `onFault`) over the range, populated
 * unless on fault: write faults for private writable memory (FOLL_WRITE),
 * read faults otherwise, none for PROT_NONE. `fault` is a population fault
 * counted against the task. Returns 0 or -errno.
 * Linux: mm/mlock.c do_mlock, apply_vma_lock_flags, mm/gup.c __mm_populate
 */
export function doMlock(
  ctx: MmContext,
  mm: MmStruct,
  start: number,
  end: number,
  onFault: boolean,
  fault: (vpn: number, write: boolean) => VmFault,
): number {
  if (!isMapped(mm, start, end)) return -Errno.ENOMEM;
  setFlags(
    ctx,
    mm,
    start,
    end,
    VmFlag.LOCKED | (onFault ? VmFlag.LOCKONFAULT : 0),
    onFault ? 0 : VmFlag.LOCKONFAULT,
  );
  if (!onFault) {
    // populate_vma_page_range: write faults for private writable mappings (FOLL_WRITE), read faults otherwise
    for (let v = start; v < end; v++) {
      const vma = mm.vmaAt(v)!;
      if (!(vma.vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))) continue;
      fault(v, (vma.vmFlags & (VmFlag.WRITE | VmFlag.SHARED)) === VmFlag.WRITE);
    }
  }
  return 0;
}

/**
 * munlock on the pages [start, end) of mm: -ENOMEM if a page is not
 * mapped, else VM_LOCKED and VM_LOCKONFAULT cleared. Returns 0 or -errno.
 * Linux: mm/mlock.c sys_munlock, apply_vma_lock_flags
 */
export function doMunlock(ctx: MmContext, mm: MmStruct, start: number, end: number): number {
  if (!isMapped(mm, start, end)) return -Errno.ENOMEM;
  setFlags(ctx, mm, start, end, 0, VmFlag.LOCKED | VmFlag.LOCKONFAULT);
  return 0;
}
