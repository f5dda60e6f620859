/**
 * A local sweep's configurations as groups, one per job thread, that read
 * one decoding of the trace (sweepShared.ts): which ring each configuration
 * reads (the reading path `vmlab trace` would choose for it, open.ts), and a
 * thread's side: each of its jobs a whole `vmlab trace` run whose trace
 * source is the ring, all of them at once, chunk by chunk.
 */
import { readFileSync } from "node:fs";
import type { TraceCliOptions } from "../analysis/trace/flags.ts";
import { Replay } from "../analysis/trace/replay.ts";
import {
  badRecord,
  sniffFormat,
  type TraceFormat,
  type TraceReadStats,
  truncated,
} from "../workloads/trace/decode.ts";
import { canFold, readTrace } from "../workloads/trace/formats.ts";
import {
  type Compression,
  compressionOf,
  decodeHead,
  HEAD_BYTES,
  peekBytes,
  type TraceInput,
  workerError,
} from "../workloads/trace/input.ts";
import type { TraceSinks, TraceSource } from "../workloads/trace/open.ts";
import { RUN_TOTALS } from "../workloads/trace/runs.ts";
import { runSweepJob, type SweepJob, type SweepJobResult } from "./sweepJob.ts";
import { type Ring, RingReader } from "./sweepShared.ts";
import { parseReplay } from "./trace/options.ts";

/**
 * How a configuration reads the trace: the runs ring, the records ring, or
 * the file itself (a file the reading thread cannot read: zstd without
 * zstd-napi's binding; options that fail before anything is read; OPT,
 * which keeps the whole trace and so runs one configuration at a time).
 */
export type Reading = "runs" | "records" | "own";

/** The file as the sweep's reading thread sees it: its compression and first bytes. */
export interface TraceFile {
  path: string;
  codec: Compression;
  size: number;
  head: Buffer;
}

export function traceFile(path: string, size: number): TraceFile {
  const head = peekBytes(path, HEAD_BYTES);
  return { path, codec: compressionOf(head), size, head };
}

/**
 * The ring `job` reads: the runs when `vmlab trace` would read the file as
 * runs for it (openSource: its simulation takes runs, the format is bin and
 * the reading thread can read the file), else the records.
 */
export function readingOf(
  job: SweepJob,
  file: TraceFile,
  options: (j: SweepJob) => TraceCliOptions,
): Reading {
  if (!canFold(file.codec)) return "own";
  // OPT keeps the whole page string (4 bytes a reference) until the end: a pass's
  // OPT configurations side by side would hold it once each (64 of py-50M's
  // 51 M references: 13 GB), so each reads the file itself, one after another
  if (job.mode === "policy" && job.policy === "opt") return "own";
  let takesRuns: boolean;
  try {
    takesRuns = new Replay(parseReplay(options(job))).takesRuns;
  } catch {
    // bad options: the run fails before it reads (runTraceCli says why)
    return "own";
  }
  const format = job.format === "auto" ? sniffFormat(file.path, decodeHead(file.head)) : job.format;
  return takesRuns && format === "bin" ? "runs" : "records";
}

/** A job thread's share of a pass: its jobs, how each reads, and the rings. */
export interface SweepGroup {
  jobs: SweepJob[];
  reading: Reading[];
  /** the thread's index among the pass's readers of each ring */
  thread: number;
  rings: { runs: Ring | null; records: Ring | null };
  codec: Compression;
  size: number;
}

