import { assert } from "../base/assert.ts";
import { InputError } from "../base/errors.ts";
import { fromBig } from "../base/u64.ts";
import type { Access } from "../hw/access.ts";
import { Machine } from "../hw/Machine.ts";
import { type FrameAllocator, type MapFlags, Mapper } from "../hw/x86_64/Mapper.ts";
import * as alloc from "./alloc.ts";
import type { KernelAccessResult } from "./arch/x86/dumpstack.ts";
import * as dumpstack from "./arch/x86/dumpstack.ts";
import type { UserAccessResult } from "./arch/x86/fault.ts";
import * as fault from "./arch/x86/fault.ts";
import * as pgtable from "./arch/x86/pgtable.ts";
import { CEA_PAGES_PER_CPU, CPU_ENTRY_AREA_BASE, ENTRY_TEXT_START, ptiInitUserPgd } from "./arch/x86/pti.ts";
import { X86Tlb } from "./arch/x86/tlb.ts";
import * as tlbflush from "./arch/x86/tlbflush.ts";
import { type KernelConfig, type ResolvedKernelConfig, resolveConfig } from "./config.ts";
import type { Device, KernelCore, MemblockSummary, Oops } from "./core.ts";
import { type FileObject, PageCache } from "./fs/file.ts";
import * as gup from "./gup.ts";
import { type Layout, X86_64_LA57_LAYOUT, X86_64_LAYOUT } from "./layout.ts";
import * as madvise from "./madvise.ts";
import * as memcontrol from "./memcontrol.ts";
import { BuddyAllocator } from "./mm/buddy.ts";
import { Gfp } from "./mm/gfp.ts";
import type { MmStruct } from "./mm/MmStruct.ts";
import { PageDescTable, PageKind } from "./mm/PageDesc.ts";
import { SlabAllocator } from "./mm/slab.ts";
import { SwapArea } from "./mm/swap.ts";
import { type MmapArgs, UserMm } from "./mm/userMm.ts";
import { Vmalloc } from "./mm/vmalloc.ts";
import { Vmscan } from "./mm/vmscan.ts";
import * as mman from "./mman.ts";
import { outOfMemory } from "./oom.ts";
import * as reclaim from "./reclaim.ts";
import * as sched from "./sched.ts";
import type { Task } from "./task.ts";
import { type ExtableEntry, Uaccess } from "./uaccess.ts";
import { Vaddr } from "./vaddr.ts";
import * as vfs from "./vfs.ts";

export type { KernelAccessResult } from "./arch/x86/dumpstack.ts";
export type { UserAccessResult } from "./arch/x86/fault.ts";

export { type KernelConfig, MIN_RAM } from "./config.ts";
export { COPY_USER_FIXUP, COPY_USER_IP, type UserCopyResult } from "./uaccess.ts";

/** Where the kernel image sits in physical memory: CONFIG_PHYSICAL_START (16 MiB). */
export const KERNEL_PHYS_START = 16 << 20;
/** Kernel image sections (bytes): text (read-only, executable), rodata (read-only, NX), data+bss (NX). */
export const KERNEL_TEXT = 2 << 20;
export const KERNEL_RODATA = 2 << 20;
export const KERNEL_DATA = 2 << 20;
/** sizeof(struct page) */
const STRUCT_PAGE_SIZE = 64;

/** PAGE_KERNEL: present, writable, accessed, dirty, global, NX. */
const PAGE_KERNEL: MapFlags = { writable: true, nx: true, global: true, accessed: true, dirty: true };
const PAGE_KERNEL_RO: MapFlags = { nx: true, global: true, accessed: true, dirty: true };
const PAGE_KERNEL_RX: MapFlags = { global: true, accessed: true, dirty: true };

export { kindName } from "./alloc.ts";
export type { Oops } from "./core.ts";

