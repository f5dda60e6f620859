import { assert } from "../../base/assert.ts";
import type { Mapper } from "../../hw/x86_64/Mapper.ts";
import { Pte } from "../../hw/x86_64/pte.ts";
import { ptiClonePgdPair } from "../arch/x86/pti.ts";
import type { FileObject } from "../fs/file.ts";
import { filemapFault, msync } from "./filemap.ts";
import { Gfp } from "./gfp.ts";
import { hugeEligible, hugeFault, hugeWp, splitPmd, splitRange } from "./huge_memory.ts";
import { Errno, linearIndex, type MmContext, type MmEnv, type MmSettings, VmFault } from "./internal.ts";
import { MmStruct } from "./MmStruct.ts";
import {
  doAnonymousPage,
  doWpPage,
  freePgtables,
  freeUnmapped,
  putPage,
  remapPfnRange,
  rssAdd,
  zapRange,
} from "./memory.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import {
  hugePmd,
  isHugePmd,
  leafFor,
  mapper,
  PTE_GUARD,
  PTE_PROTNONE,
  PTE_SPECIAL,
  pmdOf,
  pmdPfn,
  ptePa,
  ptePfn,
  readPte,
  TWO32,
  userHalfEnd,
  userPte,
} from "./pgtable.ts";
import { shmemFault, shmemFrames, shmemPut, shmemZeroSetup } from "./shmem.ts";
import { doSwapPage, willneedSwap } from "./swap_state.ts";
import { isSwapPte, swapSlot } from "./swapfile.ts";
import { Vma, VmFlag, vmFlagsForProt } from "./vma.ts";

export { Errno, type LruHooks, type MmEnv, type MmSettings, VmFault } from "./internal.ts";
export { PTE_GUARD, PTE_PROTNONE, PTE_SPECIAL } from "./pgtable.ts";

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
  /** has CAP_SYS_RAWIO (may map below mmap_min_addr) */
  privileged: boolean;
  /** the file to map (a file mapping), and the offset in it (bytes, page-aligned) */
  file?: FileObject | null;
  offset?: number;
  /** a character device whose mmap handler remap_pfn_range()s its buffer (the offset applies to it) */
  device?: { name: string; pfn: number; pages: number } | null;
}

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

/**
 * User address spaces: creation and teardown, mmap / munmap / mprotect,
 * the anonymous fault path, fork. Linux: mm/mmap.c, mm/mprotect.c,
 * mm/memory.c, kernel/fork.c.
 */
export class UserMm implements MmContext {
  /** /proc/vmstat THP counters */
  readonly thpStats = {
    thp_fault_alloc: 0,
    thp_fault_fallback: 0,
    thp_fault_fallback_charge: 0,
    thp_split_pmd: 0,
    thp_split_page: 0,
    thp_swpout_fallback: 0,
    thp_zero_page_alloc: 0,
  };
  /** the huge zero page's first frame, allocated on first use (-1: not yet) */
  hugeZeroPfn = -1;

  constructor(
    readonly env: MmEnv,
    readonly settings: MmSettings,
  ) {}

  // ---- page tables (mm/pgtable.ts) ----

  pmdOf(mm: MmStruct, vpn: number): { pa: number; hi: number; lo: number } | null {
    return pmdOf(this, mm, vpn);
  }
  leafFor(
    mm: MmStruct,
    vpn: number,
  ): { level: 0 | 1; pa: number; hi: number; lo: number; pfn: number } | null {
    return leafFor(this, mm, vpn);
  }
  readPte(mm: MmStruct, vpn: number): { pa: number; hi: number; lo: number } | null {
    return readPte(this, mm, vpn);
  }
  mapper(mm: MmStruct): Mapper {
    return mapper(this, mm);
  }
  static isHugePmd(lo: number): boolean {
    return isHugePmd(lo);
  }
  static pmdPfn(hi: number, lo: number): number {
    return pmdPfn(hi, lo);
  }
  static ptePfn(hi: number, lo: number): number {
    return ptePfn(hi, lo);
  }

  // ---- transparent huge pages (mm/huge_memory.ts) ----

  hugeEligible(vma: Vma, vpn: number): boolean {
    return hugeEligible(this, vma, vpn);
  }
  splitPmd(mm: MmStruct, vpn: number): boolean {
    return splitPmd(this, mm, vpn);
  }

  // ---- pages (mm/memory.ts) ----

  freeUnmapped(pfn: number): void {
    freeUnmapped(this, pfn);
  }

  // ---- shmem, swap-in, file mappings (mm/shmem.ts, mm/swap_state.ts, mm/filemap.ts) ----

