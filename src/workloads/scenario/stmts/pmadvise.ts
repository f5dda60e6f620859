/**
 * `P: VAR = syscall process_madvise Q ADDR SIZE [ADDR SIZE ...] ADVICE [flags=N]` (an
 * extension; docs/processes.md "process_madvise"): process_madvise(2) by P on Q's memory, one
 * iovec per ADDR SIZE pair, the advice by its name (cold, pageout, willneed, collapse; any other
 * is the kernel's -EINVAL). VAR is the bytes advised or -errno.
 */
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, processOf, type Run } from "../runtime/context.ts";
import { errnoName } from "../runtime/format.ts";

const USAGE = "syscall process_madvise Q ADDR SIZE [ADDR SIZE ...] ADVICE [flags=N]";

export function processMadviseStmt(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["flags"]);
  const args = argWords(s).slice(1);
  const qw = args[0];
  if (qw?.ident == null || !c.procs.has(qw.ident)) c.fail(`${USAGE}: Q is a process`, qw?.pos ?? s.verbPos);
  if (c.procs.get(qw.ident) !== "user") c.fail(`'${qw.ident}' has no user memory`, qw.pos);
  const adviceW = args[args.length - 1];
  const pairs = args.slice(1, -1);
  if (args.length < 2 || adviceW.ident === null || pairs.length % 2 !== 0)
    c.fail(`${USAGE}: ranges as ADDR SIZE pairs, the advice last`, (adviceW ?? qw).pos);
  const qname = qw.ident;
  const advice = adviceW.ident;
  const exprs = c.exprArgs(pairs);
  const flagsW = o.get("flags");
  if (flagsW?.value) c.useVars(flagsW.value);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    const q = c.liveProc(rt, qname, qw.pos);
    c.runOn(rt, t);
    const ranges = [];
    for (let i = 0; i < exprs.length; i += 2)
      ranges.push({ addr: c.value(exprs[i], rt, "the address"), len: c.value(exprs[i + 1], rt, "the size") });
    rt.kernel.takePageoutCount(); // from zero: what this call reclaims
    const r = rt.kernel.processMadvise(t, q, ranges, advice, c.numOpt(flagsW, rt) ?? 0);
    const paged =
      advice === "pageout" && r > 0n ? `; ${rt.kernel.takePageoutCount()} pages of ${qname} reclaimed` : "";
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : `(bytes of ${qname} advised${paged})`);
  };
}
