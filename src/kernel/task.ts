/**
 * A task (Linux: struct task_struct), as far as the memory model needs it.
 * Kernel threads have no user address space (mm = null) and run on the
 * kernel's page tables (init_mm).
 */
export class Task {
  alive = true;
  /** why it died: "oops", "SIGSEGV", ... */
  exitReason = "";

  constructor(
    readonly pid: number,
    readonly comm: string,
    readonly kthread: boolean,
    public uid = 0,
  ) {}
}
