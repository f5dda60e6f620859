import { InputError } from "./errors.ts";

/**
 * A JSON reader that remembers where every value starts, so that a value
 * that parses but makes no sense (a bad hex string, a wrong type) can be
 * reported as `FILE:LINE:COL`. Plain JSON (RFC 8259); no comments.
 */
export interface Located {
  value: unknown;
  /** position of the value at a path such as `memory[2].hex`, or of the root */
  where(path: string): { line: number; col: number };
}

export function parseJsonLocated(text: string, file?: string): Located {
  const positions = new Map<string, number>();
  let i = 0;
  const lineCol = (offset: number) => {
    let line = 1;
    let col = 1;
    for (let k = 0; k < offset && k < text.length; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        col = 1;
      } else col++;
    }
    return { line, col };
  };
  const fail = (msg: string, at = i): never => {
    throw new InputError(msg, { file, ...lineCol(at) });
  };
  const ws = () => {
    while (i < text.length && /[ \t\r\n]/.test(text[i])) i++;
  };
  const value = (path: string): unknown => {
    ws();
    positions.set(path, i);
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a property name in double quotes");
        const key = str();
        ws();
        if (text[i] !== ":") fail("expected ':' after the property name");
        i++;
        obj[key] = value(path ? `${path}.${key}` : key);
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
    }
    if (c === "[") {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(`${path}[${arr.length}]`));
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
    }
    if (c === '"') return str();
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
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
    return fail(i >= text.length ? "unexpected end of JSON" : `unexpected character '${c}'`);
  };
  const str = (): string => {
    const start = i;
    i++;
    let out = "";
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") {
        const e = text[i + 1];
        const map: Record<string, string> = {
          '"': '"',
          "\\": "\\",
          "/": "/",
          b: "\b",
          f: "\f",
          n: "\n",
          r: "\r",
          t: "\t",
        };
        if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        if (!(e in map)) fail("bad escape in string");
        out += map[e];
        i += 2;
        continue;
      }
      if (text.charCodeAt(i) < 0x20) fail("control character in string");
      out += text[i++];
    }
    if (i >= text.length) fail("unterminated string", start);
    i++;
    return out;
  };
  const root = value("");
  ws();
  if (i < text.length) fail("unexpected text after the JSON value");
  return {
    value: root,
    where: (path: string) => lineCol(positions.get(path) ?? positions.get("") ?? 0),
  };
}
