/**
 * `[VAR =] sysctl panic_on_oom=N [oom_kill_allocating_task=N] [oom_dump_tasks=N]`: writes
 * /proc/sys/vm's OOM-killer knobs (mm/oom_kill.c's vm_oom_kill_table; kernel/core/oom.ts), in
 * that order, and prints them all; VAR holds the first key's value as read back, or -22 EINVAL
 * (panic_on_oom outside 0 .. 2: it and those after it unwritten). panic_on_oom 1 panics at an
 * OOM of the whole machine, 2 at a memory limit's too; oom_kill_allocating_task (not 0) kills
 * the allocating task instead of choosing; oom_dump_tasks 0 leaves the task table out of the
 * report. An extension of scenario language 1.2 (docs/swap.md).
 */
import type { OomSysctls } from "../../../kernel/Kernel.ts";
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";
import { sysctlKnobs } from "./sysctl_knobs.ts";

export const OOM_SYSCTL_KEYS = ["panic_on_oom", "oom_kill_allocating_task", "oom_dump_tasks"] as const;

export function sysctlOom(c: CompileContext, s: Stmt): Run {
  // an int's range (proc_dointvec); panic_on_oom's 0 .. 2 is the kernel's EINVAL
  const knobs = sysctlKnobs(c, s, OOM_SYSCTL_KEYS, (_key, v) =>
    v < -(2n ** 31n) || v > 2n ** 31n - 1n ? "-2^31 to 2^31 - 1" : null,
  );
  return (rt) => {
    const w: Partial<OomSysctls> = knobs.read(rt);
    const { ret, now } = rt.kernel.sysctlOom(w);
    const all = OOM_SYSCTL_KEYS.map((k) => `${k} ${now[k]}`).join(", ");
    if (ret < 0) {
      c.assign(s, rt, BigInt(ret), `(EINVAL: panic_on_oom is 0 .. 2; ${all})`);
      return;
    }
    c.assign(s, rt, BigInt(now[knobs.first]), `(${all})`);
  };
}
