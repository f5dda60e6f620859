/**
 * A read-only view of the kernel's state as typed data (view/types.ts):
 * tasks, address spaces, VMAs, pages, page-table walks, TLB contents,
 * frames, zones, slab caches, files, meminfo and vmstat, counters. Every
 * method returns a fresh copy; nothing it returns is a live kernel object,
 * and no method changes the kernel (no accessed or dirty bit set, no
 * allocation, no TLB fill, no counter moved).
 *
 * The kernel builds one (`kernel.view`). Front ends (the scenario runner,
 * the CLI, a browser view) read the kernel only through it; the text of
 * /proc files and `show` tables is made from its data by the formatters in
 * proc.ts and procfs.ts.
 *
 * Tasks are named by the handles the kernel facade hands out (TaskHandle,
 * core/task.ts); page numbers (`vpn`) are 4 KiB pages of an address's low
 * bits, as VmaInfo and AddressInfo give them.
 */
import type { Access } from "../../hw/access.ts";
import { formatStaleUse } from "../../hw/mmu/CoherenceChecker.ts";
import { kernelPfn } from "../core/alloc.ts";
import type { KernelCore } from "../core/core.ts";
import type { Layout } from "../core/layout.ts";
import { type TaskHandle, taskOf } from "../core/task.ts";
import { folioSizeError } from "../core/vfs.ts";
import { MIGRATETYPE_NAMES, Mobility } from "../mm/migratetype.ts";
import { doMincore } from "../mm/mincore.ts";
import { cpuInfo, tlbInfo } from "./cpus.ts";
import { crashVtop, linuxPageFlags, type PagemapEntry, pagemap } from "./crash.ts";
import { explainAccess } from "./explain.ts";
import { explainKernelAccess } from "./explainKernel.ts";
import { hugepagesInfo } from "./hugepages.ts";
import { checkInvariants } from "./invariants.ts";
import { ksmInfo, ksmStatInfo } from "./ksm.ts";
import { type LimitInfo, limitsInfo } from "./limits.ts";
import { type MemcgInfo, memcgInfo } from "./memcg.ts";
import {
  counters,
  deviceInfos,
  fileByte,
  fileInfo,
  frameInfo,
  framesInfo,
  slabCacheInfos,
  zoneInfos,
} from "./memory.ts";
import { mmInfo, pageInfo, smapsInfos, taskInfo, vmaInfos } from "./mm.ts";
import { compoundOf, kpageflags, type PageTypesRow, pageTypes } from "./pageTypes.ts";
import { kernelPresentPages, mappingRuns, userEntryPages, walkInfo } from "./pagetable.ts";
import { meminfo, vmstat, vmstatCompat } from "./proc.ts";
import { oomScore, smapsRollup, statmInfo, statusInfo } from "./procstatus.ts";
import { type ReclaimInfo, reclaimInfo, type SwapInfo, swapInfo } from "./reclaim.ts";
import { type ShmRow, shmRows } from "./sysvipc.ts";
import { tableTree } from "./tableTree.ts";
import { thpInfo } from "./thp.ts";
import type {
  AddressInfo,
  CpuInfo,
  DeviceInfo,
  FileInfo,
  FrameInfo,
  FramesInfo,
  KernelCounters,
  MachineInfo,
  MappingRun,
  MmInfo,
  OopsInfo,
  PageInfo,
  PageTablesInfo,
  PagetypeInfo,
  SlabCacheInfo,
  SmapsInfo,
  SmapsRollupInfo,
  StatmInfo,
  StatusInfo,
  TaskInfo,
  TlbInfo,
  VmaInfo,
  WalkInfo,
  ZoneInfo,
} from "./types.ts";
import { type WindowsView, windowsView } from "./windows.ts";

export class KernelView {
  constructor(private readonly k: KernelCore) {}

  // ---- the machine and its layout ----

