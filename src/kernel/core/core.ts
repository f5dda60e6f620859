/**
 * The kernel as its own modules see it: the subsystems it owns and the
 * state they share (in Linux, the kernel's globals: init_mm, the zones, the
 * task list, `current`). Kernel (Kernel.ts) is the one implementation; the
 * modules that hold the kernel's code (boot, sched, mman, fault, oom, ...)
 * take it as this type, so they need not import the facade.
 */

import type { Pfn } from "../../base/units.ts";
import type { Access } from "../../hw/access.ts";
import type { Machine } from "../../hw/machine/Machine.ts";
import type { MapFlags, PageTableMapper } from "../../hw/mmu/Mapper.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import type { Pgtable, TlbFlush } from "../mm/arch.ts";
import type { BuddyAllocator, ZoneLayout } from "../mm/buddy.ts";
import type { CompactStats } from "../mm/compaction.ts";
import type { DropCachesStats } from "../mm/fadvise.ts";
import type { Kcompactd } from "../mm/kcompactd.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import type { PageDescTable } from "../mm/PageDesc.ts";
import type { DirtyThrottle } from "../mm/page_writeback.ts";
import type { PageCache } from "../mm/pagecache.ts";
import type { SlabAllocator } from "../mm/slab.ts";
import type { SwapArea } from "../mm/swapfile.ts";
import type { UserMm } from "../mm/userMm.ts";
import type { Vmalloc } from "../mm/vmalloc.ts";
import type { Vmscan } from "../mm/vmscan.ts";
import type { ArchView } from "./archView.ts";
import type { ResolvedKernelConfig } from "./config.ts";
import type { Layout } from "./layout.ts";
import type { Memblock } from "./memblock.ts";
import type { Task } from "./task.ts";
import type { Uaccess } from "./uaccess.ts";
import type { Vaddr } from "./vaddr.ts";

/**
 * Everything the kernel asks of an architecture beyond page-table entries
 * (those are mm/arch.ts Pgtable): what Linux keeps under arch/X: the
 * machine and its CPUs' paging set-up, the kernel's own page tables
 * (setup_arch, init_mem_mapping), the virtual layout, address-space
 * switching and TLB maintenance (arch/X/mm/tlb.c and how other CPUs learn
 * of a flush), the page-fault entry (arch/X/mm/fault.c: from the hardware's
 * fault report to generic fault flags, access_error, signals, oopses), the
 * user-access bracket (STAC/CLAC, PAN), and the architecture's words for
 * what it shows (ArchView). kernel/arch/NAME/ implements it; the kernel
 * facade picks one by name from kernel/arch/index.ts and hands it to boot.
 */
