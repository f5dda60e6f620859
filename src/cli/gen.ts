/**
 * `vmlab gen PATTERN`: a synthetic trace in vmlab's binary format, to a file
 * (compressed by its name: .zst, .gz, or plain) or to standard output, to
 * pipe into `vmlab trace -`.
 */
import { createRequire } from "node:module";
import type { Writable } from "node:stream";
import { gzipSync } from "node:zlib";
import { InputError } from "../base/errors.ts";
import { generateTrace, type Pattern } from "../workloads/trace/generate.ts";
import { writeWhole } from "./shared/output.ts";

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

/** The records as bytes (one Buffer: generated traces are for experiments, up to 1e9 references). */
function records(pattern: string, o: GenOptions): Buffer[] {
  const parts: Buffer[] = [];
  const refs = num(o.refs, "--refs");
  if (refs > 1e9) throw new InputError("--refs: at most 10^9 references at once");
  generateTrace(
    {
      pattern: pattern as Pattern,
      pages: num(o.pages, "--pages"),
      refs,
      writeRatio: num(o.writeRatio, "--write-ratio"),
      zipfS: num(o.zipfS, "--zipf-s"),
      seed: num(o.seed, "--seed"),
    },
    (w, n) => {
      parts.push(Buffer.from(w.buffer.slice(w.byteOffset, w.byteOffset + n * 8)));
    },
  );
  return parts;
}

export async function runGenCli(pattern: string, o: GenOptions, stdout: Writable): Promise<string | null> {
  const parts = records(pattern, o);
  if (o.out === undefined) {
    for (const p of parts) if (!stdout.write(p)) await new Promise((r) => stdout.once("drain", r));
    return null;
  }
  if (!/\.(u64|bin)(\.(zst|gz))?$/.test(o.out))
    throw new InputError(`--out: name the file .u64, .u64.zst or .u64.gz, not '${o.out}'`);
  const raw = Buffer.concat(parts);
  let data: Buffer = raw;
  if (o.out.endsWith(".zst")) {
    const { compress } = createRequire(import.meta.url)("zstd-napi") as { compress(b: Buffer): Buffer };
    data = compress(raw);
  } else if (o.out.endsWith(".gz")) data = gzipSync(raw);
  writeWhole(o.out, data, "--out");
  return `wrote ${(raw.length / 8).toLocaleString("en-US")} references (${pattern}) to ${o.out}`;
}
