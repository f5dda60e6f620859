/**
 * `[VAR =] sysctl swappiness=N`: writes /proc/sys/vm/swappiness (vm_swappiness, 0 .. 200:
 * how reclaim's get_scan_count weighs anonymous pages against the page cache,
 * kernel/mm/vmscan_balance.ts) and prints it; VAR holds the value as read back, or -22 EINVAL
 * (above 200: proc_dointvec_minmax refuses it, the knob unwritten). The machine key
 * `swappiness=` sets it at boot. An extension of scenario language 1.2 (docs/swap.md).
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";
import { sysctlKnobs } from "./sysctl_knobs.ts";

export const SWAPPINESS_SYSCTL_KEYS = ["swappiness"] as const;

export function sysctlSwappiness(c: CompileContext, s: Stmt): Run {
  // a negative value or one past what an int holds is refused at its column; 201 .. 2^31 - 1 is the kernel's EINVAL
  const knobs = sysctlKnobs(c, s, SWAPPINESS_SYSCTL_KEYS, (_key, v) =>
    v < 0n || v > 2n ** 31n - 1n ? "0 to 2^31 - 1" : null,
  );
  return (rt) => {
    const w = knobs.read(rt);
    const { ret, now } = rt.kernel.sysctlSwappiness(w.swappiness);
    if (ret < 0) {
      c.assign(s, rt, BigInt(ret), `(EINVAL: swappiness is 0 .. 200; swappiness ${now})`);
      return;
    }
    c.assign(s, rt, BigInt(now), `(swappiness ${now})`);
  };
}
