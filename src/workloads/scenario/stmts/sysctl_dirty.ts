/**
 * `[VAR =] sysctl dirty_background_ratio=N [dirty_background_bytes=N] [dirty_ratio=N]
 * [dirty_bytes=N]`: writes /proc/sys/vm's dirty-memory knobs (balance_dirty_pages' limits,
 * kernel/mm/page_writeback.ts), in that order, then prints them all with /proc/vmstat's
 * nr_dirty_threshold and nr_dirty_background_threshold; VAR holds the first key's value as read
 * back, or -errno when a write was refused: -22 EINVAL (a ratio above 100, dirty_background_bytes
 * 0, dirty_bytes below two pages), -34 ERANGE (bytes above 2^32 - 1 pages), that knob and those
 * after it unwritten. Writing a ratio zeroes its bytes and the other way round, as Linux's
 * handlers do. An extension of scenario language 1.2 (docs/files.md).
 */
import type { DirtySysctls } from "../../../kernel/Kernel.ts";
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";
import { sysctlKnobs } from "./sysctl_knobs.ts";

/** The keys, in the order they are written (DIRTY_KEYS). */
export const DIRTY_SYSCTL_KEYS = [
  "dirty_background_ratio",
  "dirty_background_bytes",
  "dirty_ratio",
  "dirty_bytes",
] as const;

export function sysctlDirty(c: CompileContext, s: Stmt): Run {
  // the kernel refuses what Linux's handlers refuse (-errno in VAR); here only what no knob holds
  const knobs = sysctlKnobs(c, s, DIRTY_SYSCTL_KEYS, (_key, v) =>
    v < 0n || v > 2n ** 53n ? "0 to 2^53" : null,
  );
  return (rt) => {
    const w: Partial<DirtySysctls> = knobs.read(rt);
    const { ret, now } = rt.kernel.sysctlDirty(w);
    const v = rt.view.vmstat();
    const all = DIRTY_SYSCTL_KEYS.map((k) => `${k} ${now[k]}`).join(", ");
    const limits = `nr_dirty_threshold ${v.nr_dirty_threshold}, nr_dirty_background_threshold ${v.nr_dirty_background_threshold}`;
    if (ret < 0) {
      c.assign(s, rt, BigInt(ret), `(${ret === -34 ? "ERANGE" : "EINVAL"}; ${all}; ${limits})`);
      return;
    }
    c.assign(s, rt, BigInt(now[knobs.first]), `(${all}; ${limits})`);
  };
}
