/**
 * madvise: one entry point (doMadvise) over Linux's advice values, and the
 * advice that acts on pages. Linux: mm/madvise.c (do_madvise,
 * madvise_vma_behavior, madvise_dontneed_single_vma, madvise_free_pte_range,
 * madvise_cold_or_pageout_pte_range, madvise_guard_install/remove).
 * MADV_FREE is madvise_free.ts's.
 */

import { PteFlag } from "./arch.ts";
import { Fadv, genericFadvise } from "./fadvise.ts";
import { vmFileOf } from "./filemap.ts";
import { folioMaybeDmaPinned } from "./gup.ts";
import { countFolioSplit, isFilePmd, splitPmd, unmapFilePmds } from "./huge_memory.ts";
import { hugetlbMadviseRefused, hugetlbMaySplit } from "./hugetlb.ts";
import { hstateVma } from "./hugetlb_pool.ts";
import { Errno, linearIndex, type MmContext, VmFault } from "./internal.ts";
import { madviseCollapse } from "./khugepaged.ts";
import { khugepagedEnterVma } from "./khugepaged_slots.ts";
import { ksmMadvise } from "./ksm.ts";
import { type MmStruct, vmaParts } from "./MmStruct.ts";
import { clearYoungPtes, coldTmpfsFolio } from "./madvise_cold_folio.ts";
import { exclusiveAnonPmd, lazyFree, mthpPageoutWhole, splitAnonFoliosInPart } from "./madvise_free.ts";
import { guardInstall, guardRemove } from "./madvise_guard.ts";
import { zapRange } from "./memory.ts";
import { isMapped, setFlags, splitAt } from "./mmap.ts";
import { MmuGather } from "./mmu_gather.ts";
import { madvSealRefusedAt } from "./mseal.ts";
import { isHugePmd, pmdOf, ptepClearFlush, ptepModify, readPte } from "./pgtable.ts";
import { shmemWillneed } from "./shmem.ts";
import { shmemObjSplit } from "./shmem_anon_huge.ts";
import { willneedSwap } from "./swap_state.ts";
import { flushTlbBatchedPending } from "./tlbbatch.ts";
import { type Vma, VmFlag, vmaDroppable, vmFlagsUpdate } from "./vma.ts";

/**
 * The advice values of madvise(2), as Linux numbers them.
 * Linux: include/uapi/asm-generic/mman-common.h MADV_*
 */
export const enum Madv {
  NORMAL = 0,
  RANDOM = 1,
  SEQUENTIAL = 2,
  WILLNEED = 3,
  DONTNEED = 4,
  FREE = 8,
  REMOVE = 9,
  DONTFORK = 10,
  DOFORK = 11,
  MERGEABLE = 12,
  UNMERGEABLE = 13,
  HUGEPAGE = 14,
  NOHUGEPAGE = 15,
  DONTDUMP = 16,
  DODUMP = 17,
  WIPEONFORK = 18,
  KEEPONFORK = 19,
  COLD = 20,
  PAGEOUT = 21,
  POPULATE_READ = 22,
  POPULATE_WRITE = 23,
  DONTNEED_LOCKED = 24,
  COLLAPSE = 25,
  GUARD_INSTALL = 102,
  GUARD_REMOVE = 103,
}

/** is_madv_discard (mm/mseal.c): the advices mseal refuses on a sealed read-only anonymous VMA */
const MADV_DISCARD: readonly number[] = [
  Madv.FREE,
  Madv.DONTNEED,
  Madv.DONTNEED_LOCKED,
  Madv.REMOVE,
  Madv.DONTFORK,
  Madv.WIPEONFORK,
];

/**
 * The advice vmlab models, by the name the scenario language (and
 * Kernel.madvise) gives it: MADV_ in lower case, without the prefix.
 * doMadvise returns -EINVAL for the others (HWPOISON, SOFT_OFFLINE: without
 * CONFIG_MEMORY_FAILURE), as for an advice the kernel does not know. MADV_REMOVE
 * (`remove`) is the file system's hole punch: kernel/core/fallocate.ts.
 */
export const MADVISE_ADVICE: Readonly<Record<string, Madv>> = {
  dontneed: Madv.DONTNEED,
  dontneed_locked: Madv.DONTNEED_LOCKED,
  free: Madv.FREE,
  willneed: Madv.WILLNEED,
  pageout: Madv.PAGEOUT,
  cold: Madv.COLD,
  random: Madv.RANDOM,
  sequential: Madv.SEQUENTIAL,
  normal: Madv.NORMAL,
  hugepage: Madv.HUGEPAGE,
  nohugepage: Madv.NOHUGEPAGE,
  dontfork: Madv.DONTFORK,
  dofork: Madv.DOFORK,
  wipeonfork: Madv.WIPEONFORK,
  keeponfork: Madv.KEEPONFORK,
  dontdump: Madv.DONTDUMP,
  dodump: Madv.DODUMP,
  guard_install: Madv.GUARD_INSTALL,
  guard_remove: Madv.GUARD_REMOVE,
  populate_read: Madv.POPULATE_READ,
  populate_write: Madv.POPULATE_WRITE,
  collapse: Madv.COLLAPSE,
  mergeable: Madv.MERGEABLE,
  unmergeable: Madv.UNMERGEABLE,
};

