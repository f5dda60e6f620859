/**
 * mremap: shrink, grow in place, or move a mapping with its page-table
 * entries. Linux: mm/mremap.c (do_mremap, move_vma, move_page_tables).
 */
import { vpnUnchecked } from "../../base/units.ts";
import { TlbFlush } from "./arch.ts";
import { moveHugePmd, splitPmd } from "./huge_memory.ts";
import { clearVmaResvHugePages, hugetlbMremapLengths, moveHugetlbPageTables } from "./hugetlb.ts";
import { Errno, type MmContext } from "./internal.ts";
import { khugepagedEnterVma } from "./khugepaged_slots.ts";
import type { MmStruct } from "./MmStruct.ts";
import { maxMapCount } from "./map_count.ts";
import { mergeAround, munmap } from "./mmap.ts";
import { getUnmappedArea, thpGetUnmappedArea } from "./mmap_area.ts";
import { vmaIsAnonymous } from "./mprotect.ts";
import {
  isHugePmd,
  levelSpan,
  mapper,
  pmdOf,
  setPteAt,
  tableIfPresent,
  upperTablesChanged,
} from "./pgtable.ts";
import { lockedVm, mayExpandVm, mlockFutureOk } from "./rlimit.ts";
import { flushTlbBatchedPending } from "./tlbbatch.ts";
import { vmEnoughMemory } from "./util.ts";
import { type Vma, VmFlag, vmFlagsUpdate } from "./vma.ts";

/**
 * mremap (mm/mremap.c) once the system call has checked its flags, the
 * start and the target's range (core/mman.ts): shrink in place, grow in
 * place when the pages after the area are free, else move (maymove) the
 * VMA and its page tables to a new range, freeing the old one. Returns
 * the new start vpn or -errno.
 * - MREMAP_FIXED (mremap_to): the target is unmapped first, then the old
 *   range's tail past the new length, then vma_to_resize's checks, so a
 *   refused move has unmapped the target already (Linux 6.12; 6.18 checks
 *   the old range first);
 * - a shrink, or an unchanged length, is not checked against the VMA: it
 *   unmaps the tail, across VMAs and holes alike (do_vmi_munmap: -EINVAL
 *   past TASK_SIZE);
 * - a growth: vma_to_resize (an old length of 0 on a private mapping
 *   -EINVAL, the old range past its VMA -EFAULT, a VM_DONTEXPAND or
 *   VM_PFNMAP VMA -EFAULT, the limits), in place if the area ends its VMA
 *   and the pages after it are free (joining the next VMA when it can:
 *   vma_merge_extend), else moved with MREMAP_MAYMOVE to where
 *   get_unmapped_area puts it, else -ENOMEM.
 * Linux 6.12: mm/mremap.c SYSCALL_DEFINE5(mremap), mremap_to, vma_to_resize, vma_expandable
 */
