/**
 * The trace view's Web Worker: reads a trace (the server's `--trace` file,
 * or one the user opened in the page), gunzips it with the browser's
 * DecompressionStream or decompresses zstd with fzstd (zstd.ts), decodes it with the CLI's decoders (workloads/trace/
 * decode.ts) and feeds it to the CLI's replay (analysis/trace/replay.ts),
 * so the page stays responsive and the figures are `vmlab trace`'s. It
 * posts progress about ten times a second, then the summary (or the error,
 * with the figures up to it marked incomplete).
 *
 * The records go to the decoder in whole batches (BATCH_RECORDS records of
 * 8 bytes at a time, as the CLI's reading thread hands its 4 MiB slots
 * over): the replay notes its faults after each batch, so the faults over
 * time fall at the same records as the CLI's.
 */
import { Replay } from "../../../analysis/trace/replay.ts";
import type { TraceSummary } from "../../../analysis/trace/summary.ts";
import { InputError } from "../../../base/errors.ts";
import {
  BATCH_RECORDS,
  createDecoder,
  sniffFormat,
  type TraceDecoder,
  type TraceReadStats,
} from "../../../workloads/trace/decode.ts";
import type { TraceRun } from "./settings.ts";
import { LONG_WINDOW, ZSTD_MAGIC, zstdStream, zstdWindow } from "./zstd.ts";

export type TraceSourceMsg = { kind: "url"; url: string } | { kind: "file"; file: Blob };

export interface TraceRequest {
  source: TraceSourceMsg;
  name: string;
  /** the bytes to read (compressed), or -1 when not known (a zstd file the server decompresses) */
  size: number;
  run: TraceRun;
}

export type TraceReply =
  | { type: "progress"; raw: number; total: number; records: number }
  /** something to say about the input before the figures (a slow long-window zstd file) */
  | { type: "note"; message: string }
  | { type: "done"; summary: TraceSummary; stats: TraceReadStats }
  | { type: "error"; message: string; partial: TraceSummary | null };

const GZIP = [0x1f, 0x8b];
const startsWith = (b: Uint8Array, magic: number[]) => magic.every((m, i) => b[i] === m);

/** The bytes of one batch of binary records: the chunk size handed to the decoder. */
const CHUNK = BATCH_RECORDS * 8;

const post = (m: TraceReply) => (self as unknown as Worker).postMessage(m);

/** The stream's chunks, the first one given back first, with the bytes counted as they pass. */
function counted(
  first: Uint8Array,
  rest: ReadableStreamDefaultReader<Uint8Array>,
  count: (n: number) => void,
) {
  let gave = false;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (!gave) {
        gave = true;
        count(first.length);
        c.enqueue(first);
        return;
      }
      const r = await rest.read();
      if (r.done) c.close();
      else {
        count(r.value.length);
        c.enqueue(r.value);
      }
    },
    cancel: (why) => rest.cancel(why),
  });
}

async function analyse(req: TraceRequest): Promise<void> {
  const t0 = performance.now();
  const replay = new Replay(req.run.sim);
  replay.addCurves(req.run.curves);
  replay.addSamplers(req.run.samplers);
  let body: ReadableStream<Uint8Array>;
  if (req.source.kind === "url") {
    const r = await fetch(req.source.url);
    if (!r.ok || r.body === null) throw new InputError(`the server did not send the trace (${r.status})`);
    body = r.body;
  } else body = req.source.file.stream();
  const raw = body.getReader();
  const head = await raw.read();
  const first = head.done ? new Uint8Array(0) : head.value;
  const gzip = startsWith(first, GZIP);
  const zstd = startsWith(first, ZSTD_MAGIC);
  const window = zstd ? zstdWindow(first) : -1;
  if (window > LONG_WINDOW)
    post({
      type: "note",
      message: `zstd with a ${Math.round(window / 2 ** 20)} MiB window (zstd --long): the page's decoder (fzstd, pure JS) is about ten times slower on these than on the default levels; vmlab trace or vmlab ui --trace decode it natively`,
    });
  let rawBytes = 0;
  let stream = counted(first, raw, (n) => {
    rawBytes += n;
  });
  if (gzip)
    stream = stream.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  else if (zstd) stream = stream.pipeThrough(zstdStream(req.name));
  const reader = stream.getReader();
  let decoder: TraceDecoder | null = null;
  let stats: TraceReadStats | null = null;
  const buf = new Uint8Array(CHUNK);
  let fill = 0;
  let lastPost = 0;
  const summary = (complete: boolean) =>
    replay.summary({
      trace: req.name,
      format: stats?.format ?? "bin",
      compression: gzip ? "gzip" : zstd || req.size < 0 ? "zstd" : "none",
      seconds: (performance.now() - t0) / 1000,
      complete,
    });
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      let chunk = r.value;
      if (decoder === null) {
        const format = sniffFormat(req.name, chunk);
        stats = { format, records: 0, bytes: 0, lines: 0, skippedLines: 0 };
        decoder = createDecoder(req.name, format, replay.feed, stats);
      }
      stats!.bytes += chunk.length;
      // whole batches to the decoder (see the header)
      while (chunk.length > 0) {
        const n = Math.min(CHUNK - fill, chunk.length);
        buf.set(chunk.subarray(0, n), fill);
        fill += n;
        chunk = chunk.subarray(n);
        if (fill === CHUNK) {
          decoder.push(buf);
          fill = 0;
        }
      }
      const now = performance.now();
      if (now - lastPost > 100) {
        lastPost = now;
        post({ type: "progress", raw: rawBytes, total: req.size, records: stats!.records });
      }
    }
    if (decoder === null) {
      stats = {
        format: sniffFormat(req.name, new Uint8Array(0)),
        records: 0,
        bytes: 0,
        lines: 0,
        skippedLines: 0,
      };
      decoder = createDecoder(req.name, stats.format, replay.feed, stats);
    }
    if (fill > 0) decoder.push(buf.subarray(0, fill));
    decoder.end();
  } catch (e) {
    replay.finish(false);
    const message = e instanceof InputError ? e.format() : `${req.name}: ${(e as Error).message}`;
    post({ type: "error", message, partial: replay.fed > 0 && replay.hasResult ? summary(false) : null });
    return;
  }
  replay.finish(true);
  post({ type: "progress", raw: rawBytes, total: req.size, records: stats!.records });
  post({ type: "done", summary: summary(true), stats: stats! });
}

self.onmessage = (e: MessageEvent<TraceRequest>) => {
  analyse(e.data).catch((err: unknown) => {
    const message = err instanceof InputError ? err.format() : String((err as Error)?.message ?? err);
    post({ type: "error", message, partial: null });
  });
};
