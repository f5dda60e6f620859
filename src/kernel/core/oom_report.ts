/**
 * The OOM killer's kernel log (mm/oom_kill.c): dump_header (who asked, for
 * what; show_mem or, for a memory cgroup's OOM, mem_cgroup_print_oom_meminfo;
 * dump_tasks), dump_oom_victim's one-line summary and __oom_kill_process's
 * "Killed process" line. The lines go to the kernel log (dmesg) and to the
 * OOM reports a scenario prints with the statement that caused them.
 */

import { Gfp } from "../mm/gfp.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { mmPgtablesPages } from "../mm/pgtable.ts";
import type { KernelCore } from "./core.ts";
import { contextTask } from "./sched.ts";
import type { Task } from "./task.ts";

/** The memory cgroup whose limit a charge could not meet (mem_cgroup_oom's memcg): its counter's state. */
export interface MemcgOom {
  /** memory.max in pages */
  limit: number;
  /** the pages charged (page_counter_read) */
  usage: number;
  /** the counter's failcnt */
  failcnt: number;
}

/** PAGE_COUNTER_MAX in kB on 64-bit: LONG_MAX / PAGE_SIZE pages (an unlimited swap.max as the report prints it) */
const PAGE_COUNTER_MAX_KB = "9007199254740988";

/** Lines the OOM killer prints: to the kernel log and the OOM reports. */
export function oomLog(k: KernelCore, lines: string[]): void {
  k.oomReports.push(...lines);
  k.log.push(...lines);
}

/**
 * The task on whose behalf the allocation runs (dump_header's `current`): the
 * faulting (or forking, populating) task, current on the running CPU; else
 * the first task of the allocating mm; else the CPU's context (a kworker).
 */
export function oomCurrent(k: KernelCore): Task {
  const running = k.current[k.runningCpu];
  const mm = k.faultingMm;
  if (mm === null) return contextTask(k, k.runningCpu);
  if (running?.alive && running.mm === mm) return running;
  return k.tasks.find((t) => t.alive && t.mm === mm) ?? contextTask(k, k.runningCpu);
}

/**
 * dump_header's `gfp_mask=%#x(%pGg)`, Linux's values: a user page
 * (GFP_HIGHUSER_MOVABLE, and vma_alloc_folio / filemap_alloc_folio add
 * __GFP_COMP), else GFP_KERNEL. A memory cgroup's OOM has the charge's mask:
 * GFP_KERNEL, as folio_prealloc and mem_cgroup_swapin_charge_folio charge an
 * anonymous page (mm/memory.c, mm/memcontrol.c); a page table's, GFP_PGTABLE_USER
 * (__memcg_kmem_charge_page passes the allocation's mask on).
 */
function gfpText(gfp: number, memcg: boolean): string {
  if (!memcg && gfp & Gfp.MOVABLE) return "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)";
  if (memcg && gfp & Gfp.ACCOUNT) return "0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO)";
  return "0xcc0(GFP_KERNEL)";
}

/**
 * memory_stat_format's lines for the cgroup OOM report (view/memcg_stat.ts registers them: the
 * view reads meminfo's and vmstat's counters, which core may not import).
 */
let memcgStatLines: ((k: KernelCore) => string[]) | null = null;

/** Registers the function that makes memory.stat's lines (view/memcg_stat.ts, at its load). */
export function setMemcgStatLines(f: (k: KernelCore) => string[]): void {
  memcgStatLines = f;
}

/** One process a line: the first task of each live mm (for_each_process with find_lock_task_mm) that oom_unkillable_task spares not. */
function processes(k: KernelCore): Task[] {
  const seen = new Set<MmStruct>();
  const out: Task[] = [];
  for (const t of k.tasks) {
    const mm = t.mm;
    if (!t.alive || mm === null || t.kthread || t.pid === 1 || seen.has(mm)) continue;
    seen.add(mm);
    out.push(t);
  }
  return out;
}

const rj = (v: number | string, w: number) => String(v).padStart(w);

