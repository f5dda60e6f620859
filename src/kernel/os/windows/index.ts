/**
 * The Windows profile (profile=windows): Windows' memory manager for user
 * address spaces on the kernel's machine (docs/windows.md). The hardware,
 * boot, the buddy allocator, the architecture's page tables in RAM and TLB
 * maintenance are the kernel's; a process's address space is managed the
 * Windows way: a VAD tree per process (vad.ts), the VirtualAlloc family
 * (virtual.ts), MmAccessFault for its faults (fault.ts), Windows' software
 * PTEs (mmpte.ts), the commit charge against the commit limit.
 *
 * This object is the OsProfile the generic kernel calls at its hooks
 * (core/core.ts OsProfile) and the services the facade exposes.
 */
import type { Access } from "../../../hw/access.ts";
import type { KernelAccessResult, KernelCore, OsProfile } from "../../core/core.ts";
import type { SigInfo } from "../../core/signal.ts";
import type { Task } from "../../core/task.ts";
import type { FileObject } from "../../fs/file.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { PageKind } from "../../mm/PageDesc.ts";
import { virtualAllocType } from "./alloctype.ts";
import { WinError } from "./commit.ts";
import {
  EXCEPTION_CODES,
  exceptionName,
  explainAccessFault,
  generalProtection,
  mmAccessFault,
  STATUS_ACCESS_VIOLATION,
  STATUS_GUARD_PAGE_VIOLATION,
} from "./fault.ts";
import { WinKernelMemory } from "./kmem.ts";
import { largePagePages } from "./largepage.ts";
import { type WinLayout, winLayout } from "./layout.ts";
import { virtualLock, virtualUnlock } from "./lock.ts";
import { win32Protection as win32 } from "./mmpte.ts";
import { pageRuns, pageState, sharedFrame } from "./pages.ts";
import { modifiedPageWriter, purgeStandby } from "./paging.ts";
import { MEMORY_PRIORITY_NORMAL, MIN_WS_PAGE_PRIORITY, PfnDatabase } from "./pfn.ts";
import { type Alloc2Type, virtualAlloc2, virtualFreeEx } from "./placeholder.ts";
import { type ProbeResult, probeAndCopy, type Seh } from "./probe.ts";
import { pagePriority, pteValid, WinProcess, winProcess } from "./process.ts";
import { memReset } from "./reset.ts";
import type { Section } from "./section.ts";
import {
  createSharedUserData,
  mapSharedUserData,
  SHARED_USER_DATA_VPN,
  type SharedUserData,
  unmapSharedUserData,
} from "./shared.ts";
import { createUserStack } from "./stack.ts";
import { clearSystemPdes, copySystemPdes, mapSystemSpace, type SystemAlias } from "./system.ts";
import { VadType } from "./vad.ts";
import {
  closeSection,
  createFileMapping,
  type ImageLayout,
  mapViewOfFile,
  releaseView,
  unmapViewOfFile,
  unmapViewPreserve,
} from "./view.ts";
import {
  type CommitBook,
  type MemoryBasicInformation,
  releaseVad,
  virtualAlloc,
  virtualFree,
  virtualProtect,
  virtualQuery,
  type WinMm,
} from "./virtual.ts";
import { setWorkingSetSize, trimProcess } from "./workingset.ts";
import { getWriteWatch, resetWriteWatch } from "./writewatch.ts";
import { queryWorkingSetEx, type WorkingSetExBlock } from "./wsex.ts";
import { queryWorkingSet, type WorkingSetInformation } from "./wsinfo.ts";
import { availablePages } from "./wsmanager.ts";

export type {
  Alloc2Type,
  ImageLayout,
  MemoryBasicInformation,
  ProbeResult,
  WorkingSetExBlock,
  WorkingSetInformation,
};
export { exceptionName, STATUS_ACCESS_VIOLATION, STATUS_GUARD_PAGE_VIOLATION };

/** One VAD as the view shows it. */
export interface VadInfo {
  start: bigint;
  /** exclusive */
  end: bigint;
  /** AllocationProtect (Win32) */
  protect: number;
  memCommit: boolean;
  commitCharge: number;
  committedPages: number;
  residentPages: number;
  /** VadFlags.VadType: private memory, a mapped view, an image view */
  type: "private" | "mapped" | "image";
  /** a view's section handle, else null */
  section: number | null;
  /** what VMMap calls the region when it is not plain private data or a mapping's kind (a thread's stack, a heap) */
  use?: "stack" | "heap";
  /** a mapped file's or image's name; "Pagefile section" for a section the paging file backs */
  detail?: string;
}

