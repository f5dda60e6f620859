/**
 * The Windows profile's memory priorities (vmlab extensions of the 1.2
 * Windows forms; docs/windows.md "Page priority"):
 * SetProcessInformation(ProcessMemoryPriority) and
 * SetThreadInformation(ThreadMemoryPriority) with a
 * MEMORY_PRIORITY_INFORMATION. Each prints its return value and, on
 * failure, GetLastError's code by name.
 */
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, processOf, type Run } from "../runtime/context.ts";
import { boolResult, windowsOnly } from "./windows.ts";

/** MEMORY_PRIORITY_* (processthreadsapi.h; MEMORY_PRIORITY_LOWEST 0 is the SDK's winnt.h/ntpsapi.h). */
const PRIORITIES: Record<string, number> = {
  MEMORY_PRIORITY_LOWEST: 0,
  MEMORY_PRIORITY_VERY_LOW: 1,
  MEMORY_PRIORITY_LOW: 2,
  MEMORY_PRIORITY_MEDIUM: 3,
  MEMORY_PRIORITY_BELOW_NORMAL: 4,
  MEMORY_PRIORITY_NORMAL: 5,
};

/**
 * `P: [VAR =] SetProcessInformation ProcessMemoryPriority PRIORITY`,
 * `T: [VAR =] SetThreadInformation ThreadMemoryPriority PRIORITY`: PRIORITY
 * a number or a MEMORY_PRIORITY_* name; VAR is 1 (TRUE) or 0 (FALSE).
 */
export function setMemoryPriority(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const thread = s.verb === "SetThreadInformation";
  const cls = thread ? "ThreadMemoryPriority" : "ProcessMemoryPriority";
  const args = argWords(s);
  if (args.length !== 2) c.fail(`${s.verb} ${cls} PRIORITY`, args[0]?.pos ?? s.verbPos);
  if (args[0].ident !== cls)
    c.fail(`${s.verb}: only ${cls} is modelled, not '${args[0].ident ?? "?"}'`, args[0].pos);
  const ident = args[1].ident ?? "";
  const named = ident.startsWith("MEMORY_PRIORITY_") ? PRIORITIES[ident] : undefined;
  if (ident.startsWith("MEMORY_PRIORITY_") && named === undefined)
    c.fail(`unknown memory priority '${ident}'`, args[1].pos);
  const expr = named === undefined ? c.exprArgs(args.slice(1))[0] : null;
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, s.verb, s.verbPos);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const prio = named ?? Number(c.value(expr!, rt, "the priority"));
    const err = rt.kernel.setMemoryPriority(t, thread, prio);
    const p = w.process(t)!;
    boolResult(
      c,
      s,
      rt,
      err === 0,
      err,
      `(${thread ? "thread" : "process"} memory priority ${prio}; the process's ${p.memoryPriority})`,
    );
  };
}