export interface Arch {
  /** the `arch=` name */
  readonly name: string;
  readonly pgtable: Pgtable;
  readonly layout: Layout;
  readonly va: Vaddr;
  readonly view: ArchView;
  /** where the kernel image and the zero page sit in physical memory */
  readonly image: KernelImage;
  /** the machine: RAM and CPUs */
  newMachine(): Machine;
  /** setup_arch: the kernel's own page tables, their frames from memblock */
  setupArch(machine: Machine, pages: PageDescTable, memblock: Memblock): ArchMemoryMap;
  /** each CPU's paging registers (x86 CR0/CR4/EFER; ARM64 SCTLR/TCR), root = init_mm's PGD */
  cpuInit(machine: Machine, rootPfn: Pfn): void;
  /** ASIDs, switch_mm, flushes and shootdowns for the machine's CPUs */
  newTlb(machine: Machine): ArchTlb;
  /**
   * a fault a user-mode access took (entry.ts userModeRange makes the access
   * and retries): do_user_addr_fault / do_mem_abort / handle_page_fault;
   * null when resolved, else the signal
   */
  userFault: UserFaultHandler;
  /** a plain kernel dereference: the byte, or an oops */
  kernelAccess(k: KernelCore, cpuId: number, va: bigint, access: Access, value: number): KernelAccessResult;
  /** BUG(): the report of a broken kernel invariant, in the current task's context */
  bug(k: KernelCore, cpuId: number, message: string, file: string): string[];
  /** the fault a user-access routine took on `cpu`, given to do_user_addr_fault: true when resolved (retry) */
  uaccessFault(k: KernelCore, task: Task, cpu: Mmu, va: bigint): boolean;
  /**
   * What the kernel's fault handler does with the fault `code` (x86 #PF
   * error code, arm64 ESR) that a plain kernel access to `va` on `cpu`
   * takes, in words, changing nothing (`explain kernel`).
   */
  explainKernelFault(k: KernelCore, cpu: Mmu, va: bigint, code: number): string[];
  /**
   * What the fault handler does with a user-mode fault `code` (x86 #PF error code, arm64 ESR) on
   * a kernel address, in words, where it never looks for a VMA (x86's handle_page_fault:
   * do_kern_addr_fault; arm64's do_translation_fault on a TTBR1 address: do_bad_area); undefined
   * where the user path's find_vma finds none (arm64's do_page_fault for other aborts, RISC-V).
   */
  explainUserKernelAddr?(code: number): string | undefined;
  /**
   * The instruction that opens (x86 STAC: RFLAGS.AC = 1; ARM64: PSTATE.PAN = 0)
   * or closes (CLAC; PAN = 1) plain kernel access to user pages, on its own
   * (the scenario language's `kernel: stac|clac|pan on|off`)
   */
  userAccessWindow(cpu: Mmu, open: boolean): void;
  /** the instructions' names: [open, close] */
  readonly userAccessWindowNames: readonly [string, string];
  /** user_access_begin / user_access_end (x86 STAC/CLAC under SMAP; ARM64 PAN) */
  uaccessBegin(cpu: Mmu): void;
  uaccessEnd(cpu: Mmu): void;
  /** the user-access routines use unprivileged loads and stores (arm64 LDTR/STTR); absent: false */
  readonly unprivilegedUaccess?: boolean;
  /**
   * TASK_SIZE_MAX, access_ok's limit (include/asm-generic/access_ok.h, x86-64's
   * valid_user_address): absent, layout.taskSize (x86-64 (1 << 47) - PAGE_SIZE, below the
   * guard page; arm64 1 << VA_BITS; i386 PAGE_OFFSET). RISC-V 64: LONG_MAX.
   */
  readonly taskSizeMax?: bigint;
  /**
   * untagged_addr: the address the memory system calls (munmap, mprotect, madvise, mlock,
   * msync, mincore, mseal, mremap's old address) and GUP work on, and access_ok's under the
   * tagged address ABI. arm64 (asm/memory.h): addr & sign_extend64(addr, 55), a TTBR0
   * address's top byte cleared (TCR_EL1.TBI0); its presence is also CONFIG_ARM64_TAGGED_ADDR_ABI's
   * prctl(PR_SET_TAGGED_ADDR_CTRL). Absent: addr itself (include/linux/uaccess.h; x86's LAM
   * and RISC-V's pointer masking are not modelled), and those prctl options are -EINVAL.
   */
  untaggedAddr?(addr: bigint): bigint;
  /** sizeof(long), do_strncpy_from_user's word: absent 8 (i386: 4) */
  readonly longBytes?: 4 | 8;
  /**
   * The kernel is built without CONFIG_TRANSPARENT_HUGEPAGE (RV32: arch/riscv/Kconfig selects
   * HAVE_ARCH_TRANSPARENT_HUGEPAGE only if 64BIT), so madvise_behavior_valid refuses
   * MADV_HUGEPAGE, MADV_NOHUGEPAGE and MADV_COLLAPSE (-EINVAL). Absent: false.
   */
  readonly noTransparentHugepage?: boolean;
  /**
   * CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS (x86, arm64): do_strncpy_from_user reads words at
   * any alignment; without it (RISC-V's default RISCV_PROBE_UNALIGNED_ACCESS) an unaligned
   * source goes byte at a time (IS_UNALIGNED). Absent: true.
   */
  readonly efficientUnalignedAccess?: boolean;
  /**
   * What a copy routine returns when a fault stops it: the bytes it reports copied, given the
   * user and kernel addresses' low four bits, the length and `f`, the first byte it could not
   * reach (arm64's copy_template counts whole 16-byte pairs and runs its loads 64 bytes ahead;
   * RISC-V's copies 64-byte blocks). Absent: f, as x86's rep movsb and byte loops report.
   */
  readonly usercopyReported?: {
    copy(toUser: boolean, userLow: number, kernelLow: number, n: number, f: number): number;
    /** clear_user's; absent: f */
    clear?(userLow: number, n: number, f: number): number;
  };
  /**
   * kmap_local_page / kunmap_local on `cpuId` (32-bit highmem: a fixmap slot
   * mapping the frame for a moment; a lowmem frame's direct-map address).
   * Absent: every frame has its direct-map address.
   */
  kmapLocalPage?(k: KernelCore, cpuId: number, pfn: number): bigint;
  kunmapLocal?(k: KernelCore, cpuId: number, va: bigint): void;
  /** the memory zones (absent: x86-64's DMA, DMA32, Normal; 32-bit x86: DMA, Normal, HighMem) */
  readonly zones?: ZoneLayout;
  /**
   * arch_sync_kernel_mappings: vmalloc has just mapped `vpn` in init_mm's
   * tables; where a process's PGD keeps its own copy of kernel entries the
   * architecture may copy a new one into every PGD (32-bit x86 since 5.8).
   * Absent: nothing to do (the kernel's upper tables are shared or preallocated).
   */
  syncKernelMappings?(k: KernelCore, vpn: number): void;
  /** __va / __pa over the direct map (__va: -1n for a frame with no permanent kernel address, 32-bit highmem; __pa: -1 for an address outside the direct map) */
  directVa(pa: number): bigint;
  directPa(va: bigint, ramBytes: number): number;
  /** a table the MMU reads besides Linux's radix tables (pagetable=inverted: the hashed IPT); absent: none */
  readonly hwTable?: ArchHwTable;
  /** memory protection keys (x86-64: PKU and PKRU); absent: the architecture has none modelled */
  readonly pkeys?: ArchPkeys;
  /**
   * The fold of a run's demand-zero faults (core/faultfold.ts) applies to this architecture's
   * user faults; `resolved` runs what its handler runs after handle_mm_fault resolved one
   * (RISC-V: update_mmu_cache), null for nothing. Absent: every fault goes to `userFault`.
   */
  readonly faultFold?: { readonly resolved: ((cpu: Mmu, vaHi: number, vaLo: number) => void) | null };
}

