/**
 * drgn's helpers over the kernel's read-only view (issue #21): the view's
 * data as typed objects named and navigated as drgn's are, so a program
 * written against drgn (https://drgn.readthedocs.io, "Linux Kernel
 * Helpers") reads the simulated kernel the same way:
 *
 *     const task = find_task(view, pid)!;         // drgn.helpers.linux.pid
 *     for (const vma of for_each_vma(task.mm!))   // drgn.helpers.linux.mm
 *     const page = follow_page(task.mm!, addr);   // the page an address maps
 *     decode_page_flags(page!);                   // "PG_uptodate|PG_lru|..."
 *
 * A thin layer: every answer is the view's (KernelView.ts) — tasks, mm,
 * VMAs, walks, frames, page->flags — renamed, with no state of its own and
 * nothing about any one architecture. Names and semantics are drgn's
 * (drgn/helpers/linux/pid.py, mm.py), and for the swap entry, which drgn
 * has no helper for, Linux's (include/linux/swapops.h); fields keep the C
 * names (`task.mm`, `vma.vm_start`, `page._refcount`). Where drgn raises
 * FaultError (an address that does not translate), a helper returns null:
 * in vmlab a fault is a value. Addresses are unsigned bigints, frames
 * numbers, as everywhere in the view (types.ts).
 */
import type { TaskHandle } from "../core/task.ts";
import { PTE_MARKER_GUARD, SWP_PTE_MARKER } from "./crash.ts";
import type { KernelView } from "./KernelView.ts";
import type { FrameInfo, MmInfo, TaskInfo, VmaInfo } from "./types.ts";

const PAGE_SHIFT = 12n;
const PAGE_MASK = 0xfffn;

// ---- objects ----

/** struct task_struct *: a task as the view has it (TaskInfo), with its address space. */
export interface TaskStruct {
  readonly prog_: KernelView;
  /** the handle the facade and the view take for this task */
  readonly handle: TaskHandle;
  readonly pid: number;
  readonly comm: string;
  /** task->mm: null (NULL) for a kernel thread */
  readonly mm: MmStruct | null;
  /** the rest of the view's answer: state, faults, signals, the CPU it runs on */
  readonly info: TaskInfo;
}

/** struct mm_struct *: a process's address space, or init_mm (`init_mm(prog)`). */
export interface MmStruct {
  readonly prog_: KernelView;
  /** whose tables a walk reads: a task using this mm (threads share it), or "kernel" for init_mm */
  readonly owner: TaskHandle | "kernel";
  /** mm->map_count and mm->total_vm (pages); init_mm: 0 */
  readonly map_count: number;
  readonly total_vm: number;
  /** mm->def_flags (VM_LOCKED, VM_LOCKONFAULT after mlockall(MCL_FUTURE)); init_mm: 0 */
  readonly def_flags: number;
  /** mm->start_brk, mm->brk, mm->mmap_base; init_mm: 0 */
  readonly start_brk: bigint;
  readonly brk: bigint;
  readonly mmap_base: bigint;
  /** the view's MmInfo (RSS, page-table pages, CPUs); null for init_mm */
  readonly info: MmInfo | null;
}

/** struct vm_area_struct *. */
export interface VmAreaStruct {
  readonly vm_mm: MmStruct;
  /** [vm_start, vm_end): vm_end is the first byte after the area */
  readonly vm_start: bigint;
  readonly vm_end: bigint;
  /** VM_READ, VM_WRITE, ... as Linux numbers them (`info.flagNames` has their names) */
  readonly vm_flags: number;
  /** the offset in the file, device or shmem object, in pages */
  readonly vm_pgoff: number;
  /** the path of vm_file, or null for anonymous memory */
  readonly vm_file: string | null;
  readonly info: VmaInfo;
}

/**
 * struct page *: `address` is the pointer (vmemmap, or mem_map on 32-bit
 * x86, plus pfn * sizeof(struct page)); the fields are read from the view
 * when asked, as drgn reads them from memory.
 */
export class StructPage {
  declare readonly prog_: KernelView;
  constructor(
    prog: KernelView,
    readonly address: bigint,
  ) {
    hide(this, { prog_: prog });
  }

  /** page->flags: the PG_* bits (enum pageflags) and the zone above them */
  get flags(): bigint {
    return this.prog_.pageFlags(page_to_pfn(this))!.value;
  }

