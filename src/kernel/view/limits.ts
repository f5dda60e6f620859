/**
 * /proc/PID/limits for the limits vmlab models: proc_pid_limits
 * (fs/proc/base.c) prints its header, then one row per resource in
 * resource order (lnames); vmlab prints the rows of RLIMIT_DATA,
 * RLIMIT_STACK, RLIMIT_MEMLOCK and RLIMIT_AS only, and leaves out Max cpu
 * time, file size, core file size, resident set, processes, open files,
 * file locks, pending signals, msgqueue size, nice priority, realtime
 * priority and realtime timeout (vmlab applies none of them).
 */
import type { Task } from "../core/task.ts";
import { Rlimit } from "../mm/rlimit.ts";

/** One row of /proc/PID/limits (bytes; Infinity: RLIM_INFINITY, "unlimited"). */
export interface LimitInfo {
  /** the scenario language's name: data, stack, memlock, as */
  resource: "data" | "stack" | "memlock" | "as";
  /** lnames[]'s name, e.g. "Max address space" */
  name: string;
  soft: number;
  hard: number;
  units: string;
}

const ROWS = [
  ["data", Rlimit.DATA, "Max data size"],
  ["stack", Rlimit.STACK, "Max stack size"],
  ["memlock", Rlimit.MEMLOCK, "Max locked memory"],
  ["as", Rlimit.AS, "Max address space"],
] as const;

/** The rows vmlab models, from the task's signal->rlim (its process's: threads share them). */
export function limitsInfo(t: Task): LimitInfo[] {
  return ROWS.map(([resource, r, name]) => ({
    resource,
    name,
    soft: t.rlim.cur[r],
    hard: t.rlim.max[r],
    units: "bytes",
  }));
}

/**
 * The text of /proc/PID/limits: "%-25s %-20s %-20s %-10s\n" per row after
 * the header, "unlimited" for RLIM_INFINITY (the trailing blanks are the
 * kernel's). Linux: fs/proc/base.c proc_pid_limits
 */
export function formatLimits(rows: readonly LimitInfo[]): string[] {
  const v = (n: number) => (n === Number.POSITIVE_INFINITY ? "unlimited" : String(n));
  return [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    ...rows.map(
      (r) => `${r.name.padEnd(25)} ${v(r.soft).padEnd(20)} ${v(r.hard).padEnd(20)} ${r.units.padEnd(10)}`,
    ),
  ];
}
