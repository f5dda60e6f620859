/**
 * Mapping and unmapping: mmap with its placement, the VMA list's merges and
 * splits, munmap, brk, flag changes over a range, and exit_mmap. Linux:
 * mm/mmap.c (do_mmap, mmap_region, get_unmapped_area, brk, exit_mmap),
 * mm/vma.c (vma_merge, split_vma, do_vmi_munmap, vma_modify_flags; in
 * mm/mmap.c before Linux 6.10); top-down placement is mm/mmap.c's
 * generic_get_unmapped_area_topdown (x86-64 overrides it in its
 * sys_x86_64.c with the same gap search).
 */
import type { FileHandle, FileObject } from "../fs/file.ts";
import type { OpenFile } from "../fs/open.ts";
import { DROPPABLE_LOW_FLAGS, droppableRefused, withDroppable } from "./droppable.ts";
import { mmPopulate } from "./gup.ts";
import { hugetlbMaySplit, hugetlbMmapSetup, hugetlbVmClose } from "./hugetlb.ts";
import { hugetlbSplitUnshare } from "./hugetlb_pmd_share.ts";
import { type HState, type HugetlbFile, hugetlbfsInode } from "./hugetlb_vma.ts";
import { Errno, type MmContext, type VmFault } from "./internal.ts";
import { khugepagedEnterVma, khugepagedExit } from "./khugepaged_slots.ts";
import { ksmAddVma } from "./ksm_state.ts";
import type { MmStruct } from "./MmStruct.ts";
import { maxMapCount, modifySplitRefused } from "./map_count.ts";
import { freePgtables, remapPfnRange, zapRange } from "./memory.ts";
import { getUnmappedArea, thpGetUnmappedArea } from "./mmap_area.ts";
import { MmuGather } from "./mmu_gather.ts";
import { userHalfEnd } from "./pgtable.ts";
import { canDoMlock, checkDataRlimit, mayExpandVm, mlockFutureOk, vmLimited } from "./rlimit.ts";
import { shmemPut, shmemZeroSetup } from "./shmem.ts";
import { shmemGetUnmappedArea } from "./shmem_huge.ts";
import { mapNoreserve, vmEnoughMemory } from "./util.ts";
import { type ShmemObject, Vma, VmFlag, vmFlagsForProt, vmFlagsUpdate, vmFlagsWithPkey } from "./vma.ts";

/** Arguments of mmap, decoded. */
export interface MmapArgs {
  /** bytes */
  length: number;
  prot: { r: boolean; w: boolean; x: boolean };
  shared: boolean;
  populate: boolean;
  locked: boolean;
  noreserve: boolean;
  /** hint or fixed address (bytes), or -1 */
  addr: number;
  fixed: boolean;
  /**
   * MAP_FIXED_NOREPLACE: MAP_FIXED (do_mmap sets it) that refuses, -EEXIST, a range a VMA
   * overlaps, after __get_unmapped_area's checks
   */
  noreplace?: boolean;
  /** has CAP_SYS_RAWIO (may map below mmap_min_addr) */
  privileged: boolean;
  /** the file to map (a file mapping), and the offset in it (bytes, page-aligned) */
  file?: FileObject | null;
  /** the struct file mapped (vm_file: the mapping process's, fs/open.ts); the syscall layer sets it */
  vmFile?: OpenFile | null;
  offset?: number;
  /** a character device whose mmap handler remap_pfn_range()s its buffer (the offset applies to it) */
  device?: { name: string; pfn: number; pages: number } | null;
  /** the protection key the VMA gets (do_mmap: the execute-only key for PROT_EXEC alone); default 0 */
  pkey?: number;
  /** a SysV shm segment's shmem object to map shared (do_shmat's do_mmap of the shm file), and the VMA's name */
  shmem?: { obj: ShmemObject; name: string } | null;
  /** MAP_HUGETLB: anonymous memory in huge pages, from the HugeTLB pool of their size (mm/hugetlb.ts) */
  hugetlb?: boolean;
  /** MAP_DROPPABLE (the map type 0x08 in place of MAP_PRIVATE; Linux 6.11): anonymous memory reclaim may zero (mm/droppable.ts) */
  droppable?: boolean;
  /**
   * MAP_HUGETLB's (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK: log2 of the huge page size in bytes
   * (MAP_HUGE_2MB = 21, MAP_HUGE_1GB = 30); 0 or absent: the default size
   */
  hugetlbSizeLog?: number;
  /**
   * The file is open without FMODE_WRITE (do_shmat's O_RDONLY file for SHM_RDONLY): a shared
   * mapping may not be PROT_WRITE (-EACCES) and loses VM_SHARED and VM_MAYWRITE, keeping
   * VM_MAYSHARE (do_mmap's MAP_SHARED case)
   */
  readOnlyFile?: boolean;
  /** with `hugetlb`: an existing hugetlbfs inode to map shared (do_shmat of a SHM_HUGETLB segment), and the VMA's name */
  hugetlbFile?: { file: HugetlbFile; name: string } | null;
}

/** mmap's arguments as the kernel facade's callers give them: the file as the handle createFile returned. */
export type MmapRequest = Omit<MmapArgs, "file"> & { file?: FileHandle | null };

/**
 * MmapArgs with the defaults of `mmap(NULL, length, PROT_READ | PROT_WRITE,
 * MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)` by a privileged process, overridden
 * by `opts`.
 */
