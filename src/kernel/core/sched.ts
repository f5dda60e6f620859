/**
 * Tasks and what runs where: creation (kernel/fork.c, kernel/kthread.c, an
 * exec'd process's fresh mm), context switches (kernel/sched/core.c
 * context_switch), exit (kernel/exit.c do_exit), the task a CPU's kernel
 * code runs for, and system-call entry.
 */
import { assert } from "../../base/assert.ts";
import { InputError } from "../../base/errors.ts";
import type { FileObject } from "../fs/file.ts";
import { FilesStruct } from "../fs/open.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { doPrlimit, RLIMIT_NAMES, Rlimit, type RlimitName } from "../mm/rlimit.ts";
import { Errno } from "../mm/userMm.ts";
import { Vma, VmFlag } from "../mm/vma.ts";
import type { KernelCore } from "./core.ts";
import { memfdRelease } from "./memfd_evict.ts";
import { initMmPkeys, initTaskPkru, pkruSwitch } from "./pkeys.ts";
import { OOM_SCORE_ADJ_MAX, OOM_SCORE_ADJ_MIN, Task } from "./task.ts";
import { exitDirtyLeak } from "./writeback.ts";

/** pid 1 (init, the ancestor of user processes) and pid 2 (kthreadd, the parent of kernel threads) */
export const INIT_PID = 1;
export const KTHREADD_PID = 2;

/** A task with the next pid (alloc_pid), a child of `ppid`. */
export function newTask(k: KernelCore, comm: string, kthread: boolean, ppid = -1): Task {
  const t = new Task(k.nextPid++, comm, kthread);
  t.ppid = ppid;
  initTaskPkru(k, t, null);
  k.tasks.push(t);
  return t;
}

/** A kernel thread (kthread_create): kthreadd's child. */
export function newKthread(k: KernelCore, comm: string): Task {
  return newTask(k, comm, true, KTHREADD_PID);
}

function newKworker(k: KernelCore, cpu: number): Task {
  return newKthread(k, `kworker/${cpu}:${k.kworkerSerial[cpu]++}`);
}

/**
 * sched_init, rest_init and smp_init: the boot task becomes CPU 0's idle
 * task, swapper/0, pid 0; rest_init creates pid 1 (kernel_init, which
 * becomes init and the ancestor of every user process) and pid 2
 * (kthreadd, which creates every other kernel thread); each other CPU's
 * idle task, swapper/N (fork_idle), has pid 0 too. Then one kworker per CPU,
 * the context of the scenario's kernel statements. (Linux's init execs
 * /sbin/init and has an mm; vmlab's stays a kernel thread, as kernel_init
 * is before that exec.)
 */
export function schedInit(k: KernelCore): void {
  const idle = newTask(k, "swapper/0", true, 0);
  const init = newTask(k, "init", true, 0);
  const kthreadd = newTask(k, "kthreadd", true, 0);
  assert(idle.pid === 0 && init.pid === INIT_PID && kthreadd.pid === KTHREADD_PID, "boot: pids 0, 1, 2");
  for (let c = 1; c < k.config.cpus; c++) {
    const t = new Task(0, `swapper/${c}`, true);
    t.ppid = 0;
    k.tasks.push(t);
  }
  for (let c = 0; c < k.config.cpus; c++) k.current[c] = newKworker(k, c);
}

/** The task kernel code on `cpu` runs for; a fresh kworker if the last one died. */
export function contextTask(k: KernelCore, cpu: number): Task {
  let t = k.current[cpu];
  if (t === null || !t.alive) {
    t = newKworker(k, cpu);
    k.current[cpu] = t;
  }
  return t;
}

/** The CPU a task is current on, or -1. */
export function cpuOf(k: KernelCore, task: Task): number {
  return k.current.indexOf(task);
}

/** The address spaces of the live tasks, each once. */
export function liveMms(k: KernelCore): MmStruct[] {
  return [...new Set(k.tasks.filter((t) => t.alive && t.mm).map((t) => t.mm!))];
}

/**
 * A new user process with an empty address space but for its main-thread
 * stack: a VM_GROWSDOWN VMA of 132 KiB ending at TASK_SIZE, as exec leaves
 * it (no page is present until touched). mmap_base sits below the stack
 * gap (the stack rlimit plus stack_guard_gap, at least 128 MiB).
 */
