/**
 * The main thread's side of the reading thread (readerBody.ts is the
 * thread's, with the protocol): a pool of reading threads, each with its
 * ring of slots in shared memory, and readSlots / readSlotsSync, which post
 * a job and yield the slots it fills, handing each back when the consumer
 * asks for the next. A job bin/vmlab.cjs started before the CLI was loaded
 * (speculate.ts) is adopted when it is the one asked for, else stopped.
 */
import { createRequire } from "node:module";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import { instantiate, type WasmMemory } from "../../base/wasm.ts";
import {
  type Codec,
  MAIN_TOTALS_AT,
  MEM_MAIN_TOTALS_AT,
  MEM_SLOT_BYTES,
  MEM_SLOTS,
  type ReaderJob,
  SLOT_BYTES,
  SLOTS,
  type SlotMessage,
  WORKER_BODY,
  WORKER_SOURCE,
} from "./readerBody.ts";
import {
  asksFor,
  dropSpeculation,
  foldShare,
  memoryRingCtl,
  newRingMemory,
  readerData,
  type Speculation,
  speculation,
  stopSpeculation,
} from "./speculate.ts";
import { mark, markAbsolute } from "./timeline.ts";

export type { Codec, FoldShare, SlotMessage } from "./readerBody.ts";
export { RING_BYTES } from "./readerBody.ts";

/** zstd-napi's native binding (DCtx), or null when it is not installed. */
export function zstdBindingPath(): string | null {
  try {
    return createRequire(import.meta.url).resolve("zstd-napi/binding.js");
  } catch {
    return null;
  }
}

/**
 * A reading thread bin/vmlab.cjs started before the bundle was loaded
 * (`vmlab trace FILE`: a thread takes some 20 ms to start, on the other
 * core, while this one loads the CLI), waiting for its body and data in its
 * first message (bin/vmlab.cjs's PRESTART_SOURCE); taken once.
 */
function takePrestarted(): Worker | null {
  const g = globalThis as { __vmlabReader?: Worker };
  const w = g.__vmlabReader ?? null;
  g.__vmlabReader = undefined;
  return w;
}

/** A reading thread with its ring; idle ones wait in the pool for the next file. */
interface Reader {
  worker: Worker;
  ring: SharedArrayBuffer;
  /** the fold module on the ring's memory, on this thread (for shared slots), or null without WebAssembly */
  fold: ((rec: number, n: number, out: number, totals: number) => number) | null;
  /** the fold module's bytes (for its totals on a consumer's memory), or null without WebAssembly */
  foldWasm: Uint8Array | null;
  state: Int32Array;
  /** the current job's message queue */
  queue: SlotMessage[];
  wake: (() => void) | null;
  /** the thread has failed or exited */
  dead: boolean;
  /** hands a message to the current job's queue */
  deliver: (m: SlotMessage) => void;
  /** the job bin/vmlab.cjs started on this thread (speculate.ts), until a read takes it up or stops it */
  spec: Speculation | null;
}

/** Idle reading threads (unref'd: they do not keep the process alive). */
const pool: Reader[] = [];
const POOL_MAX = 2;