/**
 * An architecture's memory protection keys: the per-thread rights register
 * and its rules (x86-64: PKRU; Linux: arch/x86/include/asm/pkeys.h,
 * pkru.h, arch/x86/mm/pkeys.c). Generic code (core/pkeys.ts) keeps the
 * keys' allocation and the thread's saved copy; this is the register.
 */
export interface ArchPkeys {
  /** arch_pkeys_enabled: the CPU has keys and the kernel turned them on (x86 X86_FEATURE_OSPKE) */
  readonly enabled: boolean;
  /** arch_max_pkey(): 16 with OSPKE, else 1 */
  readonly maxPkey: number;
  /** init_pkru_value: the register of a kernel thread and of a freshly exec'd process */
  readonly initValue: number;
  /** the register's name ("PKRU") */
  readonly register: string;
  /** rdpkru on a CPU */
  read(cpu: Mmu): number;
  /** wrpkru on a CPU */
  write(cpu: Mmu, value: number): void;
  /** __pkru_allows_pkey: may a data read (write) use pages of key `pkey` under register `value`? */
  allows(value: number, pkey: number, write: boolean): boolean;
  /** arch_set_user_pkey_access's new register: `value` with key `pkey` given PKEY_DISABLE_* `rights` */
  withRights(value: number, pkey: number, rights: number): number;
  /** key `pkey`'s bits of `value` in words (`AD=1 WD=0`) */
  describe(value: number, pkey: number): string;
}

/** A hardware page table the kernel keeps as a cache of its radix tables (pagetable=inverted). */
export interface ArchHwTable {
  /** its counters and sizes by metric name (`ipt.steals`) */
  metrics(): Readonly<Record<string, number>>;
  /** its coherence with the radix tables: every broken rule as a sentence */
  check(k: KernelCore): string[];
  /** the story of an access to vpn by mm through it, for explain */
  explain(k: KernelCore, mm: MmStruct, vpn: number, access: Access): string[];
}

