/** Where something is in a scenario file. */
export interface Pos {
  line: number;
  col: number;
}

/** An address or size expression: an integer, a variable, or VAR+N / VAR-N. */
export interface AddrExpr {
  pos: Pos;
  /** variable name, or null for a plain integer */
  base: string | null;
  /** the integer (or the offset from the variable), signed */
  offset: bigint;
}

/** A word after the verb: `key=value` or a positional argument. */
export type Word =
  | { kind: "kv"; key: string; value: AddrExpr | null; ident: string | null; pos: Pos; valuePos: Pos }
  | { kind: "arg"; expr: AddrExpr | null; ident: string | null; pos: Pos };

/** An expression of `expect` and `let`. */
export type Expr =
  | { kind: "num"; value: bigint; pos: Pos }
  | { kind: "name"; name: string; pos: Pos; quoted?: boolean } // variable, metric (a.b.c), symbol (SIGSEGV), or "a string"
  | { kind: "call"; fn: string; args: Expr[][]; pos: Pos; opts: Record<string, bigint> } // pfn(P, ADDR), tlb.hits(cpu=1)
  | { kind: "bin"; op: "+" | "-"; left: Expr; right: Expr; pos: Pos };

/** One parsed line. */
export interface Stmt {
  pos: Pos;
  /** the source line, for messages */
  text: string;
  /** `VAR =` before the verb */
  target: { name: string; pos: Pos } | null;
  /** `P:` (a process), `kernel:` or `kernel@N:` */
  prefix: { kind: "process"; name: string; pos: Pos } | { kind: "kernel"; cpu: number; pos: Pos } | null;
  verb: string;
  verbPos: Pos;
  words: Word[];
  /** for expect / let */
  expr?: Expr;
  op?: string;
  opPos?: Pos;
  rhs?: Expr;
}