  machine(): MachineInfo {
    const k = this.k;
    const cpu = k.machine.cpus[0];
    const pt = k.arch.pgtable;
    return {
      arch: k.arch.name,
      levels: k.levels,
      levelNames: Array.from({ length: k.levels }, (_, l) => cpu.format.levelNames[l]),
      linuxLevelNames: Array.from({ length: k.levels }, (_, l) => pt.levelNames[l]),
      cpus: k.machine.cpus.length,
      ramBytes: k.machine.phys.sizeBytes,
      frames: k.machine.phys.nrFrames,
      pcid: k.arch.pgtable.kernelRootVpn > 0 || k.config.pcid,
      pti: k.config.pti,
      rootRegister: k.arch.view.rootRegister,
      asidRegister: k.arch.view.asidRegister ?? null,
      counterNames: { ...k.arch.view.counterNames },
      zeroPfn: k.zeroPfn,
      kernelPgdPfn: k.rootPfn,
      pagetable: k.config.pagetable,
    };
  }

  /** The kernel's virtual layout (`show layout`: proc.ts formatLayout). */
  /** profile=windows: the Windows memory manager's state (VADs, exceptions, commit); null for Linux. */
  windows(): WindowsView | null {
    return windowsView(this.k);
  }

  layout(): Layout {
    const l = this.k.layout;
    return { ...l, regions: l.regions.map((r) => ({ ...r })) };
  }

  /** How the layout classifies an address: canonical, which half, its page and offset. */
  address(va: bigint): AddressInfo {
    const v = this.k.va;
    return {
      va,
      canonical: v.isCanonical(va),
      kernelHalf: v.isKernel(va),
      vpn: v.vpn(va),
      offset: v.offset(va),
    };
  }

  // ---- tasks and their address spaces ----

  /** Every task ever created, the dead included, by pid. */
  tasks(): TaskInfo[] {
    return this.k.tasks.map((t) => taskInfo(this.k, t));
  }

  /** The handle the facade gave out for a pid (a front end's way from TaskInfo back to the view's methods), or null. */
  taskHandle(pid: number): TaskHandle | null {
    return this.k.tasks.find((t) => t.pid === pid) ?? null;
  }

  /** Every task's handle, in tasks()'s order (the idle tasks all have pid 0: this tells them apart). */
  taskHandles(): TaskHandle[] {
    return [...this.k.tasks];
  }

  task(t: TaskHandle): TaskInfo {
    return taskInfo(this.k, taskOf(t));
  }

  /** The task's address space (null for a kernel thread). */
  mm(t: TaskHandle): MmInfo | null {
    return mmInfo(this.k, taskOf(t));
  }

  /** The task's VMAs in address order. */
  vmas(t: TaskHandle): VmaInfo[] {
    return vmaInfos(this.k, taskOf(t));
  }

  /** One user page of the task (a dead task's pages are all absent). */
  page(t: TaskHandle, vpn: number): PageInfo {
    return pageInfo(this.k, taskOf(t), vpn);
  }

  /** `count` pages from `vpn`. */
  pages(t: TaskHandle, vpn: number, count: number): PageInfo[] {
    const task = taskOf(t);
    const out: PageInfo[] = [];
    for (let v = vpn; v < vpn + count; v++) out.push(pageInfo(this.k, task, v));
    return out;
  }

  /**
   * The pages of `count` from `vpn` that hold an entry (present, swapped,
   * a marker), with their state; the others are all absent. A sparse walk:
   * a range of terabytes costs what its page tables hold.
   */
  entryPages(t: TaskHandle, vpn: number, count: number): PageInfo[] {
    const task = taskOf(t);
    return userEntryPages(this.k, task, vpn, count).map((v) => pageInfo(this.k, task, v));
  }

  /**
   * How many pages of [vpn, vpn + count) of a task mincore(2) reports
   * resident (mm/mincore.ts doMincore, VMA by VMA: pages no VMA covers
   * count 0 rather than ending the count with ENOMEM). Changes nothing.
   */
  incore(t: TaskHandle, vpn: number, count: number): number {
    const mm = taskOf(t).mm;
    if (mm === null || !taskOf(t).alive) return 0;
    let n = 0;
    for (const v of mm.vmas) {
      const from = Math.max(v.vmStart, vpn);
      const to = Math.min(v.vmEnd, vpn + count);
      for (let a = from; a < to; a += 65536) {
        const vec = new Uint8Array(Math.min(65536, to - a));
        doMincore(this.k.userMm, mm, a, vec);
        for (const b of vec) n += b & 1;
      }
    }
    return n;
  }

