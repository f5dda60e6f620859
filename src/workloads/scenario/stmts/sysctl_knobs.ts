/**
 * The part every `sysctl KEY=N ...` statement of /proc/sys/vm's numeric knobs shares
 * (sysctl_vm.ts's overcommit knobs, sysctl_dirty.ts's dirty limits): the key=value settings
 * checked at compile time, then at run time (Linux's files only) each value given read in the
 * keys' order and range-checked at its column.
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Runtime } from "../runtime/context.ts";

/** A statement's knobs: the first key given (in the keys' order), and its values read at run time. */
export interface SysctlKnobs<K extends string> {
  readonly first: K;
  /** the values given, each checked by `refuse` (a message: the value is refused at its column) */
  read(rt: Runtime): Partial<Record<K, number>>;
}

export function sysctlKnobs<K extends string>(
  c: CompileContext,
  s: Stmt,
  keys: readonly K[],
  refuse: (key: K, v: bigint) => string | null,
): SysctlKnobs<K> {
  const o = c.opts(s, [...keys]);
  c.args(s, 0, 0, `only key=value settings (${keys.map((k) => `${k}=N`).join(", ")})`);
  for (const w of o.values()) if (w.value) c.useVars(w.value);
  const first = keys.find((k) => o.has(k))!;
  c.define(s);
  return {
    first,
    read(rt) {
      if (rt.view.windows() !== null) c.fail("'sysctl' is Linux's /proc/sys/vm", s.verbPos);
      const w: Partial<Record<K, number>> = {};
      for (const key of keys) {
        const kv = o.get(key);
        if (kv === undefined) continue;
        if (!kv.value || (kv.value.base !== null && !rt.vars.has(kv.value.base)))
          c.fail(`${key}= needs a number`, kv.valuePos);
        const v = c.value(kv.value, rt, key);
        const why = refuse(key, v);
        if (why !== null) c.fail(`${key}=${v}: ${why}`, kv.valuePos);
        w[key] = Number(v);
      }
      return w;
    },
  };
}
