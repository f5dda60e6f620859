/**
 * Signals a fault raises (kernel/signal.c force_sig_fault): the task records
 * the signal with its si_code and si_addr; a caught one returns to the
 * handler, an uncaught one (and SIGKILL always) kills the task.
 */
import type { KernelCore } from "./core.ts";
import { exit } from "./sched.ts";
import type { Task } from "./task.ts";

/** A fault's signal: its name, si_code and si_addr. */
export interface SigInfo {
  signal: string;
  code: string;
  addr: bigint;
  /** si_pkey, with SEGV_PKUERR: the protection key of the page (arch/x86/mm/fault.c bad_area_access_error) */
  pkey?: number;
}

/**
 * sigaction(2) installing a handler for `sig`, its sa_flags SA_EXPOSE_TAGBITS or not (a later
 * sigaction replaces the flags). Linux: kernel/signal.c do_sigaction
 */
export function catchSignal(task: Task, sig: string, exposeTagbits: boolean): void {
  task.caught.add(sig);
  if (exposeTagbits) task.exposeTagbits.add(sig);
  else task.exposeTagbits.delete(sig);
}

/** Records a signal; an uncaught one kills the task. Returns whether it died. */
export function deliverSignal(
  k: KernelCore,
  task: Task,
  signal: string,
  code: string,
  addr: bigint,
  pkey = 0,
): boolean {
  task.signal = signal;
  task.siPkey = pkey;
  task.siCode = code;
  task.siAddr = addr;
  if (signal !== "SIGKILL" && task.caught.has(signal)) return false;
  exit(k, task, signal);
  return true;
}
