/**
 * The Windows profile's services of the kernel facade (Kernel.ts): VirtualAlloc and its family,
 * the pools, IRQL, working-set trimming, sections and views, ProbeForRead/Write, as the
 * `profile=windows` OS (kernel/os/windows) provides them; and the refusal of Linux's memory calls
 * under that profile (linuxOnly). KernelImpl extends this class: the facade's methods stay on
 * one object, this file holds the Windows half of them.
 */
import { ModelBug } from "../base/assert.ts";
import { InputError } from "../base/errors.ts";
import { linuxOnly } from "./core/sched.ts";
import { type Task, type TaskHandle, taskOf } from "./core/task.ts";
import { type FileHandle, fileOf } from "./fs/file.ts";
import type {
  Alloc2Type,
  ImageLayout,
  MemoryBasicInformation,
  ProbeResult,
  TrimResult,
  WindowsOs,
  WorkingSetExBlock,
  WorkingSetInformation,
} from "./os/windows/index.ts";

/** The Windows services of the facade, over the profile's OS (null: profile=linux). */
export abstract class KernelWindowsServices {
  /** profile=windows: Windows' memory manager for user address spaces (kernel/os/windows); null for Linux */
  abstract readonly os: WindowsOs | null;

  /** Linux's memory calls and fork are refused in the windows profile (it has the VirtualAlloc family). */
  protected linuxOnly(call: string): void {
    linuxOnly(this, call);
  }

  protected win(task: TaskHandle): { os: WindowsOs; t: Task } {
    const t = taskOf(task);
    if (this.os === null || t.mm === null)
      throw new ModelBug("windows service without profile=windows or an address space");
    return { os: this.os, t };
  }

  /** VirtualAlloc: the base, or 0n (GetLastError: `view.windowsProcess(task).lastError`). */
  virtualAlloc(
    task: TaskHandle,
    addr: bigint,
    size: bigint,
    reserve: boolean,
    commit: boolean,
    protect: number,
    writeWatch = false,
  ): bigint {
    const { os, t } = this.win(task);
    return os.virtualAlloc(t, addr, size, reserve, commit, protect, writeWatch);
  }

  /** VirtualAlloc with flAllocationType as MEM_* bits (MEM_TOP_DOWN, MEM_RESET mixes...): the base, or 0n (GetLastError). */
  virtualAllocType(task: TaskHandle, addr: bigint, size: bigint, type: number, protect: number): bigint {
    const { os, t } = this.win(task);
    return os.virtualAllocType(t, addr, size, type, protect);
  }

  /** VirtualAlloc with MEM_RESET (or MEM_RESET_UNDO): the base, or 0n (GetLastError). */
  virtualAllocReset(task: TaskHandle, addr: bigint, size: bigint, protect: number, undo: boolean): bigint {
    const { os, t } = this.win(task);
    return os.virtualAllocReset(t, addr, size, protect, undo);
  }

  /** VirtualLock: TRUE or FALSE. */
  virtualLock(task: TaskHandle, addr: bigint, size: bigint): boolean {
    const { os, t } = this.win(task);
    return os.virtualLock(t, addr, size);
  }

  /** VirtualUnlock: TRUE or FALSE. */
  virtualUnlock(task: TaskHandle, addr: bigint, size: bigint): boolean {
    const { os, t } = this.win(task);
    return os.virtualUnlock(t, addr, size);
  }

  /** GetWriteWatch: the addresses of the pages written (at most `max`), or null (GetLastError). */
  getWriteWatch(task: TaskHandle, addr: bigint, size: bigint, reset: boolean, max: number): bigint[] | null {
    const { os, t } = this.win(task);
    return os.getWriteWatch(t, addr, size, reset, max);
  }

  /** ResetWriteWatch: TRUE or FALSE. */
  resetWriteWatch(task: TaskHandle, addr: bigint, size: bigint): boolean {
    const { os, t } = this.win(task);
    return os.resetWriteWatch(t, addr, size);
  }

  /** VirtualFree with MEM_RELEASE (`release`) or MEM_DECOMMIT: TRUE or FALSE. */
  virtualFree(task: TaskHandle, addr: bigint, size: bigint, release: boolean): boolean {
    const { os, t } = this.win(task);
    return os.virtualFree(t, addr, size, release);
  }

  /** VirtualProtect: the old protection (Win32 PAGE_*), or -1 (FALSE). */
  virtualProtect(task: TaskHandle, addr: bigint, size: bigint, protect: number): number {
    const { os, t } = this.win(task);
    return os.virtualProtect(t, addr, size, protect);
  }

  /** VirtualQuery: MEMORY_BASIC_INFORMATION, or null (0 bytes returned). */
  virtualQuery(task: TaskHandle, addr: bigint): MemoryBasicInformation | null {
    const { os, t } = this.win(task);
    return os.virtualQuery(t, addr);
  }

  /** Structured exception handling around what the task does next (`P: catch exceptions`). */
  catchExceptions(task: TaskHandle): void {
    const { os, t } = this.win(task);
    os.catchExceptions(t);
  }

  protected winOs(): WindowsOs {
    if (this.os === null) throw new ModelBug("windows service without profile=windows");
    return this.os;
  }

  /** ExAllocatePoolWithTag: the address, 0n (NULL), or why it is refused. */
  poolAlloc(cpuId: number, paged: boolean, size: number, tag?: string): bigint | string {
    return this.winOs().kmem.alloc(cpuId, paged, size, tag);
  }