/** Where the kernel image sits in physical memory, and what boot reserves around it. */
export interface KernelImage {
  /** frames below this are reserved (the first 1 MiB on x86) */
  readonly lowReservedPfns: number;
  /** the image's first frame and the first frame after it (memblock starts there) */
  readonly startPfn: number;
  readonly endPfn: number;
  /** empty_zero_page */
  readonly zeroPfn: number;
  /** text, rodata and data+bss, in bytes (the boot log's "kernel image") */
  readonly bytes: number;
}

/** What setup_arch leaves for the rest of boot. */
export interface ArchMemoryMap {
  /** init_mm.pgd */
  rootPfn: Pfn;
  /** PAGE_KERNEL as the kernel maps vmalloc pages */
  pageKernel: MapFlags;
  /** the vmalloc area as page numbers: [start, end) */
  vmallocStartVpn: number;
  vmallocEndVpn: number;
}

/** Per-CPU TLB state (Linux: struct tlb_state, cpu_tlbstate). */
export interface CpuTlbState {
  /** the mm whose page tables the CPU's root register points to; null = init_mm */
  readonly loadedMm: MmStruct | null;
  /** the ASID slot it runs under */
  readonly loadedAsid: number;
  /** running a kernel thread on a borrowed mm (lazy TLB mode) */
  readonly isLazy: boolean;
  readonly contextSwitches: number;
  /** flush IPIs this CPU received */
  readonly shootdownsReceived: number;
  /** full flushes of the current ASID done by switch_mm (a stale or new ASID) */
  readonly switchFlushes: number;
  /** root-register writes on kernel entry and exit (x86 PTI, ARM64 KPTI; 0 without) */
  readonly ptiCr3Writes: number;
  /** returns to user that flushed the user ASID (PTI) */
  readonly ptiUserFlushes: number;
}

/** Address-space switching and TLB maintenance (Linux: arch/X/mm/tlb.c, context.c). */
export interface ArchTlb {
  readonly states: readonly CpuTlbState[];
  /** flush IPIs sent (0 where TLB maintenance is broadcast by hardware) */
  shootdowns: number;
  /** broadcast TLB maintenance instructions issued (arm64 TLBI ...IS; 0 where flushes are IPIs) */
  readonly broadcasts: number;
  /** arm64, RISC-V: ASID allocator rollovers (arch/X/mm/context.c new_context); absent elsewhere */
  readonly asidRollovers?: number;
  /** RISC-V: SBI remote fence calls (sbi_remote_sfence_vma_asid); absent elsewhere */
  readonly sbiFences?: number;
  /** called when a dead mm is no longer loaded anywhere (its PGD can be freed) */
  onMmUnloaded: ((mm: MmStruct) => void) | null;
  /** switch_mm, or enter_lazy_tlb for a kernel thread (null) */
  switchMm(cpuId: number, next: MmStruct | null): void;
  /** flush_tlb_mm_range from `fromCpu`, of the kind the caller names (flush_tlb_range by default) */
  flushTlbMmRange(
    mm: MmStruct,
    startVpn: number,
    nrPages: number,
    fromCpu: number,
    kind?: TlbFlush,
    stride?: number,
  ): void;
  /** flush_tlb_kernel_range from `fromCpu` (every CPU) */
  flushTlbKernelRange(startVpn: number, nrPages: number, fromCpu: number): void;
  /**
   * Reclaim's batched unmap flush from the reclaiming task's CPU `fromCpu`
   * (CONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH, mm/tlbbatch.ts): the
   * architecture keeps the batch's own part (struct
   * arch_tlbflush_unmap_batch). arch_tlbbatch_should_defer,
   * arch_tlbbatch_add_pending, arch_tlbbatch_flush,
   * arch_flush_tlb_batched_pending; absent: no batching.
   */
  tlbbatchShouldDefer?(mm: MmStruct, fromCpu: number): boolean;
  tlbbatchAddPending?(mm: MmStruct, vpn: number, fromCpu: number): void;
  tlbbatchFlush?(fromCpu: number): void;
  flushTlbBatchedPending?(mm: MmStruct, fromCpu: number): void;
  /** kernel entry and return to user on `cpuId` (a root switch under PTI) */
  enterKernel(cpuId: number): void;
  exitToUser(cpuId: number): void;
  /** whether enterKernel and exitToUser change nothing (no PTI, no KPTI); absent: they may (faultfold.ts) */
  entryQuiet?(): boolean;
  /** init_mm's tables back on a CPU whose mm goes away while it runs a kernel thread */
  loadKernel(cpuId: number, kernelRootPfn: number): void;
  /** arm64 KPTI: the table TTBR1_EL1 holds at EL0 (tramp_pg_dir); -1 or absent elsewhere */
  userKernelRootPfn?(): number;
  /** the ASID user translations carry on `cpuId` now (x86 under PTI: the user PCID) */
  userAsid(cpuId: number): number;
}

