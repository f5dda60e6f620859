/**
 * The kernel's facade: all that code outside src/kernel may use of it
 * (scripts/check-layers.mjs enforces it: outside src/kernel, only this
 * module, kernel/view/** and kernel/core/config.ts are imported).
 *
 * `new Kernel(config)` boots a Linux-shaped kernel on a simulated machine
 * (KernelImpl.ts). Its callers change it through the operations below (the
 * system calls, accesses and allocations a program or a kernel thread
 * makes, and a few controls a test bench needs) and read it through
 * `kernel.view` (view/KernelView.ts: typed data, copies, never a live
 * kernel object). Tasks and files are handles (TaskHandle, FileHandle) that
 * the operations take back; what is behind them is the kernel's.
 *
 * The kernel's own modules and tests use KernelImpl, with its subsystems in
 * reach; nothing else does.
 */
import type { Access } from "../hw/access.ts";
import type { Machine } from "../hw/machine/Machine.ts";
import type { HwEvent, Mmu } from "../hw/mmu/Mmu.ts";
import type { KernelConfig, ResolvedKernelConfig } from "./core/config.ts";
import type { KernelAccessResult, UserAccessResult } from "./core/core.ts";
import type { CoreDump } from "./core/coredump.ts";
import type { UserAccessRecord } from "./core/entry.ts";
import type { MincoreResult } from "./core/fadvise.ts";
import type { OomSysctls } from "./core/oom.ts";
import type { RemoteRw } from "./core/process_vm_access.ts";
import type { RlimitName, TaskHandle } from "./core/task.ts";
import type { Uaccess } from "./core/uaccess.ts";
import type { FileHandle } from "./fs/file.ts";
import type { ShmctlResult } from "./ipc/shm.ts";
import type { PinnedPages, RemoteHow } from "./KernelGup.ts";
import { KernelImpl } from "./KernelImpl.ts";
import { mmapArgs as defaultMmapArgs, type MmapRequest } from "./mm/mmap.ts";
import type { DirtySysctls } from "./mm/page_writeback.ts";
import type { OvercommitSysctls } from "./mm/util.ts";
import type {
  Alloc2Type,
  ImageLayout,
  MemoryBasicInformation,
  ProbeResult,
  TrimResult,
  WorkingSetExBlock,
  WorkingSetInformation,
} from "./os/windows/index.ts";
import type { KernelView } from "./view/KernelView.ts";

export { kindName } from "./core/alloc.ts";
export { type KernelConfig, MIN_RAM, type ResolvedKernelConfig } from "./core/config.ts";
export type { KernelAccessResult, Oops, UserAccessResult } from "./core/core.ts";
export { type CoreDump, type CoreSegment, DEFAULT_COREDUMP_FILTER } from "./core/coredump.ts";
export type { UserAccessRecord } from "./core/entry.ts";
export type { MincoreResult } from "./core/fadvise.ts";
export {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_ZERO_RANGE,
} from "./core/fallocate.ts";
export {
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGE_SHIFT,
  MFD_HUGETLB,
  MFD_NOEXEC_SEAL,
} from "./core/memfd.ts";
export { Ms } from "./core/mman.ts";
export type { OomSysctls } from "./core/oom.ts";
export type { RemoteRw } from "./core/process_vm_access.ts";
export type { RlimitName, TaskHandle } from "./core/task.ts";
export {
  COPY_USER_FIXUP,
  COPY_USER_IP,
  type Uaccess,
  type UserCopyResult,
  type UserValueResult,
} from "./core/uaccess.ts";
export { px } from "./core/vaddr.ts";
export type { FileHandle } from "./fs/file.ts";
export {
  IPC_CREAT,
  IPC_EXCL,
  IPC_PRIVATE,
  SHM_HUGE_SHIFT,
  SHM_HUGETLB,
  SHM_NORESERVE,
  SHM_RDONLY,
  SHM_RND,
  type ShmctlResult,
  type ShmInfo,
  type ShmidDs,
} from "./ipc/shm.ts";
export type { PinnedPages, RemoteHow } from "./KernelGup.ts";
export { BareBuddy } from "./mm/buddy_bare.ts";
export { Gfp, parseGfp } from "./mm/gfp.ts";
export { Mcl } from "./mm/mlock.ts";
export type { MmapRequest } from "./mm/mmap.ts";
export type { DirtySysctls } from "./mm/page_writeback.ts";
export { RLIMIT_NAMES } from "./mm/rlim.ts";
export type { OvercommitSysctls } from "./mm/util.ts";
export { RECLAIM_POLICIES, type ReclaimPolicy } from "./mm/vmscan.ts";
export { EXCEPTION_CODES } from "./os/windows/fault.ts";
export type {
  Alloc2Type,
  ImageLayout,
  MemoryBasicInformation,
  PagingInfo,
  ProbeResult,
  TrimResult,
  WorkingSetExBlock,
  WorkingSetInformation,
} from "./os/windows/index.ts";
export { PageProt, protName } from "./os/windows/mmpte.ts";
export { MemState, WinError } from "./os/windows/virtual.ts";
export { QuotaLimits } from "./os/windows/workingset.ts";
export * from "./view/drgn.ts";
export type { KernelView } from "./view/KernelView.ts";

