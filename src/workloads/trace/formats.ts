/**
 * Reading a trace: a file or a stream (plain, gzip or zstd: input.ts),
 * decompressed chunk by chunk (or by the reading thread, which also folds
 * runs: worker.ts), each chunk decoded into records by decode.ts, which
 * says what the formats are. Nothing is allocated per access and memory
 * stays constant whatever the length.
 */

import type { WasmMemory } from "../../base/wasm.ts";
import {
  type BatchSink,
  badRecord,
  createDecoder,
  sniffFormat,
  type TraceFormat,
  type TraceReadStats,
  truncated,
} from "./decode.ts";
import { type Compression, compressionOf, peekBytes, type TraceInput, workerError } from "./input.ts";
import { RUN_TOTALS } from "./runs.ts";
import { readSlots, zstdBindingPath } from "./worker.ts";

export {
  BATCH_RECORDS,
  type BatchSink,
  excerpt,
  formatOfName,
  sniffFormat,
  TRACE_FORMATS,
  type TraceFormat,
  type TraceReadStats,
} from "./decode.ts";

/**
 * Reads the whole trace into `sink`, batch by batch. Bad input stops it with
 * an InputError naming the byte offset (binary) or line and column (text);
 * the records before the bad one have been handed on by then, and the
 * caller must not present its figures as a complete result.
 */