function newReader(): Reader {
  let worker = takePrestarted();
  // a prestarted thread bin/vmlab.cjs gave a job already has its body and data (speculate.ts)
  const s = speculation();
  const spec = s !== undefined && s.worker === worker ? s : null;
  const workerData = spec?.data ?? readerData(zstdBindingPath());
  if (spec === null) {
    dropSpeculation(); // (not this thread's: there is none)
    if (worker !== null) worker.postMessage({ body: WORKER_BODY, workerData });
    else worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
  }
  const { ring, ctl, memory, foldWasm } = workerData;
  mark("reading thread created (new Worker)");
  // (instantiated when a shared slot first comes: a run on the raw path never needs it)
  let folder: ((rec: number, n: number, out: number, totals: number) => number) | null = null;
  const fold =
    memory !== null
      ? (rec: number, n: number, out: number, totals: number): number => {
          folder ??= instantiate(foldWasm!, memory).fold as typeof folder & object;
          return folder(rec, n, out, totals);
        }
      : null;
  const deliver = (m: SlotMessage): void => {
    r.queue.push(m);
    if (r.wake) {
      const w = r.wake;
      r.wake = null;
      w();
    }
  };
  const r: Reader = {
    worker: worker!,
    ring,
    fold,
    foldWasm,
    state: new Int32Array(ctl),
    queue: [],
    wake: null,
    dead: false,
    deliver,
    spec,
  };
  worker!.on("message", deliver);
  worker!.on("error", (e) => {
    r.dead = true;
    deliver({ error: e.message, raw: 0, out: 0 });
  });
  worker!.on("exit", (code) => {
    r.dead = true;
    deliver({ error: `the reading thread exited (code ${code})`, raw: 0, out: 0 });
  });
  worker!.unref();
  return r;
}

/**
 * Starts a reading thread ahead of use (a thread takes some 25 ms to
 * start), so that the next readSlots finds it ready.
 */
export function warmReader(): void {
  if (pool.length === 0) pool.push(newReader());
}

/**
 * Reads `path` on a reading thread and yields its messages with a view of
 * the slot each names (empty for the others). `totals` (raw, not fold): each
 * slot's message carries its whole records' totals (RUN_TOTALS), as a
 * folded slot's does. A slot is handed back to the
 * thread when the consumer asks for the next message, so a view must not be
 * kept past that. Stopping early (break, return, a throw) stops the thread.
 */
