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
import { fromBig, TWO32, toBig } from "../../base/u64.ts";
import { Access } from "../../hw/access.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import { DirectMemory } from "../../hw/mmu/memAccess.ts";
import { HwFaultKind } from "../../hw/mmu/PagingFormat.ts";
import type { KernelAccessResult, KernelCore, UserAccessResult, UserFaultHandler } from "./core.ts";
import { faultFold, foldTable, foldUserFault, RunFaultFold, runFoldable } from "./faultfold.ts";
import { memcgHandleOverHigh } from "./memcontrol.ts";
import { contextTask, exit } from "./sched.ts";
import { deliverSignal, type SigInfo } from "./signal.ts";
import type { Task } from "./task.ts";

/**
 * Where the last run of user accesses ended (userModeRange): the last
 * completed access, or the signal that stopped the run. One per kernel,
 * reused, so that a run allocates nothing while it does not fault.
 */
export class UserAccessRecord {
  /** physical address of the last completed access */
  pa = 0;
  /** the byte the last completed access read, or (a write) the byte now in memory */
  value = 0;
  /** page faults taken during the run, the one that raised the signal included */
  faults = 0;
  /**
   * the signal that stopped the run ("" when every access completed, or when none did: then
   * siCode is "panic" or "livelock", oom.ts pagefaultOutOfMemory), its si_code and si_addr
   */
  signal = "";
  siCode = "";
  siAddr = 0n;
  /** whether the signal killed the task (else it was caught and the access abandoned) */
  killed = false;
}

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
  handle: UserFaultHandler,
  rec: UserAccessRecord,
): UserAccessResult {
  const { hi, lo } = fromBig(va);
  const done = userModeRange(k, cpuId, task, hi, lo, 1, 0, access, value, handle, rec, va);
  return done === 1
    ? { ok: true, pa: rec.pa, value: rec.value, faults: rec.faults }
    : {
        ok: false,
        signal: rec.signal,
        siCode: rec.siCode,
        siAddr: rec.siAddr,
        killed: rec.killed,
        faults: rec.faults,
      };
}

/**
 * `count` user-mode accesses by `task` on `cpuId`, at va, va + stride,
 * va + 2 * stride, ... (stride in bytes, negative for a descending run),
 * each exactly as userModeAccess makes it: back to user mode, the access,
 * on a fault the kernel's entry and `handle`, a retry. Stops at the first
 * access that raises a signal. Returns how many accesses completed; `rec`
 * holds the last one's address and byte, the faults taken and, when the
 * run stopped early, the signal. `vaBig`: the first address as the caller
 * wrote it (a fault's si_addr); otherwise the address as an unsigned value.
 *
 * No bigint and no object is made unless an access faults: this is the
 * scenario engine's range (`P: write a 64M`), one call per range.
 * Linux: the user-mode loop of kernel/entry/common.c around each
 * exception (irqentry_enter, exit_to_user_mode).
 */
