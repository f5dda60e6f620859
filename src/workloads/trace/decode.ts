/**
 * Trace formats, all decoded into one record stream: vmlab's binary
 * `u64-addr2kind` (`(vaddr << 2) | kind`, little-endian, no header; the
 * format of ../shared/traces), handed on in batches of records as pairs of
 * 32-bit words (`lo`, `hi`) in a reused Uint32Array, so that nothing is
 * allocated per access and memory stays constant whatever the length.
 *
 * Kinds: 0 instruction fetch, 1 load, 2 store, 3 modify (load then store).
 * Input formats:
 * - `bin`: the records themselves;
 * - `lackey`: valgrind --tool=lackey --trace-mem=yes (`I  0401ab70,3`,
 *   ` L 1fff000768,8`, ` S ...`, ` M ...`); other lines skipped and counted;
 * - `text`: one address per line (0x hex, or decimal), an optional R, W or X
 *   column (R by default), `#` comments;
 * - `refs`: page numbers separated by commas or white space (`1,2,3,4,1,2,5`),
 *   each a load of the first byte of that page.
 *
 * Bytes in, records out, and nothing else: no file, no Node module, so the
 * browser (src/web: a scenario's replay, the trace view's worker) decodes
 * with this same code. Reading files and decompressing is formats.ts's and
 * input.ts's.
 */
import { excerpt as baseExcerpt, InputError } from "../../base/errors.ts";
import {
  ADDR_LIMIT,
  FETCH,
  kindOfLetter,
  LOAD,
  MODIFY,
  RECORD_BYTES,
  recordValue,
  STORE,
  setRecord,
} from "./record.ts";

export type TraceFormat = "bin" | "lackey" | "text" | "refs";
export const TRACE_FORMATS: readonly TraceFormat[] = ["bin", "lackey", "text", "refs"];

/** Records per batch handed to the sink. */
export const BATCH_RECORDS = 65536;

/** Receives `n` records: words[2i] = low 32 bits, words[2i+1] = high 32 bits of record i. */
export type BatchSink = (words: Uint32Array, n: number) => void;

export interface TraceReadStats {
  format: TraceFormat;
  /** records handed to the sink */
  records: number;
  /** decompressed bytes read */
  bytes: number;
  /** text formats: lines read, and lines that were not accesses (valgrind's messages, program output) */
  lines: number;
  skippedLines: number;
}

/** The format a trace's name says (`.u64`, `.bin` or `.refs`, then `.zst` or `.gz` or not; `lackey` in it), or null. */
export function formatOfName(name: string): TraceFormat | null {
  if (/\.(u64|bin)(\.(zst|gz))?$/i.test(name)) return "bin";
  if (/\.refs(\.(zst|gz))?$/i.test(name)) return "refs";
  if (/lackey/i.test(name)) return "lackey";
  return null;
}

/** Guesses the format from the name, then from the first bytes. */
export function sniffFormat(name: string, head: Uint8Array): TraceFormat {
  const byName = formatOfName(name);
  if (byName !== null) return byName;
  const n = Math.min(head.length, 4096);
  for (let i = 0; i < n; i++) {
    const c = head[i];
    if (c === 0 || c >= 0x80 || (c < 0x20 && c !== 10 && c !== 13 && c !== 9)) return "bin";
  }
  const text = latin1(head.subarray(0, n));
  if (/^==\d+==/m.test(text) || /^(I {2}|\s[LSM] )[0-9a-fA-F]+,\d+/m.test(text)) return "lackey";
  const first = text.split("\n").find((l) => l.trim() !== "" && !l.trimStart().startsWith("#")) ?? "";
  if (/^[\d\s,]+$/.test(first) && first.includes(",")) return "refs";
  return "text";
}

/** A browser's stand-in for Buffer's latin1 (the bytes below 0x80 read the same). */
const LATIN1 = new TextDecoder("latin1");

/** The bytes as text, one character per byte (Node's Buffer does this itself, faster). */
function latin1(b: Uint8Array): string {
  if ("latin1Slice" in b) return (b as unknown as { toString(encoding: string): string }).toString("latin1");
  return LATIN1.decode(b);
}

/**
 * A token of the input for an error message: quoted, at most 40 characters
 * (then `…`), control characters, quotes and backslashes escaped (base
 * excerpt), so that a message shows little of a file it was not meant to
 * read and nothing that a terminal would act on.
 */
export function excerpt(token: string, max = 40): string {
  return `'${baseExcerpt(token.replaceAll("\\", "\\\\").replaceAll("'", "\\'"), max)}'`;
}

/** Decodes one trace chunk by chunk: `end` after the last (it flushes the last batch and checks for a partial record). */
export interface TraceDecoder {
  push(chunk: Uint8Array): void;
  end(): void;
}

/** The decoder of `format` for the trace `name`, handing records to `sink` and counting in `stats`. */
export function createDecoder(
  name: string,
  format: TraceFormat,
  sink: BatchSink,
  stats: TraceReadStats,
): TraceDecoder {
  return format === "bin" ? new BinDecoder(name, sink, stats) : new LineDecoder(name, format, sink, stats);
}