export async function* readSlots(
  path: string,
  codec: Codec,
  fold: boolean,
  totals = false,
  memory: WasmMemory | null = null,
): AsyncGenerator<{ m: SlotMessage; view: Uint8Array }> {
  let r = pool.pop() ?? newReader();
  while (r.dead) r = pool.pop() ?? newReader();
  if (memory !== null && (fold || r.fold === null))
    throw new Error("readSlots: a memory of the consumer's is for raw slots with WebAssembly only");
  // the job bin/vmlab.cjs started, taken up if it is this one, else stopped (speculate.ts)
  const spec = r.spec !== null && asksFor(r.spec, path, codec, fold, totals, memory) ? r.spec : null;
  endSpeculation(r, spec !== null);
  const ring = memory !== null ? (memory.buffer as SharedArrayBuffer) : r.ring;
  // a ring in the consumer's memory has its own layout and control words (readerBody.ts's MEM_SLOTS)
  const nSlots = memory !== null ? MEM_SLOTS : SLOTS;
  const slotBytes = memory !== null ? MEM_SLOT_BYTES : SLOT_BYTES;
  const ctl = spec?.ctl ?? (memory !== null ? memoryRingCtl() : null);
  const state = ctl !== null ? new Int32Array(ctl) : r.state;
  r.queue.length = 0;
  r.worker.ref();
  if (spec !== null) {
    spec.port.on("message", r.deliver);
    mark("speculative job taken up");
  } else {
    state.fill(0);
    const job: ReaderJob = { path, codec, fold, share: foldShare(), totals };
    if (memory !== null) Object.assign(job, { memory, ctl, slots: nSlots, size: slotBytes });
    r.worker.postMessage(job);
    mark("job posted to the reading thread");
  }
  let finished = false;
  let slots = 0;
  const none = new Uint8Array(0);
  let waited = 0;
  /** wasm/fold.ts's totals on `memory` (made when the reading thread first leaves a slot's totals here) */
  let countTotals: ((rec: number, n: number, totals: number) => void) | null = null;
  let counted = 0;
  try {
    for (;;) {
      if (r.queue.length === 0) {
        const t0 = performance.now();
        while (r.queue.length === 0) await new Promise<void>((w) => (r.wake = w));
        waited += performance.now() - t0;
      }
      let m = r.queue.shift()!;
      if (m.records !== undefined) {
        // a shared slot: fold its records here, in place (a run is written no later than its first
        // record), 64K records at a time as the reading thread folds them: the same runs either way
        const at = m.slot! * slotBytes;
        const totals = new Float64Array(ring, MAIN_TOTALS_AT, 7);
        totals.fill(0);
        let runs = 0;
        for (let k = 0; k < m.records; k += 65536) {
          const n = Math.min(65536, m.records - k);
          runs += r.fold!(at + k * 8, n, at + runs * 8, MAIN_TOTALS_AT);
          if (totals[6] < k + n) break;
        }
        const taken = totals[6];
        const folded: SlotMessage = {
          slot: m.slot,
          runs,
          totals: Array.from(totals),
          raw: m.raw,
          out: m.out,
        };
        if (taken < m.records) {
          // a record that is not one (left in place: the runs end before it) ends the folding, as the thread's
          const w = new Uint32Array(ring, at + taken * 8, 2);
          const bad = { offset: m.at! + taken * 8, lo: w[0], hi: w[1] };
          if (runs > 0) yield { m: folded, view: new Uint8Array(ring, at, runs * 8) };
          yield { m: { done: true, raw: m.raw, out: m.out, bad }, view: none };
          return; // (not finished: the thread, still reading, is stopped)
        }
        m = folded;
      } else if (m.count === true) {
        // a raw slot whose totals the reading thread left to this one (readerBody.ts's share rule): the
        // same module's count of its whole records, handed on as the thread's own would have been
        countTotals ??= instantiate(r.foldWasm!, memory!).totals as typeof countTotals & object;
        const t = new Float64Array(ring, MEM_MAIN_TOTALS_AT, 7);
        t.fill(0);
        countTotals(m.slot! * slotBytes, Math.floor(m.bytes! / 8), MEM_MAIN_TOTALS_AT);
        m = { slot: m.slot, bytes: m.bytes, totals: Array.from(t), raw: m.raw, out: m.out };
        counted++;
      }
      if (m.slot === undefined) {
        finished = m.done === true || m.error !== undefined;
        if (m.done) {
          // (kept here, off the message: its consumers see the same messages from run to run)
          const { cpu, waited: readingWaited, used, marks, ...rest } = m;
          if (marks !== undefined) markAbsolute(marks);
          mark("main: the last message taken");
          lastJob = {
            readingCpu: cpu,
            readingWaited: readingWaited ?? 0,
            mainWaited: waited / 1000,
            mainCounted: counted,
            slots,
            ringUsed: used ?? nSlots,
            ringSlots: nSlots,
          };
          m = rest;
        }
        yield { m, view: none };
        if (finished) return;
        continue;
      }
      const length = m.bytes ?? m.runs! * 8;
      if (slots++ === 0) mark("main: first slot to the consumer");
      yield { m, view: new Uint8Array(ring, m.slot * slotBytes, length) };
      // the consumer is done with the slot: it goes back to the thread
      Atomics.store(state, m.slot, 0);
      Atomics.notify(state, m.slot);
    }
  } finally {
    spec?.port.close();
    if (finished && !r.dead && pool.length < POOL_MAX) {
      // the thread has ended its job: it waits for the next
      r.worker.unref();
      pool.push(r);
    } else {
      Atomics.store(state, nSlots, 1);
      for (let k = 0; k < nSlots; k++) Atomics.notify(state, k);
      await r.worker.terminate();
    }
  }
}

/**
 * The job bin/vmlab.cjs started on `r` (if any) is done with as a job: taken
 * up (`taken`: the read asks for it) or stopped; either way forgotten.
 */
function endSpeculation(r: Reader, taken: boolean): void {
  if (r.spec === null) return;
  if (!taken) stopSpeculation(r.spec);
  r.spec = null;
  dropSpeculation();
}

