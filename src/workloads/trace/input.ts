/**
 * Trace input: a file or standard input, plain, gzip or zstd (detected from
 * the first bytes, not the name), as a stream of byte chunks. Nothing is
 * held beyond one chunk, so a trace of any length reads in constant memory.
 *
 * A compressed file is read and decompressed by the reading thread
 * (worker.ts) into shared slots; standard input on this thread: zstd with
 * zstd-napi's streaming decoder (native) when it loads, else the system
 * `zstd -dcq` in a child process; gzip with node:zlib.
 */
import type * as ChildProcess from "node:child_process";
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import type * as Zlib from "node:zlib";
import { InputError } from "../../base/errors.ts";
import { codecOf } from "./readerBody.ts";
import { type Codec, readSlots, type SlotMessage, zstdBindingPath } from "./worker.ts";

/** How a trace is compressed (read from its first bytes). */
export type Compression = Codec;

/** An opened trace: its name for messages, and its decompressed bytes. */
export interface TraceInput {
  name: string;
  compression: Compression;
  chunks: AsyncIterable<Buffer>;
  /** bytes read from the file or stdin so far (compressed) */
  rawBytes: number;
}

/**
 * node:zlib and node:child_process, loaded when a trace needs them (a gzip
 * input; the `zstd` command): loaded with this module they took ~1.3 ms of
 * every `vmlab trace` start, a zstd file's among them (issue #20, goal 1).
 */
const builtin = createRequire(import.meta.url);
const zlib = (): typeof Zlib => builtin("node:zlib") as typeof Zlib;
const childProcess = (): typeof ChildProcess => builtin("node:child_process") as typeof ChildProcess;

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
  if (path === "-") return openStream("<stdin>", stdin);
  return openTraceFile(path, compressionOf(peekBytes(path, 4)), threaded);
}

/** Opens the file `path`, whose first bytes announced `codec` (compressionOf). */
export function openTraceFile(path: string, codec: Compression, threaded = true): TraceInput {
  if (threaded && (codec === "gzip" || (codec === "zstd" && zstdBindingPath() !== null))) {
    // decompressed by the reading thread, in parallel with the simulation
    const input: TraceInput = {
      name: path,
      compression: codec,
      rawBytes: 0,
      chunks: viaWorker(path, path, codec, (n) => {
        input.rawBytes = n;
      }),
    };
    return input;
  }
  return openStream(path, createReadStream(path, { highWaterMark: 1 << 20 }));
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
  const kind: Compression = codecOf(head);
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
  if (kind === "gzip") decoder = zlib().createGunzip();
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
  const child = childProcess().spawn("zstd", ["-dcq"], { stdio: ["pipe", "pipe", "pipe"] });
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

/** How many of a file's first bytes decodeHead wants. */
export const HEAD_BYTES = 64 << 10;

/**
 * The first (at most) `n` decompressed bytes of a trace file, decompressed
 * synchronously from `head`, its first HEAD_BYTES bytes (peekBytes): enough
 * to guess its format. Empty when they cannot be decoded (the file's reader
 * then says why).
 */
export function decodeHead(head: Buffer, n = 4096): Buffer {
  try {
    switch (compressionOf(head)) {
      case "none":
        return head.subarray(0, n);
      case "gzip": {
        const z = zlib();
        return z.gunzipSync(head, { finishFlush: z.constants.Z_SYNC_FLUSH }).subarray(0, n);
      }
      case "zstd": {
        const binding = zstdBindingPath();
        if (binding === null) return Buffer.alloc(0);
        const req = createRequire(import.meta.url);
        const dctx = new (req(binding).DCtx)();
        const out = Buffer.alloc(n);
        const r = dctx.decompressStream(out, head) as number[];
        return out.subarray(0, r[1]);
      }
    }
  } catch {
    return Buffer.alloc(0);
  }
}

/** The compression a file's first bytes announce. */
export function compressionOf(head: Buffer): Compression {
  return codecOf(head);
}

/** The first `n` bytes of a file, or none when it cannot be read (its reader reports why). */
export function peekBytes(path: string, n: number): Buffer {
  try {
    const fd = openSync(path, "r");
    try {
      const b = Buffer.alloc(n);
      return b.subarray(0, readSync(fd, b, 0, n, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return Buffer.alloc(0);
  }
}

/**
 * Chunks decompressed by the reading thread (worker.ts): each chunk is a
 * view of a shared slot, handed back to the worker when the consumer asks
 * for the next one (a chunk must not be kept past that).
 */
async function* viaWorker(
  path: string,
  name: string,
  codec: Compression,
  setRaw: (n: number) => void,
): AsyncIterable<Buffer> {
  for await (const { m, view } of readSlots(path, codec, false)) {
    setRaw(m.raw);
    if (m.error !== undefined) throw workerError(m, name, codec);
    if (m.done) return;
    yield Buffer.from(view.buffer, view.byteOffset, view.length);
  }
}

/** A reading thread's error as an InputError naming the file. */
export function workerError(m: SlotMessage, name: string, codec: Compression): InputError {
  if (m.code !== undefined && /^E[A-Z]+$/.test(m.code))
    return fsError(Object.assign(new Error(m.error), { code: m.code }), name);
  if (m.decode) return decodeError(new Error(m.error), name, codec);
  throw new Error(`the reading thread failed on ${name}: ${m.error}`);
}

function once(emitter: NodeJS.EventEmitter, event: string): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}

/** A file system error as an InputError naming the file. */
export function fsError(e: unknown, name: string): InputError {
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
