import { excerpt, InputError, tidyMessage } from "../../../base/errors.ts";
import type { AddrExpr, Expr, Pos, Stmt, Word } from "./ast.ts";
import { lexLine, type Tok } from "./lexer.ts";

const COMPARISONS = ["==", "!=", "<", "<=", ">", ">="];

/** How deep calls may nest in an expression (`pfn(A, pfn(A, ...))`): deeper is an error, not a stack overflow. */
export const MAX_NESTING = 64;

/** Parses a whole scenario. Every syntax error is an InputError at FILE:LINE:COL. */
export function parseScenario(source: string, file = "<scenario>"): Stmt[] {
  const stmts: Stmt[] = [];
  const lines = source.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const s = parseLine(lines[i], file, i + 1);
    if (s !== null) stmts.push(s);
  }
  return stmts;
}

/** Parses one line (the REPL's unit). Returns null for blank and comment lines. */
export function parseLine(text: string, file: string, line: number): Stmt | null {
  const toks = lexLine(text, file, line);
  if (toks[0].kind === "eol") return null;
  return new LineParser(toks, text, file, line).statement();
}

class LineParser {
  private i = 0;
  /** calls open around the expression being parsed */
  private depth = 0;

  constructor(
    private readonly toks: Tok[],
    private readonly text: string,
    private readonly file: string,
    private readonly line: number,
  ) {}

