/**
 * mlock, mlock2(MLOCK_ONFAULT) and munlock below the system-call layer.
 * Linux: mm/mlock.c (do_mlock, apply_vma_lock_flags, mlock_fixup,
 * mlock_vma_pages_range, sys_munlock, __mlock_posix_error_return); the
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
 * apply_vma_lock_flags: the lock flags of every VMA from `start` up to the
 * first hole (or `end`) become `flags`; -ENOMEM if a hole came before `end`
 * (the VMAs before it keep their new flags), else 0. Each VMA goes through
 * mlock_fixup: none for a VM_SPECIAL VMA (VM_IO, VM_DONTEXPAND, VM_PFNMAP;
 * vmlab has no VM_MIXEDMAP) or one whose flags do not change; the flags
 * alone when it stays VM_LOCKED (only VM_LOCKONFAULT changing: "mlocking
 * twice would be wrong"); else the flags and mlock_vma_pages_range.
 * Linux: mm/mlock.c apply_vma_lock_flags, mlock_fixup
 */
function applyVmaLockFlags(ctx: MmContext, mm: MmStruct, start: number, end: number, flags: number): number {
  const upTo = coveredUpTo(mm, start, end);
  const fixups: [number, number, boolean][] = [];
  for (const v of mm.vmas) {
    if (v.vmEnd <= start || v.vmStart >= upTo) continue;
    const old = v.vmFlags & LOCKED_MASK;
    if (old === flags || v.vmFlags & SPECIAL) continue;
    fixups.push([
      Math.max(start, v.vmStart),
      Math.min(upTo, v.vmEnd),
      !(old & VmFlag.LOCKED && flags & VmFlag.LOCKED),
    ]);
  }
  for (const [s, e, pages] of fixups) {
    setFlags(ctx, mm, s, e, flags, LOCKED_MASK & ~flags);
    if (pages) mlockVmaPagesRange(ctx, mm, s, e, (flags & VmFlag.LOCKED) !== 0);
  }
  return upTo < end ? -Errno.ENOMEM : 0;
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