export async function readTrace(
  input: TraceInput,
  format: TraceFormat | "auto",
  sink: BatchSink,
  onProgress?: (bytes: number, records: number) => void,
): Promise<TraceReadStats> {
  const it = input.chunks[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done ? Buffer.alloc(0) : first.value;
  const fmt = format === "auto" ? sniffFormat(input.name, head) : format;
  const stats: TraceReadStats = { format: fmt, records: 0, bytes: 0, lines: 0, skippedLines: 0 };
  const chunks = async function* () {
    if (!first.done) yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  };
  const decoder = createDecoder(input.name, fmt, sink, stats);
  try {
    for await (const c of chunks()) {
      stats.bytes += c.length;
      decoder.push(c);
      onProgress?.(stats.bytes, stats.records);
    }
    decoder.end();
  } finally {
    // stop the source (a decompressing worker, a child's pipe) when the reading stops early
    await it.return?.();
  }
  return stats;
}

/**
 * readTrace for a caller that runs synchronously (a scenario's replay):
 * decompressed chunks from an iterator (the first one guesses the format),
 * decoded as they come. A sink that throws stops the reading; the iterator
 * is closed either way.
 */
export function readTraceSync(
  name: string,
  chunks: Iterator<Buffer>,
  format: TraceFormat | "auto",
  sink: BatchSink,
): TraceReadStats {
  try {
    const first = chunks.next();
    const head = first.done ? Buffer.alloc(0) : first.value;
    const fmt = format === "auto" ? sniffFormat(name, head) : format;
    const stats: TraceReadStats = { format: fmt, records: 0, bytes: 0, lines: 0, skippedLines: 0 };
    const decoder = createDecoder(name, fmt, sink, stats);
    for (let r = first; !r.done; r = chunks.next()) {
      stats.bytes += r.value.length;
      decoder.push(r.value);
    }
    decoder.end();
    return stats;
  } finally {
    chunks.return?.();
  }
}

/** A whole trace already in memory (decompressed), decoded at once and synchronously. */
export function decodeAll(
  name: string,
  data: Buffer,
  format: TraceFormat | "auto",
  sink: BatchSink,
): TraceReadStats {
  return readTraceSync(name, [data][Symbol.iterator](), format, sink);
}

/** Receives `count` runs (see runs.ts) and their records' totals (RUN_TOTALS numbers). */
export type RunSink = (runs: Uint32Array, count: number, totals: Float64Array) => void;

/**
 * Whether readRuns can read `path`: a file (not standard input: folding on
 * the main thread would cost more than it saves), and a zstd file only with
 * zstd-napi's binding.
 */
export function canReadRuns(path: string): boolean {
  if (path === "-") return false;
  return canFold(compressionOf(peekBytes(path, 4)));
}

/** Whether the reading thread can read a file compressed with `codec` (zstd only with zstd-napi's binding). */
export function canFold(codec: Compression): boolean {
  return codec !== "zstd" || zstdBindingPath() !== null;
}

/**
 * Reads a u64-addr2kind trace file (plain, gzip or zstd) as runs, which the
 * reading thread checks and folds (worker.ts) while `sink` takes the runs
 * of the slot before: the fast path of machine mode. The same errors as
 * readTrace's, at the same offsets, after the runs before the bad record.
 * `onProgress` gets the bytes read from the file and the records so far.
 * `codec` is the file's compression when the caller has read it already.
 */
export async function readRuns(
  path: string,
  sink: RunSink,
  onProgress?: (rawBytes: number, records: number) => void,
  codec: Compression = path === "-" ? "none" : compressionOf(peekBytes(path, 4)),
): Promise<TraceReadStats> {
  if (path === "-" || !canFold(codec))
    throw new Error(`readRuns: ${path} is not a file the reading thread can read`);
  const totals = new Float64Array(RUN_TOTALS);
  const stats: TraceReadStats = { format: "bin", records: 0, bytes: 0, lines: 0, skippedLines: 0 };
  for await (const { m, view } of readSlots(path, codec, true)) {
    stats.bytes = m.out;
    if (m.error !== undefined) throw workerError(m, path, codec);
    if (m.slot !== undefined) {
      totals.set(m.totals!);
      sink(new Uint32Array(view.buffer, view.byteOffset, view.length / 4), m.runs!, totals);
      stats.records += totals[6];
      onProgress?.(m.raw, stats.records);
      continue;
    }
    if (m.bad !== undefined) throw badRecord(path, stats.records, m.bad.lo, m.bad.hi, m.bad.offset);
    if (m.rest) throw truncated(path, m.rest, stats.records, m.out - m.rest);
    return stats;
  }
  throw new Error("the reading thread ended without a last message");
}

/**
 * Receives `count` u64-addr2kind records (pairs of 32-bit words, low first),
 * not yet checked, with their totals (RUN_TOTALS, as the fold counts them:
 * of all `count`), and returns how many it took: `count`, or the index of
 * the first that is not one (its high word at or above 2^17), before which
 * it stopped (and counted the totals of those before it itself).
 */
export type RawRecordSink = (words: Uint32Array, count: number, totals: Float64Array) => number;

/**
 * Reads a u64-addr2kind trace file (plain, gzip or zstd) as its records
 * straight from the reading thread's slots (worker.ts, raw: decompressed
 * there, neither checked nor folded), for a consumer that checks each
 * record as it takes it (MachineMode.feedRecords, whose hit loop does what
 * a fold would per record). The same errors as readTrace's and readRuns',
 * at the same offsets, after the records before the bad one. `memory`: the
 * consumer's shared memory (worker.ts's ringMemory), whose first RING_BYTES
 * the slots then are: the records reach the sink where zstd wrote them.
 */
export async function readRecordsRaw(
  path: string,
  sink: RawRecordSink,
  onProgress?: (rawBytes: number, records: number) => void,
  codec: Compression = path === "-" ? "none" : compressionOf(peekBytes(path, 4)),
  memory: WasmMemory | null = null,
): Promise<TraceReadStats> {
  if (path === "-" || !canFold(codec))
    throw new Error(`readRecordsRaw: ${path} is not a file the reading thread can read`);
  const stats: TraceReadStats = { format: "bin", records: 0, bytes: 0, lines: 0, skippedLines: 0 };
  let rest = 0;
  const totals = new Float64Array(RUN_TOTALS);
  for await (const { m, view } of readSlots(path, codec, false, true, memory)) {
    stats.bytes = m.out;
    if (m.error !== undefined) throw workerError(m, path, codec);
    if (m.slot !== undefined) {
      // every slot but the last is full (a whole number of records): a record never spans two
      const count = Math.floor(m.bytes! / 8);
      rest = m.bytes! - count * 8;
      const words = new Uint32Array(view.buffer, view.byteOffset, 2 * count);
      totals.set(m.totals!);
      const taken = sink(words, count, totals);
      const at = stats.records;
      stats.records += taken;
      if (taken < count)
        throw badRecord(path, stats.records, words[2 * taken], words[2 * taken + 1], (at + taken) * 8);
      onProgress?.(m.raw, stats.records);
      continue;
    }
    if (rest) throw truncated(path, rest, stats.records, m.out - rest);
    return stats;
  }
  throw new Error("the reading thread ended without a last message");
}
