/**
 * `thp shmem_enabled=MODE` (extension): writes MODE (always, within_size,
 * advise, never, deny, force) to /sys/kernel/mm/transparent_hugepage/shmem_enabled:
 * huge pages for memfds (shm_mnt), and with deny or force for every tmpfs
 * mount whatever its huge= (mm/shmem_huge.ts). `show thp` prints it once it
 * is not never. Linux: mm/shmem.c shmem_enabled_store
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";

const MODES = ["always", "within_size", "advise", "never", "deny", "force"];

export function thp(c: CompileContext, s: Stmt): Run {
  c.noTarget(s);
  const o = c.opts(s, ["shmem_enabled"]);
  c.args(s, 0, 0, "thp shmem_enabled=MODE (always, within_size, advise, never, deny, force)");
  const w = o.get("shmem_enabled");
  if (w === undefined)
    c.fail("thp shmem_enabled=MODE (always, within_size, advise, never, deny, force)", s.verbPos);
  if (w.ident === null || !MODES.includes(w.ident))
    c.fail("shmem_enabled= is always, within_size, advise, never, deny or force", w.valuePos);
  const mode = w.ident;
  return (rt) => {
    if (!rt.kernel.shmemEnabledSet(mode)) c.fail(`shmem_enabled: -EINVAL for '${mode}'`, w.valuePos);
    rt.out.push(`thp: shmem_enabled = ${mode}`);
  };
}
