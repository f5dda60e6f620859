import type { FileObject } from "../fs/file.ts";
import type { OpenFile } from "../fs/open.ts";
import type { HugetlbVma } from "./hugetlb_vma.ts";

/**
 * VMA flags (Linux: include/linux/mm.h VM_*), the subset vmlab models.
 * VM_READ/WRITE/EXEC/SHARED are the mapping's rights; VM_MAY* what mprotect
 * may grant later.
 */
export const enum VmFlag {
  READ = 0x1,
  WRITE = 0x2,
  EXEC = 0x4,
  SHARED = 0x8,
  MAYREAD = 0x10,
  MAYWRITE = 0x20,
  MAYEXEC = 0x40,
  MAYSHARE = 0x80,
  GROWSDOWN = 0x100,
  LOCKED = 0x2000,
  IO = 0x4000,
  DONTCOPY = 0x20000,
  DONTEXPAND = 0x40000,
  LOCKONFAULT = 0x80000,
  ACCOUNT = 0x100000,
  NORESERVE = 0x200000,
  /** a HugeTLB mapping (hugetlbfs, MAP_HUGETLB; mm/hugetlb.ts) */
  HUGETLB = 0x400000,
  PFNMAP = 0x400,
  /** the VMA may hold guard markers (MADV_GUARD_INSTALL sets it and nothing clears it; Linux 6.18 VM_MAYBE_GUARD) */
  MAYBE_GUARD = 0x800,
  HUGEPAGE = 0x20000000,
  NOHUGEPAGE = 0x40000000,
  DONTDUMP = 0x4000000,
  WIPEONFORK = 0x2000000,
  SEQ_READ = 0x8000,
  RAND_READ = 0x10000,
  /** KSM may merge the VMA's anonymous pages (MADV_MERGEABLE; mm/ksm.ts) */
  MERGEABLE = 0x80000000,
}

/**
 * VM_PKEY_BIT0..3 (VM_HIGH_ARCH_0..3, include/linux/mm.h): the VMA's
 * protection key sits in vm_flags bits 32..35, as in Linux. JavaScript's
 * bitwise operators see only bits 0..31, so code that rewrites vm_flags
 * goes through `vmFlagsUpdate`, which keeps the key; a test of a low flag
 * (`vmFlags & VmFlag.X`) needs nothing.
 */
/** 2 ** VM_PKEY_SHIFT (VM_PKEY_SHIFT = VM_HIGH_ARCH_BIT_0 = 32) */
const TWO32 = 4294967296;

/** vma_pkey (arch/x86/include/asm/pkeys.h): the key in vm_flags bits 32..35. */
export function vmaPkey(vmFlags: number): number {
  return Math.floor(vmFlags / TWO32) & 15;
}

/** vm_flags with bits 0..31 set and cleared, bits 32.. (the protection key) kept. */
export function vmFlagsUpdate(vmFlags: number, set: number, clear: number): number {
  const high = Math.floor(vmFlags / TWO32) * TWO32;
  return high + ((((vmFlags % TWO32) & ~clear) | set) >>> 0);
}

/** vm_flags with protection key `pkey` (calc_vm_prot_bits' arch_calc_vm_prot_bits: the key bits replaced, bits 36.. kept). */
export function vmFlagsWithPkey(vmFlags: number, pkey: number): number {
  return Math.floor(vmFlags / TWO36) * TWO36 + (pkey & 15) * TWO32 + (vmFlags % TWO32);
}

/** 2 ** 36: the bits above the protection key */
const TWO36 = 68719476736;

/**
 * VM_DROPPABLE (include/linux/mm.h): bit 40 (VM_DROPPABLE_BIT) under CONFIG_64BIT; a 32-bit
 * kernel other than PPC32 has none (VM_NONE: mmap's MAP_DROPPABLE is -ENOTSUPP). Set by
 * mmap(MAP_DROPPABLE) only (mm/droppable.ts); read with vmaDroppable.
 */
