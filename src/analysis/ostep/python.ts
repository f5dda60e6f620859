/**
 * The few pieces of Python 3 that OSTEP's homework scripts lean on, as
 * CPython 3.11 behaves: print, `%` formatting, int() of a string, repr() of a
 * string, and the exceptions a script can end with. The scripts' own logic
 * (relocation.ts, ...) is written over these, line by line beside the
 * Python, so that its output is the script's byte for byte (docs/ostep.md).
 *
 * A Python exception ends a script here as it ends the Python one: what was
 * printed stays printed, the exception's last traceback line goes to stderr,
 * and the exit status is 1. `PyExit` is sys.exit. Both are thrown inside a
 * script and caught by its runner (script.ts): this is an interpreter's
 * control flow, not a simulator's fault path.
 */

/** sys.exit(code): raised by a script's exit(...) and by optparse. */
export class PyExit {
  constructor(readonly code: number) {}
}

/** A Python exception that ends the script: `TYPE: MESSAGE` is the traceback's last line. */
export class PyError {
  constructor(
    readonly type: string,
    readonly message: string,
  ) {}
  /** the traceback's last line */
  lastLine(): string {
    return this.message === "" ? this.type : `${this.type}: ${this.message}`;
  }
}

/** What a script printed, as Python's print() builds it. */
export class PyOut {
  private readonly parts: string[] = [];
  /** print(*args, end=end): str() of each argument, joined by spaces */
  print(...args: PyValue[]): void {
    this.parts.push(`${args.map(pyStr).join(" ")}\n`);
  }
  /** print(*args, end='') */
  write(text: string): void {
    this.parts.push(text);
  }
  text(): string {
    return this.parts.join("");
  }
}

export type PyValue = string | number | bigint | boolean | readonly PyValue[];

/** str(x) for the values the scripts print: ints, strings, bools, lists of ints. */
export function pyStr(v: PyValue): string {
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  return `[${v.map(pyRepr).join(", ")}]`;
}

/** repr(x): a string in quotes (CPython unicode_repr), anything else as str(). */
export function pyRepr(v: PyValue): string {
  if (typeof v !== "string") return pyStr(v);
  const quote = v.includes("'") && !v.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of v) {
    const c = ch.codePointAt(0)!;
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c >= 0x80 && c < 0xa0) out += `\\x${c.toString(16)}`;
    else out += ch;
  }
  return out + quote;
}

