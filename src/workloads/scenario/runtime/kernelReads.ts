/**
 * Every place the scenario runner looks inside the kernel, in one module.
 *
 * The statements drive the kernel through its operations (`k.mmap`,
 * `k.userAccess`, `k.uaccess.copy`, `k.fork`, ...). What they then read of
 * its state, for expressions (`rss(P, ...)`, `vmstat.X`, `tlb.hits`), for
 * `show` and `explain` and for the notes a statement prints, is read here:
 * the subsystems (buddy, slab, vmscan, swap, page cache, the TLB manager),
 * a task's mm, page-table entries and their bits, the CPUs' counters. So are
 * the few writes the runner makes into kernel state directly (the pageout
 * counter, a task's uid and caught signals, the tracer and checker hooks).
 * A later step can replace this module with a read-only kernel view.
 *
 * A task's own fields (pid, comm, alive, exitReason, uid, minFlt, majFlt,
 * signal, siCode, siAddr) are read where they are used; nothing behind
 * `t.mm` is. This is the only scenario module that imports from
 * src/hw/x86_64 or from the kernel's internals.
 */
import { vpnUnchecked } from "../../../base/units.ts";
import type { Access } from "../../../hw/access.ts";
import type { HwEvent } from "../../../hw/mmu/Mmu.ts";
import { formatLayout } from "../../../kernel/core/layout.ts";
import type { Task } from "../../../kernel/core/task.ts";
import type { FileObject } from "../../../kernel/fs/file.ts";
import type { Kernel } from "../../../kernel/Kernel.ts";
import { PageFlag, PageKind } from "../../../kernel/mm/PageDesc.ts";
import { KMALLOC_MAX_CACHE_SIZE, kmallocIndex } from "../../../kernel/mm/slab.ts";
import { explainAccess } from "../../../kernel/view/explain.ts";
import { checkInvariants } from "../../../kernel/view/invariants.ts";
import { formatFrames, formatMeminfo, meminfo } from "../../../kernel/view/proc.ts";
import { countPages, pageState, pagetableLines, procMaps, procSmaps } from "../../../kernel/view/procfs.ts";

export type { HwEvent };

type Cpu = Kernel["machine"]["cpus"][number];
type CpuTlbState = Kernel["tlbMgr"]["states"][number];

// ---- the machine: CPUs, hooks, panics ----

export function cpuCount(k: Kernel): number {
  return k.machine.cpus.length;
}

/** Installs (or, with null, removes) a tracer of every TLB lookup, walk step and fault on every CPU. */
export function setTracers(k: Kernel, tracer: ((e: HwEvent) => void) | null): void {
  for (const cpu of k.machine.cpus) cpu.tracer = tracer;
}

/** Names the statement the coherence checker's reports blame (when the checker is on). */
export function tagCoherenceChecker(k: Kernel, tag: string): void {
  if (k.machine.checker) k.machine.checker.tag = tag;
}

/** The panic message, or null while the machine runs. */
export function panicMessage(k: Kernel): string | null {
  return k.panicked;
}

export function oopsCount(k: Kernel): number {
  return k.oopses.length;
}

export function oomKills(k: Kernel): number {
  return k.oomKills;
}

/** How many reports the OOM killer has logged so far. */
export function oomReportCount(k: Kernel): number {
  return k.oomReports.length;
}

/** The OOM killer's reports after the first `n`. */
export function oomReportsSince(k: Kernel, n: number): string[] {
  return k.oomReports.slice(n);
}

/** The invariant checker's findings (empty when every invariant holds). */
export function invariantProblems(k: Kernel): string[] {
  return checkInvariants(k);
}

/** Page-table levels: 4, or 5 with LA57. */
export function pagingLevels(k: Kernel): number {
  return k.levels;
}

export function pcidEnabled(k: Kernel): boolean {
  return k.config.pcid;
}

/** The task current on a CPU (null before any). */
export function currentTask(k: Kernel, cpu: number): Task | null {
  return k.current[cpu];
}

/** The CPU where a task is current, or -1. */
export function cpuOf(k: Kernel, t: Task): number {
  return k.cpuOf(t);
}

/** A CPU's counters a context switch changes, to describe it. */
export function switchState(
  k: Kernel,
  cpu: number,
): { fullFlushes: number; cr3Writes: number; switchFlushes: number; loadedAsid: number } {
  const c = k.machine.cpus[cpu];
  const st = k.tlbMgr.states[cpu];
  return {
    fullFlushes: c.fullFlushes,
    cr3Writes: c.rootWrites,
    switchFlushes: st.switchFlushes,
    loadedAsid: st.loadedAsid,
  };
}

