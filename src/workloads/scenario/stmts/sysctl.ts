/**
 * `[VAR =] sysctl nr_hugepages=N [nr_overcommit_hugepages=N] [size=HUGESIZE]`:
 * writes to /proc/sys/vm/nr_hugepages and /proc/sys/vm/nr_overcommit_hugepages
 * (the HugeTLB pool of the default huge page size, mm/hugetlb.ts), or with
 * size= to that size's /sys/kernel/mm/hugepages/hugepages-<kB>kB/ files.
 * Prints the pool as /proc/meminfo then shows it (a size's own counts for
 * size=); VAR holds nr_hugepages as read back after the write (fewer than N
 * when the buddy allocator had no more free blocks, or 1 GiB ranges, of
 * the huge page size, as Linux leaves it), or -errno: -2 ENOENT (no pool
 * of that size), -22 EINVAL (nr_overcommit_hugepages of a gigantic size).
 * docs/hugetlb.md.
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";
import { ABI_SYSCTL_KEYS, sysctlAbi } from "./sysctl_abi.ts";
import { COMPACT_SYSCTL_KEYS, sysctlCompact } from "./sysctl_compact.ts";
import { DIRTY_SYSCTL_KEYS, sysctlDirty } from "./sysctl_dirty.ts";
import { MAX_MAP_COUNT_SYSCTL_KEYS, sysctlMaxMapCount } from "./sysctl_maxmap.ts";
import { OOM_SYSCTL_KEYS, sysctlOom } from "./sysctl_oom.ts";
import { SWAPPINESS_SYSCTL_KEYS, sysctlSwappiness } from "./sysctl_swappiness.ts";
import { OVERCOMMIT_KEYS, sysctlVm } from "./sysctl_vm.ts";

export function sysctl(c: CompileContext, s: Stmt): Run {
  // the overcommit knobs (sysctl_vm.ts); a statement sets those or the huge page pool, not both
  if (s.words.some((w) => w.kind === "kv" && (OVERCOMMIT_KEYS as readonly string[]).includes(w.key)))
    return sysctlVm(c, s);
  // the dirty-memory knobs (sysctl_dirty.ts)
  if (s.words.some((w) => w.kind === "kv" && (DIRTY_SYSCTL_KEYS as readonly string[]).includes(w.key)))
    return sysctlDirty(c, s);
  // vm.compact_memory (sysctl_compact.ts)
  if (s.words.some((w) => w.kind === "kv" && (COMPACT_SYSCTL_KEYS as readonly string[]).includes(w.key)))
    return sysctlCompact(c, s);
  // vm.max_map_count (sysctl_maxmap.ts)
  if (
    s.words.some((w) => w.kind === "kv" && (MAX_MAP_COUNT_SYSCTL_KEYS as readonly string[]).includes(w.key))
  )
    return sysctlMaxMapCount(c, s);
  // vm.panic_on_oom, oom_kill_allocating_task, oom_dump_tasks (sysctl_oom.ts)
  if (s.words.some((w) => w.kind === "kv" && (OOM_SYSCTL_KEYS as readonly string[]).includes(w.key)))
    return sysctlOom(c, s);
  // abi.tagged_addr_disabled (sysctl_abi.ts, arm64)
  if (s.words.some((w) => w.kind === "kv" && (ABI_SYSCTL_KEYS as readonly string[]).includes(w.key)))
    return sysctlAbi(c, s);
  // vm.swappiness (sysctl_swappiness.ts)
  if (s.words.some((w) => w.kind === "kv" && (SWAPPINESS_SYSCTL_KEYS as readonly string[]).includes(w.key)))
    return sysctlSwappiness(c, s);
  const o = c.opts(s, ["nr_hugepages", "nr_overcommit_hugepages", "size"]);
  c.args(s, 0, 0, "only key=value settings (nr_hugepages=N, nr_overcommit_hugepages=N)");
  if (o.size === (o.has("size") ? 1 : 0))
    c.fail(
      "sysctl needs nr_hugepages=N or nr_overcommit_hugepages=N, or overcommit_memory=, overcommit_ratio=, overcommit_kbytes=, admin_reserve_kbytes=, user_reserve_kbytes=, or dirty_background_ratio=, dirty_background_bytes=, dirty_ratio=, dirty_bytes=, or swappiness=, or max_map_count=, or compact_memory=1, or abi.tagged_addr_disabled=",
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
    const size = c.numOpt(o.get("size"), rt);
    if (size !== null) {
      const now = rt.kernel.sysctlHugepages(nr, over, Math.floor(size / 1024));
      if (now < 0) {
        c.assign(s, rt, BigInt(now), now === -2 ? "(ENOENT: no pool of that huge page size)" : "(EINVAL)");
        return;
      }
      const h = rt.view.hugepages();
      const dir = `/sys/kernel/mm/hugepages/hugepages-${Math.floor(size / 1024)}kB`;
      const got = (f: string) => h[`${dir}/${f}`];
      c.assign(
        s,
        rt,
        BigInt(now),
        `(nr_hugepages ${now}${nr !== null && now !== nr ? `, not ${nr}: no more free ranges of the huge page size` : ""}; free ${got("free_hugepages")}, resv ${got("resv_hugepages")}, surplus ${got("surplus_hugepages")})`,
      );
      return;
    }
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
