/**
 * Trace input: a file or standard input, plain, gzip or zstd (detected from
 * the first bytes, not the name), as a stream of byte chunks. Nothing is
 * held beyond one chunk, so a trace of any length reads in constant memory.
 *
 * zstd: zstd-napi's streaming decoder (native) when it loads, else the
 * system `zstd -dcq` in a child process; gzip: node:zlib.
 */
import { spawn } from "node:child_process";
import { closeSync, createReadStream, openSync, readFileSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { createGunzip, gunzipSync } from "node:zlib";
import { InputError } from "../../base/errors.ts";

export type Compression = "none" | "gzip" | "zstd";

/** An opened trace: its name for messages, and its decompressed bytes. */
export interface TraceInput {
  name: string;
  compression: Compression;
  chunks: AsyncIterable<Buffer>;
  /** bytes read from the file or stdin so far (compressed) */
  rawBytes: number;
}

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC = [0x1f, 0x8b];

function startsWith(b: Buffer, magic: number[]): boolean {
  return b.length >= magic.length && magic.every((m, i) => b[i] === m);
}

/** The zstd-napi DecompressStream constructor, or null when the native module is not available. */
function zstdNapi(): (new () => NodeJS.ReadWriteStream) | null {
  try {
    const req = createRequire(import.meta.url);
    return (req("zstd-napi") as { DecompressStream: new () => NodeJS.ReadWriteStream }).DecompressStream;
  } catch {
    return null;
  }
}

/**
 * Opens `path` (or `-` for standard input). The first chunk decides the
 * compression. Errors of the file system or of a decoder become InputErrors
 * naming the file.
 */
export function openTrace(path: string, stdin: Readable = process.stdin, threaded = true): TraceInput {
  const name = path === "-" ? "<stdin>" : path;
  const magic = path === "-" ? null : peek(path);
  const compressed = magic !== null && (startsWith(magic, ZSTD_MAGIC) || startsWith(magic, GZIP_MAGIC));
  if (threaded && compressed && (startsWith(magic, GZIP_MAGIC) || zstdNapiPath() !== null)) {
    // decompress in a worker thread, in parallel with the simulation (2 cores: about twice the throughput)
    const input: TraceInput = {
      name,
      compression: startsWith(magic, ZSTD_MAGIC) ? "zstd" : "gzip",
      rawBytes: 0,
      chunks: viaWorker(path, name, (n) => {
        input.rawBytes = n;
      }),
    };
    return input;
  }
  return openStream(name, path === "-" ? stdin : createReadStream(path, { highWaterMark: 1 << 20 }));
}

/**
 * A whole trace file read and decompressed at once (synchronously), for
 * scenarios: at most `limit` bytes once decompressed.
 */
export function readTraceFileSync(
  path: string,
  limit = 256 << 20,
): { data: Buffer; compression: Compression } {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw fsError(e, path);
  }
  let data = raw;
  let compression: Compression = "none";
  try {
    if (startsWith(raw, GZIP_MAGIC)) {
      compression = "gzip";
      data = gunzipSync(raw, { maxOutputLength: limit + 1 });
    } else if (startsWith(raw, ZSTD_MAGIC)) {
      compression = "zstd";
      const req = createRequire(import.meta.url);
      data = (req("zstd-napi") as { decompress(b: Buffer): Buffer }).decompress(raw);
    }
  } catch (e) {
    throw decodeError(e, path, compression);
  }
  if (data.length > limit)
    throw new InputError(`more than ${limit >> 20} MiB of trace: replay it with vmlab trace, which streams`, {
      file: path,
    });
  return { data, compression };
}

/** An already open stream (a child's pipe) as a trace named `name`. */
export function openStream(name: string, raw: Readable): TraceInput {
  const input: TraceInput = {
    name,
    compression: "none",
    rawBytes: 0,
    chunks: decode(
      raw,
      name,
      (c) => {
        input.compression = c;
      },
      (n) => {
        input.rawBytes += n;
      },
    ),
  };
  return input;
}

async function* decode(
  raw: Readable,
  name: string,
  setCompression: (c: Compression) => void,
  count: (n: number) => void,
): AsyncIterable<Buffer> {
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first: IteratorResult<Buffer>;
  try {
    first = await it.next();
  } catch (e) {
    throw fsError(e, name);
  }
  if (first.done) return;
  const head = first.value;
  const kind: Compression = startsWith(head, ZSTD_MAGIC)
    ? "zstd"
    : startsWith(head, GZIP_MAGIC)
      ? "gzip"
      : "none";
  setCompression(kind);
  // the raw stream again, first chunk included
  count(head.length);
  const rest = async function* () {
    yield head;
    for (;;) {
      let r: IteratorResult<Buffer>;
      try {
        r = await it.next();
      } catch (e) {
        throw fsError(e, name);
      }
      if (r.done) return;
      count(r.value.length);
      yield r.value;
    }
  };
  if (kind === "none") {
    yield* rest();
    return;
  }
  let decoder: NodeJS.ReadWriteStream;
  if (kind === "gzip") decoder = createGunzip();
  else {
    const Napi = zstdNapi();
    if (Napi === null) {
      yield* viaZstdCommand(rest(), name);
      return;
    }
    decoder = new Napi();
  }
  const feeder = (async () => {
    try {
      for await (const c of rest()) if (!decoder.write(c)) await once(decoder, "drain");
      decoder.end();
    } catch (e) {
      (decoder as unknown as Readable).destroy(e as Error);
    }
  })();
  try {
    for await (const c of decoder as unknown as AsyncIterable<Buffer>) yield c;
    await feeder;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw decodeError(e, name, kind);
  }
}