/**
 * madvise(2) on the pages [start, end) of mm (the system call has checked
 * the advice, then the byte range: -EINVAL for a misaligned start or a range
 * that wraps; an empty range is 0; a range past TASK_SIZE is a hole). The
 * advice applies to the mapped parts of the range in address order; a hole
 * makes the result -ENOMEM after applying it (MADV_POPULATE_*: -ENOMEM at
 * the hole, the pages before it populated). A VMA the advice refuses
 * (refusedAt: the LRU, zap and guard advices on VM_LOCKED or VM_PFNMAP,
 * MADV_DONTNEED_LOCKED on VM_PFNMAP, the LRU advices and MADV_FREE on
 * HugeTLB, MADV_DONTNEED from inside a huge page, MADV_FREE on memory that
 * is not anonymous, MADV_WIPEONFORK on a file or shared mapping, MADV_DOFORK
 * on VM_IO, MADV_DODUMP on VM_SPECIAL; a VMA flag advice that would split a
 * HugeTLB VMA off a huge page boundary) ends the walk with -EINVAL, the VMAs
 * before it advised. An advice vmlab does not
 * model is -EINVAL. `fault` is a population fault counted against the task
 * (MADV_POPULATE_*); `reclaimed` learns how many pages MADV_PAGEOUT
 * reclaimed. Returns 0 or -errno.
 * Linux: mm/madvise.c do_madvise, madvise_walk_vmas, madvise_vma_behavior
 */
export function doMadvise(
  ctx: MmContext,
  mm: MmStruct,
  start: number,
  end: number,
  advice: number,
  fault: (vpn: number, write: boolean) => VmFault,
  reclaimed?: (pages: number) => void,
): number {
  if (start === end) return 0;
  // MADV_GUARD_INSTALL (6.13 and later) refuses a range touching HugeTLB before it does anything;
  // the other advices meet HugeTLB VMAs in the walk (refusedAt)
  if (advice === Madv.GUARD_INSTALL && hugetlbMadviseRefused(ctx, mm, start, end, false, true))
    return -Errno.EINVAL;
  const hole = !isMapped(mm, start, end);
  // madvise_walk_vmas visits the VMAs in address order and stops at the first one the advice
  // refuses (-EINVAL), the ones before it advised: `stop` is that VMA's start, or `end`
  // madvise_vma_behavior: can_modify_vma_madv (mseal, -EPERM) before the advice's own checks
  const sealedAt = madvSealRefusedAt(mm, start, end, MADV_DISCARD.includes(advice));
  const invalidAt = refusedAt(mm, start, end, advice);
  const refused = sealedAt >= 0 && (invalidAt < 0 || sealedAt <= invalidAt) ? sealedAt : invalidAt;
  const refusedErr = refused === sealedAt && refused >= 0 ? -Errno.EPERM : -Errno.EINVAL;
  const stop = refused < 0 ? end : refused;
  const mapped = (f: (a: number, b: number) => void) => {
    for (const v of mm.vmas.slice()) {
      const a = Math.max(start, v.vmStart);
      const b = Math.min(stop, v.vmEnd);
      if (a < b) f(a, b);
    }
  };
  /** madvise_update_vma on the VMAs before `stop` (vma_modify_flags); an error ends the walk */
  let flagsErr = 0;
  const advise = (set: number, clear: number) => {
    flagsErr = updateVmas(ctx, mm, start, stop, set, clear);
  };
  switch (advice) {
    case Madv.PAGEOUT:
    case Madv.COLD:
      if (advice === Madv.COLD) mapped((a, b) => cold(ctx, mm, a, b));
      if (advice === Madv.PAGEOUT)
        mapped((a, b) => {
          const n = pageout(ctx, mm, a, b);
          reclaimed?.(n);
        });
      break;
    case Madv.DONTNEED:
    case Madv.DONTNEED_LOCKED:
      if (stop > start) dontneed(ctx, mm, start, stop);
      break;
    case Madv.FREE:
      mapped((a, b) => lazyFree(ctx, mm, a, b));
      break;
    case Madv.WILLNEED:
      // madvise_walk_vmas: each VMA's part of the range in address order; a hole is -ENOMEM at the end
      mapped((a, b) => willneed(ctx, mm, mm.vmaAt(a)!, a, b));
      break;
    case Madv.HUGEPAGE:
      advise(VmFlag.HUGEPAGE, VmFlag.NOHUGEPAGE);
      // hugepage_madvise: "register it here without waiting a page fault"
      mapped((a) => khugepagedEnterVma(ctx, mm, mm.vmaAt(a)!));
      break;
    case Madv.COLLAPSE:
      // madvise_walk_vmas: each VMA's part in address order; the first error ends the walk
      for (const v of mm.vmas.slice()) {
        const a = Math.max(start, v.vmStart);
        const b = Math.min(end, v.vmEnd);
        if (a >= b) continue;
        const err = madviseCollapse(ctx, mm, v, a, b);
        if (err < 0) return err;
      }
      break;
    case Madv.NOHUGEPAGE:
      advise(VmFlag.NOHUGEPAGE, VmFlag.HUGEPAGE);
      break;
    case Madv.MERGEABLE:
    case Madv.UNMERGEABLE:
      // madvise_vma_behavior: ksm_madvise (mm/ksm.ts); -EINVAL without CONFIG_KSM
      flagsErr = ksmMadvise(ctx, mm, start, stop, advice === Madv.MERGEABLE);
      break;
    case Madv.DONTFORK:
      advise(VmFlag.DONTCOPY, 0);
      break;
    case Madv.DOFORK:
      advise(0, VmFlag.DONTCOPY);
      break;
    case Madv.WIPEONFORK:
      advise(VmFlag.WIPEONFORK, 0);
      break;
    case Madv.KEEPONFORK:
      advise(0, VmFlag.WIPEONFORK);
      break;
    case Madv.DONTDUMP:
      advise(VmFlag.DONTDUMP, 0);
      break;
    case Madv.DODUMP:
      // VM_SPECIAL mappings (remap_pfn_range, VM_IO) stay out of core dumps (refusedAt)
      advise(0, VmFlag.DONTDUMP);
      break;
    case Madv.RANDOM:
      advise(VmFlag.RAND_READ, VmFlag.SEQ_READ);
      break;
    case Madv.SEQUENTIAL:
      advise(VmFlag.SEQ_READ, VmFlag.RAND_READ);
      break;
    case Madv.NORMAL:
      advise(0, VmFlag.SEQ_READ | VmFlag.RAND_READ);
      break;
    case Madv.POPULATE_READ:
    case Madv.POPULATE_WRITE: {
      const write = advice === Madv.POPULATE_WRITE;
      const err = madvisePopulate(mm, start, end, write, fault);
      ctx.env.lru?.fbatches.drain(); // faultin_page_range: lru_add_drain after __get_user_pages_locked
      if (err < 0) return err;
      break;
    }
    case Madv.GUARD_INSTALL:
      if (refused >= 0) return -Errno.EINVAL; // is_valid_guard_vma, checked over the range first
      // VM_MAYBE_GUARD on each VMA the range touches, whole (set atomically, no split; Linux 6.18)
      for (const v of mm.vmas)
        if (v.vmStart < end && v.vmEnd > start) v.vmFlags = vmFlagsUpdate(v.vmFlags, VmFlag.MAYBE_GUARD, 0);
      mapped((a, b) => guardInstall(ctx, mm, a, b));
      break;
    case Madv.GUARD_REMOVE:
      mapped((a, b) => guardRemove(ctx, mm, a, b));
      break;
    default:
      return -Errno.EINVAL;
  }
  if (flagsErr < 0) return flagsErr;
  if (refused >= 0) return refusedErr;
  return hole ? -Errno.ENOMEM : 0;
}

