import { excerpt, InputError, tidyMessage } from "../../../base/errors.ts";

export type TokKind = "ident" | "num" | "op" | "eol";

/** A token of one scenario line; `col` is 1-based. */
export interface Tok {
  kind: TokKind;
  text: string;
  col: number;
  /** for numbers: the value in bytes (size suffixes applied; `p` = 4096 bytes) */
  value?: bigint;
  /** a double-quoted word: in an expression, a string (`vm_flags(A, a) == "rd wr"`) */
  quoted?: boolean;
}

const SUFFIX: Record<string, bigint> = {
  "": 1n,
  K: 1n << 10n,
  M: 1n << 20n,
  G: 1n << 30n,
  T: 1n << 40n,
  KiB: 1n << 10n,
  MiB: 1n << 20n,
  GiB: 1n << 30n,
  TiB: 1n << 40n,
  p: 4096n,
  // a vmlab extension: lower case, as the command line's sizes (--max-host-memory 512m) take them
  k: 1n << 10n,
  m: 1n << 20n,
  g: 1n << 30n,
  t: 1n << 40n,
};

const TWO_CHAR_OPS = ["==", "!=", "<=", ">="];
const ONE_CHAR_OPS = "=<>:+-(),.@";

/**
 * Splits one line into tokens (the language is line-based: see
 * ../shared/spec/scenario-language.md, "Lexical rules"). `#` starts a comment.
 * Integers are decimal or 0x hex with an optional size suffix (K, M, G, T,
 * KiB, MiB, GiB, TiB, or p for pages; k, m, g, t too).
 */
export function lexLine(text: string, file: string, line: number): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const fail = (msg: string, at: number): never => {
    throw new InputError(tidyMessage(msg), { file, line, col: at + 1 });
  };
  while (i < text.length) {
    const c = text[i];
    if (c === "#") break;
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    const start = i;
    // a vmlab extension: a double-quoted word ("traces/scan.u64"), for paths
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) fail("unterminated quoted word", i);
      if (end === i + 1) fail("an empty quoted word", i);
      toks.push({ kind: "ident", text: text.slice(i + 1, end), col: start + 1, quoted: true });
      i = end + 1;
      continue;
    }
    // a TLB geometry such as 64x4,1536x12 is one word
    const geometry = /^[1-9][0-9]*x[0-9]+(,[1-9][0-9]*x[0-9]+)*(?![A-Za-z0-9_])/.exec(text.slice(i));
    if (geometry) {
      toks.push({ kind: "ident", text: geometry[0], col: start + 1 });
      i += geometry[0].length;
      continue;
    }
    if (/[0-9]/.test(c)) {
      // a word of hex digits with a letter among them, but no 0x: an address copied from
      // /proc/PID/maps or a debugger, which would otherwise read as a number and a suffix
      const bare = /^[0-9][0-9a-fA-F_]*(?![A-Za-z0-9_])/.exec(text.slice(i));
      if (bare && /[a-fA-F]/.test(bare[0]) && !/^0[xX]/.test(bare[0]))
        fail(`'${excerpt(bare[0])}' looks like a hex number: write 0x${excerpt(bare[0])}`, i);
      const m = /^(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)([A-Za-z]*)/.exec(text.slice(i))!;
      const digits = m[1].replace(/_/g, "");
      const suffix = m[2];
      if (!(suffix in SUFFIX))
        fail(
          `unknown size suffix '${excerpt(suffix)}' (use K, M, G, T (or k, m, g, t), KiB, MiB, GiB, TiB or p)`,
          i + m[1].length,
        );
      if (/^0[xX]$/.test(digits)) fail("hex number without digits", i);
      const value = BigInt(digits) * SUFFIX[suffix];
      if (value >= 1n << 64n) fail(`number ${excerpt(m[0])} does not fit in 64 bits`, i);
      toks.push({ kind: "num", text: m[0], col: start + 1, value });
      i += m[0].length;
      continue;
    }
    // version 1.2: a KEY=VALUE option's value may hold '-' between words (arch=x86_64-la57,
    // arch=riscv-sv39, uaccess=pan-toggle); elsewhere, and before a digit, '-' subtracts
    if (/[A-Za-z_]/.test(c) && i >= 2 && text[i - 1] === "=" && /[A-Za-z0-9_]/.test(text[i - 2])) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z][A-Za-z0-9_]*)+(?![A-Za-z0-9_])/.exec(text.slice(i));
      if (m) {
        toks.push({ kind: "ident", text: m[0], col: start + 1 });
        i += m[0].length;
        continue;
      }
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      toks.push({ kind: "ident", text: m[0], col: start + 1 });
      i += m[0].length;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (TWO_CHAR_OPS.includes(two)) {
      toks.push({ kind: "op", text: two, col: start + 1 });
      i += 2;
      continue;
    }
    if (ONE_CHAR_OPS.includes(c)) {
      toks.push({ kind: "op", text: c, col: start + 1 });
      i++;
      continue;
    }
    fail(`unexpected character '${excerpt(String.fromCodePoint(text.codePointAt(i)!))}'`, i);
  }
  toks.push({ kind: "eol", text: "", col: text.replace(/\s*(#.*)?$/, "").length + 1 });
  return toks;
}
