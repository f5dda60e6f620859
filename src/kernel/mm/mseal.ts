/**
 * mseal(2) (Linux 6.10, 64-bit only): VM_SEALED on the VMAs of a range, after which the VMA
 * may not be unmapped, moved, shrunk or grown by mremap, replaced by mmap(MAP_FIXED), have its
 * protection changed, or (anonymous, not writable) have its pages discarded by madvise; each
 * such call is -EPERM. There is no unseal; fork's copy stays sealed (vm_area_dup).
 * The checks are at their callers (can_modify_vma): munmap's vms_gather_munmap_vmas (mm/mmap.ts
 * munmap: a split VMA or any in the range), do_mprotect_pkey's mprotect_fixup (mm/mprotect.ts),
 * mremap at the old address (core/mman.ts), madvise's can_modify_vma_madv (madvSealRefusedAt).
 * Linux 6.12: mm/mseal.c, mm/vma.h can_modify_vma
 */
import { Errno, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { modifySplitRefused } from "./map_count.ts";
import { isMapped, mergeAround, splitAt } from "./mmap.ts";
import type { Vma } from "./vma.ts";
import { VmFlag } from "./vma.ts";

/**
 * do_mseal once the system call has checked its arguments (the range [start, end) of pages,
 * not empty): check_mm_seal first (any page of the range outside a VMA: -ENOMEM, nothing
 * sealed), then apply_mm_seal: each VMA's part of the range not sealed yet is split off
 * (vma_modify_flags: merged with a sealed neighbour where it can be; a split past
 * vm.max_map_count is -ENOMEM, the VMAs before it sealed) and sealed. Returns 0 or -errno.
 * Linux 6.12: mm/mseal.c do_mseal, check_mm_seal, apply_mm_seal, mseal_fixup
 */
export function msealRange(ctx: MmContext, mm: MmStruct, start: number, end: number): number {
  if (!isMapped(mm, start, end)) return -Errno.ENOMEM; // check_mm_seal
  for (let at = start; at < end; ) {
    const v = mm.vmaAt(at)!;
    const b = Math.min(end, v.vmEnd);
    // mseal_fixup: "if (newflags == oldflags) goto out": a sealed VMA is left whole
    if (!v.sealed) {
      const refused = modifySplitRefused(ctx, mm, v, at, b, v.vmFlags, mm.vmas.length, true);
      if (refused === 2) splitAt(mm, at, ctx);
      if (refused !== 0) return -Errno.ENOMEM;
      splitAt(mm, at, ctx);
      splitAt(mm, b, ctx);
      const piece = mm.vmaAt(at)!;
      piece.sealed = true; // set_vma_sealed
      mergeAround(ctx, mm, piece);
    }
    at = b;
  }
  return 0;
}

/**
 * can_modify_vma_madv over the VMAs of [start, end) in address order: the first page of the
 * first sealed VMA that `discard` (MADV_FREE, DONTNEED, DONTNEED_LOCKED, REMOVE, DONTFORK,
 * WIPEONFORK: is_madv_discard) may not touch because it is anonymous (no file, not VM_SHARED)
 * and not writable (is_ro_anon; vmlab does not ask the protection key's PKRU bits, which
 * arch_vma_access_permitted does), or -1. madvise_walk_vmas stops there with -EPERM, the VMAs
 * before it advised.
 * Linux 6.12: mm/mseal.c can_modify_vma_madv, is_madv_discard, is_ro_anon
 */
export function madvSealRefusedAt(mm: MmStruct, start: number, end: number, discard: boolean): number {
  if (!discard) return -1;
  for (const v of mm.vmas) {
    if (v.vmEnd <= start || v.vmStart >= end) continue;
    if (v.sealed && isRoAnon(v)) return Math.max(start, v.vmStart);
  }
  return -1;
}

/** can_modify_vma_madv for a discarding advice on one VMA (MADV_REMOVE's walk: core/fallocate.ts): false when sealed read-only anonymous */
export function madvDiscardAllowed(v: Vma): boolean {
  return !(v.sealed && isRoAnon(v));
}

/** is_ro_anon: no vm_file (a shared anonymous mapping has shmem's) and not VM_SHARED, and not VM_WRITE. */
function isRoAnon(v: Vma): boolean {
  if (v.file !== null || v.shmem !== null || v.htlb !== null || v.vmFlags & (VmFlag.SHARED | VmFlag.PFNMAP))
    return false; // a device's VMA has its /dev file
  return !(v.vmFlags & VmFlag.WRITE);
}