/**
 * madvise_update_vma over the VMAs of [start, end) in address order, each
 * VMA's flags set and cleared: a VMA whose flags would not change is left
 * whole (no split, no merge); the first VMA whose split fails ends the walk
 * with that error, the VMAs before it updated: a HugeTLB VMA splits only at a
 * huge page boundary (hugetlb_vm_op_split: -EINVAL); vma_modify splits the
 * start first, so a failure at the end keeps the start's split. Returns 0 or
 * -errno.
 * Linux 6.12: mm/madvise.c madvise_update_vma; mm/vma.c vma_modify, __split_vma
 */
function updateVmas(
  ctx: MmContext,
  mm: MmStruct,
  start: number,
  end: number,
  set: number,
  clear: number,
): number {
  for (const [v, a, b] of vmaParts(mm, start, end)) {
    if (vmFlagsUpdate(v.vmFlags, set, clear) === v.vmFlags) continue; // "*prev = vma; return 0;"
    if (a > v.vmStart && !hugetlbMaySplit(v, a)) return -Errno.EINVAL;
    if (b < v.vmEnd && !hugetlbMaySplit(v, b)) {
      if (a > v.vmStart) splitAt(mm, a, ctx);
      return -Errno.EINVAL;
    }
    // a split past max_map_count: madvise_vma_behavior turns -ENOMEM into -EAGAIN
    if (setFlags(ctx, mm, a, b, set, clear) < 0) return -Errno.EAGAIN;
  }
  return 0;
}

/**
 * MADV_WILLNEED on the pages [a, b) of one VMA (CONFIG_SWAP, no DAX):
 * - anonymous (no vm_file): the range's swap PTEs are read into the swap
 *   cache (walk_page_range with swapin_walk_ops), then lru_add_drain;
 * - shmem_mapping (a tmpfs file, or a shared anonymous mapping, whose
 *   vm_file is shmem_zero_setup's): shmem_swapin_range reads the swapped
 *   pages of the indices into the swap cache, then lru_add_drain, swap area
 *   or not;
 * - a device mapping (VM_PFNMAP: its vm_file a character device) and
 *   HugeTLB (a hugetlbfs file, MAP_HUGETLB's included), whose bdi is
 *   noop_backing_dev_info: generic_fadvise ignores it;
 * - any other file: vfs_fadvise(file, offset, (b - a) pages,
 *   POSIX_FADV_WILLNEED), offset the range's start in the file (vm_pgoff):
 *   generic_fadvise's force_page_cache_ra, so at most max(io_pages, f_ra's
 *   ra_pages) pages, in 4K folios, nothing mapped, no lru_add_drain. The
 *   swap entries of a private file mapping's COWed pages are not read.
 * Linux drops mmap_lock around vfs_fadvise (*prev = NULL: the walk then
 * looks the next VMA up again from the range's end): vmlab runs nothing
 * between, so the walk goes on over the same VMAs; VM_NONLINEAR's -EBADF is
 * gone from Linux (and -EBADF for a file-less VMA is only !CONFIG_SWAP).
 * Linux: mm/madvise.c madvise_willneed, swapin_walk_pmd_entry, shmem_swapin_range; mm/fadvise.c vfs_fadvise
 */