/**
 * A shared WebAssembly memory for readSlots' `memory` (raw slots): the ring
 * in its first RING_BYTES, room to grow after them (to 4 GiB) for the
 * consumer's own state, such as machine mode's hit loop (hitLoop.ts), which
 * then reads the records where zstd wrote them, with no copy (issue #20,
 * goal 1). Null without WebAssembly or with VMLAB_WASM=0 (the fold's rule).
 * For `path`, the memory of the job bin/vmlab.cjs started on it, if any.
 */
export function ringMemory(path?: string): WasmMemory | null {
  // the memory of the job bin/vmlab.cjs started on `path` (speculate.ts), handed out once
  const s = speculation();
  if (s !== undefined && path === s.path && !s.memoryTaken) {
    s.memoryTaken = true;
    return s.memory;
  }
  return newRingMemory();
}

/** How the last job that readSlots read to its end went on each side of the ring. */
export interface RingWaits {
  /** the reading thread's CPU seconds when it ended the job (Linux; else undefined) */
  readingCpu: number | undefined;
  /** seconds the reading thread waited for a free slot */
  readingWaited: number;
  /** seconds readSlots' caller waited for a slot */
  mainWaited: number;
  /** raw slots with totals: those whose totals this thread counted (the share rule), of `slots` */
  mainCounted: number;
  slots: number;
  /** the ring's slots the reading thread used, of its `ringSlots` */
  ringUsed: number;
  ringSlots: number;
}

let lastJob: RingWaits | null = null;

/**
 * The last job's waits and the reading thread's CPU (`vmlab trace` with
 * VMLAB_TRACE_CPU=1: with the main thread's CPU, which side bounds a run),
 * or null before any.
 */
export function lastRingWaits(): RingWaits | null {
  return lastJob;
}

/** How long readSlotsSync waits for a reading thread that sends nothing before it gives up. */
const SYNC_PATIENCE_MS = 120_000;

/**
 * readSlots for a caller that must not return to the event loop (a
 * scenario statement runs synchronously): the same reading thread and
 * slots, its messages taken from a port of the job's own while this thread
 * blocks in Atomics.wait. Stopping early (return, a throw) stops the thread.
 */
export function* readSlotsSync(path: string, codec: Codec): Generator<{ m: SlotMessage; view: Uint8Array }> {
  let r = pool.pop() ?? newReader();
  while (r.dead) r = pool.pop() ?? newReader();
  endSpeculation(r, false);
  const { state, ring } = r;
  const seq = SLOTS + 1;
  state.fill(0);
  const { port1, port2 } = new MessageChannel();
  r.worker.postMessage({ path, codec, fold: false, port: port2 }, [port2]);
  let finished = false;
  let taken = 0;
  const none = new Uint8Array(0);
  try {
    for (;;) {
      let got = receiveMessageOnPort(port1);
      const since = Date.now();
      while (got === undefined) {
        if (Atomics.wait(state, seq, taken, 1000) === "timed-out" && Date.now() - since > SYNC_PATIENCE_MS)
          throw new Error(`the reading thread sent nothing for ${SYNC_PATIENCE_MS / 1000} s (${path})`);
        got = receiveMessageOnPort(port1);
      }
      taken++;
      const m = got.message as SlotMessage;
      if (m.slot === undefined) {
        finished = m.done === true || m.error !== undefined;
        yield { m, view: none };
        if (finished) return;
        continue;
      }
      yield { m, view: new Uint8Array(ring, m.slot * SLOT_BYTES, m.bytes!) };
      Atomics.store(state, m.slot, 0);
      Atomics.notify(state, m.slot);
    }
  } finally {
    port1.close();
    if (finished && !r.dead && pool.length < POOL_MAX) {
      r.worker.unref();
      pool.push(r);
    } else {
      Atomics.store(state, SLOTS, 1);
      for (let k = 0; k < SLOTS; k++) Atomics.notify(state, k);
      // it ends at its next slot; stopping it is not waited for (nothing here can wait)
      r.dead = true;
      void r.worker.terminate();
    }
  }
}