/**
 * The Linux-shaped kernel, booted on a simulated x86-64 machine: its page
 * tables live in simulated RAM, its allocators manage simulated frames.
 *
 * Boot (Linux: setup_arch, init_mem_mapping, paging_init, mm_core_init):
 * the first 1 MiB is reserved; the kernel image is at 16 MiB; early page
 * tables and the memmap come from memblock right after the image; the rest
 * goes to the buddy allocator. Kernel memory is never reclaimed: nothing in
 * vmlab ever unmaps or moves a frame of a kernel kind.
 */
export class Kernel implements KernelCore {
  readonly machine: Machine;
  readonly pages: PageDescTable;
  readonly buddy: BuddyAllocator;
  readonly slab: SlabAllocator;
  readonly vm: Vmalloc;
  /** user address spaces: mmap, faults, fork */
  readonly userMm: UserMm;
  /** the page cache of the simulated file system (mm/filemap.c) */
  readonly pageCache: PageCache;
  /** the swap area (mm/swapfile.c), or null */
  readonly swap: SwapArea | null;
  /** pages the last MADV_PAGEOUT calls reclaimed (reset by callers that report it) */
  lastPageout = 0;
  /** page reclaim over the LRU lists (mm/vmscan.c) */
  readonly vmscan: Vmscan;
  /** OOM kills so far, and the kernel's report line for each */
  oomKills = 0;
  readonly oomReports: string[] = [];
  /** the address space whose fault or system call is allocating (the OOM killer does not reap it in place) */
  faultingMm: MmStruct | null = null;
  /** reclaim is running (allocations inside it do not recurse into reclaim) */
  reclaiming = false;
  /** policy=lru: every user access moves its page to the head of the list */
  readonly exactLru: boolean;
  /** ASIDs, context switches, TLB shootdowns */
  readonly tlbMgr: X86Tlb;
  /** empty_zero_page: the frame every anonymous read of an untouched page maps */
  readonly zeroPfn: number;
  /** the CPU running the current system call (flushes from it need no IPI) */
  runningCpu = 0;
  readonly layout: Layout;
  readonly va: Vaddr;
  /** edits the kernel's page tables (init_mm), taking table pages from the buddy allocator */
  readonly mapper: Mapper;
  /** init_mm.pgd (swapper_pg_dir) */
  readonly rootPfn: number;
  readonly levels: 4 | 5;
  readonly config: ResolvedKernelConfig;
  readonly tasks: Task[] = [];
  readonly current: (Task | null)[];
  readonly oopses: Oops[] = [];
  panicked: string | null = null;
  /** kernel log (dmesg) */
  readonly log: string[] = [];
  /** frames memblock handed out at boot: [start, end) pfns after the image */
  readonly memblock: MemblockSummary;
  /** the next pid, and each CPU's next kworker number */
  nextPid = 0;
  readonly kworkerSerial: number[];
  private readonly directVpn: number;
  private readonly directEndVpn: number;
  private readonly kernelMapVpn: number;
  /** pages of user/kernel page tables allocated after boot (NR_PAGETABLE) */
  pageTablePages = 0;