function willneed(ctx: MmContext, mm: MmStruct, v: Vma, a: number, b: number): void {
  // HugeTLB: vm_file is a hugetlbfs file (MAP_HUGETLB's hugetlb_file_setup one too), not shmem:
  // vfs_fadvise -> generic_fadvise, whose bdi is noop_backing_dev_info: ignored (no drain)
  if (v.vmFlags & VmFlag.HUGETLB) return;
  const shmem = v.file?.fs === "tmpfs" ? v.file : v.shmem;
  if (shmem !== null) {
    shmemWillneed(ctx, shmem, linearIndex(v, a), linearIndex(v, b));
    ctx.env.lru?.fbatches.drain(); // "Push any new pages onto the LRU now" (shmemWillneed's, or the only one)
    return;
  }
  // a device's remap_pfn_range mapping: vm_file is the character device, whose bdi is
  // noop_backing_dev_info: generic_fadvise ignores the advice (no walk, no drain)
  if (v.file === null && v.vmFlags & VmFlag.PFNMAP) return;
  if (v.file === null) {
    willneedSwap(ctx, mm, a, b);
    ctx.env.lru?.fbatches.drain(); // "Push any new pages onto the LRU now" (willneedSwap's, or the only one)
    return;
  }
  const offset = BigInt(linearIndex(v, a)) << 12n;
  genericFadvise(ctx, vmFileOf(v), offset, BigInt(b - a) << 12n, Fadv.WILLNEED);
}

/**
 * Where madvise_walk_vmas stops over [start, end) for `advice`: the start
 * of the first VMA (in address order) whose visit refuses it with -EINVAL,
 * or -1. The LRU advices (can_madv_lru_vma) refuse VM_LOCKED, VM_PFNMAP
 * and VM_HUGETLB;
 * MADV_DONTNEED and MADV_FREE VM_LOCKED and VM_PFNMAP, MADV_DONTNEED_LOCKED
 * VM_PFNMAP, both a HugeTLB VMA the range starts in off a huge page
 * boundary, MADV_FREE HugeTLB (madvise_dontneed_free_valid_vma), MADV_FREE anything but anonymous
 * memory too (madvise_free_single_vma: vma_is_anonymous); MADV_WIPEONFORK
 * a VMA with a vm_file (a file, shmem, a device, HugeTLB) or VM_SHARED;
 * MADV_DOFORK VM_IO; MADV_DODUMP a VM_SPECIAL VMA that is not HugeTLB, and it and
 * MADV_KEEPONFORK a VM_DROPPABLE one;
 * MADV_GUARD_INSTALL VM_LOCKED, VM_PFNMAP (is_valid_guard_vma).
 * Linux 6.12: mm/madvise.c madvise_vma_behavior, madvise_dontneed_free_valid_vma,
 * madvise_free_single_vma, madvise_cold, madvise_pageout
 */
function refusedAt(mm: MmStruct, start: number, end: number, advice: number): number {
  const special = VmFlag.IO | VmFlag.PFNMAP | VmFlag.DONTEXPAND;
  for (const v of mm.vmas) {
    if (v.vmEnd <= start || v.vmStart >= end) continue;
    const f = v.vmFlags;
    const hasFile = v.file !== null || v.shmem !== null || v.htlb !== null || (f & VmFlag.PFNMAP) !== 0;
    let no = false;
    switch (advice) {
      case Madv.COLD:
      case Madv.PAGEOUT:
        no = (f & (VmFlag.LOCKED | VmFlag.PFNMAP | VmFlag.HUGETLB)) !== 0; // can_madv_lru_vma
        break;
      case Madv.DONTNEED:
      case Madv.DONTNEED_LOCKED:
        // madvise_dontneed_free_valid_vma: HugeTLB from a huge page boundary (the end rounded
        // down: zapRange's), VM_LOCKED only for DONTNEED
        if (f & VmFlag.HUGETLB) no = Math.max(start, v.vmStart) % hstateVma(v).nrPages !== 0;
        else no = (f & (advice === Madv.DONTNEED ? VmFlag.LOCKED | VmFlag.PFNMAP : VmFlag.PFNMAP)) !== 0;
        break;
      case Madv.GUARD_INSTALL:
        no = (f & (VmFlag.LOCKED | VmFlag.PFNMAP)) !== 0;
        break;
      case Madv.FREE:
        no = (f & (VmFlag.LOCKED | VmFlag.PFNMAP | VmFlag.HUGETLB)) !== 0 || hasFile;
        break;
      case Madv.WIPEONFORK:
        no = hasFile || (f & VmFlag.SHARED) !== 0;
        break;
      case Madv.DOFORK:
        no = (f & VmFlag.IO) !== 0;
        break;
      case Madv.KEEPONFORK: // 6.12: VM_DROPPABLE keeps VM_WIPEONFORK (MAP_DROPPABLE, mm/droppable.ts)
        no = vmaDroppable(f);
        break;
      case Madv.DODUMP: // and VM_DONTDUMP
        no = (!(f & VmFlag.HUGETLB) && (f & special) !== 0) || vmaDroppable(f);
        break;
    }
    if (no) return Math.max(start, v.vmStart);
  }
  return -1;
}

