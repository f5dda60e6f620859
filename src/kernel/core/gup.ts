/**
 * Faults the kernel takes on a task's behalf (mm/gup.c): populating pages
 * (populate_vma_page_range, faultin_page, for MAP_POPULATE, mlock and
 * MADV_POPULATE_*) and get_dump_page for core dumps; and how a resolved
 * fault is counted (mm/memory.c mm_account_fault).
 */

import { PteFlag } from "../mm/arch.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { PageFlag, PageKind } from "../mm/PageDesc.ts";
import { ptepSetAccessFlags } from "../mm/pgtable.ts";
import { VmFault } from "../mm/userMm.ts";
import { VmFlag } from "../mm/vma.ts";
import type { KernelCore } from "./core.ts";
import { pkeyAccessPermitted } from "./pkeys.ts";
import { userOf } from "./sched.ts";
import type { Task } from "./task.ts";
import { faultDirtySharedPage } from "./writeback.ts";

/**
 * mm_account_fault: a resolved fault counts as major when the page had to
 * be read (VM_FAULT_MAJOR), else minor. Returns VmFault.MAJOR for masking.
 */
export function accountFault(task: Task, r: VmFault): number {
  if ((r & ~VmFault.MAJOR) !== VmFault.OK) return VmFault.MAJOR;
  if (r & VmFault.MAJOR) task.majFlt++;
  else task.minFlt++;
  return VmFault.MAJOR;
}

/**
 * A population fault (MAP_POPULATE, MAP_LOCKED, MADV_POPULATE_*): counted as
 * a fault per page, major when it read the page. The page it finds or
 * faults in is then touched as populate_vma_page_range's FOLL_TOUCH does
 * (follow_page_pte: folio_mark_accessed; not the zero page nor a special PTE).
 */
export function populate(k: KernelCore, task: Task, vpn: number, write: boolean): VmFault {
  const mm = task.mm!;
  const vma = mm.vmaAt(vpn);
  if (vma === null) return VmFault.SIGSEGV;
  // check_vma_flags: a GUP is a data access of the caller's own mm, which its protection keys may deny
  if (!pkeyAccessPermitted(k, task, vma.vmFlags, write)) return VmFault.SIGSEGV | VmFault.GUP_REFUSED;
  const pt = k.arch.pgtable;
  const leaf = k.userMm.leafFor(mm, vpn);
  if (leaf !== null && pt.accessible(leaf.hi, leaf.lo) && (!write || pt.write(leaf.hi, leaf.lo))) {
    touchPage(k, mm, vpn, write);
    return VmFault.OK;
  }
  k.faultingMm = mm;
  const r = k.userMm.handleMmFault(mm, vma, vpn, write);
  k.faultingMm = null;
  faultDirtySharedPage(k, task); // fault_dirty_shared_page: a shared file page made dirty
  accountFault(task, r);
  if ((r & ~VmFault.MAJOR) === VmFault.OK) touchPage(k, mm, vpn, write);
  return r & ~VmFault.MAJOR;
}

/**
 * FOLL_TOUCH on the page mapped at vpn (follow_page_pte): folio_mark_accessed
 * of its folio, and with FOLL_WRITE a PTE still clean on a page not yet
 * PageDirty makes it dirty (follow_page_pte: set_page_dirty), so a page
 * swapped in by a read, mapped writable and clean, must be written to swap
 * again before reclaim can drop it. vmlab does that for anonymous pages
 * (swap_aops' noop_dirty_folio: PG_dirty); a file page's set_page_dirty
 * (filemap_dirty_folio and its accounting) is not modelled here. A huge
 * PMD is touched instead (follow_huge_pmd: touch_pmd makes the entry young,
 * and dirty for a write, and leaves the folio's flags alone).
 */
