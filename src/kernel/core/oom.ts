/**
 * The OOM killer (mm/oom_kill.c): when reclaim cannot free memory for a
 * small allocation, select_bad_process picks the task with the highest
 * oom_badness and kills it, with the kernel's report.
 */

import type { MmStruct } from "../mm/MmStruct.ts";
import { mmPgtablesPages } from "../mm/pgtable.ts";
import type { KernelCore } from "./core.ts";
import { contextTask, exit } from "./sched.ts";
import type { Task } from "./task.ts";

/**
 * oom_badness: resident pages, swap entries and page-table pages
 * (get_mm_rss + MM_SWAPENTS + mm_pgtables_bytes / PAGE_SIZE: no P4D table,
 * mm/pgtable.ts mmPgtablesPages); vmlab has no
 * oom_score_adj (always 0, so no adjustment). The OOM killer and
 * /proc/PID/oom_score (view/procstatus.ts) both use it.
 * Linux: mm/oom_kill.c oom_badness
 */
export function oomBadness(k: KernelCore, mm: MmStruct): number {
  return mm.rss + mm.swapEnts + mmPgtablesPages(k.userMm, mm);
}

/**
 * out_of_memory: select_bad_process by oom_badness (RSS + swap entries +
 * page-table pages) and kill it, with the kernel's report line. A victim
 * that is itself allocating is only marked: its allocation fails and the
 * fault ends in SIGKILL. Returns whether memory was freed.
 */
export function outOfMemory(k: KernelCore, order: number): boolean {
  if (k.reclaiming) return false;
  let victim: Task | null = null;
  let best = 0;
  for (const t of k.tasks) {
    const mm = t.mm;
    if (!t.alive || mm === null) continue;
    const points = oomBadness(k, mm);
    if (points > best) {
      best = points;
      victim = t;
    }
  }
  if (victim === null) return false;
  const mm = victim.mm!;
  k.oomKills++;
  k.oomReports.push(...oomReport(k, victim, mm, order));
  if (mm === k.faultingMm) {
    victim.oomKilled = true;
    return false;
  }
  const cpu = k.runningCpu;
  for (const t of k.tasks) if (t.alive && t.mm === mm) exit(k, t, "SIGKILL (out of memory)");
  k.runningCpu = cpu;
  return true;
}

/** Who asked, for what (out_of_memory -> dump_header), the constraint, then the kill (__oom_kill_process). */
function oomReport(k: KernelCore, victim: Task, mm: MmStruct, order: number): string[] {
  const kb = (n: number) => n * 4;
  const totalVm = mm.vmas.reduce((n, v) => n + v.pages, 0);
  const invoker =
    k.tasks.find((t) => t.alive && t.mm !== null && t.mm === k.faultingMm) ?? contextTask(k, k.runningCpu);
  const gfp = k.faultingMm !== null ? "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)" : "0xcc0(GFP_KERNEL)";
  return [
    `${invoker.comm} invoked oom-killer: gfp_mask=${gfp}, order=${order}, oom_score_adj=0`,
    "Mem-Info:",
    `active_anon:${k.vmscan.size[2]} inactive_anon:${k.vmscan.size[1]} active_file:${k.vmscan.size[4]} inactive_file:${k.vmscan.size[3]} free:${k.buddy.freePages()} free_pcp:${k.buddy.pcp?.total() ?? 0} pagetables:${k.pageTablePages}`,
    `Free swap  = ${(k.swap?.freePages ?? 0) * 4}kB`,
    `Total swap = ${(k.swap?.totalPages ?? 0) * 4}kB`,
    `oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=${victim.comm},pid=${victim.pid},uid=${victim.uid}`,
    `Out of memory: Killed process ${victim.pid} (${victim.comm}) total-vm:${kb(totalVm)}kB, anon-rss:${kb(mm.rssAnon)}kB, file-rss:${kb(mm.rssFile)}kB, shmem-rss:${kb(mm.rssShmem)}kB, UID:${victim.uid} pgtables:${kb(mmPgtablesPages(k.userMm, mm))}kB oom_score_adj:0`,
  ];
}