/**
 * The kernel's side of a user-mode fault: the architecture's
 * do_user_addr_fault / do_mem_abort / handle_page_fault, given the CPU that
 * took it, the access's outcome and the faulting address. Returns null
 * when resolved (retry), else the signal (signal.ts SigInfo).
 */
export type UserFaultHandler = (
  k: KernelCore,
  cpu: Mmu,
  task: Task,
  outcome: number,
  /**
   * the address as the caller of the access wrote it, or null: then it is
   * toBig(vaHi, vaLo), which the handler makes only for a signal's si_addr
   * (a resolved fault makes no bigint)
   */
  va: bigint | null,
  /** va's halves, as numbers (the handler finds the page from them) */
  vaHi: number,
  vaLo: number,
) => { signal: string; code: string; addr: bigint; pkey?: number } | null;

/** A user access's outcome: the byte, or the signal it raised (and whether that killed the task). */
export type UserAccessResult =
  | { ok: true; pa: number; value: number; faults: number }
  | { ok: false; signal: string; siCode: string; siAddr: bigint; killed: boolean; faults: number };

/** A kernel access's outcome: the byte, or the oops (and the panic, if it was one). */
export type KernelAccessResult =
  | { ok: true; pa: number; value: number; faults: number }
  | { ok: false; oops: string[]; panic: string | null };

/** One oops as it happened. */
export interface Oops {
  lines: string[];
  cpu: number;
  pid: number;
  comm: string;
  /**
   * the fault's hardware code: x86's #PF error code, arm64's ESR_EL1 (its
   * low 32 bits); -1 for an oops that is not a page fault or data abort
   */
  code: number;
}

/** A character device: a kernel buffer, mapped to processes by remap_pfn_range. */
export interface Device {
  name: string;
  pfn: number;
  pages: number;
  order: number;
}

/** The frames memblock handed out at boot: [start, end) pfns after the image. */
export interface MemblockSummary {
  start: number;
  end: number;
  frames: number;
}

/** The subsystems the kernel owns, as boot builds them. */
export interface KernelParts {
  readonly arch: Arch;
  readonly machine: Machine;
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
  /** balance_dirty_pages and the background flusher (mm/page_writeback.ts; null: no dirty limits, reclaim writes) */
  readonly dirtyThrottle: DirtyThrottle | null;
  /** the node's compaction thread (mm/kcompactd.ts; null in the Windows profile) */
  readonly kcompactd: Kcompactd | null;
  /** ASIDs, context switches, TLB shootdowns */
  readonly tlbMgr: ArchTlb;
  /** the user-access routines (copy_*_user, get_user, put_user, clear_user, strncpy_from_user) */
  readonly uaccess: Uaccess;
  /** policy=lru: every user access moves its page to the head of the list */
  readonly exactLru: boolean;
}