// ---- per-CPU counters: one CPU's, or (cpu undefined) the sum over all ----

function perCpu(k: Kernel, cpu: number | undefined, f: (c: Cpu) => number): number {
  const cpus = k.machine.cpus;
  return cpu !== undefined ? f(cpus[cpu]) : cpus.reduce((n, c) => n + f(c), 0);
}

function perCpuState(k: Kernel, cpu: number | undefined, f: (st: CpuTlbState) => number): number {
  const sts = k.tlbMgr.states;
  return cpu !== undefined ? f(sts[cpu]) : sts.reduce((n, st) => n + f(st), 0);
}

/** TLB hits at every level. */
export function tlbHits(k: Kernel, cpu?: number): number {
  return perCpu(k, cpu, (c) => c.tlb.hits.reduce((a, b) => a + b, 0));
}

/** Page walks, less the walks that only set a dirty bit. */
export function tlbMisses(k: Kernel, cpu?: number): number {
  return perCpu(k, cpu, (c) => c.walks - c.dirtyAssists);
}

/** Every page walk (the run's summary metric `tlb.misses`). */
export function pageWalks(k: Kernel, cpu?: number): number {
  return perCpu(k, cpu, (c) => c.walks);
}

export function tlbFlushes(k: Kernel, cpu?: number): number {
  return perCpu(k, cpu, (c) => c.fullFlushes);
}

export function cr3Writes(k: Kernel, cpu?: number): number {
  return perCpu(k, cpu, (c) => c.rootWrites);
}

/** Flush IPIs received. */
export function shootdownsReceived(k: Kernel, cpu?: number): number {
  return perCpuState(k, cpu, (st) => st.shootdownsReceived);
}

export function contextSwitches(k: Kernel, cpu?: number): number {
  return perCpuState(k, cpu, (st) => st.contextSwitches);
}

/** The CR3 writes of PTI's kernel entries and exits. */
export function ptiCr3Switches(k: Kernel, cpu?: number): number {
  return perCpuState(k, cpu, (st) => st.ptiCr3Writes);
}

/** Returns to user that flushed the user PCID. */
export function ptiUserFlushes(k: Kernel, cpu?: number): number {
  return perCpuState(k, cpu, (st) => st.ptiUserFlushes);
}

/** One CPU's translation counters and TLB levels, for `show stats` and `show tlb`. */
export interface CpuCounters {
  id: number;
  translations: number;
  levels: { name: string; hits: number; misses: number }[];
  walks: number;
  walkRefs: number;
  adWrites: number;
  pageFaults: number;
  gpFaults: number;
  fullFlushes: number;
  invlpgs: number;
}

export function cpuCounters(k: Kernel, cpu: number): CpuCounters {
  const c = k.machine.cpus[cpu];
  return {
    id: c.id,
    translations: c.translations,
    levels: c.tlb.levels.map((l, i) => ({ name: l.name, hits: c.tlb.hits[i], misses: c.tlb.misses[i] })),
    walks: c.walks,
    walkRefs: c.walkRefs,
    adWrites: c.adWrites,
    pageFaults: c.pageFaults,
    gpFaults: c.addressFaults,
    fullFlushes: c.fullFlushes,
    invlpgs: c.pageInvalidations,
  };
}

/** The arrays of a CPU's TLB levels, in order, with their occupancy. */
export function tlbArrays(
  k: Kernel,
  cpu: number,
): { name: string; entries: number; ways: number; valid: number; evictions: number }[] {
  const out = [];
  for (const l of k.machine.cpus[cpu].tlb.levels)
    for (const a of l.arrays)
      out.push({
        name: a.name,
        entries: a.entries,
        ways: a.ways,
        valid: a.occupancy(),
        evictions: a.evictions,
      });
  return out;
}

/** Flush IPIs sent, over the run. */
export function shootdownsSent(k: Kernel): number {
  return k.tlbMgr.shootdowns;
}

export function taskCount(k: Kernel): number {
  return k.tasks.length;
}

// ---- /proc and the other text views ----

/** /proc/meminfo, every field vmlab computes. */
export function meminfoOf(k: Kernel): Record<string, number> {
  return meminfo(k);
}

export function layoutLines(k: Kernel): string[] {
  return formatLayout(k.layout);
}

export function buddyinfoLines(k: Kernel): string[] {
  return k.buddy.buddyinfo();
}