/**
 * dump_header: the "invoked oom-killer" line with current's comm and
 * oom_score_adj, the memory state (show_mem's Mem-Info, or the memory
 * cgroup's counters), and dump_tasks (vm.oom_dump_tasks, 1 by default; 0: none): a
 * line per process with its pid, uid, tgid, total_vm, rss, rss_anon,
 * rss_file, rss_shmem, pgtables_bytes, swapents and oom_score_adj (pages).
 * Not printed: dump_stack's backtrace.
 * Linux: mm/oom_kill.c dump_header, dump_tasks, dump_task
 */
export function dumpHeader(k: KernelCore, order: number, gfp: number, memcg: MemcgOom | null): string[] {
  const kb = (n: number) => n * 4;
  const cur = oomCurrent(k);
  const lines = [
    `${cur.comm} invoked oom-killer: gfp_mask=${gfpText(gfp, memcg !== null)}, order=${order}, oom_score_adj=${cur.oomScoreAdj}`,
  ];
  if (memcg !== null) {
    const swapUsed = (k.swap?.totalPages ?? 0) - (k.swap?.freePages ?? 0);
    lines.push(
      `memory: usage ${kb(memcg.usage)}kB, limit ${kb(memcg.limit)}kB, failcnt ${memcg.failcnt}`,
      `swap: usage ${kb(swapUsed)}kB, limit ${PAGE_COUNTER_MAX_KB}kB, failcnt 0`,
      // mem_cgroup_print_oom_meminfo: pr_cont_cgroup_path, then memory_stat_format's lines
      "Memory cgroup stats for /:",
    );
    if (memcgStatLines !== null) lines.push(...memcgStatLines(k));
  } else {
    lines.push(
      "Mem-Info:",
      `active_anon:${k.vmscan.size[2]} inactive_anon:${k.vmscan.size[1]} active_file:${k.vmscan.size[4]} inactive_file:${k.vmscan.size[3]} free:${k.buddy.freePages()} free_pcp:${k.buddy.pcp?.total() ?? 0} pagetables:${k.pageTablePages}`,
      `Free swap  = ${(k.swap?.freePages ?? 0) * 4}kB`,
      `Total swap = ${(k.swap?.totalPages ?? 0) * 4}kB`,
    );
  }
  if (k.config.oomDumpTasks === 0) return lines; // sysctl_oom_dump_tasks
  lines.push(
    "Tasks state (memory values in pages):",
    "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name",
  );
  for (const t of processes(k)) {
    const mm = t.mm!;
    const totalVm = mm.vmas.reduce((n, v) => n + v.pages, 0);
    lines.push(
      `[${rj(t.pid, 7)}] ${rj(t.uid, 5)} ${rj(t.pid, 5)} ${rj(totalVm, 8)} ${rj(mm.rss, 8)} ${rj(mm.rssAnon, 8)} ${rj(mm.rssFile, 8)} ${rj(mm.rssShmem, 9)} ${rj(mmPgtablesPages(k.userMm, mm) * 4096, 8)} ${rj(mm.swapEnts, 8)}         ${rj(t.oomScoreAdj, 5)} ${t.comm}`,
    );
  }
  return lines;
}

/**
 * dump_oom_victim's summary line, then __oom_kill_process's report of the
 * kill ("Out of memory" or "Memory cgroup out of memory": the message
 * out_of_memory passes).
 * Linux: mm/oom_kill.c dump_oom_victim, __oom_kill_process
 */
export function killLines(
  k: KernelCore,
  victim: Task,
  mm: MmStruct,
  memcg: MemcgOom | null,
  message: string,
): string[] {
  const kb = (n: number) => n * 4;
  const totalVm = mm.vmas.reduce((n, v) => n + v.pages, 0);
  const who = `task=${victim.comm},pid=${victim.pid},uid=${victim.uid}`;
  const killed = `Killed process ${victim.pid} (${victim.comm}) total-vm:${kb(totalVm)}kB, anon-rss:${kb(mm.rssAnon)}kB, file-rss:${kb(mm.rssFile)}kB, shmem-rss:${kb(mm.rssShmem)}kB, UID:${victim.uid} pgtables:${kb(mmPgtablesPages(k.userMm, mm))}kB oom_score_adj:${victim.oomScoreAdj}`;
  return memcg !== null
    ? [
        `oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/,task_memcg=/,${who}`,
        `${message}: ${killed}`,
      ]
    : [
        `oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,${who}`,
        `${message}: ${killed}`,
      ];
}