  shmemFrames(mms: MmStruct[]): number[] {
    return shmemFrames(mms);
  }
  willneedSwap(mm: MmStruct, start: number, end: number): number {
    return willneedSwap(this, mm, start, end);
  }
  msync(mm: MmStruct, start: number, end: number, allMms: MmStruct[]): number {
    return msync(this, mm, start, end, allMms);
  }

  // =====================================================================
  // Address spaces
  // =====================================================================

  /**
   * mm_alloc + pgd_alloc: a new PGD whose kernel half is a copy of the
   * kernel's top-level entries, so every process shares the same kernel
   * page-table pages below the top level (pgd_ctor / clone_pgd_range).
   */
  newMm(): MmStruct | null {
    const env = this.env;
    // PGD_ALLOCATION_ORDER: 1 with PTI (the kernel PGD and, 4 KiB above it, the user PGD)
    const order = env.pti ? 1 : 0;
    const pgd = env.buddy.alloc(order, Gfp.KERNEL, PageKind.PageTable);
    if (pgd < 0) return null;
    env.countPageTables(1 << order);
    for (let i = 0; i < 1 << order; i++) env.phys.zeroFrame(pgd + i);
    if (env.pti) ptiClonePgdPair(env.phys, env.kernelRootPfn, pgd);
    else
      for (let i = 256; i < 512; i++) {
        const pa = env.kernelRootPfn * 4096 + i * 8;
        env.phys.write64(pgd * 4096 + i * 8, env.phys.read32(pa + 4), env.phys.read32(pa));
      }
    const mm = new MmStruct(pgd);
    const taskSize = env.taskSizeVpn;
    mm.stackTop = taskSize;
    // mmap_base = TASK_SIZE - gap, gap = the stack rlimit clamped to [128 MiB, 5/6 of TASK_SIZE] (no randomisation)
    mm.mmapBase = taskSize - 32768;
    return mm;
  }

  // =====================================================================
  // mmap
  // =====================================================================