export function slabinfoLines(k: Kernel): string[] {
  return k.slab.slabinfo();
}

export function meminfoLines(k: Kernel): string[] {
  return formatMeminfo(meminfo(k));
}

export function frameLines(k: Kernel): string[] {
  return formatFrames(k.view.frames());
}

/** /proc/PID/maps */
export function mapsLines(k: Kernel, t: Task): string[] {
  return procMaps(k, t);
}

/** /proc/PID/smaps */
export function smapsLines(k: Kernel, t: Task): string[] {
  return procSmaps(k, t);
}

/** The walk of one address, or (va null) every present user PTE. */
export function pagetableText(k: Kernel, t: Task, va: bigint | null): string[] {
  return pagetableLines(k, t, va);
}

/** The story of one user access (TLB, walk, rights, the fault handler), without side effects. */
export function explainLines(k: Kernel, t: Task, va: bigint, access: Access): string[] {
  return explainAccess(k, t, va, access);
}

/** /proc/vmstat counters vmlab keeps so far. */
export function vmstat(k: Kernel): Record<string, number> {
  const c = k.pages.countByKind();
  return {
    nr_free_pages: k.buddy.freePages(),
    nr_slab_unreclaimable: k.slab.slabPages(),
    nr_page_table_pages: k.pageTablePages,
    nr_vmalloc: c[PageKind.Vmalloc],
    allocstall_normal: k.buddy.allocStalls,
    pgalloc_failed: k.buddy.failedAllocs,
    kswapd_wakeups: k.buddy.kswapdWakeups,
    nr_kernel_pages: c[PageKind.KernelPages] + c[PageKind.KmallocLarge],
    ...k.userMm.thpStats,
    ...k.vmscan.stats,
    oom_kill: k.oomKills,
    nr_inactive_anon: k.vmscan.size[1],
    nr_active_anon: k.vmscan.size[2],
    nr_inactive_file: k.vmscan.size[3],
    nr_active_file: k.vmscan.size[4],
    pswpin: k.swap?.pswpin ?? 0,
    swap_ra: k.swap?.readahead ?? 0,
    pswpout: k.swap?.pswpout ?? 0,
    pgpgin: k.pageCache.pagesIn * 4,
    pgpgout: k.pageCache.pagesOut * 4,
    pgmajfault: k.tasks.reduce((n, t) => n + t.majFlt, 0),
  };
}

// ---- the kernel's own memory ----

/** The physical address of a direct-map address, or -1. */
export function directPa(k: Kernel, va: bigint): number {
  return k.directPa(va);
}

/** The frame a kernel address maps to through the kernel's page tables, or -1. */
export function kernelPfn(k: Kernel, va: bigint): number {
  return k.kernelPfn(va);
}

/**
 * Where kmalloc(n) put `va`: its frame, and the order of a large kmalloc's
 * block or the object size of its slab cache; null when `va` is not in the
 * direct map.
 */
export function kmallocPlacement(
  k: Kernel,
  va: bigint,
  n: number,
): { pfn: number; large: boolean; order: number; objSize: number } | null {
  const pa = k.directPa(va);
  if (pa < 0) return null;
  const pfn = Math.floor(pa / 4096);
  return n > KMALLOC_MAX_CACHE_SIZE
    ? { pfn, large: true, order: k.pages.order[pfn], objSize: 0 }
    : { pfn, large: false, order: 0, objSize: k.slab.caches[kmallocIndex(n)].objSize };
}

/** A registered device: its kernel buffer's first frame, pages and alloc_pages order. */
export function deviceNamed(
  k: Kernel,
  name: string,
): { name: string; pfn: number; pages: number; order: number } {
  return k.devices.get(name)!;
}

/** The byte at an offset of a frame. */
export function readByte(k: Kernel, pfn: number, offset: number): number {
  return k.machine.phys.read8(pfn * 4096 + offset);
}

/** The frame of the table at `level` (0: the PT) the kernel's page tables use for `va`, or -1. */
export function kernelTablePfn(k: Kernel, va: bigint, level: number): number {
  if (!k.va.isCanonical(va)) return -1;
  const vpn = k.va.vpn(va);
  if (level === k.levels - 1) return k.rootPfn;
  return tableBelow(k, k.mapper.entryAt(k.rootPfn, vpn, level + 1), level + 1);
}