/** A process's Windows state as data (the view's copy). */
export interface WinProcessInfo {
  exception: number;
  exceptionRw: number;
  exceptionAddress: bigint;
  lastError: number;
  commitCharge: number;
  privatePages: number;
  vadCount: number;
  vadHeight: number;
  /** the working-set list's length, its minimum and maximum (pages), whether the maximum is hard, pages given up to it */
  workingSet: number;
  wsMin: number;
  wsMax: number;
  wsHardMax: boolean;
  /** QUOTA_LIMITS_HARDWS_MIN_ENABLE: the minimum is hard */
  wsHardMin: boolean;
  wsReplaced: number;
  /** pages VirtualLock locked in the working set */
  locked: number;
  /** the process's memory priority (SetProcessInformation ProcessMemoryPriority; 5 by default) */
  memoryPriority: number;
  /** the thread stack (TEB: StackBase, StackLimit, DeallocationStack) as addresses, and stack overflows; null: none */
  stack: { base: bigint; limit: bigint; deallocation: bigint; overflows: number } | null;
}

/** The page lists and the paging counters (the Memory performance object's names in docs/windows.md). */
export interface PagingInfo {
  zeroed: number;
  /** the free list: the buddy allocator's free pages */
  free: number;
  standby: number;
  /** the standby list by page priority 0-7 (RAMMap's Priority Summary "Standby") */
  standbyByPriority: number[];
  /** standby pages repurposed, by page priority (RAMMap's Priority Summary "Repurposed") */
  repurposedByPriority: number[];
  modified: number;
  transitionFaults: number;
  pageReads: number;
  demandZeroFaults: number;
  pagesOutput: number;
  repurposed: number;
  pagesZeroed: number;
  /** Write Copies: private copies made by writes to copy-on-write pages */
  writeCopies: number;
  /** MmAvailablePages: zeroed + free + standby (Available Bytes / 4096) */
  available: number;
  /** the working-set manager (wsmanager.ts): times it trimmed under memory pressure, pages it took */
  wsManagerRuns: number;
  wsManagerTrimmed: number;
  pagefilePages: number;
  pagefileInUse: number;
  poolPagedBytes: number;
  poolNonpagedBytes: number;
  poolPagedPages: number;
  poolNonpagedPages: number;
  poolPagedResident: number;
  bugcheck: number;
  bugcheckParams: bigint[];
  irql: number[];
}

/** What a trim did. */
export interface TrimResult {
  trimmed: number;
  /** pageout: pages the modified page writer wrote, and standby pages repurposed */
  written: number;
  repurposed: number;
  zeroed: number;
}

export class WindowsOs implements OsProfile, WinMm {
  readonly name = "windows";
  readonly layout: WinLayout;
  readonly db: PfnDatabase;
  readonly commit: CommitBook;
  /** x86 2G: system space from 0x80000000 below the kernel's own mappings (system.ts); else null */
  readonly systemAlias: SystemAlias | null;
  /** the pools, IRQL and bug checks (kmem.ts) */
  readonly kmem: WinKernelMemory;
  /** the section objects by handle (section.ts) */
  readonly sections = new Map<number, Section>();
  /** the next section handle (handles are multiples of 4) */
  private nextHandle = 0x40;
  /** KUSER_SHARED_DATA (shared.ts) */
  readonly sharedUserData: SharedUserData;

  constructor(readonly k: KernelCore) {
    this.layout = winLayout(k.config.arch, k.config.split);
    this.db = new PfnDatabase(k.machine.phys.nrFrames, k.config.pagefileBytes);
    // the commit limit: RAM plus the paging file (Windows Internals, "Commit charge and the system commit limit")
    this.commit = { total: 0, limit: k.machine.phys.nrFrames + k.config.pagefileBytes / 4096, peak: 0 };
    this.systemAlias = mapSystemSpace(k, this.layout);
    this.kmem = new WinKernelMemory(k, this.db, this.commit);
    this.sharedUserData = createSharedUserData(k);
  }