export function mmapArgs(length: number, opts: Partial<MmapArgs> = {}): MmapArgs {
  return {
    length,
    prot: { r: true, w: true, x: false },
    shared: false,
    populate: false,
    locked: false,
    noreserve: false,
    addr: -1,
    fixed: false,
    privileged: true,
    ...opts,
  };
}

/** The pages of [from, to) in VM_ACCOUNT VMAs (what munmap of the range gives back). */
function accountedPages(mm: MmStruct, from: number, to: number): number {
  let n = 0;
  for (const v of mm.vmas)
    if (v.vmFlags & VmFlag.ACCOUNT && v.vmEnd > from && v.vmStart < to)
      n += Math.min(v.vmEnd, to) - Math.max(v.vmStart, from);
  return n;
}

/** The pages of [from, to) that VMAs map (count_vma_pages_range: what MAP_FIXED replaces). */
function mappedPages(mm: MmStruct, from: number, to: number): number {
  let n = 0;
  for (const v of mm.vmas)
    if (v.vmEnd > from && v.vmStart < to) n += Math.min(v.vmEnd, to) - Math.max(v.vmStart, from);
  return n;
}

/**
 * The resource limits a new mapping of `nrPages` with `flags` must pass,
 * in Linux's order: do_mmap's MAP_LOCKED tests (can_do_mlock: -EPERM with
 * RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK; mlock_future_ok: -EAGAIN past
 * RLIMIT_MEMLOCK), then (`fileChecks`) its MAP_SHARED file case (PROT_WRITE
 * of a file open without FMODE_WRITE: -EACCES), then mmap_region's
 * may_expand_vm (-ENOMEM past RLIMIT_AS or, for a data mapping,
 * RLIMIT_DATA), which for MAP_FIXED counts only the pages not already
 * mapped (the VMAs it replaces, vms.nr_pages). Returns 0 or -errno.
 * vmlab's uid 0 (a.privileged) has CAP_IPC_LOCK.
 * Linux 6.12: mm/mmap.c do_mmap, mmap_region (6.18: mm/vma.c __mmap_region)
 */
function mmapLimits(
  ctx: MmContext,
  mm: MmStruct,
  a: MmapArgs,
  flags: number,
  nrPages: number,
  fileChecks = false,
  gather?: () => number,
): number {
  if (a.locked && !canDoMlock(mm, a.privileged)) return -Errno.EPERM;
  if (!mlockFutureOk(mm, flags, nrPages * 4096, a.privileged)) return -Errno.EAGAIN;
  const dropErr = a.droppable ? droppableRefused(ctx, a) : 0; // do_mmap's MAP_TYPE switch (MAP_DROPPABLE)
  if (dropErr < 0) return dropErr;
  if (fileChecks && a.shared && a.readOnlyFile && a.prot.w) return -Errno.EACCES;
  const gathered = gather?.() ?? 0; // mmap_region: vms_gather_munmap_vmas before the limits
  if (gathered < 0) return gathered;
  if (!vmLimited(mm)) return 0;
  const replaced = a.fixed ? mappedPages(mm, a.addr / 4096, a.addr / 4096 + nrPages) : 0;
  return mayExpandVm(ctx, mm, flags, nrPages - replaced) ? 0 : -Errno.ENOMEM;
}

/** do_mmap's MAP_SHARED of a file without FMODE_WRITE: vm_flags &= ~(VM_MAYWRITE | VM_SHARED) */
function sharedFileFlags(a: MmapArgs, flags: number): number {
  return a.shared && a.readOnlyFile ? flags & ~(VmFlag.MAYWRITE | VmFlag.SHARED) : flags;
}

/**
 * do_mmap's round_hint_to_min: a hint (not MAP_FIXED) is rounded down to
 * a page, and one below mmap_min_addr (but not NULL) becomes
 * PAGE_ALIGN(mmap_min_addr). -1 (no hint) stays.
 * Linux: include/linux/mman.h round_hint_to_min, mm/mmap.c do_mmap
 */
function roundHintToMin(ctx: MmContext, hint: number): number {
  if (hint <= 0) return hint;
  const h = hint - (hint % 4096);
  const min = ctx.settings.mmapMinAddr;
  return h !== 0 && h < min ? Math.ceil(min / 4096) * 4096 : h;
}

/**
 * __get_unmapped_area's checks of a MAP_FIXED address, in its order: the
 * architecture's get_area returns it as it is, but for arm's colour test
 * of a shared mapping (`pgoff` >= 0 on a cache with colours:
 * (addr - (pgoff << PAGE_SHIFT)) & (SHMLBA - 1), -EINVAL); then
 * addr > TASK_SIZE - len is -ENOMEM, before offset_in_page(addr)'s -EINVAL;
 * then security_mmap_addr: below mmap_min_addr without CAP_SYS_RAWIO
 * -EPERM. Returns 0 or -errno.
 * Linux: mm/mmap.c __get_unmapped_area; arch/arm/mm/mmap.c arch_get_unmapped_area;
 * security/commoncap.c cap_mmap_addr
 */
function fixedRange(ctx: MmContext, a: MmapArgs, nrPages: number, pgoff: number): number {
  const shmlba = ctx.env.cache.shmlba;
  if (pgoff >= 0 && a.shared && (((a.addr - pgoff * 4096) % shmlba) + shmlba) % shmlba !== 0)
    return -Errno.EINVAL;
  if (a.addr > (ctx.env.taskSizeVpn - nrPages) * 4096) return -Errno.ENOMEM;
  if (a.addr % 4096 !== 0) return -Errno.EINVAL;
  if (a.addr < ctx.settings.mmapMinAddr && !a.privileged) return -Errno.EPERM;
  return 0;
}

