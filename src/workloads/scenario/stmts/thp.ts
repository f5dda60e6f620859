/**
 * `thp shmem_enabled=MODE [size=SIZE]` (extension): writes MODE (always,
 * within_size, advise, never, deny, force) to
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled: huge pages for memfds,
 * shared anonymous memory and SysV shm (shm_mnt), and with deny or force for
 * every tmpfs mount whatever its huge= (mm/shmem_huge.ts). With `size=` it
 * writes MODE (always, inherit, within_size, advise, never) to that size's
 * hugepages-<SIZE>kB/shmem_enabled instead, the per-size knob of shared
 * anonymous memory (Linux 6.11+: 8K to the PMD size, THP_ORDERS_ALL_FILE_DEFAULT;
 * mm/shmem_anon_huge.ts). `show thp` prints them once they differ from boot.
 * Linux: mm/shmem.c shmem_enabled_store, thpsize_shmem_enabled_store
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";

const MODES = ["always", "within_size", "advise", "never", "deny", "force"];
const SIZE_MODES = ["always", "inherit", "within_size", "advise", "never"];
const USAGE =
  "thp shmem_enabled=MODE [size=SIZE] (always, within_size, advise, never, deny, force; with size= inherit)";

export function thp(c: CompileContext, s: Stmt): Run {
  c.noTarget(s);
  const o = c.opts(s, ["shmem_enabled", "size"]);
  c.args(s, 0, 0, USAGE);
  const w = o.get("shmem_enabled");
  if (w === undefined) c.fail(USAGE, s.verbPos);
  const size = o.get("size");
  if (size !== undefined) {
    if (w.ident === null || !SIZE_MODES.includes(w.ident))
      c.fail("hugepages-<size>kB/shmem_enabled is always, inherit, within_size, advise or never", w.valuePos);
    const mode = w.ident;
    return (rt) => {
      c.needThp(s, rt);
      const bytes = c.numOpt(size, rt)!;
      const kb = bytes / 1024;
      const r = rt.kernel.shmemSizeEnabledSet(kb, mode);
      if (r === "size")
        c.fail(
          `size=${bytes}: no hugepages-${kb}kB/shmem_enabled (shmem folio sizes are 8K to the PMD size)`,
          size.valuePos,
        );
      if (r === "mode") c.fail(`hugepages-${kb}kB/shmem_enabled: -EINVAL for '${mode}'`, w.valuePos);
      rt.out.push(`thp: hugepages-${kb}kB/shmem_enabled = ${mode}`);
    };
  }
  if (w.ident === null || !MODES.includes(w.ident))
    c.fail("shmem_enabled= is always, within_size, advise, never, deny or force", w.valuePos);
  const mode = w.ident;
  return (rt) => {
    c.needThp(s, rt);
    if (!rt.kernel.shmemEnabledSet(mode)) c.fail(`shmem_enabled: -EINVAL for '${mode}'`, w.valuePos);
    rt.out.push(`thp: shmem_enabled = ${mode}`);
  };
}
