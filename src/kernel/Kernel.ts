import { assert } from "../base/assert.ts";
import { InputError } from "../base/errors.ts";
import { fromBig } from "../base/u64.ts";
import { Access, Mode } from "../hw/access.ts";
import { Machine } from "../hw/Machine.ts";
import { type Cpu, WalkRecord } from "../hw/x86_64/Cpu.ts";
import { Outcome, PfErr } from "../hw/x86_64/fault.ts";
import { type FrameAllocator, type MapFlags, Mapper } from "../hw/x86_64/Mapper.ts";
import { Pte } from "../hw/x86_64/pte.ts";
import { oopsReport } from "./arch/x86/oops.ts";
import { CEA_PAGES_PER_CPU, CPU_ENTRY_AREA_BASE, ENTRY_TEXT_START, ptiInitUserPgd } from "./arch/x86/pti.ts";
import { X86Tlb } from "./arch/x86/tlb.ts";
import { type FileObject, PageCache } from "./fs/file.ts";
import { type Layout, X86_64_LA57_LAYOUT, X86_64_LAYOUT } from "./layout.ts";
import { BuddyAllocator, MAX_ORDER, Wmark } from "./mm/buddy.ts";
import { Gfp } from "./mm/gfp.ts";
import type { MmStruct } from "./mm/MmStruct.ts";
import { PageDescTable, PageKind } from "./mm/PageDesc.ts";
import { KMALLOC_MAX_CACHE_SIZE, kmallocIndex, SlabAllocator, ZERO_SIZE_PTR } from "./mm/slab.ts";
import { SwapArea } from "./mm/swapfile.ts";
import { Errno, type MmapArgs, PTE_SPECIAL, UserMm, VmFault } from "./mm/userMm.ts";
import { Vma, VmFlag } from "./mm/vma.ts";
import { Vmalloc } from "./mm/vmalloc.ts";
import { RECLAIM_POLICIES, type ReclaimPolicy, SWAP_CLUSTER_MAX, Vmscan } from "./mm/vmscan.ts";
import { Task } from "./task.ts";
import { type ExtableEntry, Uaccess } from "./uaccess.ts";
import { px, Vaddr } from "./vaddr.ts";

/** The machine and kernel options that concern the kernel's own memory (the `machine` statement). */
export interface KernelConfig {
  ramBytes: number;
  /**
   * A limit on the pages user memory may hold (a cgroup's memory.max over
   * every process): at the limit, allocating a user page first reclaims
   * (try_to_free_mem_cgroup_pages). Null: no limit.
   */
  userMemoryPages?: number | null;
  cpus?: number;
  arch?: "x86_64" | "x86_64-la57";
  /** TLB preset or spec */
  tlb?: string;
  /** use PCIDs (CR4.PCIDE); default on */
  pcid?: boolean;
  /** page-table isolation (pti=on): two PGDs per mm, CR3 switched on kernel entry and exit */
  pti?: boolean;
  /** CR4.SMAP / CR4.SMEP; default on */
  smap?: boolean;
  smep?: boolean;
  /** panic on the first oops (kernel.panic_on_oops) */
  panicOnOops?: boolean;
  /** paging-structure caches in the CPUs */
  psc?: boolean;
  /** report every use of a stale TLB entry */
  checkCoherence?: boolean;
  /** vfree flushes TLBs lazily, as Linux does (default true) */
  vmallocLazy?: boolean;
  /** vm.mmap_min_addr (default 65536) */
  mmapMinAddr?: number;
  /** vm.overcommit_memory: heuristic (0), always (1), never (2) */
  overcommit?: "heuristic" | "always" | "never";
  /** /sys/kernel/mm/transparent_hugepage/enabled (default madvise) */
  thp?: "never" | "madvise" | "always";
  /** .../transparent_hugepage/use_zero_page (default on) */
  thpZeroPage?: boolean;
  /** debugfs fault_around_bytes (default 65536); rounded down to a power of two pages, at most 2 MiB */
  faultAroundBytes?: number;
  /** the block device's read_ahead_kb (default 128) */
  readaheadKb?: number;
  /** the size of the swap area in bytes (default 0: no swap) */
  swapBytes?: number;
  /** vm.swappiness, 0 .. 200 (default 60) */
  swappiness?: number;
  /** vm.page-cluster: swap readahead reads 2^N pages (default 3; 0 turns it off) */
  pageCluster?: number;
  /** the page-reclaim policy (default linux: the two-list LRU) */
  policy?: ReclaimPolicy;
  /** seeds the random reclaim policy */
  seed?: number;
}

/** A user access's outcome: the byte, or the signal it raised (and whether that killed the task). */
export type UserAccessResult =
  | { ok: true; pa: number; value: number; faults: number }
  | { ok: false; signal: string; siCode: string; siAddr: bigint; killed: boolean; faults: number };

export { COPY_USER_FIXUP, COPY_USER_IP, type UserCopyResult } from "./uaccess.ts";

/** Where the kernel image sits in physical memory: CONFIG_PHYSICAL_START (16 MiB). */
export const KERNEL_PHYS_START = 16 << 20;
/** Kernel image sections (bytes): text (read-only, executable), rodata (read-only, NX), data+bss (NX). */
export const KERNEL_TEXT = 2 << 20;
export const KERNEL_RODATA = 2 << 20;
export const KERNEL_DATA = 2 << 20;
/** The smallest machine vmlab boots. */
export const MIN_RAM = 32 << 20;
/** sizeof(struct page) */
const STRUCT_PAGE_SIZE = 64;

/** PAGE_KERNEL: present, writable, accessed, dirty, global, NX. */
const PAGE_KERNEL: MapFlags = { writable: true, nx: true, global: true, accessed: true, dirty: true };
const PAGE_KERNEL_RO: MapFlags = { nx: true, global: true, accessed: true, dirty: true };
const PAGE_KERNEL_RX: MapFlags = { global: true, accessed: true, dirty: true };

export type KernelAccessResult =
  | { ok: true; pa: number; value: number; faults: number }
  | { ok: false; oops: string[]; panic: string | null };

/** One oops as it happened. */
export interface Oops {
  lines: string[];
  cpu: number;
  pid: number;
  comm: string;
}

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
export class Kernel {
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
  private faultingMm: MmStruct | null = null;
  private reclaiming = false;
  /** policy=lru: every user access moves its page to the head of the list */
  private readonly exactLru: boolean;
  /** ASIDs, context switches, TLB shootdowns */
  readonly tlbMgr: X86Tlb;
  /** empty_zero_page: the frame every anonymous read of an untouched page maps */
  readonly zeroPfn: number;
  /** the CPU running the current system call (flushes from it need no IPI) */
  private runningCpu = 0;
  readonly layout: Layout;
  readonly va: Vaddr;
  /** edits the kernel's page tables (init_mm), taking table pages from the buddy allocator */
  readonly mapper: Mapper;
  /** init_mm.pgd (swapper_pg_dir) */
  readonly rootPfn: number;
  readonly levels: 4 | 5;
  readonly config: Required<Omit<KernelConfig, "tlb" | "arch">> & {
    tlb: string;
    arch: "x86_64" | "x86_64-la57";
  };
  readonly tasks: Task[] = [];
  readonly current: (Task | null)[];
  readonly oopses: Oops[] = [];
  panicked: string | null = null;
  /** kernel log (dmesg) */
  readonly log: string[] = [];
  /** frames memblock handed out at boot: [start, end) pfns after the image */
  readonly memblock: { start: number; end: number; frames: number };
  private nextPid = 0;
  private readonly kworkerSerial: number[];
  private readonly directVpn: number;
  private readonly directEndVpn: number;
  private readonly kernelMapVpn: number;
  private readonly rec = new WalkRecord();
  /** pages of user/kernel page tables allocated after boot (NR_PAGETABLE) */
  pageTablePages = 0;