/** do_mmap's MAP_FIXED_NOREPLACE test: find_vma_intersection(mm, addr, addr + len) */
function noReplaceRefused(mm: MmStruct, a: MmapArgs, nrPages: number): boolean {
  return a.noreplace === true && mappedPages(mm, a.addr / 4096, a.addr / 4096 + nrPages) > 0;
}

/**
 * do_mmap for anonymous memory. Returns the start vpn, or -errno.
 * Linux: mm/mmap.c do_mmap, mmap_region
 */
export function mmap(
  ctx: MmContext,
  mm: MmStruct,
  req: MmapArgs,
  populate: (vpn: number, write: boolean) => VmFault,
): number {
  if (req.length <= 0) return -Errno.EINVAL;
  // do_mmap: MAP_FIXED_NOREPLACE implies MAP_FIXED; round_hint_to_min for a hint
  const fixed = req.fixed || req.noreplace === true;
  const hintAddr = fixed ? req.addr : roundHintToMin(ctx, req.addr);
  const a = hintAddr === req.addr && fixed === req.fixed ? req : { ...req, addr: hintAddr, fixed };
  if (a.hugetlb || (a.file && hugetlbfsInode(a.file) !== null)) return mmapHugetlb(ctx, mm, a, populate);
  const nrPages = Math.ceil(a.length / 4096);
  const taskSize = ctx.env.taskSizeVpn;
  if (mm.vmas.length > maxMapCount(ctx)) return -Errno.ENOMEM; // do_mmap: "Too many mappings?"
  // __get_unmapped_area: "Careful about overflows.."
  if (nrPages > taskSize) return -Errno.ENOMEM;
  // arch_get_unmapped_area on a cache with colours (arch/arm/mm/mmap.c): a shared or file
  // mapping starts at the colour of its file offset, so every mapping of a page shares one colour
  const colourPages = ctx.env.cache.shmlba / 4096;
  const pgoff = a.file || a.device ? (a.offset ?? 0) / 4096 : 0; // a device's offset is its pgoff too
  const coloured = colourPages > 1 && (a.shared || (a.file ?? null) !== null || (a.device ?? null) !== null);
  if (a.fixed) {
    const fixedErr = fixedRange(ctx, a, nrPages, coloured ? pgoff : -1);
    if (fixedErr < 0) return fixedErr;
    if (noReplaceRefused(mm, a, nrPages)) return -Errno.EEXIST;
  }
  // do_mmap: vm_flags |= calc_vm_flag_bits (MAP_LOCKED: VM_LOCKED) | mm->def_flags
  // (mlockall(MCL_FUTURE): VM_LOCKED, with MCL_ONFAULT VM_LOCKONFAULT too)
  let flags = sharedFileFlags(a, vmFlagsForProt(a.prot, a.shared)) | mm.defFlags;
  if (a.locked) flags |= VmFlag.LOCKED;
  // do_mmap: *populate = len when vm_flags has VM_LOCKED, whatever mmap_region clears later
  const locked = (flags & VmFlag.LOCKED) !== 0;
  // MAP_DROPPABLE: VM_NORESERVE whatever vm.overcommit_memory, VM_WIPEONFORK, VM_DONTDUMP (VM_DROPPABLE below)
  const noreserve = mapNoreserve(ctx, a.noreserve) || a.droppable === true;
  if (noreserve) flags |= VmFlag.NORESERVE;
  if (a.droppable) flags |= DROPPABLE_LOW_FLAGS;
  // accountable_mapping: private writable mappings without VM_NORESERVE, a device's too
  // (remap_pfn_range adds VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP and keeps VM_ACCOUNT)
  const accountable = !a.shared && a.prot.w && !noreserve;
  const gather = a.fixed ? () => gatherMunmap(ctx, mm, a.addr / 4096, nrPages) : undefined;
  const limits = mmapLimits(ctx, mm, a, flags, nrPages, true, gather);
  if (limits < 0) return limits;
  if (a.fixed && a.addr % 4096 === 0) {
    // mmap_region: the VMAs MAP_FIXED replaces give back their charge first (vms.nr_accounted)
    const from = a.addr / 4096;
    const replaced = accountedPages(mm, from, from + nrPages);
    if (accountable && nrPages > replaced && !vmEnoughMemory(ctx, mm, nrPages - replaced, a.privileged))
      return -Errno.ENOMEM;
  } else if (accountable && !vmEnoughMemory(ctx, mm, nrPages, a.privileged)) return -Errno.ENOMEM;
  if (accountable) flags |= VmFlag.ACCOUNT;
  // shmem_zero_setup -> shmem_acct_size: a shared anonymous mapping's object is charged whole
  // unless VM_NORESERVE
  // (6.12 calls it after vms_clean_up_area has zapped what MAP_FIXED replaces: its failure leaves a gap)
  const shmemCharge = a.shared && !a.file && !a.device && !a.shmem && !noreserve ? nrPages : 0;
  if (shmemCharge > 0 && !vmEnoughMemory(ctx, mm, shmemCharge, a.privileged)) {
    if (a.fixed) munmap(ctx, mm, a.addr / 4096, nrPages); // vms_abort_munmap_vmas: "leaving a gap"
    return -Errno.ENOMEM;
  }
  let start: number;
  if (a.fixed) {
    start = a.addr / 4096; // fixedRange has checked it
    const err = munmap(ctx, mm, start, nrPages); // mmap_region: vms_gather_munmap_vmas
    if (err < 0) return err;
  } else {
    // __get_unmapped_area (6.12): a file's f_op->get_unmapped_area (ext4's is
    // thp_get_unmapped_area, for shared and private mappings, hint or not; tmpfs's and a memfd's
    // shmem_get_unmapped_area, which aligns by the file offset when huge pages may back it); a shared anonymous
    // mapping's shmem_get_unmapped_area (nothing either); a private anonymous mapping without a
    // hint whose length is a multiple of PMD_SIZE goes through thp_get_unmapped_area (a hint, even
    // an unusable one, skips it). __thp_get_unmapped_area aligns on 64-bit only (CONFIG_64BIT: a
    // user space above 4 GiB), by the file offset (anonymous memory's pgoff is 0 here)
    const ext4 = a.file !== undefined && a.file !== null && a.file.fs === "disk";
    const anonThp =
      !a.file &&
      !a.device &&
      !a.shmem &&
      !a.shared &&
      !(a.addr > 0) &&
      nrPages % ctx.env.pgtable.hpagePmdNr === 0;
    start =
      (ext4 || anonThp) && ctx.env.taskSizeVpn > 1 << 20
        ? thpGetUnmappedArea(ctx, mm, nrPages, a.addr, ext4 ? pgoff : 0)
        : -1;
    // shmem_get_unmapped_area also for a shared anonymous mapping (file NULL) and a SysV segment
    // (shm_get_unmapped_area: its shm_mnt file)
    const anonShared = !a.file && !a.device && a.shared;
    if ((a.file?.fs === "tmpfs" || anonShared) && !coloured) {
      const search = (hint: number, n: number) => getUnmappedArea(ctx, mm, n, hint * 4096);
      start = shmemGetUnmappedArea(
        ctx.env.pageCache,
        a.file ?? a.shmem?.obj ?? null,
        Math.ceil(a.addr / 4096),
        nrPages,
        pgoff,
        false,
        ctx.env.taskSizeVpn,
        search,
      );
    }
    if (start < 0 && coloured) {
      // COLOUR_ALIGN(addr, pgoff) for the hint, then the search with align_mask = SHMLBA - 1
      const hint =
        a.addr > 0 ? Math.ceil(a.addr / 4096 / colourPages) * colourPages + (pgoff % colourPages) : a.addr;
      start = getUnmappedArea(
        ctx,
        mm,
        nrPages,
        hint > 0 ? hint * 4096 : a.addr,
        colourPages,
        pgoff % colourPages,
      );
    }
    if (start < 0) start = getUnmappedArea(ctx, mm, nrPages, a.addr);
    if (start < 0) return -Errno.ENOMEM;
  }
  if (a.device) {
    // the driver's mmap handler: the range must lie inside its buffer
    const first = (a.offset ?? 0) / 4096;
    if (first + nrPages > a.device.pages) return -Errno.EINVAL;
    flags |= VmFlag.IO | VmFlag.PFNMAP | VmFlag.DONTEXPAND | VmFlag.DONTDUMP;
    // mmap_region: a VM_SPECIAL VMA is never locked (vm_flags_clear(vma, VM_LOCKED_MASK))
    flags = vmFlagsUpdate(flags, 0, VmFlag.LOCKED | VmFlag.LOCKONFAULT);
  }
  if (accountable) mm.committed += nrPages;
  // calc_vm_prot_bits(prot, pkey): the key in vm_flags bits 32..35
  if (a.pkey) flags = vmFlagsWithPkey(flags, a.pkey);
  if (a.droppable) flags = withDroppable(flags); // vm_flags |= VM_DROPPABLE (bit 40)
  const vma = new Vma(
    start,
    start + nrPages,
    flags,
    // remap_pfn_range sets vm_pgoff to the pfn for a COW (private) mapping only
    a.device
      ? (a.shared ? 0 : a.device.pfn) + (a.offset ?? 0) / 4096
      : a.file
        ? (a.offset ?? 0) / 4096
        : a.shared
          ? 0
          : start,
    a.device ? `/dev/${a.device.name}` : a.file ? a.file.path : (a.shmem?.name ?? ""),
  );
  if (a.device) {
    mm.insert(vma);
    remapPfnRange(ctx, mm, vma, a.device.pfn + (a.offset ?? 0) / 4096);
    return start;
  }
  if (a.file) {
    vma.file = a.file;
    vma.vmFile = a.vmFile ?? null; // vma->vm_file = get_file(file)
  } else if (a.shmem) {
    // shm_mmap: the VMA maps the segment's shmem file (a reference of its own; shm_open counts it)
    vma.shmem = a.shmem.obj;
    a.shmem.obj.refs++;
  } else if (a.shared) {
    // shmem_zero_setup: a shared anonymous mapping is backed by a shmem object
    shmemZeroSetup(ctx, vma, shmemCharge);
  }
  ksmAddVma(ctx.env.ksm, mm, vma); // __mmap_region: ksm_add_vma (ksm_state.ts)
  khugepagedEnterVma(ctx, mm, insertAndMerge(ctx, mm, vma)); // __mmap_region: khugepaged_enter_vma
  // mm_populate: __mm_populate ignoring errors (PROT_NONE maps nothing; a failing page ends its
  // VMA; a VM_LOCKONFAULT VMA gets nothing)
  if (a.populate || locked) mmPopulate(ctx, mm, start, start + nrPages, populate, true);
  return start;
}