  // ---- the hooks (core/core.ts OsProfile) ----

  newProcess(_k: KernelCore, task: Task): void {
    const mm = task.mm!;
    mm.osState = new WinProcess();
    if (this.systemAlias !== null) copySystemPdes(this.k, this.systemAlias, mm);
    mapSharedUserData(this.k, this.sharedUserData, mm);
    // no Linux stack VMA: the address space is the VAD tree's alone
    mm.stackTop = 0;
  }

  userFault(_k: KernelCore, task: Task, va: bigint, access: Access, nonCanonical: boolean): SigInfo | null {
    return nonCanonical ? generalProtection(task, access) : mmAccessFault(this, task, va, access);
  }

  explainUserFault(_k: KernelCore, task: Task, va: bigint, access: Access): string[] {
    return explainAccessFault(this, task, va, access);
  }

  exitMm(_k: KernelCore, mm: MmStruct): void {
    if (!(mm.osState instanceof WinProcess)) return;
    const p = mm.osState;
    // process rundown (MmCleanProcessAddressSpace): every VAD released
    for (const vad of p.vads.list())
      if (vad.view !== null) releaseView(this, p, mm, vad);
      else releaseVad(this, p, mm, vad);
    unmapSharedUserData(this.k, this.sharedUserData, mm);
    if (this.systemAlias !== null) clearSystemPdes(this.k, this.systemAlias, mm);
  }

  kernelAlias(vpn: number): boolean {
    const a = this.systemAlias;
    return a !== null && vpn >= a.startVpn && vpn < a.endVpn;
  }

  ownsVpn(mm: MmStruct, vpn: number): boolean {
    return (
      mm.osState instanceof WinProcess &&
      (vpn === SHARED_USER_DATA_VPN || mm.osState.vads.locate(vpn) !== null)
    );
  }

  checkPte(k: KernelCore, mm: MmStruct, vpn: number, hi: number, lo: number, problems: string[]): number {
    const p = winProcess(mm);
    const vad = p.vads.locate(vpn);
    if (vad === null) {
      // KUSER_SHARED_DATA: the one frame, read-only
      const pfn = pteValid(k, hi, lo) ? k.arch.pgtable.pfn(hi, lo, 0) : -1;
      if (pfn !== this.sharedUserData.pfn || k.arch.pgtable.write(hi, lo))
        problems.push(`windows: the PTE at 0x7ffe0000 is not KUSER_SHARED_DATA's read-only page`);
      return pfn;
    }
    const s = pageState(k, this.db, mm, vad, vpn);
    const valid = pteValid(k, hi, lo);
    if (vad.largePages) {
      // a large-page PDE (largepage.ts): the VAD's frames, in no working set
      if (
        !valid ||
        !k.arch.pgtable.leaf(hi, lo, k.arch.pgtable.pmdLevel) ||
        k.pages.kind[s.pfn] !== PageKind.UserAnon
      )
        problems.push(`windows: vpn 0x${vpn.toString(16)} of a large-page VAD is not mapped by a large page`);
      return s.pfn;
    }
    // a view's shared page maps the section's frame (a segment page or a file's page-cache page)
    if (s.pfn >= 0 && k.pages.kind[s.pfn] !== PageKind.UserAnon && valid && vad.view === null)
      problems.push(
        `windows: PTE for vpn 0x${vpn.toString(16)} maps frame ${s.pfn} of kind ${k.pages.kind[s.pfn]}`,
      );
    // a WSLE protection belongs to a valid page mapping a section's frame (viewprotect.ts)
    if (p.wsProtection.has(vpn) && !(valid && s.pfn >= 0 && sharedFrame(k, vad, s.pfn)))
      problems.push(`windows: vpn 0x${vpn.toString(16)} has a WSLE protection but maps no section frame`);
    if (p.locked.has(vpn) && !valid)
      problems.push(`windows: vpn 0x${vpn.toString(16)} is locked (VirtualLock) but not valid`);
    if (valid !== p.ws.has(vpn))
      problems.push(
        `windows: vpn 0x${vpn.toString(16)} is ${valid ? "valid but not in" : "in the working-set list but not valid"} the working set`,
      );
    return s.pfn;
  }