  /**
   * page->_refcount. A large page-cache folio's references are all on its
   * head (folio_ref_add: the cache's one per page, one per PTE that maps a
   * page), its tails hold 0; vmlab counts them per frame, so the head shows
   * their sum. (A THP shows vmlab's per-frame counts.)
   */
  get _refcount(): number {
    const pfn = page_to_pfn(this);
    const c = this.prog_.compound(pfn);
    if (c.order === 0 || this.info.kind !== "page-cache") return this.info.refcount;
    if (c.head !== pfn) return 0;
    let sum = 0;
    for (let i = 0; i < 2 ** c.order; i++) sum += this.prog_.frame(pfn + i)!.refcount;
    return sum;
  }

  /** page->_mapcount as Linux keeps it: the mappings less one (-1: mapped by no page table) */
  get _mapcount(): number {
    return this.info.mapcount - 1;
  }

  /** the view's FrameInfo: kind, owner, zone, buddy order */
  get info(): FrameInfo {
    return this.prog_.frame(page_to_pfn(this))!;
  }
}

/** pte_t (or a PMD/PUD that is a leaf): the entry a walk ends on, as lookup_address_in_mm finds it. */
export interface PteT {
  readonly prog_: KernelView;
  /** the raw entry */
  readonly value: bigint;
  /** 0 is the last level; the architecture's name of its table (PT, L3, ...) and Linux's (PTE, PMD, ...) */
  readonly level: number;
  readonly levelName: string;
  readonly linuxLevel: string;
  /** the entry's physical address */
  readonly entryPa: number;
  /** pte_present (a PROT_NONE entry included) */
  readonly present: boolean;
  /** it maps a page: a PTE, or a huge page above level 0 */
  readonly leaf: boolean;
  /** the 4 KiB frame it maps at the looked-up address (-1: none), and the page size (`4K`, `2M`; null: none) */
  readonly pfn: number;
  readonly pageSize: string | null;
  /** the view's decoding of an entry that maps nothing: the swap slot (-1: none), a guard marker */
  readonly swapSlot: number;
  readonly guard: boolean;
}

/** swp_entry_t: `val` holds the type above SWP_TYPE_SHIFT and the offset below (include/linux/swapops.h). */
export interface SwpEntryT {
  readonly prog_: KernelView;
  readonly val: bigint;
}

/**
 * `fields` with `links` added as properties that are not enumerable: the
 * program and the kernel's handles stay reachable without console.log or
 * JSON printing the whole kernel behind them.
 */
function hide<T extends object, L extends object>(fields: T, links: L): T & L {
  for (const [key, value] of Object.entries(links))
    Object.defineProperty(fields, key, { value, enumerable: false });
  return fields as T & L;
}

// ---- drgn.helpers.linux.pid ----

function taskStruct(prog: KernelView, handle: TaskHandle, info: TaskInfo): TaskStruct {
  const mm = info.hasMm && info.alive ? mmStruct(prog, handle, prog.mm(handle)!) : null;
  return hide({ pid: info.pid, comm: info.comm, mm, info }, { prog_: prog, handle });
}

function mmStruct(prog: KernelView, owner: TaskHandle, info: MmInfo): MmStruct {
  return hide(
    {
      map_count: info.mapCount,
      total_vm: info.totalVm,
      def_flags: info.defFlags,
      start_brk: info.startBrk,
      brk: info.brk,
      mmap_base: info.mmapBase,
      info,
    },
    { prog_: prog, owner },
  );
}

/**
 * for_each_task: every task visible in the PID namespace, by pid (the
 * exited are unhashed and not seen); with `idle`, the idle tasks (pid 0,
 * swapper/N) first, as drgn's `for_each_task(prog, idle=True)`.
 */
export function* for_each_task(prog: KernelView, opts: { idle?: boolean } = {}): Generator<TaskStruct> {
  const handles = prog.taskHandles();
  const tasks = prog.tasks().map((info, i) => ({ info, handle: handles[i] }));
  const idle = tasks.filter((t) => t.info.alive && t.info.state === "I");
  const visible = tasks.filter((t) => t.info.alive && t.info.state !== "I");
  visible.sort((a, b) => a.info.pid - b.info.pid);
  for (const t of opts.idle ? [...idle, ...visible] : visible) yield taskStruct(prog, t.handle, t.info);
}