/**
 * mmap with MAP_HUGETLB: the length rounded up to the huge page size
 * (ksys_mmap_pgoff's ALIGN), a file on the internal hugetlbfs mount
 * (hugetlb_file_setup), placed on a huge page boundary
 * (hugetlb_get_unmapped_area: a MAP_FIXED address off one is -EINVAL, a
 * hint is rounded up to one), VM_HUGETLB | VM_DONTEXPAND, never accounted
 * in Committed_AS (accountable_mapping), VM_NORESERVE with MAP_NORESERVE
 * whatever the overcommit mode; the pool reserves its pages now
 * (hugetlb_reserve_pages), else -ENOMEM. MAP_LOCKED, or mlockall(MCL_FUTURE)'s
 * def_flags, populates but does not lock (mmap_region clears VM_LOCKED_MASK
 * for HugeTLB; the population then sees no VM_LOCKONFAULT either). Returns the start
 * vpn or -errno.
 * Linux: mm/mmap.c ksys_mmap_pgoff, do_mmap, mmap_region; fs/hugetlbfs/inode.c hugetlb_get_unmapped_area,
 * hugetlbfs_file_mmap
 */
function mmapHugetlb(
  ctx: MmContext,
  mm: MmStruct,
  a: MmapArgs,
  populate: (vpn: number, write: boolean) => VmFault,
): number {
  // ksys_mmap_pgoff: hstate_sizelog of MAP_HUGE_SHIFT's bits (no pool of that size: -EINVAL)
  // a hugetlbfs file (a MFD_HUGETLB memfd, a SysV segment's inode): its hstate_file
  const inode = a.file ? hugetlbfsInode(a.file) : null;
  const hf = inode !== null ? { file: inode, name: a.file!.path } : (a.hugetlbFile ?? null);
  const h = hf !== null ? hf.file.h : hstateSizelog(ctx, a.hugetlbSizeLog ?? 0);
  // MAP_HUGETLB with a file that is not hugetlbfs's: -EINVAL
  if (h === undefined || (a.file && inode === null) || a.device || a.shmem) return -Errno.EINVAL;
  if (mm.vmas.length > maxMapCount(ctx)) return -Errno.ENOMEM; // do_mmap: "Too many mappings?"
  if (a.shared && a.readOnlyFile && a.prot.w) return -Errno.EACCES;
  const pgoff = a.file ? (a.offset ?? 0) / 4096 : 0;
  const nr = h.nrPages;
  const nrPages = Math.ceil(a.length / (nr * 4096)) * nr;
  const taskSize = ctx.env.taskSizeVpn;
  if (nrPages > taskSize) return -Errno.ENOMEM;
  let start: number;
  if (a.fixed) {
    if (a.addr % (nr * 4096) !== 0) return -Errno.EINVAL; // prepare_hugepage_range
    start = a.addr / 4096;
    if (start + nrPages > taskSize) return -Errno.ENOMEM;
    if (a.addr < ctx.settings.mmapMinAddr && !a.privileged) return -Errno.EPERM;
    if (noReplaceRefused(mm, a, nrPages)) return -Errno.EEXIST;
  } else {
    const hint = a.addr > 0 ? Math.ceil(a.addr / (nr * 4096)) * nr * 4096 : a.addr;
    start = getUnmappedArea(ctx, mm, nrPages, hint, nr, 0); // align_mask: huge_page_mask_align
    if (start < 0) return -Errno.ENOMEM;
  }
  let flags = sharedFileFlags(a, vmFlagsForProt(a.prot, a.shared)) | VmFlag.HUGETLB | VmFlag.DONTEXPAND;
  if (a.noreserve) flags |= VmFlag.NORESERVE;
  // do_mmap and mmap_region's limits, with VM_LOCKED (MAP_LOCKED, mm->def_flags) still set
  // (mmap_region clears it later)
  const lockFlags = (a.locked ? VmFlag.LOCKED : 0) | mm.defFlags;
  const gather = a.fixed ? () => gatherMunmap(ctx, mm, start, nrPages) : undefined;
  const limits = mmapLimits(ctx, mm, a, flags | lockFlags, nrPages, false, gather);
  if (limits < 0) return limits;
  // vms_clean_up_area zaps and closes what MAP_FIXED replaces (hugetlb_vm_op_close gives back a
  // private mapping's reservation) before mmap_file: hugetlbfs_file_mmap's refusals leave a gap
  if (a.fixed) munmap(ctx, mm, start, nrPages);
  if (pgoff % nr !== 0) return -Errno.EINVAL; // hugetlbfs_file_mmap: the offset on a huge page boundary
  if (a.pkey) flags = vmFlagsWithPkey(flags, a.pkey);
  const vma = new Vma(start, start + nrPages, flags, pgoff, hf?.name ?? "/anon_hugepage (deleted)");
  if (!hugetlbMmapSetup(ctx, vma, h, hf?.file)) return -Errno.ENOMEM;
  // hugetlbfs_file_mmap: a writable mapping past i_size extends it
  const len = (pgoff + nrPages) * 4096;
  if (hf !== null && a.file && flags & VmFlag.WRITE && hf.file.size < len)
    hf.file.size = a.file.sizeBytes = len;
  mm.insert(vma); // its own file: it merges with nothing
  if (a.populate || lockFlags & VmFlag.LOCKED) mmPopulate(ctx, mm, start, start + nrPages, populate, true);
  return start;
}