  kernelFault(
    k: KernelCore,
    cpuId: number,
    va: bigint,
    access: Access,
  ): KernelAccessResult | null | undefined {
    const r = this.kmem.kernelFault(cpuId, va, access);
    if (r !== undefined || this.seh === null || va >= this.layout.userProbeAddress) return r;
    // inside a __try (probe.ts): MmAccessFault on the user address; an exception goes to the __except
    const task = k.current[cpuId];
    if (task === null || !(task.mm?.osState instanceof WinProcess)) return undefined;
    const sig = mmAccessFault(this, task, va, access);
    if (sig === null) return null;
    this.seh.code = EXCEPTION_CODES[sig.signal] ?? STATUS_ACCESS_VIOLATION;
    return {
      ok: false,
      oops: [
        `exception 0x${this.seh.code.toString(16).toUpperCase()} raised in kernel mode at 0x${va.toString(16)}: caught by __except`,
      ],
      panic: null,
    };
  }

  /** the __try around a probe and copy in progress (probe.ts), else null */
  private seh: Seh | null = null;

  /** `__try { ProbeForRead|ProbeForWrite; copy } __except` on `cpuId` in its current task's context. */
  probe(cpuId: number, va: bigint, len: number, write: boolean, align: number, value: number): ProbeResult {
    return probeAndCopy(this.k, this.layout.userProbeAddress, cpuId, va, len, write, align, value, (s) => {
      this.seh = s;
    });
  }

  explainKernelFault(_k: KernelCore, cpuId: number, va: bigint, access: Access): string[] | undefined {
    return this.kmem.explainKernelFault(cpuId, va, access);
  }

  // ---- the services ----

  /**
   * `trim P` (task) or `trim kernel` (null): the working set emptied onto
   * the standby and modified lists; with `pageout`, then the modified page
   * writer and every standby page repurposed (the pages end in the paging
   * file). The zero page thread runs after it.
   */
  trim(task: Task | null, pageout: boolean): TrimResult {
    const trimmed = task === null ? this.kmem.trim() : trimProcess(this, task.mm!);
    const written = pageout ? modifiedPageWriter(this.k, this.db) : 0;
    const repurposed = pageout ? purgeStandby(this.k, this.db) : 0;
    const zeroed = this.db.zeroPageThread(this.k);
    return { trimmed, written, repurposed, zeroed };
  }

  /**
   * MmEmptyAllWorkingSets (every Windows process's working set emptied,
   * MiEmptyWorkingSet) and MiFlushAllPages (the modified page writer), as
   * MiAllocateLargeZeroPages asks before it retries (largepage.ts).
   */
  emptyAllWorkingSets(): void {
    const seen = new Set<MmStruct>();
    for (const t of this.k.tasks) {
      const mm = t.mm;
      if (!t.alive || mm === null || seen.has(mm) || !(mm.osState instanceof WinProcess)) continue;
      seen.add(mm);
      trimProcess(this, mm);
    }
    modifiedPageWriter(this.k, this.db);
  }

  /** MiModifiedPageWriter alone (then the zero page thread): pages written. */
  modifiedPageWriter(): number {
    const n = modifiedPageWriter(this.k, this.db);
    this.db.zeroPageThread(this.k);
    return n;
  }

  paging(): PagingInfo {
    const db = this.db;
    const km = this.kmem;
    return {
      zeroed: db.zeroed.length,
      free: this.k.buddy.freePages(),
      standby: db.standby.size,
      standbyByPriority: db.standbyByPriority.map((l) => l.size),
      repurposedByPriority: [...db.repurposedByPriority],
      modified: db.modifiedList.size,
      transitionFaults: db.transitionFaults,
      pageReads: db.pageReads,
      demandZeroFaults: db.demandZeroFaults,
      pagesOutput: db.pagesOutput,
      repurposed: db.repurposed,
      pagesZeroed: db.pagesZeroed,
      writeCopies: db.writeCopies,
      available: availablePages(this),
      wsManagerRuns: db.wsManager.runs,
      wsManagerTrimmed: db.wsManager.trimmed,
      pagefilePages: db.pagefile.nrPages,
      pagefileInUse: db.pagefile.inUse,
      poolPagedBytes: km.paged.bytes,
      poolNonpagedBytes: km.nonpaged.bytes,
      poolPagedPages: km.paged.pages,
      poolNonpagedPages: km.nonpaged.pages,
      poolPagedResident: km.pagedResident(),
      bugcheck: km.bugcheck.code,
      bugcheckParams: [...km.bugcheck.params],
      irql: [...km.irql],
    };
  }

