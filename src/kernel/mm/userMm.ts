/**
 * The user address-space code as the rest of the kernel holds it: UserMm,
 * a facade over the functions of mm/ (each mirroring a Linux file: fault.ts,
 * memory.ts, huge_memory.ts, filemap.ts, shmem.ts, swap_state.ts, mmap.ts,
 * mprotect.ts, mremap.ts, mlock.ts, madvise.ts, fork.ts, pgtable.ts). It is
 * the MmContext those functions take: the kernel's services (env), the vm.*
 * settings, the THP counters and the huge zero page. Each method is one
 * delegation.
 *
 * It also re-exports the vocabulary callers imported from here before the
 * split (Errno, VmFault, MmapArgs, ...). What an entry means is the
 * architecture's: ask `env.pgtable` (mm/arch.ts).
 */
import type { PageTableMapper } from "../../hw/mmu/Mapper.ts";
import type { FileObject } from "../fs/file.ts";
import { handleMmFault } from "./fault.ts";
import { msync } from "./filemap.ts";
import { dupMm, freePgd, newMm } from "./fork.ts";
import { mmPopulate, type Populate } from "./gup.ts";
import { hugeEligible, splitPmd } from "./huge_memory.ts";
import { type HState, hugetlbHstates } from "./hugetlb_vma.ts";
import type { KhugepagedState, MmContext, MmEnv, MmSettings, ThpStats, VmFault } from "./internal.ts";
import { khugepagedDoScan } from "./khugepaged.ts";
import { newKhugepagedState } from "./khugepaged_slots.ts";
import { AnonVmas, type MmStruct } from "./MmStruct.ts";
import { doMadvise, dontneed, lazyFree, pageout } from "./madvise.ts";
import { guardInstall, guardRemove } from "./madvise_guard.ts";
import { freeUnmapped } from "./memory.ts";
import { doMlock, doMlockall, doMunlock, doMunlockall } from "./mlock.ts";
import { doBrk, exitMmap, insertAndMerge, isMapped, type MmapArgs, mmap, munmap, setFlags } from "./mmap.ts";
import { mprotect, type NewPkey } from "./mprotect.ts";
import { mremap } from "./mremap.ts";
import { leafFor, mapper, pmdOf, readPte } from "./pgtable.ts";
import { shmemFrames } from "./shmem.ts";
import { willneedSwap } from "./swap_state.ts";
import { truncateSetsize } from "./truncate.ts";
import { type ShmemObject, type Vma, VmFlag } from "./vma.ts";

export { Errno, type LruHooks, type MmEnv, type MmSettings, VmFault } from "./internal.ts";
export { MADVISE_ADVICE, Madv } from "./madvise.ts";
export { type MmapArgs, mmapArgs } from "./mmap.ts";

type Prot = { r: boolean; w: boolean; x: boolean };

/**
 * User address spaces: creation and teardown, mmap / munmap / mprotect /
 * mremap / madvise / mlock / brk / msync, the fault path, fork. Addresses
 * are vpns; system calls return 0, a vpn, or -errno.
 */
export class UserMm implements MmContext {
  /** /proc/vmstat THP counters */
  /** /proc/vmstat pgfault: handle_mm_fault calls (mm_account_fault's count_vm_event(PGFAULT)) */
  pgfault = 0;
  /** /proc/vmstat pgreuse (MmContext) */
  pgreuse = 0;
  /** /proc/vmstat nr_foll_pin_acquired / nr_foll_pin_released: FOLL_PIN references taken and dropped (try_grab_folio, gup_put_folio) */
  follPinAcquired = 0;
  follPinReleased = 0;
  /** folio->_pincount of large folios, by head pfn (a small folio's pins are GUP_PIN_COUNTING_BIAS in its refcount); core/gup_remote.ts */
  readonly pincount = new Map<number, number>();
  /** the references FOLL_PIN pins hold, by the frame that holds them (1024 a small folio's pin, 1 a large one's): the invariant checker's */
  readonly pinnedRefs = new Map<number, number>();
  /** /proc/vmstat pgmajfault (MmContext) */
  pgmajfault = 0;
  /** the last handleMmFault was a write fault on a shared disk-file mapping (MmContext), and the pages it dirtied */
  faultDirtyShared = false;
  faultDirtied = 0;
  readonly thpStats: ThpStats = {
    thp_fault_alloc: 0,
    thp_fault_fallback: 0,
    thp_fault_fallback_charge: 0,
    thp_collapse_alloc: 0,
    thp_collapse_alloc_failed: 0,
    thp_split_pmd: 0,
    thp_scan_exceed_none_pte: 0,
    thp_scan_exceed_swap_pte: 0,
    thp_scan_exceed_share_pte: 0,
    thp_split_page: 0,
    thp_split_page_failed: 0,
    thp_deferred_split_page: 0,
    thp_underused_split_page: 0,
    thp_swpout: 0,
    thp_swpout_fallback: 0,
    thp_zero_page_alloc: 0,
    thp_file_mapped: 0,
  };
  /** the huge zero page's first frame, allocated on first use (-1: not yet) */
  hugeZeroPfn = -1;
  /** the last mm's ctx_id handed out (x86 last_mm_ctx_id) */
  lastCtxId = 0;
  /** the machine's anon_vmas (the reverse map of anonymous pages) */
  readonly anonVmas = new AnonVmas();
  /** the HugeTLB pool of the default size (default_hstate: the PMD's size) */
  readonly hstate: HState;
  /** every HugeTLB pool (hstates[], smallest first): the default one, and the PUD's where the architecture has it */
  readonly hstates: readonly HState[];

