/**
 * A trace decoded once for every configuration of a sweep: the sweep's
 * main thread reads the file through the reading thread (worker.ts: zstd or
 * gzip, and the fold into runs, as `vmlab trace` reads it) and copies each
 * of its slots into a broadcast ring in shared memory that every job thread
 * reads; each job is then the simulation alone.
 *
 * Two rings at most, one per reading path of workloads/trace/open.ts:
 * - runs: the reading thread's runs and their totals (the configurations
 *   whose simulation takes runs: machine mode on a u64-addr2kind file);
 * - records: the decompressed bytes, which each job decodes into records
 *   as readTrace does (policy mode, the text formats).
 * A configuration that neither can serve (a zstd file without zstd-napi's
 * binding) reads the file itself, as before.
 *
 * The ring holds RING_SLOTS chunks in constant memory, whatever the trace's
 * length: the producer fills chunk k into slot k % RING_SLOTS once every
 * consumer thread has finished chunk k - RING_SLOTS. Each consumer thread
 * publishes how many chunks it has finished (its cursor: the least over
 * its jobs); a thread with no job left on the ring sets it to DONE. So the
 * configurations advance in lock-step, at most RING_SLOTS chunks apart.
 *
 * Layout: ctl (Int32) [PUBLISHED, PROGRESS, STOP, END_LENGTH, cursor of
 * thread 0, 1, ...]; head (Float64) per slot [kind, length, raw, out,
 * totals x RUN_TOTALS]; data, RING_SLOTS slots of RING_SLOT_BYTES; end, the
 * last message (done, or an error) as JSON. Waits are Atomics.waitAsync,
 * so a thread whose jobs read both rings never blocks one on the other.
 */
import { assert } from "../base/assert.ts";
import type { Compression } from "../workloads/trace/input.ts";
import { foldRuns, RUN_TOTALS } from "../workloads/trace/runs.ts";
import { readSlots, type SlotMessage } from "../workloads/trace/worker.ts";

export const RING_SLOTS = 8;
/** The reading thread's slot (worker.ts SLOT_BYTES): a chunk never exceeds it. */
export const RING_SLOT_BYTES = 4 << 20;
const END_BYTES = 64 << 10;

const PUBLISHED = 0;
const PROGRESS = 1;
const STOP = 2;
const END_LENGTH = 3;
const CURSORS = 4;
/** A cursor of a thread with nothing more to read from the ring. */
const DONE = 0x7fffffff;

const HEAD = 4 + RUN_TOTALS;
const KIND_DATA = 1;
const KIND_END = 2;

/** The shared memory of one ring (structured-cloned to the job threads without a copy). */
export interface Ring {
  /** runs (the reading thread's fold mode), else decompressed bytes */
  fold: boolean;
  ctl: SharedArrayBuffer;
  head: SharedArrayBuffer;
  data: SharedArrayBuffer;
  end: SharedArrayBuffer;
}

/** A ring read by `threads` threads; `reads[t]` says whether thread t has a job on it. */
export function newRing(fold: boolean, reads: boolean[]): Ring {
  const ring: Ring = {
    fold,
    ctl: new SharedArrayBuffer(4 * (CURSORS + reads.length)),
    head: new SharedArrayBuffer(8 * HEAD * RING_SLOTS),
    data: new SharedArrayBuffer(RING_SLOT_BYTES * RING_SLOTS),
    end: new SharedArrayBuffer(END_BYTES),
  };
  const ctl = new Int32Array(ring.ctl);
  reads.forEach((r, t) => {
    ctl[CURSORS + t] = r ? 0 : DONE;
  });
  return ring;
}

/**
 * A finished pass's ring made ready for the next pass's `reads` (nothing
 * published, every cursor at the start), so that a sweep of many passes
 * holds one ring's memory, not one per pass until the collector frees it
 * (external memory it is slow to reclaim: 2,500 configurations took 1.4 GB
 * with a new ring a pass). Null when the ring was made for another number
 * of threads. Only for a ring whose pass has ended: no thread reads it.
 */
export function reuseRing(ring: Ring, reads: boolean[]): Ring | null {
  if (ring.ctl.byteLength !== 4 * (CURSORS + reads.length)) return null;
  const ctl = new Int32Array(ring.ctl);
  ctl.fill(0);
  reads.forEach((r, t) => {
    ctl[CURSORS + t] = r ? 0 : DONE;
  });
  new Float64Array(ring.head).fill(0);
  return ring;
}

