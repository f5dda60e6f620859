import { assert } from "../base/assert.ts";
import type { Pfn } from "../base/units.ts";
import type { Access } from "../hw/access.ts";
import type { Machine } from "../hw/machine/Machine.ts";
import type { PageTableMapper } from "../hw/mmu/Mapper.ts";
import type { HwEvent, Mmu } from "../hw/mmu/Mmu.ts";
import { archFor } from "./arch/index.ts";
import * as alloc from "./core/alloc.ts";
import { memInitInfo, startKernel } from "./core/boot.ts";
import { type KernelConfig, type ResolvedKernelConfig, RV32_NO_THP, resolveConfig } from "./core/config.ts";
import type {
  Arch,
  ArchTlb,
  Device,
  KernelAccessResult,
  KernelCore,
  MemblockSummary,
  Oops,
  UserAccessResult,
} from "./core/core.ts";
import { type CoreDump, coreDump, DEFAULT_COREDUMP_FILTER } from "./core/coredump.ts";
import { UserAccessRecord, userModeAccess, userModeRange } from "./core/entry.ts";
import * as fadvise from "./core/fadvise.ts";
import * as gup from "./core/gup.ts";
import type { Layout } from "./core/layout.ts";
import * as madvise from "./core/madvise.ts";
import * as memfd from "./core/memfd.ts";
import * as mman from "./core/mman.ts";
import { type OomSysctls, sysctlOom } from "./core/oom.ts";
import * as pkeys from "./core/pkeys.ts";
import * as reclaim from "./core/reclaim.ts";
import * as sched from "./core/sched.ts";
import { catchSignal, deliverSignal } from "./core/signal.ts";
import { type RlimitName, type Task, type TaskHandle, taskOf } from "./core/task.ts";
import type { ExtableEntry, Uaccess } from "./core/uaccess.ts";
import type { Vaddr } from "./core/vaddr.ts";
import * as vfs from "./core/vfs.ts";
import { type FileHandle, type FileObject, fileOf } from "./fs/file.ts";
import * as shm from "./ipc/shm.ts";
import { KernelGupServices } from "./KernelGup.ts";
import type { BuddyAllocator } from "./mm/buddy.ts";
import { compactNodes, newCompactStats } from "./mm/compaction.ts";
import { Gfp } from "./mm/gfp.ts";
import { sysctlHugetlb } from "./mm/hugetlb_pool.ts";
import type { Kcompactd } from "./mm/kcompactd.ts";
import { khugepagedStore } from "./mm/khugepaged_slots.ts";
import { ksmStore, ksmWakeup } from "./mm/ksm_sysfs.ts";
import type { MmStruct } from "./mm/MmStruct.ts";
import { sysctlMaxMapCount } from "./mm/map_count.ts";
import type { MmapRequest } from "./mm/mmap.ts";
import type { PageDescTable } from "./mm/PageDesc.ts";
import type { DirtySysctls, DirtyThrottle } from "./mm/page_writeback.ts";
import type { PageCache } from "./mm/pagecache.ts";
import { shmemSizeStore } from "./mm/shmem_anon_huge.ts";
import { shmemEnabledStore } from "./mm/shmem_huge.ts";
import type { SlabAllocator } from "./mm/slab.ts";
import type { SwapArea } from "./mm/swapfile.ts";
import type { UserMm } from "./mm/userMm.ts";
import { type OvercommitSysctls, sysctlOvercommit } from "./mm/util.ts";
import type { Vmalloc } from "./mm/vmalloc.ts";
import type { Vmscan } from "./mm/vmscan.ts";
import { osFor } from "./os/index.ts";
import type { WindowsOs } from "./os/windows/index.ts";
import { KernelView } from "./view/KernelView.ts";

/**
 * The Linux-shaped kernel, booted on a simulated machine of the configured architecture: its
 * page tables live in simulated RAM, its allocators manage simulated frames.
 *
 * This is the kernel itself: it owns the subsystems and the shared state (KernelCore,
 * core/core.ts) and implements the facade (Kernel.ts), which is all that code outside
 * src/kernel sees of it; the kernel's own tests use it whole. The code lives in the modules
 * named after Linux's: core/ (boot, sched, mman, madvise, gup, signal, reclaim, memcontrol,
 * oom, alloc, vfs, fallocate, uaccess), mm/ (the address-space code), and the architecture's
 * (kernel/arch/NAME/, by kernel/arch/index.ts: boot mapping, page faults, TLB upkeep, oops, BUG).
 *
 * C and T, the CPU and TLB-manager types of the architecture, default to the generic ones (Mmu,
 * ArchTlb); a test may name its own (`new KernelImpl<Cpu, X86Tlb>(...)`) to read its registers
 * (nothing checks them against `config.arch`).
 */