/** Python's str.isspace() characters (Py_UNICODE_ISSPACE), which int() strips. */
const PY_SPACES = new Set([
  9, 10, 11, 12, 13, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
  0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** str.strip() */
function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && PY_SPACES.has(s.charCodeAt(a))) a++;
  while (b > a && PY_SPACES.has(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/**
 * int(text, base) of a string, as CPython's PyLong_FromString: surrounding
 * whitespace, a sign, single underscores between digits; base 16, 8 and 2
 * also take their 0x, 0o, 0b prefix. Raises ValueError with CPython's message.
 */
export function pyInt(text: string, base = 10): bigint {
  const bad = () => new PyError("ValueError", `invalid literal for int() with base ${base}: ${pyRepr(text)}`);
  let s = asciiDigits(pyStrip(text));
  let neg = false;
  if (s[0] === "+" || s[0] === "-") {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  const prefix = s.slice(0, 2).toLowerCase();
  let hadPrefix = false;
  if (
    (base === 16 && prefix === "0x") ||
    (base === 8 && prefix === "0o") ||
    (base === 2 && prefix === "0b")
  ) {
    s = s.slice(2);
    hadPrefix = true;
  }
  // after a prefix one underscore may come first (0x_1f)
  if (hadPrefix && s[0] === "_") s = s.slice(1);
  const digits = base === 16 ? "[0-9a-fA-F]" : base === 8 ? "[0-7]" : base === 2 ? "[01]" : "[0-9]";
  if (!new RegExp(`^${digits}+(_${digits}+)*$`).test(s)) throw bad();
  const clean = s.replaceAll("_", "");
  const radixPrefix = base === 16 ? "0x" : base === 8 ? "0o" : base === 2 ? "0b" : "";
  const n = BigInt(radixPrefix + clean);
  return neg ? -n : n;
}

/** Unicode decimal digits (Nd: '１２', '٣') as the ASCII digits CPython reads them as. */
function asciiDigits(s: string): string {
  if (![...s].some((ch) => ch.charCodeAt(0) >= 0x80)) return s;
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80 || !/\p{Nd}/u.test(ch)) {
      out += ch;
      continue;
    }
    // Nd characters come in runs of ten from a zero: count back to the run's start
    let start = c;
    while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
    out += String((c - start) % 10);
  }
  return out;
}

/** int(x) of a float: truncation toward zero. */
export function pyIntOfFloat(x: number): number {
  const t = Math.trunc(x);
  return t === 0 ? 0 : t; // no -0
}

type Arg = number | bigint | string | boolean | readonly PyValue[];

/**
 * `fmt % args` for the conversions the scripts use: %d %x %s %f with the
 * flags `-` and `0`, a width and a precision (CPython's
 * unicode_format_arg_format / formatlong / formatfloat).
 */
export function pyFormat(fmt: string, ...args: Arg[]): string {
  let next = 0;
  return fmt.replace(/%([-0 +#]*)(\d+)?(?:\.(\d+))?([dxsf%])/g, (_m, flags: string, w, p, conv: string) => {
    if (conv === "%") return "%";
    const arg = args[next++];
    const width = w === undefined ? 0 : Number(w);
    const left = flags.includes("-");
    let body: string;
    let sign = "";
    if (conv === "s") body = pyStr(arg as PyValue);
    else if (conv === "f") {
      const x = Number(arg);
      body = fixed(Math.abs(x), p === undefined ? 6 : Number(p));
      if (x < 0 || Object.is(x, -0)) sign = "-";
    } else {
      let n =
        typeof arg === "bigint"
          ? arg
          : BigInt(typeof arg === "boolean" ? Number(arg) : Math.trunc(Number(arg)));
      if (n < 0n) {
        sign = "-";
        n = -n;
      }
      body = n.toString(conv === "x" ? 16 : 10);
    }
    if (flags.includes("0") && !left && conv !== "s") return sign + body.padStart(width - sign.length, "0");
    const s = sign + body;
    return left ? s.padEnd(width) : s.padStart(width);
  });
}

/**
 * `'%.Nf' % x` for x >= 0: the exact binary value rounded half to even
 * (CPython's dtoa), where Number.prototype.toFixed rounds an exact half up.
 */
function fixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : "inf";
  const s = x.toFixed(digits);
  // an exact tie has a short exact expansion: ...d5 followed by zeros only
  const exact = x.toFixed(Math.min(100, digits + 60));
  const tail = exact.slice(exact.length - 60);
  if (/^50*$/.test(tail)) {
    const truncated = exact.slice(0, exact.length - 60);
    if (Number(truncated[truncated.length - 1]) % 2 === 0) return truncated.replace(/\.$/, "");
  }
  return s;
}

/** textwrap.wrap(text, width) with the defaults optparse uses (TextWrapper, CPython 3.11). */
export function textwrapWrap(text: string, width: number): string[] {
  // replace_whitespace turns tabs and newlines into spaces; the scripts' help strings have none
  const chunks = splitChunks(text);
  const lines: string[] = [];
  chunks.reverse();
  while (chunks.length > 0) {
    const cur: string[] = [];
    let curLen = 0;
    if (chunks[chunks.length - 1].trim() === "" && lines.length > 0) chunks.pop();
    while (chunks.length > 0) {
      const l = chunks[chunks.length - 1].length;
      if (curLen + l <= width) {
        cur.push(chunks.pop()!);
        curLen += l;
      } else break;
    }
    if (chunks.length > 0 && chunks[chunks.length - 1].length > width) {
      // _handle_long_word with break_long_words and break_on_hyphens
      const spaceLeft = width < 1 ? 1 : width - curLen;
      const chunk = chunks[chunks.length - 1];
      let end = spaceLeft;
      if (chunk.length > spaceLeft) {
        const hyphen = chunk.lastIndexOf("-", spaceLeft - 1);
        if (hyphen > 0 && /[^-]/.test(chunk.slice(0, hyphen))) end = hyphen + 1;
      }
      cur.push(chunk.slice(0, end));
      chunks[chunks.length - 1] = chunk.slice(end);
      curLen = cur.reduce((a, c) => a + c.length, 0);
    }
    if (cur.length > 0 && cur[cur.length - 1].trim() === "") {
      curLen -= cur[cur.length - 1].length;
      cur.pop();
    }
    if (cur.length > 0) lines.push(cur.join(""));
  }
  return lines;
}

/** TextWrapper.wordsep_re (break_on_hyphens), for ASCII text. */
const WORDSEP =
  /( +|(?<=[\w!"'&.,?])-{2,}(?=\w)|[^ ]+?(?:-(?:(?<=[^\d\W]{2}-)|(?<=[^\d\W]-[^\d\W]-))(?=[^\d\W]-?[^\d\W])|(?= |$)|(?<=[\w!"'&.,?])(?=-{2,}\w)))/y;

function splitChunks(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    WORDSEP.lastIndex = i;
    const m = WORDSEP.exec(text);
    if (m === null || m[0] === "") {
      // re.split keeps the text between separators: cannot happen for the regex above
      out.push(text.slice(i));
      break;
    }
    out.push(m[0]);
    i += m[0].length;
  }
  return out.filter((c) => c !== "");
}