/** find_task: the task with this pid, or null (pid 0, the idle task, is not hashed: null, as in Linux). */
export function find_task(prog: KernelView, pid: number): TaskStruct | null {
  for (const t of for_each_task(prog)) if (t.pid === pid) return t;
  return null;
}

/** `prog["init_mm"].address_of_()`: the kernel's own address space, whose walks read swapper_pg_dir. */
export function init_mm(prog: KernelView): MmStruct {
  const fields = {
    map_count: 0,
    total_vm: 0,
    def_flags: 0,
    start_brk: 0n,
    brk: 0n,
    mmap_base: 0n,
    info: null,
  };
  return hide(fields, { prog_: prog, owner: "kernel" as const });
}

// ---- drgn.helpers.linux.mm: VMAs ----

/** for_each_vma: the VMAs of an address space in address order (init_mm has none). */
export function* for_each_vma(mm: MmStruct): Generator<VmAreaStruct> {
  if (mm.owner === "kernel") return;
  for (const v of mm.prog_.vmas(mm.owner))
    yield {
      vm_mm: mm,
      vm_start: v.start,
      vm_end: v.end,
      vm_flags: v.flags,
      vm_pgoff: v.pgoff,
      vm_file: v.file?.path ?? null,
      info: v,
    };
}

/** vma_find: the VMA containing `addr`, or null. */
export function vma_find(mm: MmStruct, addr: bigint): VmAreaStruct | null {
  for (const v of for_each_vma(mm)) if (addr >= v.vm_start && addr < v.vm_end) return v;
  return null;
}

// ---- drgn.helpers.linux.mm: following an address ----

/**
 * The leaf of `addr` in an address space that the hardware would translate
 * through (present, not PROT_NONE), or null: drgn's page-table walk, which
 * raises FaultError where this returns null.
 */
function translatedLeaf(mm: MmStruct, addr: bigint) {
  const leaf = mm.prog_.walk(mm.owner, addr).leaf;
  return leaf?.accessible ? leaf : null;
}

/** follow_phys: the physical address `addr` maps to in `mm`, or null when it does not translate. */
export function follow_phys(mm: MmStruct, addr: bigint): bigint | null {
  const leaf = translatedLeaf(mm, addr);
  return leaf === null ? null : BigInt(leaf.pa) + (addr & PAGE_MASK);
}

/** follow_pfn: the frame `addr` maps to in `mm` (the 4 KiB frame inside a huge page), or null. */
export function follow_pfn(mm: MmStruct, addr: bigint): number | null {
  return translatedLeaf(mm, addr)?.pfn ?? null;
}

/** follow_page: the struct page `addr` maps to in `mm`, or null. */
export function follow_page(mm: MmStruct, addr: bigint): StructPage | null {
  const pa = follow_phys(mm, addr);
  return pa === null ? null : phys_to_page(mm.prog_, pa);
}

/**
 * lookup_address_in_mm (arch/x86/mm/pat/set_memory.c, the walk under
 * follow_pte): the entry the walk of `addr` ends on — a leaf at any level,
 * a swap entry or marker, an empty PTE — or null when a table above the
 * last level is missing (pXd_none).
 */
export function lookup_address_in_mm(mm: MmStruct, addr: bigint): PteT | null {
  const w = mm.prog_.walk(mm.owner, addr);
  const e = w.entries.at(-1);
  if (e === undefined || (e.level > 0 && e.hi === 0 && e.lo === 0)) return null;
  const fields = {
    value: (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0),
    level: e.level,
    levelName: e.levelName,
    linuxLevel: e.linuxLevel,
    entryPa: e.entryPa,
    present: e.present,
    leaf: e.leaf,
    pfn: w.leaf?.pfn ?? -1,
    pageSize: w.leaf?.pageSize ?? null,
    swapSlot: w.swapSlot,
    guard: w.guard,
  };
  return hide(fields, { prog_: mm.prog_ });
}

// ---- drgn.helpers.linux.mm: struct page ----

