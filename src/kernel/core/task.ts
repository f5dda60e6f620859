import type { MmStruct } from "../mm/MmStruct.ts";

/**
 * A task (Linux: struct task_struct), as far as the memory model needs it.
 * Kernel threads have no user address space (mm = null) and run on
 * whatever page tables are loaded (lazy TLB mode).
 */
export class Task {
  alive = true;
  /** why it died: "oops", "SIGSEGV", "exit", ... */
  exitReason = "";
  mm: MmStruct | null = null;
  /** faults resolved without I/O / with I/O, counted from spawn or fork (like /proc/PID/stat) */
  minFlt = 0;
  majFlt = 0;
  /** chosen by the OOM killer while it was allocating: its fault ends in SIGKILL */
  oomKilled = false;
  /** the last signal delivered, with its si_code and si_addr */
  signal = "none";
  siCode = "none";
  siAddr = 0n;
  /** signals with a handler (`P: catch SIGSEGV`) */
  readonly caught = new Set<string>();
  /** RLIMIT_STACK, bytes */
  rlimitStack = 8 << 20;

  constructor(
    readonly pid: number,
    readonly comm: string,
    readonly kthread: boolean,
    public uid = 0,
  ) {}
}