  constructor(config: KernelConfig) {
    this.config = resolveConfig(config);
    const arch = this.config.arch;
    const sw = this.config.swapBytes;
    this.swap = sw > 0 ? new SwapArea(sw / 4096) : null;
    const fab = this.config.faultAroundBytes;
    this.levels = arch === "x86_64-la57" ? 5 : 4;
    this.layout = this.levels === 5 ? X86_64_LA57_LAYOUT : X86_64_LAYOUT;
    this.va = new Vaddr(this.levels);
    this.machine = new Machine({
      ramBytes: config.ramBytes,
      cpus: this.config.cpus,
      la57: this.levels === 5,
      tlb: this.config.tlb,
      psc: this.config.psc,
      checkCoherence: this.config.checkCoherence,
    });
    const nrFrames = this.machine.phys.nrFrames;
    this.pages = new PageDescTable(nrFrames);
    this.buddy = new BuddyAllocator(this.pages, nrFrames);
    this.directVpn = this.va.vpn(this.layout.directMap);
    this.directEndVpn = this.directVpn + nrFrames;
    this.kernelMapVpn = this.va.vpn(this.layout.kernelMap);

    // ---- memblock: early allocations right after the kernel image ----
    const imageStart = KERNEL_PHYS_START / 4096;
    const imageEnd = imageStart + (KERNEL_TEXT + KERNEL_RODATA + KERNEL_DATA) / 4096;
    let next = imageEnd;
    const used: [number, number][] = [];
    const memblockAlloc = (count: number, align: number, kind: PageKind): number => {
      next = Math.ceil(next / align) * align;
      if (next + count > nrFrames)
        throw new InputError(`ram=${config.ramBytes} is too small for the kernel's boot allocations`);
      const pfn = next;
      next += count;
      used.push([pfn, pfn + count]);
      this.pages.setKind(pfn, count, kind);
      this.machine.phys.zeroFrame(pfn);
      return pfn;
    };
    const bootTables: FrameAllocator = { allocFrame: () => memblockAlloc(1, 1, PageKind.PageTable) };
    const boot = new Mapper(this.machine.phys, this.levels, 46, bootTables);
    // init_top_pgt; with PTI an 8 KiB-aligned pair whose second page is the user PGD
    if (this.config.pti) {
      this.rootPfn = memblockAlloc(2, 2, PageKind.PageTable);
      this.machine.phys.zeroFrame(this.rootPfn + 1);
    } else this.rootPfn = boot.newRoot();
    // with PTI the kernel is mostly non-global (__default_kernel_pte_mask &= ~_PAGE_GLOBAL)
    const kf = (f: MapFlags): MapFlags => (this.config.pti ? { ...f, global: false } : f);
    this.pages.setKind(0, 256, PageKind.Reserved);
    this.pages.setKind(imageStart, imageEnd - imageStart, PageKind.KernelImage);

    // ---- the direct map (init_mem_mapping): 4K for the first 2 MiB, then 2M pages, 1G from 1 GiB ----
    let pfn = 0;
    while (pfn < nrFrames) {
      let size = 0;
      if (pfn >= 262144 && pfn % 262144 === 0 && pfn + 262144 <= nrFrames) size = 2;
      else if (pfn >= 512 && pfn % 512 === 0 && pfn + 512 <= nrFrames) size = 1;
      const r = boot.map(this.rootPfn, this.directVpn + pfn, pfn, size, kf(PAGE_KERNEL));
      assert(r.ok, "boot: direct map");
      pfn += [1, 512, 262144][size];
    }
    // ---- the kernel image at __START_KERNEL_map + phys, 2M pages ----
    const sections: [number, MapFlags][] = [
      [KERNEL_TEXT, kf(PAGE_KERNEL_RX)],
      [KERNEL_RODATA, kf(PAGE_KERNEL_RO)],
      [KERNEL_DATA, kf(PAGE_KERNEL)],
    ];
    let at = imageStart;
    for (const [bytes, flags] of sections) {
      for (let p = at; p < at + bytes / 4096; p += 512) {
        assert(boot.map(this.rootPfn, this.kernelMapVpn + p, p, 1, flags).ok, "boot: kernel image");
      }
      at += bytes / 4096;
    }
    // ---- vmemmap: the struct page array, in 2M blocks (vmemmap_populate_hugepages) ----
    const memmapPages = Math.ceil((nrFrames * STRUCT_PAGE_SIZE) / 4096);
    const vmemmapVpn = this.va.vpn(this.layout.vmemmap);
    for (let off = 0; off < memmapPages; off += 512) {
      const block = memblockAlloc(512, 512, PageKind.Memmap);
      assert(boot.map(this.rootPfn, vmemmapVpn + off, block, 1, kf(PAGE_KERNEL)).ok, "boot: vmemmap");
    }
    // ---- vmalloc: the tables below the top level are preallocated (preallocate_vmalloc_pages) ----
    const vmStart = this.va.vpn(this.layout.vmallocStart);
    const vmEnd = this.va.vpn(this.layout.vmallocEnd - 1n) + 1;
    const topSpan = 512 ** (this.levels - 1);
    for (let v = vmStart; v < vmEnd; v += topSpan)
      assert(boot.ensureTable(this.rootPfn, v, this.levels - 2) >= 0, "boot: vmalloc");
    // ---- fixmap: its page table (level1_fixmap_pgt), no slot mapped while idle ----
    assert(
      boot.ensureTable(this.rootPfn, this.va.vpn(this.layout.fixaddrTop - 4096n), 0) >= 0,
      "boot: fixmap",
    );
    if (this.config.pti) {
      // ---- PTI: the cpu_entry_area (per CPU: GDT, entry stack, TSS), then the user PGD's kernel part ----
      const ceaVpn = this.va.vpn(CPU_ENTRY_AREA_BASE);
      for (let c = 0; c < this.config.cpus; c++) {
        const frames = memblockAlloc(CEA_PAGES_PER_CPU, 1, PageKind.KernelPages);
        for (let i = 0; i < CEA_PAGES_PER_CPU; i++) {
          const flags = i === 0 ? PAGE_KERNEL_RO : PAGE_KERNEL; // the GDT is mapped read-only
          assert(
            boot.map(this.rootPfn, ceaVpn + c * CEA_PAGES_PER_CPU + i, frames + i, 0, flags).ok,
            "boot: cea",
          );
        }
      }
      ptiInitUserPgd(boot, this.rootPfn, this.va.vpn(ENTRY_TEXT_START), ceaVpn);
    }
    this.memblock = { start: imageEnd, end: next, frames: used.reduce((n, [a, b]) => n + b - a, 0) };

    // ---- hand the rest to the buddy allocator (memblock_free_all), alignment gaps included ----
    this.buddy.freeBootRange(256, imageStart);
    let gap = imageEnd;
    for (const [a, b] of used.sort((x, y) => x[0] - y[0])) {
      if (a > gap) this.buddy.freeBootRange(gap, a);
      gap = Math.max(gap, b);
    }
    this.buddy.freeBootRange(next, nrFrames);
    this.buddy.setupWatermarks();
    this.slab = new SlabAllocator(this.buddy, this.pages, this.config.cpus);
    const tableAlloc: FrameAllocator = {
      allocFrame: () => {
        const t = this.buddy.alloc(0, Gfp.KERNEL, PageKind.PageTable);
        if (t >= 0) this.pageTablePages++;
        return t;
      },
    };
    this.mapper = new Mapper(this.machine.phys, this.levels, 46, tableAlloc);
    const lazyMax = (32 - Math.clz32(this.config.cpus)) * 8192;
    this.vm = new Vmalloc(
      this.buddy,
      {
        mapKernelPage: (vpn, p) => this.mapper.map(this.rootPfn, vpn, p, 0, kf(PAGE_KERNEL)).ok,
        unmapKernelPage: (vpn) => {
          this.mapper.unmap(this.rootPfn, vpn);
        },
        flushKernelRange: (vpn, n) => this.flushTlbKernelRange(vpn, n),
      },
      vmStart,
      vmEnd,
      lazyMax,
      this.config.vmallocLazy,
    );

    // ---- user address spaces; empty_zero_page is the last page of the image's bss ----
    this.zeroPfn = imageEnd - 1;
    const taskSizeVpn = this.va.vpn(this.layout.userEnd) - 1; // TASK_SIZE_MAX = 2^47 - PAGE_SIZE
    this.pageCache = new PageCache(this.machine.phys, this.pages, this.buddy);
    this.userMm = new UserMm(
      {
        pageCache: this.pageCache,
        swap: this.swap,
        lru: null,
        phys: this.machine.phys,
        pages: this.pages,
        buddy: this.buddy,
        levels: this.levels,
        kernelRootPfn: this.rootPfn,
        pti: this.config.pti,
        zeroPfn: this.zeroPfn,
        taskSizeVpn,
        countPageTables: (d) => {
          this.pageTablePages += d;
        },
        chargeUserPage: () => memcontrol.chargeUserPage(this),
        chargeHugePage: () => memcontrol.chargeHugePage(this),
        flushTlbMmRange: (mm, vpn, n) =>
          this.tlbMgr.flushTlbMmRange(mm, vpn, n, this.runningCpu, (v) => {
            const { hi, lo } = fromBig(this.va.canonical(v));
            return [hi, lo];
          }),
      },
      {
        thp: this.config.thp,
        thpZeroPage: this.config.thpZeroPage,
        // fault_around_bytes_set: max(rounddown_pow_of_two(val) >> PAGE_SHIFT, 1)
        faultAroundPages: fab < 4096 ? 1 : 2 ** Math.floor(Math.log2(fab / 4096)),
        pageCluster: this.config.pageCluster,
        readaheadPages: Math.max(1, this.config.readaheadKb / 4),
        mmapMinAddr: this.config.mmapMinAddr,
        overcommit: this.config.overcommit,
        totalRamPages: () => this.buddy.managedPages(),
        totalSwapPages: () => this.swap?.totalPages ?? 0,
        committedPages: () => this.tasks.reduce((n, t) => n + (t.alive && t.mm ? t.mm.committed : 0), 0),
      },
    );
    this.vmscan = new Vmscan(
      {
        phys: this.machine.phys,
        pages: this.pages,
        userMm: this.userMm,
        pageCache: this.pageCache,
        swap: this.swap,
        mms: () => [...new Set(this.tasks.filter((t) => t.alive && t.mm).map((t) => t.mm!))],
        flushPage: (mm, vpn) => this.userMm.env.flushTlbMmRange(mm, vpn, 1),
        swappiness: () => this.config.swappiness,
        policy: this.config.policy,
        seed: this.config.seed,
      },
      this.pages.nrFrames,
    );
    this.exactLru = this.config.policy === "lru";
    this.userMm.env.lru = this.vmscan;
    this.pageCache.lru = this.vmscan;
    this.buddy.hooks = {
      wakeKswapd: () => {
        reclaim.kswapd(this);
      },
      directReclaim: (order) => reclaim.directReclaim(this, order),
      outOfMemory: (order) => outOfMemory(this, order),
    };
    this.tlbMgr = new X86Tlb(this.machine.cpus, this.config.pcid, this.config.pti);
    this.tlbMgr.onMmUnloaded = (mm) => this.userMm.freePgd(mm);

    // ---- CPUs: paging on, CR3 = init_mm's PGD ----
    for (const cpu of this.machine.cpus) {
      cpu.setNxe(true);
      cpu.setWp(true);
      cpu.movToCr4({ pge: true, pcide: this.config.pcid, smep: this.config.smep, smap: this.config.smap });
      cpu.movToCr3(0, this.rootPfn * 4096);
    }
    // ---- tasks: the idle tasks, init, kthreadd, one kworker per CPU as the context of kernel statements ----
    this.uaccess = new Uaccess({
      cpus: this.machine.cpus,
      phys: this.machine.phys,
      userEnd: this.layout.userEnd,
      contextTask: (cpuId) => this.contextTask(cpuId),
      enter: (cpuId) => {
        this.runningCpu = cpuId;
        this.tlbMgr.enterKernel(cpuId);
      },
      resolveUserFault: (task, va, errorCode) => fault.doUserAddrFault(this, task, va, errorCode) === null,
    });
    this.current = this.machine.cpus.map(() => null);
    this.kworkerSerial = this.machine.cpus.map(() => 0);
    sched.schedInit(this);
    this.log.push(
      `Memory: ${(this.buddy.freePages() * 4) | 0}K/${(nrFrames * 4) | 0}K available (${((KERNEL_TEXT + KERNEL_RODATA + KERNEL_DATA) / 1024) | 0}K kernel image, ${(this.memblock.frames * 4) | 0}K memblock, ${(256 * 4) | 0}K reserved)`,
    );
  }

