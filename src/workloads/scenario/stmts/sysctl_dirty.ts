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

/** The keys, in the order they are written (DIRTY_KEYS). */
export const DIRTY_SYSCTL_KEYS = [
  "dirty_background_ratio",
  "dirty_background_bytes",
  "dirty_ratio",
  "dirty_bytes",
] as const;

export function sysctlDirty(c: CompileContext, s: Stmt): Run {
  const o = c.opts(s, [...DIRTY_SYSCTL_KEYS]);
  c.args(s, 0, 0, `only key=value settings (${DIRTY_SYSCTL_KEYS.map((k) => `${k}=N`).join(", ")})`);
  for (const w of o.values()) if (w.value) c.useVars(w.value);
  const first = DIRTY_SYSCTL_KEYS.find((k) => o.has(k))!;
  c.define(s);
  return (rt) => {
    if (rt.view.windows() !== null) c.fail("'sysctl' is Linux's /proc/sys/vm", s.verbPos);
    const w: Partial<DirtySysctls> = {};
    for (const key of DIRTY_SYSCTL_KEYS) {
      const kv = o.get(key);
      if (kv === undefined) continue;
      if (!kv.value || (kv.value.base !== null && !rt.vars.has(kv.value.base)))
        c.fail(`${key}= needs a number`, kv.valuePos);
      const v = c.value(kv.value, rt, key);
      if (v < 0n || v > 2n ** 53n) c.fail(`${key}=${v}: 0 to 2^53`, kv.valuePos);
      w[key] = Number(v);
    }
    const { ret, now } = rt.kernel.sysctlDirty(w);
    const v = rt.view.vmstat();
    const knobs = DIRTY_SYSCTL_KEYS.map((k) => `${k} ${now[k]}`).join(", ");
    const limits = `nr_dirty_threshold ${v.nr_dirty_threshold}, nr_dirty_background_threshold ${v.nr_dirty_background_threshold}`;
    if (ret < 0) {
      c.assign(s, rt, BigInt(ret), `(${ret === -34 ? "ERANGE" : "EINVAL"}; ${knobs}; ${limits})`);
      return;
    }
    c.assign(s, rt, BigInt(now[first]), `(${knobs}; ${limits})`);
  };
}