/** Runs every job of the group at once, each fed from its ring; results in the group's order. */
export async function runSweepGroup(g: SweepGroup): Promise<SweepJobResult[]> {
  const readers = { runs: null as RingReader | null, records: null as RingReader | null };
  const ids = new Array<number>(g.jobs.length);
  for (const kind of ["runs", "records"] as const) {
    const ring = g.rings[kind];
    let n = 0;
    g.reading.forEach((r, i) => {
      if (r === kind) ids[i] = n++;
    });
    // every job joins before any reads: the thread's cursor is the least of all of them
    if (ring !== null) readers[kind] = new RingReader(ring, g.thread, n);
  }
  // the jobs that read the file themselves run one after another, beside the others
  let own: Promise<unknown> = Promise.resolve();
  const results = await Promise.all(
    g.jobs.map(async (job, i) => {
      const kind = g.reading[i];
      if (kind === "own") {
        const r = own.then(() => runSweepJob(job));
        own = r;
        return await r;
      }
      const reader = readers[kind]!;
      try {
        return await runSweepJob(job, () => ringSource(reader, ids[i], kind, job, g.codec, g.size));
      } finally {
        // a run that ended before it read, or failed while reading, holds no chunk
        reader.leave(ids[i]);
      }
    }),
  );
  // VMLAB_SWEEP_CPU=1 (bench/process.bench.ts): this thread's CPU so far, for the balance of a pass
  if (process.env.VMLAB_SWEEP_CPU === "1")
    process.stderr.write(
      `vmlab sweep: job thread ${g.thread}: ${threadCpu().toFixed(2)} s CPU after ${g.jobs.length} configurations\n`,
    );
  return results;
}

/** CPU seconds (user + system) of the calling thread (Linux: /proc/thread-self/stat), or NaN. */
function threadCpu(): number {
  try {
    const stat = readFileSync("/proc/thread-self/stat", "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime and stime, in ticks of 1/100 s
  } catch {
    return Number.NaN;
  }
}

/** The trace as a job reads it from its ring: the same reading path and errors as openSource's. */
function ringSource(
  reader: RingReader,
  id: number,
  kind: "runs" | "records",
  job: SweepJob,
  codec: Compression,
  size: number,
): TraceSource {
  const name = job.file;
  if (kind === "runs")
    return {
      name,
      compression: codec,
      path: "runs",
      format: "bin",
      size,
      read: (sinks) => readRingRuns(reader, id, name, codec, sinks),
    };
  const input: TraceInput = {
    name,
    compression: codec,
    rawBytes: 0,
    chunks: ringChunks(reader, id, name, codec, (n) => {
      input.rawBytes = n;
    }),
  };
  const format = job.format as TraceFormat | "auto";
  return {
    name,
    compression: codec,
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

/** readRuns (formats.ts) over the runs ring. */
async function readRingRuns(
  reader: RingReader,
  id: number,
  path: string,
  codec: Compression,
  sinks: TraceSinks,
): Promise<TraceReadStats> {
  const sink = sinks.runs;
  if (sink === undefined) throw new Error(`${path}: read as runs, but the consumer takes no runs`);
  const totals = new Float64Array(RUN_TOTALS);
  const stats: TraceReadStats = { format: "bin", records: 0, bytes: 0, lines: 0, skippedLines: 0 };
  try {
    for (let k = 0; ; k++) {
      const { m, view } = await reader.get(k);
      stats.bytes = m.out;
      if (m.error !== undefined) throw workerError(m, path, codec);
      if (m.slot !== undefined) {
        totals.set(m.totals!);
        sink(new Uint32Array(view.buffer, view.byteOffset, view.length / 4), m.runs!, totals);
        stats.records += totals[6];
        sinks.progress?.(m.raw, stats.records);
        reader.release(id, k);
        continue;
      }
      if (m.bad !== undefined) throw badRecord(path, stats.records, m.bad.lo, m.bad.hi, m.bad.offset);
      if (m.rest) throw truncated(path, m.rest, stats.records, m.out - m.rest);
      return stats;
    }
  } finally {
    reader.leave(id);
  }
}

/** viaWorker (input.ts) over the records ring: a chunk is handed back when the next is asked for. */
async function* ringChunks(
  reader: RingReader,
  id: number,
  name: string,
  codec: Compression,
  setRaw: (n: number) => void,
): AsyncIterable<Buffer> {
  try {
    for (let k = 0; ; k++) {
      const { m, view } = await reader.get(k);
      setRaw(m.raw);
      if (m.error !== undefined) throw workerError(m, name, codec);
      if (m.done) return;
      yield Buffer.from(view.buffer, view.byteOffset, view.length);
      reader.release(id, k);
    }
  } finally {
    reader.leave(id);
  }
}