/**
 * madvise_populate's faults over [start, end) in address order
 * (faultin_page_range with FOLL_MADV_POPULATE, no FOLL_FORCE): a page no VMA
 * covers is -ENOMEM, a VMA check_vma_flags refuses (VM_IO or VM_PFNMAP, no
 * VM_WRITE for a write, no VM_READ for a read, a protection key the caller's
 * PKRU denies: arch_vma_access_permitted) -EINVAL, the pages before
 * either populated; a fault's SIGBUS or SIGSEGV -EFAULT, its OOM -ENOMEM.
 * Returns 0 or -errno.
 * Linux 6.12: mm/madvise.c madvise_populate; mm/gup.c __get_user_pages, check_vma_flags
 */
function madvisePopulate(
  mm: MmStruct,
  start: number,
  end: number,
  write: boolean,
  fault: (vpn: number, write: boolean) => VmFault,
): number {
  for (let v = start; v < end; v++) {
    const vma = mm.vmaAt(v);
    if (vma === null) return -Errno.ENOMEM;
    if (
      vma.vmFlags & (VmFlag.IO | VmFlag.PFNMAP) ||
      (write ? !(vma.vmFlags & VmFlag.WRITE) : !(vma.vmFlags & VmFlag.READ))
    )
      return -Errno.EINVAL;
    const res = fault(v, write);
    // check_vma_flags' arch_vma_access_permitted (a protection key the caller's PKRU denies): -EINVAL
    if (res & VmFault.GUP_REFUSED) return -Errno.EINVAL;
    if (res !== VmFault.OK) return res & VmFault.OOM ? -Errno.ENOMEM : -Errno.EFAULT;
  }
  return 0;
}

/**
 * MADV_PAGEOUT (madvise_cold_or_pageout_pte_range, then reclaim_pages):
 * pages in the range that only this mapping uses are reclaimed now.
 * Anonymous pages are written to swap and their PTEs become swap entries (a
 * large folio the range covers whole goes whole, to consecutive slots; one
 * it covers in part is split first: mthpPageoutWhole, splitFoliosInPart);
 * without a free slot they stay mapped and go back active (vmscan.ts
 * addToSwapFailed), a large folio split first; page-cache pages of disk files are unmapped, written
 * back if dirty, and dropped from the cache. Pages of shared anonymous
 * memory and of tmpfs files (shmem) are unmapped and go as reclaim sends
 * them (shmem_writeout: a clean one is dropped, a dirty one written to swap,
 * or kept unmapped when there is none); can_do_file_pageout allows it (the
 * process owns the object; vmlab has no file permissions). Shared pages
 * (mapcount > 1) and the zero page are left. Returns the number of pages reclaimed.
 * Linux: mm/madvise.c madvise_cold_or_pageout_pte_range, mm/vmscan.c reclaim_pages
 */