  /** The task kernel code on `cpu` runs for; a fresh kworker if the last one died. */
  contextTask(cpu: number): Task {
    return sched.contextTask(this, cpu);
  }

  // =====================================================================
  // Processes
  // =====================================================================

  /** A new user process: an empty address space but for its main-thread stack, as exec leaves it. */
  spawn(comm: string, uid = 0, rlimitStack = 8 << 20): Task | null {
    return sched.spawn(this, comm, uid, rlimitStack);
  }

  /** fork: the child gets a copy of the address space (copy-on-write) and counters from zero. */
  fork(parent: Task, comm: string): Task | null {
    return sched.fork(this, parent, comm);
  }

  /** A thread of `parent` (clone with CLONE_VM; the scenario language's `P: thread NAME`). */
  thread(parent: Task, comm: string): Task | null {
    return sched.thread(this, parent, comm);
  }

  /** The PGD user code runs on: under PTI the second page of the pair, else the only one. */
  userPgdPfn(mm: MmStruct): number {
    return pgtable.userPgdPfn(this, mm);
  }

  /** A kernel thread: no user address space. */
  kthread(comm: string): Task {
    return sched.newTask(this, comm, true);
  }

  /** The CPU a task is current on, or -1. */
  cpuOf(task: Task): number {
    return sched.cpuOf(this, task);
  }

