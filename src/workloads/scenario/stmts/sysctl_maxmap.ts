/**
 * `[VAR =] sysctl max_map_count=N`: writes /proc/sys/vm/max_map_count (sysctl_max_map_count,
 * default 65530: the VMAs an mm may hold; mm/map_count.ts) and prints it; VAR holds the value as
 * read back. A negative value or one past an int is refused at its column (proc_dointvec_minmax's
 * EINVAL). An extension of scenario language 1.2 (docs/processes.md).
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";
import { sysctlKnobs } from "./sysctl_knobs.ts";

export const MAX_MAP_COUNT_SYSCTL_KEYS = ["max_map_count"] as const;

export function sysctlMaxMapCount(c: CompileContext, s: Stmt): Run {
  const knobs = sysctlKnobs(c, s, MAX_MAP_COUNT_SYSCTL_KEYS, (_key, v) =>
    v < 0n || v > 2n ** 31n - 1n ? "0 to 2^31 - 1 (EINVAL)" : null,
  );
  return (rt) => {
    const w = knobs.read(rt);
    const { now } = rt.kernel.sysctlMaxMapCount(w.max_map_count);
    c.assign(s, rt, BigInt(now), `(max_map_count ${now})`);
  };
}