export function spawn(k: KernelCore, comm: string, uid: number, rlimitStack: number): Task | null {
  const mm = k.userMm.newMm();
  if (mm === null) return null;
  // a process exec'd by a child of init
  const t = newTask(k, comm, false, INIT_PID);
  initMmPkeys(k, mm, null);
  t.uid = uid;
  t.rlim.cur[Rlimit.STACK] = rlimitStack;
  mm.rlim = t.rlim;
  t.mm = mm;
  t.files = new FilesStruct();
  const top = mm.stackTop;
  const gap = Math.min(Math.max(Math.ceil(rlimitStack / 4096) + 256, 32768), Math.floor((top / 6) * 5));
  mm.mmapBase = top - gap;
  // where a PIE binary's bss ends without ASLR (ELF_ET_DYN_BASE + the image)
  mm.startBrk =
    k.layout.brkStart !== undefined ? Number(k.layout.brkStart / 4096n) : (k.layout.pieBrkVpn ?? 0x555555559);
  mm.brkBytes = mm.startBrk * 4096;
  // profile=windows: the process's address space is the OS's (its VAD tree)
  if (k.os !== null) {
    k.os.newProcess(k, t);
    return t;
  }
  const stack = new Vma(
    top - 33,
    top,
    VmFlag.READ |
      VmFlag.WRITE |
      VmFlag.MAYREAD |
      VmFlag.MAYWRITE |
      VmFlag.MAYEXEC |
      VmFlag.GROWSDOWN |
      VmFlag.ACCOUNT,
    top - 33,
    "[stack]",
  );
  mm.insert(stack);
  // insert_vm_struct (__bprm_mm_init) and acct_stack_growth (setup_arg_pages' expand_stack)
  // charge the accounted stack VMA to the commitment, as munmap and fork count it
  mm.committed += stack.pages;
  return t;
}

/** fork: the child gets a copy of the address space (copy-on-write) and counters from zero. */
export function fork(k: KernelCore, parent: Task, comm: string): Task | null {
  if (!parent.mm) return null;
  syscallEntry(k, parent);
  k.faultingMm = parent.mm;
  const mm = k.userMm.dupMm(parent.mm, parent.uid === 0);
  k.faultingMm = null;
  if (mm === null) return null;
  const t = newTask(k, comm, false);
  initMmPkeys(k, mm, parent.mm); // dup_mmap: arch_dup_mmap -> arch_dup_pkeys
  initTaskPkru(k, t, parent);
  t.ppid = parent.pid;
  t.uid = parent.uid;
  t.rlim = mm.rlim = parent.rlim.copy(); // copy_signal
  t.personality = parent.personality; // dup_task_struct
  t.taggedAddr = parent.taggedAddr; // dup_task_struct: thread_info's TIF_TAGGED_ADDR
  for (const s of parent.caught) t.caught.add(s);
  for (const s of parent.exposeTagbits) t.exposeTagbits.add(s);
  // copy_signal: the child's signal_struct starts with the parent's oom_score_adj and its floor
  t.oomScoreAdj = parent.oomScoreAdj;
  t.oomScoreAdjMin = parent.oomScoreAdjMin;
  t.mm = mm;
  // copy_files -> dup_fd: the child's table holds the parent's struct files (f_pos, f_ra shared)
  t.files = parent.files?.dup() ?? new FilesStruct();
  return t;
}

/**
 * A thread of `parent` (clone with CLONE_VM): a new task sharing the
 * parent's mm, so a TLB flush for it must reach every CPU running either.
 */
export function thread(k: KernelCore, parent: Task, comm: string): Task | null {
  if (!parent.mm) return null;
  const t = newTask(k, comm, false);
  initTaskPkru(k, t, parent);
  t.ppid = parent.ppid;
  t.uid = parent.uid;
  t.rlim = parent.rlim; // CLONE_THREAD: the same signal_struct
  t.personality = parent.personality; // dup_task_struct
  t.taggedAddr = parent.taggedAddr; // dup_task_struct: thread_info's TIF_TAGGED_ADDR
  // copy_sighand: CLONE_SIGHAND (CLONE_THREAD requires it) shares the handlers and their sa_flags
  t.caught = parent.caught;
  t.exposeTagbits = parent.exposeTagbits;
  // CLONE_THREAD: the same signal_struct (oom_score_adj)
  t.oomScoreAdj = parent.oomScoreAdj;
  t.oomScoreAdjMin = parent.oomScoreAdjMin;
  t.mm = parent.mm;
  parent.mm.users++;
  // CLONE_FILES: the same table
  t.files = parent.files;
  if (t.files !== null) t.files.users++;
  return t;
}

/**
 * setrlimit(2) (prlimit64 on the caller itself): the process's limit for
 * `resource` becomes soft/hard (bytes, Infinity for RLIM_INFINITY); 0,
 * -EINVAL for soft > hard, -EPERM for a hard limit raised without
 * CAP_SYS_RESOURCE (vmlab's uid 0 has it). Its threads see it at once
 * (one signal_struct); children forked later inherit it.
 * Linux: kernel/sys.c SYSCALL_DEFINE2(setrlimit), do_prlimit
 */
export function setrlimit(task: Task, resource: RlimitName, soft: number, hard: number): number {
  return doPrlimit(task.rlim, RLIMIT_NAMES[resource], soft, hard, task.uid === 0);
}