  /** How many 4 KiB pages of [va, va+len) init_mm maps (a sparse walk). */
  kernelPresent(va: bigint, len: bigint): number {
    return kernelPresentPages(this.k, va, len);
  }

  /** /proc/PID/smaps as data. */
  smaps(t: TaskHandle): SmapsInfo[] {
    return smapsInfos(this.k, taskOf(t));
  }

  /** /proc/PID/status as data (proc_pid_status: the lines vmlab models, task_mem's memory lines). */
  status(t: TaskHandle): StatusInfo {
    return statusInfo(this.k, taskOf(t));
  }

  /** /sys/kernel/mm/ksm's files and vmstat cow_ksm (ksm.ts formatKsm). */
  ksm(): Record<string, number> {
    return ksmInfo(this.k);
  }

  /** /proc/PID/ksm_stat as data (ksm.ts formatKsmStat; null: no address space). */
  ksmStat(t: TaskHandle): Record<string, number> | null {
    return ksmStatInfo(this.k, taskOf(t));
  }

  /** /proc/PID/limits as data: the rows of the limits vmlab models (limits.ts). */
  limits(t: TaskHandle): LimitInfo[] {
    return limitsInfo(taskOf(t));
  }

  /** /proc/PID/statm as data, in pages (null: no address space). */
  statm(t: TaskHandle): StatmInfo | null {
    return statmInfo(this.k, taskOf(t));
  }

  /** /proc/PID/smaps_rollup as data: smaps summed over the VMAs (null: none). */
  smapsRollup(t: TaskHandle): SmapsRollupInfo | null {
    return smapsRollup(this.k, taskOf(t));
  }

  /** /proc/PID/oom_score (proc_oom_score over oom_badness, the OOM killer's own). */
  oomScore(t: TaskHandle): number {
    return oomScore(this.k, taskOf(t));
  }

  /** /proc/PID/oom_score_adj: signal->oom_score_adj (-1000..1000). Linux: fs/proc/base.c oom_score_adj_read */
  oomScoreAdj(t: TaskHandle): number {
    return taskOf(t).oomScoreAdj;
  }

  /** The walk of an address through a task's page tables, or the kernel's (init_mm). */
  walk(who: TaskHandle | "kernel", va: bigint): WalkInfo {
    return walkInfo(this.k, who === "kernel" ? who : taskOf(who), va);
  }

  /** A task's page tables as a tree: every table of its user half, each entry that is not zero (view/tableTree.ts). */
  pageTables(t: TaskHandle): PageTablesInfo {
    return tableTree(this.k, taskOf(t));
  }

  /** The present leaves of a task's user half, as runs. */
  mappings(t: TaskHandle): MappingRun[] {
    return mappingRuns(this.k, taskOf(t));
  }

  /** The 4 KiB frame a kernel address maps to through init_mm's tables, or -1. */
  kernelPfn(va: bigint): number {
    return kernelPfn(this.k, va);
  }

  /** __va: the direct-map address of a physical address (-1n for a frame with no permanent kernel address: 32-bit highmem). */
  directVa(pa: number): bigint {
    return this.k.arch.directVa(pa);
  }

  /** __pa: the physical address of a direct-map address, or -1 outside the direct map. */
  directPa(va: bigint): number {
    return this.k.arch.directPa(va, this.k.machine.phys.sizeBytes);
  }

  // ---- CPUs and TLBs ----

  cpus(): CpuInfo[] {
    return this.k.machine.cpus.map((_, id) => cpuInfo(this.k, id));
  }

  cpu(id: number): CpuInfo {
    return cpuInfo(this.k, id);
  }

  /** A CPU's TLB arrays and every valid entry. */
  tlb(cpu: number): TlbInfo {
    return tlbInfo(this.k, cpu);
  }

  // ---- physical memory ----

  frames(): FramesInfo {
    return framesInfo(this.k);
  }