/**
 * A booted kernel, as its callers see it. C is the CPU type of the
 * configured architecture (the generic Mmu unless a caller names its own).
 */
export interface Kernel<C extends Mmu = Mmu> {
  /** the configuration it booted with, every default filled in */
  readonly config: ResolvedKernelConfig;
  /** the simulated hardware: its CPUs (trace replay's fast path translates on them directly) and RAM */
  readonly machine: Machine<C>;
  /** the kernel's state as data, read-only */
  readonly view: KernelView;
  /** the user-access routines: copy_to/from_user, clear_user, get_user, put_user, strncpy_from_user */
  readonly uaccess: Uaccess;

  // ---- tasks ----

  /** A new user process: an empty address space but for its main-thread stack, as exec leaves it; null without memory. */
  spawn(comm: string, uid?: number, rlimitStack?: number): TaskHandle | null;
  /** fork: the child gets a copy of the address space (copy-on-write) and counters from zero. */
  fork(parent: TaskHandle, comm: string): TaskHandle | null;
  /** A thread of `parent` (clone with CLONE_VM): a task sharing its address space. */
  thread(parent: TaskHandle, comm: string): TaskHandle | null;
  /** A kernel thread: no user address space. */
  kthread(comm: string): TaskHandle;
  /** A context switch of `cpuId` to `task`. */
  switchTo(cpuId: number, task: TaskHandle): void;
  /** do_exit: tear down the address space; the task is gone. */
  exit(task: TaskHandle, reason: string): void;
  /** setuid(2): the task's uid (0 has every capability). */
  setUid(task: TaskHandle, uid: number): void;
  /**
   * setrlimit(2) on the task's process (its threads share the limits; fork copies them):
   * `resource` as/data/stack/memlock, soft and hard in bytes (Infinity: RLIM_INFINITY).
   * Returns 0, -EINVAL (soft > hard) or -EPERM (a hard limit raised by a uid other than 0).
   * Read them back with the view's limits(task).
   */
  setrlimit(task: TaskHandle, resource: RlimitName, soft: number, hard: number): number;
  /**
   * personality(2): sets the task's persona (0 PER_LINUX; 0x0400000 READ_IMPLIES_EXEC: PROT_READ
   * implies PROT_EXEC in mmap, mprotect and brk's heap) unless it is 0xffffffff, and returns the old one.
   */
  personality(task: TaskHandle, persona: number): number;
  /**
   * prctl(2) with option and arg2..arg5: PR_SET_THP_DISABLE (41: MMF_DISABLE_THP set or cleared,
   * 0) and PR_GET_THP_DISABLE (42: 0 or 1); arm64's PR_SET_TAGGED_ADDR_CTRL (55: arg2 1 or 0, the
   * task's tagged address ABI on or off, 0) and PR_GET_TAGGED_ADDR_CTRL (56: 1 or 0); -22 (EINVAL)
   * for a non-zero unused argument or another option.
   */
  prctl(task: TaskHandle, option: number, a2: number, a3: number, a4: number, a5: number): number;
  /** A write of /proc/PID/oom_score_adj for the task's process: 0, -22 (EINVAL: not -1000..1000) or -13 (EACCES: below its floor without privilege). */
  setOomScoreAdj(task: TaskHandle, adj: number): number;
  /**
   * sigaction(2): the task handles `sig` (a fault that raises it is abandoned, not fatal); with
   * SA_EXPOSE_TAGBITS (`exposeTagbits`) its si_addr keeps a tagged fault address's tag.
   */
  catchSignal(task: TaskHandle, sig: string, exposeTagbits?: boolean): void;

  // ---- memory system calls, on the CPU where the task is current (CPU 0 if none) ----