/**
 * hstate_sizelog: the pool of huge pages of 2^`log` bytes (0: the
 * default_hstate), or undefined when the machine has none of that size.
 * Linux: include/linux/hugetlb.h hstate_sizelog, size_to_hstate
 */
export function hstateSizelog(ctx: MmContext, log: number): HState | undefined {
  if (log === 0) return ctx.hstate;
  return ctx.hstates?.find((h) => h.nrPages * 4096 === 2 ** log);
}

/**
 * Inserts a VMA, merging it with compatible neighbours (vma_merge).
 * Linux: mm/vma.c vma_merge_new_range
 */
export function insertAndMerge(ctx: MmContext, mm: MmStruct, vma: Vma): Vma {
  mm.insert(vma);
  return mergeAround(ctx, mm, vma);
}

/**
 * Merges a VMA whose flags or neighbours changed with the VMAs around it
 * where they are compatible (vma_merge); returns the VMA that covers it. A
 * merge offers the result to khugepaged (khugepaged_enter_vma), as both of
 * Linux's merges do.
 * Linux: mm/vma.c vma_merge_existing_range, vma_merge_new_range
 */
export function mergeAround(ctx: MmContext, mm: MmStruct, vma: Vma): Vma {
  let i = mm.indexOf(vma);
  const next = mm.vmas[i + 1];
  let merged = false;
  if (next && vma.canMergeWith(next)) {
    // merged into next alone, Linux keeps next's struct (vma_merge_new_range's vma_expand of next,
    // vma_merge_existing_range's `res = merge_left ? prev : next`): its swap readahead state with it
    vma.takeSwapRa(next);
    vma.vmEnd = next.vmEnd;
    mm.dupAnonVma(vma, next);
    mm.remove(next);
    dropVma(ctx, next);
    merged = true;
  }
  i = mm.indexOf(vma);
  const prev = mm.vmas[i - 1];
  if (prev?.canMergeWith(vma)) {
    prev.vmEnd = vma.vmEnd;
    mm.dupAnonVma(prev, vma);
    mm.remove(vma);
    dropVma(ctx, vma);
    khugepagedEnterVma(ctx, mm, prev);
    return prev;
  }
  if (merged) khugepagedEnterVma(ctx, mm, vma);
  return vma;
}

