/**
 * mlock, mlock2(MLOCK_ONFAULT), munlock, mlockall and munlockall below the
 * system-call layer. Linux: mm/mlock.c (do_mlock, apply_vma_lock_flags,
 * mlock_fixup, mlock_vma_pages_range, sys_munlock,
 * __mlock_posix_error_return, sys_mlockall, apply_mlockall_flags,
 * sys_munlockall); the
 * population is mm/gup.ts, the mlock batch and the unevictable list
 * mm/mlock_fbatch.ts.
 */
import { mmPopulate, type Populate } from "./gup.ts";
import { Errno, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import {
  evictableList,
  folioEvictable,
  type MlockLists,
  UList,
  type UnevictableStats,
} from "./mlock_fbatch.ts";
import { setFlags } from "./mmap.ts";
import { PageKind } from "./PageDesc.ts";
import { leafFor } from "./pgtable.ts";
import { canDoMlock, countMmMlockedPageNr, lockedVm, Rlimit } from "./rlimit.ts";
import { VmFlag, vmaDroppable } from "./vma.ts";

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

/** VM_LOCKED_MASK (include/linux/mm.h) */
const LOCKED_MASK = VmFlag.LOCKED | VmFlag.LOCKONFAULT;
/**
 * The VMAs mlock_fixup leaves alone: VM_SPECIAL (VM_IO, VM_DONTEXPAND, VM_PFNMAP; vmlab has no
 * VM_MIXEDMAP) and is_vm_hugetlb_page (a HugeTLB VMA is VM_DONTEXPAND too). vmlab has no gate
 * VMA in the tree, no DAX or secretmem. VM_DROPPABLE (MAP_DROPPABLE) is skipped too: mlock succeeds, the VMA stays unlocked.
 */
const SPECIAL = VmFlag.IO | VmFlag.DONTEXPAND | VmFlag.PFNMAP | VmFlag.HUGETLB;

/**
 * apply_vma_lock_flags: the lock flags of every VMA from `start` up to the
 * first hole (or `end`) become `flags`; -EINVAL if the range wrapped past
 * 2^64 (end < start), -ENOMEM if a hole came before `end` (the VMAs before
 * it keep their new flags), else 0. Each VMA goes through
 * mlock_fixup: none for a VM_SPECIAL VMA (VM_IO, VM_DONTEXPAND, VM_PFNMAP;
 * vmlab has no VM_MIXEDMAP) or one whose flags do not change; the flags
 * alone when it stays VM_LOCKED (only VM_LOCKONFAULT changing: "mlocking
 * twice would be wrong"); else the flags and mlock_vma_pages_range.
 * Linux: mm/mlock.c apply_vma_lock_flags, mlock_fixup
 */
function applyVmaLockFlags(ctx: MmContext, mm: MmStruct, start: number, end: number, flags: number): number {
  // end < start: a range past 2^64 bytes (2^52 pages), which wrapped in Linux's unsigned long
  if (end > 2 ** 52) return -Errno.EINVAL;
  const upTo = coveredUpTo(mm, start, end);
  const err = mlockFixups(ctx, mm, start, upTo, flags); // vma_modify_flags' split past max_map_count
  return err < 0 ? err : upTo < end ? -Errno.ENOMEM : 0;
}

/**
 * mlock_fixup on the part in [start, end) of each VMA there, its lock flags
 * becoming `flags` (VM_LOCKED_MASK's bits; the others stay). The ranges are
 * taken before any changes: a fixup's merge with the VMA before it
 * (vma_modify_flags) leaves the later ranges as they were.
 * Linux: mm/mlock.c mlock_fixup
 */
function mlockFixups(ctx: MmContext, mm: MmStruct, start: number, end: number, flags: number): number {
  const fixups: [number, number, boolean][] = [];
  for (const v of mm.vmas) {
    if (v.vmEnd <= start || v.vmStart >= end) continue;
    const old = v.vmFlags & LOCKED_MASK;
    if (old === flags || v.vmFlags & SPECIAL || vmaDroppable(v.vmFlags)) continue; // (oldflags & VM_DROPPABLE)
    fixups.push([
      Math.max(start, v.vmStart),
      Math.min(end, v.vmEnd),
      !(old & VmFlag.LOCKED && flags & VmFlag.LOCKED),
    ]);
  }
  for (const [s, e, pages] of fixups) {
    const err = setFlags(ctx, mm, s, e, flags, LOCKED_MASK & ~flags);
    if (err < 0) return err;
    if (pages) mlockVmaPagesRange(ctx, mm, s, e, (flags & VmFlag.LOCKED) !== 0);
  }
  return 0;
}

/**
 * mlock_vma_pages_range: with the VMA's new flags set, lru_add_drain, then
 * the page walk (mlock_pte_range): every page mapped in [start, end) (not
 * the zero pages, not a special PTE) is mlocked (mlock_folio) if the VMA
 * is VM_LOCKED now, else munlocked (munlock_folio); a huge PMD's folio
 * once. Then lru_add_drain again, which processes the mlock batch: the
 * pages are on the unevictable list (or off it) when mlock returns.
 * vmlab treats each PTE-mapped page of a page-cache folio as its own folio
 * (its LRU holds them so), where Linux mlocks a large folio whole once it
 * is fully mapped in the range (folio_mlock_step, allow_mlock_munlock).
 * Linux: mm/mlock.c mlock_vma_pages_range, mlock_pte_range
 */
function mlockVmaPagesRange(ctx: MmContext, mm: MmStruct, start: number, end: number, lock: boolean): void {
  const lru = ctx.env.lru;
  if (lru === null) return;
  const m = lru.fbatches.mlock;
  const pt = ctx.env.pgtable;
  const pages = ctx.env.pages;
  const nr = pt.hpagePmdNr;
  lru.fbatches.drain();
  for (let vpn = start; vpn < end; ) {
    const leaf = leafFor(ctx, mm, vpn);
    const next = leaf === null || leaf.level === 1 ? vpn - (vpn % nr) + nr : vpn + 1; // no table: its span
    if (leaf !== null && pt.present(leaf.hi, leaf.lo) && !pt.special(leaf.hi, leaf.lo)) {
      const pfn = leaf.level === 1 ? leaf.pfn - (vpn % nr) : leaf.pfn;
      const kind = pages.kind[pfn];
      const normal = kind === PageKind.UserAnon || kind === PageKind.PageCache; // vm_normal_folio
      if (normal && pfn !== ctx.env.zeroPfn && pfn !== ctx.hugeZeroPfn) {
        if (lock) m.mlockFolio(pfn);
        else m.munlockFolio(pfn);
      }
    }
    vpn = next;
  }
  lru.fbatches.drain();
}

/**
 * mlock / mlock2 on the pages [start, end) of mm (the system call has
 * rounded the range to pages): -EPERM if RLIMIT_MEMLOCK is 0 and the
 * caller lacks CAP_IPC_LOCK (can_do_mlock; vmlab's uid 0 has it), -ENOMEM
 * if locked_vm and the range's pages not locked yet would pass
 * RLIMIT_MEMLOCK (nothing changed); else VM_LOCKED (and VM_LOCKONFAULT with
 * `onFault`) from `start` up to the first hole (-ENOMEM if there is one,
 * the VMAs before it locked, nothing populated), then __mm_populate, whose
 * error __mlock_posix_error_return turns into POSIX's: -EFAULT (a PROT_NONE
 * VMA, which stays VM_LOCKED) is -ENOMEM, -ENOMEM is -EAGAIN. Returns 0 or -errno.
 * Linux: mm/mlock.c do_mlock, can_do_mlock, count_mm_mlocked_page_nr, apply_vma_lock_flags,
 * mm/gup.c __mm_populate
 */
export function doMlock(
  ctx: MmContext,
  mm: MmStruct,
  start: number,
  end: number,
  onFault: boolean,
  fault: Populate,
  capIpcLock = true,
): number {
  // do_mlock: can_do_mlock, then RLIMIT_MEMLOCK for locked_vm plus the range less what of it
  // is locked already (count_mm_mlocked_page_nr), unless CAP_IPC_LOCK
  if (!canDoMlock(mm, capIpcLock)) return -Errno.EPERM;
  const limit = Math.floor(mm.rlim.cur[Rlimit.MEMLOCK] / 4096);
  let locked = end - start + lockedVm(mm);
  if (locked > limit && !capIpcLock) locked -= countMmMlockedPageNr(mm, start, end);
  if (locked > limit && !capIpcLock) return -Errno.ENOMEM;
  const err = applyVmaLockFlags(ctx, mm, start, end, VmFlag.LOCKED | (onFault ? VmFlag.LOCKONFAULT : 0));
  if (err < 0) return err;
  const r = mmPopulate(ctx, mm, start, end, fault, false);
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

/** mlockall's flags (include/uapi/asm-generic/mman-common.h; x86, arm64 and RISC-V use these). */
export const Mcl = {
  /** lock every page mapped now */
  CURRENT: 1,
  /** lock every page mapped from now on (mm->def_flags) */
  FUTURE: 2,
  /** with either: lock pages as they are faulted in, populate nothing (VM_LOCKONFAULT) */
  ONFAULT: 4,
} as const;

/**
 * apply_mlockall_flags: mm->def_flags loses VM_LOCKED and VM_LOCKONFAULT,
 * and with MCL_FUTURE gets VM_LOCKED (and VM_LOCKONFAULT with
 * MCL_ONFAULT); with MCL_CURRENT every VMA's lock flags become VM_LOCKED
 * (| VM_LOCKONFAULT with MCL_ONFAULT) through mlock_fixup, which skips
 * VM_SPECIAL and HugeTLB VMAs; without it (munlockall: flags 0) every VMA
 * is unlocked, except that MCL_FUTURE alone leaves the VMAs as they are.
 * mlock_fixup's errors are ignored. Linux: mm/mlock.c apply_mlockall_flags
 */
function applyMlockallFlags(ctx: MmContext, mm: MmStruct, flags: number): void {
  mm.defFlags &= ~LOCKED_MASK;
  if (flags & Mcl.FUTURE) {
    mm.defFlags |= VmFlag.LOCKED;
    if (flags & Mcl.ONFAULT) mm.defFlags |= VmFlag.LOCKONFAULT;
    if (!(flags & Mcl.CURRENT)) return;
  }
  let toAdd = 0;
  if (flags & Mcl.CURRENT) toAdd = VmFlag.LOCKED | (flags & Mcl.ONFAULT ? VmFlag.LOCKONFAULT : 0);
  mlockFixups(ctx, mm, 0, Number.POSITIVE_INFINITY, toAdd);
}

/**
 * mlockall(flags): -EINVAL for 0, an unknown bit or MCL_ONFAULT alone;
 * -EPERM when RLIMIT_MEMLOCK is 0 and the caller lacks CAP_IPC_LOCK
 * (can_do_mlock); with MCL_CURRENT, -ENOMEM when the whole address space
 * (total_vm, not only what is not locked yet) passes RLIMIT_MEMLOCK
 * without CAP_IPC_LOCK (nothing changed, def_flags neither); else
 * apply_mlockall_flags, then with MCL_CURRENT mm_populate(0, TASK_SIZE):
 * __mm_populate over every VMA ignoring errors (a PROT_NONE VMA stays
 * locked and empty; VM_LOCKONFAULT VMAs get nothing; a VMA mlock_fixup
 * skipped, a HugeTLB one, is populated all the same). Returns 0 or -errno.
 * Linux: mm/mlock.c sys_mlockall, can_do_mlock; mm/gup.c __mm_populate
 */
export function doMlockall(
  ctx: MmContext,
  mm: MmStruct,
  flags: number,
  fault: Populate,
  capIpcLock = true,
): number {
  const all = Mcl.CURRENT | Mcl.FUTURE | Mcl.ONFAULT;
  if (!flags || flags & ~all || flags === Mcl.ONFAULT) return -Errno.EINVAL;
  if (!canDoMlock(mm, capIpcLock)) return -Errno.EPERM;
  const lockLimit = Math.floor(mm.rlim.cur[Rlimit.MEMLOCK] / 4096); // RLIM_INFINITY stays above any total_vm
  if (flags & Mcl.CURRENT && mm.totalVm() > lockLimit && !capIpcLock) return -Errno.ENOMEM;
  applyMlockallFlags(ctx, mm, flags);
  if (flags & Mcl.CURRENT) mmPopulate(ctx, mm, 0, ctx.env.taskSizeVpn, fault, true);
  return 0;
}

/**
 * munlockall: apply_mlockall_flags(0): def_flags loses VM_LOCKED and
 * VM_LOCKONFAULT and every VMA is unlocked (its pages munlocked). Returns 0.
 * Linux: mm/mlock.c sys_munlockall
 */
export function doMunlockall(ctx: MmContext, mm: MmStruct): number {
  applyMlockallFlags(ctx, mm, 0);
  return 0;
}

/**
 * check_move_unevictable_folios: each folio of the batch that is on the
 * unevictable list and evictable now (SHM_UNLOCK cleared its mapping's
 * mark; no PG_mlocked) moves to its evictable list (rescued). A folio on no
 * list (isolated, or still in an LRU add batch: folio_test_clear_lru fails)
 * is skipped. The events are counted only when a folio of the batch was on
 * a list (the `if (lruvec)` at its end).
 * Linux: mm/vmscan.c check_move_unevictable_folios
 */
export function checkMoveUnevictableFolios(
  v: MlockLists,
  stats: UnevictableStats,
  pfns: Iterable<number>,
): void {
  let scanned = 0;
  let rescued = 0;
  let locked = false;
  for (const pfn of pfns) {
    const nr = v.large[pfn] ? v.env.userMm.env.pgtable.hpagePmdNr : 1;
    scanned += nr;
    if (v.lru[pfn] === UList.None) continue;
    locked = true;
    if (v.lru[pfn] === UList.Unevictable && folioEvictable(v, pfn)) {
      v.add(pfn, evictableList(v, pfn));
      rescued += nr;
    }
  }
  if (!locked) return;
  stats.unevictable_pgs_rescued += rescued;
  stats.unevictable_pgs_scanned += scanned;
}
