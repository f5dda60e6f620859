/**
 * The Windows profile's large pages (vmlab extensions of the 1.2 Windows
 * forms; docs/windows.md "Large pages"): AdjustTokenPrivileges of
 * SeLockMemoryPrivilege and GetLargePageMinimum. VirtualAlloc's
 * `large_pages` word is MEM_LARGE_PAGES (windows.ts).
 */
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, processOf, type Run } from "../runtime/context.ts";
import { windowsOnly } from "./windows.ts";

/**
 * `P: AdjustTokenPrivileges SeLockMemoryPrivilege [disable]`: the privilege
 * enabled (SE_PRIVILEGE_ENABLED) or disabled in P's process token; the
 * account is taken to hold "Lock pages in memory".
 */
export function adjustTokenPrivileges(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  const usage = "AdjustTokenPrivileges SeLockMemoryPrivilege [disable]";
  if (args.length < 1 || args.length > 2) c.fail(usage, args[0]?.pos ?? s.verbPos);
  if (args[0].ident !== "SeLockMemoryPrivilege")
    c.fail(`only SeLockMemoryPrivilege is modelled, not '${args[0].ident ?? "?"}'`, args[0].pos);
  if (args.length === 2 && args[1].ident !== "disable")
    c.fail(`expected 'disable', not '${args[1].ident ?? "?"}'`, args[1].pos);
  const enable = args.length === 1;
  c.define(s);
  return (rt) => {
    windowsOnly(c, rt, s.verb, s.verbPos);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    rt.kernel.setLockMemoryPrivilege(t, enable);
    c.assign(s, rt, 1n, `(SeLockMemoryPrivilege ${enable ? "enabled" : "disabled"})`);
  };
}

/** `P: VAR = GetLargePageMinimum`: the large page's size in bytes (0x200000 on x64 and PAE, 0x400000 on x86). */
export function getLargePageMinimum(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  if (args.length > 0) c.fail("GetLargePageMinimum takes no argument", args[0].pos);
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, s.verb, s.verbPos);
    c.liveProc(rt, name, pos);
    const n = w.largePageMinimum();
    c.assign(s, rt, n, `(GetLargePageMinimum: ${n / 1024n}K)`);
  };
}
