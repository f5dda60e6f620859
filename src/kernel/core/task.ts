import { assert } from "../../base/assert.ts";
import type { FilesStruct } from "../fs/open.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { NR_DIRTIED_PAUSE_INIT } from "../mm/page_writeback.ts";
import { Rlimit, type RlimitName, Rlimits } from "../mm/rlimit.ts";

export type { RlimitName };

/**
 * A task as the kernel facade's callers hold it (Kernel.ts): the handle
 * spawn, fork, thread and kthread return and the operations take back, with
 * the task's own counters to read (as /proc/PID/stat shows them). What is
 * behind it (its mm, its signal handlers) is the kernel's: read it through
 * the view (kernel/view), change it through the facade.
 */
export interface TaskHandle {
  readonly pid: number;
  readonly comm: string;
  readonly kthread: boolean;
  readonly alive: boolean;
  /** why it died: "oops", "SIGSEGV", "exit", ... */
  readonly exitReason: string;
  readonly uid: number;
  /** faults resolved without I/O / with I/O */
  readonly minFlt: number;
  readonly majFlt: number;
  /** the last signal delivered, with its si_code and si_addr ("none" before any) */
  readonly signal: string;
  readonly siCode: string;
  readonly siAddr: bigint;
}

/** OOM_SCORE_ADJ_MIN, OOM_SCORE_ADJ_MAX: the range of oom_score_adj. Linux: include/uapi/linux/oom.h */
export const OOM_SCORE_ADJ_MIN = -1000;
export const OOM_SCORE_ADJ_MAX = 1000;

/**
 * A task (Linux: struct task_struct), as far as the memory model needs it.
 * Kernel threads have no user address space (mm = null) and run on
 * whatever page tables are loaded (lazy TLB mode).
 */
export class Task implements TaskHandle {
  alive = true;
  /** the parent's pid: the task that forked it (a thread: its process's parent), init for a spawned process, kthreadd for a kernel thread, 0 for pids 0, 1, 2 */
  ppid = -1;
  /** why it died: "oops", "SIGSEGV", "exit", ... */
  exitReason = "";
  mm: MmStruct | null = null;
  /** the open files (task->files: fs/open.ts FilesStruct); null for a kernel thread and after exit */
  files: FilesStruct | null = null;
  /** faults resolved without I/O / with I/O, counted from spawn or fork (like /proc/PID/stat) */
  minFlt = 0;
  majFlt = 0;
  /** chosen by the OOM killer while it was allocating: its fault ends in SIGKILL */
  oomKilled = false;
  /**
   * page-cache pages dirtied since balance_dirty_pages last looked, and how many it may dirty
   * before it looks again (copy_process: 0 and 128 KiB of pages; mm/page_writeback.ts)
   */
  nrDirtied = 0;
  nrDirtiedPause = NR_DIRTIED_PAUSE_INIT;
  /**
   * current->memcg_nr_pages_over_high: the pages charged while the memory cgroup was over
   * memory.high, reclaimed on the way back to user mode (memcontrol.ts memcgHandleOverHigh)
   */
  memcgNrPagesOverHigh = 0;
  /**
   * signal->oom_score_adj (-1000..1000, /proc/PID/oom_score_adj) and signal->oom_score_adj_min
   * (the least an unprivileged write may set: what a privileged one last set). Copied by fork
   * (copy_signal); the threads of a process share them (core/sched.ts setOomScoreAdj sets them all).
   */
  /**
   * task_struct->personality (personality(2)): PER_LINUX (0) and flags; READ_IMPLIES_EXEC
   * (0x0400000) makes PROT_READ imply PROT_EXEC in mmap, mprotect and a new heap. Copied by
   * fork and clone (dup_task_struct).
   */
  personality = 0;
  /**
   * TIF_TAGGED_ADDR (arm64 prctl(PR_SET_TAGGED_ADDR_CTRL, PR_TAGGED_ADDR_ENABLE)): access_ok
   * takes the untagged address, so system calls that read or write user memory accept a tagged
   * pointer. Thread-scoped; copied by fork and clone (dup_task_struct copies thread_info).
   */
  taggedAddr = false;
  oomScoreAdj = 0;
  oomScoreAdjMin = 0;
  /** the last signal delivered, with its si_code and si_addr */
  signal = "none";
  siCode = "none";
  siAddr = 0n;
  /** si_pkey of the last SEGV_PKUERR (0 before any) */
  siPkey = 0;
  /**
   * thread.pkru: the protection-key register while the task is not running
   * (x86_pkru_load stashes it at a switch away and loads it back); while it
   * runs, the CPU's register is the live value (core/pkeys.ts taskPkru)
   */
  pkru = 0;
  /** signals with a handler (`P: catch SIGSEGV`): sighand_struct, its threads' too (CLONE_SIGHAND) */
  caught = new Set<string>();
  /** the caught signals whose sigaction has SA_EXPOSE_TAGBITS: si_addr keeps a fault address's tag */
  exposeTagbits = new Set<string>();
  /**
   * signal->rlim: the process's resource limits (mm/rlimit.ts), shared by its threads, copied
   * by fork (copy_signal); its mm holds the same object (MmStruct.rlim)
   */
  rlim = new Rlimits();
  /** RLIMIT_STACK's soft limit, bytes */
  get rlimitStack(): number {
    return this.rlim.cur[Rlimit.STACK];
  }
  /**
   * current->pagefault_disabled (include/linux/uaccess.h pagefault_disable):
   * above 0, faulthandler_disabled() is true and the fault handlers resolve
   * nothing (do_user_addr_fault and its arm64/RISC-V peers go to no_context)
   */
  pagefaultDisabled = 0;

  constructor(
    readonly pid: number,
    readonly comm: string,
    readonly kthread: boolean,
    public uid = 0,
  ) {}
}

/** The task behind a handle the kernel handed out (a handle from anywhere else is a caller's bug). */
export function taskOf(h: TaskHandle): Task {
  assert(h instanceof Task, "not a task of this kernel");
  return h;
}