export function userModeRange(
  k: KernelCore,
  cpuId: number,
  task: Task,
  vaHi: number,
  vaLo: number,
  count: number,
  stride: number,
  access: Access,
  value: number,
  handle: UserFaultHandler,
  rec: UserAccessRecord,
  vaBig: bigint | null = null,
): number {
  assert(k.current[cpuId] === task && task.alive, "userAccess: task is not current on that CPU");
  k.runningCpu = cpuId;
  const cpu = k.machine.cpus[cpuId];
  const write = access === Access.Write;
  // A write reports the byte it stored: in RAM, value & 0xff (PhysMem.write8 stores it so, and a
  // write-back cache's line holds it so), not read back (through a cache model a read-back would be
  // one more access, counted in cache.hits). Outside RAM (a stray access, counted) the byte is read
  // back at once.
  const direct = cpu.mem instanceof DirectMemory ? cpu.mem : null;
  const ramBytes = k.machine.phys.sizeBytes;
  const stored = value & 0xff;
  // Between two accesses that do not fault nothing runs but this loop: the CPU stays in user mode
  // (on the user page tables under PTI) from one to the next, and leaves it at an exception or the end.
  let user = false;
  rec.faults = 0;
  rec.signal = "";
  // Straight to RAM and with no LRU touch per access, the accesses between two exceptions are one
  // call (Mmu.accessRun: each access as store8/load8 makes it, the mode and the port read once).
  const run = direct !== null && !k.exactLru && cpu.useAccessRun;
  // a not-present fault of a load or store at a PTE in a private anonymous VMA: resolved by the
  // fold (faultfold.ts: do_anonymous_page for a store's none PTE, do_swap_page for a swap entry,
  // without the handler's checks, which it knows pass); never an instruction fetch's
  const fold = access !== Access.Exec && runFoldable(k, cpu, task, write);
  // the fold inside the MMU's run: a fault it takes is entered, resolved and retried there
  const sink = fold && run && faultFold.inRun ? runSink(k, cpuId, task, rec, write) : null;
  let hi = vaHi;
  let lo = vaLo;
  let attempt = 0; // the faults of access i so far
  let at = 0; // the access whose address hi and lo hold
  for (let i = 0; i < count; ) {
    if (i !== at) {
      at = i;
      // the next address, carrying between the halves (|i * stride| < 2^53: the caller's bound)
      const next = vaLo + i * stride;
      hi = (vaHi + Math.floor(next / TWO32)) >>> 0;
      lo = next >>> 0;
    }
    if (!user) {
      // exit_to_user_mode_loop's resume_user_mode_work (TIF_NOTIFY_RESUME): a debt of pages
      // charged over memory.high is reclaimed before user code runs again
      if (task.memcgNrPagesOverHigh !== 0) memcgHandleOverHigh(k, task);
      k.tlbMgr.exitToUser(cpuId); // user code runs on the user PGD under PTI
      cpu.setUserMode(true);
      user = true;
    }
    let out: number;
    if (run) {
      // a fault the sink resolves is one more attempt of its access: never the eighth (below)
      cpu.runFaults = attempt < 7 ? sink : null;
      const done = cpu.accessRun(hi, lo | 0, count - i, stride, access, value); // | 0: no heap number
      cpu.runFaults = null;
      if (done > 0) {
        i += done;
        attempt = 0;
        rec.pa = cpu.pa;
        if (!write) rec.value = cpu.data;
        else if (cpu.pa < ramBytes) rec.value = stored;
        else rec.value = direct!.read8(cpu.pa); // outside RAM: the byte read back at once, as below
      }
      out = cpu.runOutcome;
      if (out === 0) continue; // every access done, or the run stopped after a store outside RAM
      if (cpu.runRetried) attempt++; // the fault of a retry after the sink resolved one
      if (done > 0) {
        // the faulting access's address (its retry, after the handler, uses it again)
        at = i;
        const next = vaLo + i * stride;
        hi = (vaHi + Math.floor(next / TWO32)) >>> 0;
        lo = next >>> 0;
      }
    } else {
      out = write ? cpu.store8(hi, lo, value) : cpu.load8(hi, lo, access);
      if (out === 0) {
        if (k.exactLru) k.vmscan.touch(Math.floor(cpu.pa / 4096), k.va.vpnOf(hi, lo));
        rec.pa = cpu.pa;
        if (!write) rec.value = cpu.data;
        else if (cpu.pa < ramBytes) rec.value = stored;
        else rec.value = cpu.mem.read8(cpu.pa, hi, lo); // outside RAM: the byte read back through the port
        i++;
        attempt = 0;
        continue;
      }
    }
    if (sink !== null && sink.pending !== null) {
      // resolved in the run with a signal (RunFault.Stop): the exception was entered and counted there
      user = false;
      const r = sink.pending;
      sink.pending = null;
      raise(k, task, rec, r);
      return i;
    }
    cpu.setUserMode(false);
    user = false;
    rec.faults++;
    k.tlbMgr.enterKernel(cpuId); // the exception enters the kernel (kernel CR3 under PTI)
    // the address as a bigint only where it is the caller's own or a signal needs it: the
    // architecture's handler finds the page from the halves (a resolved fault makes no bigint)
    const va = i === 0 ? vaBig : null;
    // profile=windows: the OS's own fault handler (MmAccessFault) takes user faults
    let r =
      fold && cpu.faultKind === HwFaultKind.Translation && cpu.faultLevel === 0
        ? foldUserFault(k, cpu, task, hi, lo, write)
        : undefined;
    if (r === undefined) {
      foldTable.reset(); // the handler may change any table: the fold finds its next one again
      r =
        k.os === null
          ? handle(k, cpu, task, out, va, hi, lo)
          : k.os.userFault(k, task, va ?? toBig(hi, lo), access, cpu.faultKind === HwFaultKind.NonCanonical);
    }
    if (r !== null) {
      raise(k, task, rec, r);
      return i;
    }
    if (++attempt === 8) {
      // eight faults on one access, each resolved: the handler made no progress
      raise(k, task, rec, { signal: "SIGSEGV", code: "SEGV_ACCERR", addr: va ?? toBig(hi, lo) });
      return i;
    }
  }
  if (user) cpu.setUserMode(false);
  return count;
}

/** The kernel's one RunFaultFold, set for this run (entry.ts's loop is not reentered meanwhile). */
const runFaultFold = new RunFaultFold();
function runSink(
  k: KernelCore,
  cpuId: number,
  task: Task,
  rec: UserAccessRecord,
  write: boolean,
): RunFaultFold {
  const s = runFaultFold;
  s.k = k;
  s.task = task;
  s.cpuId = cpuId;
  s.rec = rec;
  s.pending = null;
  s.write = write;
  return s;
}

/**
 * A user fault's address as a bigint (a signal's si_addr): the caller's own
 * (`va`), else the unsigned value of the halves. A handler given null
 * (UserFaultHandler) makes it only when it raises a signal.
 */
export function faultAddr(va: bigint | null, vaHi: number, vaLo: number): bigint {
  return va ?? toBig(vaHi, vaLo);
}

/**
 * The signal that stops a run of user accesses, delivered (force_sig_fault) and recorded. No
 * signal ("": oom.ts PANIC_STOP, OOM_LIVELOCK): the run stops with the task alive, the access
 * not done, and `siCode` saying why.
 */
function raise(k: KernelCore, task: Task, rec: UserAccessRecord, r: SigInfo): void {
  rec.signal = r.signal;
  rec.siCode = r.code;
  rec.siAddr = r.addr;
  rec.killed = r.signal !== "" && deliverSignal(k, task, r.signal, r.code, r.addr, r.pkey);
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
      // a store's byte as stored (in RAM; a read-back through a cache model would count an access)
      const byte =
        access !== Access.Write
          ? cpu.data
          : cpu.pa < k.machine.phys.sizeBytes
            ? value & 0xff
            : cpu.mem.read8(cpu.pa, hi, lo);
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