  /** A context switch of `cpuId` to `task`. */
  switchTo(cpuId: number, task: Task): void {
    sched.switchTo(this, cpuId, task);
  }

  /** do_exit: tear down the address space; the task is gone. */
  exit(task: Task, reason: string): void {
    sched.exit(this, task, reason);
  }

  // ---- memory system calls (on the CPU where the task is current) ----

  /** mmap; returns the address or -errno (as a bigint). */
  mmap(task: Task, args: MmapArgs): bigint {
    return mman.mmap(this, task, args);
  }

  /** Creates a file of `sizeBytes` on the simulated file system (disk, optionally cached, or tmpfs). */
  createFile(name: string, sizeBytes: number, fs: "disk" | "tmpfs" = "disk", cached = false): FileObject {
    return vfs.createFile(this, name, sizeBytes, fs, cached);
  }

  /** msync(MS_SYNC); 0 or -errno (EINVAL misaligned, ENOMEM when the range has a hole). */
  msync(task: Task, addr: bigint, length: bigint): bigint {
    return mman.msync(this, task, addr, length);
  }

  // ---- memory pressure (mm/vmscan.c, mm/oom_kill.c) ----

  /** Reclaims up to `pages` pages (try_to_free_pages); returns how many. */
  reclaim(pages: number): number {
    return reclaim.reclaim(this, pages);
  }