/**
 * A VMA struct goes away: release its shmem reference; the last one frees the object's pages;
 * its file's reference goes (fput: the last one of a memfd frees the inode).
 * Linux: mm/mmap.c remove_vma
 */
function dropVma(ctx: MmContext, v: Vma): void {
  if (v.htlb !== null) hugetlbVmClose(ctx, v); // vma_close: hugetlb_vm_op_close, then fput
  const mapping = v.file ?? v.htlb?.file ?? null;
  if (mapping !== null) ctx.env.fput?.(mapping); // remove_vma: fput(vma->vm_file)
  const obj = v.shmem;
  if (obj === null) return;
  v.shmem = null;
  shmemPut(ctx, obj);
}

/**
 * Splits the VMA containing vpn so that a VMA starts at vpn (split_vma). A HugeTLB VMA's split
 * off a 1 GiB boundary first ends PMD sharing around it (vm_ops->may_split: hugetlb_vm_op_split).
 * Linux: mm/vma.c split_vma, __split_vma
 */
export function splitAt(mm: MmStruct, vpn: number, ctx?: MmContext): void {
  const v = mm.vmaAt(vpn);
  if (v === null || v.vmStart === vpn) return;
  if (ctx !== undefined && v.vmFlags & VmFlag.HUGETLB) hugetlbSplitUnshare(ctx, mm, v, vpn);
  const right = v.clone();
  right.vmStart = vpn;
  right.vmPgoff = v.vmPgoff + (vpn - v.vmStart);
  v.vmEnd = vpn;
  mm.insert(right);
}

/**
 * do_munmap of [start, start+nrPages): split at the ends, zap the PTEs,
 * flush the TLBs, then free the pages and the page tables no VMA needs
 * any more (free_pgtables). Returns 0, or -EINVAL when a HugeTLB VMA would
 * split off a huge page boundary (hugetlb_vm_op_split): at the start
 * nothing changed; at the end the start's split stays.
 * Linux: mm/vma.c do_vmi_munmap (vms_gather_munmap_vmas, __split_vma, vms_complete_munmap_vmas)
 */
export function munmap(ctx: MmContext, mm: MmStruct, start: number, nrPages: number): number {
  const end = start + nrPages;
  const gathered = gatherMunmap(ctx, mm, start, nrPages);
  if (gathered < 0) return gathered;
  const doomed = mm.vmas.filter((v) => v.vmStart >= start && v.vmEnd <= end);
  if (doomed.length === 0) return 0;
  mm.updateHiwaterRss(); // vms_clear_ptes: update_hiwater_rss before unmap_vmas
  mm.updateHiwaterVm(); // vms_complete_munmap_vmas: update_hiwater_vm before total_vm drops
  const tlb = new MmuGather(ctx, mm);
  for (const v of doomed) {
    zapRange(ctx, tlb, mm, v.vmStart, v.vmEnd);
    if (v.vmFlags & VmFlag.ACCOUNT) mm.committed -= v.pages;
    mm.remove(v);
  }
  const prev = mm.vmas.filter((v) => v.vmEnd <= start).at(-1);
  const next = mm.vmas.find((v) => v.vmStart >= end);
  freePgtables(ctx, tlb, mm, start, end, prev ? prev.vmEnd : 0, next ? next.vmStart : userHalfEnd(ctx));
  tlb.finish(); // the flush, then the pages and the tables freed
  for (const v of doomed) dropVma(ctx, v);
  return 0;
}

