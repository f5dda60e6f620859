/** The broadcast ring: every reader gets every chunk of the reading thread, unchanged, however far behind it is. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { traceBatches } from "../workloads/trace/generate.ts";
import { readSlots } from "../workloads/trace/worker.ts";
import {
  broadcast,
  broadcastBoth,
  type Chunk,
  newRing,
  RING_SLOTS,
  RingReader,
  stopRing,
} from "./sweepShared.ts";

const dir = mkdtempSync(join(tmpdir(), "vmlab-ring-"));
// 5 M records (40 MB, plain): more chunks than the ring has slots, in both modes
// (a runs chunk every 2^18 records, a bytes chunk every 4 MiB)
const file = join(dir, "hot.u64");
{
  const parts: Buffer[] = [];
  for (const [w, n] of traceBatches({ pattern: "hotcold", pages: 4000, refs: 5_000_000, writeRatio: 0.2 }))
    parts.push(Buffer.from(w.buffer.slice(0, n * 8))); // a copy: the batch's buffer is refilled
  writeFileSync(file, Buffer.concat(parts));
}

/** A chunk as a comparable line: its message's figures and a hash of its bytes. */
function digest({ m, view }: Chunk): string {
  const w = new Uint32Array(view.buffer, view.byteOffset, view.length >> 2);
  let h = 0;
  for (let i = 0; i < w.length; i++) h = (Math.imul(h, 31) + w[i]) | 0;
  const { slot: _s, ...rest } = m;
  return `${JSON.stringify(rest, Object.keys(rest).sort())} ${view.length} ${h}`;
}

/** What one reading thread gives, read directly. */
async function direct(fold: boolean): Promise<string[]> {
  const out: string[] = [];
  for await (const c of readSlots(file, "none", fold)) out.push(digest(c));
  return out;
}

/** A job of a reader: takes chunks until the last (or `stopAfter` of them), `pause` ms after each. */
async function job(r: RingReader, id: number, pause: number, stopAfter = Infinity): Promise<string[]> {
  const out: string[] = [];
  try {
    for (let k = 0; k < stopAfter; k++) {
      const c = await r.get(k);
      out.push(digest(c));
      if (c.m.slot === undefined) return out;
      if (pause > 0) await new Promise((res) => setTimeout(res, pause));
      r.release(id, k);
    }
    return out;
  } finally {
    r.leave(id);
  }
}

describe("the sweep's broadcast ring", () => {
  for (const fold of [true, false])
    it(`gives every reader the reading thread's ${fold ? "runs" : "bytes"}, a slow one included`, async () => {
      const want = await direct(fold);
      expect(want.length).toBeGreaterThan(RING_SLOTS + 1);
      // two "threads": the first with a fast job, a slow one and one that stops early; the second with one job
      const ring = newRing(fold, [true, true]);
      const a = new RingReader(ring, 0, 3);
      const b = new RingReader(ring, 1, 1);
      const [, fast, slow, early, other] = await Promise.all([
        broadcast(ring, file, "none"),
        job(a, 0, 0),
        job(a, 1, 20),
        job(a, 2, 0, 3),
        job(b, 0, 5),
      ]);
      expect(fast).toEqual(want);
      expect(slow).toEqual(want);
      expect(other).toEqual(want);
      expect(early).toEqual(want.slice(0, 3));
    }, 30_000);

  it("fills both rings from one decompression: the same bytes, and runs of the same records", async () => {
    const bytes = await direct(false);
    const sums = (lines: string[]) => {
      const t = new Array<number>(7).fill(0);
      for (const l of lines) {
        const m = JSON.parse(l.slice(0, l.lastIndexOf("}", l.indexOf(" ")) + 1)) as { totals?: number[] };
        m.totals?.forEach((v, i) => {
          t[i] += v;
        });
      }
      return t;
    };
    const want = sums(await direct(true));
    const runs = newRing(true, [true]);
    const records = newRing(false, [true]);
    const [, r, b] = await Promise.all([
      broadcastBoth(runs, records, file, "none"),
      job(new RingReader(runs, 0, 1), 0, 3),
      job(new RingReader(records, 0, 1), 0, 0),
    ]);
    expect(b).toEqual(bytes);
    expect(sums(r)).toEqual(want);
    expect(want[6]).toBe(5_000_000);
    expect(r[r.length - 1]).toMatch(/"done":true/);
  }, 30_000);

  it("makes the producer and the readers stop when the ring is stopped", async () => {
    const ring = newRing(true, [true]);
    const r = new RingReader(ring, 0, 1);
    // the reader takes one chunk and never hands it back: the producer waits, until stopped
    const producer = broadcast(ring, file, "none");
    await r.get(0);
    setTimeout(() => stopRing(ring), 50);
    await expect(producer).rejects.toThrow(/stopped/);
    await expect(r.get(RING_SLOTS + 5)).rejects.toThrow(/stopped/);
  }, 30_000);
});