  /** khugepaged's mm slots, cursor, knobs and counters (mm/khugepaged.ts) */
  readonly khugepaged: KhugepagedState;

  constructor(
    readonly env: MmEnv,
    readonly settings: MmSettings,
  ) {
    this.hstates = hugetlbHstates(env.pgtable);
    this.hstate = this.hstates[0];
    this.khugepaged = newKhugepagedState(env.pgtable.hpagePmdNr);
  }

  /** One wake-up of khugepaged (khugepaged_do_scan): the PMDs it collapsed. */
  khugepagedDoScan(): number {
    return khugepagedDoScan(this);
  }

  // ---- page tables (pgtable.ts) ----
  mapper(mm: MmStruct): PageTableMapper {
    return mapper(this, mm);
  }
  readPte(mm: MmStruct, vpn: number): { pa: number; hi: number; lo: number } | null {
    return readPte(this, mm, vpn);
  }
  pmdOf(mm: MmStruct, vpn: number): { pa: number; hi: number; lo: number } | null {
    return pmdOf(this, mm, vpn);
  }
  leafFor(
    mm: MmStruct,
    vpn: number,
  ): { level: number; pa: number; hi: number; lo: number; pfn: number } | null {
    return leafFor(this, mm, vpn);
  }

  // ---- faults (fault.ts, huge_memory.ts, memory.ts) ----
  /**
   * handle_mm_fault, counted as mm_account_fault counts it in /proc/vmstat's pgfault: every
   * call, a failed fault too (the task's min_flt/maj_flt only count resolved ones: gup.ts
   * accountFault). A fault refused before it (no VMA, access_error) is not counted.
   */
  handleMmFault(mm: MmStruct, vma: Vma, vpn: number, write: boolean): VmFault {
    this.pgfault++;
    const pc = this.env.pageCache;
    pc.dirtyThrottle?.serve(); // the flusher's background work queued before this fault
    const acct = pc.acct;
    const dirtied = acct.dirtied;
    this.faultDirtyShared = false;
    const r = handleMmFault(this, mm, vma, vpn, write);
    this.faultDirtied = acct.dirtied - dirtied;
    return r;
  }
  hugeEligible(mm: MmStruct, vma: Vma, vpn: number): boolean {
    return hugeEligible(this, mm, vma, vpn);
  }
  splitPmd(mm: MmStruct, vpn: number): boolean {
    return splitPmd(this, mm, vpn);
  }
  freeUnmapped(pfn: number): void {
    freeUnmapped(this, pfn);
  }

  // ---- address spaces (fork.ts, mmap.ts) ----
  newMm(): MmStruct | null {
    return newMm(this);
  }
  dupMm(parent: MmStruct, capSysAdmin = true): MmStruct | null {
    return dupMm(this, parent, capSysAdmin);
  }
  exitMmap(mm: MmStruct): void {
    exitMmap(this, mm);
  }
  freePgd(mm: MmStruct): void {
    freePgd(this, mm);
  }