/**
 * vms_gather_munmap_vmas' checks and splits for an unmap of [start, start + nrPages):
 * a split in three past max_map_count (-ENOMEM), a sealed VMA (-EPERM: a split at the
 * start made first stays), a HugeTLB VMA split off its page size (-EINVAL); then the
 * VMAs split at both ends. munmap does it first; mmap(MAP_FIXED) too, before its limits
 * and its charge (mmap_region), whose failure leaves the splits (vms_abort_munmap_vmas
 * reattaches the VMAs). Returns 0 or -errno. Linux 6.12: mm/vma.c vms_gather_munmap_vmas
 */
export function gatherMunmap(ctx: MmContext, mm: MmStruct, start: number, nrPages: number): number {
  const end = start + nrPages;
  const first = mm.vmaAt(start);
  // vms_gather_munmap_vmas: a VMA split in three must leave map_count within max_map_count
  if (first !== null && first.vmStart < start && end < first.vmEnd && mm.vmas.length >= maxMapCount(ctx))
    return -Errno.ENOMEM;
  // can_modify_vma (mseal): a sealed VMA split at the start (nothing changed), then any in the
  // range (the start's split made by then stays)
  if (first !== null && first.vmStart < start && first.sealed) return -Errno.EPERM;
  if (first !== null && first.vmStart < start && !hugetlbMaySplit(first, start)) return -Errno.EINVAL;
  if (mm.vmas.some((v) => v.sealed && v.vmStart < end && v.vmEnd > start)) {
    splitAt(mm, start, ctx);
    return -Errno.EPERM;
  }
  splitAt(mm, start, ctx);
  const last = mm.vmaAt(end);
  if (last !== null && last.vmStart < end && !hugetlbMaySplit(last, end)) return -Errno.EINVAL;
  splitAt(mm, end, ctx);
  return 0;
}

/** Every page of [start, end) is inside some VMA. */
export function isMapped(mm: MmStruct, start: number, end: number): boolean {
  for (let v = start; v < end; ) {
    const vma = mm.vmaAt(v);
    if (vma === null) return false;
    v = vma.vmEnd;
  }
  return true;
}

/**
 * Splits VMAs at start and end and returns those inside, after applying f to each (then re-merges).
 * Linux: mm/vma.c vma_modify
 */
function applyToRange(ctx: MmContext, mm: MmStruct, start: number, end: number, f: (v: Vma) => void): void {
  splitAt(mm, start, ctx);
  splitAt(mm, end, ctx);
  const inside = mm.vmas.filter((v) => v.vmStart >= start && v.vmEnd <= end);
  for (const v of inside) f(v);
  for (const v of inside) if (mm.indexOf(v) >= 0) mergeAround(ctx, mm, v);
}

/**
 * Sets and clears VMA flags over a range (madvise's VMA-flag advices, mlock, munlock). For a
 * piece of one VMA (the callers' case) a split past vm.max_map_count is -ENOMEM
 * (map_count.ts modifySplitRefused; a refused end split keeps the start's). Returns 0 or -errno.
 * Linux: mm/vma.c vma_modify_flags
 */
export function setFlags(
  ctx: MmContext,
  mm: MmStruct,
  start: number,
  end: number,
  set: number,
  clear: number,
): number {
  const v = mm.vmaAt(start);
  if (v !== null && v.vmEnd >= end) {
    const refused = modifySplitRefused(ctx, mm, v, start, end, vmFlagsUpdate(v.vmFlags, set, clear));
    if (refused === 2) splitAt(mm, start, ctx);
    if (refused !== 0) return -Errno.ENOMEM;
  }
  applyToRange(ctx, mm, start, end, (v) => {
    v.vmFlags = vmFlagsUpdate(v.vmFlags, set, clear);
  });
  return 0;
}

/**
 * exit_mmap: unmap everything and free the page tables below the PGD. An mm
 * with no VMA (a fork that failed at its first VMA: dup_mmap's XA_ZERO_ENTRY
 * comes first) goes straight to `destroy`: no lru_add_drain, no
 * flush_cache_mm (and it has no page table below the PGD to free).
 * Linux: mm/mmap.c exit_mmap
 */
export function exitMmap(ctx: MmContext, mm: MmStruct): void {
  const all = mm.vmas.slice();
  if (all.length > 0) {
    ctx.env.lru?.fbatches.drain(); // exit_mmap: lru_add_drain
    ctx.env.cache.flushCacheMm(mm); // exit_mmap: flush_cache_mm before the tables are torn down
  }
  const tlb = new MmuGather(ctx, mm, true);
  for (const v of all) {
    zapRange(ctx, tlb, mm, v.vmStart, v.vmEnd);
    mm.remove(v);
  }
  mm.committed = 0;
  // free_pgtables frees every table: tlb->freed_tables makes the flush happen even when no
  // PTE was present
  freePgtables(ctx, tlb, mm, 0, userHalfEnd(ctx), 0, userHalfEnd(ctx));
  tlb.finish();
  for (const v of all) dropVma(ctx, v);
  mm.dead = true;
  khugepagedExit(ctx, mm); // __mmput: khugepaged_exit
}

