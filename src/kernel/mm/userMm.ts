import { assert } from "../../base/assert.ts";
import type { Mapper } from "../../hw/x86_64/Mapper.ts";
import { Pte } from "../../hw/x86_64/pte.ts";
import { ptiClonePgdPair } from "../arch/x86/pti.ts";
import { handleMmFault } from "./fault.ts";
import { msync } from "./filemap.ts";
import { Gfp } from "./gfp.ts";
import { hugeEligible, splitPmd, splitRange } from "./huge_memory.ts";
import { Errno, linearIndex, type MmContext, type MmEnv, type MmSettings, type VmFault } from "./internal.ts";
import { MmStruct } from "./MmStruct.ts";
import { freeUnmapped, putPage, rssAdd, zapRange } from "./memory.ts";
import {
  doBrk,
  exitMmap,
  getUnmappedArea,
  insertAndMerge,
  isFree,
  isMapped,
  type MmapArgs,
  mergeAround,
  mmap,
  munmap,
  setFlags,
  splitAt,
} from "./mmap.ts";
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
  userPte,
} from "./pgtable.ts";
import { shmemFrames } from "./shmem.ts";
import { willneedSwap } from "./swap_state.ts";
import { isSwapPte, swapSlot } from "./swapfile.ts";
import { type Vma, VmFlag } from "./vma.ts";

export { Errno, type LruHooks, type MmEnv, type MmSettings, VmFault } from "./internal.ts";
export { type MmapArgs, mmapArgs } from "./mmap.ts";
export { PTE_GUARD, PTE_PROTNONE, PTE_SPECIAL } from "./pgtable.ts";

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

  // ---- mmap, munmap, brk, VMA flags, exit (mm/mmap.ts) ----

  mmap(mm: MmStruct, a: MmapArgs, populate: (vpn: number, write: boolean) => VmFault): number {
    return mmap(this, mm, a, populate);
  }
  munmap(mm: MmStruct, start: number, nrPages: number): number {
    return munmap(this, mm, start, nrPages);
  }
  brk(mm: MmStruct, newBrk: number): number {
    return doBrk(this, mm, newBrk);
  }
  insertAndMerge(mm: MmStruct, vma: Vma): Vma {
    return insertAndMerge(this, mm, vma);
  }
  isMapped(mm: MmStruct, start: number, end: number): boolean {
    return isMapped(mm, start, end);
  }
  setFlags(mm: MmStruct, start: number, end: number, set: number, clear: number): void {
    setFlags(this, mm, start, end, set, clear);
  }
  exitMmap(mm: MmStruct): void {
    exitMmap(this, mm);
  }

  // ---- faults (mm/fault.ts) ----

  handleMmFault(mm: MmStruct, vma: Vma, vpn: number, write: boolean): VmFault {
    return handleMmFault(this, mm, vma, vpn, write);
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

  // =====================================================================
  // munmap
  // =====================================================================

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
    splitAt(mm, start);
    splitAt(mm, end);
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
    for (const v of changed) if (mm.indexOf(v) >= 0) mergeAround(this, mm, v);
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
      munmap(this, mm, fixedTo, newPages);
      return this.moveVma(mm, vma, start, oldPages, newPages, fixedTo);
    }
    if (newPages <= oldPages) {
      if (newPages < oldPages) munmap(this, mm, start + newPages, oldPages - newPages);
      return start;
    }
    // grow in place: the area must end the VMA and the pages after it be free
    if (
      start + oldPages === vma.vmEnd &&
      isFree(mm, vma.vmEnd, newPages - oldPages) &&
      start + newPages <= this.env.taskSizeVpn
    ) {
      vma.vmEnd = start + newPages;
      if (vma.vmFlags & VmFlag.ACCOUNT) mm.committed += newPages - oldPages;
      return start;
    }
    if (!mayMove) return -Errno.ENOMEM;
    const to = getUnmappedArea(this, mm, newPages, -1);
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
    munmap(this, mm, start, oldPages);
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

  /** __mmdrop: frees the PGD once no CPU has the mm loaded. */
  freePgd(mm: MmStruct): void {
    const order = this.env.pti ? 1 : 0;
    const err = this.env.buddy.free(mm.pgdPfn, order);
    assert(err === null, `freePgd: ${err}`);
    this.env.countPageTables(-(1 << order));
    mm.pgdPfn = -1;
  }
}