export function mremap(
  ctx: MmContext,
  mm: MmStruct,
  start: number,
  oldPagesAsked: number,
  newPagesAsked: number,
  mayMove: boolean,
  fixedTo: number,
  capSysAdmin = true,
  dontUnmap = false,
): number {
  const vma = mm.vmaAt(start);
  if (vma === null) return -Errno.EFAULT;
  let oldPages = oldPagesAsked;
  let newPages = newPagesAsked;
  if (vma.vmFlags & VmFlag.HUGETLB) {
    const r = hugetlbMremapLengths(vma, start, oldPages, newPages, fixedTo);
    if (typeof r === "number") return r;
    ({ oldPages, newPages } = r);
  }
  if (fixedTo >= 0 || dontUnmap) {
    // mremap_to: "Check whether current map count plus 2 still leads us to 4 maps below the
    // threshold" (each of the two unmaps may split a VMA in three), before either unmap
    if (mm.vmas.length + 2 >= maxMapCount(ctx) - 3) return -Errno.ENOMEM;
    // mremap_to: do_munmap of the target (MREMAP_FIXED), then of the old range's tail (old_len = new_len)
    if (fixedTo >= 0) {
      const err = munmap(ctx, mm, fixedTo, newPages);
      if (err < 0) return err;
    }
    if (oldPages > newPages) {
      const e = munmap(ctx, mm, start + newPages, oldPages - newPages);
      if (e < 0) return e;
      oldPages = newPages;
    }
    // the VMA at start again: the unmaps may have split the one found before (vma_to_resize's vma_lookup)
    const v = mm.vmaAt(start)!;
    const resize = vmaToResize(ctx, mm, v, start, oldPages, newPages, capSysAdmin, dontUnmap);
    if (resize < 0) return resize;
    // mremap_to: "MREMAP_DONTUNMAP expands by old_len since old_len == new_len" (RLIMIT_AS, RLIMIT_DATA)
    if (dontUnmap && !mayExpandVm(ctx, mm, v.vmFlags, oldPages)) return -Errno.ENOMEM;
    if (fixedTo < 0) {
      // MREMAP_DONTUNMAP without MREMAP_FIXED: get_unmapped_area with new_addr (0) as a hint
      const to = moveArea(ctx, mm, v, start, newPages);
      if (to < 0) return -Errno.ENOMEM;
      return moveVma(ctx, mm, v, start, oldPages, newPages, to, capSysAdmin, true);
    }
    // get_unmapped_area(vma->vm_file, new_addr, new_len, pgoff, MAP_FIXED | MAP_SHARED if
    // VM_MAYSHARE): where the data cache has colours, a shared mapping must keep the colour of its
    // page offset (arch/arm/mm/mmap.c: (addr - (pgoff << PAGE_SHIFT)) & (SHMLBA - 1): -EINVAL)
    const colourPages = ctx.env.cache.shmlba / 4096;
    if (colourPages > 1 && v.vmFlags & VmFlag.MAYSHARE) {
      const pgoff = v.vmPgoff + (start - v.vmStart);
      if ((((fixedTo - pgoff) % colourPages) + colourPages) % colourPages !== 0) return -Errno.EINVAL;
    }
    return moveVma(ctx, mm, v, start, oldPages, newPages, fixedTo, capSysAdmin, dontUnmap);
  }
  if (newPages <= oldPages) {
    // "Always allow a shrinking remap": do_vmi_munmap of the tail (-EINVAL past TASK_SIZE)
    if (newPages < oldPages) {
      if (start + oldPages > ctx.env.taskSizeVpn) return -Errno.EINVAL;
      const err = munmap(ctx, mm, start + newPages, oldPages - newPages);
      if (err < 0) return err;
    }
    return start;
  }
  const resize = vmaToResize(ctx, mm, vma, start, oldPages, newPages, capSysAdmin);
  if (resize < 0) return resize;
  // grow in place: the area must end the VMA and the pages after it be free (vma_expandable)
  if (start + oldPages === vma.vmEnd && vmaExpandable(ctx, mm, vma, newPages - oldPages)) {
    // mremap's expand in place: security_vm_enough_memory_mm for the pages added
    if (vma.vmFlags & VmFlag.ACCOUNT) {
      if (!vmEnoughMemory(ctx, mm, newPages - oldPages, capSysAdmin)) return -Errno.ENOMEM;
      mm.committed += newPages - oldPages;
    }
    // vma_merge_extend: the extension joins the VMA, and the next one when it is now adjacent and
    // compatible (vma_merge_new_range, which offers the result to khugepaged either way)
    vma.vmEnd = start + newPages;
    khugepagedEnterVma(ctx, mm, mergeAround(ctx, mm, vma));
    return start;
  }
  if (!mayMove) return -Errno.ENOMEM;
  const to = moveArea(ctx, mm, vma, start, newPages);
  if (to < 0) return -Errno.ENOMEM;
  return moveVma(ctx, mm, vma, start, oldPages, newPages, to, capSysAdmin);
}