  constructor(config: KernelConfig) {
    const arch = config.arch ?? "x86_64";
    this.config = {
      ramBytes: config.ramBytes,
      cpus: config.cpus ?? 1,
      arch,
      tlb: config.tlb ?? "skylake",
      pcid: config.pcid ?? true,
      userMemoryPages: config.userMemoryPages ?? null,
      pti: config.pti ?? false,
      smap: config.smap ?? true,
      smep: config.smep ?? true,
      panicOnOops: config.panicOnOops ?? false,
      psc: config.psc ?? false,
      checkCoherence: config.checkCoherence ?? false,
      vmallocLazy: config.vmallocLazy ?? true,
      mmapMinAddr: config.mmapMinAddr ?? 65536,
      overcommit: config.overcommit ?? "heuristic",
      thp: config.thp ?? "madvise",
      thpZeroPage: config.thpZeroPage ?? true,
      faultAroundBytes: config.faultAroundBytes ?? 65536,
      readaheadKb: config.readaheadKb ?? 128,
      swapBytes: config.swapBytes ?? 0,
      swappiness: config.swappiness ?? 60,
      policy: config.policy ?? "linux",
      pageCluster: config.pageCluster ?? 3,
      seed: config.seed ?? 1,
    };
    if (
      !(
        Number.isInteger(this.config.pageCluster) &&
        this.config.pageCluster >= 0 &&
        this.config.pageCluster <= 9
      )
    )
      throw new InputError(`page_cluster=${this.config.pageCluster}: must be 0 .. 9`);
    if (!RECLAIM_POLICIES.includes(this.config.policy))
      throw new InputError(`policy=${this.config.policy}: one of ${RECLAIM_POLICIES.join(", ")}`);
    if (
      !(
        Number.isInteger(this.config.swappiness) &&
        this.config.swappiness >= 0 &&
        this.config.swappiness <= 200
      )
    )
      throw new InputError(`swappiness=${this.config.swappiness}: must be an integer from 0 to 200`);
    const sw = this.config.swapBytes;
    if (!(Number.isInteger(sw) && sw >= 0 && sw <= 2 ** 36 && sw % 4096 === 0))
      throw new InputError(`swap=${sw}: must be a multiple of 4096 from 0 to 64 GiB`);
    if (sw > 0 && sw < 2 * 4096)
      throw new InputError(`swap=${sw}: a swap area needs its header page and at least one page`);
    this.swap = sw > 0 ? new SwapArea(sw / 4096) : null;
    const fab = this.config.faultAroundBytes;
    if (!(Number.isInteger(fab) && fab >= 0 && fab <= 512 * 4096))
      throw new InputError(
        `fault_around_bytes=${fab}: must be an integer from 0 to 2097152 (PTRS_PER_PTE pages)`,
      );
    if (
      !(
        Number.isInteger(this.config.readaheadKb) &&
        this.config.readaheadKb >= 0 &&
        this.config.readaheadKb <= 65536
      )
    )
      throw new InputError(`read_ahead_kb=${this.config.readaheadKb}: must be an integer from 0 to 65536`);
    if (!(config.ramBytes >= MIN_RAM)) {
      throw new InputError(
        `ram=${config.ramBytes} is too small: the kernel image is loaded at 16 MiB, so vmlab boots with at least 32 MiB`,
      );
    }
    if (config.ramBytes > 2 ** 46)
      throw new InputError(`ram=${config.ramBytes} is larger than x86-64's 64 TiB direct map`);
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
        chargeUserPage: () => this.chargeUserPage(),
        chargeHugePage: () => this.chargeHugePage(),
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
        this.kswapd();
      },
      directReclaim: (order) => {
        if (this.reclaiming) return 0;
        this.vmscan.stats.direct_reclaims++;
        return this.reclaim(Math.max(SWAP_CLUSTER_MAX, 1 << order));
      },
      outOfMemory: (order) => this.outOfMemory(order),
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
      resolveUserFault: (task, va, errorCode) => this.doUserAddrFault(task, va, errorCode) === null,
    });
    this.current = this.machine.cpus.map(() => null);
    const idle = this.newTask("swapper/0", true);
    this.newTask("init", true);
    this.newTask("kthreadd", true);
    this.kworkerSerial = this.machine.cpus.map(() => 0);
    for (let c = 0; c < this.config.cpus; c++) this.current[c] = this.newKworker(c);
    assert(idle.pid === 0, "boot: idle pid");
    this.log.push(
      `Memory: ${(this.buddy.freePages() * 4) | 0}K/${(nrFrames * 4) | 0}K available (${((KERNEL_TEXT + KERNEL_RODATA + KERNEL_DATA) / 1024) | 0}K kernel image, ${(this.memblock.frames * 4) | 0}K memblock, ${(256 * 4) | 0}K reserved)`,
    );
  }

  private newTask(comm: string, kthread: boolean): Task {
    const t = new Task(this.nextPid++, comm, kthread);
    this.tasks.push(t);
    return t;
  }

  private newKworker(cpu: number): Task {
    return this.newTask(`kworker/${cpu}:${this.kworkerSerial[cpu]++}`, true);
  }

  /** The task kernel code on `cpu` runs for; a fresh kworker if the last one died. */
  contextTask(cpu: number): Task {
    let t = this.current[cpu];
    if (t === null || !t.alive) {
      t = this.newKworker(cpu);
      this.current[cpu] = t;
    }
    return t;
  }

  // =====================================================================
  // Processes
  // =====================================================================

  /**
   * A new user process with an empty address space but for its main-thread
   * stack: a VM_GROWSDOWN VMA of 132 KiB ending at TASK_SIZE, as exec leaves
   * it (no page is present until touched). mmap_base sits below the stack
   * gap (the stack rlimit plus stack_guard_gap, at least 128 MiB).
   */
  spawn(comm: string, uid = 0, rlimitStack = 8 << 20): Task | null {
    const mm = this.userMm.newMm();
    if (mm === null) return null;
    const t = this.newTask(comm, false);
    t.uid = uid;
    t.rlimitStack = rlimitStack;
    t.mm = mm;
    const top = mm.stackTop;
    const gap = Math.min(Math.max(Math.ceil(rlimitStack / 4096) + 256, 32768), Math.floor((top / 6) * 5));
    mm.mmapBase = top - gap;
    mm.startBrk = 0x555555559; // where a PIE binary's bss ends without ASLR
    mm.brkBytes = mm.startBrk * 4096;
    const stack = new Vma(
      top - 33,
      top,
      VmFlag.READ |
        VmFlag.WRITE |
        VmFlag.MAYREAD |
        VmFlag.MAYWRITE |
        VmFlag.MAYEXEC |
        VmFlag.GROWSDOWN |
        VmFlag.ACCOUNT,
      top - 33,
      "[stack]",
    );
    mm.insert(stack);
    return t;
  }

  /** fork: the child gets a copy of the address space (copy-on-write) and counters from zero. */
  fork(parent: Task, comm: string): Task | null {
    if (!parent.mm) return null;
    this.syscallEntry(parent);
    this.faultingMm = parent.mm;
    const mm = this.userMm.dupMm(parent.mm);
    this.faultingMm = null;
    if (mm === null) return null;
    const t = this.newTask(comm, false);
    t.uid = parent.uid;
    t.rlimitStack = parent.rlimitStack;
    for (const s of parent.caught) t.caught.add(s);
    t.mm = mm;
    return t;
  }

  /**
   * A thread of `parent` (clone with CLONE_VM): a new task sharing the
   * parent's mm, so a TLB flush for it must reach every CPU running either.
   * (A vmlab extension to the scenario language: `P: thread NAME`.)
   */
  thread(parent: Task, comm: string): Task | null {
    if (!parent.mm) return null;
    const t = this.newTask(comm, false);
    t.uid = parent.uid;
    t.rlimitStack = parent.rlimitStack;
    t.mm = parent.mm;
    parent.mm.users++;
    return t;
  }

  /**
   * A system call by `task` begins: it runs on the CPU where the task is
   * current (CPU 0 if none), and under PTI the entry switches that CPU to
   * the kernel PGD.
   */
  private syscallEntry(task: Task): void {
    const cpu = this.cpuOf(task);
    this.runningCpu = Math.max(0, cpu);
    if (cpu >= 0) this.tlbMgr.enterKernel(cpu);
  }

  /** The PGD user code runs on: under PTI the second page of the pair, else the only one. */
  userPgdPfn(mm: MmStruct): number {
    return this.config.pti ? mm.pgdPfn + 1 : mm.pgdPfn;
  }

  /** A kernel thread: no user address space. */
  kthread(comm: string): Task {
    return this.newTask(comm, true);
  }

  /** The CPU a task is current on, or -1. */
  cpuOf(task: Task): number {
    return this.current.indexOf(task);
  }

  /**
   * A context switch of `cpuId` to `task` (Linux: context_switch ->
   * switch_mm_irqs_off for a user task, enter_lazy_tlb for a kernel thread).
   */
  switchTo(cpuId: number, task: Task): void {
    assert(task.alive, "switchTo: dead task");
    const other = this.cpuOf(task);
    if (other === cpuId) return;
    if (other >= 0) {
      // migrates: its old CPU runs the idle task, in lazy TLB mode
      this.current[other] = null;
      this.tlbMgr.switchMm(other, null);
    }
    this.current[cpuId] = task;
    this.tlbMgr.switchMm(cpuId, task.mm);
  }

  /** do_exit: tear down the address space; the task is gone. */
  exit(task: Task, reason: string): void {
    if (!task.alive) return;
    task.alive = false;
    task.exitReason = reason;
    const cpu = this.cpuOf(task);
    if (cpu >= 0) {
      this.current[cpu] = null;
      this.runningCpu = cpu;
    }
    const mm = task.mm;
    if (mm && --mm.users === 0) {
      this.userMm.exitMmap(mm);
      for (let c = 0; c < this.machine.cpus.length; c++) {
        if (this.tlbMgr.states[c].loadedMm === mm) this.tlbMgr.loadKernel(c, this.rootPfn);
      }
      if (mm.pgdPfn >= 0 && mm.cpumask.size === 0) this.userMm.freePgd(mm);
    }
  }

  // ---- memory system calls (on the CPU where the task is current) ----

  /** mmap; returns the address or -errno (as a bigint). */
  mmap(task: Task, args: MmapArgs): bigint {
    const mm = this.userOf(task);
    this.syscallEntry(task);
    if (args.addr >= 0 && args.addr > this.va.vpn(this.layout.userEnd) * 4096) return BigInt(-Errno.ENOMEM);
    if ((args.file || args.device) && (args.offset ?? 0) % 4096 !== 0) return BigInt(-Errno.EINVAL);
    const r = this.userMm.mmap(mm, args, (vpn, write) => this.populate(task, vpn, write));
    return r < 0 ? BigInt(r) : BigInt(r) * 4096n;
  }

  /**
   * Creates a file of `sizeBytes` on the simulated file system: `disk`
   * (ext4-like: pages come from disk on a miss, unless `cached` preloads them
   * into the page cache) or `tmpfs` (shmem: always in memory).
   */
  createFile(name: string, sizeBytes: number, fs: "disk" | "tmpfs" = "disk", cached = false): FileObject {
    if (this.pageCache.files.has(name)) throw new InputError(`file ${name} already exists`);
    if (!(Number.isInteger(sizeBytes) && sizeBytes >= 0 && sizeBytes <= 2 ** 40))
      throw new InputError(`file ${name}: size ${sizeBytes} must be an integer from 0 to 1 TiB`);
    const f = this.pageCache.create(name, sizeBytes, fs, cached);
    if (f === null) throw new InputError(`file ${name}: out of memory filling the page cache`);
    return f;
  }

  /** msync(MS_SYNC); 0 or -errno (EINVAL misaligned, ENOMEM when the range has a hole). */
  msync(task: Task, addr: bigint, length: bigint): bigint {
    const mm = this.userOf(task);
    this.syscallEntry(task);
    const r = this.pageRange(addr, length);
    if (typeof r === "bigint") return r;
    const mms = [...new Set(this.tasks.filter((t) => t.alive && t.mm).map((t) => t.mm!))];
    this.userMm.msync(mm, r.start, r.end, mms);
    return this.userMm.isMapped(mm, r.start, r.end) ? 0n : BigInt(-Errno.ENOMEM);
  }

  // ---- memory pressure (mm/vmscan.c, mm/oom_kill.c) ----

  /**
   * The memory limit's charge of one more user page: at the limit, reclaim
   * (as mem_cgroup's try_charge does) before the page is allocated. User
   * memory is every live mm's resident pages plus the swap cache.
   */
  private chargeUserPage(): void {
    const limit = this.config.userMemoryPages;
    if (limit === null || limit === undefined || this.reclaiming) return;
    const used = this.userMemoryUsed();
    if (used >= limit) {
      this.vmscan.stats.memcg_reclaims++;
      this.reclaim(used - limit + 1);
    }
  }

  /**
   * The charge of a transparent huge page: 512 pages at once. Over the limit,
   * one reclaim of what is missing (try_to_free_mem_cgroup_pages), then, as
   * THP allocations are __GFP_NORETRY, the charge fails if the margin is still
   * short and the fault falls back to 4K pages.
   */
  private chargeHugePage(): boolean {
    const limit = this.config.userMemoryPages;
    if (limit === null || limit === undefined) return true;
    if (this.reclaiming) return false;
    const before = this.userMemoryUsed();
    if (before + 512 <= limit) return true;
    this.vmscan.stats.memcg_reclaims++;
    this.reclaim(before + 512 - limit);
    return this.userMemoryUsed() + 512 <= limit;
  }

  /** The pages charged to the memory limit: every live mm's resident pages plus the swap cache. */
  private userMemoryUsed(): number {
    const mms = new Set(this.tasks.filter((t) => t.alive && t.mm).map((t) => t.mm!));
    let n = this.swap?.cache.size ?? 0;
    for (const mm of mms) n += mm.rss;
    return n;
  }

  /** The sum of the zones' high watermarks: where kswapd stops. */
  private highWatermark(): number {
    return this.buddy.zones.reduce((n, z) => n + (z.managed > 0 ? z.wmark[Wmark.High] : 0), 0);
  }

  /** Reclaims up to `pages` pages (try_to_free_pages); returns how many. */
  reclaim(pages: number): number {
    if (this.reclaiming) return 0;
    this.reclaiming = true;
    try {
      // shrink_node passes; a pass that only aged pages (cleared accessed bits, moved them
      // between the lists) is retried, up to three in a row, as kswapd and reclaim retries do
      let total = 0;
      let idle = 0;
      while (total < pages && idle < 3) {
        const n = this.vmscan.shrink(Math.min(SWAP_CLUSTER_MAX, pages - total));
        idle = n === 0 ? idle + 1 : 0;
        total += n;
      }
      return total;
    } finally {
      this.reclaiming = false;
    }
  }

  /**
   * kswapd's balance_pgdat: reclaim until free memory is back above the high
   * watermark, or nothing more can be reclaimed. vmlab runs it at once when
   * an allocation wakes it. Returns pages reclaimed.
   */
  kswapd(): number {
    if (this.reclaiming) return 0;
    this.vmscan.stats.kswapd_runs++;
    const want = this.highWatermark() - this.buddy.freePages();
    return want > 0 ? this.reclaim(want) : 0;
  }

  /**
   * out_of_memory: select_bad_process by oom_badness (RSS + swap entries +
   * page-table pages) and kill it, with the kernel's report line. A victim
   * that is itself allocating is only marked: its allocation fails and the
   * fault ends in SIGKILL. Returns whether memory was freed.
   */
  private outOfMemory(order: number): boolean {
    if (this.reclaiming) return false;
    let victim: Task | null = null;
    let best = 0;
    for (const t of this.tasks) {
      const mm = t.mm;
      if (!t.alive || mm === null) continue;
      const points = mm.rss + mm.swapEnts + mm.ptPages;
      if (points > best) {
        best = points;
        victim = t;
      }
    }
    if (victim === null) return false;
    const mm = victim.mm!;
    const kb = (n: number) => n * 4;
    const totalVm = mm.vmas.reduce((n, v) => n + v.pages, 0);
    this.oomKills++;
    // who asked, for what (out_of_memory -> dump_header), the constraint, then the kill (__oom_kill_process)
    const invoker =
      this.tasks.find((t) => t.alive && t.mm !== null && t.mm === this.faultingMm) ??
      this.contextTask(this.runningCpu);
    const gfp = this.faultingMm !== null ? "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)" : "0xcc0(GFP_KERNEL)";
    this.oomReports.push(
      `${invoker.comm} invoked oom-killer: gfp_mask=${gfp}, order=${order}, oom_score_adj=0`,
      "Mem-Info:",
      `active_anon:${this.vmscan.size[2]} inactive_anon:${this.vmscan.size[1]} active_file:${this.vmscan.size[4]} inactive_file:${this.vmscan.size[3]} free:${this.buddy.freePages()} pagetables:${this.pageTablePages}`,
      `Free swap  = ${(this.swap?.freePages ?? 0) * 4}kB`,
      `Total swap = ${(this.swap?.totalPages ?? 0) * 4}kB`,
      `oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=${victim.comm},pid=${victim.pid},uid=${victim.uid}`,
      `Out of memory: Killed process ${victim.pid} (${victim.comm}) total-vm:${kb(totalVm)}kB, anon-rss:${kb(mm.rssAnon)}kB, file-rss:${kb(mm.rssFile)}kB, shmem-rss:${kb(mm.rssShmem)}kB, UID:${victim.uid} pgtables:${kb(mm.ptPages)}kB oom_score_adj:0`,
    );
    if (mm === this.faultingMm) {
      victim.oomKilled = true;
      return false;
    }
    const cpu = this.runningCpu;
    for (const t of this.tasks) if (t.alive && t.mm === mm) this.exit(t, "SIGKILL (out of memory)");
    this.runningCpu = cpu;
    return true;
  }

  /** munmap; 0 or -errno. */
  munmap(task: Task, addr: bigint, length: bigint): bigint {
    const mm = this.userOf(task);
    this.syscallEntry(task);
    if (addr % 4096n !== 0n || length === 0n) return BigInt(-Errno.EINVAL);
    const end = addr + length;
    if (end > this.layout.userEnd || end < addr) return BigInt(-Errno.EINVAL);
    return BigInt(this.userMm.munmap(mm, Number(addr / 4096n), Number((length + 4095n) / 4096n)));
  }

  /** mprotect; 0 or -errno. */
  mprotect(task: Task, addr: bigint, length: bigint, prot: { r: boolean; w: boolean; x: boolean }): bigint {
    const mm = this.userOf(task);
    this.syscallEntry(task);
    if (addr % 4096n !== 0n) return BigInt(-Errno.EINVAL);
    if (length === 0n) return 0n;
    const end = addr + length;
    if (end > this.layout.userEnd || end < addr) return BigInt(-Errno.ENOMEM);
    return BigInt(this.userMm.mprotect(mm, Number(addr / 4096n), Number((length + 4095n) / 4096n), prot));
  }

  /** The page range of a system call's (addr, length), or an errno: EINVAL when addr is not page-aligned. */
  private pageRange(addr: bigint, length: bigint, alignAddr = true): { start: number; end: number } | bigint {
    if (alignAddr && addr % 4096n !== 0n) return BigInt(-Errno.EINVAL);
    const first = addr / 4096n;
    const last = (addr + length + 4095n) / 4096n;
    if (addr + length > this.layout.userEnd) return BigInt(-Errno.ENOMEM);
    return { start: Number(first), end: Number(last) };
  }

  /**
   * madvise (mm/madvise.c). Advice applies to the mapped parts of the range;
   * a hole makes the result -ENOMEM (after applying), an unknown advice or a
   * misaligned start -EINVAL.
   */
  madvise(task: Task, addr: bigint, length: bigint, advice: string): bigint {
    const mm = this.userOf(task);
    this.syscallEntry(task);
    const r = this.pageRange(addr, length);
    if (typeof r === "bigint") return r;
    const { start, end } = r;
    if (start === end) return 0n;
    const hole = !this.userMm.isMapped(mm, start, end);
    const mapped = (f: (a: number, b: number) => void) => {
      for (const v of mm.vmas.slice()) {
        const a = Math.max(start, v.vmStart);
        const b = Math.min(end, v.vmEnd);
        if (a < b) f(a, b);
      }
    };
    const locked = mm.vmas.some(
      (v) => v.vmStart < end && v.vmEnd > start && v.vmFlags & (VmFlag.LOCKED | VmFlag.PFNMAP),
    );
    switch (advice) {
      case "pageout":
      case "cold":
        // can_madv_lru_vma: not on VM_LOCKED or VM_PFNMAP mappings
        if (locked) return BigInt(-Errno.EINVAL);
        // MADV_COLD only ages pages on the LRU lists, which vmlab does not model yet
        if (advice === "pageout")
          mapped((a, b) => {
            this.lastPageout += this.userMm.pageout(mm, a, b);
          });
        break;
      case "dontneed":
        if (locked) return BigInt(-Errno.EINVAL);
        this.userMm.dontneed(mm, start, end);
        break;
      case "free":
        if (locked) return BigInt(-Errno.EINVAL);
        mapped((a, b) => this.userMm.lazyFree(mm, a, b));
        break;
      case "willneed":
        // madvise_willneed: a file mapping's range is read into the page cache (vfs_fadvise WILLNEED), not mapped
        mapped((a, b) => {
          const v = mm.vmaAt(a)!;
          if (!v.file) return;
          for (let vpn = a; vpn < b; vpn++) {
            const index = v.vmPgoff + (vpn - v.vmStart);
            if (index >= v.file.nrPages || this.pageCache.readPage(v.file, index, true) < 0) break;
          }
        });
        // anonymous memory: force_swapin_readahead brings swapped pages into the swap cache
        this.userMm.willneedSwap(mm, start, end);
        break;

      case "hugepage":
        this.userMm.setFlags(mm, start, end, VmFlag.HUGEPAGE, VmFlag.NOHUGEPAGE);
        break;
      case "nohugepage":
        this.userMm.setFlags(mm, start, end, VmFlag.NOHUGEPAGE, VmFlag.HUGEPAGE);
        break;
      case "dontfork":
        this.userMm.setFlags(mm, start, end, VmFlag.DONTCOPY, 0);
        break;
      case "dofork":
        this.userMm.setFlags(mm, start, end, 0, VmFlag.DONTCOPY);
        break;
      case "wipeonfork":
        this.userMm.setFlags(mm, start, end, VmFlag.WIPEONFORK, 0);
        break;
      case "keeponfork":
        this.userMm.setFlags(mm, start, end, 0, VmFlag.WIPEONFORK);
        break;
      case "dontdump":
        this.userMm.setFlags(mm, start, end, VmFlag.DONTDUMP, 0);
        break;
      case "dodump":
        // VM_SPECIAL mappings (remap_pfn_range, VM_IO) stay out of core dumps
        if (
          mm.vmas.some(
            (v) =>
              v.vmStart < end &&
              v.vmEnd > start &&
              v.vmFlags & (VmFlag.IO | VmFlag.PFNMAP | VmFlag.DONTEXPAND),
          )
        )
          return BigInt(-Errno.EINVAL);
        this.userMm.setFlags(mm, start, end, 0, VmFlag.DONTDUMP);
        break;
      case "random":
        this.userMm.setFlags(mm, start, end, VmFlag.RAND_READ, VmFlag.SEQ_READ);
        break;
      case "sequential":
        this.userMm.setFlags(mm, start, end, VmFlag.SEQ_READ, VmFlag.RAND_READ);
        break;
      case "normal":
        this.userMm.setFlags(mm, start, end, 0, VmFlag.SEQ_READ | VmFlag.RAND_READ);
        break;
      case "populate_read":
      case "populate_write": {
        if (hole) return BigInt(-Errno.ENOMEM);
        const write = advice === "populate_write";
        for (let v = start; v < end; v++) {
          const vma = mm.vmaAt(v)!;
          if (
            write
              ? !(vma.vmFlags & VmFlag.WRITE)
              : !(vma.vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))
          )
            return BigInt(-Errno.EFAULT);
          const res = this.populate(task, v, write);
          if (res !== VmFault.OK) return BigInt(res & VmFault.OOM ? -Errno.ENOMEM : -Errno.EFAULT);
        }
        break;
      }
      case "guard_install":
        if (locked) return BigInt(-Errno.EINVAL);
        mapped((a, b) => this.userMm.guardInstall(mm, a, b));
        break;
      case "guard_remove":
        mapped((a, b) => this.userMm.guardRemove(mm, a, b));
        break;
      default:
        return BigInt(-Errno.EINVAL);
    }
    return hole ? BigInt(-Errno.ENOMEM) : 0n;
  }

  /** mlock / mlock2(MLOCK_ONFAULT): VM_LOCKED over the range, populated unless on fault. */
  mlock(task: Task, addr: bigint, length: bigint, onFault: boolean): bigint {
    const mm = this.userOf(task);
    this.syscallEntry(task);
    const r = this.pageRange(addr - (addr % 4096n), length + (addr % 4096n));
    if (typeof r === "bigint") return r;
    if (!this.userMm.isMapped(mm, r.start, r.end)) return BigInt(-Errno.ENOMEM);
    this.userMm.setFlags(
      mm,
      r.start,
      r.end,
      VmFlag.LOCKED | (onFault ? VmFlag.LOCKONFAULT : 0),
      onFault ? 0 : VmFlag.LOCKONFAULT,
    );
    if (!onFault) {
      // populate_vma_page_range: write faults for private writable mappings (FOLL_WRITE), read faults otherwise
      for (let v = r.start; v < r.end; v++) {
        const vma = mm.vmaAt(v)!;
        if (!(vma.vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))) continue;
        this.populate(task, v, (vma.vmFlags & (VmFlag.WRITE | VmFlag.SHARED)) === VmFlag.WRITE);
      }
    }
    return 0n;
  }

  munlock(task: Task, addr: bigint, length: bigint): bigint {
    const mm = this.userOf(task);
    const r = this.pageRange(addr - (addr % 4096n), length + (addr % 4096n));
    if (typeof r === "bigint") return r;
    if (!this.userMm.isMapped(mm, r.start, r.end)) return BigInt(-Errno.ENOMEM);
    this.userMm.setFlags(mm, r.start, r.end, 0, VmFlag.LOCKED | VmFlag.LOCKONFAULT);
    return 0n;
  }

  /**
   * brk (mm/mmap.c sys_brk), as sbrk: moves the break by delta bytes and
   * returns the old break, or -ENOMEM (below start_brk, into another
   * mapping or its guard gap). The heap VMA, [heap], covers
   * [start_brk, PAGE_ALIGN(brk)).
   */
  brk(task: Task, delta: bigint): bigint {
    const mm = this.userOf(task);
    this.syscallEntry(task);
    const oldBrk = BigInt(mm.brkBytes);
    const newBrk = oldBrk + delta;
    const startBrk = BigInt(mm.startBrk) * 4096n;
    if (newBrk < startBrk || newBrk >= this.layout.userEnd) return BigInt(-Errno.ENOMEM);
    const oldEnd = Number((oldBrk + 4095n) / 4096n);
    const newEnd = Number((newBrk + 4095n) / 4096n);
    if (newEnd < oldEnd) this.userMm.munmap(mm, newEnd, oldEnd - newEnd);
    else if (newEnd > oldEnd) {
      const next = mm.findVma(oldEnd);
      const gap = next !== null && next.vmFlags & VmFlag.GROWSDOWN ? 256 : 0;
      if (next !== null && newEnd + 1 > next.vmStart - gap) return BigInt(-Errno.ENOMEM);
      this.userMm.insertAndMerge(
        mm,
        new Vma(
          oldEnd,
          newEnd,
          VmFlag.READ | VmFlag.WRITE | VmFlag.MAYREAD | VmFlag.MAYWRITE | VmFlag.MAYEXEC | VmFlag.ACCOUNT,
          oldEnd,
          "[heap]",
        ),
      );
      mm.committed += newEnd - oldEnd;
    }
    mm.brkBytes = Number(newBrk);
    return oldBrk;
  }

  /** mremap; returns the new address or -errno. */
  mremap(task: Task, addr: bigint, oldSize: bigint, newSize: bigint, mayMove: boolean, to: bigint): bigint {
    const mm = this.userOf(task);
    this.syscallEntry(task);
    if (addr % 4096n !== 0n || newSize === 0n || (to >= 0n && (to % 4096n !== 0n || !mayMove)))
      return BigInt(-Errno.EINVAL);
    const oldPages = Number((oldSize + 4095n) / 4096n);
    const newPages = Number((newSize + 4095n) / 4096n);
    if (addr + oldSize > this.layout.userEnd || (to >= 0n && to + newSize > this.layout.userEnd))
      return BigInt(-Errno.EINVAL);
    if (to >= 0n) {
      const a = Number(addr / 4096n);
      const t = Number(to / 4096n);
      if (t < a + oldPages && a < t + newPages) return BigInt(-Errno.EINVAL); // overlapping ranges
    }
    const r = this.userMm.mremap(
      mm,
      Number(addr / 4096n),
      oldPages,
      newPages,
      mayMove,
      to >= 0n ? Number(to / 4096n) : -1,
    );
    return r < 0 ? BigInt(r) : BigInt(r) * 4096n;
  }

  private userOf(task: Task): MmStruct {
    assert(task.alive && task.mm !== null, "syscall on a task without a user address space");
    return task.mm;
  }

  /**
   * mm_account_fault: a resolved fault counts as major when the page had to
   * be read (VM_FAULT_MAJOR), else minor. Returns VmFault.MAJOR for masking.
   */
  private accountFault(task: Task, r: VmFault): number {
    if ((r & ~VmFault.MAJOR) !== VmFault.OK) return VmFault.MAJOR;
    if (r & VmFault.MAJOR) task.majFlt++;
    else task.minFlt++;
    return VmFault.MAJOR;
  }

  /** A population fault (MAP_POPULATE, MAP_LOCKED, MADV_POPULATE_*): counted as a fault per page, major when it read the page. */
  private populate(task: Task, vpn: number, write: boolean): VmFault {
    const mm = task.mm!;
    const vma = mm.vmaAt(vpn);
    if (vma === null) return VmFault.SIGSEGV;
    const leaf = this.userMm.leafFor(mm, vpn);
    if (leaf !== null && leaf.lo & Pte.P && (!write || leaf.lo & Pte.RW)) return VmFault.OK;
    this.faultingMm = mm;
    const r = this.userMm.handleMmFault(mm, vma, vpn, write);
    this.faultingMm = null;
    this.accountFault(task, r);
    return r & ~VmFault.MAJOR;
  }

  /**
   * get_dump_page (mm/gup.c): the frame at `vpn` for a core dump, or -1 for
   * a hole. FOLL_DUMP: a missing entry in an anonymous VMA (or one without
   * a fault handler, as a PFNMAP) is a hole, not a fault; the zero pages and
   * special PTEs are holes; anything else not present (a file page, a shmem
   * page, a swap entry) is faulted in as a read with FOLL_FORCE, counted
   * against the task as GUP faults are.
   */
  getDumpPage(task: Task, vpn: number): number {
    const mm = this.userOf(task);
    const vma = mm.vmaAt(vpn);
    if (vma === null) return -1;
    for (let attempt = 0; attempt < 2; attempt++) {
      const leaf = this.userMm.leafFor(mm, vpn);
      const present = leaf !== null && (leaf.lo & Pte.P) !== 0;
      if (present) {
        const special = leaf.level === 0 && (leaf.lo & PTE_SPECIAL) !== 0;
        const zero =
          leaf.pfn === this.zeroPfn ||
          (leaf.level === 1 && leaf.pfn - (vpn % 512) === this.userMm.hugeZeroPfn);
        return special || zero ? -1 : leaf.pfn;
      }
      const none = leaf === null || (leaf.hi === 0 && leaf.lo === 0);
      const anonymous = vma.file === null && vma.shmem === null;
      if (none && (anonymous || vma.vmFlags & VmFlag.PFNMAP)) return -1; // no_page_table
      if (attempt === 0) this.populate(task, vpn, false);
    }
    return -1;
  }

  /**
   * A user-mode access by `task` on `cpuId` (which must have it current):
   * translate at CPL 3; on a page fault run do_user_addr_fault and retry.
   * An access the kernel cannot resolve raises a signal: caught, it is
   * abandoned; uncaught, it kills the task.
   */
  userAccess(cpuId: number, task: Task, va: bigint, access: Access, value = 0): UserAccessResult {
    assert(this.current[cpuId] === task && task.alive, "userAccess: task is not current on that CPU");
    this.runningCpu = cpuId;
    const cpu = this.machine.cpus[cpuId];
    const { hi, lo } = fromBig(va);
    let faults = 0;
    for (let attempt = 0; attempt < 8; attempt++) {
      this.tlbMgr.exitToUser(cpuId); // user code runs on the user PGD under PTI
      cpu.cpl = 3;
      const out = cpu.translate(hi, lo, access);
      if (out === Outcome.OK) {
        const phys = this.machine.phys;
        if (access === Access.Write) phys.write8(cpu.pa, value);
        if (this.exactLru) this.vmscan.touch(Math.floor(cpu.pa / 4096), this.va.vpn(va));
        cpu.cpl = 0;
        return { ok: true, pa: cpu.pa, value: phys.read8(cpu.pa), faults };
      }
      faults++;
      // the exception enters the kernel (kernel CR3 under PTI)
      cpu.cpl = 0;
      this.tlbMgr.enterKernel(cpuId);
      const r =
        out === Outcome.GP
          ? ({ signal: "SIGSEGV", code: "SI_KERNEL", addr: 0n } as const)
          : this.doUserAddrFault(task, va, cpu.errorCode);
      if (r === null) continue;
      cpu.cpl = 0;
      const killed = this.deliverSignal(task, r.signal, r.code, r.addr);
      return { ok: false, signal: r.signal, siCode: r.code, siAddr: r.addr, killed, faults };
    }
    cpu.cpl = 0;
    return {
      ok: false,
      signal: "SIGSEGV",
      siCode: "SEGV_ACCERR",
      siAddr: va,
      killed: this.deliverSignal(task, "SIGSEGV", "SEGV_ACCERR", va),
      faults,
    };
  }

  /**
   * do_user_addr_fault (arch/x86/mm/fault.c) for a fault taken in user mode:
   * find the VMA (growing a VM_GROWSDOWN stack down to its rlimit, keeping
   * stack_guard_gap from the VMA below), check access_error, then
   * handle_mm_fault. Returns null when resolved (retry), else the signal.
   */
  private doUserAddrFault(
    task: Task,
    va: bigint,
    errorCode: number,
  ): { signal: string; code: string; addr: bigint } | null {
    const mm = task.mm;
    if (mm === null || this.va.isKernel(va)) return { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: va };
    const vpn = this.va.vpn(va);
    const vma = mm.findVma(vpn);
    if (vma === null) return { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: va };
    if (vma.vmStart > vpn) {
      if (!(vma.vmFlags & VmFlag.GROWSDOWN)) return { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: va };
      // expand_stack: within RLIMIT_STACK, and not into the guard gap above the previous VMA
      const i = mm.indexOf(vma);
      const prev = i > 0 ? mm.vmas[i - 1] : null;
      const limitPages = Math.floor(task.rlimitStack / 4096);
      // expand_downwards: the gap to an accessible, non-growsdown mapping below stays >= stack_guard_gap
      const guarded =
        prev !== null &&
        !(prev.vmFlags & VmFlag.GROWSDOWN) &&
        (prev.vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC)) !== 0;
      if (
        vma.vmEnd - vpn > limitPages ||
        (guarded && prev.vmEnd + 256 > vpn) ||
        (prev !== null && prev.vmEnd > vpn)
      ) {
        return { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: va };
      }
      vma.vmStart = vpn;
      vma.vmPgoff = vpn;
    }
    // access_error
    const write = (errorCode & PfErr.WR) !== 0;
    if (errorCode & PfErr.PK) return { signal: "SIGSEGV", code: "SEGV_PKUERR", addr: va };
    if (
      write
        ? !(vma.vmFlags & VmFlag.WRITE)
        : errorCode & PfErr.P || !(vma.vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))
    ) {
      return { signal: "SIGSEGV", code: "SEGV_ACCERR", addr: va };
    }
    this.faultingMm = mm;
    const res = this.userMm.handleMmFault(mm, vma, vpn, write);
    this.faultingMm = null;
    if (task.oomKilled) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n }; // chosen by the OOM killer
    const r = res & ~this.accountFault(task, res);
    if (r === VmFault.OK) return null;
    if (r & VmFault.OOM) return { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n }; // VM_FAULT_OOM: pagefault_out_of_memory
    // mm_fault_error: VM_FAULT_SIGBUS -> BUS_ADRERR; VM_FAULT_SIGSEGV (a guard marker) -> bad_area_nosemaphore, SEGV_MAPERR
    return {
      signal: r & VmFault.SIGBUS ? "SIGBUS" : "SIGSEGV",
      code: r & VmFault.SIGBUS ? "BUS_ADRERR" : "SEGV_MAPERR",
      addr: va,
    };
  }

  /** Records a signal; an uncaught one kills the task. Returns whether it died. */
  private deliverSignal(task: Task, signal: string, code: string, addr: bigint): boolean {
    task.signal = signal;
    task.siCode = code;
    task.siAddr = addr;
    if (signal !== "SIGKILL" && task.caught.has(signal)) return false;
    this.exit(task, signal);
    return true;
  }

  // =====================================================================
  // Addresses
  // =====================================================================

  /** The direct-map address of a physical address (__va). */
  directVa(pa: number): bigint {
    return this.layout.directMap + BigInt(pa);
  }

  /** Physical address of a direct-map address (__pa), or -1. */
  directPa(va: bigint): number {
    const off = va - this.layout.directMap;
    if (off < 0n || off >= BigInt(this.machine.phys.sizeBytes)) return -1;
    return Number(off);
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

  /**
   * kmalloc: a slab object for sizes up to 8 KiB, physically contiguous pages
   * beyond (kmalloc_large). Returns the direct-map address, ZERO_SIZE_PTR
   * for size 0, or 0n (NULL) when no memory could be had.
   */
  kmalloc(size: number, gfp: number = Gfp.KERNEL): bigint {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new InputError(`kmalloc: size must be a non-negative integer, not ${size}`);
    if (size === 0) return ZERO_SIZE_PTR;
    if (size > KMALLOC_MAX_CACHE_SIZE) {
      let order = 0;
      while (4096 * 2 ** order < size) order++;
      if (order > MAX_ORDER) {
        this.log.push(`WARNING: kmalloc of ${size} bytes exceeds MAX_PAGE_ORDER (${MAX_ORDER})`);
        return 0n;
      }
      const pfn = this.buddy.alloc(order, gfp, PageKind.KmallocLarge);
      return pfn < 0 ? 0n : this.directVa(pfn * 4096);
    }
    const pa = this.slab.alloc(this.slab.caches[kmallocIndex(size)], gfp);
    return pa < 0 ? 0n : this.directVa(pa);
  }

  /** kfree. Returns null, or what was wrong with the pointer (Linux would BUG or corrupt memory). */
  kfree(va: bigint): string | null {
    if (va === 0n || va === ZERO_SIZE_PTR) return null;
    const pa = this.directPa(va);
    if (pa < 0) return `kfree: 0x${px(va)} is not a kmalloc address (not in the direct map)`;
    const pfn = Math.floor(pa / 4096);
    const kind = this.pages.kind[pfn];
    if (kind === PageKind.KmallocLarge) {
      if (pa % 4096 !== 0 || this.pages.order[pfn] < 0)
        return `kfree: 0x${px(va)} is inside a large kmalloc, not its start`;
      const err = this.buddy.free(pfn, this.pages.order[pfn]);
      return err === null ? null : `kfree: ${err}`;
    }
    if (kind !== PageKind.Slab) {
      return kind === PageKind.Free
        ? `kfree: double free or invalid free of 0x${px(va)} (the page is free)`
        : `kfree: 0x${px(va)} was not allocated by kmalloc (page is ${kindName(kind)})`;
    }
    const err = this.slab.free(pa);
    if (err === "double-free") return `kfree: double free of 0x${px(va)}`;
    if (err === "misaligned") return `kfree: 0x${px(va)} is not the start of an object`;
    return err === null ? null : `kfree: ${err}`;
  }

  /** vmalloc: returns the area's address, or 0n. */
  vmalloc(size: number): bigint {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new InputError(`vmalloc: size must be a non-negative integer, not ${size}`);
    const r = this.vm.alloc(size, this.buddy.managedPages());
    if (typeof r === "string") {
      if (r !== "zero-size")
        this.log.push(
          `vmalloc error: size ${size}, ${r === "too-large" ? "exceeds total pages" : r === "no-kva" ? "vmalloc space exhausted" : "failed to allocate pages"}`,
        );
      return 0n;
    }
    return this.va.canonical(r.startVpn);
  }

  vfree(va: bigint): string | null {
    if (va === 0n) return null;
    if (!this.va.isCanonical(va) || this.va.offset(va) !== 0)
      return `vfree: 0x${px(va)} is not a vmalloc address`;
    const err = this.vm.free(this.va.vpn(va));
    return err === null ? null : `vfree: 0x${px(va)} is not the start of a vmalloc area`;
  }

  /** alloc_pages + page_address: 2^order contiguous frames, as a direct-map address; 0n on failure. */
  allocPages(order: number, gfp: number = Gfp.KERNEL): bigint {
    if (!Number.isInteger(order) || order < 0 || order > MAX_ORDER) {
      throw new InputError(`alloc_pages: order must be 0..${MAX_ORDER}, not ${order}`);
    }
    const pfn = this.buddy.alloc(order, gfp, PageKind.KernelPages);
    return pfn < 0 ? 0n : this.directVa(pfn * 4096);
  }

  freePages(va: bigint, order: number): string | null {
    const pa = this.directPa(va);
    if (pa < 0 || pa % 4096 !== 0) return `free_pages: 0x${px(va)} is not a page address in the direct map`;
    const pfn = pa / 4096;
    if (this.pages.kind[pfn] !== PageKind.KernelPages && this.pages.kind[pfn] !== PageKind.Free) {
      return `free_pages: 0x${px(va)} was not allocated by alloc_pages (page is ${kindName(this.pages.kind[pfn])})`;
    }
    const err = this.buddy.free(pfn, order);
    if (err === null) return null;
    return err === "not-allocated"
      ? `free_pages: double free of 0x${px(va)}`
      : `free_pages: ${err} (order ${order})`;
  }

  // =====================================================================
  // TLB maintenance
  // =====================================================================

  /**
   * flush_tlb_kernel_range on every CPU (an IPI to each other CPU): INVLPG
   * per page up to tlb_single_page_flush_ceiling (33), else a full flush
   * including globals.
   */
  flushTlbKernelRange(startVpn: number, nrPages: number): void {
    for (const cpu of this.machine.cpus) {
      if (cpu.id !== this.runningCpu) {
        this.tlbMgr.shootdowns++;
        this.tlbMgr.states[cpu.id].shootdownsReceived++;
      }
      if (nrPages > 33) {
        cpu.invpcid(2, 0);
        continue;
      }
      for (let i = 0; i < nrPages; i++) {
        const { hi, lo } = fromBig(this.va.canonical(startVpn + i));
        cpu.invlpg(hi, lo);
      }
      // PTI: kernel entries are not global, so other ASIDs may cache them (invalidate_other_asid)
      if (this.config.pti) this.tlbMgr.invalidateOtherAsids(cpu.id);
    }
  }

  // =====================================================================
  // Kernel-mode accesses and faults
  // =====================================================================

  /** character devices: a kernel buffer each, mapped to processes by remap_pfn_range */
  readonly devices = new Map<string, { name: string; pfn: number; pages: number; order: number }>();

  /**
   * Registers a character device with a buffer of `sizeBytes` from
   * alloc_pages (physically contiguous, so one remap_pfn_range maps it).
   * Returns the buffer's kernel (direct-map) address.
   */
  registerDevice(name: string, sizeBytes: number): bigint {
    if (this.devices.has(name)) throw new InputError(`device ${name} already exists`);
    if (!(Number.isInteger(sizeBytes) && sizeBytes > 0 && sizeBytes <= 4096 << MAX_ORDER))
      throw new InputError(
        `device ${name}: size ${sizeBytes} must be 1 .. ${4096 << MAX_ORDER} bytes (one alloc_pages block)`,
      );
    const pages = Math.ceil(sizeBytes / 4096);
    const order = Math.ceil(Math.log2(pages));
    const va = this.allocPages(order);
    if (va === 0n) throw new InputError(`device ${name}: no ${4 << order} KiB block of contiguous memory`);
    const pfn = this.directPa(va) / 4096;
    for (let i = 0; i < 1 << order; i++) this.machine.phys.zeroFrame(pfn + i);
    this.devices.set(name, { name, pfn, pages, order });
    return va;
  }

  /** The user-access routines (copy_*_user, get_user, put_user, clear_user, strncpy_from_user). */
  readonly uaccess: Uaccess;

  /** The exception table: faulting instruction -> fixup (search_exception_tables). */
  get extable(): Map<bigint, ExtableEntry> {
    return this.uaccess.extable;
  }

  /**
   * read(2) / write(2) of `len` bytes at file offset 0 between a file and
   * the user buffer `uva` of the task current on `cpuId`, through the page
   * cache (pages missing from it are read first: I/O, not page faults) and
   * copy_to_user / copy_from_user. Writes stay within the file's size and
   * dirty the pages they change. Returns the bytes transferred, or -EFAULT
   * when a fault stopped the copy before its first byte.
   */
  fileIo(cpuId: number, f: FileObject, uva: bigint, len: number, write: boolean): number {
    const n = Math.max(0, Math.min(len, f.sizeBytes));
    if (n === 0) return 0;
    const phys = this.machine.phys;
    const pc = this.pageCache;
    const at = (i: number): number => {
      const pfn = pc.readPage(f, Math.floor(i / 4096), true);
      assert(pfn >= 0, "fileIo: no memory for the page cache");
      return pfn * 4096 + (i % 4096);
    };
    const r = this.uaccess.copy(
      cpuId,
      uva,
      n,
      !write,
      (i) => phys.read8(at(i)),
      (i, b) => {
        phys.write8(at(i), b);
        if (f.fs === "disk") f.dirty.add(Math.floor(i / 4096));
      },
    );
    const done = n - r.notCopied;
    return done > 0 ? done : -Errno.EFAULT;
  }

  /**
   * A plain kernel dereference (no exception-table entry) of one address on
   * `cpuId`, in the context of its current task. On success returns the
   * byte read (or written). A fault nobody can fix is an oops: the report
   * is logged, the task is killed, and with panic_on_oops the machine stops.
   */
  kernelAccess(cpuId: number, va: bigint, access: Access, value = 0): KernelAccessResult {
    assert(this.panicked === null, "kernelAccess: the machine has panicked");
    const cpu = this.machine.cpus[cpuId];
    const task = this.contextTask(cpuId);
    cpu.cpl = 0;
    this.tlbMgr.enterKernel(cpuId);
    const { hi, lo } = fromBig(va);
    let faults = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      const out = cpu.translate(hi, lo, access);
      if (out === Outcome.OK) {
        const phys = this.machine.phys;
        if (access === Access.Write) phys.write8(cpu.pa, value);
        return { ok: true, pa: cpu.pa, value: phys.read8(cpu.pa), faults };
      }
      faults++;
      if (out === Outcome.GP) {
        return this.oops(cpu, task, [
          `general protection fault, probably for non-canonical address 0x${px(va)}: 0000 [#${this.oopses.length + 1}] PREEMPT SMP ${this.config.pti ? "PTI" : "NOPTI"}`,
          `CPU: ${cpu.id} PID: ${task.pid} Comm: ${task.comm}`,
        ]);
      }
      if (this.spuriousKernelFault(cpu, va, access)) continue;
      return this.pageFaultOops(cpu, task, va, cpu.errorCode);
    }
    return this.pageFaultOops(cpu, task, va, cpu.errorCode);
  }

  /**
   * spurious_kernel_fault: a write or fetch protection fault on a kernel
   * address whose page tables now allow the access (a stale TLB entry, e.g.
   * after permissions were relaxed without a flush). The fault already
   * dropped the entry, so retrying succeeds.
   */
  private spuriousKernelFault(cpu: Cpu, va: bigint, access: Access): boolean {
    const ec = cpu.errorCode;
    if (ec !== (PfErr.WR | PfErr.P) && ec !== (PfErr.ID | PfErr.P)) return false;
    if (!this.va.isKernel(va)) return false;
    const { hi, lo } = fromBig(va);
    return cpu.probe(hi, lo, access, Mode.Supervisor, this.rec) === Outcome.OK;
  }

  private pageFaultOops(cpu: Cpu, task: Task, va: bigint, errorCode: number): KernelAccessResult {
    const vpn = this.va.vpn(va);
    // show_fault_oops looks up the address in the page tables CR3 points to
    // (lookup_address_in_pgd_attr), with NX accumulated over every level
    const root = cpu.rootPa / 4096;
    const leaf = this.mapper.lookup(root, vpn);
    const pgd = this.mapper.entryAt(root, vpn, this.levels - 1);
    let nx = false;
    for (let level = this.levels - 1; leaf !== null && level >= leaf.level; level--)
      if ((this.mapper.entryAt(root, vpn, level)?.hi ?? 0) & 0x80000000) nx = true;
    const lines = oopsReport(
      {
        address: this.va.unsigned(va),
        vpn,
        errorCode,
        cpu: cpu.id,
        pid: task.pid,
        comm: task.comm,
        uid: task.uid,
        serial: this.oopses.length + 1,
        pti: this.config.pti,
        rootPfn: cpu.rootPa / 4096,
        levels: this.levels,
        smep: cpu.cr4Smep,
        leafExec: leaf === null ? null : !nx,
        pgdUser: pgd !== null && (pgd.lo & Pte.US) !== 0,
      },
      this.mapper,
    );
    return this.oops(cpu, task, lines);
  }

  /**
   * BUG(): kernel code found a broken invariant it cannot survive (a double
   * free caught by the allocator, a free of a pointer it never gave out).
   * Reported like Linux's `kernel BUG at FILE!` / `invalid opcode` oops, in
   * the context of the current task on `cpuId`. Returns the report.
   */
  bug(cpuId: number, message: string, file: string): string[] {
    const cpu = this.machine.cpus[cpuId];
    const task = this.contextTask(cpuId);
    const r = this.oops(cpu, task, [
      message,
      `kernel BUG at ${file}!`,
      `invalid opcode: 0000 [#${this.oopses.length + 1}] PREEMPT SMP ${this.config.pti ? "PTI" : "NOPTI"}`,
      `CPU: ${cpu.id} PID: ${task.pid} Comm: ${task.comm}`,
    ]);
    if (r.ok) return [];
    return r.panic ? [...r.oops, `Kernel panic - not syncing: ${r.panic}`] : r.oops;
  }

  /** oops_end: log, kill the task (make_task_dead), or panic. */
  private oops(cpu: Cpu, task: Task, lines: string[]): KernelAccessResult {
    this.oopses.push({ lines, cpu: cpu.id, pid: task.pid, comm: task.comm });
    this.log.push(...lines);
    let panic: string | null = null;
    if (this.config.panicOnOops) panic = "Fatal exception";
    else if (task.pid === 0) panic = "Attempted to kill the idle task!";
    else if (task.pid === 1) panic = "Attempted to kill init! exitcode=0x00000009";
    if (panic !== null) {
      this.panicked = panic;
      this.log.push(`Kernel panic - not syncing: ${panic}`);
    } else {
      // make_task_dead -> do_exit: the task dies and its address space is torn down
      const running = this.runningCpu;
      this.exit(task, "oops");
      this.runningCpu = running;
    }
    return { ok: false, oops: lines, panic };
  }

  /** The frame a kernel virtual address maps to in init_mm (software walk), or -1. */
  kernelPfn(va: bigint): number {
    if (!this.va.isCanonical(va)) return -1;
    const vpn = this.va.vpn(va);
    const e = this.mapper.lookup(this.rootPfn, vpn);
    if (e === null) return -1;
    const base = ((e.hi & 0x3fff) * 4294967296 + ((e.lo & 0xfffff000) >>> 0)) / 4096;
    const span = [1, 512, 262144][e.level];
    const largeBase = e.level > 0 ? base - (base % span) : base;
    return largeBase + (vpn % span);
  }
}

export function kindName(kind: PageKind): string {
  return (
    [
      "free",
      "reserved",
      "kernel image",
      "page table",
      "slab",
      "kmalloc-large",
      "vmalloc",
      "kernel pages",
      "memmap",
      "user",
      "page cache",
    ][kind] ?? `kind ${kind}`
  );
}
