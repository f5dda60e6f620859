/** `P: [VAR =] coredump [filter=MASK]` (extension): P's core dump by vma_dump_size and get_dump_page. */
import { DEFAULT_COREDUMP_FILTER } from "../../../kernel/Kernel.ts";
import type { Stmt } from "../lang/ast.ts";
import { type CompileContext, processOf, type Run } from "../runtime/context.ts";

export function coredump(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["filter"]);
  c.args(s, 0, 0, "no positional arguments ([filter=N])");
  const fw = o.get("filter");
  if (fw?.value) c.useVars(fw.value);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const filter = fw ? c.numOpt(fw, rt)! : DEFAULT_COREDUMP_FILTER;
    if (filter < 0 || filter > 0x1ff) c.fail("filter= is a coredump_filter mask, 0 .. 0x1ff", fw!.valuePos);
    const d = rt.kernel.coreDump(t, filter);
    const hex = (v: bigint) => v.toString(16).padStart(12, "0");
    const lines = d.segments.map(
      (g) =>
        `  ${hex(g.start)}-${hex(g.end)} ${g.perms} ${`${g.dumpBytes / 1024}K`.padStart(8)} dumped, ${String(g.pagesWritten).padStart(4)} written ${String(g.holes).padStart(4)} holes  ${g.why}${g.name ? `  ${g.name}` : ""}`,
    );
    c.assign(
      s,
      rt,
      BigInt(d.bytes),
      `(core of ${t.comm}, coredump_filter 0x${filter.toString(16)}: ${d.segments.length} segments, ${d.bytes / 1024} KiB of memory, ${d.pagesWritten} pages written, ${d.faults} page fault${d.faults === 1 ? "" : "s"} taken)`,
    );
    rt.out.push(...lines);
  };
}