/** Record `index` (at byte `offset`), whose words are lo and hi, is not a u64-addr2kind record. */
export function badRecord(name: string, index: number, lo: number, hi: number, offset: number): InputError {
  return new InputError(
    `record ${index}: 0x${recordValue(lo, hi).toString(16)} is not a u64-addr2kind record (its address is beyond 2^47): a corrupt trace, or not this format (--format)`,
    { file: name, offset },
  );
}

/** `rest` bytes after the last whole record, which ends at byte `offset`. */
export function truncated(name: string, rest: number, records: number, offset: number): InputError {
  return new InputError(
    `truncated: ${rest} byte${rest === 1 ? "" : "s"} after the last whole 8-byte record (${records} records read)`,
    { file: name, offset },
  );
}

/** u64-addr2kind: copies bytes into the batch buffer, checks each record, flushes full batches. */
class BinDecoder implements TraceDecoder {
  private readonly bytes = new Uint8Array(BATCH_RECORDS * RECORD_BYTES);
  private readonly words = new Uint32Array(this.bytes.buffer);
  private fill = 0;
  /** byte offset of the batch buffer's start in the trace */
  private base = 0;

  constructor(
    private readonly name: string,
    private readonly sink: BatchSink,
    private readonly stats: TraceReadStats,
  ) {}

  push(chunk: Uint8Array): void {
    let at = 0;
    if (this.fill === 0 && chunk.byteOffset % 4 === 0) {
      // whole records straight from the chunk (a worker's shared slot): no copy
      const whole = Math.floor(chunk.length / RECORD_BYTES);
      const view = new Uint32Array(chunk.buffer, chunk.byteOffset, whole * 2);
      for (let r = 0; r < whole; r += BATCH_RECORDS) {
        const n = Math.min(BATCH_RECORDS, whole - r);
        this.hand(r === 0 ? view : view.subarray(2 * r), n);
        this.base += n * RECORD_BYTES;
      }
      at = whole * RECORD_BYTES;
    }
    while (at < chunk.length) {
      const n = Math.min(chunk.length - at, this.bytes.length - this.fill);
      this.bytes.set(chunk.subarray(at, at + n), this.fill);
      this.fill += n;
      at += n;
      if (this.fill === this.bytes.length) this.flush(BATCH_RECORDS);
    }
  }

  end(): void {
    const whole = Math.floor(this.fill / RECORD_BYTES);
    const rest = this.fill - whole * RECORD_BYTES;
    this.flush(whole);
    if (rest !== 0) throw truncated(this.name, rest, this.stats.records, this.base);
  }

  /** Checks n records of w (the batch at byte `this.base`) and hands them on. */
  private hand(w: Uint32Array, n: number): void {
    for (let i = 0; i < n; i++) {
      // record.ts's HI_LIMIT written out (see there why): the high word of a record is below 2^17
      if (w[2 * i + 1] >= 131072) {
        this.sink(w, i);
        this.stats.records += i;
        throw badRecord(this.name, this.stats.records, w[2 * i], w[2 * i + 1], this.base + i * RECORD_BYTES);
      }
    }
    if (n > 0) this.sink(w, n);
    this.stats.records += n;
  }

  private flush(n: number): void {
    this.hand(this.words, n);
    // keep the bytes of a partial record at the front
    const used = n * RECORD_BYTES;
    if (used < this.fill) this.bytes.copyWithin(0, used, this.fill);
    this.fill -= used;
    this.base += used;
  }
}

/** The three text formats: splits lines across chunks and parses each. */
class LineDecoder implements TraceDecoder {
  private readonly words = new Uint32Array(BATCH_RECORDS * 2);
  private n = 0;
  private carry = "";
  private line = 0;

  constructor(
    private readonly name: string,
    private readonly format: TraceFormat,
    private readonly sink: BatchSink,
    private readonly stats: TraceReadStats,
  ) {}

  push(chunk: Uint8Array): void {
    const text = this.carry + latin1(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      this.parseLine(text, start, nl);
      start = nl + 1;
    }
    this.carry = text.slice(start);
    if (this.carry.length > 1 << 20)
      throw new InputError("a line longer than 1 MiB: not a text trace (--format)", {
        file: this.name,
        line: this.line + 1,
      });
  }

  end(): void {
    if (this.carry.length > 0) this.parseLine(this.carry, 0, this.carry.length);
    this.carry = "";
    this.flush();
  }

  private flush(): void {
    if (this.n > 0) this.sink(this.words, this.n);
    this.stats.records += this.n;
    this.n = 0;
  }

  private emit(vaddr: number, kind: number): void {
    setRecord(this.words, this.n++, vaddr, kind);
    if (this.n === BATCH_RECORDS) this.flush();
  }

  private fail(message: string, col: number): never {
    throw new InputError(message, { file: this.name, line: this.line, col });
  }