  /** ExFreePoolWithTag: null, or what is wrong with the address. */
  poolFree(va: bigint): string | null {
    return this.winOs().kmem.free(va);
  }

  /** KeRaiseIrql / KeLowerIrql: the old IRQL. */
  setIrql(cpuId: number, irql: number): number {
    return this.winOs().kmem.setIrql(cpuId, irql);
  }

  /** `trim P` / `trim kernel` (null). */
  trim(task: TaskHandle | null, pageout: boolean): TrimResult {
    return this.winOs().trim(task === null ? null : this.win(task).t, pageout);
  }

  /** MiModifiedPageWriter: pages written. */
  modifiedPageWriter(): number {
    return this.winOs().modifiedPageWriter();
  }

  /** `__try { ProbeForRead|ProbeForWrite; copy } __except`: the NTSTATUS. */
  probe(cpuId: number, va: bigint, len: number, write: boolean, align: number, value: number): ProbeResult {
    return this.winOs().probe(cpuId, va, len, write, align, value);
  }

  /** CreateFileMapping: the handle, or 0 (GetLastError). */
  createFileMapping(
    task: TaskHandle,
    size: bigint,
    protect: number,
    file: FileHandle | null,
    image: ImageLayout | null,
    reserve = false,
  ): number {
    const { os, t } = this.win(task);
    return os.createFileMapping(t, size, protect, file === null ? null : fileOf(file), image, reserve);
  }

  /** MapViewOfFileEx: the base, or 0n (GetLastError). */
  mapViewOfFile(
    task: TaskHandle,
    handle: number,
    access: "read" | "write" | "copy",
    execute: boolean,
    offset: bigint,
    size: bigint,
    addr: bigint,
    replacePlaceholder = false,
  ): bigint {
    const { os, t } = this.win(task);
    return os.mapViewOfFile(t, handle, access, execute, offset, size, addr, replacePlaceholder);
  }

  /** UnmapViewOfFile: TRUE or FALSE; `preservePlaceholder`: UnmapViewOfFile2 MEM_PRESERVE_PLACEHOLDER. */
  unmapViewOfFile(task: TaskHandle, addr: bigint, preservePlaceholder = false): boolean {
    const { os, t } = this.win(task);
    return os.unmapViewOfFile(t, addr, preservePlaceholder);
  }

  /** VirtualAlloc2 with its placeholder flags: the base, or 0n (GetLastError). */
  virtualAlloc2(task: TaskHandle, addr: bigint, size: bigint, type: Alloc2Type, protect: number): bigint {
    const { os, t } = this.win(task);
    return os.virtualAlloc2(t, addr, size, type, protect);
  }

  /** VirtualFree with any dwFreeType (MEM_DECOMMIT, MEM_RELEASE, MEM_PRESERVE_PLACEHOLDER, MEM_COALESCE_PLACEHOLDERS): TRUE or FALSE. */
  virtualFreeEx(task: TaskHandle, addr: bigint, size: bigint, freeType: number): boolean {
    const { os, t } = this.win(task);
    return os.virtualFreeEx(t, addr, size, freeType);
  }

  /** QueryWorkingSet: PSAPI_WORKING_SET_INFORMATION, the working-set list. */
  queryWorkingSet(task: TaskHandle, cb?: number): WorkingSetInformation {
    const { os, t } = this.win(task);
    return os.queryWorkingSet(t, cb);
  }

  /** QueryWorkingSetEx: the PSAPI_WORKING_SET_EX_BLOCK of one page. */
  queryWorkingSetEx(task: TaskHandle, addr: bigint): WorkingSetExBlock {
    const { os, t } = this.win(task);
    return os.queryWorkingSetEx(t, addr);
  }

  /** CloseHandle of a section: TRUE or FALSE. */
  closeHandle(task: TaskHandle, handle: number): boolean {
    const { os, t } = this.win(task);
    return os.closeHandle(t, handle);
  }

  /** CreateThread's stack: StackBase, or 0n (GetLastError); one stack per process in this version. */
  createThreadStack(task: TaskHandle, reserve: bigint, commit: bigint): bigint {
    const { os, t } = this.win(task);
    if (os.processInfo(t.mm!).stack !== null)
      throw new InputError("CreateThread: this version of vmlab models one thread stack per process");
    return os.createThreadStack(t, reserve, commit);
  }

  /**
   * SetProcessInformation(ProcessMemoryPriority) of task's process, or with
   * `thread` SetThreadInformation(ThreadMemoryPriority) of task's thread:
   * 0 (TRUE) or the GetLastError code.
   */
  setMemoryPriority(task: TaskHandle, thread: boolean, priority: number): number {
    const { os, t } = this.win(task);
    return os.setMemoryPriority(t, thread, priority);
  }

  /** AdjustTokenPrivileges: SeLockMemoryPrivilege enabled (or not) in task's process token. */
  setLockMemoryPrivilege(task: TaskHandle, enabled: boolean): void {
    const { os, t } = this.win(task);
    os.setLockMemoryPrivilege(t, enabled);
  }

  /** SetProcessWorkingSetSizeEx (Flags: QuotaLimits bits; 0 is SetProcessWorkingSetSize): 0 (TRUE) or the GetLastError code. */
  setWorkingSetSize(task: TaskHandle, minBytes: bigint, maxBytes: bigint, flags: number): number {
    const { os, t } = this.win(task);
    return os.setWorkingSetSize(t, minBytes, maxBytes, flags);
  }
}