  private proc(task: Task): { p: WinProcess; mm: MmStruct } {
    const mm = task.mm!;
    return { p: winProcess(mm), mm };
  }

  /** VirtualAlloc: the base, or 0n (GetLastError in lastError). */
  virtualAlloc(
    task: Task,
    addr: bigint,
    size: bigint,
    reserve: boolean,
    commit: boolean,
    protect: number,
    writeWatch = false,
  ): bigint {
    const { p, mm } = this.proc(task);
    return virtualAlloc(this, p, mm, addr, size, reserve, commit, protect, writeWatch);
  }

  /** VirtualAlloc with flAllocationType's MEM_* bits as NtAllocateVirtualMemory checks them (alloctype.ts). */
  virtualAllocType(task: Task, addr: bigint, size: bigint, type: number, protect: number): bigint {
    const { p, mm } = this.proc(task);
    // MEM_LARGE_PAGES' frames are allocated by this thread here, not by a fault: they take its page priority
    this.db.allocPriority = pagePriority(p, task.pid);
    const r = virtualAllocType(this, p, mm, addr, size, type, protect);
    this.db.allocPriority = MEMORY_PRIORITY_NORMAL;
    return r;
  }

  /** VirtualAlloc MEM_RESET (or MEM_RESET_UNDO): the base, or 0n with GetLastError (reset.ts). */
  virtualAllocReset(task: Task, addr: bigint, size: bigint, protect: number, undo: boolean): bigint {
    const { p, mm } = this.proc(task);
    return memReset(this, p, mm, addr, size, protect, undo);
  }

  /** VirtualLock: TRUE or FALSE (lock.ts). */
  virtualLock(task: Task, addr: bigint, size: bigint): boolean {
    return virtualLock(this, task, addr, size);
  }

  /** VirtualUnlock: TRUE or FALSE (lock.ts). */
  virtualUnlock(task: Task, addr: bigint, size: bigint): boolean {
    const { p, mm } = this.proc(task);
    return virtualUnlock(this, p, mm, addr, size);
  }

  /** GetWriteWatch: the pages written (at most `max`), or null (writewatch.ts). */
  getWriteWatch(task: Task, addr: bigint, size: bigint, reset: boolean, max: number): bigint[] | null {
    const { p, mm } = this.proc(task);
    return getWriteWatch(this, p, mm, addr, size, reset, max);
  }

  /** ResetWriteWatch: TRUE or FALSE (writewatch.ts). */
  resetWriteWatch(task: Task, addr: bigint, size: bigint): boolean {
    const { p, mm } = this.proc(task);
    return resetWriteWatch(this, p, mm, addr, size);
  }

  /** VirtualFree: TRUE or FALSE. */
  virtualFree(task: Task, addr: bigint, size: bigint, release: boolean): boolean {
    const { p, mm } = this.proc(task);
    return virtualFree(this, p, mm, addr, size, release);
  }

  /** VirtualProtect: the old protection, or -1 (FALSE). */
  virtualProtect(task: Task, addr: bigint, size: bigint, protect: number): number {
    const { p, mm } = this.proc(task);
    return virtualProtect(this, p, mm, addr, size, protect);
  }

  /** VirtualQuery: MEMORY_BASIC_INFORMATION, or null (FALSE: 0 bytes returned). */
  virtualQuery(task: Task, addr: bigint): MemoryBasicInformation | null {
    const { p, mm } = this.proc(task);
    return virtualQuery(this, p, mm, addr);
  }

  /** `P: catch exceptions`: a __try/__except around what follows. */
  catchExceptions(task: Task): void {
    winProcess(task.mm!).catching = true;
    for (const code of Object.values(EXCEPTION_CODES)) task.caught.add(exceptionName(code));
  }

  // ---- sections, thread stacks, working-set sizes ----

