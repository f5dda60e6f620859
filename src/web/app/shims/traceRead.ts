/**
 * The browser build's stand-in for workloads/trace/readSync.ts: a `replay`
 * reads the trace prefetched for it (traceStore.ts) and decodes vmlab's
 * binary format (`u64-addr2kind`: `(vaddr << 2) | kind`, little-endian,
 * workloads/trace/formats.ts), handing the records on in batches of word
 * pairs as the Node reader does. The text formats (lackey, text, refs) and
 * zstd are for `vmlab run` for now: the statement stops with an error at
 * its line (the handler adds the position).
 */
import { InputError } from "../../../base/errors.ts";
import { traces } from "./traceStore.ts";

type BatchSink = (words: Uint32Array, n: number) => void;

/** Records per batch, as formats.ts BATCH_RECORDS. */
const BATCH = 65536;

export function readTraceFileSync(path: string, format: string, sink: BatchSink): { records: number } {
  const data = traces.get(path);
  if (data === undefined)
    throw new InputError(
      `replay "${path}": no such trace next to the scenario, or one the browser view cannot read (zstd); run this scenario with vmlab run`,
    );
  const binary = format === "bin" || (format === "auto" && /\.u64(\.gz)?$/.test(path));
  if (!binary)
    throw new InputError(
      `replay "${path}": the browser view reads only the binary format (.u64) yet; run this scenario with vmlab run`,
    );
  if (data.length % 8 !== 0)
    throw new InputError(`replay "${path}": ${data.length} bytes is not a whole number of 8-byte records`);
  // little-endian words (every browser vmlab runs in is little-endian); a copy keeps the alignment
  const words = new Uint32Array(data.slice().buffer);
  const n = data.length / 8;
  for (let first = 0; first < n; first += BATCH) {
    const count = Math.min(BATCH, n - first);
    sink(words.subarray(2 * first, 2 * (first + count)), count);
  }
  return { records: n };
}