  /** One frame's struct page, or null past the end of RAM. */
  frame(pfn: number): FrameInfo | null {
    return frameInfo(this.k, pfn);
  }

  /**
   * Where the frames' struct pages sit: the address of frame 0's
   * (SPARSEMEM_VMEMMAP's vmemmap, or FLATMEM's mem_map on 32-bit x86) and
   * sizeof(struct page); pfn_to_page is `page0 + pfn * structPageSize`.
   */
  memMap(): { page0: bigint; structPageSize: number } {
    const s = this.k.arch.view.crash;
    return { page0: s?.memMap?.() ?? this.k.layout.vmemmap, structPageSize: s?.structPageSize ?? 64 };
  }

  /**
   * page->flags as Linux would hold it (the PG_* bits of enum pageflags and
   * the zone above them, view/crash.ts linuxPageFlags), with the set bits'
   * names in bit order; null past the end of RAM.
   */
  pageFlags(pfn: number): { value: bigint; names: string[] } | null {
    return Number.isInteger(pfn) && pfn >= 0 && pfn < this.k.pages.nrFrames
      ? linuxPageFlags(this.k, pfn)
      : null;
  }

  /** Each frame as reclaim sees it: free, reclaimable, or pinned and why (view/reclaim.ts). */
  reclaim(): ReclaimInfo {
    return reclaimInfo(this.k);
  }

  /** The swap area's slots in use and who refers to them; null without swap (view/reclaim.ts). */
  swap(): SwapInfo | null {
    return swapInfo(this.k);
  }

  /** The byte at a physical address. */
  physByte(pa: number): number {
    return this.k.machine.phys.read8(pa);
  }

  /** The System V shm segments (ipcs -m, /proc/sysvipc/shm: sysvipc.ts). */
  shm(): ShmRow[] {
    return shmRows(this.k);
  }

  /** /proc/meminfo, bytes (proc.ts formatMeminfo). */
  meminfo(): Record<string, number> {
    return meminfo(this.k);
  }

  /** /proc/vmstat, by Linux's names and in its order. */
  vmstat(): Record<string, number> {
    return vmstat(this.k);
  }

  /** vmlab's counters that /proc/vmstat lacks, and the older names `vmstat.X` still accepts (proc.ts vmstatCompat). */
  vmstatCompat(): Record<string, number> {
    return vmstatCompat(this.k);
  }

  /** The HugeTLB pool's sysfs and sysctl files (hugepages.ts formatHugepages). */
  hugepages(): Record<string, number> {
    return hugepagesInfo(this.k);
  }

  /** The THP settings, mTHP counts, deferred split queue and thp_* counters (thp.ts formatThp). */
  thp(): Record<string, number | string> {
    return thpInfo(this.k);
  }

  /** The memory cgroup's memory.current, memory.max, memory.events, memory.stat (memcg.ts formatMemcg). */
  memcg(): MemcgInfo {
    return memcgInfo(this.k);
  }

  /** The buddy allocator's zones (proc.ts formatBuddyinfo). */
  buddyinfo(): ZoneInfo[] {
    return zoneInfos(this.k);
  }

  /**
   * /proc/pagetypeinfo's data (proc.ts formatPagetypeinfo): the pageblock size, grouping by
   * mobility, each zone's free blocks by migrate type and its pageblocks' types; null in the
   * Windows profile, whose page lists have no migrate types.
   */
  pagetypeinfo(): PagetypeInfo | null {
    const b = this.k.buddy;
    if (b.mobility === Mobility.NONE) return null;
    return {
      pageblockOrder: b.pbOrder,
      mobility: b.mobility === Mobility.ON ? "on" : "off",
      typeNames: MIGRATETYPE_NAMES,
      zones: zoneInfos(this.k),
    };
  }

  /** The zones with their per-CPU pagesets (proc.ts formatZoneinfo). */
  zoneinfo(): ZoneInfo[] {
    return zoneInfos(this.k);
  }

  /** The kmalloc caches, smallest first (proc.ts formatSlabinfo). */
  slabinfo(): SlabCacheInfo[] {
    return slabCacheInfos(this.k);
  }

  // ---- files and devices ----