/** The fallback zstd decoder: the system `zstd -dcq`, fed and drained through pipes. */
async function* viaZstdCommand(input: AsyncIterable<Buffer>, name: string): AsyncIterable<Buffer> {
  const child = spawn("zstd", ["-dcq"], { stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on("error", () =>
      reject(new InputError("no zstd decoder: install zstd-napi or the zstd command", { file: name })),
    );
    child.on("close", (code) => resolve(code ?? 1));
  });
  const feeder = (async () => {
    for await (const c of input) if (!child.stdin.write(c)) await once(child.stdin, "drain");
    child.stdin.end();
  })();
  for await (const c of child.stdout) yield c as Buffer;
  await feeder;
  const code = await exited;
  if (code !== 0)
    throw new InputError(`corrupt or truncated zstd data: ${err.trim() || `zstd exited with ${code}`}`, {
      file: name,
    });
}

/** The first bytes of a file, or null when it cannot be read (the stream reports why). */
function peek(path: string): Buffer | null {
  try {
    const fd = openSync(path, "r");
    try {
      const b = Buffer.alloc(4);
      const n = readSync(fd, b, 0, 4, 0);
      return b.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

function zstdNapiPath(): string | null {
  try {
    return createRequire(import.meta.url).resolve("zstd-napi");
  } catch {
    return null;
  }
}

/** The decompressing worker (CommonJS, run with eval: no loader hooks needed). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const zlib = require("node:zlib");
let credits = 4;
let wake = null;
parentPort.on("message", () => { credits++; if (wake) { const w = wake; wake = null; w(); } });
(async () => {
  const src = fs.createReadStream(workerData.path, { highWaterMark: 1 << 20 });
  const dec = workerData.zstd ? new (require(workerData.zstd).DecompressStream)() : zlib.createGunzip();
  src.on("error", (e) => dec.destroy(e));
  src.pipe(dec);
  // the decoder's small pieces gathered into 4 MiB messages
  const SIZE = 4 << 20;
  let buf = new Uint8Array(SIZE);
  let fill = 0;
  const send = async () => {
    while (credits === 0) await new Promise((r) => { wake = r; });
    credits--;
    const ab = buf.buffer.slice(0, fill);
    parentPort.postMessage({ chunk: ab, raw: src.bytesRead }, [ab]);
    fill = 0;
  };
  for await (const c of dec) {
    let at = 0;
    while (at < c.length) {
      const n = Math.min(c.length - at, SIZE - fill);
      buf.set(c.subarray(at, at + n), fill);
      fill += n;
      at += n;
      if (fill === SIZE) await send();
    }
  }
  if (fill > 0) await send();
  parentPort.postMessage({ done: true, raw: src.bytesRead });
})().catch((e) => parentPort.postMessage({ error: String(e && e.message ? e.message : e), code: e && e.code }));
`;

/** Chunks decompressed by a worker thread, 4 MiB each, at most four in flight (constant memory). */
async function* viaWorker(path: string, name: string, setRaw: (n: number) => void): AsyncIterable<Buffer> {
  const isZstd = startsWith(peek(path) ?? Buffer.alloc(0), ZSTD_MAGIC);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path, zstd: isZstd ? zstdNapiPath() : null },
  });
  const queue: { chunk?: ArrayBuffer; done?: boolean; error?: string; code?: string; raw?: number }[] = [];
  let wake: (() => void) | null = null;
  worker.on("message", (m) => {
    queue.push(m);
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
  });
  worker.on("error", (e) => {
    queue.push({ error: e.message });
    wake?.();
  });
  try {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      const m = queue.shift()!;
      if (m.raw !== undefined) setRaw(m.raw);
      if (m.error !== undefined) {
        if (m.code !== undefined && /^E[A-Z]+$/.test(m.code))
          throw fsError(Object.assign(new Error(m.error), { code: m.code }), name);
        throw decodeError(new Error(m.error), name, isZstd ? "zstd" : "gzip");
      }
      if (m.done) return;
      worker.postMessage(1);
      yield Buffer.from(m.chunk!);
    }
  } finally {
    await worker.terminate();
  }
}

function once(emitter: NodeJS.EventEmitter, event: string): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}

function fsError(e: unknown, name: string): InputError {
  const err = e as NodeJS.ErrnoException;
  if (err.code === "ENOENT") return new InputError("no such file", { file: name });
  if (err.code === "EISDIR") return new InputError("is a directory, not a trace", { file: name });
  if (err.code === "EACCES") return new InputError("permission denied", { file: name });
  return new InputError(err.message ?? String(e), { file: name });
}

function decodeError(e: unknown, name: string, kind: Compression): InputError {
  if (e instanceof InputError) return e;
  const msg = (e as Error).message ?? String(e);
  return new InputError(`corrupt or truncated ${kind} data: ${msg}`, { file: name });
}
