/**
 * The page's zstd decoder (fzstd behind a TransformStream), run in Node on
 * files the zstd command wrote: the window the page warns about, bytes equal
 * to `zstd -d`'s, several frames, and a corrupt or cut file as an InputError.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../base/errors.ts";
import { LONG_WINDOW, zstdStream, zstdWindow } from "./zstd.ts";

/** `zstd ARGS` on `input` from stdin (so the frame does not know its size): its output. */
function zstd(input: Uint8Array, args: string[]): Uint8Array {
  const r = spawnSync("zstd", ["-q", "-c", ...args], { input, maxBuffer: 1 << 28 });
  expect(r.status).toBe(0);
  return new Uint8Array(r.stdout);
}

/** Some bytes with repeats at all distances, like a trace. */
function sample(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = i > 4096 && x % 3 === 0 ? b[i - 1 - (x % 4000)] : x >>> 24;
  }
  return b;
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

/** `data` through the page's decoder in `piece`-byte chunks. */
async function decode(data: Uint8Array, piece: number): Promise<Uint8Array> {
  const src = new ReadableStream<Uint8Array>({
    start(c) {
      for (let at = 0; at < data.length; at += piece) c.enqueue(data.slice(at, at + piece));
      c.close();
    },
  });
  const parts: Uint8Array[] = [];
  const r = src.pipeThrough(zstdStream("t.zst")).getReader();
  for (;;) {
    const x = await r.read();
    if (x.done) break;
    parts.push(x.value);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe("zstd in the page", () => {
  const raw = sample(600_000);

  it("reads the window from the frame header: the level's, or --long's", () => {
    const def = zstdWindow(zstd(raw, ["-3"]));
    expect(def).toBeGreaterThan(0);
    expect(def).toBeLessThanOrEqual(LONG_WINDOW);
    expect(zstdWindow(zstd(raw, ["--long=27"]))).toBe(2 ** 27);
    expect(zstdWindow(new Uint8Array([1, 2, 3, 4, 5, 6]))).toBe(-1);
  });

  it("decodes in small chunks to zstd's bytes, over several frames", async () => {
    const one = zstd(raw, ["-3"]);
    expect(same(await decode(one, 4096), raw)).toBe(true);
    const two = new Uint8Array([...one, ...zstd(raw.subarray(0, 1000), [])]);
    const back = await decode(two, 777);
    expect(back.length).toBe(raw.length + 1000);
    expect(same(back.subarray(0, raw.length), raw)).toBe(true);
    expect(same(back.subarray(raw.length), raw.subarray(0, 1000))).toBe(true);
  });

  it("a corrupt or cut file is an InputError naming the file", async () => {
    const z = zstd(raw, ["-3"]);
    const cut = decode(z.subarray(0, z.length >> 1), 4096);
    await expect(cut).rejects.toBeInstanceOf(InputError);
    await expect(cut).rejects.toThrow(/unexpected EOF/);
    const bad = z.slice();
    bad[4] = 0xff; // a reserved bit in the frame header descriptor
    await expect(decode(bad, 4096)).rejects.toThrow(/^zstd: invalid zstd data/);
  });
});