  /** kswapd's balance_pgdat, run at once: reclaim up to the high watermark. Returns pages reclaimed. */
  kswapd(): number {
    return reclaim.kswapd(this);
  }

  /** munmap; 0 or -errno. */
  munmap(task: Task, addr: bigint, length: bigint): bigint {
    return mman.munmap(this, task, addr, length);
  }

  /** mprotect; 0 or -errno. */
  mprotect(task: Task, addr: bigint, length: bigint, prot: { r: boolean; w: boolean; x: boolean }): bigint {
    return mman.mprotect(this, task, addr, length, prot);
  }

  /** madvise; 0 or -errno (-ENOMEM after applying when the range has a hole). */
  madvise(task: Task, addr: bigint, length: bigint, advice: string): bigint {
    return madvise.madvise(this, task, addr, length, advice);
  }

  /** mlock / mlock2(MLOCK_ONFAULT): VM_LOCKED over the range, populated unless on fault. */
  mlock(task: Task, addr: bigint, length: bigint, onFault: boolean): bigint {
    return mman.mlock(this, task, addr, length, onFault);
  }

  munlock(task: Task, addr: bigint, length: bigint): bigint {
    return mman.munlock(this, task, addr, length);
  }

  /** brk, as sbrk: moves the break by delta bytes and returns the old break, or -ENOMEM. */
  brk(task: Task, delta: bigint): bigint {
    return mman.brk(this, task, delta);
  }

