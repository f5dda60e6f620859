/**
 * `[VAR =] sysctl nr_hugepages=N [nr_overcommit_hugepages=N]`: writes to
 * /proc/sys/vm/nr_hugepages and /proc/sys/vm/nr_overcommit_hugepages (the
 * HugeTLB pool of the default huge page size, mm/hugetlb.ts). Prints the
 * pool as /proc/meminfo then shows it; VAR holds nr_hugepages as read back
 * after the write (fewer than N when the buddy allocator had no more free
 * blocks of the huge page size, as Linux leaves it). docs/hugetlb.md.
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";
import { OVERCOMMIT_KEYS, sysctlVm } from "./sysctl_vm.ts";

export function sysctl(c: CompileContext, s: Stmt): Run {
  // the overcommit knobs (sysctl_vm.ts); a statement sets those or the huge page pool, not both
  if (s.words.some((w) => w.kind === "kv" && (OVERCOMMIT_KEYS as readonly string[]).includes(w.key)))
    return sysctlVm(c, s);
  const o = c.opts(s, ["nr_hugepages", "nr_overcommit_hugepages"]);
  c.args(s, 0, 0, "only key=value settings (nr_hugepages=N, nr_overcommit_hugepages=N)");
  if (o.size === 0)
    c.fail(
      "sysctl needs nr_hugepages=N or nr_overcommit_hugepages=N, or overcommit_memory=, overcommit_ratio=, overcommit_kbytes=, admin_reserve_kbytes=, user_reserve_kbytes=",
      s.verbPos,
    );
  for (const w of o.values()) if (w.value) c.useVars(w.value);
  c.define(s);
  return (rt) => {
    if (rt.view.windows() !== null) c.fail("'sysctl' is Linux's /proc/sys/vm", s.verbPos);
    const nr = c.numOpt(o.get("nr_hugepages"), rt);
    const over = c.numOpt(o.get("nr_overcommit_hugepages"), rt);
    if ((nr ?? 0) > 1 << 30 || (over ?? 0) > 1 << 30)
      c.fail("sysctl: more huge pages than any machine holds", s.verbPos);
    const now = rt.kernel.sysctlHugepages(nr, over);
    const m = rt.view.meminfo();
    c.assign(
      s,
      rt,
      BigInt(now),
      `(nr_hugepages ${now}${nr !== null && now !== nr ? `, not ${nr}: no more free blocks of the huge page size` : ""}; HugePages_Total ${m.HugePages_Total}, HugePages_Free ${m.HugePages_Free}, HugePages_Rsvd ${m.HugePages_Rsvd}, HugePages_Surp ${m.HugePages_Surp})`,
    );
  };
}