/**
 * Where a move without MREMAP_FIXED goes: get_unmapped_area(vma->vm_file, 0,
 * new_len, pgoff, MAP_SHARED if VM_MAYSHARE), placed as mmap places a
 * mapping without a hint (mm/mmap.ts): an ext4 file's range and a private
 * anonymous area whose length is a multiple of PMD_SIZE through
 * thp_get_unmapped_area (64-bit only), a shared or file mapping coloured by
 * its page offset where the data cache aliases (SHMLBA), else the plain
 * top-down search. Returns the start vpn, or -1.
 * Linux 6.12: mm/mremap.c SYSCALL_DEFINE5(mremap); mm/mmap.c __get_unmapped_area
 */
function moveArea(ctx: MmContext, mm: MmStruct, vma: Vma, start: number, newPages: number): number {
  const pgoff = vma.vmPgoff + (start - vma.vmStart);
  const ext4 = vma.file !== null && vma.file.fs === "disk";
  const anonThp =
    vmaIsAnonymous(vma) && !(vma.vmFlags & VmFlag.MAYSHARE) && newPages % ctx.env.pgtable.hpagePmdNr === 0;
  if ((ext4 || anonThp) && ctx.env.taskSizeVpn > 1 << 20) {
    const at = thpGetUnmappedArea(ctx, mm, newPages, 0, ext4 ? pgoff : 0);
    if (at >= 0) return at;
  }
  const colourPages = ctx.env.cache.shmlba / 4096;
  if (colourPages > 1 && (vma.vmFlags & VmFlag.MAYSHARE || vma.file !== null || vma.vmFlags & VmFlag.PFNMAP))
    return getUnmappedArea(ctx, mm, newPages, 0, colourPages, pgoff % colourPages);
  return getUnmappedArea(ctx, mm, newPages, -1);
}

/**
 * vma_expandable: nothing mapped in the `delta` pages after the VMA
 * (find_vma_intersection) and the grown VMA inside TASK_SIZE
 * (get_unmapped_area with MAP_FIXED). Unlike a search for free space, the
 * stack_guard_gap below a VM_GROWSDOWN VMA is not kept: MAP_FIXED takes the
 * address as it is.
 * Linux 6.12: mm/mremap.c vma_expandable
 */
function vmaExpandable(ctx: MmContext, mm: MmStruct, vma: Vma, delta: number): boolean {
  const end = vma.vmEnd + delta;
  const next = mm.findVma(vma.vmEnd);
  return (next === null || next.vmStart >= end) && end <= ctx.env.taskSizeVpn;
}

/**
 * vma_to_resize's checks of the old range [start, start + oldPages) of
 * `vma` (the VMA at start): an old length of 0 "duplicates" a mapping,
 * which only a shared one can be (-EINVAL); the range may not pass the
 * VMA's end (-EFAULT); a growth of a VM_DONTEXPAND or VM_PFNMAP VMA is
 * -EFAULT; then the limits on a growing area: -EAGAIN if a VM_LOCKED VMA
 * would pass RLIMIT_MEMLOCK without CAP_IPC_LOCK (mlock_future_ok), -ENOMEM
 * past RLIMIT_AS or, for a data mapping, RLIMIT_DATA (may_expand_vm).
 * Checked before the area grows in place or moves, after MREMAP_FIXED's
 * unmap of the target. vmlab's uid 0 has CAP_IPC_LOCK. Returns 0 or -errno.
 * Linux 6.12: mm/mremap.c vma_to_resize
 */
