/** `let VAR = EXPR` and `expect EXPR OP VALUE`: values of expressions (expr.ts) and checks on them. */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";
import { compileExpr } from "../runtime/expr.ts";
import { formatValue } from "../runtime/format.ts";

/** `let VAR = EXPR`: the value must be a number */
export function letStmt(c: CompileContext, s: Stmt): Run {
  const ev = compileExpr(c, s.expr!);
  const name = s.target!.name;
  c.defined.add(name);
  return (rt) => {
    const v = ev(rt);
    if (typeof v !== "bigint") c.fail(`let ${name}: the value '${v}' is not a number`, s.expr!.pos);
    rt.vars.set(name, v);
    rt.out.push(`${name} = ${formatValue(v)}`);
  };
}

/** `expect EXPR OP VALUE`: numbers compare with ==, !=, <, <=, >, >=; symbols with == and != */
export function expect(c: CompileContext, s: Stmt): Run {
  const left = compileExpr(c, s.expr!);
  const right = compileExpr(c, s.rhs!);
  const op = s.op!;
  const hexRhs = /(==|!=|<=|>=|<|>)\s*-?0x/i.test(s.text);
  return (rt) => {
    const a = left(rt);
    const b = right(rt);
    let ok: boolean;
    if (typeof a === "bigint" && typeof b === "bigint") {
      ok =
        op === "=="
          ? a === b
          : op === "!="
            ? a !== b
            : op === "<"
              ? a < b
              : op === "<="
                ? a <= b
                : op === ">"
                  ? a > b
                  : a >= b;
    } else if (typeof a === "string" && typeof b === "string" && (op === "==" || op === "!=")) {
      ok = (a === b) === (op === "==");
    } else {
      ok = false;
    }
    // numbers shown in the base the expected value was written in (a `0x` value: hex; else formatValue's rule)
    const show = (v: typeof a) => (hexRhs && typeof v === "bigint" ? hexOf(v) : formatValue(v));
    const actual = show(a);
    const expected = `${op} ${show(b)}`;
    c.expectations.push({ line: s.pos.line, text: s.text.trim(), ok, actual, expected });
    rt.out.push(ok ? `ok (${actual})` : `FAILED: expected ${expected}, got ${actual}`);
  };
}

const hexOf = (v: bigint): string => (v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`);