export function pageout(ctx: MmContext, mm: MmStruct, start: number, end: number): number {
  const env = ctx.env;
  const pt = env.pgtable;
  const pages = env.pages;
  let n = 0;
  env.lru?.fbatches.drain(); // madvise_pageout: lru_add_drain
  // madvise_cold_or_pageout_pte_range's pmd_trans_huge case for a PMD-mapped page-cache folio:
  // one mapped elsewhere too (folio_likely_mapped_shared) is left; one the range covers whole is
  // isolated whole and reclaimed (try_to_unmap clears its PMD, a clean one is dropped); one the
  // range covers in part is split (split_folio: unmap_folio clears its PMD) and, its PMD now
  // empty, the PTE walk finds nothing to page out: its pages stay cached, as order-0 folios
  const nr = pt.hpagePmdNr;
  for (let h = start - (start % nr); h < end; h += nr) {
    const vma = mm.vmaAt(Math.max(h, start));
    const pmd = vma === null ? null : pmdOf(ctx, mm, h);
    if (pmd === null || !isHugePmd(ctx, pmd.hi, pmd.lo) || !isFilePmd(ctx, pmd.hi, pmd.lo)) continue;
    const base = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
    let shared = false;
    for (let i = 0; i < nr && !shared; i++) shared = pages.mapcount[base + i] !== 1;
    if (shared || (vma!.file === null && vma!.shmem === null)) continue;
    if (h >= start && h + nr <= end) {
      if (vma!.shmem !== null || vma!.file!.fs === "tmpfs") {
        // a huge shmem folio: shmem_writepage writes it whole (CONFIG_THP_SWAP: mm/shmem_swapout.ts)
        // or splits it at its first page's writeout, the tails going on reclaim_pages' list
        // (split_huge_page_to_list_to_order) and out one by one
        for (let i = 0; i < nr; i++) env.lru?.reclaimPage(base + i, linearIndex(vma!, h + i));
        // the pages that left the object or file (a folio gone whole counts all its pages)
        const resident = vma!.shmem !== null ? vma!.shmem.pages : vma!.file!.cache;
        for (let i = 0, idx = linearIndex(vma!, h); i < nr; i++) if (resident.get(idx + i) !== base + i) n++;
      } else if (env.lru?.reclaimPage(base, linearIndex(vma!, h))) n += nr;
      env.lru?.endFolioList(); // reclaim_pages of the one folio
      continue;
    }
    splitFilePmdFolio(ctx, vma!, h);
  }
  // a huge anonymous page the range covers in part is split first (split_folio); one it covers
  // whole has its PMD split here (Linux: by try_to_unmap's TTU_SPLIT_HUGE_PMD in reclaim_pages, the
  // same end) and goes to swap whole when reclaim_pages meets it (mm/vmscan_swapout.ts; no free
  // swap cluster: split, thp_swpout_fallback); a file PMD still there is one the loop above left;
  // the huge zero page and a THP mapped elsewhere too are left, PMD and all (huge_unlock)
  // (with or without swap: add_to_swap's failure is found later, in reclaim_pages)
  splitAnonFoliosInPart(ctx, mm, start, end);
  const tookWhole: number[] = []; // the PMDs reclaim_pages took whole: no PTE walk there (return 0)
  for (let h = start - (start % nr); h < end; h += nr) {
    const pmd = pmdOf(ctx, mm, h);
    const head = pmd === null ? -1 : exclusiveAnonPmd(ctx, pmd.hi, pmd.lo);
    // one the range covers in part is still PMD-mapped only if its split failed: left (return 0)
    if (head < 0 || h < start || h + nr > end) continue;
    // a maybe-pinned folio outside the swap cache: shrink_folio_list's keep_locked before
    // add_to_swap, so no try_to_unmap splits its PMD; reclaim_folio_list puts it back (vmscan_pinned.ts).
    // A lazyfree one goes to try_to_unmap, which splits its PMD and keeps it (rmap.ts tryToUnmapLazyfree)
    if (folioMaybeDmaPinned(ctx, head) && !env.swap?.slotOf.has(head)) {
      env.lru?.reclaimPage(head, linearIndex(mm.vmaAt(h)!, h));
      tookWhole.push(h);
      continue;
    }
    splitPmd(ctx, mm, h);
  }
  // each PTE table's pages are one reclaim_pages list (madvise_cold_or_pageout_pte_range), which
  // ends with its deferred flush; the walk of each first pays what an earlier batch left
  // (flush_tlb_batched_pending)
  let table = -1;
  for (let vpn = start; vpn < end; vpn++) {
    const vma = mm.vmaAt(vpn);
    if (vma === null || tookWhole.includes(vpn - (vpn % nr))) continue;
    const pte = readPte(ctx, mm, vpn); // null under a huge PMD left above: no PTE table
    if (pte !== null && Math.floor(vpn / pt.ptrsPerTable) !== table) {
      if (table >= 0) env.lru?.endFolioList();
      table = Math.floor(vpn / pt.ptrsPerTable);
      flushTlbBatchedPending(ctx.env.tlbUbc, mm);
    }
    if (pte === null || !pt.accessible(pte.hi, pte.lo) || pt.special(pte.hi, pte.lo)) continue;
    const pfn = pt.pfn(pte.hi, pte.lo, 0);
    // a large tmpfs folio mapped by PTEs: split when the range maps it in part, else whole
    const big = coldTmpfsFolio(ctx, mm, vma, vpn, pfn, end);
    if (big !== null) {
      const first = vpn;
      vpn += big.skip;
      if (big.head < 0 || !exclusiveFolio(ctx, big.head, big.nr)) continue;
      // reclaim_pages of the folio: shmem_writepage writes it whole or splits it (as for a PMD above)
      for (let i = 0; i < big.nr; i++) env.lru?.reclaimPage(big.head + i, linearIndex(vma, first + i));
      const f = vma.file!;
      for (let i = 0, idx = linearIndex(vma, first); i < big.nr; i++)
        if (f.cache.get(idx + i) !== big.head + i) n++;
      continue;
    }
    // "do not interfere with other mappings of this folio"
    if (pages.mapcount[pfn] !== 1) continue;
    // an mTHP folio the range maps in part is split first; one it maps whole goes whole (n pages)
    if (!mthpPageoutWhole(ctx, mm, vpn, pfn, end)) continue;
    n += env.lru?.reclaimPage(pfn, linearIndex(vma, vpn), vma.avc.length > 0 ? vma.avc[0] : 0) ?? 0;
  }
  env.lru?.endFolioList();
  return n;
}

/**
 * The page-cache (or shmem) folio a file PMD at h maps, if only this mapping maps it (not
 * folio_likely_mapped_shared): the VMA and the head frame; null otherwise.
 */
function exclusiveFilePmd(
  ctx: MmContext,
  mm: MmStruct,
  h: number,
  start: number,
): { vma: Vma; base: number } | null {
  const pt = ctx.env.pgtable;
  const vma = mm.vmaAt(Math.max(h, start));
  const pmd = vma === null ? null : pmdOf(ctx, mm, h);
  if (pmd === null || !isHugePmd(ctx, pmd.hi, pmd.lo) || !isFilePmd(ctx, pmd.hi, pmd.lo)) return null;
  if (vma!.file === null && vma!.shmem === null) return null;
  const base = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
  for (let i = 0; i < pt.hpagePmdNr; i++) if (ctx.env.pages.mapcount[base + i] !== 1) return null;
  return { vma: vma!, base };
}

/**
 * madvise_cold_or_pageout_pte_range's split_folio of the page-cache or shmem folio a file PMD at
 * h maps, which the range covers in part: unmap_folio clears its PMD (a file folio is not mapped
 * again: remap_page is for anonymous ones), so the PTE walk that follows (regular_folio) finds
 * no table and leaves its pages, now order-0 folios, as they are.
 * Linux: mm/madvise.c madvise_cold_or_pageout_pte_range, mm/huge_memory.c split_huge_page_to_list_to_order
 */
