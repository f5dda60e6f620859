/**
 * Faulting pages in for MAP_POPULATE, mlock, mprotect of a locked mapping
 * and mremap of a locked one. Linux: mm/gup.c (__mm_populate,
 * populate_vma_page_range); the single-page fault itself is core/gup.ts.
 * Also the folio side of FOLL_PIN (GUP_PIN_COUNTING_BIAS, folio_maybe_dma_pinned)
 * and fork's copy of a maybe-pinned page (copy_present_page); GUP with pages
 * returned and remote GUP are core/gup_remote.ts.
 */
import { inWholeThp } from "./folio_put.ts";
import { Errno, linearIndex, type MmContext, VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { allocUserPage, copyFrame } from "./memory.ts";
import { PageFlag } from "./PageDesc.ts";
import { type Vma, VmFlag } from "./vma.ts";

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

/**
 * GUP_PIN_COUNTING_BIAS: a FOLL_PIN reference on a small folio adds this to
 * its refcount (a large folio's adds 1 and counts in _pincount instead).
 * Linux: include/linux/mm.h GUP_PIN_COUNTING_BIAS
 */
export const GUP_PIN_COUNTING_BIAS = 1024;

/**
 * The head of the large folio `pfn` belongs to, or -1 for a small one: a
 * whole THP (PMD- or PTE-mapped) or an mTHP folio. HugeTLB folios are named
 * by their callers (the leaf that maps them).
 */
export function largeFolioHead(ctx: MmContext, pfn: number): number {
  const env = ctx.env;
  if (inWholeThp(env, pfn)) return pfn - (pfn % env.pgtable.hpagePmdNr);
  const m = env.mthp;
  if (m !== undefined && m.liveOrders !== 0) return m.headOf(pfn);
  return -1;
}

/**
 * folio_maybe_dma_pinned: a large folio with _pincount > 0, a small one
 * whose refcount reaches GUP_PIN_COUNTING_BIAS (false positives from 1024
 * plain references are Linux's too).
 * Linux: include/linux/mm.h folio_maybe_dma_pinned
 */
export function folioMaybeDmaPinned(ctx: MmContext, pfn: number): boolean {
  const pins = ctx.pincount;
  if (pins === undefined) return false;
  const head = largeFolioHead(ctx, pfn);
  if (head >= 0) return (pins.get(head) ?? 0) > 0;
  return ctx.env.pages.refcount[pfn] >= GUP_PIN_COUNTING_BIAS;
}

/**
 * folio_needs_cow_for_dma: fork must copy this anonymous page at once rather
 * than share it: a COW mapping of an mm that has pinned (MMF_HAS_PINNED) and
 * a folio that may be pinned. Linux: include/linux/mm.h folio_needs_cow_for_dma
 */
export function folioNeedsCowForDma(ctx: MmContext, mm: MmStruct, vmFlags: number, pfn: number): boolean {
  if ((vmFlags & (VmFlag.SHARED | VmFlag.MAYWRITE)) !== VmFlag.MAYWRITE) return false; // is_cow_mapping
  return mm.hasPinned && folioMaybeDmaPinned(ctx, pfn);
}

/**
 * copy_present_page: fork's copy of a maybe-pinned exclusive anonymous page
 * (folio_try_dup_anon_rmap_pte refused to share it): a new page for the
 * child, the contents copied (copy_user_highpage), mapped exclusive into
 * the child's VMA, on the LRU, dirty and writable as the VMA allows
 * (maybe_mkwrite(pte_mkdirty)); the parent's PTE and page are untouched (still
 * writable, still exclusive). Returns the child's entry, or null without memory
 * (the fork fails: -ENOMEM). Linux: mm/memory.c copy_present_page
 */
export function copyPresentPage(
  ctx: MmContext,
  child: MmStruct,
  childVma: Vma,
  vpn: number,
  old: number,
): { hi: number; lo: number } | null {
  child.anonVmaPrepare(childVma);
  const pfn = allocUserPage(ctx, linearIndex(childVma, vpn), childVma.anonVma, childVma.vmFlags);
  if (pfn < 0) return null;
  ctx.env.cache.copyUserHighpage(child, vpn, old);
  copyFrame(ctx.env.phys, old, pfn);
  const pages = ctx.env.pages;
  pages.mapcount[pfn] = 1;
  pages.flags[pfn] |= PageFlag.AnonExclusive; // folio_add_new_anon_rmap(RMAP_EXCLUSIVE)
  child.rssAnon++;
  child.forkCopied++;
  const w = (childVma.vmFlags & VmFlag.WRITE) !== 0;
  return ctx.env.pgtable.mkUser(pfn, 0, childVma.vmFlags, w, true, false);
}
