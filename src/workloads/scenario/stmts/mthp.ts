/**
 * `mthp SIZE MODE [SIZE MODE ...]` (extension): writes MODE (never, always,
 * madvise, inherit) to /sys/kernel/mm/transparent_hugepage/hugepages-<SIZE>kB/enabled,
 * the knob of anonymous multi-size THP (Linux 6.8+; mm/mthp.ts). SIZE is a
 * power of two from 16K to the PMD size (2M; 4M on i386 without PAE); the
 * sizes below the PMD size start at never, the PMD size at inherit (the
 * top-level `thp=`). Later write faults allocate folios of the enabled
 * sizes; `show thp` prints each size's counters.
 * Linux: mm/huge_memory.c thpsize_enabled_store
 */
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, type Run } from "../runtime/context.ts";

const MODES = ["never", "always", "madvise", "inherit"] as const;
type Mode = (typeof MODES)[number];

export function mthp(c: CompileContext, s: Stmt): Run {
  c.noTarget(s);
  c.opts(s, []);
  const a = argWords(s);
  if (a.length === 0 || a.length % 2 !== 0)
    c.fail("'mthp' needs SIZE MODE pairs (e.g. mthp 64K always)", a[a.length - 1]?.pos ?? s.verbPos);
  const pairs: { size: (typeof a)[number]; mode: Mode }[] = [];
  for (let i = 0; i < a.length; i += 2) {
    const size = a[i];
    const mode = a[i + 1];
    if (size.expr === null || size.expr.base !== null)
      c.fail(`expected a size (16K .. 2M), not '${size.ident}'`, size.pos);
    if (mode.ident === null || !(MODES as readonly string[]).includes(mode.ident))
      c.fail("the mode is one of never, always, madvise, inherit", mode.pos);
    pairs.push({ size, mode: mode.ident as Mode });
  }
  return (rt) => {
    c.needThp(s, rt);
    for (const { size, mode } of pairs) {
      const bytes = Number(size.expr!.offset);
      if (bytes % 1024 !== 0 || !rt.kernel.mthpSet(bytes / 1024, mode))
        c.fail(`no hugepages-<size>kB for ${bytes} bytes: a power of two from 16K to the PMD size`, size.pos);
      rt.out.push(`mthp: hugepages-${bytes / 1024}kB/enabled = ${mode}`);
    }
  };
}
