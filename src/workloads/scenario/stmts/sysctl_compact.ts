/**
 * `[VAR =] sysctl compact_memory=1`: writes /proc/sys/vm/compact_memory, which compacts every
 * zone whole (sysctl_compaction_handler -> compact_nodes; kernel/mm/compaction.ts) and prints
 * what moved and the free blocks per order after it (/proc/buddyinfo's counts summed over the
 * zones); VAR holds 0, or -22 EINVAL for a value other than 1 (nothing done). An extension of
 * scenario language 1.2 (docs/kernel-memory.md, "Compaction").
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";
import { sysctlKnobs } from "./sysctl_knobs.ts";

export const COMPACT_SYSCTL_KEYS = ["compact_memory"] as const;

export function sysctlCompact(c: CompileContext, s: Stmt): Run {
  const knobs = sysctlKnobs(c, s, COMPACT_SYSCTL_KEYS, (_key, v) =>
    v < 0n || v > 2n ** 31n - 1n ? "0 to 2^31 - 1" : null,
  );
  return (rt) => {
    const w = knobs.read(rt);
    const { ret, migrated, failed } = rt.kernel.sysctlCompactMemory(w.compact_memory ?? 1);
    if (ret < 0) {
      c.assign(s, rt, BigInt(ret), "(EINVAL: compact_memory takes 1)");
      return;
    }
    const free = new Array<number>(11).fill(0);
    for (const z of rt.view.buddyinfo())
      z.freeBlocks.forEach((n, o) => {
        free[o] += n;
      });
    c.assign(
      s,
      rt,
      0n,
      `(${migrated} page${migrated === 1 ? "" : "s"} migrated, ${failed} failed; free blocks by order ${free.join(" ")})`,
    );
  };
}