function vmaToResize(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  start: number,
  oldPages: number,
  newPages: number,
  capIpcLock: boolean,
  dontUnmap = false,
): number {
  if (oldPages === 0 && !(vma.vmFlags & (VmFlag.SHARED | VmFlag.MAYSHARE))) return -Errno.EINVAL;
  // MREMAP_DONTUNMAP: not of a VM_DONTEXPAND (a device's remap_pfn_range, HugeTLB's
  // hugetlbfs_file_mmap) or VM_PFNMAP VMA
  if (dontUnmap && vma.vmFlags & (VmFlag.DONTEXPAND | VmFlag.PFNMAP | VmFlag.HUGETLB)) return -Errno.EINVAL;
  if (start + oldPages > vma.vmEnd) return -Errno.EFAULT;
  if (newPages <= oldPages) return 0;
  if (vma.vmFlags & (VmFlag.DONTEXPAND | VmFlag.PFNMAP)) return -Errno.EFAULT;
  if (!mlockFutureOk(mm, vma.vmFlags, (newPages - oldPages) * 4096, capIpcLock)) return -Errno.EAGAIN;
  return mayExpandVm(ctx, mm, vma.vmFlags, newPages - oldPages) ? 0 : -Errno.ENOMEM;
}

/**
 * move_vma: -ENOMEM when the mm has max_map_count - 3 VMAs or more (the
 * unmap may split one in three), the overcommit check of what the VMA grows
 * by (0 pages too), then the new VMA is made (copy_vma: merged with its new
 * neighbours where it can be), the page tables move into it
 * (move_page_tables: no copy, no fault), then the old range is unmapped,
 * which frees the tables the move emptied.
 * MREMAP_DONTUNMAP (`dontUnmap`, old length = new length): the whole new
 * range is charged (to_account = new_len: the old VMA keeps VM_ACCOUNT and
 * its charge) and the old range stays mapped, empty: a fault there finds
 * nothing (a private anonymous page is new, a file's is read again). The
 * VMA at the old address loses VM_LOCKED and VM_LOCKONFAULT, whole even
 * when it is larger than the range (no split; its other pages stay
 * mlocked, and Linux's mm->locked_vm is not touched: vmlab counts locked_vm
 * from the VMAs, so there it drops by the pages of that VMA); when it is
 * the range exactly, its anon_vma links go (unlink_anon_vmas: its next
 * anonymous fault makes a new anon_vma).
 * Linux 6.12: mm/mremap.c move_vma (copy_vma, move_page_tables, do_vmi_munmap)
 */
