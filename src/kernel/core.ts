/**
 * The kernel as its own modules see it: the subsystems it owns and the
 * state they share (in Linux, the kernel's globals: init_mm, the zones, the
 * task list, `current`). Kernel (Kernel.ts) is the one implementation; the
 * modules that hold the kernel's code (boot, sched, mman, fault, oom, ...)
 * take it as this type, so they need not import the facade.
 */
import type { X86Machine as Machine } from "../hw/arch/x86_64/machine.ts";
import type { Mapper } from "../hw/arch/x86_64/Mapper.ts";
import type { X86Tlb } from "./arch/x86/tlb.ts";
import type { ResolvedKernelConfig } from "./config.ts";
import type { PageCache } from "./fs/file.ts";
import type { Layout } from "./layout.ts";
import type { BuddyAllocator } from "./mm/buddy.ts";
import type { MmStruct } from "./mm/MmStruct.ts";
import type { PageDescTable } from "./mm/PageDesc.ts";
import type { SlabAllocator } from "./mm/slab.ts";
import type { SwapArea } from "./mm/swapfile.ts";
import type { UserMm } from "./mm/userMm.ts";
import type { Vmalloc } from "./mm/vmalloc.ts";
import type { Vmscan } from "./mm/vmscan.ts";
import type { Task } from "./task.ts";
import type { Uaccess } from "./uaccess.ts";
import type { Vaddr } from "./vaddr.ts";

/** One oops as it happened. */
export interface Oops {
  lines: string[];
  cpu: number;
  pid: number;
  comm: string;
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
  readonly machine: Machine;
  readonly levels: 4 | 5;
  readonly layout: Layout;
  readonly va: Vaddr;
  readonly pages: PageDescTable;
  readonly buddy: BuddyAllocator;
  readonly slab: SlabAllocator;
  readonly vm: Vmalloc;
  /** edits the kernel's page tables (init_mm), taking table pages from the buddy allocator */
  readonly mapper: Mapper;
  /** init_mm.pgd (swapper_pg_dir) */
  readonly rootPfn: number;
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
  /** ASIDs, context switches, TLB shootdowns */
  readonly tlbMgr: X86Tlb;
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
  /** pages of user/kernel page tables allocated after boot (NR_PAGETABLE) */
  pageTablePages: number;
  /** pages the last MADV_PAGEOUT calls reclaimed (reset by callers that report it) */
  lastPageout: number;
  /** OOM kills so far, and the kernel's report line for each */
  oomKills: number;
  readonly oomReports: string[];
  readonly oopses: Oops[];
  panicked: string | null;
  /** kernel log (dmesg) */
  readonly log: string[];
  /** character devices: a kernel buffer each, mapped to processes by remap_pfn_range */
  readonly devices: Map<string, Device>;
}