/** The frame the entry at `level` points to, or -1 when it is missing, not present or maps a huge page. */
function tableBelow(k: Kernel, parent: { hi: number; lo: number } | null, level: number): number {
  const pt = k.arch.pgtable;
  if (parent === null || !pt.table(parent.hi, parent.lo, level)) return -1;
  return pt.pfn(parent.hi, parent.lo, level);
}

// ---- virtual addresses ----

export function isCanonical(k: Kernel, va: bigint): boolean {
  return k.va.isCanonical(va);
}

/** Is a (canonical) address in the kernel half? */
export function isKernelAddress(k: Kernel, va: bigint): boolean {
  return k.va.isKernel(va);
}

export function vpnOf(k: Kernel, va: bigint): number {
  return k.va.vpn(va);
}

/** The offset of an address in its page. */
export function pageOffset(k: Kernel, va: bigint): number {
  return k.va.offset(va);
}

// ---- a process's address space ----

/** Has the task an mm? Kernel threads have none. */
export function hasUserMemory(t: Task): boolean {
  return t.mm !== null;
}

/** The frame of a task's PGD, or null for a kernel thread. */
export function pgdPfn(t: Task): number | null {
  return t.mm === null ? null : t.mm.pgdPfn;
}

/** Where a task's first VMA starts (right after spawn: the stack). */
export function firstVmaStart(k: Kernel, t: Task): bigint {
  return k.va.canonical(t.mm!.vmas[0].vmStart);
}

/** The start of the [stack] VMA (0 without an mm or a stack). */
export function stackStart(k: Kernel, t: Task): bigint {
  return t.mm ? k.va.canonical(t.mm.vmas.find((v) => v.name === "[stack]")?.vmStart ?? 0) : 0n;
}

/** The top of the stack (0 without an mm). */
export function stackTop(k: Kernel, t: Task): bigint {
  return t.mm ? k.va.canonical(t.mm.stackTop) : 0n;
}

/** Resident pages of a live task (0 once it died). */
export function rss(t: Task): number {
  return t.alive && t.mm ? t.mm.rss : 0;
}

/** Swap entries of a live task. */
export function swapEntries(t: Task): number {
  return t.alive && t.mm ? t.mm.swapEnts : 0;
}

/** Page-table pages of a live task. */
export function ptPages(t: Task): number {
  return t.alive && t.mm ? t.mm.ptPages : 0;
}

/** What fork() gave a child: VMAs, anonymous pages (shared copy-on-write), page-table pages. */
export function forkedMm(t: Task): { vmas: number; rssAnon: number; ptPages: number } {
  const mm = t.mm!;
  return { vmas: mm.vmas.length, rssAnon: mm.rssAnon, ptPages: mm.ptPages };
}

/** VMAs of a live task overlapping pages vpn .. vpn+n. */
export function vmasOverlapping(t: Task, vpn: number, n: number): number {
  return t.mm && t.alive ? t.mm.vmas.filter((v) => v.vmStart < vpn + n && v.vmEnd > vpn).length : 0;
}

/** The frame a user page maps (-1 when none): the PTE's state. */
export function userPfn(k: Kernel, t: Task, vpn: number): number {
  return pageState(k, t, vpn).pfn;
}

/** The byte at an address of a user page, or -1 when the page is not present. */
export function userByte(k: Kernel, t: Task, vpn: number, offset: number): number {
  const st = pageState(k, t, vpn);
  return st.pfn < 0 ? -1 : k.machine.phys.read8(st.pfn * 4096 + offset);
}

/** The mapcount of a user page's frame: -1 when not present, 0 for the zero page. */
export function userMapcount(k: Kernel, t: Task, vpn: number): number {
  const st = pageState(k, t, vpn);
  return st.pfn < 0 ? -1 : st.zeroPage ? 0 : k.pages.mapcount[st.pfn];
}

/** The frame of the table at `level` a live task's page tables use for page `vpn`, or -1. */
export function userTablePfn(k: Kernel, t: Task, vpn: number, level: number): number {
  if (!t.alive || !t.mm) return -1;
  if (level === k.levels - 1) return t.mm.pgdPfn;
  return tableBelow(k, k.userMm.mapper(t.mm).entryAt(t.mm.pgdPfn, vpnUnchecked(vpn), level + 1), level + 1);
}

/** Present pages (or PROT_NONE entries) of vpn .. vpn+n. */
export function presentPages(k: Kernel, t: Task, vpn: number, n: number): number {
  return countPages(k, t, vpn, n, (st) => st.present);
}