function moveVma(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  start: number,
  oldPages: number,
  newPages: number,
  to: number,
  capSysAdmin: boolean,
  dontUnmap = false,
): number {
  // move_vma: "We'd prefer to avoid failure later on in do_munmap: which may split one vma into three"
  if (mm.vmas.length >= maxMapCount(ctx) - 3) return -Errno.ENOMEM;
  // move_vma: an accounted VMA is charged for what it grows by (to_account) before the move;
  // security_vm_enough_memory_mm runs for a move that does not grow too (0 pages: refused under
  // overcommit_memory=2 when Committed_AS has already reached the limit); MREMAP_DONTUNMAP: new_len
  const toAccount = dontUnmap ? newPages : newPages - oldPages;
  const lockedBefore = dontUnmap ? lockedVm(mm) : 0;
  if (vma.vmFlags & VmFlag.ACCOUNT && !vmEnoughMemory(ctx, mm, toAccount, capSysAdmin)) return -Errno.ENOMEM;
  const moved = Math.min(oldPages, newPages);
  const nv = vma.clone();
  nv.vmStart = to;
  nv.vmEnd = to + newPages;
  // copy_vma: the page offset moves with the pages (a file mapping keeps its file offset;
  // an anonymous one keeps its linear index, which the reverse map relies on), except for an
  // anonymous VMA with no anon_vma yet: no page to find, so it takes the new address's index,
  // the one a mapping made there would have, "to increase its chance of merging"
  nv.vmPgoff = vmaIsAnonymous(vma) && vma.anonVma === 0 ? to : vma.vmPgoff + (start - vma.vmStart);
  const accounted = (nv.vmFlags & VmFlag.ACCOUNT) !== 0;
  // copy_vma: vma_merge_new_range with the VMAs around the new range (never for VM_SPECIAL:
  // VM_IO, VM_DONTEXPAND (HugeTLB), VM_PFNMAP), else a VMA of its own
  mm.insert(nv);
  if (!(nv.vmFlags & (VmFlag.IO | VmFlag.DONTEXPAND | VmFlag.PFNMAP))) mergeAround(ctx, mm, nv);
  if (accounted) mm.committed += newPages;
  // move_page_tables: a HugeTLB VMA's entries move by move_hugetlb_page_tables
  const move = vma.vmFlags & VmFlag.HUGETLB ? moveHugetlbPageTables : movePageTables;
  if (move(ctx, mm, start, to, moved) < moved) {
    // out of memory for a table: move_vma moves back what went and unmaps the new range
    move(ctx, mm, to, start, moved);
    munmap(ctx, mm, to, newPages);
    return -Errno.ENOMEM;
  }
  if (vma.vmFlags & VmFlag.HUGETLB) clearVmaResvHugePages(vma); // move_vma: the reservations went with nv
  if (dontUnmap) {
    // "We always clear VM_LOCKED[ONFAULT] on the old vma"; "anon_vma links of the old vma is no
    // longer needed after its page table has been moved" (when it is not the new VMA, merged)
    const old = mm.vmaAt(start);
    if (old !== null) {
      old.vmFlags = vmFlagsUpdate(old.vmFlags, 0, VmFlag.LOCKED | VmFlag.LOCKONFAULT);
      // locked_vm stays as it was before the move (copy_vma adds nothing either): what the VMAs'
      // VM_LOCKED no longer counts is kept in lockedVmStale
      mm.lockedVmStale += lockedBefore - lockedVm(mm);
      if (old.vmStart === start && old.vmEnd === start + oldPages && mm.vmaAt(to) !== old) {
        mm.anonVmas?.unlink(old); // unlink_anon_vmas: vma->anon_vma = NULL
        old.avc = [];
        old.anonVma = 0;
      }
    }
    return to; // "Because we won't unmap we don't need to touch locked_vm"
  }
  // move_vma keeps hiwater_vm across the old range's unmap: the move's transient total_vm is no peak
  const hiwaterVm = mm.hiwaterVm;
  munmap(ctx, mm, start, oldPages);
  mm.hiwaterVm = hiwaterVm;
  return to;
}

/**
 * move_page_tables: PMD-sized step by step (get_extent), a huge PMD moves
 * whole when the step covers it (move_huge_pmd) and is split otherwise; a
 * whole PTE table moves by its PMD entry when the step is PMD-sized and
 * the destination's entry is empty (move_normal_pmd); anything else moves
 * PTE by PTE (move_ptes). Addresses mutually misaligned by the same amount
 * are first aligned down to the PMD boundary when no other mapping is in
 * the way (try_realign_addr). A PUD-sized step moves a whole PMD table by
 * its PUD entry (move_normal_pud), where the PUD is a level of its own (not
 * folded into the PGD). Returns the pages moved (less than `len` when a
 * table could not be allocated).
 * Linux: mm/mremap.c move_page_tables, get_extent, try_realign_addr
 */
