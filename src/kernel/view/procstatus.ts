/**
 * /proc/PID/status, statm, smaps_rollup and oom_score as data and as text:
 * proc_pid_status (fs/proc/array.c) with task_mem (fs/proc/task_mmu.c),
 * task_statm, show_smaps_rollup, and proc_oom_score (fs/proc/base.c) over
 * oom_badness (mm/oom_kill.c). Read without side effects.
 *
 * Linux keeps the RSS counters per CPU (percpu_counter, since 6.2). In 6.12
 * task_mem and task_statm read them approximately (get_mm_counter:
 * percpu_counter_read_positive); since 6.16 ("mm: fix the inaccurate memory
 * statistics issue for users", also in 6.12.y stable and on the 6.18 host)
 * they read the exact sum (get_mm_counter_sum). update_hiwater_rss and
 * oom_badness still read them approximately (get_mm_rss), so the host's
 * VmHWM mark may be a few batches of pages off (test/differential/status.test.ts).
 * vmlab's counters are exact: it shows what the exact sums would.
 */

import type { KernelCore } from "../core/core.ts";
import { oomBadness, oomTotalPages } from "../core/oom.ts";
import type { Task } from "../core/task.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { mmPgtablesPages } from "../mm/pgtable.ts";
import { VmFlag } from "../mm/vma.ts";
import { smapsInfos, taskInfo } from "./mm.ts";
import type { SmapsFigures, SmapsRollupInfo, StatmInfo, StatusInfo, StatusMemInfo } from "./types.ts";

/** VM_STACK: VM_GROWSDOWN on every architecture vmlab models (VM_GROWSUP only on parisc). */
const VM_STACK = VmFlag.GROWSDOWN;

/**
 * data_vm, stack_vm and exec_vm (pages) as vm_stat_account counts them,
 * from the VMAs with its rules (every path that adds, removes or changes a
 * VMA's flags calls it with the flags the VMA has): is_exec_mapping
 * (VM_EXEC without VM_WRITE or VM_STACK), is_stack_mapping (VM_STACK),
 * is_data_mapping (VM_WRITE without VM_SHARED or VM_STACK); and locked_vm,
 * the pages of VM_LOCKED VMAs (mmap's MAP_LOCKED, mlock_fixup and munmap
 * keep it so; a HugeTLB or VM_SPECIAL VMA never carries VM_LOCKED).
 * Linux: mm/mmap.c vm_stat_account, mm/internal.h is_exec_mapping,
 * is_stack_mapping, is_data_mapping
 */
export function vmStat(mm: MmStruct): { data: number; stack: number; exec: number; locked: number } {
  const r = { data: 0, stack: 0, exec: 0, locked: mm.lockedVmStale };
  for (const v of mm.vmas) {
    const f = v.vmFlags;
    if ((f & (VmFlag.EXEC | VmFlag.WRITE | VM_STACK)) === VmFlag.EXEC) r.exec += v.pages;
    else if ((f & VM_STACK) === VM_STACK) r.stack += v.pages;
    else if ((f & (VmFlag.WRITE | VmFlag.SHARED | VM_STACK)) === VmFlag.WRITE) r.data += v.pages;
    if (f & VmFlag.LOCKED) r.locked += v.pages;
  }
  return r;
}

/**
 * The bytes of HugeTLB pages the mm maps (mm->hugetlb_usage: hugetlb_count_add at each huge page
 * it mapped; not those it sees through another's shared PMD table). Below 0 when the last user
 * of a once-shared table unmaps pages another mm's faults put there, as on Linux 6.12.
 */
function hugetlbUsage(t: Task): number {
  return (t.mm?.hugetlbUsage ?? 0) * 4096;
}

/**
 * task_mem's figures (bytes). vmlab's processes have no executable image
 * (start_code = end_code = 0), so text is 0 and every exec mapping counts
 * in VmLib, as task_mem splits exec_vm; pinned_vm (RDMA, io_uring) is 0.
 * Linux: fs/proc/task_mmu.c task_mem
 */