/** The kernel: its subsystems and the state its modules share. */
export interface KernelCore extends KernelParts {
  readonly config: ResolvedKernelConfig;
  readonly tasks: Task[];
  /** the task current on each CPU (null: idle) */
  readonly current: (Task | null)[];
  /** the next pid, and each CPU's next kworker number */
  nextPid: number;
  readonly kworkerSerial: number[];
  /** the CPU running the current system call (flushes from it need no IPI) */
  runningCpu: number;
  /** the address space whose fault or system call is allocating (the OOM killer does not reap it in place) */
  faultingMm: MmStruct | null;
  /** reclaim is running (PF_MEMALLOC: allocations inside it do not recurse into reclaim) */
  reclaiming: boolean;
  /** kernel-mode page faults on a vmalloc address resolved by copying init_mm's entry (32-bit x86 before 5.8: vmalloc_fault) */
  vmallocFaults: number;
  /** pages of user/kernel page tables allocated after boot (NR_PAGETABLE) */
  pageTablePages: number;
  /** pages the last MADV_PAGEOUT calls reclaimed (reset by callers that report it) */
  lastPageout: number;
  /** /proc/vmstat drop_pagecache, drop_slab (drop_caches writes) */
  readonly dropCachesStats: DropCachesStats;
  /** /proc/vmstat's pgmigrate_* and compact_* events (mm/compaction.ts) */
  readonly compactStats: CompactStats;
  /** OOM kills so far, and the kernel's report line for each */
  oomKills: number;
  /** __vm_enough_memory warnings printed so far (its pr_warn_ratelimited burst) */
  vmEnoughWarnings: number;
  readonly oomReports: string[];
  readonly oopses: Oops[];
  panicked: string | null;
  /** kernel log (dmesg) */
  readonly log: string[];
  /** character devices: a kernel buffer each, mapped to processes by remap_pfn_range */
  readonly devices: Map<string, Device>;
  /** the operating-system profile's hooks (OsProfile below); null for Linux */
  readonly os: OsProfile | null;
}

/**
 * The operating-system profile hook (KernelCore.os): where a kernel other than Linux's
 * takes over the user side of the same machine (profile=windows). The
 * hardware, boot, the buddy allocator, the architecture's page tables and
 * TLB maintenance stay the kernel's; a profile owns user address spaces
 * (their layout, their system calls, their page faults) and says so at
 * these few points. Linux (profile=linux) has no hook: `KernelCore.os` is
 * null and every path is the one it was.
 */
export interface OsProfile {
  /** the `profile=` name */
  readonly name: string;
  /**
   * A new process's address space has just been created (spawn: the mm exec
   * leaves): the profile sets up its own per-process state on it.
   */
  newProcess(k: KernelCore, task: Task): void;
  /**
   * A user-mode fault (entry.ts userModeAccess, after the hardware raised it,
   * on a TLB hit or a walk): resolve it (null: retry the access) or name the
   * exception as a SigInfo (`signal` is the exception's name,
   * `code` read, write or execute, `addr` the address). `nonCanonical`: the
   * CPU raised a #GP for an address outside the canonical range, not a #PF.
   */
  userFault(
    k: KernelCore,
    task: Task,
    va: bigint,
    access: Access,
    nonCanonical: boolean,
  ): { signal: string; code: string; addr: bigint } | null;
  /** `explain P ADDR`: what the profile's fault handler would do with this access's fault, changing nothing. */
  explainUserFault(k: KernelCore, task: Task, va: bigint, access: Access): string[];
  /** exit_mmap is about to run on mm: release what the profile mapped (its PTEs, frames, charges). */
  exitMm(k: KernelCore, mm: MmStruct): void;
  /**
   * Is the user PTE for vpn the profile's (the invariant checker leaves it to
   * `checkPte`, not to Linux's VMA rules)?
   */
  ownsVpn(mm: MmStruct, vpn: number): boolean;
  /**
   * Is vpn inside a kernel mapping of the profile's own that maps frames of
   * every kind, in the kernel's and every process's tables (Windows x86 2G:
   * system space from 0x80000000)? The invariant checker leaves it alone.
   */
  kernelAlias(vpn: number): boolean;
  /** The invariant checker's question for an owned entry: problems found, and the frame it maps (-1: none). */
  checkPte(k: KernelCore, mm: MmStruct, vpn: number, hi: number, lo: number, problems: string[]): number;
  /**
   * A kernel-mode fault (entry.ts kernelModeAccess, before the
   * architecture's handler) on memory the profile manages itself (Windows:
   * its pools): null when resolved (retry), the result (a bug check) when
   * not; undefined when the address is not the profile's.
   */
  kernelFault?(
    k: KernelCore,
    cpuId: number,
    va: bigint,
    access: Access,
  ): KernelAccessResult | null | undefined;
  /** `explain kernel ADDR`: what `kernelFault` would do, in words; undefined when the address is not the profile's. */
  explainKernelFault?(k: KernelCore, cpuId: number, va: bigint, access: Access): string[] | undefined;
}