  private parseLine(s: string, from: number, to: number): void {
    this.line++;
    this.stats.lines++;
    if (to > from && s.charCodeAt(to - 1) === 13) to--; // CRLF
    if (this.format === "lackey") this.lackey(s, from, to);
    else if (this.format === "refs") this.refs(s, from, to);
    else this.text(s, from, to);
  }

  /** `I  ADDR,SIZE` or ` K ADDR,SIZE` with K in L, S, M. */
  private lackey(s: string, from: number, to: number): void {
    const c0 = s.charCodeAt(from);
    const c1 = s.charCodeAt(from + 1);
    let kind = -1;
    if (c0 === 73 /* I */ && c1 === 32 && s.charCodeAt(from + 2) === 32) kind = FETCH;
    else if (c0 === 32 && s.charCodeAt(from + 2) === 32)
      kind = c1 === 76 /* L */ ? LOAD : c1 === 83 /* S */ ? STORE : c1 === 77 /* M */ ? MODIFY : -1;
    if (kind < 0) {
      this.stats.skippedLines++;
      return;
    }
    let i = from + 3;
    while (i < to && s.charCodeAt(i) === 32) i++;
    const start = i;
    let v = 0;
    for (; i < to; i++) {
      const d = hexDigit(s.charCodeAt(i));
      if (d < 0) break;
      v = v * 16 + d;
      if (v >= ADDR_LIMIT)
        this.fail(`address ${excerpt(s.slice(start, i + 1))}... is not below 2^47`, start - from + 1);
    }
    if (i === start) this.fail("expected a hexadecimal address after the access kind", i - from + 1);
    if (s.charCodeAt(i) !== 44 /* , */) this.fail("expected ',SIZE' after the address", i - from + 1);
    const sizeAt = ++i;
    while (i < to && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    if (i === sizeAt) this.fail("expected the access size after ','", i - from + 1);
    if (i !== to && s.slice(i, to).trim() !== "")
      this.fail("unexpected text after the access size", i - from + 1);
    this.emit(v, kind);
  }

  /** ADDR [R|W|X], or [R|W|X] ADDR; `#` starts a comment. */
  private text(s: string, from: number, to: number): void {
    const hash = s.indexOf("#", from);
    const end = hash >= 0 && hash < to ? hash : to;
    const body = s.slice(from, end);
    const tokens: { t: string; col: number }[] = [];
    const re = /\S+/g;
    for (let m = re.exec(body); m !== null; m = re.exec(body)) tokens.push({ t: m[0], col: m.index + 1 });
    if (tokens.length === 0) {
      this.stats.skippedLines++;
      return;
    }
    if (tokens.length > 2) this.fail(`expected ADDRESS [R|W|X], not ${tokens.length} words`, tokens[2].col);
    let kind = LOAD;
    let addr = tokens[0];
    if (tokens.length === 2) {
      const k0 = kindOfLetter(tokens[0].t);
      const k1 = kindOfLetter(tokens[1].t);
      if (k1 >= 0) kind = k1;
      else if (k0 >= 0) {
        kind = k0;
        addr = tokens[1];
      } else this.fail(`expected R, W or X, not ${excerpt(tokens[1].t)}`, tokens[1].col);
    }
    const v = parseNumber(addr.t);
    if (v === null) this.fail(`${excerpt(addr.t)} is not an address (0x hex or decimal)`, addr.col);
    if (v >= ADDR_LIMIT) this.fail(`address ${excerpt(addr.t)} is not below 2^47`, addr.col);
    this.emit(v, kind);
  }

  /** Page numbers separated by commas or white space. */
  private refs(s: string, from: number, to: number): void {
    const body = s.slice(from, to);
    const re = /[^\s,]+/g;
    let any = false;
    for (let m = re.exec(body); m !== null; m = re.exec(body)) {
      any = true;
      const v = parseNumber(m[0]);
      if (v === null || !/^(0x[0-9a-f]+|\d+)$/i.test(m[0]))
        this.fail(`${excerpt(m[0])} is not a page number`, m.index + 1);
      if (v >= ADDR_LIMIT / 4096)
        this.fail(`page ${excerpt(m[0])} is beyond 2^35 (addresses below 2^47)`, m.index + 1);
      this.emit(v * 4096, LOAD);
    }
    if (!any) this.stats.skippedLines++;
  }
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** 0x hex, plain hex with a letter a-f, or decimal; null if none of these. */
function parseNumber(t: string): number | null {
  let digits = t;
  let base = 10;
  if (/^0x/i.test(t)) {
    digits = t.slice(2);
    base = 16;
  } else if (/[a-f]/i.test(t)) base = 16;
  if (digits === "" || !(base === 16 ? /^[0-9a-f]+$/i : /^\d+$/).test(digits)) return null;
  if (digits.length > 16) return Number.POSITIVE_INFINITY;
  const v = Number.parseInt(digits, base);
  return Number.isFinite(v) ? v : null;
}