  files(): FileInfo[] {
    return [...this.k.pageCache.files.keys()].map((name) => fileInfo(this.k, name)!);
  }

  file(name: string): FileInfo | null {
    return fileInfo(this.k, name);
  }

  /** Why a file cannot have folios of `bytes` on this machine, or null (vfs.ts folioSizeError). */
  folioSizeError(fs: "disk" | "tmpfs", bytes: number): string | null {
    return folioSizeError(this.k, fs, bytes);
  }

  /** What read(2) of the byte at `offset` of a file returns; -1 past EOF. */
  fileByte(name: string, offset: bigint): number {
    return fileByte(this.k, name, offset);
  }

  devices(): DeviceInfo[] {
    return deviceInfos(this.k);
  }

  device(name: string): DeviceInfo | null {
    return this.devices().find((d) => d.name === name) ?? null;
  }

  // ---- the kernel's own record ----

  counters(): KernelCounters {
    return counters(this.k);
  }

  /** The coherence checker's reports from the `from`-th on, each as its lines (none without the checker). */
  staleTlbUses(from = 0): string[][] {
    return (this.k.machine.checker?.reports ?? []).slice(from).map((r) => formatStaleUse(r).split("\n"));
  }

  oopses(): OopsInfo[] {
    return this.k.oopses.map((o) => ({ ...o, lines: [...o.lines] }));
  }

  /** The OOM killer's reports, from the `since`-th on. */
  oomReports(since = 0): string[] {
    return this.k.oomReports.slice(since);
  }

  /** The kernel log (dmesg), from the `since`-th line on. */
  log(since = 0): string[] {
    return this.k.log.slice(since);
  }

  /**
   * The metrics of the page table the MMU reads besides the radix tables
   * (pagetable=inverted: `ipt.X`), and the radix tables' own size:
   * `pagetable.bytes` (user page-table pages, /proc/meminfo PageTables).
   * On a radix machine every `ipt.X` reads 0.
   */
  pageTableMetrics(): Record<string, number> {
    const hw = this.k.arch.hwTable?.metrics() ?? {};
    return { ...hw, "pagetable.bytes": this.k.pageTablePages * 4096 };
  }

  /** Every broken invariant of the kernel's books, as a sentence (view/invariants.ts); empty when all hold. */
  invariants(): string[] {
    return checkInvariants(this.k);
  }

  /** crash's `vtop ADDR` in a task's context or through swapper_pg_dir (view/crash.ts). */
  vtop(who: TaskHandle | "kernel", va: bigint): string[] {
    return crashVtop(this.k, who === "kernel" ? "kernel" : taskOf(who), va);
  }

  /** /proc/PID/pagemap's entries for `count` pages from `vpn` (view/crash.ts). */
  pagemap(t: TaskHandle, vpn: number, count: number): PagemapEntry[] {
    return pagemap(this.k, taskOf(t), vpn, count);
  }

  /** tools/mm/page-types' summary of /proc/kpageflags over frames [first, first + count) (view/pageTypes.ts). */
  pageTypes(first = 0, count = Number.POSITIVE_INFINITY): PageTypesRow[] {
    return pageTypes(this.k, first, count);
  }

  /** The compound page (folio) holding a frame: its head frame and order; {pfn, 0} for a 4K folio (view/pageTypes.ts). */
  compound(pfn: number): { head: number; order: number } {
    return compoundOf(this.k, pfn);
  }

  /** One frame's /proc/kpageflags entry, or null past the end of RAM. */
  kpageflags(pfn: number): bigint | null {
    return Number.isInteger(pfn) && pfn >= 0 && pfn < this.k.pages.nrFrames ? kpageflags(this.k, pfn) : null;
  }

  /** The story of one user access, told without side effects (view/explain.ts). */
  explain(t: TaskHandle, va: bigint, access: Access): string[] {
    return explainAccess(this.k, taskOf(t), va, access);
  }

  /** The story of one plain kernel access on `cpu` as it stands, told without side effects (view/explainKernel.ts). */
  explainKernel(cpu: number, va: bigint, access: Access): string[] {
    return explainKernelAccess(this.k, cpu, va, access);
  }
}