  /** mmap; the address or -errno (as a bigint). */
  mmap(task: TaskHandle, args: MmapRequest): bigint;
  /** munmap; 0 or -errno. */
  munmap(task: TaskHandle, addr: bigint, length: bigint): bigint;
  /** mprotect; 0 or -errno. `growsdown`, `growsup`: PROT_GROWSDOWN, PROT_GROWSUP. */
  mprotect(
    task: TaskHandle,
    addr: bigint,
    length: bigint,
    prot: { r: boolean; w: boolean; x: boolean; growsdown?: boolean; growsup?: boolean },
  ): bigint;
  /**
   * Protection keys (x86-64 with `pku`; -ENOSYS where vmlab models none):
   * pkey_alloc(flags, PKEY_DISABLE_* rights) -> the key or -errno, setting
   * the caller's rights register; pkey_free; pkey_mprotect (mprotect that
   * also gives the VMAs key `pkey`).
   */
  pkeyAlloc(task: TaskHandle, flags: number, rights: number): bigint;
  pkeyFree(task: TaskHandle, pkey: number): bigint;
  pkeyMprotect(
    task: TaskHandle,
    addr: bigint,
    length: bigint,
    prot: { r: boolean; w: boolean; x: boolean },
    pkey: number,
  ): bigint;
  /**
   * WRPKRU by `task`, which must be current on a CPU: its rights register
   * becomes `value`. False when the CPU has no protection keys (the
   * instruction is #UD: the task gets SIGILL).
   */
  wrpkru(task: TaskHandle, value: number): boolean;
  /** madvise (advice by name: `dontneed`, `pageout`, `guard_install`, ...); 0 or -errno. */
  madvise(task: TaskHandle, addr: bigint, length: bigint, advice: string): bigint;
  /**
   * process_madvise(2) by `caller` on `target`'s memory (`cold`, `pageout`, `willneed` or
   * `collapse` over each range in turn): the bytes advised, or -errno (core/madvise.ts).
   */
  processMadvise(
    caller: TaskHandle,
    target: TaskHandle,
    ranges: readonly { addr: bigint; len: bigint }[],
    advice: string,
    flags?: number,
  ): bigint;
  /** mlock / mlock2(MLOCK_ONFAULT); 0 or -errno. */
  mlock(task: TaskHandle, addr: bigint, length: bigint, onFault: boolean): bigint;
  munlock(task: TaskHandle, addr: bigint, length: bigint): bigint;
  /**
   * mlockall(flags), `Mcl` bits (MCL_CURRENT 1, MCL_FUTURE 2, MCL_ONFAULT 4): 0, -EINVAL (0, an
   * unknown bit, MCL_ONFAULT alone), -EPERM (RLIMIT_MEMLOCK 0, uid other than 0) or -ENOMEM
   * (MCL_CURRENT with the address space past RLIMIT_MEMLOCK, uid other than 0).
   */
  mlockall(task: TaskHandle, flags: number): bigint;
  /** munlockall; 0. */
  munlockall(task: TaskHandle): bigint;
  /**
   * mseal(addr, length, flags) (Linux 6.10+, 64-bit): seals the VMAs of the range against
   * munmap, mremap, mprotect, mmap(MAP_FIXED) over them and discarding madvise on read-only
   * anonymous memory (-EPERM); 0 or -errno (EINVAL, ENOMEM for a hole, EPERM on 32-bit).
   */
  mseal(task: TaskHandle, addr: bigint, length: bigint, flags?: bigint): bigint;
  /** brk, as sbrk: moves the break by delta bytes; the old break, or -ENOMEM. */
  brk(task: TaskHandle, delta: bigint): bigint;
  /**
   * mremap; the new address or -errno. `to` >= 0: MREMAP_FIXED; `dontUnmap`: MREMAP_DONTUNMAP
   * (needs mayMove and oldSize = newSize; the old range stays mapped, empty).
   */
  mremap(
    task: TaskHandle,
    addr: bigint,
    oldSize: bigint,
    newSize: bigint,
    mayMove: boolean,
    to: bigint,
    dontUnmap?: boolean,
  ): bigint;
  /**
   * msync(addr, length, flags), `Ms` bits (MS_ASYNC 1, MS_INVALIDATE 2, MS_SYNC 4; MS_SYNC when
   * not given); 0 or -errno (EINVAL, ENOMEM for a hole, EBUSY: MS_INVALIDATE on a locked VMA).
   */
  msync(task: TaskHandle, addr: bigint, length: bigint, flags?: number): bigint;
  /** do_coredump: the task's core as vma_dump_size and get_dump_page decide it (pages are faulted in). */
  coreDump(task: TaskHandle, filter?: number): CoreDump;
  /** The pages MADV_PAGEOUT reclaimed since the last call; the count starts again from 0. */
  takePageoutCount(): number;

  // ---- memory pressure ----

