/**
 * zstd in the page: a streaming decoder for a `.zst` trace opened from disk
 * (the server decompresses `vmlab ui --trace FILE.zst` natively; a file
 * the user picks never leaves the page). fzstd is pure JS: about 3.5 times
 * slower than the CLI's zstd-napi, and much slower on long-window frames
 * (`zstd --long=27`: it slides its whole window after every block, so a
 * 128 MiB window costs ~10 times the time), which `zstdWindow` lets the
 * page say before it starts.
 *
 * Memory stays constant: fzstd keeps one window (the frame header's
 * Window_Size, RFC 8878 §3.1.1.1.2) and hands each decoded block on as it
 * completes; the TransformStream holds the blocks of one input chunk until
 * the reader takes them, and asks for no more input before then.
 */
import { Decompress } from "fzstd";
import { InputError } from "../../../base/errors.ts";

export const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** Window sizes above this one are `--long` frames (zstd's levels 1..19 use at most 8 MiB: clevels.h). */
export const LONG_WINDOW = 8 << 20;

/**
 * The first frame's Window_Size, as RFC 8878 §3.1.1.1.2 computes it from the
 * Frame_Header_Descriptor and Window_Descriptor (a single-segment frame's
 * window is its content size); -1 if `head` is too short or not a zstd frame.
 */
export function zstdWindow(head: Uint8Array): number {
  if (head.length < 6 || !ZSTD_MAGIC.every((m, i) => head[i] === m)) return -1;
  const fhd = head[4];
  const singleSegment = (fhd >> 5) & 1;
  if (!singleSegment) {
    const wd = head[5];
    const base = 2 ** (10 + (wd >> 3));
    return base + (base / 8) * (wd & 7);
  }
  // Frame_Content_Size right after the descriptor (and the dictionary id)
  const fcsFlag = fhd >> 6;
  const didBytes = [0, 1, 2, 4][fhd & 3];
  const fcsBytes = [1, 2, 4, 8][fcsFlag];
  const at = 5 + didBytes;
  if (head.length < at + fcsBytes) return -1;
  let size = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + head[at + i];
  return fcsFlag === 1 ? size + 256 : size;
}

/** Decompresses a zstd stream (one frame or several) chunk by chunk; a bad stream is an InputError naming `file`. */
export function zstdStream(file: string): TransformStream<Uint8Array, Uint8Array> {
  let out: TransformStreamDefaultController<Uint8Array> | null = null;
  const z = new Decompress((block) => {
    if (block.length > 0) out!.enqueue(block);
  });
  const fail = (e: unknown): never => {
    const why = (e as Error)?.message ?? String(e);
    throw new InputError(`zstd: ${why} (not a valid zstd file, or cut short)`, { file });
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      out = c;
      try {
        z.push(chunk);
      } catch (e) {
        fail(e);
      }
    },
    flush(c) {
      out = c;
      try {
        z.push(new Uint8Array(0), true);
      } catch (e) {
        fail(e);
      }
    },
  });
}
