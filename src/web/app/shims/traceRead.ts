/**
 * The browser build's stand-in for workloads/trace/readSync.ts: a `replay`
 * reads the trace prefetched for it (traceStore.ts: fetched, gunzipped,
 * and zstd decompressed by the server) and decodes it with the CLI's own
 * decoders (workloads/trace/decode.ts): the binary format, lackey, text and
 * refs, handed on in batches of word pairs as the Node reader does.
 */
import { InputError } from "../../../base/errors.ts";
import {
  type BatchSink,
  createDecoder,
  sniffFormat,
  type TraceFormat,
  type TraceReadStats,
} from "../../../workloads/trace/decode.ts";
import { traces } from "./traceStore.ts";

export function readTraceFileSync(
  path: string,
  format: TraceFormat | "auto",
  sink: BatchSink,
): TraceReadStats {
  const data = traces.get(path);
  if (data === undefined)
    throw new InputError(
      `replay "${path}": no such trace next to the scenario, or one the server could not read; run this scenario with vmlab run`,
    );
  const fmt = format === "auto" ? sniffFormat(path, data.subarray(0, 4096)) : format;
  const stats: TraceReadStats = { format: fmt, records: 0, bytes: data.length, lines: 0, skippedLines: 0 };
  const decoder = createDecoder(path, fmt, sink, stats);
  // in 1 MiB pieces, as the Node reader hands its chunks over (a copy keeps the binary records aligned)
  for (let at = 0; at < data.length; at += 1 << 20) decoder.push(data.slice(at, at + (1 << 20)));
  decoder.end();
  return stats;
}