  /** Reclaims up to `pages` pages (try_to_free_pages); how many it did. */
  reclaim(pages: number): number;
  /** kswapd woken by hand: balance_pgdat at order 0 for every zone, run at once, until some zone is above its high watermark (pgdat_balanced); pages reclaimed. */
  kswapd(): number;
  /**
   * Why this kernel has no transparent huge pages at all, or null: built without
   * CONFIG_TRANSPARENT_HUGEPAGE (RV32), it has no /sys/kernel/mm/transparent_hugepage, no
   * khugepaged, no thp_* vmstat events and no large folios; the THP knob setters below refuse.
   */
  noThp(): string | null;
  /** One wake-up of khugepaged (khugepaged_do_scan over pages_to_scan): the PMDs it collapsed. */
  khugepaged(): number;
  /** One wake-up of ksmd (ksm_do_scan over pages_to_scan, when run is 1): the pages scanned (mm/ksm.ts). */
  ksmScan(): number;
  /**
   * A write to /sys/kernel/mm/ksm/`knob` (run: 0, 1, 2 unmerges everything; pages_to_scan;
   * use_zero_pages, smart_scan: 0 or 1); false where Linux's store refuses it (-EINVAL).
   */
  ksmSet(knob: "run" | "pages_to_scan" | "use_zero_pages" | "smart_scan", value: number): boolean;
  /**
   * A write to /sys/kernel/mm/transparent_hugepage/khugepaged/`knob`
   * (pages_to_scan, max_ptes_swap, max_ptes_shared); false where Linux's
   * store refuses it (-EINVAL: pages_to_scan 0, a max_ptes_* above HPAGE_PMD_NR - 1).
   */
  khugepagedSet(knob: "pages_to_scan" | "max_ptes_swap" | "max_ptes_shared", value: number): boolean;
  /**
   * A write to /sys/kernel/mm/transparent_hugepage/hugepages-`kb`kB/enabled
   * (never, always, madvise, inherit: mm/mthp.ts); false where no such size
   * exists (anonymous orders 2 .. PMD: 16K .. the PMD size).
   */
  mthpSet(kb: number, mode: "never" | "always" | "madvise" | "inherit"): boolean;
  /**
   * A write to /sys/kernel/mm/transparent_hugepage/shmem_enabled (always,
   * within_size, advise, never, deny, force: mm/shmem_huge.ts); false for
   * another word (-EINVAL).
   */
  shmemEnabledSet(mode: string): boolean;
  /**
   * A write to /sys/kernel/mm/transparent_hugepage/hugepages-<kb>kB/shmem_enabled
   * (always, inherit, within_size, advise, never: mm/shmem_anon_huge.ts): null when
   * written, "size" for a size vmlab has no shmem folios of (all but the PMD size),
   * "mode" for another word (-EINVAL).
   */
  shmemSizeEnabledSet(kb: number, mode: string): "size" | "mode" | null;

  // ---- accesses ----

  /**
   * A user-mode access by `task` on `cpuId` (which must have it current):
   * translate in user mode; on a page fault the kernel's handler, then a
   * retry. An access the kernel cannot resolve raises a signal: caught, it
   * is abandoned; uncaught, it kills the task.
   */
  userAccess(cpuId: number, task: TaskHandle, va: bigint, access: Access, value?: number): UserAccessResult;
  /**
   * `count` user-mode accesses by `task` on `cpuId` at va, va + stride,
   * va + 2 * stride, ... (va as its high and low 32 bits; stride in bytes,
   * negative for a descending run), each exactly as userAccess makes it,
   * up to the first that raises a signal. Returns how many completed;
   * `lastAccess` holds the last one's physical address and byte, the
   * faults taken and the signal that stopped the run. Nothing is
   * allocated while no access faults: the scenario engine's ranges.
   */
  userAccessRange(
    cpuId: number,
    task: TaskHandle,
    vaHi: number,
    vaLo: number,
    count: number,
    stride: number,
    access: Access,
    value?: number,
  ): number;
  /** where the last userAccess or userAccessRange ended (one record, overwritten by the next) */
  readonly lastAccess: Readonly<UserAccessRecord>;
  /**
   * A plain kernel dereference (no exception-table entry) on `cpuId`, in
   * the context of its current task: the byte, or an oops (the task is
   * killed; with panic_on_oops the machine stops).
   */
  kernelAccess(cpuId: number, va: bigint, access: Access, value?: number): KernelAccessResult;
  /**
   * STAC/CLAC (x86) or PSTATE.PAN (ARM64) on `cpuId`: opens (`open`) or
   * closes plain kernel access to user pages; returns the instruction's name.
   */
  userAccessWindow(cpuId: number, open: boolean): string;
  /**
   * pagefault_disable() (`disable`) or pagefault_enable() in the context of
   * the current task on `cpuId` (current->pagefault_disabled, which nests).
   * The task and its new count; null for an enable with nothing disabled.
   */
  pagefaultDisable(cpuId: number, disable: boolean): { task: TaskHandle; count: number } | null;
  /** BUG(): a `kernel BUG at FILE!` oops in the context of the current task on `cpuId`; the report. */
  bug(cpuId: number, message: string, file: string): string[];

  // ---- profile=windows (kernel/os/windows, docs/windows.md): the VirtualAlloc family ----

