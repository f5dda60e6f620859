/**
 * A trace file read synchronously and as a stream, for a scenario's
 * `replay` (a statement runs to its end before the next): the reading
 * thread (worker.ts) reads and decompresses it into its slots while this
 * thread decodes each slot as it comes and may stop at any record, so a
 * replay costs what it replays, not what the file holds.
 *
 * A scenario is data someone may hand you, so the file must be a regular
 * file (no device, pipe or socket: /dev/zero never ends, a pipe may never
 * open) inside one of the directories the caller allows, checked after
 * symbolic links and `..` are resolved.
 */
import { realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { InputError } from "../../base/errors.ts";
import { type BatchSink, readTraceSync, type TraceFormat, type TraceReadStats } from "./formats.ts";
import { compressionOf, fsError, peekBytes, workerError } from "./input.ts";
import { readSlotsSync, zstdBindingPath } from "./worker.ts";

export interface SyncReadOptions {
  /** the directories the file must be inside (their real paths are compared) */
  allowedDirs: readonly string[];
  /** the most decompressed bytes read before the reading stops with an error (default 256 MiB) */
  maxBytes?: number;
}

/**
 * Reads the trace `path` into `sink`, batch by batch, synchronously. A sink
 * that throws stops the reading (and the reading thread) at once. Errors
 * are InputErrors naming `path`.
 */
export function readTraceFileSync(
  path: string,
  format: TraceFormat | "auto",
  sink: BatchSink,
  o: SyncReadOptions,
): TraceReadStats {
  const maxBytes = o.maxBytes ?? 256 << 20;
  const real = checkedPath(path, o.allowedDirs);
  const codec = compressionOf(peekBytes(real, 4));
  if (codec === "zstd" && zstdBindingPath() === null)
    throw new InputError("no zstd decoder: install zstd-napi (or decompress the trace)", { file: path });
  function* chunks(): Generator<Buffer> {
    let out = 0;
    for (const { m, view } of readSlotsSync(real, codec)) {
      if (m.error !== undefined) throw workerError(m, path, codec);
      if (m.done) return;
      out += view.length;
      if (out > maxBytes)
        throw new InputError(
          `more than ${maxBytes >> 20} MiB of trace before the replay's end: replay it with vmlab trace, which has no such limit`,
          { file: path },
        );
      yield Buffer.from(view.buffer, view.byteOffset, view.length);
    }
  }
  return readTraceSync(path, chunks(), format, sink);
}

/** The real path of `path`, a regular file inside one of `dirs`; else an InputError naming `path`. */
function checkedPath(path: string, dirs: readonly string[]): string {
  const roots = dirs.flatMap((d) => {
    try {
      return [realpathSync(d)];
    } catch {
      return [];
    }
  });
  const inside = (p: string) =>
    roots.some((root) => {
      const rel = relative(root, p);
      return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
    });
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    // not there: say so only when it would be inside (no probing for files elsewhere)
    if (!inside(resolve(path))) throw outside(path, dirs);
    throw fsError(e, path);
  }
  if (!inside(real)) throw outside(path, dirs);
  const st = statSync(real);
  if (st.isDirectory()) throw new InputError("is a directory, not a trace", { file: path });
  if (!st.isFile()) {
    const kind = st.isFIFO()
      ? "a pipe"
      : st.isSocket()
        ? "a socket"
        : st.isCharacterDevice() || st.isBlockDevice()
          ? "a device"
          : "not a file";
    throw new InputError(`not a regular file (${kind}): a replay reads files only`, { file: path });
  }
  return real;
}

function outside(path: string, dirs: readonly string[]): InputError {
  return new InputError(
    `${path} is outside the directories a scenario may read (its own: ${resolve(dirs[0])}${
      dirs.length > 1
        ? `, and ${dirs
            .slice(1)
            .map((d) => resolve(d))
            .join(", ")}`
        : ""
    }); vmlab run --allow-read DIR adds one`,
  );
}