export function statusMemInfo(k: KernelCore, t: Task): StatusMemInfo | null {
  const mm = t.mm;
  if (mm === null || !t.alive) return null;
  const pg = 4096;
  const totalVm = mm.totalVm();
  const rss = mm.rss;
  const st = vmStat(mm);
  return {
    vmPeak: Math.max(mm.hiwaterVm, totalVm) * pg,
    vmSize: totalVm * pg,
    vmLck: st.locked * pg,
    vmPin: 0,
    vmHwm: Math.max(mm.hiwaterRss, rss) * pg,
    vmRss: rss * pg,
    rssAnon: mm.rssAnon * pg,
    rssFile: mm.rssFile * pg,
    rssShmem: mm.rssShmem * pg,
    vmData: st.data * pg,
    vmStk: st.stack * pg,
    vmExe: 0,
    vmLib: st.exec * pg,
    vmPte: mmPgtablesPages(k.userMm, mm) * pg, // mm_pgtables_bytes: PTE, PMD, PUD tables (no P4D)
    vmSwap: mm.swapEnts * pg,
    hugetlbPages: hugetlbUsage(t),
  };
}

const STATE_NAMES = { R: "R (running)", S: "S (sleeping)", X: "X (dead)", I: "I (idle)" } as const;

/** /proc/PID/status as data. Linux: fs/proc/array.c proc_pid_status */
export function statusInfo(k: KernelCore, t: Task): StatusInfo {
  const info = taskInfo(k, t);
  const mm = t.mm;
  let tgid = t.pid;
  if (mm !== null) for (const o of k.tasks) if (o.alive && o.mm === mm && o.pid < tgid) tgid = o.pid;
  return {
    name: t.comm,
    state: STATE_NAMES[info.state],
    tgid,
    pid: t.pid,
    ppid: Math.max(0, t.ppid),
    uid: t.uid,
    mem: statusMemInfo(k, t),
    threads: mm === null ? 1 : Math.max(1, mm.users),
    // task_thp_status: IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) && !test_bit(MMF_DISABLE_THP, &mm->flags)
    thpEnabled: k.arch.noTransparentHugepage !== true && mm?.disableThp !== true,
  };
}

/** /proc/PID/statm as data (pages). Linux: fs/proc/task_mmu.c task_statm */
export function statmInfo(_k: KernelCore, t: Task): StatmInfo | null {
  const mm = t.mm;
  if (mm === null || !t.alive) return null;
  const st = vmStat(mm);
  const shared = mm.rssFile + mm.rssShmem;
  return { size: mm.totalVm(), resident: shared + mm.rssAnon, shared, text: 0, data: st.data + st.stack };
}

/** The smaps figures smaps_rollup sums: every key of SmapsFigures (the type makes the list whole). */
const SMAPS_FIGURES = Object.keys({
  rss: 0,
  pss: 0,
  pssDirty: 0,
  pssAnon: 0,
  pssFile: 0,
  pssShmem: 0,
  sharedClean: 0,
  sharedDirty: 0,
  privateClean: 0,
  privateDirty: 0,
  referenced: 0,
  anonymous: 0,
  ksm: 0,
  lazyFree: 0,
  anonHuge: 0,
  filePmd: 0,
  shmemPmd: 0,
  sharedHugetlb: 0,
  privateHugetlb: 0,
  swap: 0,
  locked: 0,
} satisfies Record<keyof SmapsFigures, 0>) as (keyof SmapsFigures)[];

/** /proc/PID/smaps_rollup as data: smaps summed over every VMA (null: no VMA, "empty_set"). */
export function smapsRollup(k: KernelCore, t: Task): SmapsRollupInfo | null {
  const all = smapsInfos(k, t);
  if (all.length === 0) return null;
  const r = { start: all[0].vma.start, end: all[all.length - 1].vma.end } as SmapsRollupInfo;
  for (const key of SMAPS_FIGURES) {
    let n = 0;
    for (const s of all) n += s[key];
    r[key] = n;
  }
  return r;
}

/**
 * /proc/PID/oom_score: (1000 + oom_badness * 1000 / totalpages) * 2 / 3,
 * integer arithmetic, with totalpages = totalram_pages + total_swap_pages;
 * oom_badness has oom_score_adj in it (adj * (totalpages / 1000)); 0 for a
 * task oom_badness skips (LONG_MIN: a kernel thread, init, an exited task,
 * oom_score_adj -1000).
 * Linux: fs/proc/base.c proc_oom_score, mm/oom_kill.c oom_badness
 * (oom_unkillable_task)
 */
export function oomScore(k: KernelCore, t: Task): number {
  const totalpages = oomTotalPages(k);
  const badness = oomBadness(k, t, totalpages);
  if (badness === Number.NEGATIVE_INFINITY) return 0;
  return Math.trunc(((1000 + Math.trunc((badness * 1000) / totalpages)) * 2) / 3);
}

// ---- text ----

