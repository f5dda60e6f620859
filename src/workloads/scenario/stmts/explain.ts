/**
 * `explain P ADDR [read|write|exec]`: the TLB lookup, each level's entry,
 * the rights check, and what the fault handler would do; changes nothing.
 * `explain kernel ADDR [read|write|exec] [cpu=N]` (a vmlab extension): the
 * same for a plain kernel access on CPU N (default 0) as it stands.
 */
import { Access } from "../../../hw/access.ts";
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";

export function explain(c: CompileContext, s: Stmt): Run {
  const w = s.words[0];
  if (w?.kind !== "arg" || w.ident === null) c.fail("explain P ADDR [read|write|exec]", w?.pos ?? s.verbPos);
  const name = w.ident;
  const kernel = name === "kernel";
  if (!kernel && !c.procs.has(name)) c.fail(`process '${name}' does not exist`, w.pos);
  const cpuW = c.opts(s, kernel ? ["cpu"] : []).get("cpu");
  if (cpuW?.value) c.useVars(cpuW.value);
  const args = s.words.slice(1).filter((x) => x.kind !== "kv");
  const a = args[0];
  if (a?.kind !== "arg" || a.expr === null) c.fail("explain needs an address", a?.pos ?? s.verbPos);
  c.useVars(a.expr);
  const accW = args[1];
  let access = Access.Read;
  if (accW) {
    if (accW.kind !== "arg" || !["read", "write", "exec"].includes(accW.ident ?? ""))
      c.fail("the access is read, write or exec", accW.pos);
    access = accW.ident === "write" ? Access.Write : accW.ident === "exec" ? Access.Exec : Access.Read;
  }
  if (args.length > 2)
    c.fail(
      kernel ? "explain kernel ADDR [read|write|exec] [cpu=N]" : "explain P ADDR [read|write|exec]",
      args[2].pos,
    );
  const addrExpr = a.expr;
  return (rt) => {
    if (kernel) {
      const cpuId = c.numOpt(cpuW, rt) ?? 0;
      const n = rt.view.machine().cpus;
      if (cpuId >= n) c.fail(`CPU ${cpuId} does not exist (the machine has ${n})`, cpuW!.valuePos);
      rt.out.push(...rt.view.explainKernel(cpuId, c.value(addrExpr, rt, "the address"), access));
      return;
    }
    const t = rt.procs.get(name)!;
    rt.out.push(...rt.view.explain(t, c.value(addrExpr, rt, "the address"), access));
  };
}