  private peek(k = 0): Tok {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)];
  }

  private next(): Tok {
    return this.toks[Math.min(this.i++, this.toks.length - 1)];
  }

  private pos(t: Tok): Pos {
    return { line: this.line, col: t.col };
  }

  fail(msg: string, t: Tok = this.peek()): never {
    throw new InputError(tidyMessage(msg), { file: this.file, line: this.line, col: t.col });
  }

  private isOp(t: Tok, op: string): boolean {
    return t.kind === "op" && t.text === op;
  }

  private expectIdent(what: string): Tok {
    const t = this.next();
    if (t.kind !== "ident") this.fail(`expected ${what}`, t);
    return t;
  }

  statement(): Stmt {
    const first = this.peek();
    const stmt: Stmt = {
      pos: this.pos(first),
      text: this.text,
      target: null,
      prefix: null,
      verb: "",
      verbPos: this.pos(first),
      words: [],
    };
    if (first.kind !== "ident")
      this.fail("a statement starts with a keyword, a process name or a variable", first);
    // prefixes: `P:`, `kernel:`, `kernel@N:`
    if (first.text === "kernel" && this.isOp(this.peek(1), "@")) {
      this.i += 2;
      const n = this.next();
      if (n.kind !== "num") this.fail("expected a CPU number after 'kernel@'", n);
      if (!this.isOp(this.next(), ":")) this.fail("expected ':' after kernel@N", this.toks[this.i - 1]);
      stmt.prefix = { kind: "kernel", cpu: Number(n.value), pos: this.pos(first) };
    } else if (this.isOp(this.peek(1), ":")) {
      this.i += 2;
      stmt.prefix =
        first.text === "kernel"
          ? { kind: "kernel", cpu: 0, pos: this.pos(first) }
          : { kind: "process", name: first.text, pos: this.pos(first) };
    }
    let verbTok = this.peek();
    if (verbTok.kind === "eol") this.fail("expected a statement after the prefix", verbTok);
    if (verbTok.kind !== "ident") this.fail("expected a statement keyword", verbTok);
    // `VAR = verb ...`
    if (verbTok.text !== "let" && verbTok.text !== "expect" && this.isOp(this.peek(1), "=")) {
      this.i += 2;
      stmt.target = { name: verbTok.text, pos: this.pos(verbTok) };
      verbTok = this.peek();
      if (verbTok.kind !== "ident") this.fail("expected a statement keyword after '='", verbTok);
    }
    this.i++;
    stmt.verb = verbTok.text;
    stmt.verbPos = this.pos(verbTok);
    if (stmt.verb === "let") return this.letStmt(stmt);
    if (stmt.verb === "expect") return this.expectStmt(stmt);
    while (this.peek().kind !== "eol") stmt.words.push(this.word());
    return stmt;
  }

  private letStmt(stmt: Stmt): Stmt {
    const name = this.expectIdent("a variable name after 'let'");
    stmt.target = { name: name.text, pos: this.pos(name) };
    if (!this.isOp(this.next(), "=")) this.fail("expected '=' in 'let VAR = EXPR'", this.toks[this.i - 1]);
    stmt.expr = this.expr();
    if (this.peek().kind !== "eol") this.fail("unexpected text after the expression");
    return stmt;
  }

  private expectStmt(stmt: Stmt): Stmt {
    stmt.expr = this.expr();
    const op = this.next();
    if (op.kind !== "op" || !COMPARISONS.includes(op.text))
      this.fail(`expected a comparison (${COMPARISONS.join(" ")})`, op);
    stmt.op = op.text;
    stmt.opPos = this.pos(op);
    stmt.rhs = this.expr();
    if (this.peek().kind !== "eol") this.fail("unexpected text after the expected value");
    return stmt;
  }

  /** `key=value` or a positional argument. */
  private word(): Word {
    let t = this.peek();
    // a dotted sysctl name as one key (abi.tagged_addr_disabled=1), its parts written together
    const dot = this.peek(1);
    const rest = this.peek(2);
    if (
      t.kind === "ident" &&
      this.isOp(dot, ".") &&
      rest.kind === "ident" &&
      this.isOp(this.peek(3), "=") &&
      dot.col === t.col + t.text.length &&
      rest.col === dot.col + 1
    ) {
      this.i += 2;
      t = { ...rest, text: `${t.text}.${rest.text}`, col: t.col };
      this.toks[this.i] = t;
    }
    if (t.kind === "ident" && this.isOp(this.peek(1), "=")) {
      this.i += 2;
      const v = this.peek();
      if (v.kind === "eol") this.fail(`expected a value after '${t.text}='`, v);
      const { expr, ident } = this.argValue();
      return { kind: "kv", key: t.text, value: expr, ident, pos: this.pos(t), valuePos: this.pos(v) };
    }
    const { expr, ident } = this.argValue();
    return { kind: "arg", expr, ident, pos: this.pos(t) };
  }

  /**
   * An integer, `+N`/`-N`, an identifier, `VAR+N`/`VAR-N`, or `a+b` words
   * (reserve+commit). A vmlab extension: any number of further `+N`/`-N`
   * terms (`buf+8K-3`, `4K+12`).
   */
  private argValue(): { expr: AddrExpr | null; ident: string | null } {
    const t = this.next();
    const pos = this.pos(t);
    let base: string | null = null;
    let offset: bigint;
    if (t.kind === "num") offset = t.value!;
    else if (t.kind === "op" && (t.text === "+" || t.text === "-")) {
      const n = this.next();
      if (n.kind !== "num") this.fail(`expected a number after '${t.text}'`, n);
      offset = t.text === "-" ? -n.value! : n.value!;
    } else if (t.kind === "ident") {
      const op = this.peek();
      const n = this.peek(1);
      if (op.kind === "op" && op.text === "+" && n.kind === "ident") {
        this.i += 2;
        let ident = `${t.text}+${n.text}`;
        // more words: prot=rw+guard+nocache
        while (this.isOp(this.peek(), "+") && this.peek(1).kind === "ident") {
          ident += `+${this.peek(1).text}`;
          this.i += 2;
        }
        return { expr: null, ident };
      }
      base = t.text;
      offset = 0n;
    } else return this.fail(`unexpected '${t.text}'`, t);
    let terms = 0;
    for (;;) {
      const op = this.peek();
      if (op.kind !== "op" || (op.text !== "+" && op.text !== "-")) break;
      const n = this.peek(1);
      if (n.kind !== "num") this.fail(`expected a number after '${op.text}'`, n);
      this.i += 2;
      offset += op.text === "-" ? -n.value! : n.value!;
      terms++;
    }
    return { expr: { pos, base, offset }, ident: base !== null && terms === 0 ? base : null };
  }

  // ---- expressions (expect, let) ----

  private expr(): Expr {
    let left = this.primary();
    for (;;) {
      const t = this.peek();
      if (t.kind === "op" && (t.text === "+" || t.text === "-")) {
        this.i++;
        const right = this.primary();
        left = { kind: "bin", op: t.text, left, right, pos: this.pos(t) };
      } else return left;
    }
  }

  private primary(): Expr {
    const t = this.next();
    const pos = this.pos(t);
    if (t.kind === "num") return { kind: "num", value: t.value!, pos };
    if (t.kind === "op" && t.text === "-") {
      const n = this.next();
      if (n.kind !== "num") this.fail("expected a number after '-'", n);
      return { kind: "num", value: -n.value!, pos };
    }
    if (t.kind !== "ident")
      return this.fail(t.kind === "eol" ? "expected a value" : `unexpected '${t.text}'`, t);
    if (t.quoted) return { kind: "name", name: t.text, pos, quoted: true };
    let name = t.text;
    while (this.isOp(this.peek(), ".") && this.peek(1).kind === "ident") {
      name += `.${this.peek(1).text}`;
      this.i += 2;
    }
    // meminfo fields with parentheses: Active(anon), Inactive(file), ...
    if (
      name.startsWith("meminfo.") &&
      this.isOp(this.peek(), "(") &&
      this.peek(1).kind === "ident" &&
      this.isOp(this.peek(2), ")")
    ) {
      const inner = this.peek(1).text;
      if (inner === "anon" || inner === "file") {
        this.i += 3;
        return { kind: "name", name: `${name}(${inner})`, pos };
      }
    }
    if (!this.isOp(this.peek(), "(")) return { kind: "name", name, pos };
    if (name === "slab") return this.slabCall(pos);
    if (this.depth >= MAX_NESTING) this.fail(`calls nested more than ${MAX_NESTING} deep`, this.peek());
    this.depth++;
    const call = this.callArgs(name, pos);
    this.depth--;
    return call;
  }

  /**
   * `slab(CACHE).objects` / `slab(CACHE).slabs` (language 1.2): CACHE is a
   * /proc/slabinfo name written as it is (`kmalloc-4k`, `vm_area_struct`),
   * so its words are joined, not read as an expression.
   */
  private slabCall(pos: Pos): Expr {
    this.next(); // (
    const first = this.peek();
    let cache = "";
    while (this.peek().kind !== "eol" && !this.isOp(this.peek(), ")")) cache += this.next().text;
    if (cache === "") this.fail("slab(CACHE): expected a cache name", first);
    if (!this.isOp(this.next(), ")")) this.fail("slab(CACHE): expected ')'", this.toks[this.i - 1]);
    if (!this.isOp(this.peek(), ".") || this.peek(1).kind !== "ident")
      this.fail("slab(CACHE).objects or slab(CACHE).slabs", this.peek());
    this.next();
    const field = this.next().text;
    const arg: Expr = { kind: "name", name: cache, pos: { ...pos, col: first.col }, quoted: true };
    return { kind: "call", fn: `slab.${field}`, args: [[arg]], pos, opts: {} };
  }

  /** The arguments of a call, after its name: `(` [ARG {, ARG}] `)`. */
  private callArgs(name: string, pos: Pos): Expr {
    this.i++;
    const args: Expr[][] = [];
    const opts: Record<string, bigint> = {};
    if (this.isOp(this.peek(), ")")) {
      this.i++;
      return { kind: "call", fn: name, args, pos, opts };
    }
    for (;;) {
      if (this.peek().kind === "ident" && this.isOp(this.peek(1), "=")) {
        const key = this.next().text;
        this.i++;
        const v = this.next();
        if (v.kind !== "num") this.fail(`expected a number for ${key}=`, v);
        opts[key] = v.value!;
      } else {
        const group: Expr[] = [this.expr()];
        while (!this.isOp(this.peek(), ",") && !this.isOp(this.peek(), ")") && this.peek().kind !== "eol")
          group.push(this.expr());
        args.push(group);
      }
      const sep = this.next();
      if (sep.kind === "op" && sep.text === ")") break;
      if (!(sep.kind === "op" && sep.text === ",")) this.fail("expected ',' or ')'", sep);
    }
    return { kind: "call", fn: name, args, pos, opts };
  }
}

/**
 * Renders an error with its source line and a caret under the column. A
 * long line shows only a window around the column; control characters
 * show escaped, in the message as in the line.
 */
export function formatWithCaret(e: InputError, sourceLines?: string[]): string {
  const head = tidyMessage(e.format());
  const w = e.where;
  if (!w || w.line === undefined || !sourceLines || w.line < 1 || w.line > sourceLines.length) return head;
  const line = sourceLines[w.line - 1].replace(/\t/g, " ");
  const col = Math.max(0, (w.col ?? 1) - 1);
  const from = col > 60 ? col - 50 : 0;
  const before = (from > 0 ? "…" : "") + excerpt(line.slice(from, col), 1000);
  const after = excerpt(line.slice(col), 40);
  return `${head}\n  ${before}${after}\n  ${" ".repeat(before.length)}^`;
}