export function movePageTables(
  ctx: MmContext,
  mm: MmStruct,
  oldStart: number,
  newStart: number,
  len: number,
): number {
  if (len === 0) return 0;
  const env = ctx.env;
  const pt = env.pgtable;
  const span = levelSpan(ctx, pt.pmdLevel); // PMD_SIZE in pages
  const oldEnd = oldStart + len;
  let oldAddr = oldStart;
  let newAddr = newStart;
  if (len >= span - (oldAddr % span) && oldAddr % span !== 0 && oldAddr % span === newAddr % span) {
    // try_realign_addr: both must start their VMAs and have nothing mapped below, to the boundary
    const down = (a: number) => {
      const v = mm.vmaAt(a);
      return v !== null && v.vmStart === a && !mm.vmas.some((w) => w.vmStart < a && w.vmEnd > a - (a % span));
    };
    if (down(oldAddr) && down(newAddr)) {
      oldAddr -= oldAddr % span;
      newAddr -= newAddr % span;
    }
  }
  env.cache.flushCacheRange(mm, oldAddr, oldEnd - oldAddr); // flush_cache_range(vma, old_addr, old_end)
  const m = mapper(ctx, mm);
  const pudLevel = pt.pmdLevel + 1;
  const pudSpan = levelSpan(ctx, pudLevel); // PUD_SIZE in pages
  for (let extent = 0; oldAddr < oldEnd; oldAddr += extent, newAddr += extent) {
    if (pudLevel < pt.levels) {
      // get_extent(NORMAL_PUD); get_old_pud: nothing below an empty PUD entry; alloc_new_pud
      extent = Math.min(pudSpan - (oldAddr % pudSpan), oldEnd - oldAddr, pudSpan - (newAddr % pudSpan));
      const oldPud = m.entryAt(mm.pgdPfn, vpnUnchecked(oldAddr), pudLevel);
      if (oldPud === null || pt.none(oldPud.hi, oldPud.lo)) continue;
      const pu = m.ensureTable(mm.pgdPfn, vpnUnchecked(newAddr), pudLevel, true);
      if (pu < 0) break;
      const newPudPa = pu * 4096 + (Math.floor(newAddr / pudSpan) % pt.ptrsPerTable) * pt.entryBytes;
      if (extent === pudSpan && pudLevel < pt.levels - 1 && moveNormalPud(ctx, mm, oldAddr, oldPud, newPudPa))
        continue;
    }
    // get_extent(NORMAL_PMD): to the next PMD boundary of either address, within the range
    extent = Math.min(span - (oldAddr % span), oldEnd - oldAddr, span - (newAddr % span));
    const oldPmd = pmdOf(ctx, mm, oldAddr); // get_old_pmd: none if no table or an empty entry
    if (oldPmd === null || pt.none(oldPmd.hi, oldPmd.lo)) continue;
    // alloc_new_pmd
    const pd = m.ensureTable(mm.pgdPfn, vpnUnchecked(newAddr), pt.pmdLevel, true);
    if (pd < 0) break;
    const newPmdPa = pd * 4096 + (Math.floor(newAddr / span) % pt.ptrsPerTable) * pt.entryBytes;
    if (isHugePmd(ctx, oldPmd.hi, oldPmd.lo)) {
      if (extent === span && moveHugePmd(ctx, mm, oldAddr, oldPmd, newPmdPa)) continue;
      splitPmd(ctx, mm, oldAddr);
    } else if (extent === span && moveNormalPmd(ctx, mm, oldAddr, oldPmd, newPmdPa)) continue;
    // pte_alloc(new_pmd), then move_ptes
    const oldTable = tableIfPresent(ctx, m, mm.pgdPfn, oldAddr);
    if (oldTable < 0) continue;
    const newTable = m.ensureTable(mm.pgdPfn, vpnUnchecked(newAddr), 0, true);
    if (newTable < 0) break;
    movePtes(ctx, mm, oldTable, oldAddr, newTable, newAddr, extent);
  }
  // how much was done, counted from where the caller asked (realignment may start below it)
  return Math.max(0, len + oldAddr - oldEnd);
}

/**
 * move_normal_pmd: the destination PMD entry takes the source's PTE table
 * as it is (pmd_populate), the source entry is cleared, and the old 2 MiB
 * is flushed (flush_tlb_range, which also drops walk-cache entries that
 * point at the table through the old address). No PTE is touched and no
 * table allocated or freed. Refused when the destination entry is not
 * empty or the source is not a table.
 * Linux: mm/mremap.c move_normal_pmd
 */
