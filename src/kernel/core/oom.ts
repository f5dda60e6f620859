/**
 * The OOM killer (mm/oom_kill.c): when reclaim cannot free memory for a
 * small allocation, select_bad_process picks the task with the highest
 * oom_badness and kills it, with the kernel's report.
 */

import type { MmStruct } from "../mm/MmStruct.ts";
import { mmPgtablesPages } from "../mm/pgtable.ts";
import type { KernelCore } from "./core.ts";
import { contextTask, exit } from "./sched.ts";
import { OOM_SCORE_ADJ_MIN, type Task } from "./task.ts";

/** oom_badness's LONG_MIN: a task the OOM killer never chooses */
const UNKILLABLE = Number.NEGATIVE_INFINITY;

/** totalpages of out_of_memory and proc_oom_score: totalram_pages() + total_swap_pages */
export function oomTotalPages(k: KernelCore): number {
  return k.buddy.managedPages() + (k.swap?.totalPages ?? 0);
}

/**
 * oom_badness(p, totalpages): LONG_MIN (here -Infinity) for a task the
 * killer must not choose: oom_unkillable_task (init, a kernel thread), no
 * mm left (find_lock_task_mm), oom_score_adj OOM_SCORE_ADJ_MIN, or an mm
 * already reaped (MMF_OOM_SKIP: vmlab's victims die at once, so a dead mm);
 * else resident pages, swap entries and page-table pages (get_mm_rss +
 * MM_SWAPENTS + mm_pgtables_bytes / PAGE_SIZE: no P4D table,
 * mm/pgtable.ts mmPgtablesPages) plus oom_score_adj in units of a
 * thousandth of totalpages (`adj *= totalpages / 1000`: the division
 * first, as C's longs do). The OOM killer and /proc/PID/oom_score
 * (view/procstatus.ts) both use it.
 * Linux: mm/oom_kill.c oom_badness, oom_unkillable_task
 */
export function oomBadness(k: KernelCore, t: Task, totalpages: number): number {
  const mm = t.mm;
  if (t.kthread || t.pid === 1 || !t.alive || mm === null) return UNKILLABLE;
  if (t.oomScoreAdj === OOM_SCORE_ADJ_MIN || mm.dead) return UNKILLABLE;
  const points = mm.rss + mm.swapEnts + mmPgtablesPages(k.userMm, mm);
  return points + t.oomScoreAdj * Math.trunc(totalpages / 1000);
}

/**
 * out_of_memory -> select_bad_process: for_each_process (one task a
 * process: the first of those sharing an mm, its thread-group leader)
 * rated by oom_badness, the highest chosen; a later process with points
 * equal to the chosen one's takes its place (oom_evaluate_task skips only
 * `points < chosen_points`), and points may be negative (chosen_points
 * starts at LONG_MIN). None: no kill. The victim and every task sharing its
 * mm die, with the kernel's report. A victim that is itself allocating is
 * only marked: its allocation fails and the fault ends in SIGKILL. Returns
 * whether memory was freed.
 * Linux: mm/oom_kill.c out_of_memory, select_bad_process, oom_evaluate_task
 */
export function outOfMemory(k: KernelCore, order: number, memcg: MemcgOom | null = null): boolean {
  if (k.reclaiming) return false;
  // a memory cgroup's OOM: totalpages is mem_cgroup_get_max (memory.max plus the swap it may use:
  // cgroup v2's swap.max is unlimited, so all of swap)
  const totalpages = memcg === null ? oomTotalPages(k) : memcg.limit + (k.swap?.totalPages ?? 0);
  let victim: Task | null = null;
  let best = UNKILLABLE;
  const seen = new Set<MmStruct>();
  for (const t of k.tasks) {
    const mm = t.mm;
    if (!t.alive || mm === null || seen.has(mm)) continue;
    seen.add(mm);
    const points = oomBadness(k, t, totalpages);
    if (points === UNKILLABLE || points < best) continue;
    best = points;
    victim = t;
  }
  if (victim === null) return false;
  const mm = victim.mm!;
  k.oomKills++; // count_vm_event(OOM_KILL)
  if (memcg !== null) k.vmscan.reclaimCtx.memcgOomKills++; // memcg_memory_event(MEMCG_OOM_KILL)
  k.oomReports.push(...oomReport(k, victim, mm, order, memcg));
  if (mm === k.faultingMm) {
    victim.oomKilled = true;
    return false;
  }
  const cpu = k.runningCpu;
  for (const t of k.tasks) if (t.alive && t.mm === mm) exit(k, t, "SIGKILL (out of memory)");
  k.runningCpu = cpu;
  return true;
}

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

/**
 * Who asked, for what (out_of_memory -> dump_header: for a memory cgroup's OOM,
 * mem_cgroup_print_oom_meminfo's counters instead of show_mem), the constraint, then the kill
 * (__oom_kill_process, "Memory cgroup out of memory" for a memory cgroup's).
 */
function oomReport(
  k: KernelCore,
  victim: Task,
  mm: MmStruct,
  order: number,
  memcg: MemcgOom | null,
): string[] {
  const kb = (n: number) => n * 4;
  const totalVm = mm.vmas.reduce((n, v) => n + v.pages, 0);
  const invoker =
    k.tasks.find((t) => t.alive && t.mm !== null && t.mm === k.faultingMm) ?? contextTask(k, k.runningCpu);
  const gfp = k.faultingMm !== null ? "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)" : "0xcc0(GFP_KERNEL)";
  const killed = `Killed process ${victim.pid} (${victim.comm}) total-vm:${kb(totalVm)}kB, anon-rss:${kb(mm.rssAnon)}kB, file-rss:${kb(mm.rssFile)}kB, shmem-rss:${kb(mm.rssShmem)}kB, UID:${victim.uid} pgtables:${kb(mmPgtablesPages(k.userMm, mm))}kB oom_score_adj:${victim.oomScoreAdj}`;
  const invoked = `${invoker.comm} invoked oom-killer: gfp_mask=${gfp}, order=${order}, oom_score_adj=${invoker.oomScoreAdj}`;
  if (memcg !== null) {
    const swapUsed = (k.swap?.totalPages ?? 0) - (k.swap?.freePages ?? 0);
    return [
      invoked,
      `memory: usage ${kb(memcg.usage)}kB, limit ${kb(memcg.limit)}kB, failcnt ${memcg.failcnt}`,
      `swap: usage ${kb(swapUsed)}kB, limit ${PAGE_COUNTER_MAX_KB}kB, failcnt 0`,
      `oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/,task_memcg=/,task=${victim.comm},pid=${victim.pid},uid=${victim.uid}`,
      `Memory cgroup out of memory: ${killed}`,
    ];
  }
  return [
    invoked,
    "Mem-Info:",
    `active_anon:${k.vmscan.size[2]} inactive_anon:${k.vmscan.size[1]} active_file:${k.vmscan.size[4]} inactive_file:${k.vmscan.size[3]} free:${k.buddy.freePages()} free_pcp:${k.buddy.pcp?.total() ?? 0} pagetables:${k.pageTablePages}`,
    `Free swap  = ${(k.swap?.freePages ?? 0) * 4}kB`,
    `Total swap = ${(k.swap?.totalPages ?? 0) * 4}kB`,
    `oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=${victim.comm},pid=${victim.pid},uid=${victim.uid}`,
    `Out of memory: ${killed}`,
  ];
}