  /** CreateFileMapping: the section's handle, or 0 with GetLastError (view.ts). */
  createFileMapping(
    task: Task,
    size: bigint,
    protect: number,
    file: FileObject | null,
    image: ImageLayout | null,
    reserve = false,
  ): number {
    const { p } = this.proc(task);
    const r = createFileMapping(this, this.nextHandle, size, protect, file, image, reserve);
    if (typeof r === "number") {
      p.lastError = r;
      return 0;
    }
    this.nextHandle += 4;
    return r.handle;
  }

  /** MapViewOfFileEx: the view's base, or 0n with GetLastError. */
  mapViewOfFile(
    task: Task,
    handle: number,
    access: "read" | "write" | "copy",
    execute: boolean,
    offset: bigint,
    size: bigint,
    addr: bigint,
    replace = false,
  ): bigint {
    return mapViewOfFile(this, this.proc(task).p, handle, access, execute, offset, size, addr, replace);
  }

  /** UnmapViewOfFile: TRUE or FALSE; `preserve`: UnmapViewOfFile2 MEM_PRESERVE_PLACEHOLDER. */
  unmapViewOfFile(task: Task, addr: bigint, preserve = false): boolean {
    const { p, mm } = this.proc(task);
    return preserve ? unmapViewPreserve(this, p, mm, addr) : unmapViewOfFile(this, p, mm, addr);
  }

  /** VirtualAlloc2 (placeholder.ts): the base, or 0n with GetLastError. */
  virtualAlloc2(task: Task, addr: bigint, size: bigint, type: Alloc2Type, protect: number): bigint {
    const { p, mm } = this.proc(task);
    return virtualAlloc2(this, p, mm, addr, size, type, protect);
  }

  /** VirtualFree with any dwFreeType (MEM_* bits; placeholder.ts): TRUE or FALSE. */
  virtualFreeEx(task: Task, addr: bigint, size: bigint, freeType: number): boolean {
    const { p, mm } = this.proc(task);
    return virtualFreeEx(this, p, mm, addr, size, freeType);
  }

  /** QueryWorkingSet into cb bytes: the working-set list (wsinfo.ts). */
  queryWorkingSet(task: Task, cb?: number): WorkingSetInformation {
    const { p, mm } = this.proc(task);
    return queryWorkingSet(this, p, mm, cb);
  }

  /** QueryWorkingSetEx of one page (wsex.ts). */
  queryWorkingSetEx(task: Task, addr: bigint): WorkingSetExBlock {
    const { p, mm } = this.proc(task);
    return queryWorkingSetEx(this, p, mm, addr);
  }

  /** CloseHandle of a section: TRUE or FALSE. */
  closeHandle(task: Task, handle: number): boolean {
    return closeSection(this, this.proc(task).p, handle);
  }

  /** The section behind a handle, as data (null: none). */
  section(handle: number): { pages: number; views: number; open: boolean; resident: number } | null {
    const s = this.sections.get(handle);
    return s === undefined
      ? null
      : { pages: s.nrPages, views: s.views, open: s.open, resident: s.residentPages };
  }

  /** CreateThread's stack (RtlCreateUserStack): StackBase, or 0n with GetLastError. */
  createThreadStack(task: Task, reserve: bigint, commit: bigint): bigint {
    const { p, mm } = this.proc(task);
    return createUserStack(this, p, mm, reserve, commit);
  }

  /** SetProcessWorkingSetSizeEx: 0 (TRUE) or the GetLastError code. */
  setWorkingSetSize(task: Task, minBytes: bigint, maxBytes: bigint, flags: number): number {
    const { p, mm } = this.proc(task);
    const err = setWorkingSetSize(this, mm, minBytes, maxBytes, flags);
    if (err !== 0) p.lastError = err;
    return err;
  }

