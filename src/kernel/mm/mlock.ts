/**
 * mlock, mlock2(MLOCK_ONFAULT) and munlock below the system-call layer.
 * Linux: mm/mlock.c (do_mlock, apply_vma_lock_flags, mlock_fixup,
 * sys_munlock, __mlock_posix_error_return); the population is mm/gup.ts.
 */
import { mmPopulate, type Populate } from "./gup.ts";
import { Errno, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { setFlags } from "./mmap.ts";
import { VmFlag } from "./vma.ts";

/**
 * The end of the run of VMAs that covers [start, end) without a hole from
 * `start`: `start` itself when no VMA holds `start`, `end` when nothing is
 * missing. apply_vma_lock_flags and do_mprotect_pkey change the VMAs up to
 * that point and then return -ENOMEM.
 */
export function coveredUpTo(mm: MmStruct, start: number, end: number): number {
  let v = start;
  while (v < end) {
    const vma = mm.vmaAt(v);
    if (vma === null) return v;
    v = vma.vmEnd;
  }
  return end;
}

const LOCKED_MASK = VmFlag.LOCKED | VmFlag.LOCKONFAULT;
const SPECIAL = VmFlag.IO | VmFlag.DONTEXPAND | VmFlag.PFNMAP;

/**
 * Does mlock_fixup run mlock_vma_pages_range, which empties this CPU's LRU
 * add batch (lru_add_drain, before and after its page walk), for a VMA of
 * [start, end)? When the VMA's lock flags change, it is not VM_SPECIAL
 * (VM_IO, VM_DONTEXPAND, VM_PFNMAP; vmlab has no VM_MIXEDMAP) and it is not
 * VM_LOCKED before and after (only VM_LOCKONFAULT changing). vmlab keeps
 * mlocked pages on the ordinary lists (no unevictable list, no
 * mlock_fbatch): only the drain is modelled.
 * Linux: mm/mlock.c mlock_fixup, mlock_vma_pages_range
 */
function mlockChangesPages(mm: MmStruct, start: number, end: number, flags: number): boolean {
  for (const v of mm.vmas) {
    if (v.vmEnd <= start || v.vmStart >= end) continue;
    const old = v.vmFlags & LOCKED_MASK;
    if (old === flags || v.vmFlags & SPECIAL) continue;
    if (!(old & VmFlag.LOCKED && flags & VmFlag.LOCKED)) return true;
  }
  return false;
}

/**
 * apply_vma_lock_flags: the lock flags of every VMA from `start` up to the
 * first hole (or `end`) are replaced by `flags`; -ENOMEM if a hole came
 * before `end` (the VMAs before it keep their new flags), else 0.
 */
function applyVmaLockFlags(ctx: MmContext, mm: MmStruct, start: number, end: number, flags: number): number {
  const upTo = coveredUpTo(mm, start, end);
  if (mlockChangesPages(mm, start, upTo, flags)) ctx.env.lru?.fbatches.drain();
  if (upTo > start) setFlags(ctx, mm, start, upTo, flags, (VmFlag.LOCKED | VmFlag.LOCKONFAULT) & ~flags);
  return upTo < end ? -Errno.ENOMEM : 0;
}

/**
 * mlock / mlock2 on the pages [start, end) of mm (the system call has
 * rounded the range to pages): VM_LOCKED (and VM_LOCKONFAULT with
 * `onFault`) from `start` up to the first hole (-ENOMEM if there is one,
 * the VMAs before it locked, nothing populated), then __mm_populate, whose
 * error __mlock_posix_error_return turns into POSIX's: -EFAULT (a PROT_NONE
 * VMA, which stays VM_LOCKED) is -ENOMEM, -ENOMEM is -EAGAIN. Returns 0 or -errno.
 * Linux: mm/mlock.c do_mlock, apply_vma_lock_flags, mm/gup.c __mm_populate
 */
export function doMlock(
  ctx: MmContext,
  mm: MmStruct,
  start: number,
  end: number,
  onFault: boolean,
  fault: Populate,
): number {
  const err = applyVmaLockFlags(ctx, mm, start, end, VmFlag.LOCKED | (onFault ? VmFlag.LOCKONFAULT : 0));
  if (err < 0) return err;
  const r = mmPopulate(mm, start, end, fault, false);
  if (r === -Errno.EFAULT) return -Errno.ENOMEM;
  if (r === -Errno.ENOMEM) return -Errno.EAGAIN;
  return r;
}

/**
 * munlock on the pages [start, end) of mm: VM_LOCKED and VM_LOCKONFAULT
 * cleared from `start` up to the first hole; -ENOMEM if there is one (the
 * VMAs before it unlocked), else 0.
 * Linux: mm/mlock.c sys_munlock, apply_vma_lock_flags
 */
export function doMunlock(ctx: MmContext, mm: MmStruct, start: number, end: number): number {
  return applyVmaLockFlags(ctx, mm, start, end, 0);
}
