/**
 * Opening a trace: the one place that chooses how its records are read.
 * It looks at a file's first bytes once (the compression; the format too,
 * when it is to be guessed and the choice depends on it) and picks the
 * reading path:
 *
 * - `runs`: a binary (u64-addr2kind) file, when the consumer takes runs
 *   (machine mode with nothing alongside that needs every record), is read,
 *   checked and folded into runs on the reading thread (readRuns, worker.ts,
 *   runs.ts);
 * - `raw`: a binary file, when the consumer takes unchecked records
 *   itself (MachineMode.feedRecords: its WebAssembly hit loop checks each
 *   record and counts its totals as a fold would, so folding first is work
 *   done twice): the records straight from the reading thread's slots,
 *   decompressed there (readRecordsRaw);
 * - `records`: everything else (standard input, a program's pipe, the text
 *   formats, a zstd file without zstd-napi's binding, a consumer that needs
 *   each record) in batches of records (readTrace): a compressed file is
 *   decompressed on the reading thread, standard input on this one.
 *
 * Every path gives the consumer the same figures (docs/trace.md, "Speed").
 */
import { statSync } from "node:fs";
import type { Readable } from "node:stream";
import type { WasmMemory } from "../../base/wasm.ts";
import {
  type BatchSink,
  canFold,
  formatOfName,
  type RawRecordSink,
  type RunSink,
  readRecordsRaw,
  readRuns,
  readTrace,
  sniffFormat,
  type TraceFormat,
  type TraceReadStats,
} from "./formats.ts";
import {
  type Compression,
  compressionOf,
  decodeHead,
  HEAD_BYTES,
  openStream,
  openTrace,
  openTraceFile,
  peekBytes,
  type TraceInput,
} from "./input.ts";
import { RING_BYTES, ringMemory, warmReader } from "./worker.ts";

export type ReadingPath = "runs" | "raw" | "records";

/** Where the records go: `runs` is needed when the source's path is `runs`, `raw` when it is `raw`. */
export interface TraceSinks {
  records: BatchSink;
  runs?: RunSink;
  raw?: RawRecordSink;
  /** bytes read from the file or stream so far (compressed), and records so far */
  progress?: (rawBytes: number, records: number) => void;
}

/** An opened trace, read once by `read`. */
export interface TraceSource {
  /** the name for messages: the path, `<stdin>`, or the stream's name */
  readonly name: string;
  /** the compression (a stream's is known once its first bytes have come) */
  readonly compression: Compression;
  readonly path: ReadingPath;
  /** the format: the one given, or `bin` on the runs path (readTrace's stats say which `auto` found) */
  readonly format: TraceFormat | "auto";
  /** the file's size in bytes, 0 for a stream or a file that cannot be read */
  readonly size: number;
  read(sinks: TraceSinks): Promise<TraceReadStats>;
}

export interface OpenOptions {
  format: TraceFormat | "auto";
  /** the consumer takes runs (MachineMode.takesRuns, and nothing alongside needs every record) */
  runs?: boolean;
  /** the consumer takes unchecked records (MachineMode.takesRecords, nothing alongside): preferred to runs */
  raw?: boolean;
  /** what `-` reads */
  stdin?: Readable;
  /** raw: the consumer's shared memory, whose start the reading thread's slots are (worker.ts's ringMemory) */
  memory?: WasmMemory | null;
}

/**
 * Opens `file` (`-` for standard input) on the reading path that suits it
 * and the consumer. Nothing is read but the file's first bytes (errors of
 * the file system come from `read`, naming the file).
 */
export function openSource(file: string, o: OpenOptions): TraceSource {
  if (file === "-") return recordsSource(openTrace(file, o.stdin), o.format, 0);
  const size = fileSize(file);
  if (!o.runs && !o.raw) return recordsSource(openTrace(file), o.format, size);
  // the format from the name when it says one: the first bytes decompressed only when it does not (a
  // zstd file's would load zstd's binding on this thread, ~1 ms of every run, for nothing)
  const named = o.format === "auto" ? formatOfName(file) : o.format;
  const head = peekBytes(file, named === null ? HEAD_BYTES : 4);
  const codec = compressionOf(head);
  const format = named ?? sniffFormat(file, decodeHead(head));
  if (format === "bin" && canFold(codec))
    return foldedSource(file, codec, size, o.raw === true, o.raw === true ? (o.memory ?? null) : null);
  return recordsSource(openTraceFile(file, codec), o.format, size);
}

/** An already open stream (a child's pipe) named `name`, read record by record. */
export function streamSource(name: string, raw: Readable, format: TraceFormat | "auto"): TraceSource {
  return recordsSource(openStream(name, raw), format, 0);
}

/**
 * Starts a reading thread ahead of opening `file`, when it will need one
 * (a file, not standard input): a thread takes some 25 ms to start.
 */
export function warmUp(file: string): void {
  if (file !== "-") warmReader();
}

/**
 * For the raw path (OpenOptions.memory): a shared WebAssembly memory whose
 * first `from` bytes the reading thread's slots take, and whose rest the
 * consumer may grow into (machine mode's hit loop: hitLoop.ts), so that it
 * reads the records where zstd wrote them. Null for standard input, or
 * without WebAssembly (or VMLAB_WASM=0).
 */
export function ringFor(file: string): { memory: WasmMemory; from: number } | null {
  if (file === "-") return null;
  const memory = ringMemory(file);
  return memory === null ? null : { memory, from: RING_BYTES };
}

function recordsSource(input: TraceInput, format: TraceFormat | "auto", size: number): TraceSource {
  return {
    name: input.name,
    get compression() {
      return input.compression;
    },
    path: "records",
    format,
    size,
    read: (sinks) =>
      readTrace(
        input,
        format,
        sinks.records,
        sinks.progress && ((_bytes, records) => sinks.progress!(input.rawBytes, records)),
      ),
  };
}

/** A binary file read as runs (the reading thread folds records) or as raw records (it only decompresses). */
function foldedSource(
  file: string,
  codec: Compression,
  size: number,
  raw: boolean,
  memory: WasmMemory | null,
): TraceSource {
  return {
    name: file,
    compression: codec,
    path: raw ? "raw" : "runs",
    format: "bin",
    size,
    read: (sinks) => {
      if (raw) {
        if (sinks.raw === undefined)
          throw new Error(`${file}: read as raw records, but the consumer takes none`);
        return readRecordsRaw(file, sinks.raw, sinks.progress, codec, memory);
      }
      if (sinks.runs === undefined) throw new Error(`${file}: read as runs, but the consumer takes no runs`);
      return readRuns(file, sinks.runs, sinks.progress, codec);
    },
  };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
