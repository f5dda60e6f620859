/**
 * The end of an oops (arch/x86/kernel/dumpstack.c oops_end, __die): the
 * report goes to the log, then the task dies (make_task_dead) or, for the
 * idle task, init or with panic_on_oops, the kernel panics. And BUG()
 * (lib/bug.c, arch/x86/kernel/traps.c handle_bug: the ud2 is an "invalid
 * opcode" trap).
 */

import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { KernelAccessResult, KernelCore } from "../../core/core.ts";
import { dumpStackInfo } from "../../core/dump_stack.ts";
import { oopsEnd as endOops } from "../../core/entry.ts";
import { contextTask } from "../../core/sched.ts";
import type { Task } from "../../core/task.ts";

/** oops_end (arch/x86/kernel/dumpstack.c): make_task_dead(SIGKILL) for init's exit code. */
export function oopsEnd(k: KernelCore, cpu: Mmu, task: Task, lines: string[], code = -1): KernelAccessResult {
  return endOops(k, cpu, task, lines, code, 9);
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
    ...dumpStackInfo(cpu.id, task.uid, task.pid, task.comm, k.oopses.length + 1),
  ]);
  if (r.ok) return [];
  return r.panic ? [...r.oops, `Kernel panic - not syncing: ${r.panic}`] : r.oops;
}