/** page->flags' enum pageflags names as drgn's decode_enum_type_flags lists them: each bit, then the aliases (include/linux/page-flags.h, Linux 6.12). */
const PAGEFLAGS: [string, number][] = [
  ["PG_locked", 0],
  ["PG_writeback", 1],
  ["PG_referenced", 2],
  ["PG_uptodate", 3],
  ["PG_dirty", 4],
  ["PG_lru", 5],
  ["PG_head", 6],
  ["PG_waiters", 7],
  ["PG_active", 8],
  ["PG_workingset", 9],
  ["PG_owner_priv_1", 10],
  ["PG_owner_2", 11],
  ["PG_arch_1", 12],
  ["PG_reserved", 13],
  ["PG_private", 14],
  ["PG_private_2", 15],
  ["PG_reclaim", 16],
  ["PG_swapbacked", 17],
  ["PG_unevictable", 18],
  ["PG_mlocked", 19],
  // CONFIG_MEMORY_FAILURE, and (64-bit) CONFIG_PAGE_IDLE_FLAG, as distribution kernels build
  ["PG_hwpoison", 20],
  ["PG_young", 21],
  ["PG_idle", 22],
  ["PG_readahead", 16],
  ["PG_swapcache", 10],
  ["PG_checked", 10],
  ["PG_anon_exclusive", 11],
  ["PG_mappedtodisk", 11],
  ["PG_fscache", 15],
  ["PG_pinned", 10],
  ["PG_savepinned", 4],
  ["PG_foreign", 10],
  ["PG_xen_remapped", 10],
  ["PG_isolated", 16],
  ["PG_reported", 3],
  ["PG_vmemmap_self_hosted", 10],
  ["PG_has_hwpoisoned", 8],
  ["PG_large_rmappable", 9],
  ["PG_partially_mapped", 16],
];

/** BITS_PER_LONG of the kernel: 32 when its whole address space fits in 32 bits (i386). */
function bitsPerLong(prog: KernelView): bigint {
  return prog.layout().userEnd <= 1n << 32n ? 32n : 64n;
}

/**
 * decode_page_flags_value: page->flags' PG_* bits (below __NR_PAGEFLAGS)
 * as drgn's decode_flags writes them: every name of every set bit, aliases
 * included, joined by `|`; "0" when none is set.
 */
export function decode_page_flags_value(prog: KernelView, flags: bigint): string {
  const nrPageflags = bitsPerLong(prog) === 64n ? 23n : 21n;
  const value = flags & ((1n << nrPageflags) - 1n);
  if (value === 0n) return "0";
  return PAGEFLAGS.filter(([, bit]) => (value >> BigInt(bit)) & 1n)
    .map(([name]) => name)
    .join("|");
}

/** decode_page_flags: a page's flags in words, e.g. `PG_uptodate|PG_lru|PG_swapbacked|PG_reported`. */
export function decode_page_flags(page: StructPage): string {
  return decode_page_flags_value(page.prog_, page.flags);
}

/** PFN_PHYS: a frame's physical address. */
export function PFN_PHYS(_prog: KernelView, pfn: number): bigint {
  return BigInt(pfn) << PAGE_SHIFT;
}

/** PHYS_PFN: the frame of a physical address. */
export function PHYS_PFN(_prog: KernelView, addr: bigint): number {
  return Number(addr >> PAGE_SHIFT);
}

/** pfn_to_page: the frame's struct page (a frame past the end of RAM has none: a RangeError). */
export function pfn_to_page(prog: KernelView, pfn: number): StructPage {
  if (prog.frame(pfn) === null)
    throw new RangeError(`pfn_to_page: pfn ${pfn} is not a frame of RAM (${prog.frames().total} frames)`);
  const m = prog.memMap();
  return new StructPage(prog, m.page0 + BigInt(pfn) * BigInt(m.structPageSize));
}

/** page_to_pfn: `page - page0`, as drgn computes it. */
export function page_to_pfn(page: StructPage): number {
  const m = page.prog_.memMap();
  return Number((page.address - m.page0) / BigInt(m.structPageSize));
}

/** compound_head: the head page of the compound page (folio) holding `page`; the page itself if it is not compound. */
export function compound_head(page: StructPage): StructPage {
  return pfn_to_page(page.prog_, page.prog_.compound(page_to_pfn(page)).head);
}

/** compound_order: the order of a compound page's head (0 for a tail or a page that is not compound). */
export function compound_order(page: StructPage): number {
  const pfn = page_to_pfn(page);
  const c = page.prog_.compound(pfn);
  return c.head === pfn ? c.order : 0;
}

/** PageHead: the first page of a compound page (a large folio). */
export function PageHead(page: StructPage): boolean {
  return compound_order(page) > 0;
}

/** PageTail: a page of a compound page other than its first. */
export function PageTail(page: StructPage): boolean {
  return page.prog_.compound(page_to_pfn(page)).head !== page_to_pfn(page);
}