export function touchPage(k: KernelCore, mm: MmStruct, vpn: number, write: boolean): void {
  const pt = k.arch.pgtable;
  const leaf = k.userMm.leafFor(mm, vpn);
  if (leaf === null || !pt.present(leaf.hi, leaf.lo) || (leaf.level === 0 && pt.special(leaf.hi, leaf.lo)))
    return;
  const head = leaf.level === 0 ? leaf.pfn : leaf.pfn - (leaf.pfn % pt.ptrsPerTable ** leaf.level);
  if (head === k.zeroPfn || head === k.userMm.hugeZeroPfn) return;
  if (leaf.level > 0) {
    if (leaf.level !== pt.pmdLevel) return; // follow_huge_pud touches only a devmap PUD
    // follow_huge_pmd: touch_pmd, the huge entry made young (and dirty for a write) through
    // pmdp_set_access_flags; the folio is not marked accessed
    const set = PteFlag.YOUNG | (write ? PteFlag.DIRTY : 0);
    const next = pt.modify(leaf.hi, leaf.lo, set, 0);
    if (next.hi !== leaf.hi || next.lo !== leaf.lo) {
      const start = vpn - (vpn % pt.ptrsPerTable ** leaf.level);
      ptepSetAccessFlags(k.userMm, mm, start, leaf.pa, leaf, next, write);
    }
    return;
  }
  if (write && !pt.dirty(leaf.hi, leaf.lo)) folioMarkDirty(k, head);
  k.vmscan.markAccessed(head);
}

/**
 * folio_mark_dirty of a page GUP wrote through (FOLL_TOUCH, set_page_dirty_lock,
 * unpin_user_pages_dirty_lock): PG_dirty of an anonymous page or of a shmem
 * folio (shmem_dirty_folio: a page-cache page that is swap-backed), so reclaim
 * writes it out rather than dropping it; a disk file's page is dirtied by the
 * write fault that made its PTE writable (its folio_mark_dirty here is not modelled).
 * Linux: mm/page-writeback.c folio_mark_dirty; mm/shmem.c shmem_aops.dirty_folio
 */
export function folioMarkDirty(k: KernelCore, pfn: number): void {
  const pages = k.pages;
  const kind = pages.kind[pfn];
  if (kind === PageKind.UserAnon || (kind === PageKind.PageCache && pages.flags[pfn] & PageFlag.SwapBacked))
    pages.flags[pfn] |= PageFlag.Dirty;
}

/**
 * get_dump_page (mm/gup.c): the frame at `vpn` for a core dump, or -1 for
 * a hole. FOLL_DUMP: a missing entry in an anonymous VMA (or one without
 * a fault handler, as a PFNMAP) is a hole, not a fault; the zero pages and
 * special PTEs are holes; anything else not present (a file page, a shmem
 * page, a swap entry) is faulted in as a read with FOLL_FORCE, counted
 * against the task as GUP faults are.
 */
export function getDumpPage(k: KernelCore, task: Task, vpn: number): number {
  const mm = userOf(task);
  const vma = mm.vmaAt(vpn);
  if (vma === null) return -1;
  const pt = k.arch.pgtable;
  for (let attempt = 0; attempt < 2; attempt++) {
    const leaf = k.userMm.leafFor(mm, vpn);
    if (leaf !== null && pt.accessible(leaf.hi, leaf.lo)) {
      const special = leaf.level === 0 && pt.special(leaf.hi, leaf.lo);
      const zero =
        leaf.pfn === k.zeroPfn ||
        (leaf.level === pt.pmdLevel && leaf.pfn - (vpn % pt.hpagePmdNr) === k.userMm.hugeZeroPfn);
      return special || zero ? -1 : leaf.pfn;
    }
    const none = leaf === null || pt.none(leaf.hi, leaf.lo);
    const anonymous = vma.file === null && vma.shmem === null;
    if (none && (anonymous || vma.vmFlags & VmFlag.PFNMAP)) return -1; // no_page_table
    if (attempt === 0) populate(k, task, vpn, false);
  }
  return -1;
}