/** `%8lu kB`: a negative count (mm->hugetlb_usage can go below 0, mm/hugetlb_pmd_share.ts) prints as an unsigned long */
const kbLine = (name: string, bytes: number) => {
  const kb = Math.floor(bytes / 1024);
  return `${name}:\t${(kb < 0 ? (2n ** 64n + BigInt(kb)).toString() : String(kb)).padStart(8)} kB`;
};

/** task_mem's lines, in its order and format (`%8lu kB`), then hugetlb_report_usage's. */
export function formatStatusMem(m: StatusMemInfo): string[] {
  return [
    kbLine("VmPeak", m.vmPeak),
    kbLine("VmSize", m.vmSize),
    kbLine("VmLck", m.vmLck),
    kbLine("VmPin", m.vmPin),
    kbLine("VmHWM", m.vmHwm),
    kbLine("VmRSS", m.vmRss),
    kbLine("RssAnon", m.rssAnon),
    kbLine("RssFile", m.rssFile),
    kbLine("RssShmem", m.rssShmem),
    kbLine("VmData", m.vmData),
    kbLine("VmStk", m.vmStk),
    kbLine("VmExe", m.vmExe),
    kbLine("VmLib", m.vmLib),
    kbLine("VmPTE", m.vmPte),
    kbLine("VmSwap", m.vmSwap),
    kbLine("HugetlbPages", m.hugetlbPages),
  ];
}

/**
 * /proc/PID/status: the lines vmlab models, in proc_pid_status's order
 * (Umask, Ngid, TracerPid, Gid, FDSize, Groups, the NS* lines, signal,
 * capability, seccomp, cpuset and context-switch lines are left out).
 */
export function formatStatus(s: StatusInfo): string[] {
  const out = [
    `Name:\t${s.name}`,
    `State:\t${s.state}`,
    `Tgid:\t${s.tgid}`,
    `Pid:\t${s.pid}`,
    `PPid:\t${s.ppid}`,
    `Uid:\t${s.uid}\t${s.uid}\t${s.uid}\t${s.uid}`,
  ];
  if (s.mem !== null) {
    out.push(...formatStatusMem(s.mem));
    // task_core_dumping, task_thp_status
    out.push("CoreDumping:\t0", `THP_enabled:\t${s.thpEnabled ? 1 : 0}`);
  }
  out.push(`Threads:\t${s.threads}`);
  return out;
}

/** /proc/PID/statm's one line: size resident shared text lib data dt. */
export function formatStatm(s: StatmInfo): string[] {
  return [`${s.size} ${s.resident} ${s.shared} ${s.text} 0 ${s.data} 0`];
}

/**
 * /proc/PID/smaps_rollup: the header (show_vma_header_prefix of the span,
 * flags 0: `---p`, then `[rollup]` at column 73) and __show_smap's fields
 * in rollup mode (Pss_Anon, Pss_File, Pss_Shmem after Pss_Dirty).
 */
export function formatSmapsRollup(r: SmapsRollupInfo | null): string[] {
  if (r === null) return [];
  const hex8 = (n: bigint) => n.toString(16).padStart(8, "0");
  const kb = (name: string, bytes: number) =>
    `${`${name}:`.padEnd(16)}${String(Math.floor(bytes / 1024)).padStart(8)} kB`;
  return [
    `${`${hex8(r.start)}-${hex8(r.end)} ---p 00000000 00:00 0 `.padEnd(73)}[rollup]`,
    kb("Rss", r.rss),
    kb("Pss", r.pss),
    kb("Pss_Dirty", r.pssDirty),
    kb("Pss_Anon", r.pssAnon),
    kb("Pss_File", r.pssFile),
    kb("Pss_Shmem", r.pssShmem),
    kb("Shared_Clean", r.sharedClean),
    kb("Shared_Dirty", r.sharedDirty),
    kb("Private_Clean", r.privateClean),
    kb("Private_Dirty", r.privateDirty),
    kb("Referenced", r.referenced),
    kb("Anonymous", r.anonymous),
    kb("KSM", r.ksm),
    kb("LazyFree", r.lazyFree),
    kb("AnonHugePages", r.anonHuge),
    kb("ShmemPmdMapped", r.shmemPmd),
    kb("FilePmdMapped", r.filePmd),
    kb("Shared_Hugetlb", r.sharedHugetlb),
    kb("Private_Hugetlb", r.privateHugetlb),
    kb("Swap", r.swap),
    kb("SwapPss", 0),
    kb("Locked", r.locked),
  ];
}
