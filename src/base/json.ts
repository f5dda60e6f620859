import { excerpt, InputError } from "./errors.ts";

/**
 * A JSON reader that remembers where every value starts, so that a value
 * that parses but makes no sense (a bad hex string, a wrong type) can be
 * reported as `FILE:LINE:COL`. Plain JSON (RFC 8259); no comments.
 *
 * Hostile input stays cheap: nesting deeper than MAX_JSON_DEPTH is an
 * error (not a stack overflow), a key given twice is an error, objects have
 * no prototype (a `"__proto__"` key is an ordinary key, which a key check
 * then sees), and strings are sliced, not built a character at a time.
 * Positions are not kept while parsing: `where` parses again, once, when
 * a message needs one.
 */
export interface Located {
  value: unknown;
  /**
   * position of the value at a path such as `memory[2].hex`; for a path
   * that is not there, of the deepest value on the way to it (so a missing
   * key points at the object that lacks it)
   */
  where(path: string): { line: number; col: number };
}

/** How deep arrays and objects may nest. */
export const MAX_JSON_DEPTH = 64;

const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

export function parseJsonLocated(text: string, file?: string): Located {
  const root = parse(text, file, null);
  return {
    value: root.value,
    where: (path: string) => lineCol(text, parse(text, file, path).found ?? 0),
  };
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = text.indexOf("\n"); k >= 0 && k < offset; k = text.indexOf("\n", k + 1)) {
    line++;
    lineStart = k + 1;
  }
  return { line, col: offset - lineStart + 1 };
}

/**
 * Parses `text`. With `want`, also computes each value's path and returns
 * the offset of the value at `want` (the slow mode of `where`).
 */
function parse(
  text: string,
  file: string | undefined,
  want: string | null,
): { value: unknown; found?: number } {
  let i = 0;
  let found: number | undefined;
  const number = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const fail = (msg: string, at = i): never => {
    throw new InputError(msg, { file, ...lineCol(text, at) });
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else return;
    }
  };
  const str = (): string => {
    const start = i;
    i++;
    let out = "";
    let run = i;
    for (;;) {
      const c = text.charCodeAt(i);
      if (Number.isNaN(c)) return fail("unterminated string", start);
      if (c === 34) break;
      if (c < 0x20) fail("control character in string");
      if (c !== 92) {
        i++;
        continue;
      }
      out += text.slice(run, i);
      const e = text[i + 1];
      if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else {
        if (e === undefined || !Object.hasOwn(ESCAPES, e)) fail("bad escape in string");
        out += ESCAPES[e];
        i += 2;
      }
      run = i;
    }
    out += text.slice(run, i);
    i++;
    return out;
  };
  const value = (path: string, depth: number): unknown => {
    ws();
    // the value at `want`, or else the deepest value on the way to it (the object a missing key is missing from)
    if (
      want !== null &&
      (path === want || path === "" || want.startsWith(`${path}.`) || want.startsWith(`${path}[`))
    )
      found = i;
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth >= MAX_JSON_DEPTH) fail(`arrays and objects nested more than ${MAX_JSON_DEPTH} deep`);
      i++;
      ws();
      return c === "{" ? object(path, depth + 1) : array(path, depth + 1);
    }
    if (c === '"') return str();
    number.lastIndex = i;
    const m = number.exec(text);
    if (m) {
      i += m[0].length;
      return Number(m[0]);
    }
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    return fail(i >= text.length ? "unexpected end of JSON" : `unexpected character '${excerpt(c)}'`);
  };
  const object = (path: string, depth: number): Record<string, unknown> => {
    const obj: Record<string, unknown> = Object.create(null);
    if (text[i] === "}") {
      i++;
      return obj;
    }
    for (;;) {
      ws();
      if (text[i] !== '"') fail("expected a property name in double quotes");
      const at = i;
      const key = str();
      if (Object.hasOwn(obj, key)) fail(`duplicate key '${excerpt(key)}'`, at);
      ws();
      if (text[i] !== ":") fail("expected ':' after the property name");
      i++;
      obj[key] = value(want === null ? "" : path ? `${path}.${key}` : key, depth);
      ws();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "}") {
        i++;
        return obj;
      }
      fail("expected ',' or '}'");
    }
  };
  const array = (path: string, depth: number): unknown[] => {
    const arr: unknown[] = [];
    if (text[i] === "]") {
      i++;
      return arr;
    }
    for (;;) {
      arr.push(value(want === null ? "" : `${path}[${arr.length}]`, depth));
      ws();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "]") {
        i++;
        return arr;
      }
      fail("expected ',' or ']'");
    }
  };
  const root = value("", 0);
  ws();
  if (i < text.length) fail("unexpected text after the JSON value");
  return { value: root, found };
}

/** A JSON value as a message quotes it: at most a short escaped excerpt (errors.ts `excerpt`). */
export function jsonExcerpt(v: unknown): string {
  if (typeof v === "string") return `"${excerpt(v)}"`;
  if (v === undefined) return "nothing";
  return excerpt(JSON.stringify(v));
}
