/**
 * What every architecture's user-mode access and kernel oops share: the
 * return to user mode, the access, the exception entry and its handler's
 * verdict (retry or a signal), and the end of an oops (the task dies, or
 * the kernel panics). Linux: kernel/entry/common.c (the user-mode loop of
 * exit_to_user_mode / irqentry_enter), kernel/exit.c make_task_dead, and
 * the oops_end / die() tails of arch/x86/kernel/dumpstack.c and
 * arch/arm64/kernel/traps.c.
 */
import { assert } from "../../base/assert.ts";
import { fromBig } from "../../base/u64.ts";
import { Access } from "../../hw/access.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import { HwFaultKind } from "../../hw/mmu/PagingFormat.ts";
import type { KernelAccessResult, KernelCore, UserAccessResult } from "./core.ts";
import { contextTask, exit } from "./sched.ts";
import { deliverSignal, type SigInfo } from "./signal.ts";
import type { Task } from "./task.ts";

/**
 * A user-mode access by `task` on `cpuId` (which must have it current):
 * back to user mode, the load or store through the CPU's memory path; on
 * a fault, the exception enters the kernel and `handle` (the
 * architecture's do_user_addr_fault / do_mem_abort, given the access's
 * outcome) either resolves it (null: retry) or names the signal. A caught
 * signal abandons the access; an uncaught one kills the task.
 */
export function userModeAccess(
  k: KernelCore,
  cpuId: number,
  task: Task,
  va: bigint,
  access: Access,
  value: number,
  handle: (cpu: Mmu, outcome: number) => SigInfo | null,
): UserAccessResult {
  assert(k.current[cpuId] === task && task.alive, "userAccess: task is not current on that CPU");
  k.runningCpu = cpuId;
  const cpu = k.machine.cpus[cpuId];
  const { hi, lo } = fromBig(va);
  let faults = 0;
  for (let attempt = 0; attempt < 8; attempt++) {
    k.tlbMgr.exitToUser(cpuId); // user code runs on the user PGD under PTI
    cpu.setUserMode(true);
    const out = access === Access.Write ? cpu.store8(hi, lo, value) : cpu.load8(hi, lo, access);
    cpu.setUserMode(false);
    if (out === 0) {
      if (k.exactLru) k.vmscan.touch(Math.floor(cpu.pa / 4096), k.va.vpn(va));
      // a write reports the byte now in memory (read back through the port)
      const byte = access === Access.Write ? cpu.mem.read8(cpu.pa, hi, lo) : cpu.data;
      return { ok: true, pa: cpu.pa, value: byte, faults };
    }
    faults++;
    k.tlbMgr.enterKernel(cpuId); // the exception enters the kernel (kernel CR3 under PTI)
    // profile=windows: the OS's own fault handler (MmAccessFault) takes user faults
    const r: SigInfo | null =
      k.os === null
        ? handle(cpu, out)
        : k.os.userFault(k, task, va, access, cpu.faultKind === HwFaultKind.NonCanonical);
    if (r === null) continue;
    const killed = deliverSignal(k, task, r.signal, r.code, r.addr, r.pkey);
    return { ok: false, signal: r.signal, siCode: r.code, siAddr: r.addr, killed, faults };
  }
  return {
    ok: false,
    signal: "SIGSEGV",
    siCode: "SEGV_ACCERR",
    siAddr: va,
    killed: deliverSignal(k, task, "SIGSEGV", "SEGV_ACCERR", va),
    faults,
  };
}

/**
 * The end of an oops: the report goes to the log and the oops list (with
 * the fault's hardware code, -1 for none), then the task dies
 * (make_task_dead) or, for the idle task, init or with panic_on_oops, the
 * kernel panics. `signr` is the signal make_task_dead reports for init
 * (x86 oops_end: SIGKILL; arm64 die: SIGSEGV).
 */
export function oopsEnd(
  k: KernelCore,
  cpu: Mmu,
  task: Task,
  lines: string[],
  code: number,
  signr: number,
): KernelAccessResult {
  k.oopses.push({ lines, cpu: cpu.id, pid: task.pid, comm: task.comm, code });
  k.log.push(...lines);
  let panic: string | null = null;
  if (k.config.panicOnOops) panic = "Fatal exception";
  else if (task.pid === 0) panic = "Attempted to kill the idle task!";
  else if (task.pid === 1)
    panic = `Attempted to kill init! exitcode=0x${signr.toString(16).padStart(8, "0")}`;
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
 * A plain kernel dereference (no exception-table entry) on `cpuId` in its
 * current task's context: the access in kernel mode; on a fault
 * `handle` (the architecture's kernel fault path: a spurious fault or one
 * handle_mm_fault fixed answers null, retry) returns the oops. After a few
 * retries that keep faulting, `giveUp` reports the oops.
 */
export function kernelModeAccess(
  k: KernelCore,
  cpuId: number,
  va: bigint,
  access: Access,
  value: number,
  handle: (cpu: Mmu, task: Task, outcome: number) => KernelAccessResult | null,
  giveUp: (cpu: Mmu, task: Task) => KernelAccessResult,
): KernelAccessResult {
  assert(k.panicked === null, "kernelAccess: the machine has panicked");
  const cpu = k.machine.cpus[cpuId];
  const task = contextTask(k, cpuId);
  cpu.setUserMode(false);
  k.tlbMgr.enterKernel(cpuId);
  const { hi, lo } = fromBig(va);
  let faults = 0;
  for (let attempt = 0; attempt < 4; attempt++) {
    const out = access === Access.Write ? cpu.store8(hi, lo, value) : cpu.load8(hi, lo, access);
    if (out === 0) {
      const byte = access === Access.Write ? cpu.mem.read8(cpu.pa, hi, lo) : cpu.data;
      return { ok: true, pa: cpu.pa, value: byte, faults };
    }
    faults++;
    // profile=windows: a fault on the memory the profile manages (its pools) is its MmAccessFault's
    const os = k.os?.kernelFault?.(k, cpuId, va, access);
    if (os === null) continue;
    if (os !== undefined) return os;
    const r = handle(cpu, task, out);
    if (r !== null) return r;
  }
  return giveUp(cpu, task);
}
