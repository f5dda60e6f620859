/**
 * The Windows profile's VirtualLock, VirtualUnlock, GetWriteWatch and
 * ResetWriteWatch (vmlab extensions of the 1.2 Windows forms;
 * docs/windows.md "Locked pages, MEM_RESET, write watching"). Each prints
 * its return value and, on failure, GetLastError's code by name.
 */
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, processOf, type Run } from "../runtime/context.ts";
import { errorName, windowsOnly } from "./windows.ts";

/** `P: [VAR =] VirtualLock ADDR SIZE`, `P: [VAR =] VirtualUnlock ADDR SIZE`: VAR is 1 (TRUE) or 0 (FALSE). */
export function virtualLock(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const [addr, size] = c.args(s, 2, 2, "an address and a size");
  c.define(s);
  const lock = s.verb === "VirtualLock";
  return (rt) => {
    const w = windowsOnly(c, rt, s.verb, s.verbPos);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const a = c.value(addr, rt, "the address");
    const n = c.value(size, rt, "the size");
    const ok = lock ? rt.kernel.virtualLock(t, a, n) : rt.kernel.virtualUnlock(t, a, n);
    const p = w.process(t)!;
    c.assign(
      s,
      rt,
      ok ? 1n : 0n,
      ok
        ? `(${lock ? "locked" : "unlocked"}; ${p.locked} pages locked, working set ${p.workingSet} pages)`
        : `(FALSE: GetLastError ${errorName(p.lastError)}; ${p.locked} pages locked, working set ${p.workingSet} pages)`,
    );
  };
}

/**
 * `P: [VAR =] GetWriteWatch ADDR SIZE [reset] [count=N]`: the pages of
 * the range written since the allocation or the last reset (`reset`:
 * WRITE_WATCH_FLAG_RESET), at most N (lpdwCount on input; default: the
 * pages of the range). VAR is the count returned (lpdwCount on output), or
 * 0 when the call fails (GetLastError in `P.last_error`).
 */
export function getWriteWatch(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["count"]);
  const args = argWords(s);
  const usage = "GetWriteWatch ADDR SIZE [reset] [count=N]";
  if (args.length < 2 || args.length > 3) c.fail(usage, args[0]?.pos ?? s.verbPos);
  const reset = args.length === 3;
  if (reset && args[2].ident !== "reset")
    c.fail(`expected 'reset', not '${args[2].ident ?? "?"}'`, args[2].pos);
  const [addr, size] = c.exprArgs(args.slice(0, 2));
  const countW = o.get("count");
  if (countW && countW.value === null) c.fail("count= needs a number", countW.valuePos);
  if (countW?.value) c.useVars(countW.value);
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, "GetWriteWatch", s.verbPos);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const a = c.value(addr, rt, "the address");
    const n = c.value(size, rt, "the size");
    const max = countW ? c.value(countW.value!, rt, "count=") : (n + 4095n) / 4096n;
    const pages = rt.kernel.getWriteWatch(t, a, n, reset, Number(max));
    if (pages === null) {
      c.assign(s, rt, 0n, `(failed: 0xFFFFFFFF, GetLastError ${errorName(w.process(t)!.lastError)})`);
      return;
    }
    c.assign(
      s,
      rt,
      BigInt(pages.length),
      `(${pages.length} page${pages.length === 1 ? "" : "s"} written${reset ? ", write tracking reset" : ""}; granularity 4096)`,
    );
    if (pages.length > 0) rt.out.push(pages.map((v) => `0x${v.toString(16)}`).join(" "));
  };
}

/** `P: [VAR =] ResetWriteWatch ADDR SIZE`: VAR is what it returns, 0 (success) or 0xFFFFFFFF. */
export function resetWriteWatch(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const [addr, size] = c.args(s, 2, 2, "an address and a size");
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, "ResetWriteWatch", s.verbPos);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const ok = rt.kernel.resetWriteWatch(t, c.value(addr, rt, "the address"), c.value(size, rt, "the size"));
    c.assign(
      s,
      rt,
      ok ? 0n : 0xffff_ffffn,
      ok ? "(write tracking reset)" : `(failed: GetLastError ${errorName(w.process(t)!.lastError)})`,
    );
  };
}