export const VM_DROPPABLE = 1099511627776;

/** vm_flags & VM_DROPPABLE (bit 40, above what the bitwise operators see) */
export function vmaDroppable(vmFlags: number): boolean {
  return Math.floor(vmFlags / VM_DROPPABLE) % 2 === 1;
}

/**
 * A virtual memory area (Linux: struct vm_area_struct): the pages
 * [vmStart, vmEnd) as 4K page numbers, `vmEnd` exclusive (the first page
 * after the area), with one set of rights.
 */
/**
 * A shmem object: the pages of a shared anonymous mapping (Linux: a shmem
 * inode's page cache), by page offset. VMAs that map it hold references.
 */
export class ShmemObject {
  readonly pages = new Map<number, number>(); // pgoff -> pfn
  /** pages written to swap by reclaim (shmem_writeout): pgoff -> swap slot, the xarray's swap entries */
  readonly swapped = new Map<number, number>();
  refs = 0;
  /** pages charged to vm_committed_as while the object lives (shmem_acct_size; 0: VM_NORESERVE) */
  acctPages = 0;
  /** mapping_unevictable: SHM_LOCK's mark (shmem_lock: mapping_set_unevictable); reclaim culls its pages */
  unevictable = false;
  /** a SysV shm segment's shm_close, run after a VMA drops its reference (kernel/ipc/shm.ts); null otherwise */
  shmClose: (() => void) | null = null;
  /**
   * Huge shmem (mm/shmem_anon_huge.ts): the object's large folios, first page offset -> order
   * (HPAGE_PMD_ORDER), as FileObject.folios for a tmpfs file
   */
  readonly folios = new Map<number, number>();
  /** i_size in pages: the mapping's length (shmem_zero_setup) or the segment's (newseg) */
  sizePages = 0;
  /** a SysV segment's (shm_vm_ops: not vma_is_anon_shmem, so tmpfs's policy applies), not /dev/zero's */
  sysv = false;
}

export class Vma {
  /** the shmem object of a shared anonymous mapping, or null */
  shmem: ShmemObject | null = null;
  /** the mapped file, or null (vm_file's f_mapping: the page cache and i_mmap) */
  file: FileObject | null = null;
  /**
   * vm_file itself: the struct file mmap was given (the mapping process's, fs/open.ts), whose
   * f_ra the read-around of this VMA's faults uses; clones (split, fork's dup_mmap: get_file)
   * share it. Null with `file` for a mapping made without one (the windows profile's sections):
   * mm/filemap.ts then gives the VMA one of its own at its first fault.
   */
  vmFile: OpenFile | null = null;
  /**
   * The anon_vma id (0: none yet). Linux attaches an anon_vma at the first
   * anonymous page (not for zero-page reads); fork copies the page tables of
   * a VMA only if it has one. Pieces of a split VMA share it; two VMAs with
   * different anon_vmas do not merge.
   */
  anonVma = 0;
  /**
   * The anon_vmas this VMA is chained to (its anon_vma_chain list): its own
   * and, after fork, every one of the parent VMA's. Empty without an anon_vma.
   */
  avc: number[] = [];
  /** a HugeTLB mapping's file and reservation map (VM_HUGETLB; mm/hugetlb_vma.ts), or null */
  htlb: HugetlbVma | null = null;
  /**
   * swap_readahead_info: the page of the last swap fault that read from the device or found its
   * page in the swap cache, the readahead window that fault chose, and the readahead hits since
   * (swap_vma_ra_win, swap_cache_get_folio). A new VMA's reads as 4 hits (GET_SWAP_RA_VAL: "to
   * start up with a small window"); vm_area_dup copies it.
   */
  swapRaVpn = 0;
  swapRaWin = 0;
  swapRaHits = 4;
  /**
   * VM_SEALED (bit 63, 64-bit only; mm/mseal.ts): mseal(2) has sealed the VMA. Kept apart
   * from vmFlags (a double holds bits 0..52 exactly); is_mergeable_vma compares it as a flag.
   */
  sealed = false;
  constructor(
    public vmStart: number,
    public vmEnd: number,
    public vmFlags: number,
    /** offset in the backing object, in pages (vm_pgoff) */
    public vmPgoff: number,
    /** "[heap]", "[stack]", a file name, or "" */
    public name: string,
  ) {}