  /** do_mmap for anonymous memory. Returns the start vpn, or -errno. */
  mmap(mm: MmStruct, a: MmapArgs, populate: (vpn: number, write: boolean) => VmFault): number {
    if (a.length <= 0) return -Errno.EINVAL;
    const nrPages = Math.ceil(a.length / 4096);
    const taskSize = this.env.taskSizeVpn;
    if (nrPages > taskSize) return -Errno.ENOMEM;
    if (a.fixed && a.addr % 4096 !== 0) return -Errno.EINVAL;
    let flags = vmFlagsForProt(a.prot, a.shared);
    if (a.locked) flags |= VmFlag.LOCKED;
    if (a.noreserve) flags |= VmFlag.NORESERVE;
    // overcommit (__vm_enough_memory) for private writable mappings without MAP_NORESERVE
    const accountable = !a.shared && a.prot.w && !a.noreserve;
    if (accountable) {
      const s = this.settings;
      if (s.overcommit === "heuristic" && nrPages > s.totalRamPages() + s.totalSwapPages())
        return -Errno.ENOMEM;
      if (
        s.overcommit === "never" &&
        s.committedPages() + nrPages > Math.floor(s.totalRamPages() / 2) + s.totalSwapPages()
      )
        return -Errno.ENOMEM;
      flags |= VmFlag.ACCOUNT;
    }
    let start: number;
    if (a.fixed) {
      start = a.addr / 4096;
      if (start + nrPages > taskSize) return -Errno.ENOMEM;
      if (a.addr < this.settings.mmapMinAddr && !a.privileged) return -Errno.EPERM;
      this.munmap(mm, start, nrPages);
    } else {
      start = !a.shared && nrPages % 512 === 0 ? this.thpGetUnmappedArea(mm, nrPages, a.addr) : -1;
      if (start < 0) start = this.getUnmappedArea(mm, nrPages, a.addr);
      if (start < 0) return -Errno.ENOMEM;
    }
    if (a.device) {
      // the driver's mmap handler: the range must lie inside its buffer
      const first = (a.offset ?? 0) / 4096;
      if (first + nrPages > a.device.pages) return -Errno.EINVAL;
      flags = (flags | VmFlag.IO | VmFlag.PFNMAP | VmFlag.DONTEXPAND | VmFlag.DONTDUMP) & ~VmFlag.ACCOUNT;
    }
    if (accountable && !a.device) mm.committed += nrPages;
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
      a.device ? `/dev/${a.device.name}` : a.file ? a.file.path : "",
    );
    if (a.device) {
      mm.insert(vma);
      remapPfnRange(this, mm, vma, a.device.pfn + (a.offset ?? 0) / 4096);
      return start;
    }
    if (a.file) vma.file = a.file;
    else if (a.shared) {
      // shmem_zero_setup: a shared anonymous mapping is backed by a shmem object
      shmemZeroSetup(vma);
    }
    this.insertAndMerge(mm, vma);
    if (a.populate || a.locked) {
      for (let v = start; v < start + nrPages; v++) {
        const r = populate(v, a.prot.w && !a.shared);
        if (r & (VmFault.OOM | VmFault.SIGBUS | VmFault.SIGSEGV)) break;
      }
    }
    return start;
  }

  /**
   * get_unmapped_area, top-down (arch_get_unmapped_area_topdown): a free
   * hint is used as is; else the highest gap below mmap_base that fits,
   * keeping stack_guard_gap (256 pages) below a VM_GROWSDOWN neighbour.
   */
  getUnmappedArea(mm: MmStruct, nrPages: number, hintBytes: number): number {
    const low = Math.max(1, Math.ceil(this.settings.mmapMinAddr / 4096));
    if (hintBytes > 0) {
      const hint = Math.ceil(hintBytes / 4096);
      if (hint >= low && hint + nrPages <= this.env.taskSizeVpn && this.isFree(mm, hint, nrPages))
        return hint;
    }
    let gapEnd = mm.mmapBase;
    for (let i = mm.vmas.length - 1; i >= -1; i--) {
      const v = i >= 0 ? mm.vmas[i] : null;
      const below = v ? v.vmEnd : low;
      // the gap is [below, end of the VMA above the gap, less its guard)
      if (v === null || v.vmStart < gapEnd) {
        const top = Math.min(gapEnd, mm.mmapBase);
        if (top - below >= nrPages && top - nrPages >= low) return top - nrPages;
      }
      if (v === null) break;
      gapEnd = Math.min(gapEnd, v.vmStart - (v.vmFlags & VmFlag.GROWSDOWN ? 256 : 0));
    }
    return -1;
  }

  /**
   * __thp_get_unmapped_area (Linux 6.7+): an anonymous mapping whose length
   * is a multiple of 2 MiB is placed on a 2 MiB boundary, so it can be
   * mapped with huge pages: search for length + 2 MiB, then take the first
   * aligned address in it (top-down: the upper one if the area is already
   * aligned). A usable hint is taken as is. Returns -1 to fall back.
   */
  private thpGetUnmappedArea(mm: MmStruct, nrPages: number, hintBytes: number): number {
    const padded = this.getUnmappedArea(mm, nrPages + 512, hintBytes);
    if (padded < 0) return -1;
    if (hintBytes > 0 && padded === Math.ceil(hintBytes / 4096)) return padded;
    const offSub = (512 - (padded % 512)) % 512;
    return offSub === 0 ? padded + 512 : padded + offSub;
  }

  private isFree(mm: MmStruct, start: number, nrPages: number): boolean {
    const v = mm.findVma(start);
    if (v === null) return true;
    const guard = v.vmFlags & VmFlag.GROWSDOWN ? 256 : 0;
    return v.vmStart - guard >= start + nrPages;
  }

  /** Inserts a VMA, merging it with compatible neighbours (vma_merge). */
  insertAndMerge(mm: MmStruct, vma: Vma): Vma {
    mm.insert(vma);
    return this.mergeAround(mm, vma);
  }

  private mergeAround(mm: MmStruct, vma: Vma): Vma {
    let i = mm.indexOf(vma);
    const next = mm.vmas[i + 1];
    if (next && vma.canMergeWith(next)) {
      vma.vmEnd = next.vmEnd;
      vma.anonVma ||= next.anonVma;
      mm.remove(next);
      this.dropVma(next);
    }
    i = mm.indexOf(vma);
    const prev = mm.vmas[i - 1];
    if (prev?.canMergeWith(vma)) {
      prev.vmEnd = vma.vmEnd;
      prev.anonVma ||= vma.anonVma;
      mm.remove(vma);
      this.dropVma(vma);
      return prev;
    }
    return vma;
  }

  /** A VMA struct goes away: release its shmem reference; the last one frees the object's pages. */
  private dropVma(v: Vma): void {
    const obj = v.shmem;
    if (obj === null) return;
    v.shmem = null;
    shmemPut(this, obj);
  }

  /** Splits the VMA containing vpn so that a VMA starts at vpn (split_vma). */
  private splitAt(mm: MmStruct, vpn: number): void {
    const v = mm.vmaAt(vpn);
    if (v === null || v.vmStart === vpn) return;
    const right = v.clone();
    right.vmStart = vpn;
    right.vmPgoff = v.vmPgoff + (vpn - v.vmStart);
    v.vmEnd = vpn;
    mm.insert(right);
  }

  // =====================================================================
  // munmap
  // =====================================================================

  /**
   * do_munmap of [start, start+nrPages): split at the ends, zap the PTEs,
   * flush the TLBs, then free the pages and the page tables no VMA needs
   * any more (free_pgtables). Returns 0.
   */
  munmap(mm: MmStruct, start: number, nrPages: number): number {
    const end = start + nrPages;
    this.splitAt(mm, start);
    this.splitAt(mm, end);
    const doomed = mm.vmas.filter((v) => v.vmStart >= start && v.vmEnd <= end);
    if (doomed.length === 0) return 0;
    const toFree: number[] = [];
    for (const v of doomed) {
      zapRange(this, mm, v.vmStart, v.vmEnd, toFree);
      if (v.vmFlags & VmFlag.ACCOUNT) mm.committed -= v.pages;
      mm.remove(v);
    }
    this.env.flushTlbMmRange(mm, doomed[0].vmStart, doomed[doomed.length - 1].vmEnd - doomed[0].vmStart);
    for (const pfn of toFree) putPage(this, pfn);
    for (const v of doomed) this.dropVma(v);
    const prev = mm.vmas.filter((v) => v.vmEnd <= start).at(-1);
    const next = mm.vmas.find((v) => v.vmStart >= end);
    freePgtables(this, mm, start, end, prev ? prev.vmEnd : 0, next ? next.vmStart : userHalfEnd(this));
    return 0;
  }

  // =====================================================================
  // mprotect
  // =====================================================================

  /** do_mprotect_pkey for [start, start+nrPages). Returns 0 or -errno. */
  mprotect(
    mm: MmStruct,
    start: number,
    nrPages: number,
    prot: { r: boolean; w: boolean; x: boolean },
  ): number {
    const end = start + nrPages;
    // every page must be mapped (else ENOMEM), and MAY* must allow the new rights (else EACCES)
    for (let v = start; v < end; ) {
      const vma = mm.vmaAt(v);
      if (vma === null) return -Errno.ENOMEM;
      if ((prot.w && !(vma.vmFlags & VmFlag.MAYWRITE)) || (prot.x && !(vma.vmFlags & VmFlag.MAYEXEC)))
        return -Errno.EACCES;
      v = vma.vmEnd;
    }
    this.splitAt(mm, start);
    this.splitAt(mm, end);
    const changed = mm.vmas.filter((v) => v.vmStart >= start && v.vmEnd <= end);
    let ptesChanged = 0;
    for (const v of changed) {
      let flags = v.vmFlags & ~(VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC);
      if (prot.r) flags |= VmFlag.READ;
      if (prot.w) flags |= VmFlag.WRITE;
      if (prot.x) flags |= VmFlag.EXEC;
      const wasAccountable = (v.vmFlags & VmFlag.ACCOUNT) !== 0;
      if (!(flags & VmFlag.SHARED) && prot.w && !(flags & VmFlag.NORESERVE) && !wasAccountable) {
        flags |= VmFlag.ACCOUNT;
        mm.committed += v.pages;
      }
      v.vmFlags = flags;
      ptesChanged += this.changeProtection(mm, v);
    }
    if (ptesChanged > 0) this.env.flushTlbMmRange(mm, start, nrPages);
    for (const v of changed) if (mm.indexOf(v) >= 0) this.mergeAround(mm, v);
    return 0;
  }

  /**
   * change_pte_range: rewrite each PTE of the VMA for its new rights. A
   * private page stays (or becomes) writable only if it is an exclusive,
   * dirty anonymous page (can_change_pte_writable); otherwise a write will
   * fault and copy.
   */
  private changeProtection(mm: MmStruct, v: Vma): number {
    const phys = this.env.phys;
    const pages = this.env.pages;
    let n = 0;
    splitRange(this, mm, v.vmStart, v.vmEnd, true);
    for (let vpn = v.vmStart; vpn < v.vmEnd; vpn++) {
      const pmd = pmdOf(this, mm, vpn);
      if (pmd !== null && isHugePmd(pmd.lo)) {
        // change_huge_pmd: the whole PMD at once
        const base =
          ((pmd.hi & 0x3fff) * TWO32 + ((pmd.lo & Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE) >>> 0)) / 4096;
        const special = (pmd.lo & PTE_SPECIAL) !== 0;
        const dirty = (pmd.lo & Pte.D) !== 0;
        let exclusive = !special;
        for (let i = 0; i < 512 && exclusive; i++)
          exclusive = pages.mapcount[base + i] === 1 && pages.refcount[base + i] === 1;
        const writable = (v.vmFlags & VmFlag.WRITE) !== 0 && exclusive && dirty;
        const next = hugePmd(base, v.vmFlags, writable, dirty, special);
        if (next.hi !== pmd.hi || next.lo !== pmd.lo) {
          phys.write64(pmd.pa, next.hi, next.lo);
          n++;
        }
        vpn += 511 - (vpn % 512);
        continue;
      }
      const pte = readPte(this, mm, vpn);
      if (pte === null || !(pte.lo & (Pte.P | PTE_PROTNONE))) continue;
      const pfn = ptePfn(pte.hi, pte.lo);
      const special = (pte.lo & PTE_SPECIAL) !== 0;
      const dirty = (pte.lo & Pte.D) !== 0;
      const exclusive = !special && pages.mapcount[pfn] === 1 && pages.refcount[pfn] === 1;
      // can_change_pte_writable: a shared mapping's page unless it needs write-notify (a clean page of a disk file)
      const shared = (v.vmFlags & VmFlag.SHARED) !== 0;
      const notify = v.file !== null && v.file.fs === "disk";
      const writable = (v.vmFlags & VmFlag.WRITE) !== 0 && (shared ? !notify || dirty : exclusive && dirty);
      const next = userPte(pfn, v.vmFlags, writable, dirty, special);
      if (next.hi !== pte.hi || next.lo !== pte.lo) {
        phys.write64(pte.pa, next.hi, next.lo);
        n++;
      }
    }
    return n;
  }

  // =====================================================================
  // Faults (mm/memory.c)
  // =====================================================================

  /**
   * handle_mm_fault for an anonymous VMA: allocate the page tables, then
   * handle_pte_fault. On entry the caller has checked the VMA allows the
   * access (access_error). On return the PTE allows the access, or a
   * VmFault error bit is set.
   */
  handleMmFault(mm: MmStruct, vma: Vma, vpn: number, write: boolean): VmFault {
    // __handle_mm_fault: the PMD level first (transparent huge pages)
    const pmd = pmdOf(this, mm, vpn);
    if (pmd !== null && isHugePmd(pmd.lo)) {
      if (!(pmd.lo & Pte.P)) return VmFault.SIGSEGV;
      if (write && !(pmd.lo & Pte.RW)) {
        const r = hugeWp(this, mm, vma, vpn, pmd);
        if (r !== null) return r;
      } else {
        const young = (pmd.lo | Pte.A | (write ? Pte.D : 0)) >>> 0;
        if (young !== pmd.lo) this.env.phys.write32(pmd.pa, young);
        return VmFault.OK;
      }
    } else if ((pmd === null || (pmd.lo === 0 && pmd.hi === 0)) && this.hugeEligible(vma, vpn)) {
      const r = hugeFault(this, mm, vma, vpn, write);
      if (r !== null) return r;
    }
    const pa = ptePa(this, mm, vpn, true);
    if (pa < 0) return VmFault.OOM;
    const phys = this.env.phys;
    const lo = phys.read32(pa);
    const hi = phys.read32(pa + 4);
    if (vma.vmFlags & VmFlag.PFNMAP && lo === 0 && hi === 0) return VmFault.SIGBUS; // no ->fault: VM_FAULT_SIGBUS
    if (vma.file && !(lo === PTE_GUARD && hi === 0) && !isSwapPte(hi, lo))
      return filemapFault(this, mm, vma, vpn, pa, write, hi, lo);
    if (lo === 0 && hi === 0)
      return vma.shmem
        ? shmemFault(this, mm, vma, vpn, pa, write)
        : doAnonymousPage(this, mm, vma, vpn, pa, write);
    if (lo === PTE_GUARD && hi === 0) return VmFault.SIGSEGV; // a guard marker (handle_pte_marker)
    if (isSwapPte(hi, lo)) return doSwapPage(this, mm, vma, vpn, pa, write, hi, lo);
    if (!(lo & Pte.P)) return VmFault.SIGSEGV; // PROT_NONE in an accessible VMA cannot happen
    if (write && !(lo & Pte.RW)) return doWpPage(this, mm, vma, vpn, pa, hi, lo);
    // spurious: the PTE already allows it (a stale TLB entry); make it young/dirty
    const young = (lo | Pte.A | (write ? Pte.D : 0)) >>> 0;
    if (young !== lo) phys.write32(pa, young);
    return VmFault.OK;
  }

  // =====================================================================
  // File mappings (mm/filemap.c, mm/memory.c do_read_fault, do_cow_fault, do_shared_fault)
  // =====================================================================

  // =====================================================================
  // Swap (mm/memory.c do_swap_page, mm/vmscan.c shrink_folio_list, mm/madvise.c MADV_PAGEOUT)
  // =====================================================================

  /**
   * MADV_PAGEOUT (madvise_cold_or_pageout_pte_range, then reclaim_pages):
   * pages in the range that only this mapping uses are reclaimed now.
   * Anonymous pages are written to swap (when there is swap) and their PTEs
   * become swap entries; page-cache pages of disk files are unmapped, written
   * back if dirty, and dropped from the cache. Shared pages (mapcount > 1),
   * shmem and tmpfs pages, and the zero page are left. Returns the number of
   * pages reclaimed.
   */
  pageout(mm: MmStruct, start: number, end: number): number {
    const env = this.env;
    const pages = env.pages;
    // a huge page goes to swap in 4K pieces (no THP swap clusters: thp_swpout_fallback)
    if (env.swap !== null) splitRange(this, mm, start, end, false);
    let n = 0;
    for (let vpn = start; vpn < end; vpn++) {
      const vma = mm.vmaAt(vpn);
      if (vma === null || vma.shmem) continue;
      const pte = readPte(this, mm, vpn);
      if (pte === null || !(pte.lo & Pte.P) || pte.lo & PTE_SPECIAL) continue;
      const pfn = ptePfn(pte.hi, pte.lo);
      // "do not interfere with other mappings of this folio"
      if (pages.mapcount[pfn] !== 1) continue;
      if (env.lru?.reclaimPage(pfn, linearIndex(vma, vpn))) n++;
    }
    return n;
  }

  // =====================================================================
  // madvise, mlock, mremap, brk
  // =====================================================================

  /** Every page of [start, end) is inside some VMA. */
  isMapped(mm: MmStruct, start: number, end: number): boolean {
    for (let v = start; v < end; ) {
      const vma = mm.vmaAt(v);
      if (vma === null) return false;
      v = vma.vmEnd;
    }
    return true;
  }

  /** Splits VMAs at start and end and returns those inside, after applying f to each (then re-merges). */
  private applyToRange(mm: MmStruct, start: number, end: number, f: (v: Vma) => void): void {
    this.splitAt(mm, start);
    this.splitAt(mm, end);
    const inside = mm.vmas.filter((v) => v.vmStart >= start && v.vmEnd <= end);
    for (const v of inside) f(v);
    for (const v of inside) if (mm.indexOf(v) >= 0) this.mergeAround(mm, v);
  }

  /**
   * MADV_DONTNEED (zap_page_range_single): drop the pages; the next touch
   * faults in zero-filled memory. The TLBs are flushed before the pages are
   * freed.
   */
  dontneed(mm: MmStruct, start: number, end: number): void {
    const toFree: number[] = [];
    for (const v of mm.vmas) {
      const a = Math.max(start, v.vmStart);
      const b = Math.min(end, v.vmEnd);
      if (a < b) zapRange(this, mm, a, b, toFree, true);
    }
    this.env.flushTlbMmRange(mm, start, end - start);
    for (const pfn of toFree) putPage(this, pfn);
  }

  /**
   * MADV_FREE (madvise_free_pte_range): private anonymous pages become
   * lazily freeable: their PTEs are made clean (and flushed) and the page
   * marked; under memory pressure such a page is dropped instead of swapped,
   * unless it was written again (the dirty bit is back).
   */
  lazyFree(mm: MmStruct, start: number, end: number): void {
    splitRange(this, mm, start, end);
    const pages = this.env.pages;
    let changed = 0;
    for (let vpn = start; vpn < end; vpn++) {
      const pte = readPte(this, mm, vpn);
      if (pte === null || !(pte.lo & Pte.P) || pte.lo & PTE_SPECIAL) continue;
      const pfn = ptePfn(pte.hi, pte.lo);
      if (pages.kind[pfn] !== PageKind.UserAnon || pages.mapcount[pfn] !== 1) continue;
      pages.flags[pfn] |= PageFlag.Lazyfree;
      if (pte.lo & (Pte.D | Pte.A)) {
        this.env.phys.write32(pte.pa, (pte.lo & ~(Pte.D | Pte.A)) >>> 0);
        changed++;
      }
    }
    if (changed) this.env.flushTlbMmRange(mm, start, end - start);
  }

  /** MADV_GUARD_INSTALL: zap the range and put a guard marker in every PTE. */
  guardInstall(mm: MmStruct, start: number, end: number): number {
    const toFree: number[] = [];
    zapRange(this, mm, start, end, toFree, true);
    this.env.flushTlbMmRange(mm, start, end - start);
    for (const pfn of toFree) putPage(this, pfn);
    for (let vpn = start; vpn < end; vpn++) {
      const pa = ptePa(this, mm, vpn, true);
      if (pa < 0) return -Errno.ENOMEM;
      this.env.phys.write64(pa, 0, PTE_GUARD);
    }
    return 0;
  }

  /** MADV_GUARD_REMOVE: clear the guard markers of the range (pages stay as they are). */
  guardRemove(mm: MmStruct, start: number, end: number): void {
    for (let vpn = start; vpn < end; vpn++) {
      const pte = readPte(this, mm, vpn);
      if (pte !== null && pte.lo === PTE_GUARD && pte.hi === 0) this.env.phys.write64(pte.pa, 0, 0);
    }
  }

  /** Sets and clears VMA flags over a range (madvise's VMA-flag advices, mlock, munlock). */
  setFlags(mm: MmStruct, start: number, end: number, set: number, clear: number): void {
    this.applyToRange(mm, start, end, (v) => {
      v.vmFlags = (v.vmFlags & ~clear) | set;
    });
  }

  /**
   * mremap (mm/mremap.c): shrink in place, grow in place when the pages
   * after the area are free, else move (maymove) the VMA and its page
   * tables to a new range, freeing the old one. Returns the new start vpn
   * or -errno.
   */
  mremap(
    mm: MmStruct,
    start: number,
    oldPages: number,
    newPages: number,
    mayMove: boolean,
    fixedTo: number,
  ): number {
    const vma = mm.vmaAt(start);
    if (vma === null || start + oldPages > vma.vmEnd) return -Errno.EFAULT;
    if (vma.vmFlags & (VmFlag.DONTEXPAND | VmFlag.PFNMAP) && newPages > oldPages) return -Errno.EFAULT;
    if (fixedTo >= 0) {
      if (fixedTo === start) return -Errno.EINVAL;
      this.munmap(mm, fixedTo, newPages);
      return this.moveVma(mm, vma, start, oldPages, newPages, fixedTo);
    }
    if (newPages <= oldPages) {
      if (newPages < oldPages) this.munmap(mm, start + newPages, oldPages - newPages);
      return start;
    }
    // grow in place: the area must end the VMA and the pages after it be free
    if (
      start + oldPages === vma.vmEnd &&
      this.isFree(mm, vma.vmEnd, newPages - oldPages) &&
      start + newPages <= this.env.taskSizeVpn
    ) {
      vma.vmEnd = start + newPages;
      if (vma.vmFlags & VmFlag.ACCOUNT) mm.committed += newPages - oldPages;
      return start;
    }
    if (!mayMove) return -Errno.ENOMEM;
    const to = this.getUnmappedArea(mm, newPages, -1);
    if (to < 0) return -Errno.ENOMEM;
    return this.moveVma(mm, vma, start, oldPages, newPages, to);
  }

  /** move_vma + move_page_tables: the PTEs move (no copy, no fault), the old range is unmapped and flushed. */
  private moveVma(
    mm: MmStruct,
    vma: Vma,
    start: number,
    oldPages: number,
    newPages: number,
    to: number,
  ): number {
    const moved = Math.min(oldPages, newPages);
    splitRange(this, mm, start, start + oldPages);
    const phys = this.env.phys;
    const entries: { hi: number; lo: number }[] = [];
    for (let i = 0; i < moved; i++) {
      const pte = readPte(this, mm, start + i);
      entries.push(pte === null ? { hi: 0, lo: 0 } : { hi: pte.hi, lo: pte.lo });
      if (pte !== null) phys.write64(pte.pa, 0, 0);
    }
    this.env.flushTlbMmRange(mm, start, moved);
    const nv = vma.clone();
    nv.vmStart = to;
    nv.vmEnd = to + newPages;
    // copy_vma: the page offset moves with the pages (a file mapping keeps its file offset;
    // an anonymous one keeps its linear index, which the reverse map relies on)
    nv.vmPgoff = vma.vmPgoff + (start - vma.vmStart);
    // the old range goes away (its PTEs are already cleared, so nothing is freed twice)
    this.munmap(mm, start, oldPages);
    mm.insert(nv);
    if (nv.vmFlags & VmFlag.ACCOUNT) mm.committed += newPages;
    for (let i = 0; i < moved; i++) {
      const e = entries[i];
      if (e.lo === 0 && e.hi === 0) continue;
      const pa = ptePa(this, mm, to + i, true);
      if (pa < 0) return -Errno.ENOMEM;
      phys.write64(pa, e.hi, e.lo);
    }
    return to;
  }

  // =====================================================================
  // fork and exit
  // =====================================================================

  /**
   * dup_mmap: copy every VMA; copy the page tables only of VMAs that have
   * anonymous pages (vma_needs_copy), write-protecting private pages in both
   * parent and child (copy-on-write), then flush the parent's TLBs.
   */
  dupMm(parent: MmStruct): MmStruct | null {
    const child = this.newMm();
    if (child === null) return null;
    child.mmapBase = parent.mmapBase;
    child.stackTop = parent.stackTop;
    child.startBrk = parent.startBrk;
    child.brkBytes = parent.brkBytes;
    child.committed = parent.committed;
    const env = this.env;
    const pages = env.pages;
    let wrprotected = 0;
    for (const v of parent.vmas) {
      if (v.vmFlags & VmFlag.DONTCOPY) continue;
      const c = v.clone();
      c.anonVma = v.anonVma === 0 || v.vmFlags & VmFlag.WIPEONFORK ? 0 : child.newAnonVma();
      child.insert(c);
      // vma_needs_copy: PFNMAP mappings are always copied (their PTEs cannot be refaulted)
      if (
        (v.anonVma === 0 && !this.hasGuards(parent, v) && !(v.vmFlags & VmFlag.PFNMAP)) ||
        v.vmFlags & VmFlag.WIPEONFORK
      )
        continue;
      const cow = !(v.vmFlags & VmFlag.SHARED) && (v.vmFlags & VmFlag.MAYWRITE) !== 0;
      for (let vpn = v.vmStart; vpn < v.vmEnd; vpn++) {
        const pmd = vpn % 512 === 0 ? pmdOf(this, parent, vpn) : null;
        if (pmd !== null && isHugePmd(pmd.lo)) {
          // copy_huge_pmd: share the huge page, write-protected on both sides
          let lo = pmd.lo;
          if (!(lo & PTE_SPECIAL)) {
            const base =
              ((pmd.hi & 0x3fff) * TWO32 + ((lo & Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE) >>> 0)) / 4096;
            for (let i = 0; i < 512; i++) {
              pages.refcount[base + i]++;
              pages.mapcount[base + i]++;
            }
            child.rssAnon += 512;
            if (cow && lo & Pte.RW) {
              lo = (lo & ~Pte.RW) >>> 0;
              env.phys.write32(pmd.pa, lo);
              wrprotected++;
            }
          }
          const pd = mapper(this, child).ensureTable(child.pgdPfn, vpn, 1, true);
          if (pd < 0) return null;
          env.phys.write64(pd * 4096 + (Math.floor(vpn / 512) % 512) * 8, pmd.hi, lo);
          vpn += 511;
          continue;
        }
        const pte = readPte(this, parent, vpn);
        if (pte === null || (pte.lo === 0 && pte.hi === 0)) continue;
        if (isSwapPte(pte.hi, pte.lo)) {
          // copy_nonpresent_pte: swap_duplicate
          env.swap!.dup(swapSlot(pte.hi, pte.lo));
          child.swapEnts++;
        }
        let lo = pte.lo;
        if (lo & (Pte.P | PTE_PROTNONE) && !(lo & PTE_SPECIAL)) {
          const pfn = ptePfn(pte.hi, lo);
          pages.refcount[pfn]++;
          pages.mapcount[pfn]++;
          rssAdd(this, child, v, pfn, 1);
          if (cow && lo & Pte.RW) {
            lo = (lo & ~Pte.RW) >>> 0;
            env.phys.write32(pte.pa, lo);
            wrprotected++;
          }
        }
        const cpa = ptePa(this, child, vpn, true);
        if (cpa < 0) return null;
        env.phys.write64(cpa, pte.hi, lo);
      }
    }
    if (wrprotected > 0) env.flushTlbMmRange(parent, 0, env.taskSizeVpn);
    return child;
  }

  private hasGuards(mm: MmStruct, v: Vma): boolean {
    for (let vpn = v.vmStart; vpn < v.vmEnd; vpn++) {
      const pte = readPte(this, mm, vpn);
      if (pte !== null && pte.lo === PTE_GUARD) return true;
    }
    return false;
  }

  /** exit_mmap: unmap everything and free the page tables below the PGD. */
  exitMmap(mm: MmStruct): void {
    const all = mm.vmas.slice();
    const toFree: number[] = [];
    for (const v of all) {
      zapRange(this, mm, v.vmStart, v.vmEnd, toFree);
      mm.remove(v);
    }
    mm.committed = 0;
    this.env.flushTlbMmRange(mm, 0, this.env.taskSizeVpn);
    for (const pfn of toFree) putPage(this, pfn);
    for (const v of all) this.dropVma(v);
    freePgtables(this, mm, 0, userHalfEnd(this), 0, userHalfEnd(this));
    mm.dead = true;
  }

  /** __mmdrop: frees the PGD once no CPU has the mm loaded. */
  freePgd(mm: MmStruct): void {
    const order = this.env.pti ? 1 : 0;
    const err = this.env.buddy.free(mm.pgdPfn, order);
    assert(err === null, `freePgd: ${err}`);
    this.env.countPageTables(-(1 << order));
    mm.pgdPfn = -1;
  }
}
