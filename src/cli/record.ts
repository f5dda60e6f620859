/**
 * `vmlab record [options] -- PROGRAM ARGS...`: runs PROGRAM under
 * `valgrind --tool=lackey --trace-mem=yes` and feeds its accesses straight
 * into the simulation (the same options as `vmlab trace`), or with `--out
 * FILE` writes them as a binary trace (zstd when FILE ends in .zst, gzip for
 * .gz, else plain). The trace comes through a pipe of its own (valgrind's
 * --log-fd=3); the program's standard output and error go to vmlab's
 * standard error, so that standard output carries only the report.
 */
import { spawn } from "node:child_process";
import { createWriteStream, renameSync } from "node:fs";
import { createRequire } from "node:module";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { InputError } from "../base/errors.ts";
import { streamSource } from "../workloads/trace/open.ts";
import { RECORD_BYTES } from "../workloads/trace/record.ts";
import { checkOutputPath, removeQuietly } from "./shared/output.ts";
import { runTraceCli, type TraceCliOptions, type TraceOutcome } from "./trace/index.ts";

export interface RecordOptions extends TraceCliOptions {
  out?: string;
}

const INSTALL = "valgrind is not installed (Debian: apt-get install valgrind)";

/** Starts valgrind with lackey on fd 3; rejects with an InputError if it cannot start. */
async function startValgrind(argv: string[]) {
  const child = spawn("valgrind", ["--tool=lackey", "--trace-mem=yes", "--log-fd=3", ...argv], {
    stdio: ["inherit", "pipe", "pipe", "pipe"],
  });
  // the program's own output: to our standard error
  child.stdout!.pipe(process.stderr, { end: false });
  child.stderr!.pipe(process.stderr, { end: false });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (e) =>
      reject(
        (e as NodeJS.ErrnoException).code === "ENOENT" ? new InputError(INSTALL) : new InputError(e.message),
      ),
    );
  });
  const exited = new Promise<number>((resolve) =>
    child.once("close", (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  return { child, trace: child.stdio[3] as Readable, exited };
}

export async function runRecordCli(
  argv: string[],
  o: RecordOptions,
): Promise<TraceOutcome & { programExit: number }> {
  if (argv.length === 0)
    throw new InputError("vmlab record: name a program after --, e.g. vmlab record -- /bin/ls");
  const name = `valgrind lackey: ${argv.join(" ")}`;
  if (o.out !== undefined) return recordToFile(argv, o.out, name);
  // check every option before starting anything
  await runTraceCli("-", { ...o, format: "lackey" }, undefined, true);
  const v = await startValgrind(argv);
  const r = await runTraceCli("-", { ...o, format: "lackey" }, () => streamSource(name, v.trace, "lackey"));
  const code = await v.exited;
  if (r.summary !== undefined && r.summary.accesses === 0)
    return {
      text: null,
      error: `${name}: valgrind exited with ${code} and traced nothing`,
      programExit: code,
    };
  return { ...r, programExit: code };
}

/** Writes the accesses as u64-addr2kind records, compressed by the name; whole or not at all. */
async function recordToFile(
  argv: string[],
  out: string,
  name: string,
): Promise<TraceOutcome & { programExit: number }> {
  if (!/\.(u64|bin)(\.(zst|gz))?$/.test(out))
    throw new InputError(
      `--out: name the file .u64, .u64.zst or .u64.gz (the binary trace format), not '${out}'`,
    );
  checkOutputPath(out, "--out");
  const v = await startValgrind(argv);
  const tmp = `${out}.tmp-${process.pid}`;
  const file = createWriteStream(tmp);
  let sink: Writable = file;
  let compressor: NodeJS.ReadWriteStream | null = null;
  if (out.endsWith(".zst")) {
    const { CompressStream } = createRequire(import.meta.url)("zstd-napi") as {
      CompressStream: new () => NodeJS.ReadWriteStream;
    };
    compressor = new CompressStream();
  } else if (out.endsWith(".gz")) compressor = createGzip();
  const done = compressor ? pipeline(compressor as unknown as Readable, file) : null;
  if (compressor) sink = compressor as unknown as Writable;
  let records = 0;
  try {
    const stats = await streamSource(name, v.trace, "lackey").read({
      records: (w, n) => {
        records += n;
        // a copy: the batch buffer is reused for the next batch (valgrind is far slower than the writer)
        sink.write(Buffer.from(w.buffer.slice(w.byteOffset, w.byteOffset + n * RECORD_BYTES)));
      },
    });
    sink.end();
    if (done) await done;
    else await new Promise<void>((resolve, reject) => file.once("finish", resolve).once("error", reject));
    const code = await v.exited;
    if (records === 0) throw new InputError(`${name}: valgrind exited with ${code} and traced nothing`);
    renameSync(tmp, out);
    return {
      text: `recorded ${records.toLocaleString("en-US")} accesses of '${argv.join(" ")}' to ${out} (${stats.skippedLines} valgrind lines skipped; the program exited with ${code})`,
      error: null,
      programExit: code,
    };
  } catch (e) {
    removeQuietly(tmp);
    v.child.kill();
    if (e instanceof InputError) return { text: null, error: e.format(), programExit: 1 };
    throw e;
  }
}
