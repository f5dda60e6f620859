/**
 * Trace input: a file or standard input, plain, gzip or zstd (detected from
 * the first bytes, not the name), as a stream of byte chunks. Nothing is
 * held beyond one chunk, so a trace of any length reads in constant memory.
 *
 * zstd: zstd-napi's streaming decoder (native) when it loads, else the
 * system `zstd -dcq` in a child process; gzip: node:zlib.
 */
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
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
export function openTrace(path: string, stdin: Readable = process.stdin): TraceInput {
  const name = path === "-" ? "<stdin>" : path;
  const raw: Readable = path === "-" ? stdin : createReadStream(path, { highWaterMark: 1 << 20 });
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