function splitFilePmdFolio(ctx: MmContext, vma: Vma, h: number): void {
  const index = linearIndex(vma, h);
  if (vma.shmem !== null) {
    shmemObjSplit(ctx, vma.shmem, index); // split_folio (mm/shmem_anon_huge.ts)
    return;
  }
  unmapFilePmds(ctx, vma.file!, index);
  const pc = ctx.env.pageCache;
  // split_folio (a tmpfs folio's pages past i_size dropped: mm/shmem_shrink.ts shmemSplitFileFolio)
  if (vma.file!.fs === "tmpfs" && pc.shmemSplit !== null) pc.shmemSplit(vma.file!, index);
  else countFolioSplit(ctx, pc.splitFolio(vma.file!, index));
}

/**
 * madvise_cold_or_pageout_pte_range's huge PMD made old when young: pmdp_invalidate, pmd_mkold,
 * set_pmd_at, tlb_remove_pmd_tlb_entry.
 */
function pmdMkold(
  ctx: MmContext,
  mm: MmStruct,
  tlb: MmuGather,
  pmd: { pa: number; hi: number; lo: number },
  h: number,
): void {
  const pt = ctx.env.pgtable;
  if (!pt.young(pmd.hi, pmd.lo)) return;
  const e = pt.modify(pmd.hi, pmd.lo, 0, PteFlag.YOUNG);
  ptepClearFlush(ctx, mm, pmd.pa, h, pt.pmdLevel);
  ptepModify(ctx, tlb, pmd.pa, h, pt.pmdLevel, e.hi, e.lo);
  tlb.flushRange(h, pt.hpagePmdNr, pt.pmdLevel);
}

/**
 * MADV_COLD (madvise_cold, madvise_cold_or_pageout_pte_range without
 * pageout) on [start, end) of one VMA: this CPU's batches are drained
 * first (lru_add_drain); then each page mapped by a PTE, on a list
 * (folio_test_lru) and mapped only there, has its PTE made old (flushed
 * through the gather), PG_referenced cleared and, if active, is queued
 * for deactivation (folio_deactivate: the lru_deactivate batch, moved when
 * full or at the next lru_add_drain). A huge anonymous PMD mapped only
 * here is made old and its folio deactivated whole (a large folio moves
 * the batch at once) when the range covers it, split first when it covers
 * it in part. A page-cache or shmem folio's PMD mapped only here is made
 * old and the folio deactivated whole (vmlab's lists hold its pages one by
 * one: each queued, then the batch moved at once) when the range covers it;
 * one it covers in part is split (split_folio: its PMD cleared, not mapped
 * again) and then, no PTE table under the PMD, left as it is. The huge zero
 * page is left.
 * Linux: mm/madvise.c madvise_cold, madvise_cold_or_pageout_pte_range
 */
export function cold(ctx: MmContext, mm: MmStruct, start: number, end: number): void {
  const env = ctx.env;
  const lru = env.lru;
  lru?.fbatches.drain(); // madvise_cold: lru_add_drain
  if (lru === null) return;
  const pt = env.pgtable;
  const tlb = new MmuGather(ctx, mm);
  const nr = pt.hpagePmdNr;
  for (let h = start - (start % nr); h < end; h += nr) {
    const pmd = pmdOf(ctx, mm, h);
    if (pmd === null || !isHugePmd(ctx, pmd.hi, pmd.lo)) continue;
    if (isFilePmd(ctx, pmd.hi, pmd.lo)) {
      // a page-cache or shmem folio's PMD: left when mapped elsewhere too (folio_likely_mapped_shared)
      const got = exclusiveFilePmd(ctx, mm, h, start);
      if (got === null) continue;
      if (h < start || h + nr > end) {
        splitFilePmdFolio(ctx, got.vma, h); // split_folio; then regular_folio finds no PTE table
        continue;
      }
      pmdMkold(ctx, mm, tlb, pmd, h);
      // folio_clear_referenced, folio_deactivate of the whole folio
      const pfns: number[] = [];
      for (let i = 0; i < nr; i++) pfns.push(got.base + i);
      lru.fbatches.coldFolio(pfns);
      continue;
    }
    if (pt.special(pmd.hi, pmd.lo) || !pt.accessible(pmd.hi, pmd.lo)) continue; // is_huge_zero_pmd
    const head = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
    if (env.pages.mapcount[head] !== 1) continue; // folio_likely_mapped_shared
    if (h < start || h + nr > end) {
      // split_folio (its PMD first: unmap_folio), then the PTE walk (regular_folio)
      if (!lru.splitHugePage(head)) splitPmd(ctx, mm, h);
      continue;
    }
    pmdMkold(ctx, mm, tlb, pmd, h);
    lru.fbatches.cold(head);
  }
  let table = -1;
  for (let vpn = start; vpn < end; vpn++) {
    const pte = readPte(ctx, mm, vpn);
    if (pte === null) continue;
    if (Math.floor(vpn / pt.ptrsPerTable) !== table) {
      table = Math.floor(vpn / pt.ptrsPerTable);
      flushTlbBatchedPending(env.tlbUbc, mm); // at each PTE table
    }
    if (!pt.accessible(pte.hi, pte.lo) || pt.special(pte.hi, pte.lo)) continue;
    const pfn = pt.pfn(pte.hi, pte.lo, 0);
    // a large tmpfs folio mapped by PTEs: split when the range maps it in part, else whole
    const vma = mm.vmaAt(vpn);
    const big = vma === null ? null : coldTmpfsFolio(ctx, mm, vma, vpn, pfn, end);
    if (big !== null) {
      const first = vpn;
      vpn += big.skip;
      // "folio_mapcount(folio) != folio_nr_pages(folio)": mapped elsewhere too, or not on a list
      if (big.head < 0 || !lru.fbatches.testLru(big.head) || !exclusiveFolio(ctx, big.head, big.nr)) continue;
      clearYoungPtes(ctx, mm, tlb, first, big.nr);
      const pfns: number[] = [];
      for (let i = 0; i < big.nr; i++) pfns.push(big.head + i);
      lru.fbatches.coldFolio(pfns); // folio_clear_referenced, folio_deactivate of the whole folio
      continue;
    }
    // an anonymous mTHP folio: split when the range maps it in part (or left, mapped elsewhere
    // too); mapped whole from here, its PTEs made old and the folio deactivated whole
    const m = env.mthp;
    if (m !== undefined && m.liveOrders > 0 && m.headOf(pfn) >= 0) {
      if (!mthpPageoutWhole(ctx, mm, vpn, pfn, end)) continue;
      const head = m.headOf(pfn);
      if (head >= 0) {
        const nr = 1 << m.heads.get(head)!;
        const first = vpn;
        vpn += nr - 1;
        if (!lru.fbatches.testLru(head) || !exclusiveFolio(ctx, head, nr)) continue;
        clearYoungPtes(ctx, mm, tlb, first, nr);
        const pfns: number[] = [];
        for (let i = 0; i < nr; i++) pfns.push(head + i);
        lru.fbatches.coldFolio(pfns); // vmlab's LRU holds an mTHP folio page by page
        continue;
      }
      // split (remap_page mapped its pages again): the walk goes on with this order-0 page
    }
    // vm_normal_folio; "do not interfere with other mappings of this folio and non-LRU folio"
    if (pfn === env.zeroPfn || !lru.fbatches.testLru(pfn) || env.pages.mapcount[pfn] !== 1) continue;
    if (pt.young(pte.hi, pte.lo)) {
      // clear_young_dirty_ptes(CYDP_CLEAR_YOUNG), tlb_remove_tlb_entries
      const e = pt.modify(pte.hi, pte.lo, 0, PteFlag.YOUNG);
      ptepModify(ctx, tlb, pte.pa, vpn, 0, e.hi, e.lo);
      tlb.flushRange(vpn, 1);
    }
    lru.fbatches.cold(pfn);
  }
  tlb.finish();
}