  /**
   * VirtualAlloc(addr or 0, size, MEM_RESERVE and/or MEM_COMMIT, PAGE_*):
   * the base, or 0n with GetLastError in `view.windows().process(task).lastError`.
   */
  virtualAlloc(
    task: TaskHandle,
    addr: bigint,
    size: bigint,
    reserve: boolean,
    commit: boolean,
    protect: number,
    /** MEM_WRITE_WATCH (with MEM_RESERVE only) */
    writeWatch?: boolean,
  ): bigint;
  /**
   * VirtualAlloc with flAllocationType as its MEM_* bits (os/windows/alloctype.ts: MEM_TOP_DOWN, and the
   * mixes NtAllocateVirtualMemory refuses with 87): the base, or 0n with GetLastError.
   */
  virtualAllocType(task: TaskHandle, addr: bigint, size: bigint, type: number, protect: number): bigint;
  /** VirtualAlloc with MEM_RESET (or MEM_RESET_UNDO, `undo`): the base of the pages reset, or 0n with GetLastError. */
  virtualAllocReset(task: TaskHandle, addr: bigint, size: bigint, protect: number, undo: boolean): bigint;
  /** VirtualLock: TRUE or FALSE (GetLastError). */
  virtualLock(task: TaskHandle, addr: bigint, size: bigint): boolean;
  /** VirtualUnlock: TRUE or FALSE (GetLastError; pages not locked leave the working set). */
  virtualUnlock(task: TaskHandle, addr: bigint, size: bigint): boolean;
  /** GetWriteWatch (`reset`: WRITE_WATCH_FLAG_RESET; `max` entries): the pages written, or null (GetLastError). */
  getWriteWatch(task: TaskHandle, addr: bigint, size: bigint, reset: boolean, max: number): bigint[] | null;
  /** ResetWriteWatch: TRUE or FALSE (GetLastError). */
  resetWriteWatch(task: TaskHandle, addr: bigint, size: bigint): boolean;
  /** VirtualFree with MEM_RELEASE (`release`) or MEM_DECOMMIT: TRUE or FALSE. */
  virtualFree(task: TaskHandle, addr: bigint, size: bigint, release: boolean): boolean;
  /** VirtualProtect: the old protection (Win32 PAGE_*), or -1 (FALSE). */
  virtualProtect(task: TaskHandle, addr: bigint, size: bigint, protect: number): number;
  /** VirtualQuery: MEMORY_BASIC_INFORMATION, or null (0 bytes returned). */
  virtualQuery(task: TaskHandle, addr: bigint): MemoryBasicInformation | null;
  /** `__try { ... } __except (EXCEPTION_EXECUTE_HANDLER)` around what the task does next. */
  catchExceptions(task: TaskHandle): void;
  /**
   * ExAllocatePoolWithTag on `cpuId` (paged or nonpaged pool): the address,
   * 0n (NULL), or why the call is refused (paged pool at DISPATCH_LEVEL).
   * `tag`: the four-byte pool tag (default 'None', as ExAllocatePool).
   */
  poolAlloc(cpuId: number, paged: boolean, size: number, tag?: string): bigint | string;
  /** ExFreePoolWithTag: null, or what is wrong with the address. */
  poolFree(va: bigint): string | null;
  /** KeRaiseIrql / KeLowerIrql on `cpuId` (0 PASSIVE_LEVEL, 1 APC_LEVEL, 2 DISPATCH_LEVEL): the old IRQL. */
  setIrql(cpuId: number, irql: number): number;
  /** `trim P` / `trim kernel` (task null), with `pageout`: then the modified page writer and the standby list repurposed. */
  trim(task: TaskHandle | null, pageout: boolean): TrimResult;
  /** MiModifiedPageWriter: the modified list to the paging file and the standby list; pages written. */
  modifiedPageWriter(): number;
  /**
   * `__try { ProbeForRead|ProbeForWrite(va, len, align); copy } __except` on
   * `cpuId`, in the context of the task current there: the NTSTATUS.
   */
  probe(cpuId: number, va: bigint, len: number, write: boolean, align: number, value: number): ProbeResult;
  /**
   * CreateFileMapping: a section backed by the paging file (`file` null), a
   * file, or an image (`image`: SEC_IMAGE with that layout); `reserve`:
   * SEC_RESERVE. The handle (every process sees it), or 0 with GetLastError.
   */
  createFileMapping(
    task: TaskHandle,
    size: bigint,
    protect: number,
    file: FileHandle | null,
    image: ImageLayout | null,
    reserve?: boolean,
  ): number;
  /** MapViewOfFileEx with FILE_MAP_READ/WRITE/COPY (+EXECUTE): the base, or 0n with GetLastError. */
  mapViewOfFile(
    task: TaskHandle,
    handle: number,
    access: "read" | "write" | "copy",
    execute: boolean,
    offset: bigint,
    size: bigint,
    addr: bigint,
    /** MapViewOfFile3 MEM_REPLACE_PLACEHOLDER: the view replaces the placeholder at addr */
    replacePlaceholder?: boolean,
  ): bigint;
  /** UnmapViewOfFile: TRUE or FALSE; `preservePlaceholder`: UnmapViewOfFile2 MEM_PRESERVE_PLACEHOLDER. */
  unmapViewOfFile(task: TaskHandle, addr: bigint, preservePlaceholder?: boolean): boolean;
  /** VirtualAlloc2 with its placeholder flags (os/windows/placeholder.ts): the base, or 0n with GetLastError. */
  virtualAlloc2(task: TaskHandle, addr: bigint, size: bigint, type: Alloc2Type, protect: number): bigint;
  /**
   * VirtualFree with any dwFreeType (winnt.h bits: MEM_DECOMMIT 0x4000, MEM_RELEASE 0x8000,
   * MEM_COALESCE_PLACEHOLDERS 1, MEM_PRESERVE_PLACEHOLDER 2): TRUE or FALSE (GetLastError).
   */
  virtualFreeEx(task: TaskHandle, addr: bigint, size: bigint, freeType: number): boolean;
  /** QueryWorkingSet into a buffer of cb bytes (default: large enough): PSAPI_WORKING_SET_INFORMATION, the process's working-set list, or ok false (ERROR_BAD_LENGTH). */
  queryWorkingSet(task: TaskHandle, cb?: number): WorkingSetInformation;
  /** QueryWorkingSetEx: the PSAPI_WORKING_SET_EX_BLOCK of the page holding addr. */
  queryWorkingSetEx(task: TaskHandle, addr: bigint): WorkingSetExBlock;
  /** CloseHandle of a section: TRUE or FALSE. */
  closeHandle(task: TaskHandle, handle: number): boolean;
  /** CreateThread's user stack (RtlCreateUserStack): StackBase, or 0n with GetLastError. */
  createThreadStack(task: TaskHandle, reserve: bigint, commit: bigint): bigint;
  /** SetProcessWorkingSetSizeEx (Flags: QuotaLimits' QUOTA_LIMITS_HARDWS_* bits; 0 is SetProcessWorkingSetSize): 0 (TRUE) or the GetLastError code. */
  setWorkingSetSize(task: TaskHandle, minBytes: bigint, maxBytes: bigint, flags: number): number;
  /** SetProcessInformation(ProcessMemoryPriority), or (`thread`) SetThreadInformation(ThreadMemoryPriority): 0 (TRUE) or the GetLastError code. */
  setMemoryPriority(task: TaskHandle, thread: boolean, priority: number): number;
  /** AdjustTokenPrivileges of SeLockMemoryPrivilege (MEM_LARGE_PAGES needs it enabled). */
  setLockMemoryPrivilege(task: TaskHandle, enabled: boolean): void;