/** page_to_phys: the page's physical address. */
export function page_to_phys(page: StructPage): bigint {
  return PFN_PHYS(page.prog_, page_to_pfn(page));
}

/** phys_to_page: the struct page of the frame holding a physical address. */
export function phys_to_page(prog: KernelView, addr: bigint): StructPage {
  return pfn_to_page(prog, PHYS_PFN(prog, addr));
}

// ---- drgn.helpers.linux.mm: the direct map ----

/**
 * The direct map's offset (drgn's _linux_helper_direct_mapping_offset): the
 * address __va gives physical address 0.
 */
function directMappingOffset(prog: KernelView): bigint {
  return prog.directVa(0);
}

/**
 * phys_to_virt: the direct-map address of a physical address. Arithmetic,
 * as drgn's: for a frame the kernel does not map permanently (32-bit
 * highmem) the address is not a mapped one.
 */
export function phys_to_virt(prog: KernelView, addr: bigint): bigint {
  return addr + directMappingOffset(prog);
}

/** virt_to_phys: the physical address of a direct-map address (only direct-map addresses: kmalloc, the page allocator; not vmalloc). */
export function virt_to_phys(prog: KernelView, addr: bigint): bigint {
  return addr - directMappingOffset(prog);
}

/** pfn_to_virt: the direct-map address of a frame. */
export function pfn_to_virt(prog: KernelView, pfn: number): bigint {
  return phys_to_virt(prog, PFN_PHYS(prog, pfn));
}

/** virt_to_pfn: the frame of a direct-map address. */
export function virt_to_pfn(prog: KernelView, addr: bigint): number {
  return PHYS_PFN(prog, virt_to_phys(prog, addr));
}

/** page_to_virt: the direct-map address of a page. */
export function page_to_virt(page: StructPage): bigint {
  return pfn_to_virt(page.prog_, page_to_pfn(page));
}

/** virt_to_page: the struct page of a direct-map address. */
export function virt_to_page(prog: KernelView, addr: bigint): StructPage {
  return pfn_to_page(prog, virt_to_pfn(prog, addr));
}

// ---- include/linux/swapops.h ----

/** MAX_SWAPFILES_SHIFT; the swap type of PTE markers (the last of the 32: SWP_PTE_MARKER) and PTE_MARKER_GUARD (Linux 6.13: a MADV_GUARD_INSTALL region) are pagemap's (crash.ts). */
const MAX_SWAPFILES_SHIFT = 5n;

export { PTE_MARKER_GUARD, SWP_PTE_MARKER } from "./crash.ts";

/** SWP_TYPE_SHIFT: BITS_PER_XA_VALUE (BITS_PER_LONG - 1) less MAX_SWAPFILES_SHIFT: 58 on 64-bit, 26 on 32-bit. */
function swpTypeShift(prog: KernelView): bigint {
  return bitsPerLong(prog) - 1n - MAX_SWAPFILES_SHIFT;
}

/** swp_entry: the entry of a swap type and offset. */
export function swp_entry(prog: KernelView, type: number, offset: number): SwpEntryT {
  return hide({ val: (BigInt(type) << swpTypeShift(prog)) | BigInt(offset) }, { prog_: prog });
}

/** swp_type: the swap area (0 for vmlab's one swap device; SWP_PTE_MARKER for a marker). */
export function swp_type(entry: SwpEntryT): number {
  return Number(entry.val >> swpTypeShift(entry.prog_));
}

/** swp_offset: the page slot in the swap area (a marker: its PTE_MARKER_* bits). */
export function swp_offset(entry: SwpEntryT): number {
  return Number(entry.val & ((1n << swpTypeShift(entry.prog_)) - 1n));
}

/**
 * pte_to_swp_entry of a swap PTE (is_swap_pte: not none, not present): the
 * arch-independent entry the view decoded from it — swp_entry(0, slot) for
 * a swapped-out page, the guard marker's swp_entry(SWP_PTE_MARKER,
 * PTE_MARKER_GUARD) — or null for an entry that is not a swap PTE.
 */
export function pte_to_swp_entry(pte: PteT): SwpEntryT | null {
  if (pte.present || pte.level !== 0) return null;
  if (pte.swapSlot >= 0) return swp_entry(pte.prog_, 0, pte.swapSlot);
  if (pte.guard) return swp_entry(pte.prog_, SWP_PTE_MARKER, PTE_MARKER_GUARD);
  return null;
}