/** folio_mapcount(folio) == folio_nr_pages(folio): each page mapped once, here */
function exclusiveFolio(ctx: MmContext, head: number, nr: number): boolean {
  for (let i = 0; i < nr; i++) if (ctx.env.pages.mapcount[head + i] !== 1) return false;
  return true;
}

/**
 * MADV_DONTNEED (zap_page_range_single): drop the pages; the next touch
 * faults in zero-filled memory. The TLBs are flushed before the pages are
 * freed. A PTE table the zap covered whole and left empty is freed too
 * (CONFIG_PT_RECLAIM, Linux 6.14 and later, on by default on x86-64).
 * Linux: mm/madvise.c madvise_dontneed_single_vma (zap_page_range_single, details.reclaim_pt)
 */
export function dontneed(ctx: MmContext, mm: MmStruct, start: number, end: number): void {
  ctx.env.lru?.fbatches.drain(); // zap_page_range_single: lru_add_drain
  mm.updateHiwaterRss(); // zap_page_range_single: update_hiwater_rss
  const tlb = new MmuGather(ctx, mm);
  for (const v of mm.vmas) {
    const a = Math.max(start, v.vmStart);
    const b = Math.min(end, v.vmEnd);
    if (a < b) {
      zapRange(ctx, tlb, mm, a, b, true);
      reclaimEmptyPteTables(ctx, tlb, mm, a, b);
    }
  }
  tlb.finish();
}

/**
 * CONFIG_PT_RECLAIM: zap_pte_range reclaims the PTE table of a PMD whose
 * whole span the zap covered (reclaim_pt_is_enabled: end - start >=
 * PMD_SIZE within the table) when every entry is now none (a guard marker
 * the zap kept, any_skipped, keeps it): the PMD is cleared and the table
 * freed after the gather's flush (pte_free_tlb), counted off VmPTE.
 * Linux: mm/memory.c zap_pte_range, mm/pt_reclaim.c try_get_and_clear_pmd, free_pte
 */
function reclaimEmptyPteTables(
  ctx: MmContext,
  tlb: MmuGather,
  mm: MmStruct,
  start: number,
  end: number,
): void {
  const pt = ctx.env.pgtable;
  const phys = ctx.env.phys;
  const n = pt.ptrsPerTable;
  for (let base = Math.ceil(start / n) * n; base + n <= end; base += n) {
    const pmd = pmdOf(ctx, mm, base);
    if (pmd === null || !pt.present(pmd.hi, pmd.lo) || isHugePmd(ctx, pmd.hi, pmd.lo)) continue;
    const table = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
    let empty = true;
    for (let i = 0; i < n && empty; i++) {
      const e = pt.get(phys, table * 4096 + i * pt.entryBytes);
      if (!pt.none(e.hi, e.lo)) empty = false;
    }
    if (!empty) continue;
    if (pt.pmdLevel === pt.levels - 1) pt.setTop(phys, pmd.pa, 0, 0);
    else pt.set(phys, pmd.pa, 0, 0); // pmd_clear
    tlb.removeTable(table, base);
    mm.ptPages--;
    ctx.env.countPageTables(-1);
  }
}

export { lazyFree };
