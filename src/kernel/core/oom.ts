/**
 * The OOM killer (mm/oom_kill.c): when reclaim cannot free memory for a
 * small allocation, select_bad_process picks the task with the highest
 * oom_badness and kills it, with the kernel's report.
 */

import type { MmStruct } from "../mm/MmStruct.ts";
import { mmPgtablesPages } from "../mm/pgtable.ts";
import type { KernelCore } from "./core.ts";
import { dumpHeader, killLines, type MemcgOom, oomCurrent, oomLog } from "./oom_report.ts";
import { exit } from "./sched.ts";
import type { SigInfo } from "./signal.ts";
import { OOM_SCORE_ADJ_MIN, type Task } from "./task.ts";

export type { MemcgOom } from "./oom_report.ts";

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
 * already reaped (MMF_OOM_SKIP: a victim that is not allocating dies at
 * once, its exit_mmap reaping as the oom_reaper would, so a dead mm);
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
 * process: the first of those sharing an mm) rated by oom_badness, the
 * highest chosen; a later process with points equal to the chosen one's
 * takes its place (oom_evaluate_task skips only `points < chosen_points`),
 * and points may be negative (chosen_points starts at LONG_MIN).
 *
 * None chosen: dump_header and "Out of memory and no killable
 * processes..."; for the whole machine (not a memory cgroup's OOM) the
 * kernel panics, "System is deadlocked on memory". Returns false.
 *
 * Chosen: dump_header, dump_oom_victim and __oom_kill_process's report;
 * SIGKILL to the victim and every process sharing its mm. A task that is
 * not the allocating one dies at once (it would die when it next runs;
 * do_exit's exit_mmap unmaps its memory as the oom_reaper would, and sets
 * MMF_OOM_SKIP: the next OOM chooses someone else): returns true, memory
 * was freed. The allocating task (its fault, fork or population) only gets
 * the SIGKILL pending (oomKilled: fatal_signal_pending), its fellow
 * sharers of the mm die at once, and this returns false: its allocation
 * fails at once and the fault returns VM_FAULT_OOM, which
 * pagefault_out_of_memory returns from to let the signal kill it (Linux's
 * out_of_memory returns true here and the victim retries with access to
 * the reserves, ALLOC_OOM: not modelled, the task dies either way; a
 * memory cgroup's charge retries MAX_RECLAIM_RETRIES more reclaims before
 * its -ENOMEM, as memcontrol.ts does).
 * vm.panic_on_oom (1: the whole machine's OOM, 2: a memory limit's too)
 * panics after dump_header instead (check_panic_on_oom);
 * vm.oom_kill_allocating_task chooses the allocating task when it may
 * be killed ("Out of memory (oom_kill_allocating_task)": no selection).
 * Not modelled: memory.oom.group, the ratelimit of the report (oom_rs), the oom_reaper's
 * own thread and its 2 s delay (OOM_REAPER_DELAY: nothing waits here), oom_evaluate_task's
 * abort for a victim still exiting (none is, but the allocating one: task_will_free_mem above),
 * the pretended progress of a GFP_NOFS allocation (vmlab's reach the killer with __GFP_FS).
 * Linux: mm/oom_kill.c out_of_memory, select_bad_process,
 * oom_evaluate_task, oom_kill_process, __oom_kill_process
 */
export function outOfMemory(k: KernelCore, order: number, memcg: MemcgOom | null = null, gfp = 0): boolean {
  if (k.reclaiming || k.panicked !== null) return false;
  // task_will_free_mem(current): the allocating task already has the OOM killer's SIGKILL pending
  // (a second allocation of its fault): nobody else is killed (Linux gives it the reserves)
  if (k.faultingMm !== null && oomCurrent(k).oomKilled) return false;
  // a memory cgroup's OOM: totalpages is mem_cgroup_get_max (memory.max plus the swap it may use:
  // cgroup v2's swap.max is unlimited, so all of swap)
  const totalpages = memcg === null ? oomTotalPages(k) : memcg.limit + (k.swap?.totalPages ?? 0);
  // check_panic_on_oom: 1 for the whole machine's OOM (CONSTRAINT_NONE), 2 for a memory limit's too
  const panicOnOom = k.config.panicOnOom;
  if (panicOnOom !== 0 && (panicOnOom === 2 || memcg === null)) {
    oomLog(k, dumpHeader(k, order, gfp, memcg));
    oomPanic(k, `Out of memory: ${panicOnOom === 2 ? "compulsory" : "system-wide"} panic_on_oom is enabled`);
    return false;
  }
  let victim: Task | null = null;
  let message = memcg === null ? "Out of memory" : "Memory cgroup out of memory";
  // sysctl_oom_kill_allocating_task: current, when it has an mm, is killable and not -1000
  const cur = memcg === null && k.config.oomKillAllocatingTask !== 0 ? oomCurrent(k) : null;
  if (
    cur !== null &&
    cur.mm !== null &&
    !cur.kthread &&
    cur.pid !== 1 &&
    cur.oomScoreAdj !== OOM_SCORE_ADJ_MIN
  ) {
    victim = cur;
    message = "Out of memory (oom_kill_allocating_task)";
  } else victim = selectBadProcess(k, totalpages);
  if (victim === null) {
    oomLog(k, [...dumpHeader(k, order, gfp, memcg), "Out of memory and no killable processes..."]);
    if (memcg === null) oomPanic(k, "System is deadlocked on memory");
    return false;
  }
  const mm = victim.mm!;
  k.oomKills++; // count_vm_event(OOM_KILL)
  if (memcg !== null) k.vmscan.reclaimCtx.memcgOomKills++; // memcg_memory_event(MEMCG_OOM_KILL)
  oomLog(k, [...dumpHeader(k, order, gfp, memcg), ...killLines(k, victim, mm, memcg, message)]);
  const allocating = mm === k.faultingMm ? oomCurrent(k) : null;
  const cpu = k.runningCpu;
  if (allocating !== null && allocating.mm === mm) {
    allocating.oomKilled = true; // do_send_sig_info(SIGKILL): pending until the fault returns
    for (const t of k.tasks)
      if (t.alive && t.mm === mm && t !== allocating) exit(k, t, "SIGKILL (out of memory)");
    k.runningCpu = cpu;
    return false;
  }
  if (allocating !== null) {
    // the mm allocating for another task's call (none such in vmlab): every sharer's SIGKILL pending
    for (const t of k.tasks) if (t.alive && t.mm === mm) t.oomKilled = true;
    return false;
  }
  for (const t of k.tasks) if (t.alive && t.mm === mm) exit(k, t, "SIGKILL (out of memory)");
  k.runningCpu = cpu;
  return true;
}

/** select_bad_process: the task of the highest oom_badness, a later one of equal points replacing it; null for none. */
function selectBadProcess(k: KernelCore, totalpages: number): Task | null {
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
  return victim;
}

/** panic(): the message logged; the machine stops (nothing runs after the statement that panicked). */
function oomPanic(k: KernelCore, msg: string): void {
  if (k.panicked !== null) return;
  k.panicked = msg;
  oomLog(k, [`Kernel panic - not syncing: ${msg}`]);
}

/** the OOM killer's SIGKILL (SEND_SIG_PRIV: si_code SI_KERNEL), delivered as the fault returns */
const OOM_SIGKILL: SigInfo = { signal: "SIGKILL", code: "SI_KERNEL", addr: 0n };
/**
 * No signal: the run stops with the access not done and the task alive (entry.ts raise). `code`
 * says why: the machine panicked, or the fault would be retried forever.
 */
export const PANIC_STOP: SigInfo = { signal: "", code: "panic", addr: 0n };
export const OOM_LIVELOCK: SigInfo = { signal: "", code: "livelock", addr: 0n };

/**
 * How many times in a row the same page's fault may end in VM_FAULT_OOM, with
 * no OOM kill in between, before vmlab stops the access as a livelock: 8
 * faults of one access (entry.ts's bound for a fault that keeps being resolved).
 */
export const PF_OOM_RETRIES = 8;

/** The fault pagefaultOutOfMemory last retried: its task and page, the OOM kills then, and how many in a row (a task is one kernel's). */
const oomRetry = { task: null as Task | null, vpn: -1, kills: 0, faults: 0 };

/**
 * A user-mode fault that ended in VM_FAULT_OOM (the arch handlers' OOM
 * branch, after their kernel-mode check: a uaccess's fault goes to its
 * fixup instead). Linux kills nothing here: mem_cgroup_oom_synchronize
 * (cgroup v1's oom_kill_disable: vmlab's limit is v2's, false), then a fatal
 * signal pending (the OOM killer's SIGKILL, when the task was its victim:
 * returned, the signal kills it on the way out), else the ratelimited
 * "Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF" and the
 * access faults again. The killer chose someone else and freed memory
 * before the allocation gave up, so this is reached only where it did not:
 * a memory cgroup with nothing killable (out_of_memory's "no killable
 * processes", no panic for a memory cgroup) or the machine panicked (the
 * same for the whole machine). Linux retries such a fault for as long as
 * nothing changes: forever, the task stuck in the fault. vmlab retries it
 * (each retry reclaims and calls the OOM killer again, so one that can
 * progress does) and, after PF_OOM_RETRIES faults of the same page with no
 * OOM kill in between, stops the access with the task alive (OOM_LIVELOCK);
 * the panic stops it at once (PANIC_STOP). Returns the signal, a stop, or
 * null: retry.
 * Linux: mm/oom_kill.c pagefault_out_of_memory; arch/x86/mm/fault.c
 * do_user_addr_fault, arch/arm64/mm/fault.c do_page_fault,
 * arch/riscv/mm/fault.c mm_fault_error
 */
export function pagefaultOutOfMemory(k: KernelCore, task: Task, vpn: number): SigInfo | null {
  if (task.oomKilled) return OOM_SIGKILL; // fatal_signal_pending(current)
  if (k.panicked !== null) return PANIC_STOP;
  const oom = oomRetry;
  if (oom.task !== task || oom.vpn !== vpn || oom.kills !== k.oomKills) {
    oom.task = task;
    oom.vpn = vpn;
    oom.kills = k.oomKills;
    oom.faults = 0;
  }
  // __ratelimit(&pfoom_rs) lets 10 lines through in 5 s (DEFAULT_RATELIMIT_BURST, _INTERVAL): no
  // clock here, each retry prints (at most PF_OOM_RETRIES an access)
  oomLog(k, ["Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF"]);
  if (++oom.faults < PF_OOM_RETRIES) return null;
  oom.task = null;
  return OOM_LIVELOCK;
}

/** /proc/sys/vm's OOM knobs (mm/oom_kill.c vm_oom_kill_table), in the order a write takes them. */
export interface OomSysctls {
  panic_on_oom: number;
  oom_kill_allocating_task: number;
  oom_dump_tasks: number;
}
export const OOM_SYSCTL_KEYS = ["panic_on_oom", "oom_kill_allocating_task", "oom_dump_tasks"] as const;

/**
 * Writes the OOM knobs given, in OOM_SYSCTL_KEYS' order: panic_on_oom through
 * proc_dointvec_minmax over 0..2 (-22 EINVAL outside, it and those after it
 * unwritten), the others through proc_dointvec (any int). Returns 0 or the
 * error, and every knob as read back.
 * Linux: mm/oom_kill.c vm_oom_kill_table
 */
export function sysctlOom(k: KernelCore, w: Partial<OomSysctls>): { ret: number; now: OomSysctls } {
  const c = k.config;
  let ret = 0;
  for (const key of OOM_SYSCTL_KEYS) {
    const v = w[key];
    if (v === undefined) continue;
    const int = Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
    if (!int || (key === "panic_on_oom" && (v < 0 || v > 2))) {
      ret = -22;
      break;
    }
    if (key === "panic_on_oom") c.panicOnOom = v;
    else if (key === "oom_kill_allocating_task") c.oomKillAllocatingTask = v;
    else c.oomDumpTasks = v;
  }
  return {
    ret,
    now: {
      panic_on_oom: c.panicOnOom,
      oom_kill_allocating_task: c.oomKillAllocatingTask,
      oom_dump_tasks: c.oomDumpTasks,
    },
  };
}