  // ---- files and devices ----

  /**
   * A file of `sizeBytes` on the simulated file system (disk, optionally cached, or tmpfs on a
   * mount with huge=`huge` and nr_blocks=`nrBlocks`: its size= in pages, 0 for no limit, absent
   * for Linux's default, half of RAM; `tmpfs`: the mount's name, shared by the files naming it,
   * and its nr_inodes=).
   */
  createFile(
    name: string,
    sizeBytes: number,
    fs?: "disk" | "tmpfs",
    cached?: boolean,
    folioBytes?: number,
    huge?: "never" | "always" | "within_size" | "advise",
    nrBlocks?: number,
    tmpfs?: { mount?: string; nrInodes?: number },
  ): FileHandle;
  /**
   * read(2) / write(2) by the task current on the CPU between a file and a user buffer: at
   * `offset` (pread / pwrite); without one, at the position of the task's struct file of it,
   * advanced, when the task opened the file (openFile), else at offset 0 (each task has
   * its own readahead state of a file unless fork shared it); bytes moved, or -errno.
   */
  fileIo(cpuId: number, f: FileHandle, uva: bigint, len: number, write: boolean, offset?: number): number;
  /**
   * The task current on `cpuId` reads or writes `target`'s memory at `remote` through its own
   * buffer at `local` (KernelGup.ts): process_vm_readv/writev (pin_user_pages_remote, no
   * FOLL_FORCE) or pread/pwrite of /proc/PID/mem (access_remote_vm, FOLL_FORCE); faults in the
   * target count against the caller. `ret`: the bytes moved or -errno.
   */
  remoteRw(
    cpuId: number,
    target: TaskHandle,
    local: bigint,
    remote: bigint,
    len: number,
    how: RemoteHow,
  ): RemoteRw;
  /** pin_user_pages of `n` pages from `addr` by a driver in `task`'s context (FOLL_WRITE, FOLL_LONGTERM as asked). */
  pinUserPages(
    task: TaskHandle,
    addr: bigint,
    n: number,
    write: boolean,
    longterm: boolean,
    fast?: boolean,
  ): PinnedPages;
  /** unpin_user_pages_dirty_lock of a pinUserPages result; the number of pages unpinned (0 the second time). */
  unpinUserPages(p: PinnedPages): number;
  /** open(2) of a file by a task: a new struct file in its file table (f_pos 0, file_ra_state_init); fork shares it with the child. */
  openFile(task: TaskHandle, f: FileHandle): void;
  /** close(2) of the task's struct file of a file: 0, or -EBADF if it holds none. */
  closeFile(task: TaskHandle, f: FileHandle): number;
  /**
   * fstat(2) by a task: i_size and, for a tmpfs file or memfd, i_blocks (512-byte units; null for
   * other files); a tmpfs inode's stat first gives back the charges of pages reclaim dropped clean
   * (shmem_getattr's shmem_recalc_inode).
   */
  fstat(task: TaskHandle, f: FileHandle): { size: number; blocks: number | null };
  /** ftruncate(2) by a task: the file's new size; 0 or -errno. Mappings past the new end fault SIGBUS. */
  ftruncate(task: TaskHandle, f: FileHandle, length: bigint): bigint;
  /**
   * fallocate(2) by a task, `mode` of FALLOC_FL_* bits (KEEP_SIZE 1, PUNCH_HOLE 2, COLLAPSE_RANGE 8,
   * ZERO_RANGE 0x10, INSERT_RANGE 0x20, UNSHARE_RANGE 0x40): tmpfs and memfd ranges allocated
   * (charged to Committed_AS) or punched (unmapped, freed, partial pages zeroed); a disk file's
   * range punched or zeroed (its cached pages dropped), collapsed or opened (the blocks after it
   * moved, the page cache from it on dropped); 0 or -errno (kernel/core/fallocate.ts, mm/falloc_ext4.ts).
   */
  fallocate(task: TaskHandle, f: FileHandle, mode: number, offset: bigint, len: bigint): bigint;
  /** mincore(2) by a task: 0 or -errno (EINVAL unaligned, ENOMEM for a hole: vec filled up to it), and one byte per page, bit 0 resident. */
  mincore(task: TaskHandle, addr: bigint, length: bigint): MincoreResult;
  /** posix_fadvise(2) by a task (advice: `normal`, `random`, `sequential`, `willneed`, `dontneed`, `noreuse`); 0 or -errno. */
  fadvise(task: TaskHandle, f: FileHandle, offset: bigint, length: bigint, advice: string): bigint;
  /** fsync(2) of a file by a task: every dirty page of a disk file written (file_write_and_wait_range); 0, and the pages written. */
  fsync(task: TaskHandle, f: FileHandle): { ret: bigint; written: number };
  /** sync(2): every dirty page-cache page written and waited for; the pages written. */
  sync(): number;
  /** echo MODE > /proc/sys/vm/drop_caches (1 page cache, 2 slab, 3 both); 0 or -EINVAL, and the page-cache pages dropped. */
  dropCaches(mode: number): { ret: bigint; dropped: number };
  /**
   * echo N > /proc/sys/vm/nr_hugepages (null: left alone), and
   * nr_overcommit_hugepages when given: the HugeTLB pool of the default
   * huge page size. Returns nr_hugepages after the write (fewer than N
   * when the buddy allocator ran out of huge-page-size blocks; more when
   * pages in use or reserved keep it up: they become surplus). mm/hugetlb.ts.
   * `sizeKb`: the pool of that huge page size instead (its sysfs directory's
   * nr_hugepages and nr_overcommit_hugepages, hugepages-<sizeKb>kB); -2
   * (ENOENT) when the machine has no such size.
   */
  sysctlHugepages(nrHugepages: number | null, nrOvercommitHugepages?: number | null, sizeKb?: number): number;
  /**
   * /proc/sys/vm/overcommit_memory (0 heuristic, 1 always, 2 never),
   * overcommit_ratio, overcommit_kbytes, admin_reserve_kbytes and
   * user_reserve_kbytes: writes those given, returns them all. mm/util.ts.
   */
  sysctlOvercommit(w: Partial<OvercommitSysctls>): OvercommitSysctls;
  /**
   * /proc/sys/vm/dirty_background_ratio, dirty_background_bytes, dirty_ratio and dirty_bytes
   * (balance_dirty_pages' limits): writes those given in that order (a ratio zeroes its bytes and
   * the other way round); `ret` 0, or -22 (EINVAL: out of range) / -34 (ERANGE) at the first
   * refused, which and those after it unwritten; `now` holds all four. mm/page_writeback.ts.
   */
  sysctlDirty(w: Partial<DirtySysctls>): { ret: number; now: DirtySysctls };
  /**
   * /proc/sys/vm/swappiness (mm/vmscan.c's vm_swappiness, proc_dointvec_minmax over 0..200):
   * writes `value` when given; `ret` 0, or -22 (EINVAL: out of range, unwritten); `now` the value
   * reclaim's get_scan_count reads from then on.
   */
  sysctlSwappiness(value?: number): { ret: number; now: number };
  /**
   * /proc/sys/vm/max_map_count (sysctl_max_map_count, default 65530; proc_dointvec_minmax, at
   * least 0): writes `value` when given; `ret` 0 or -22 (EINVAL: negative, unwritten); `now` the
   * limit on each mm's VMAs from then on (mm/map_count.ts).
   */
  sysctlMaxMapCount(value?: number): { ret: number; now: number };
  /**
   * /proc/sys/abi/tagged_addr_disabled (arm64, 0..1): 1 makes PR_SET_TAGGED_ADDR_CTRL's enable
   * -22; `ret` 0, -22 (EINVAL: outside 0..1, unwritten) or -2 (ENOENT: not arm64). core/mman.ts.
   */
  sysctlTaggedAddrDisabled(value?: number): { ret: number; now: number };
  /**
   * /proc/sys/vm/panic_on_oom (0..2), oom_kill_allocating_task and oom_dump_tasks (any int): writes
   * those given, in that order; `ret` 0 or -22 (EINVAL: panic_on_oom outside 0..2, it and those
   * after it unwritten); `now` all three as the OOM killer reads them (core/oom.ts).
   */
  sysctlOom(w: Partial<OomSysctls>): { ret: number; now: OomSysctls };
  /**
   * A write of `value` to /proc/sys/vm/compact_memory (sysctl_compaction_handler): 1 compacts
   * every zone whole (compact_nodes, mm/compaction.ts); another value is -22 (EINVAL), nothing
   * done. `migrated`: the pages moved (pgmigrate_success's growth), `failed` those that could not be.
   */
  sysctlCompactMemory(value: number): { ret: number; migrated: number; failed: number };
  /** shmget(2) by a task (flags: IPC_CREAT, IPC_EXCL and the mode's 9 bits); the segment's id or -errno. */
  shmget(task: TaskHandle, key: number, size: number, flags: number): bigint;
  /** shmat(2) by a task (flags: SHM_RDONLY, SHM_RND; addr 0n: the kernel chooses); the address or -errno. */
  shmat(task: TaskHandle, id: number, addr: bigint, flags: number): bigint;
  /** shmdt(2) by a task: 0 or -EINVAL. */
  shmdt(task: TaskHandle, addr: bigint): bigint;
  /** shmctl(2) by a task, cmd `rmid`, `stat`, `lock`, `unlock` or `info`: 0 (or SHM_INFO's index) or -errno, and IPC_STAT's or SHM_INFO's data. */
  shmctl(task: TaskHandle, id: number, cmd: string): ShmctlResult;
  /** memfd_create(2) by a task (MFD_* flags): 0 and the new tmpfs file (size 0), or -errno and null. */
  memfdCreate(task: TaskHandle, name: string, flags: number): { ret: bigint; file: FileHandle | null };
  /** fcntl(F_ADD_SEALS) by a task (F_SEAL_* bits): 0 or -errno (EPERM, EBUSY, EINVAL). */
  addSeals(task: TaskHandle, f: FileHandle, seals: number): bigint;
  /** fcntl(F_GET_SEALS) by a task: the seals or -EINVAL. */
  getSeals(task: TaskHandle, f: FileHandle): bigint;
  /** A character device with a buffer from alloc_pages, which its mmap remap_pfn_range()s; the buffer's address. */
  registerDevice(name: string, sizeBytes: number): bigint;

