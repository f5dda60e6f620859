/**
 * `P: setrlimit RESOURCE SOFT [HARD]`: setrlimit(2) on the process's own
 * limits (kernel/sys.c do_prlimit; the kernel side is mm/rlimit.ts).
 */
import { RLIMIT_NAMES, type RlimitName } from "../../../kernel/Kernel.ts";
import type { Stmt } from "../lang/ast.ts";
import { didYouMean } from "../lang/suggest.ts";
import {
  type Arg,
  argWords,
  type CompileContext,
  processOf,
  type Run,
  type Runtime,
} from "../runtime/context.ts";
import { errnoName } from "../runtime/format.ts";

const USAGE = "setrlimit as|data|stack|memlock SOFT [HARD] (sizes, or 'unlimited')";

/** A limit word: 'unlimited' (RLIM_INFINITY) or a size; negative literals are refused here. */
function limitWord(c: CompileContext, w: Arg): ((rt: Runtime) => number) | number {
  if (w.ident === "unlimited") return Number.POSITIVE_INFINITY;
  if (w.expr === null) c.fail(`a limit is a size or 'unlimited', not '${w.ident}'`, w.pos);
  const e = w.expr;
  if (e.base === null && e.offset < 0n) c.fail(`a limit cannot be negative (${e.offset})`, w.pos);
  if (e.base === null && e.offset > BigInt(Number.MAX_SAFE_INTEGER))
    c.fail(`the limit ${e.offset} is too large (at most ${Number.MAX_SAFE_INTEGER}, or 'unlimited')`, w.pos);
  c.useVars(e);
  if (e.base === null) return Number(e.offset);
  return (rt) => c.size(e, rt, "the limit");
}

const show = (n: number) => (n === Number.POSITIVE_INFINITY ? "unlimited" : String(n));

/**
 * `P: [VAR =] setrlimit as|data|stack|memlock SOFT [HARD]`: the process's
 * soft and hard limit (HARD omitted: the same as SOFT, as the shell's
 * `ulimit` sets both). Prints 0 and the limits, or the errno: EPERM when a
 * process without uid 0 raises a hard limit. A negative or too large
 * size, a soft limit above the hard one or an unknown resource is an
 * error in the scenario.
 */
export function setrlimit(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  const rw = args[0];
  // `as -1M` reads as the expression as-1M: the resource with a signed size
  const folded = rw?.expr?.base ?? null;
  if (rw && folded !== null && Object.hasOwn(RLIMIT_NAMES, folded) && rw.expr!.offset !== 0n)
    c.fail(
      rw.expr!.offset < 0n ? `a limit cannot be negative (${rw.expr!.offset})` : USAGE,
      rw.expr!.offset < 0n ? { line: rw.pos.line, col: rw.pos.col + folded.length + 1 } : rw.pos,
    );
  if (args.length < 2 || args.length > 3) c.fail(USAGE, args[3]?.pos ?? args[0]?.pos ?? s.verbPos);
  if (rw.ident === null || !Object.hasOwn(RLIMIT_NAMES, rw.ident))
    c.fail(
      `unknown resource '${rw.ident ?? "?"}': as, data, stack or memlock${didYouMean(rw.ident ?? "", Object.keys(RLIMIT_NAMES))}`,
      rw.pos,
    );
  const resource = rw.ident as RlimitName;
  const soft = limitWord(c, args[1]);
  const hard = args[2] ? limitWord(c, args[2]) : soft;
  const hardPos = (args[2] ?? args[1]).pos;
  if (typeof soft === "number" && typeof hard === "number" && soft > hard)
    c.fail(`the soft limit ${show(soft)} is above the hard limit ${show(hard)}`, hardPos);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    const sv = typeof soft === "number" ? soft : soft(rt);
    const hv = typeof hard === "number" ? hard : hard(rt);
    if (sv > hv) c.fail(`the soft limit ${show(sv)} is above the hard limit ${show(hv)}`, hardPos);
    const r = rt.kernel.setrlimit(t, resource, sv, hv);
    const note =
      r < 0
        ? `(${errnoName(BigInt(r))})`
        : `(RLIMIT_${resource.toUpperCase()}: soft ${show(sv)}, hard ${show(hv)})`;
    c.assign(s, rt, BigInt(r), note);
  };
}