  get pages(): number {
    return this.vmEnd - this.vmStart;
  }

  clone(): Vma {
    const v = new Vma(this.vmStart, this.vmEnd, this.vmFlags, this.vmPgoff, this.name);
    v.anonVma = this.anonVma;
    v.avc = this.avc.slice(); // anon_vma_clone
    v.shmem = this.shmem;
    if (v.shmem) v.shmem.refs++;
    v.file = this.file;
    v.vmFile = this.vmFile; // vm_area_dup: get_file
    // vm_area_dup + hugetlb_vm_op_open: the same file, the private owner's reservation map shared
    if (this.htlb !== null) v.htlb = this.htlb.dup();
    v.takeSwapRa(this);
    v.sealed = this.sealed; // vm_area_dup copies vm_flags
    return v;
  }

  /** The swap readahead state of `from` (vm_area_dup's copy; the struct a merge keeps). */
  takeSwapRa(from: Vma): void {
    this.swapRaVpn = from.swapRaVpn;
    this.swapRaWin = from.swapRaWin;
    this.swapRaHits = from.swapRaHits;
  }

  /** Can `next`, which starts where this ends, be merged into this one? */
  canMergeWith(next: Vma): boolean {
    return (
      this.vmEnd === next.vmStart &&
      // is_mergeable_vma: every flag equal (it ignores only VM_SOFTDIRTY, not modelled)
      this.vmFlags === next.vmFlags &&
      this.sealed === next.sealed &&
      this.name === next.name &&
      this.shmem === next.shmem &&
      this.file === next.file &&
      this.vmFile === next.vmFile && // is_mergeable_vma: vma->vm_file != file
      (this.name === "" || this.name === "[heap]" || this.file !== null) &&
      (this.anonVma === 0 || next.anonVma === 0 || this.anonVma === next.anonVma) &&
      this.vmPgoff + this.pages === next.vmPgoff
    );
  }
}

/** `rwxp` as /proc/PID/maps prints it. */
export function permString(flags: number): string {
  return `${flags & VmFlag.READ ? "r" : "-"}${flags & VmFlag.WRITE ? "w" : "-"}${flags & VmFlag.EXEC ? "x" : "-"}${flags & VmFlag.MAYSHARE ? "s" : "p"}`;
}

/** VM flags for PROT_* bits (calc_vm_prot_bits) plus the MAY* bits do_mmap adds. */
export function vmFlagsForProt(prot: { r: boolean; w: boolean; x: boolean }, shared: boolean): number {
  let f = VmFlag.MAYREAD | VmFlag.MAYWRITE | VmFlag.MAYEXEC;
  if (prot.r) f |= VmFlag.READ;
  if (prot.w) f |= VmFlag.WRITE;
  if (prot.x) f |= VmFlag.EXEC;
  if (shared) f |= VmFlag.SHARED | VmFlag.MAYSHARE;
  return f;
}

/**
 * A VMA's flags as vma_thp_disabled reads them: the mm's MMF_DISABLE_THP (prctl
 * PR_SET_THP_DISABLE) refuses transparent huge pages on each of its VMAs as VM_NOHUGEPAGE does
 * on one. Linux: include/linux/huge_mm.h vma_thp_disabled
 */
export function thpVmFlags(mm: { readonly disableThp: boolean }, vmFlags: number): number {
  return mm.disableThp ? vmFlags | VmFlag.NOHUGEPAGE : vmFlags;
}