/** Atomics.waitAsync (Node 16 and later; TypeScript declares it from the es2024 library on). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      a: Int32Array,
      i: number,
      v: number,
      ms: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

/** Waits until ctl[i] is no longer `value`, or for `ms`. */
async function waitChange(ctl: Int32Array, i: number, value: number, ms: number): Promise<void> {
  const w = waitAsync(ctl, i, value, ms);
  if (w.async) await w.value;
}

/** Stops a ring's producer and consumers (a failed sweep): their waits end with an error. */
export function stopRing(ring: Ring): void {
  const ctl = new Int32Array(ring.ctl);
  Atomics.store(ctl, STOP, 1);
  Atomics.notify(ctl, PUBLISHED);
  Atomics.notify(ctl, PROGRESS);
}

/**
 * The producer: reads `path` (compressed with `codec`) on a reading thread
 * in the ring's mode and publishes every message, its last one (done or an
 * error) included. Returns once the last one is published; throws if the
 * ring is stopped.
 */
export async function broadcast(ring: Ring, path: string, codec: Compression): Promise<void> {
  const publish = publisher(ring);
  for await (const { m, view } of readSlots(path, codec, ring.fold)) {
    await publish(m, view);
    if (m.slot === undefined) return;
  }
  throw new Error("the reading thread ended without a last message");
}

/**
 * The producer of both rings from one decompression: the reading thread's
 * bytes go to `records` as they come, and are folded here (foldRuns, as the
 * reading thread folds them) into `runs`, one chunk of runs per chunk of
 * bytes; a bad record ends the runs (the runs before it, then its offset,
 * as the reading thread says it), and the bytes go on to their end.
 */
export async function broadcastBoth(
  runs: Ring,
  records: Ring,
  path: string,
  codec: Compression,
): Promise<void> {
  const toRuns = publisher(runs);
  const toRecords = publisher(records);
  const folded = new Uint32Array(RING_SLOT_BYTES / 4);
  const totals = new Float64Array(RUN_TOTALS);
  /** bytes before the chunk, and after the last whole record of the chunk before */
  let base = 0;
  let rest = 0;
  let runsDone = false;
  for await (const { m, view } of readSlots(path, codec, false)) {
    await toRecords(m, view);
    if (m.slot === undefined) {
      if (!runsDone)
        await toRuns(m.error !== undefined ? m : { done: true, raw: m.raw, out: m.out, rest }, view);
      return;
    }
    if (runsDone) continue;
    // the reading thread fills every slot but the last: a record is cut only at the end
    assert(rest === 0, "sweep: a chunk of the reading thread ends inside a record");
    const whole = Math.floor(view.length / 8);
    rest = view.length - whole * 8;
    const words = new Uint32Array(view.buffer, view.byteOffset, 2 * whole);
    totals.fill(0);
    const n = foldRuns(words, whole, folded, totals);
    const taken = totals[6];
    if (n > 0)
      await toRuns(
        { slot: 0, runs: n, totals: Array.from(totals), raw: m.raw, out: m.out },
        new Uint8Array(folded.buffer, 0, n * 8),
      );
    if (taken < whole) {
      const bad = { offset: base + taken * 8, lo: words[2 * taken], hi: words[2 * taken + 1] };
      await toRuns({ done: true, raw: m.raw, out: m.out, bad }, view);
      runsDone = true;
    }
    base += view.length;
  }
  throw new Error("the reading thread ended without a last message");
}