  /**
   * SetProcessInformation(ProcessMemoryPriority) (thread false) or
   * SetThreadInformation(ThreadMemoryPriority) of task's thread: 0 (TRUE)
   * or the GetLastError code. NtSetInformationProcess(ProcessPagePriority)
   * and NtSetInformationThread(ThreadPagePriority) refuse a value above
   * MmGetDefaultPagePriority() (5) or below MmGetMinWsPagePriority() (1)
   * with STATUS_INVALID_PARAMETER (87): MEMORY_PRIORITY_LOWEST (0) too.
   * The process's is written into every thread of the process as well
   * (NtSetInformationProcess walks its ThreadListHead), replacing what
   * SetThreadInformation gave one; a thread created later inherits it.
   */
  setMemoryPriority(task: Task, thread: boolean, priority: number): number {
    const { p } = this.proc(task);
    if (!Number.isInteger(priority) || priority < MIN_WS_PAGE_PRIORITY || priority > MEMORY_PRIORITY_NORMAL) {
      p.lastError = WinError.INVALID_PARAMETER;
      return p.lastError;
    }
    if (thread) p.threadPriority.set(task.pid, priority);
    else {
      p.memoryPriority = priority;
      p.threadPriority.clear();
    }
    return 0;
  }

  /**
   * AdjustTokenPrivileges of SeLockMemoryPrivilege in task's process token
   * (SE_PRIVILEGE_ENABLED or not): the account is taken to hold "Lock pages
   * in memory" (vmlab has no security policy).
   */
  setLockMemoryPrivilege(task: Task, enabled: boolean): void {
    this.proc(task).p.lockMemoryPrivilege = enabled;
  }

  /** GetLargePageMinimum: the bytes one PDE maps (MM_MINIMUM_VA_FOR_LARGE_PAGE). */
  largePageMinimum(): bigint {
    return BigInt(largePagePages(this.k)) * 4096n;
  }

  // ---- what the view reads ----

  processInfo(mm: MmStruct): WinProcessInfo {
    const p = winProcess(mm);
    return {
      exception: p.exception.code,
      exceptionRw: p.exception.rw,
      exceptionAddress: p.exception.address,
      lastError: p.lastError,
      commitCharge: p.commitCharge,
      privatePages: p.privatePages,
      vadCount: p.vads.count,
      vadHeight: p.vads.height,
      workingSet: p.ws.size,
      wsMin: p.wsMin,
      wsMax: p.wsMax,
      wsHardMax: p.wsHardMax,
      wsHardMin: p.wsHardMin,
      wsReplaced: p.wsReplaced,
      locked: p.locked.size,
      memoryPriority: p.memoryPriority,
      stack:
        p.stack === null
          ? null
          : {
              base: BigInt(p.stack.baseVpn) * 4096n,
              limit: BigInt(p.stack.stackLimitVpn) * 4096n,
              deallocation: BigInt(p.stack.deallocationVpn) * 4096n,
              overflows: p.stack.overflows,
            },
    };
  }

  /** Pages of [startVpn, startVpn + n) that are committed / inside a reservation. */
  countPages(mm: MmStruct, startVpn: number, n: number): { committed: number; reserved: number } {
    const p = winProcess(mm);
    let committed = 0;
    let reserved = 0;
    for (const vad of p.vads.list()) {
      const a = Math.max(vad.startVpn, startVpn);
      const b = Math.min(vad.endVpn + 1, startVpn + n);
      if (a >= b) continue;
      reserved += b - a;
      for (const r of pageRuns(this.k, this.db, mm, vad, a, b - 1)) if (r.s.committed) committed += r.n;
    }
    return { committed, reserved };
  }

  vads(mm: MmStruct): VadInfo[] {
    const p = winProcess(mm);
    return p.vads.list().map((v) => {
      let committedPages = 0;
      let residentPages = 0;
      for (const r of pageRuns(this.k, this.db, mm, v, v.startVpn, v.endVpn)) {
        if (r.s.committed) committedPages += r.n;
        if (r.s.valid) residentPages += r.n;
      }
      return {
        start: BigInt(v.startVpn) * 4096n,
        end: BigInt(v.endVpn + 1) * 4096n,
        protect: win32(v.protection),
        memCommit: v.memCommit,
        commitCharge: v.commitCharge,
        committedPages,
        residentPages,
        type: v.type === VadType.Image ? "image" : v.type === VadType.Mapped ? "mapped" : "private",
        section: v.view === null ? null : v.view.section.handle,
        // VMMap's Stack: the thread stack's reservation [DeallocationStack, StackBase)
        ...(p.stack !== null && v.startVpn === p.stack.deallocationVpn ? { use: "stack" as const } : {}),
        ...(v.view === null
          ? {}
          : { detail: v.view.section.file === null ? "Pagefile section" : `\\${v.view.section.file.name}` }),
      };
    });
  }
}
