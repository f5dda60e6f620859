/**
 * `vmlab gen PATTERN`: a synthetic trace in vmlab's binary format, to a file
 * (compressed by its name: .zst, .gz, or plain) or to standard output, to
 * pipe into `vmlab trace -`. The records are written as they are generated,
 * a batch at a time, waiting for the output: the memory stays at a few
 * batches whatever --refs is. A file is written whole or not at all (a
 * temporary file renamed into place); a standard output that closes early
 * (`vmlab gen ... | head -c N`) ends the run quietly.
 */
import { createWriteStream, renameSync } from "node:fs";
import { createRequire } from "node:module";
import { Readable, type Transform, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { InputError } from "../base/errors.ts";
import { type Pattern, traceBatches } from "../workloads/trace/generate.ts";
import { checkOutputPath, removeQuietly } from "./shared/output.ts";

export interface GenOptions {
  pages: string;
  refs: string;
  writeRatio: string;
  zipfS: string;
  seed: string;
  out?: string;
}

const num = (text: string, what: string): number => {
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v))
    throw new InputError(`${what} must be a number, not '${text}'`);
  return v;
};

/** The records as byte chunks, generated as they are asked for (each a copy: the batch buffer is reused). */
function* records(pattern: string, o: GenOptions): Generator<Buffer> {
  const refs = num(o.refs, "--refs");
  if (refs > 1e9) throw new InputError("--refs: at most 10^9 references at once");
  const batches = traceBatches({
    pattern: pattern as Pattern,
    pages: num(o.pages, "--pages"),
    refs,
    writeRatio: num(o.writeRatio, "--write-ratio"),
    zipfS: num(o.zipfS, "--zipf-s"),
    seed: num(o.seed, "--seed"),
  });
  for (const [w, n] of batches) yield Buffer.from(w.buffer.slice(w.byteOffset, w.byteOffset + n * 8));
}

/** The chunks, the first one already made (so that bad options throw now, not inside a stream). */
function started(chunks: Generator<Buffer>): Iterable<Buffer> {
  const first = chunks.next();
  return {
    *[Symbol.iterator]() {
      if (first.done) return;
      yield first.value;
      yield* { [Symbol.iterator]: () => chunks };
    },
  };
}

/** Writes the chunks to `out`, waiting whenever it asks to; false when it closed or failed first. */
async function writeAll(out: Writable, chunks: Iterable<Buffer>): Promise<boolean> {
  for (const c of chunks) {
    if (out.destroyed || out.writableEnded) return false;
    if (!out.write(c)) {
      const drained = await new Promise<boolean>((resolve) => {
        const settle = (ok: boolean) => () => {
          out.off("drain", onDrain);
          out.off("close", onClose);
          out.off("error", onClose);
          resolve(ok);
        };
        const onDrain = settle(true);
        const onClose = settle(false);
        out.on("drain", onDrain);
        out.on("close", onClose);
        out.on("error", onClose);
      });
      if (!drained) return false;
    }
  }
  return true;
}

export async function runGenCli(pattern: string, o: GenOptions, stdout: Writable): Promise<string | null> {
  if (o.out === undefined) {
    // the options are checked (by the first chunk) before anything is written
    await writeAll(stdout, started(records(pattern, o)));
    return null;
  }
  const out = o.out;
  if (!/\.(u64|bin)(\.(zst|gz))?$/.test(out))
    throw new InputError(`--out: name the file .u64, .u64.zst or .u64.gz, not '${out}'`);
  checkOutputPath(out, "--out");
  const chunks = started(records(pattern, o));
  let count = 0;
  const counted = function* (): Generator<Buffer> {
    for (const c of chunks) {
      count += c.length / 8;
      yield c;
    }
  };
  const stages: (Readable | Transform | Writable)[] = [Readable.from(counted(), { objectMode: false })];
  if (out.endsWith(".zst")) {
    const { CompressStream } = createRequire(import.meta.url)("zstd-napi") as {
      CompressStream: new () => Transform;
    };
    stages.push(new CompressStream());
  } else if (out.endsWith(".gz")) stages.push(createGzip());
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    stages.push(createWriteStream(tmp));
    await pipeline(stages);
    renameSync(tmp, out);
  } catch (e) {
    removeQuietly(tmp);
    if (e instanceof InputError) throw e;
    throw new InputError(`--out: cannot write ${out}: ${(e as Error).message}`);
  }
  return `wrote ${count.toLocaleString("en-US")} references (${pattern}) to ${out}`;
}