/** Publishes messages into `ring` in order, each once every reader is past its slot's last chunk. */
function publisher(ring: Ring): (m: SlotMessage, view: Uint8Array) => Promise<void> {
  const ctl = new Int32Array(ring.ctl);
  const head = new Float64Array(ring.head);
  const data = new Uint8Array(ring.data);
  const threads = ctl.length - CURSORS;
  const slowest = (): number => {
    let m = DONE;
    for (let t = 0; t < threads; t++) m = Math.min(m, Atomics.load(ctl, CURSORS + t));
    return m;
  };
  let k = 0;
  return async (m, view) => {
    // slot k % RING_SLOTS held chunk k - RING_SLOTS: every thread must be past it
    for (;;) {
      if (Atomics.load(ctl, STOP) !== 0) throw new Error("sweep: the shared trace was stopped");
      const p = Atomics.load(ctl, PROGRESS);
      if (slowest() > k - RING_SLOTS) break;
      await waitChange(ctl, PROGRESS, p, 1000);
    }
    const s = k % RING_SLOTS;
    const h = head.subarray(s * HEAD, (s + 1) * HEAD);
    h[2] = m.raw;
    h[3] = m.out;
    if (m.slot !== undefined) {
      assert(view.length <= RING_SLOT_BYTES, "sweep: a reading thread's slot is larger than the ring's");
      data.set(view, s * RING_SLOT_BYTES);
      h[0] = KIND_DATA;
      h[1] = view.length;
      if (m.totals !== undefined) h.set(m.totals, 4);
    } else {
      // the last message, whole, with a message text cut to fit
      const text = new TextEncoder().encode(JSON.stringify({ ...m, error: m.error?.slice(0, 16_000) }));
      assert(text.length <= END_BYTES, "sweep: the reading thread's last message is too long");
      new Uint8Array(ring.end).set(text);
      Atomics.store(ctl, END_LENGTH, text.length);
      h[0] = KIND_END;
      h[1] = 0;
    }
    k++;
    Atomics.store(ctl, PUBLISHED, k);
    Atomics.notify(ctl, PUBLISHED);
  };
}

/** A chunk as readSlots gives it: the message, and a view of its data (valid until released). */
export interface Chunk {
  m: SlotMessage;
  view: Uint8Array;
}

/**
 * A job thread's side of a ring, for its `jobs` jobs on it (numbered
 * 0..jobs-1). Each job takes chunks 0, 1, 2, ... with `get` and hands each
 * back with `release`; `leave` when it reads no more (at its end, or when it
 * stops early).
 */
export class RingReader {
  private readonly ctl: Int32Array;
  private readonly head: Float64Array;
  /** chunks each job has finished (DONE once it has left) */
  private readonly cursors: number[];
  private readonly none = new Uint8Array(0);

  constructor(
    private readonly ring: Ring,
    private readonly thread: number,
    jobs: number,
  ) {
    this.ctl = new Int32Array(ring.ctl);
    this.head = new Float64Array(ring.head);
    this.cursors = new Array<number>(jobs).fill(0);
    if (jobs === 0) this.publishCursor();
  }

  /** Chunk k, once it is published. */
  async get(k: number): Promise<Chunk> {
    const ctl = this.ctl;
    for (;;) {
      if (Atomics.load(ctl, STOP) !== 0) throw new Error("sweep: the shared trace was stopped");
      const p = Atomics.load(ctl, PUBLISHED);
      if (p > k) break;
      await waitChange(ctl, PUBLISHED, p, 1000);
    }
    const s = k % RING_SLOTS;
    const h = this.head.subarray(s * HEAD, (s + 1) * HEAD);
    if (h[0] === KIND_END) {
      const text = new Uint8Array(this.ring.end, 0, Atomics.load(ctl, END_LENGTH));
      return { m: JSON.parse(new TextDecoder().decode(text)) as SlotMessage, view: this.none };
    }
    const length = h[1];
    const m: SlotMessage = { slot: s, raw: h[2], out: h[3] };
    if (this.ring.fold) {
      m.runs = length / 8;
      m.totals = Array.from(h.subarray(4, 4 + RUN_TOTALS));
    } else m.bytes = length;
    return { m, view: new Uint8Array(this.ring.data, s * RING_SLOT_BYTES, length) };
  }

  /** Job `job` is done with chunk k (and every chunk before it). */
  release(job: number, k: number): void {
    if (this.cursors[job] !== DONE) this.cursors[job] = k + 1;
    this.publishCursor();
  }

  /** Job `job` reads no more of the ring. */
  leave(job: number): void {
    this.cursors[job] = DONE;
    this.publishCursor();
  }

  /** The thread's cursor: the least of its jobs'. */
  private publishCursor(): void {
    let m = DONE;
    for (const c of this.cursors) m = Math.min(m, c);
    const ctl = this.ctl;
    if (Atomics.load(ctl, CURSORS + this.thread) === m) return;
    Atomics.store(ctl, CURSORS + this.thread, m);
    Atomics.add(ctl, PROGRESS, 1);
    Atomics.notify(ctl, PROGRESS);
  }
}
