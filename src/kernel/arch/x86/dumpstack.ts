/**
 * The end of an oops (arch/x86/kernel/dumpstack.c oops_end, __die): the
 * report goes to the log, then the task dies (make_task_dead) or, for the
 * idle task, init or with panic_on_oops, the kernel panics. And BUG()
 * (lib/bug.c, arch/x86/kernel/traps.c handle_bug: the ud2 is an "invalid
 * opcode" trap).
 */
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { KernelAccessResult, KernelCore } from "../../core/core.ts";
import { contextTask, exit } from "../../core/sched.ts";
import type { Task } from "../../core/task.ts";

/** oops_end: log, kill the task (make_task_dead), or panic. */
export function oopsEnd(k: KernelCore, cpu: Mmu, task: Task, lines: string[], code = -1): KernelAccessResult {
  k.oopses.push({ lines, cpu: cpu.id, pid: task.pid, comm: task.comm, code });
  k.log.push(...lines);
  let panic: string | null = null;
  if (k.config.panicOnOops) panic = "Fatal exception";
  else if (task.pid === 0) panic = "Attempted to kill the idle task!";
  else if (task.pid === 1) panic = "Attempted to kill init! exitcode=0x00000009";
  if (panic !== null) {
    k.panicked = panic;
    k.log.push(`Kernel panic - not syncing: ${panic}`);
  } else {
    // make_task_dead -> do_exit: the task dies and its address space is torn down
    const running = k.runningCpu;
    exit(k, task, "oops");
    k.runningCpu = running;
  }
  return { ok: false, oops: lines, panic };
}

/**
 * BUG(): kernel code found a broken invariant it cannot survive (a double
 * free caught by the allocator, a free of a pointer it never gave out).
 * Reported like Linux's `kernel BUG at FILE!` / `invalid opcode` oops, in
 * the context of the current task on `cpuId`. Returns the report.
 */
export function bug(k: KernelCore, cpuId: number, message: string, file: string): string[] {
  const cpu = k.machine.cpus[cpuId];
  const task = contextTask(k, cpuId);
  const r = oopsEnd(k, cpu, task, [
    message,
    `kernel BUG at ${file}!`,
    `invalid opcode: 0000 [#${k.oopses.length + 1}] PREEMPT SMP ${k.config.pti ? "PTI" : "NOPTI"}`,
    `CPU: ${cpu.id} PID: ${task.pid} Comm: ${task.comm}`,
  ]);
  if (r.ok) return [];
  return r.panic ? [...r.oops, `Kernel panic - not syncing: ${r.panic}`] : r.oops;
}
