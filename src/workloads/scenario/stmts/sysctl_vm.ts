/**
 * `[VAR =] sysctl overcommit_memory=0|1|2 [overcommit_ratio=N]
 * [overcommit_kbytes=N] [admin_reserve_kbytes=N] [user_reserve_kbytes=N]`:
 * writes /proc/sys/vm's overcommit knobs (mm/util.ts, Linux mm/util.c), in
 * that order, then prints them all with /proc/meminfo's CommitLimit and
 * Committed_AS; VAR holds the first key's value as read back. Writing
 * overcommit_ratio zeroes overcommit_kbytes and the other way round, as
 * Linux's handlers do. An extension of scenario language 1.2 (docs/processes.md).
 */
import type { OvercommitSysctls } from "../../../kernel/Kernel.ts";
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";
import { sysctlKnobs } from "./sysctl_knobs.ts";

/** The keys, in the order they are written. */
export const OVERCOMMIT_KEYS = [
  "overcommit_memory",
  "overcommit_ratio",
  "overcommit_kbytes",
  "admin_reserve_kbytes",
  "user_reserve_kbytes",
] as const;

/** The largest value a key takes: overcommit_memory's 2 (proc_dointvec_minmax), an int, or kB below 2^50. */
const MAX: Record<(typeof OVERCOMMIT_KEYS)[number], number> = {
  overcommit_memory: 2,
  overcommit_ratio: 2 ** 31 - 1,
  overcommit_kbytes: 2 ** 50,
  admin_reserve_kbytes: 2 ** 50,
  user_reserve_kbytes: 2 ** 50,
};

export function sysctlVm(c: CompileContext, s: Stmt): Run {
  const knobs = sysctlKnobs(c, s, OVERCOMMIT_KEYS, (key, v) =>
    v < 0n || v > BigInt(MAX[key])
      ? `${key === "overcommit_memory" ? "0, 1 or 2" : `0 to ${MAX[key]}`} (EINVAL)`
      : null,
  );
  return (rt) => {
    const w: Partial<OvercommitSysctls> = knobs.read(rt);
    const now = rt.kernel.sysctlOvercommit(w);
    const m = rt.view.meminfo();
    c.assign(
      s,
      rt,
      BigInt(now[knobs.first]),
      `(${OVERCOMMIT_KEYS.map((k) => `${k} ${now[k]}`).join(", ")}; CommitLimit ${m.CommitLimit / 1024} kB, Committed_AS ${m.Committed_AS / 1024} kB)`,
    );
  };
}