/**
 * A system call by `task` begins: it runs on the CPU where the task is
 * current (CPU 0 if none), and under PTI the entry switches that CPU to
 * the kernel PGD.
 */
export function syscallEntry(k: KernelCore, task: Task): void {
  k.dirtyThrottle?.serve(); // the flusher's queued work ran meanwhile
  const cpu = cpuOf(k, task);
  k.runningCpu = Math.max(0, cpu);
  if (cpu >= 0) k.tlbMgr.enterKernel(cpu);
}

/** The address space of a task making a system call (it must have one). */
export function userOf(task: Task): MmStruct {
  assert(task.alive && task.mm !== null, "syscall on a task without a user address space");
  return task.mm;
}

/**
 * A context switch of `cpuId` to `task` (Linux: context_switch ->
 * switch_mm_irqs_off for a user task, enter_lazy_tlb for a kernel thread).
 */
export function switchTo(k: KernelCore, cpuId: number, task: Task): void {
  assert(task.alive, "switchTo: dead task");
  const other = cpuOf(k, task);
  if (other === cpuId) return;
  if (other >= 0) {
    // migrates: its old CPU runs the idle task, in lazy TLB mode
    pkruSwitch(k, other, task, null);
    k.current[other] = null;
    k.tlbMgr.switchMm(other, null);
  }
  // __switch_to: x86_pkru_load (the outgoing task's register saved, the incoming one's loaded)
  const prev = k.current[cpuId];
  pkruSwitch(k, cpuId, prev?.alive ? prev : null, task);
  k.current[cpuId] = task;
  // switch_mm: an untagged VIVT cache is cleaned before the new tables are loaded (cpu_arm926_switch_mm)
  k.userMm.env.cache.switchMm(cpuId, k.tlbMgr.states[cpuId].loadedMm, task.mm);
  k.tlbMgr.switchMm(cpuId, task.mm);
}

/** do_exit: tear down the address space; the task is gone. */
export function exit(k: KernelCore, task: Task, reason: string): void {
  if (!task.alive) return;
  task.alive = false;
  task.exitReason = reason;
  exitDirtyLeak(k, task); // do_exit: nr_dirtied not yet balanced -> dirty_throttle_leaks
  const cpu = cpuOf(k, task);
  if (cpu >= 0) {
    k.current[cpu] = null;
    k.runningCpu = cpu;
  }
  // exit_files -> put_files_struct: the last user closes every file (fput)
  const files = task.files;
  task.files = null;
  const closed: FileObject[] = [];
  if (files !== null && --files.users === 0) {
    for (const f of files.fds.keys()) if (f.memfdName !== null) closed.push(f);
    files.fds.clear();
  }
  const mm = task.mm;
  if (mm && --mm.users === 0) {
    k.os?.exitMm(k, mm);
    k.userMm.exitMmap(mm);
    for (let c = 0; c < k.machine.cpus.length; c++) {
      if (k.tlbMgr.states[c].loadedMm === mm) k.tlbMgr.loadKernel(c, k.rootPfn);
    }
    if (mm.pgdPfn >= 0 && mm.cpumask.size === 0) k.userMm.freePgd(mm);
  }
  // close_files' fput of each memfd: the last reference frees it (after exit_mm, as do_exit runs them)
  for (const f of closed) memfdRelease(k, f);
}

/**
 * A Linux system call made in the windows profile: an error (it has the
 * VirtualAlloc family instead).
 */
export function linuxOnly(k: Pick<KernelCore, "os">, call: string): void {
  if (k.os !== null)
    throw new InputError(
      `${call} is Linux's; profile=windows has VirtualAlloc, VirtualFree, VirtualProtect and VirtualQuery`,
    );
}

/**
 * /proc/PID/oom_score_adj written (__set_oom_adj): -EINVAL outside
 * -1000..1000 (oom_score_adj_write), -EACCES lowering it below the
 * process's oom_score_adj_min without CAP_SYS_RESOURCE (vmlab: uid 0 has
 * every capability); a privileged write sets the floor too. Every thread
 * of the process (the tasks sharing its mm: one signal_struct) takes the
 * value. Returns 0 or -errno. Read by core/oom.ts (oom_badness).
 * Linux: fs/proc/base.c oom_score_adj_write, __set_oom_adj
 */
export function setOomScoreAdj(k: KernelCore, t: Task, adj: number): number {
  if (!Number.isInteger(adj) || adj < OOM_SCORE_ADJ_MIN || adj > OOM_SCORE_ADJ_MAX) return -Errno.EINVAL;
  const privileged = t.uid === 0;
  if (adj < t.oomScoreAdjMin && !privileged) return -Errno.EACCES;
  for (const o of k.tasks)
    if (o === t || (o.alive && t.mm !== null && o.mm === t.mm)) {
      o.oomScoreAdj = adj;
      if (privileged) o.oomScoreAdjMin = adj;
    }
  return 0;
}