  /** mremap; returns the new address or -errno. */
  mremap(task: Task, addr: bigint, oldSize: bigint, newSize: bigint, mayMove: boolean, to: bigint): bigint {
    return mman.mremap(this, task, addr, oldSize, newSize, mayMove, to);
  }

  /** get_dump_page: the frame at `vpn` for a core dump, or -1 for a hole. */
  getDumpPage(task: Task, vpn: number): number {
    return gup.getDumpPage(this, task, vpn);
  }

  /**
   * A user-mode access by `task` on `cpuId` (which must have it current):
   * translate at CPL 3; on a page fault run do_user_addr_fault and retry.
   * An access the kernel cannot resolve raises a signal: caught, it is
   * abandoned; uncaught, it kills the task.
   */
  userAccess(cpuId: number, task: Task, va: bigint, access: Access, value = 0): UserAccessResult {
    return fault.userAccess(this, cpuId, task, va, access, value);
  }

  // =====================================================================
  // Addresses
  // =====================================================================

  /** The direct-map address of a physical address (__va). */
  directVa(pa: number): bigint {
    return pgtable.directVa(this, pa);
  }

  /** Physical address of a direct-map address (__pa), or -1. */
  directPa(va: bigint): number {
    return pgtable.directPa(this, va);
  }

  /** Is vpn inside the direct map? */
  inDirectMap(vpn: number): boolean {
    return vpn >= this.directVpn && vpn < this.directEndVpn;
  }

  /** Is vpn inside the kernel image mapping (__START_KERNEL_map ... modules)? */
  inKernelMap(vpn: number): boolean {
    return vpn >= this.kernelMapVpn && vpn < this.va.vpn(this.layout.modulesStart);
  }

  // =====================================================================
  // Allocation (the kernel API)
  // =====================================================================

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

  // =====================================================================
  // TLB maintenance
  // =====================================================================

  /** flush_tlb_kernel_range on every CPU. */
  flushTlbKernelRange(startVpn: number, nrPages: number): void {
    tlbflush.flushTlbKernelRange(this, startVpn, nrPages);
  }

  // =====================================================================
  // Kernel-mode accesses and faults
  // =====================================================================

  /** character devices: a kernel buffer each, mapped to processes by remap_pfn_range */
  readonly devices = new Map<string, Device>();

  /** Registers a character device with a buffer from alloc_pages; returns the buffer's address. */
  registerDevice(name: string, sizeBytes: number): bigint {
    return vfs.registerDevice(this, name, sizeBytes);
  }

  /** The user-access routines (copy_*_user, get_user, put_user, clear_user, strncpy_from_user). */
  readonly uaccess: Uaccess;

  /** The exception table: faulting instruction -> fixup (search_exception_tables). */
  get extable(): Map<bigint, ExtableEntry> {
    return this.uaccess.extable;
  }

  /** read(2) / write(2) between a file and a user buffer; bytes transferred, or -EFAULT. */
  fileIo(cpuId: number, f: FileObject, uva: bigint, len: number, write: boolean): number {
    return vfs.fileIo(this, cpuId, f, uva, len, write);
  }

  /**
   * A plain kernel dereference (no exception-table entry) of one address on
   * `cpuId`, in the context of its current task. On success returns the
   * byte read (or written). A fault nobody can fix is an oops: the report
   * is logged, the task is killed, and with panic_on_oops the machine stops.
   */
  kernelAccess(cpuId: number, va: bigint, access: Access, value = 0): KernelAccessResult {
    return fault.kernelAccess(this, cpuId, va, access, value);
  }

  /** BUG(): a `kernel BUG at FILE!` oops in the context of the current task on `cpuId`. Returns the report. */
  bug(cpuId: number, message: string, file: string): string[] {
    return dumpstack.bug(this, cpuId, message, file);
  }

  /** The frame a kernel virtual address maps to in init_mm (software walk), or -1. */
  kernelPfn(va: bigint): number {
    return pgtable.kernelPfn(this, va);
  }
}