export class KernelImpl<C extends Mmu = Mmu, T extends ArchTlb = ArchTlb>
  extends KernelGupServices
  implements KernelCore
{
  readonly config: ResolvedKernelConfig;
  /** the architecture: page tables, faults, TLB maintenance (core/core.ts Arch) */
  readonly arch: Arch;
  readonly machine: Machine<C>;
  readonly levels: number;
  readonly layout: Layout;
  readonly va: Vaddr;
  readonly pages: PageDescTable;
  readonly buddy: BuddyAllocator;
  readonly slab: SlabAllocator;
  readonly vm: Vmalloc;
  /** edits the kernel's page tables (init_mm), taking table pages from the buddy allocator */
  readonly mapper: PageTableMapper;
  /** init_mm.pgd (swapper_pg_dir) */
  readonly rootPfn: Pfn;
  /** frames memblock handed out at boot: [start, end) pfns after the image */
  readonly memblock: MemblockSummary;
  /** empty_zero_page: the frame every anonymous read of an untouched page maps */
  readonly zeroPfn: number;
  /** user address spaces: mmap, faults, fork */
  readonly userMm: UserMm;
  /** the page cache of the simulated file system (mm/filemap.c) */
  readonly pageCache: PageCache;
  /** the swap area (mm/swapfile.c), or null */
  readonly swap: SwapArea | null;
  /** page reclaim over the LRU lists (mm/vmscan.c) */
  readonly vmscan: Vmscan;
  /** balance_dirty_pages and the background flusher (null: no dirty limits) */
  readonly dirtyThrottle: DirtyThrottle | null;
  readonly kcompactd: Kcompactd | null;
  /** ASIDs, context switches, TLB shootdowns */
  readonly tlbMgr: T;
  /** The user-access routines (copy_*_user, get_user, put_user, clear_user, strncpy_from_user). */
  readonly uaccess: Uaccess;
  /** policy=lru: every user access moves its page to the head of the list */
  readonly exactLru: boolean;
  /** where the last user access or run of them ended (userAccessRange) */
  readonly lastAccess = new UserAccessRecord();
  /** the kernel's state as data, read-only (kernel/view/KernelView.ts) */
  readonly view: KernelView;

  readonly tasks: Task[] = [];
  readonly current: (Task | null)[];
  readonly oopses: Oops[] = [];
  panicked: string | null = null;
  /** kernel log (dmesg) */
  readonly log: string[] = [];
  /** character devices: a kernel buffer each, mapped to processes by remap_pfn_range */
  readonly devices = new Map<string, Device>();
  /** profile=windows: Windows' memory manager for user address spaces (kernel/os/windows); null for Linux */
  readonly os: WindowsOs | null;
  /** pages of user/kernel page tables allocated after boot (NR_PAGETABLE) */
  pageTablePages = 0;
  /** vmalloc faults fixed (32-bit x86, vmalloc_sync=lazy: vmalloc_fault) */
  vmallocFaults = 0;
  /** pages the last MADV_PAGEOUT calls reclaimed (reset by callers that report it) */
  lastPageout = 0;
  /** /proc/vmstat drop_pagecache, drop_slab */
  readonly dropCachesStats = { drop_pagecache: 0, drop_slab: 0 };
  readonly compactStats = newCompactStats();
  /** OOM kills so far, and the kernel's report line for each */
  oomKills = 0;
  vmEnoughWarnings = 0;
  readonly oomReports: string[] = [];

  // ---- state the kernel's modules share (KernelCore), not for callers ----
  nextPid = 0;
  readonly kworkerSerial: number[];
  /** the CPU running the current system call (flushes from it need no IPI) */
  runningCpu = 0;
  /** the address space whose fault or system call is allocating (the OOM killer does not reap it in place) */
  faultingMm: MmStruct | null = null;
  /** reclaim is running (allocations inside it do not recurse into reclaim) */
  reclaiming = false;

  /** Boots (Linux: setup_arch, init_mem_mapping, paging_init, mm_core_init, sched_init): boot.ts, arch/x86/init.ts. */
  constructor(config: KernelConfig) {
    super();
    this.config = resolveConfig(config);
    this.arch = archFor(this.config);
    const p = startKernel(this, this.config, this.arch);
    this.machine = p.machine as Machine<C>;
    this.levels = p.levels;
    this.layout = p.layout;
    this.va = p.va;
    this.pages = p.pages;
    this.buddy = p.buddy;
    this.slab = p.slab;
    this.vm = p.vm;
    this.mapper = p.mapper;
    this.rootPfn = p.rootPfn;
    this.memblock = p.memblock;
    this.zeroPfn = p.zeroPfn;
    this.userMm = p.userMm;
    this.pageCache = p.pageCache;
    this.swap = p.swap;
    this.vmscan = p.vmscan;
    this.dirtyThrottle = p.dirtyThrottle;
    this.kcompactd = p.kcompactd;
    this.tlbMgr = p.tlbMgr as T;
    this.uaccess = p.uaccess;
    this.exactLru = p.exactLru;
    this.current = this.machine.cpus.map(() => null);
    this.kworkerSerial = this.machine.cpus.map(() => 0);
    this.os = osFor(this);
    sched.schedInit(this);
    this.log.push(memInitInfo(this));
    this.view = new KernelView(this);
  }

  // ---- tasks (sched.ts) ----

  /** The task kernel code on `cpu` runs for; a fresh kworker if the last one died. */
  contextTask(cpu: number): Task {
    return sched.contextTask(this, cpu);
  }

  /** A new user process: an empty address space but for its main-thread stack, as exec leaves it. */
  spawn(comm: string, uid = 0, rlimitStack = 8 << 20): Task | null {
    return sched.spawn(this, comm, uid, rlimitStack);
  }

  /** fork: the child gets a copy of the address space (copy-on-write) and counters from zero. */
  fork(parent: TaskHandle, comm: string): Task | null {
    this.linuxOnly("fork");
    return sched.fork(this, taskOf(parent), comm);
  }

  /** A thread of `parent` (clone with CLONE_VM; the scenario language's `P: thread NAME`). */
  thread(parent: TaskHandle, comm: string): Task | null {
    return sched.thread(this, taskOf(parent), comm);
  }

  /** A kernel thread: no user address space. */
  kthread(comm: string): Task {
    return sched.newKthread(this, comm);
  }

  /** The CPU a task is current on, or -1. */
  cpuOf(task: TaskHandle): number {
    return sched.cpuOf(this, taskOf(task));
  }

  /** A context switch of `cpuId` to `task`. */
  switchTo(cpuId: number, task: TaskHandle): void {
    sched.switchTo(this, cpuId, taskOf(task));
  }

  /** do_exit: tear down the address space; the task is gone. */
  exit(task: TaskHandle, reason: string): void {
    sched.exit(this, taskOf(task), reason);
  }

  /** The PGD user code runs on: under PTI the second page of the pair, else the only one. */
  userPgdPfn(mm: MmStruct): Pfn {
    return this.arch.pgtable.userPgd(mm.pgdPfn);
  }

  /** setuid(2): the task's uid (0 has every capability). */
  setUid(task: TaskHandle, uid: number): void {
    taskOf(task).uid = uid;
  }

  /** personality(2): the old persona; 0xffffffff only reads it (mman.ts personality) */
  personality(task: TaskHandle, persona: number): number {
    return mman.personality(taskOf(task), persona);
  }

  /** prctl(2): PR_SET/GET_THP_DISABLE, PR_SET/GET_TAGGED_ADDR_CTRL (mman.ts prctl) */
  prctl(task: TaskHandle, option: number, a2: number, a3: number, a4: number, a5: number): number {
    return mman.prctl(this, taskOf(task), option, a2, a3, a4, a5);
  }

  /** setrlimit(2) on the task's process: 0, -EINVAL (soft > hard), -EPERM (sched.ts setrlimit) */
  setrlimit(task: TaskHandle, resource: RlimitName, soft: number, hard: number): number {
    return sched.setrlimit(taskOf(task), resource, soft, hard);
  }

  /** A write of /proc/PID/oom_score_adj for the task's process: 0, -22 (EINVAL) or -13 (EACCES). */
  setOomScoreAdj(task: TaskHandle, adj: number): number {
    return sched.setOomScoreAdj(this, taskOf(task), adj);
  }

  /** sigaction(2): the task handles `sig` (a fault that raises it is abandoned, not fatal). */
  catchSignal(task: TaskHandle, sig: string, exposeTagbits = false): void {
    catchSignal(taskOf(task), sig, exposeTagbits);
  }

  // ---- memory system calls (mman.ts, madvise.ts), on the CPU where the task is current ----

  /** mmap; returns the address or -errno (as a bigint). */
  mmap(task: TaskHandle, args: MmapRequest): bigint {
    this.linuxOnly("mmap");
    return mman.mmap(this, taskOf(task), { ...args, file: args.file ? fileOf(args.file) : null });
  }

  /** munmap; 0 or -errno. */
  munmap(task: TaskHandle, addr: bigint, length: bigint): bigint {
    this.linuxOnly("munmap");
    return mman.munmap(this, taskOf(task), addr, length);
  }

  /** mprotect; 0 or -errno. */
  mprotect(
    task: TaskHandle,
    addr: bigint,
    length: bigint,
    prot: { r: boolean; w: boolean; x: boolean; growsdown?: boolean; growsup?: boolean },
  ): bigint {
    this.linuxOnly("mprotect");
    return mman.mprotect(this, taskOf(task), addr, length, prot);
  }

  /** pkey_alloc(flags, rights): the key or -errno (core/pkeys.ts). */
  pkeyAlloc(task: TaskHandle, flags: number, rights: number): bigint {
    this.linuxOnly("pkey_alloc");
    const t = taskOf(task);
    sched.syscallEntry(this, t);
    return BigInt(pkeys.pkeyAlloc(this, t, sched.userOf(t), flags, rights));
  }

  /** pkey_free; 0 or -errno. */
  pkeyFree(task: TaskHandle, pkey: number): bigint {
    this.linuxOnly("pkey_free");
    const t = taskOf(task);
    sched.syscallEntry(this, t);
    return BigInt(pkeys.pkeyFree(this, sched.userOf(t), pkey));
  }

  /** pkey_mprotect; 0 or -errno. */
  pkeyMprotect(
    task: TaskHandle,
    addr: bigint,
    length: bigint,
    prot: { r: boolean; w: boolean; x: boolean },
    pkey: number,
  ): bigint {
    this.linuxOnly("pkey_mprotect");
    return mman.mprotect(this, taskOf(task), addr, length, prot, pkey);
  }

  /** WRPKRU in user mode; #UD (SIGILL, ILL_ILLOPN) without protection keys. */
  wrpkru(task: TaskHandle, value: number): boolean {
    const t = taskOf(task);
    if (pkeys.wrpkru(this, t, value)) return true;
    deliverSignal(this, t, "SIGILL", "ILL_ILLOPN", 0n);
    return false;
  }

  /** madvise; 0 or -errno (-ENOMEM after applying when the range has a hole). */
  madvise(task: TaskHandle, addr: bigint, length: bigint, advice: string): bigint {
    this.linuxOnly("madvise");
    return madvise.madvise(this, taskOf(task), addr, length, advice);
  }

  processMadvise(c: TaskHandle, t: TaskHandle, r: madvise.MadviseRanges, a: string, f = 0): bigint {
    this.linuxOnly("process_madvise");
    return madvise.processMadvise(this, taskOf(c), taskOf(t), r, a, f);
  }

  /** mlock / mlock2(MLOCK_ONFAULT): VM_LOCKED over the range, populated unless on fault. */
  mlock(task: TaskHandle, addr: bigint, length: bigint, onFault: boolean): bigint {
    this.linuxOnly("mlock");
    return mman.mlock(this, taskOf(task), addr, length, onFault);
  }

  munlock(task: TaskHandle, addr: bigint, length: bigint): bigint {
    this.linuxOnly("munlock");
    return mman.munlock(this, taskOf(task), addr, length);
  }

  /** mlockall(flags: Mcl bits): 0 or -errno. */
  mlockall(task: TaskHandle, flags: number): bigint {
    this.linuxOnly("mlockall");
    return mman.mlockall(this, taskOf(task), flags);
  }

  munlockall(task: TaskHandle): bigint {
    this.linuxOnly("munlockall");
    return mman.munlockall(this, taskOf(task));
  }

  /** brk, as sbrk: moves the break by delta bytes and returns the old break, or -ENOMEM. */
  brk(task: TaskHandle, delta: bigint): bigint {
    this.linuxOnly("brk");
    return mman.brk(this, taskOf(task), delta);
  }

  /** mseal; 0 or -errno (core/mman.ts mseal). */
  mseal(task: TaskHandle, addr: bigint, length: bigint, flags = 0n): bigint {
    this.linuxOnly("mseal");
    return mman.mseal(this, taskOf(task), addr, length, flags);
  }

  /** mremap; returns the new address or -errno. */
  mremap(
    task: TaskHandle,
    addr: bigint,
    oldSize: bigint,
    newSize: bigint,
    mayMove: boolean,
    to: bigint,
    dontUnmap = false,
  ): bigint {
    this.linuxOnly("mremap");
    return mman.mremap(this, taskOf(task), addr, oldSize, newSize, mayMove, to, dontUnmap);
  }

  /** msync (MS_SYNC unless `flags` says otherwise); 0 or -errno (core/mman.ts msync). */
  msync(task: TaskHandle, addr: bigint, length: bigint, flags?: number): bigint {
    this.linuxOnly("msync");
    return mman.msync(this, taskOf(task), addr, length, flags);
  }

  /** get_dump_page: the frame at `vpn` for a core dump, or -1 for a hole. */
  getDumpPage(task: TaskHandle, vpn: number): number {
    return gup.getDumpPage(this, taskOf(task), vpn);
  }

  /** do_coredump: the task's core as vma_dump_size and get_dump_page decide it (pages are faulted in). */
  coreDump(task: TaskHandle, filter = DEFAULT_COREDUMP_FILTER): CoreDump {
    return coreDump(this, taskOf(task), filter);
  }

  /** The pages MADV_PAGEOUT reclaimed since the last call; the count starts again from 0. */
  takePageoutCount(): number {
    const n = this.lastPageout;
    this.lastPageout = 0;
    return n;
  }

  // ---- memory pressure (reclaim.ts) ----

  /** Reclaims up to `pages` pages (try_to_free_pages); returns how many. */
  reclaim(pages: number): number {
    return reclaim.reclaim(this, pages);
  }

  /** kswapd's balance_pgdat, run at once: reclaim up to the high watermark. Returns pages reclaimed. */
  kswapd(): number {
    return reclaim.kswapd(this);
  }

  /** RV32: no CONFIG_TRANSPARENT_HUGEPAGE (Arch.noTransparentHugepage), or null. */
  noThp(): string | null {
    return this.arch.noTransparentHugepage ? RV32_NO_THP : null;
  }

  /** One wake-up of khugepaged (mm/khugepaged.ts khugepagedDoScan): the PMDs it collapsed; none without THP. */
  khugepaged(): number {
    return this.noThp() === null ? this.userMm.khugepagedDoScan() : 0;
  }

  /** One wake-up of ksmd, a /sys/kernel/mm/ksm knob written (mm/ksm_sysfs.ts ksmWakeup, ksmStore) */
  ksmScan = (): number => ksmWakeup(this.userMm);
  ksmSet = (knob: string, value: number): boolean => ksmStore(this.userMm, knob, value);
  /** A khugepaged sysfs knob written (mm/khugepaged_slots.ts khugepagedStore); false: -EINVAL, or no such file. */
  khugepagedSet = (knob: "pages_to_scan" | "max_ptes_swap" | "max_ptes_shared", value: number): boolean =>
    this.noThp() === null &&
    khugepagedStore(this.userMm.khugepaged, this.arch.pgtable.hpagePmdNr, knob, value);

  /** hugepages-<size>kB/enabled written (mm/mthp.ts MthpState.set, thpsize_enabled_store). */
  mthpSet = (kb: number, mode: "never" | "always" | "madvise" | "inherit"): boolean =>
    this.noThp() === null && (this.userMm.env.mthp?.set(kb, mode) ?? false);

  /** /sys/kernel/mm/transparent_hugepage/shmem_enabled written (mm/shmem_huge.ts shmemEnabledStore). */
  shmemEnabledSet = (mode: string): boolean =>
    this.noThp() === null && shmemEnabledStore(this.pageCache, mode);

  /** hugepages-<kb>kB/shmem_enabled written (mm/shmem_anon_huge.ts shmemSizeStore). */
  shmemSizeEnabledSet = (kb: number, mode: string): "size" | "mode" | null =>
    this.noThp() !== null ? "size" : shmemSizeStore(this.pageCache, kb, mode);

  // ---- user accesses (arch/x86/fault.ts) ----

  /**
   * A user-mode access by `task` on `cpuId` (which must have it current):
   * translate at CPL 3; on a page fault run do_user_addr_fault and retry.
   * An access the kernel cannot resolve raises a signal: caught, it is
   * abandoned; uncaught, it kills the task.
   */
  userAccess(cpuId: number, task: TaskHandle, va: bigint, access: Access, value = 0): UserAccessResult {
    const r = userModeAccess(
      this,
      cpuId,
      taskOf(task),
      va,
      access,
      value,
      this.arch.userFault,
      this.lastAccess,
    );
    this.dirtyThrottle?.serve(); // background writeback a fault queued: after its store
    return r;
  }

  /**
   * `count` user accesses at va, va + stride, ... (va as halves), each as
   * userAccess makes it, up to the first that raises a signal: how many
   * completed; `lastAccess` has the rest (entry.ts userModeRange).
   */
  userAccessRange(
    cpuId: number,
    task: TaskHandle,
    vaHi: number,
    vaLo: number,
    count: number,
    stride: number,
    access: Access,
    value = 0,
  ): number {
    assert(
      Number.isSafeInteger(count) && count >= 0 && Math.abs(stride) * count < 2 ** 53,
      "userAccessRange: the run's span must stay below 2^53 bytes",
    );
    const done = userModeRange(
      this,
      cpuId,
      taskOf(task),
      vaHi,
      vaLo,
      count,
      stride,
      access,
      value,
      this.arch.userFault,
      this.lastAccess,
    );
    this.dirtyThrottle?.serve(); // background writeback the last fault queued: after its store
    return done;
  }

  // ---- files and devices (vfs.ts) ----

  /** Creates a file of `sizeBytes` on the simulated file system (disk, optionally cached, or tmpfs), in folios of `folioBytes`; a tmpfs file's mount (its own, or `tmpfs.mount`) has huge=`huge`, nr_blocks=`nrBlocks` (size=, in pages; 0: no limit; absent: half of RAM) and `tmpfs.nrInodes`. */
  createFile(
    name: string,
    sizeBytes: number,
    fs: "disk" | "tmpfs" = "disk",
    cached = false,
    folioBytes = 4096,
    huge?: "never" | "always" | "within_size" | "advise",
    nrBlocks?: number,
    tmpfs?: vfs.TmpfsOpts,
  ): FileObject {
    return vfs.createFile(this, name, sizeBytes, fs, cached, folioBytes, huge, nrBlocks, tmpfs);
  }

  /** read(2) / write(2) (pread / pwrite at `offset`) between a file and a user buffer; bytes transferred, or -errno. */
  fileIo(cpuId: number, f: FileHandle, uva: bigint, len: number, write: boolean, offset?: number): number {
    return vfs.fileIo(this, cpuId, fileOf(f), uva, len, write, offset);
  }

  /** open(2) of a file by a task: a new struct file in its file table (f_pos 0, fresh readahead state). */
  openFile(task: TaskHandle, f: FileHandle): void {
    vfs.openFile(this, taskOf(task), fileOf(f));
  }

  /** close(2) of a task's struct file of a file; 0 or -EBADF. */
  closeFile(task: TaskHandle, f: FileHandle): number {
    return vfs.closeFile(this, taskOf(task), fileOf(f, true)); // a freed memfd's: EBADF
  }

  /** ftruncate(2) by a task; 0 or -errno. */
  ftruncate(task: TaskHandle, f: FileHandle, length: bigint): bigint {
    this.linuxOnly("ftruncate");
    return vfs.ftruncate(this, taskOf(task), fileOf(f), length);
  }

  /** fstat(2) by a task: the size and a tmpfs file's 512-byte blocks (vfs.ts fstat). */
  fstat(task: TaskHandle, f: FileHandle): { size: number; blocks: number | null } {
    this.linuxOnly("fstat");
    return vfs.fstat(this, taskOf(task), fileOf(f));
  }

  /** fallocate(2) by a task (mode: FALLOC_FL_* bits); 0 or -errno. */
  fallocate(task: TaskHandle, f: FileHandle, mode: number, offset: bigint, len: bigint): bigint {
    this.linuxOnly("fallocate");
    return vfs.fallocate(this, taskOf(task), fileOf(f), mode, offset, len);
  }

  /** mincore(2) by a task: 0 or -errno, and the vector (bit 0 of each byte: resident). */
  mincore(task: TaskHandle, addr: bigint, length: bigint): fadvise.MincoreResult {
    this.linuxOnly("mincore");
    return fadvise.mincore(this, taskOf(task), addr, length);
  }

  /** posix_fadvise(2) by a task, the advice by name; 0 or -errno. */
  fadvise(task: TaskHandle, f: FileHandle, offset: bigint, length: bigint, advice: string): bigint {
    this.linuxOnly("fadvise");
    return fadvise.fadvise(this, taskOf(task), fileOf(f), offset, length, advice);
  }

  /** fsync(2) of a file by a task: 0, and the dirty pages it wrote. */
  fsync(task: TaskHandle, f: FileHandle): { ret: bigint; written: number } {
    this.linuxOnly("fsync");
    return fadvise.fsync(this, taskOf(task), fileOf(f));
  }

  /** sync(2): every dirty page-cache page written; the pages written. */
  sync(): number {
    this.linuxOnly("sync");
    return fadvise.sync(this);
  }

  /** A write of `mode` to /proc/sys/vm/drop_caches; 0 or -EINVAL, and the page-cache pages dropped. */
  dropCaches(mode: number): { ret: bigint; dropped: number } {
    this.linuxOnly("drop_caches");
    return fadvise.dropCaches(this, mode);
  }

  /** /proc/sys/vm/nr_hugepages and nr_overcommit_hugepages (hugetlb_sysctl_handler, hugetlb_overcommit_handler). */
  sysctlHugepages(
    nrHugepages: number | null,
    nrOvercommitHugepages: number | null = null,
    sizeKb?: number,
  ): number {
    this.linuxOnly("nr_hugepages");
    return sysctlHugetlb(this.userMm, nrHugepages, nrOvercommitHugepages, sizeKb);
  }

  /** /proc/sys/vm's overcommit knobs (mm/util.c's handlers). */
  sysctlOvercommit(w: Partial<OvercommitSysctls>): OvercommitSysctls {
    this.linuxOnly("overcommit_memory");
    return sysctlOvercommit(this.userMm.settings, w);
  }

  /** /proc/sys/vm's dirty knobs (mm/page-writeback.c's handlers). */
  sysctlDirty(w: Partial<DirtySysctls>): { ret: number; now: DirtySysctls } {
    this.linuxOnly("dirty_ratio");
    const t = this.dirtyThrottle!;
    const ret = t.write(w);
    return { ret, now: { ...t.sysctls } };
  }

  /** /proc/sys/abi/tagged_addr_disabled (arm64: arch/arm64/kernel/process.c) */
  sysctlTaggedAddrDisabled = (value?: number) => mman.sysctlTaggedAddrDisabled(this, value);

  /** /proc/sys/vm/max_map_count (proc_dointvec_minmax, 0 .. INT_MAX). */
  sysctlMaxMapCount(value?: number): { ret: number; now: number } {
    this.linuxOnly("max_map_count");
    return sysctlMaxMapCount(this.userMm, value);
  }

  /** /proc/sys/vm's OOM knobs (mm/oom_kill.c vm_oom_kill_table). */
  sysctlOom(w: Partial<OomSysctls>): { ret: number; now: OomSysctls } {
    this.linuxOnly("panic_on_oom");
    return sysctlOom(this, w);
  }

  /** /proc/sys/vm/swappiness (proc_dointvec_minmax, 0 .. MAX_SWAPPINESS). */
  sysctlSwappiness(value?: number): { ret: number; now: number } {
    this.linuxOnly("swappiness");
    if (value === undefined) return { ret: 0, now: this.config.swappiness };
    if (!Number.isInteger(value) || value < 0 || value > 200)
      return { ret: -22, now: this.config.swappiness };
    this.config.swappiness = value; // reclaim reads it at each get_scan_count (VmscanEnv.swappiness)
    return { ret: 0, now: value };
  }

  /** /proc/sys/vm/compact_memory (sysctl_compaction_handler: 1, or EINVAL). */
  sysctlCompactMemory(value: number): { ret: number; migrated: number; failed: number } {
    this.linuxOnly("compact_memory");
    if (value !== 1) return { ret: -22, migrated: 0, failed: 0 };
    const failed = this.compactStats.pgmigrate_fail;
    const migrated = compactNodes(this.vmscan, this.buddy, this.compactStats);
    return { ret: 0, migrated, failed: this.compactStats.pgmigrate_fail - failed };
  }

  /** shmget(2) by a task; the id or -errno. */
  shmget(task: TaskHandle, key: number, size: number, flags: number): bigint {
    this.linuxOnly("shmget");
    return shm.shmget(this, taskOf(task), key, size, flags);
  }

  /** shmat(2) by a task; the address or -errno. */
  shmat(task: TaskHandle, id: number, addr: bigint, flags: number): bigint {
    this.linuxOnly("shmat");
    return shm.shmat(this, taskOf(task), id, addr, flags);
  }

  /** shmdt(2) by a task; 0 or -errno. */
  shmdt(task: TaskHandle, addr: bigint): bigint {
    this.linuxOnly("shmdt");
    return shm.shmdt(this, taskOf(task), addr);
  }

  /** shmctl(2) by a task. */
  shmctl(task: TaskHandle, id: number, cmd: string): shm.ShmctlResult {
    this.linuxOnly("shmctl");
    return shm.shmctl(this, taskOf(task), id, cmd);
  }

  /** memfd_create(2) by a task: 0 and the file, or -errno. */
  memfdCreate(task: TaskHandle, name: string, flags: number): { ret: bigint; file: FileHandle | null } {
    const r = memfd.memfdCreate(this, taskOf(task), name, flags);
    return typeof r === "number" ? { ret: BigInt(r), file: null } : { ret: 0n, file: r };
  }

  /** fcntl(F_ADD_SEALS) by a task; 0 or -errno. */
  addSeals(task: TaskHandle, f: FileHandle, seals: number): bigint {
    return memfd.addSeals(this, taskOf(task), fileOf(f), seals);
  }

  /** fcntl(F_GET_SEALS) by a task. */
  getSeals(task: TaskHandle, f: FileHandle): bigint {
    return memfd.getSeals(this, taskOf(task), fileOf(f));
  }

  /** Registers a character device with a buffer from alloc_pages; returns the buffer's address. */
  registerDevice(name: string, sizeBytes: number): bigint {
    return vfs.registerDevice(this, name, sizeBytes);
  }

  /** The exception table: faulting instruction -> fixup (search_exception_tables). */
  get extable(): Map<bigint, ExtableEntry> {
    return this.uaccess.extable;
  }

  // ---- addresses (the architecture's __va and __pa) ----

  /** The direct-map address of a physical address (__va). */
  directVa(pa: number): bigint {
    return this.arch.directVa(pa);
  }

  /** Physical address of a direct-map address (__pa), or -1. */
  directPa(va: bigint): number {
    return this.arch.directPa(va, this.machine.phys.sizeBytes);
  }

  /** The frame a kernel virtual address maps to in init_mm (software walk), or -1. */
  kernelPfn(va: bigint): number {
    return alloc.kernelPfn(this, va);
  }

  // ---- the kernel's allocation API (alloc.ts) ----

  /** kmalloc: the direct-map address, ZERO_SIZE_PTR for size 0, or 0n (NULL). */
  kmalloc(size: number, gfp: number = Gfp.KERNEL): bigint {
    return alloc.kmalloc(this, size, gfp);
  }

  /** kfree. Returns null, or what was wrong with the pointer (Linux would BUG or corrupt memory). */
  kfree(va: bigint): string | null {
    return alloc.kfree(this, va);
  }

  /** vmalloc: returns the area's address, or 0n. */
  vmalloc(size: number): bigint {
    return alloc.vmalloc(this, size);
  }

  vfree(va: bigint): string | null {
    return alloc.vfree(this, va);
  }

  /** alloc_pages + page_address: 2^order contiguous frames, as a direct-map address; 0n on failure. */
  allocPages(order: number, gfp: number = Gfp.KERNEL): bigint {
    return alloc.allocPages(this, order, gfp);
  }

  freePages(va: bigint, order: number): string | null {
    return alloc.freePages(this, va, order);
  }

  /** flush_tlb_kernel_range on every CPU. */
  flushTlbKernelRange(startVpn: number, nrPages: number): void {
    this.tlbMgr.flushTlbKernelRange(startVpn, nrPages, this.runningCpu);
  }

  // ---- watching the machine ----

  /** Installs (or, with null, removes) a tracer of every TLB lookup, walk step and fault on every CPU. */
  setTracer(tracer: ((e: HwEvent) => void) | null): void {
    for (const cpu of this.machine.cpus) cpu.tracer = tracer;
  }

  /** Names what the coherence checker's reports blame from now on (when the checker is on). */
  tagChecker(tag: string): void {
    if (this.machine.checker) this.machine.checker.tag = tag;
  }

  // ---- kernel-mode accesses, oopses (the architecture's fault and dumpstack) ----

  userAccessWindow(cpuId: number, open: boolean): string {
    this.arch.userAccessWindow(this.machine.cpus[cpuId], open);
    return this.arch.userAccessWindowNames[open ? 0 : 1];
  }

  /** include/linux/uaccess.h pagefault_disable / pagefault_enable (pagefault_disabled_inc/dec) */
  pagefaultDisable(cpuId: number, disable: boolean): { task: TaskHandle; count: number } | null {
    const task = sched.contextTask(this, cpuId);
    if (!disable && task.pagefaultDisabled === 0) return null;
    task.pagefaultDisabled += disable ? 1 : -1;
    return { task, count: task.pagefaultDisabled };
  }

  /**
   * A plain kernel dereference (no exception-table entry) of one address on
   * `cpuId`, in the context of its current task. On success returns the
   * byte read (or written). A fault nobody can fix is an oops: the report
   * is logged, the task is killed, and with panic_on_oops the machine stops.
   */
  kernelAccess(cpuId: number, va: bigint, access: Access, value = 0): KernelAccessResult {
    return this.arch.kernelAccess(this, cpuId, va, access, value);
  }

  /** BUG(): a `kernel BUG at FILE!` oops in the context of the current task on `cpuId`. Returns the report. */
  bug(cpuId: number, message: string, file: string): string[] {
    return this.arch.bug(this, cpuId, message, file);
  }
}