  // ---- the kernel's own memory ----

  /** kmalloc: the direct-map address, ZERO_SIZE_PTR for size 0, or 0n (NULL). */
  kmalloc(size: number, gfp?: number): bigint;
  /** kfree: null, or what was wrong with the pointer (Linux would BUG or corrupt memory). */
  kfree(va: bigint): string | null;
  /** vmalloc: the area's address, or 0n. */
  vmalloc(size: number): bigint;
  vfree(va: bigint): string | null;
  /** alloc_pages + page_address: 2^order contiguous frames, as a direct-map address; 0n on failure. */
  allocPages(order: number, gfp?: number): bigint;
  freePages(va: bigint, order: number): string | null;
  /** The direct-map address of a physical address (__va). */
  directVa(pa: number): bigint;
  /** The physical address of a direct-map address (__pa), or -1. */
  directPa(va: bigint): number;

  // ---- watching the machine ----

  /** Installs (or, with null, removes) a tracer of every TLB lookup, walk step and fault on every CPU. */
  setTracer(tracer: ((e: HwEvent) => void) | null): void;
  /** Names what the coherence checker's reports blame from now on (when the checker is on). */
  tagChecker(tag: string): void;
}

/** Boots a kernel. */
export const Kernel: new <C extends Mmu = Mmu>(config: KernelConfig) => Kernel<C> = KernelImpl;

/**
 * mmap's arguments with the defaults of `mmap(NULL, length, PROT_READ |
 * PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)` by a privileged process,
 * overridden by `opts` (a file mapping: `{ file: kernel.createFile(...) }`).
 */
export function mmapArgs(length: number, opts: Partial<MmapRequest> = {}): MmapRequest {
  return { ...defaultMmapArgs(length), ...opts };
}

/** The invariant checker over a booted kernel (kernel/view/invariants.ts): every broken invariant as a sentence, none when all hold. */
export function checkInvariants(k: Kernel): string[] {
  return k.view.invariants();
}
