/**
 * The traces a scenario's `replay` statements name, fetched before the run
 * (the engine reads synchronously; the page cannot): `prefetchTraces` asks
 * the server for each file named in the text (it serves only files in the
 * scenario's own directory, as `vmlab run` reads only those; a zstd file
 * comes decompressed), gunzips it with the browser's DecompressionStream,
 * and keeps the bytes under the
 * path the replay statement computes (join(dirname(scenario), NAME)).
 */
import { dirname, join } from "./path.ts";

export const traces = new Map<string, Uint8Array>();

/** The most bytes one trace may hold once decompressed (as `vmlab run`'s replay). */
export const MAX_TRACE_BYTES = 256 << 20;

async function gunzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Fetches every trace the text's `replay "NAME"` statements name (a failure leaves it missing: the statement says so). */
export async function prefetchTraces(text: string, scenarioId: string): Promise<void> {
  const names = new Set<string>();
  for (const m of text.matchAll(/\breplay\s+"([^"]+)"/g)) names.add(m[1]);
  for (const name of names) {
    const key = join(dirname(scenarioId), name);
    if (traces.has(key)) continue;
    const r = await fetch(`api/trace/${encodeURIComponent(scenarioId)}/${encodeURIComponent(name)}`);
    if (!r.ok) continue;
    let data: Uint8Array = new Uint8Array(await r.arrayBuffer());
    if (data[0] === 0x1f && data[1] === 0x8b) data = await gunzip(data);
    if (data.length <= MAX_TRACE_BYTES) traces.set(key, data);
  }
}