/** Present pages other than the zero page. */
export function residentPages(k: Kernel, t: Task, vpn: number, n: number): number {
  return countPages(k, t, vpn, n, (st) => st.present && !st.zeroPage);
}

export function anonPages(k: Kernel, t: Task, vpn: number, n: number): number {
  return countPages(k, t, vpn, n, (st) => st.anon);
}

/** Present pages (other than the zero page) whose PTE is dirty. */
export function dirtyPages(k: Kernel, t: Task, vpn: number, n: number): number {
  return countPages(k, t, vpn, n, (st) => st.present && !st.zeroPage && st.dirty);
}

/** Present pages inside VM_LOCKED VMAs. */
export function lockedPagesOf(k: Kernel, t: Task, vpn: number, n: number): number {
  return countPages(k, t, vpn, n, (st) => st.present && st.inLockedVma);
}

/** Guard markers (MADV_GUARD_INSTALL). */
export function guardPages(k: Kernel, t: Task, vpn: number, n: number): number {
  return countPages(k, t, vpn, n, (_st, v) => isGuard(k, t, v));
}

function isGuard(k: Kernel, t: Task, vpn: number): boolean {
  if (!t.mm || !t.alive) return false;
  const pte = k.userMm.readPte(t.mm, vpn);
  return pte !== null && k.arch.pgtable.isGuard(pte.hi, pte.lo);
}

/** MADV_FREE'd anonymous pages still clean. */
export function lazyfreePages(k: Kernel, t: Task, vpn: number, n: number): number {
  return countPages(
    k,
    t,
    vpn,
    n,
    (st) => st.anon && !st.dirty && (k.pages.flags[st.pfn] & PageFlag.Lazyfree) !== 0,
  );
}

/** Anonymous pages mapped by transparent huge PMDs. */
export function anonHugePages(k: Kernel, t: Task, vpn: number, n: number): number {
  return countPages(k, t, vpn, n, (st) => st.huge && st.anon);
}

/** Swap entries of vpn .. vpn+n. */
export function swappedPages(k: Kernel, t: Task, vpn: number, n: number): number {
  return countPages(k, t, vpn, n, (st) => st.swapSlot >= 0);
}

// ---- writes the runner makes into kernel state ----

/** A task's uid (`P: setuid N`). */
export function setUid(t: Task, uid: number): void {
  t.uid = uid;
}

/** Gives a task a handler for a signal (`P: catch SIGSEGV`). */
export function catchSignal(t: Task, sig: string): void {
  t.caught.add(sig);
}

/** Zeroes the count of pages MADV_PAGEOUT reclaimed, before a madvise. */
export function resetPageoutCount(k: Kernel): void {
  k.lastPageout = 0;
}

/** Pages MADV_PAGEOUT reclaimed since resetPageoutCount. */
export function pageoutCount(k: Kernel): number {
  return k.lastPageout;
}

// ---- files, reclaim ----

/** A file created by a `file` statement. */
export function fileNamed(k: Kernel, name: string): FileObject {
  return k.pageCache.files.get(name)!;
}

/** A file's size in pages, and how many of them are in the page cache. */
export function filePages(f: FileObject): { pages: number; cached: number } {
  return { pages: f.nrPages, cached: f.cache.size };
}

/** The pages of a file in the page cache. */
export function cachedPages(k: Kernel, name: string): number {
  return k.pageCache.files.get(name)!.cache.size;
}

/**
 * What read(2) of one byte at `offset` would return: the page cache's copy
 * when cached, else the disk's; -1 past EOF.
 */
export function fileByte(k: Kernel, name: string, offset: bigint): number {
  const f = k.pageCache.files.get(name)!;
  if (offset >= BigInt(f.sizeBytes)) return -1;
  const pfn = f.cache.get(Number(offset / 4096n));
  return pfn !== undefined
    ? k.machine.phys.read8(pfn * 4096 + Number(offset % 4096n))
    : f.storedByte(Number(offset));
}

/** Pages written back from the page cache, over the run. */
export function pagesWrittenBack(k: Kernel): number {
  return k.pageCache.pagesOut;
}

/** Pages written to swap, over the run (0 without swap). */
export function swapOuts(k: Kernel): number {
  return k.swap?.pswpout ?? 0;
}

/** Pages reclaim has freed (pgsteal), over the run. */
export function pagesStolen(k: Kernel): number {
  return k.vmscan.stats.pgsteal;
}

/** Free pages in the buddy allocator. */
export function freePages(k: Kernel): number {
  return k.buddy.freePages();
}