function moveNormalPmd(
  ctx: MmContext,
  mm: MmStruct,
  oldAddr: number,
  oldPmd: { pa: number; hi: number; lo: number },
  newPmdPa: number,
): boolean {
  const env = ctx.env;
  const pt = env.pgtable;
  const dst = pt.get(env.phys, newPmdPa);
  if (!pt.none(dst.hi, dst.lo)) return false;
  if (!pt.present(oldPmd.hi, oldPmd.lo) || isHugePmd(ctx, oldPmd.hi, oldPmd.lo)) return false;
  const table = pt.pfn(oldPmd.hi, oldPmd.lo, pt.pmdLevel);
  setPmd(ctx, oldPmd.pa, 0, 0); // pmd_clear
  const e = pt.mkTable(table, true);
  setPmd(ctx, newPmdPa, e.hi, e.lo); // pmd_populate
  const span = levelSpan(ctx, pt.pmdLevel);
  env.flushTlbMmRange(mm, oldAddr, span, TlbFlush.Range);
  return true;
}

/**
 * move_normal_pud: as move_normal_pmd one level up: the destination PUD
 * entry takes the source's PMD table (with the tables its huge PMDs hold in
 * deposit, which belong to that PMD table), and the old 1 GiB is flushed.
 * Linux: mm/mremap.c move_normal_pud
 */
function moveNormalPud(
  ctx: MmContext,
  mm: MmStruct,
  oldAddr: number,
  oldPud: { entryPa: number; hi: number; lo: number },
  newPudPa: number,
): boolean {
  const env = ctx.env;
  const pt = env.pgtable;
  const level = pt.pmdLevel + 1;
  const dst = pt.get(env.phys, newPudPa);
  if (!pt.none(dst.hi, dst.lo) || !pt.table(oldPud.hi, oldPud.lo, level)) return false;
  const table = pt.pfn(oldPud.hi, oldPud.lo, level);
  pt.set(env.phys, oldPud.entryPa, 0, 0); // pud_clear
  upperTablesChanged(); // the PMD table moved: pmdPa walks from the top again
  const e = pt.mkTable(table, true);
  pt.set(env.phys, newPudPa, e.hi, e.lo); // pud_populate
  env.flushTlbMmRange(mm, oldAddr, levelSpan(ctx, level), TlbFlush.Range);
  return true;
}

/** A PMD entry written (the top-level entry on a machine whose PMD is folded into the PGD). */
function setPmd(ctx: MmContext, pa: number, hi: number, lo: number): void {
  const pt = ctx.env.pgtable;
  if (pt.pmdLevel === pt.levels - 1) pt.setTop(ctx.env.phys, pa, hi, lo);
  else pt.set(ctx.env.phys, pa, hi, lo);
}

/**
 * move_ptes: each entry of [oldAddr, oldAddr+n) is cleared
 * (ptep_get_and_clear) and set at the same place of the new table, swap
 * entries and markers too; if any was present, the old range is flushed
 * once, before the page-table lock is dropped (flush_tlb_range).
 * Linux: mm/mremap.c move_ptes
 */
function movePtes(
  ctx: MmContext,
  mm: MmStruct,
  oldTable: number,
  oldAddr: number,
  newTable: number,
  newAddr: number,
  n: number,
): void {
  const env = ctx.env;
  const pt = env.pgtable;
  const per = pt.ptrsPerTable;
  let forceFlush = false;
  flushTlbBatchedPending(ctx.env.tlbUbc, mm); // move_ptes, with both tables locked
  for (let i = 0; i < n; i++) {
    const src = oldTable * 4096 + ((oldAddr + i) % per) * pt.entryBytes;
    const e = pt.get(env.phys, src);
    if (pt.none(e.hi, e.lo)) continue;
    pt.contpte?.tryUnfold(ctx.env, mm, src, oldAddr + i); // arm64 ptep_get_and_clear
    pt.set(env.phys, src, 0, 0);
    if (pt.present(e.hi, e.lo)) forceFlush = true;
    setPteAt(ctx, newTable * 4096 + ((newAddr + i) % per) * pt.entryBytes, e.hi, e.lo, mm, newAddr + i);
  }
  if (forceFlush) env.flushTlbMmRange(mm, oldAddr, n, TlbFlush.Range);
}