/**
 * brk: moves the break to `newBrk` (bytes; the heap VMA, [heap], covers
 * [start_brk, PAGE_ALIGN(brk))), unmapping what it gives back or growing
 * the heap; -ENOMEM below start_brk, at or above TASK_SIZE, past
 * RLIMIT_DATA (check_data_rlimit: the heap's size, growing or not), into
 * another mapping or its guard gap, or past RLIMIT_AS or RLIMIT_DATA for
 * the pages added (do_brk_flags' may_expand_vm), or past RLIMIT_MEMLOCK
 * without CAP_IPC_LOCK when mlockall(MCL_FUTURE) locks new mappings
 * (check_brk_limits: mlock_future_ok on mm->def_flags; sys_brk returns the
 * old break, so -ENOMEM). The new part of the heap takes mm->def_flags
 * (do_brk_flags) and, when that has VM_LOCKED, is populated (sys_brk's
 * mm_populate; nothing for VM_LOCKONFAULT) by `populate`. Returns 0 or -errno
 * (sbrk's caller returns the old break). `capSysAdmin`: uid 0, which has every capability;
 * `taskExec`: READ_IMPLIES_EXEC in the caller's personality.
 * Linux: mm/mmap.c sys_brk (check_brk_limits, do_brk_flags)
 */
export function doBrk(
  ctx: MmContext,
  mm: MmStruct,
  newBrk: number,
  capSysAdmin = true,
  populate?: (vpn: number, write: boolean) => VmFault,
  taskExec = false,
): number {
  if (newBrk < mm.startBrk * 4096 || newBrk >= (ctx.env.taskSizeVpn + 1) * 4096) return -Errno.ENOMEM;
  // sys_brk: check_data_rlimit before anything else (a shrink too): the old break stays
  if (!checkDataRlimit(mm, newBrk)) return -Errno.ENOMEM;
  const oldEnd = Math.ceil(mm.brkBytes / 4096);
  const newEnd = Math.ceil(newBrk / 4096);
  // a refused unmap (a sealed heap) leaves the break where it was; sys_brk returns it, which
  // glibc's sbrk takes for a shrink that worked
  if (newEnd < oldEnd) {
    if (munmap(ctx, mm, newEnd, oldEnd - newEnd) < 0) return 0;
  } else if (newEnd > oldEnd) {
    // check_brk_limits: mlock_future_ok(mm, mm->def_flags, len), before the guard-gap test
    if (!mlockFutureOk(mm, mm.defFlags, (newEnd - oldEnd) * 4096, capSysAdmin)) return -Errno.ENOMEM;
    const next = mm.findVma(oldEnd);
    const gap = next !== null && next.vmFlags & VmFlag.GROWSDOWN ? 256 : 0;
    if (next !== null && newEnd + 1 > next.vmStart - gap) return -Errno.ENOMEM;
    // do_brk_flags: flags |= VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT | mm->def_flags; x86's and arm64's
    // VM_DATA_DEFAULT_FLAGS are VM_DATA_FLAGS_TSK_EXEC (VM_EXEC under READ_IMPLIES_EXEC), RISC-V's
    // VM_DATA_FLAGS_NON_EXEC
    const exec = taskExec && !ctx.env.pgtable.dataNonExec ? VmFlag.EXEC : 0;
    const flags =
      exec |
      VmFlag.READ |
      VmFlag.WRITE |
      VmFlag.MAYREAD |
      VmFlag.MAYWRITE |
      VmFlag.MAYEXEC |
      VmFlag.ACCOUNT |
      mm.defFlags;
    // do_brk_flags: may_expand_vm (RLIMIT_AS, RLIMIT_DATA: the heap is a data mapping) first
    if (!mayExpandVm(ctx, mm, flags, newEnd - oldEnd)) return -Errno.ENOMEM;
    if (mm.vmas.length > maxMapCount(ctx)) return -Errno.ENOMEM; // do_brk_flags
    // do_brk_flags: security_vm_enough_memory_mm for the pages the heap grows by
    if (!vmEnoughMemory(ctx, mm, newEnd - oldEnd, capSysAdmin)) return -Errno.ENOMEM;
    const grown = new Vma(oldEnd, newEnd, flags, oldEnd, "[heap]");
    // do_brk_flags: a heap grown by a merge is offered to khugepaged (vma_merge_new_range's
    // khugepaged_enter_vma, in mergeAround); a new brk VMA is not (Linux 6.12 mm/mmap.c)
    ksmAddVma(ctx.env.ksm, mm, grown); // do_brk_flags: ksm_add_vma
    insertAndMerge(ctx, mm, grown);
    mm.committed += newEnd - oldEnd;
    mm.brkBytes = newBrk;
    // sys_brk: mm_populate(oldbrk, newbrk - oldbrk) when mm->def_flags has VM_LOCKED
    if (mm.defFlags & VmFlag.LOCKED && populate) mmPopulate(ctx, mm, oldEnd, newEnd, populate, true);
    return 0;
  }
  mm.brkBytes = newBrk;
  return 0;
}