  // ---- system calls (mmap.ts, mprotect.ts, mremap.ts, mlock.ts, madvise.ts, filemap.ts) ----
  mmap(mm: MmStruct, a: MmapArgs, populate: Populate): number {
    return mmap(this, mm, a, populate);
  }
  munmap(mm: MmStruct, start: number, nrPages: number): number {
    return munmap(this, mm, start, nrPages);
  }
  /**
   * `populate`: the faults mprotect_fixup makes when a locked private VMA
   * becomes writable; `newPkey`: each VMA's protection key (do_mprotect_pkey)
   */
  mprotect(
    mm: MmStruct,
    start: number,
    nrPages: number,
    prot: Prot,
    populate?: Populate,
    newPkey?: NewPkey,
    capSysAdmin = true,
    rier = false,
  ): number {
    return mprotect(this, mm, start, nrPages, prot, populate, newPkey, capSysAdmin, rier);
  }
  mremap(
    mm: MmStruct,
    start: number,
    oldPages: number,
    newPages: number,
    mayMove: boolean,
    fixedTo: number,
    populate?: Populate,
    capSysAdmin = true,
    dontUnmap = false,
  ): number {
    const r = mremap(this, mm, start, oldPages, newPages, mayMove, fixedTo, capSysAdmin, dontUnmap);
    // SYSCALL_DEFINE5(mremap): a locked area that grew has its new part populated (mm_populate)
    if (r >= 0 && newPages > oldPages && populate && (mm.vmaAt(r)?.vmFlags ?? 0) & VmFlag.LOCKED)
      mmPopulate(this, mm, r + oldPages, r + newPages, populate, true);
    return r;
  }
  /**
   * `populate`: the faults of a heap grown under mlockall(MCL_FUTURE) (sys_brk's mm_populate);
   * `taskExec`: READ_IMPLIES_EXEC in the caller's personality
   */
  brk(mm: MmStruct, newBrk: number, capSysAdmin = true, populate?: Populate, taskExec = false): number {
    return doBrk(this, mm, newBrk, capSysAdmin, populate, taskExec);
  }
  /** `capIpcLock`: the caller has CAP_IPC_LOCK (RLIMIT_MEMLOCK does not apply) */
  mlock(
    mm: MmStruct,
    start: number,
    end: number,
    onFault: boolean,
    fault: Populate,
    capIpcLock = true,
  ): number {
    return doMlock(this, mm, start, end, onFault, fault, capIpcLock);
  }
  munlock(mm: MmStruct, start: number, end: number): number {
    return doMunlock(this, mm, start, end);
  }
  /** mlockall(flags: Mcl bits); `capIpcLock`: the caller has CAP_IPC_LOCK */
  mlockall(mm: MmStruct, flags: number, fault: Populate, capIpcLock = true): number {
    return doMlockall(this, mm, flags, fault, capIpcLock);
  }
  munlockall(mm: MmStruct): number {
    return doMunlockall(this, mm);
  }
  madvise(
    mm: MmStruct,
    start: number,
    end: number,
    advice: number,
    fault: Populate,
    reclaimed?: (pages: number) => void,
  ): number {
    return doMadvise(this, mm, start, end, advice, fault, reclaimed);
  }
  msync(mm: MmStruct, start: number, end: number): number {
    return msync(this, mm, start, end);
  }
  truncate(f: FileObject, newSize: number): void {
    truncateSetsize(this, f, newSize);
  }
  insertAndMerge(mm: MmStruct, vma: Vma): Vma {
    return insertAndMerge(this, mm, vma);
  }
  isMapped(mm: MmStruct, start: number, end: number): boolean {
    return isMapped(mm, start, end);
  }
  setFlags(mm: MmStruct, start: number, end: number, set: number, clear: number): number {
    return setFlags(this, mm, start, end, set, clear);
  }

  // ---- single advices, as Kernel.madvise calls them today (madvise.ts, swap_state.ts) ----
  dontneed(mm: MmStruct, start: number, end: number): void {
    dontneed(this, mm, start, end);
  }
  lazyFree(mm: MmStruct, start: number, end: number): void {
    lazyFree(this, mm, start, end);
  }
  pageout(mm: MmStruct, start: number, end: number): number {
    return pageout(this, mm, start, end);
  }
  guardInstall(mm: MmStruct, start: number, end: number): number {
    return guardInstall(this, mm, start, end);
  }
  guardRemove(mm: MmStruct, start: number, end: number): void {
    guardRemove(this, mm, start, end);
  }
  willneedSwap(mm: MmStruct, start: number, end: number): number {
    return willneedSwap(this, mm, start, end);
  }

  // ---- shmem (shmem.ts) ----
  shmemFrames(mms: MmStruct[], more: Iterable<ShmemObject> = []): number[] {
    return shmemFrames(mms, more);
  }
}
