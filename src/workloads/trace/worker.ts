/**
 * The reading thread: a worker that reads a trace file, decompresses it
 * (zstd, gzip or none) and hands it to the main thread through a ring of
 * slots in shared memory, so that reading and decoding run on the second
 * core beside the simulation, in constant memory, and nothing is copied
 * between the threads.
 *
 * Two modes:
 * - raw: a slot holds decompressed bytes (every slot but the last is full);
 * - fold: the worker checks the u64-addr2kind records itself and folds them
 *   into runs (runs.ts); a slot holds runs, and its message carries the
 *   records' totals. A record that cannot be one (its address at or beyond
 *   2^47) stops the folding: the runs before it are posted, then its offset.
 *
 * The fold runs in WebAssembly (wasm/fold.ts, foldRuns' twin; docs/wasm.md):
 * the ring is a shared WebAssembly.Memory whose last bytes are the staging
 * buffer and the totals, so zstd decompresses into the module's memory and
 * the module writes the runs straight into the slot. VMLAB_WASM=0 in the
 * environment (or a runtime without WebAssembly) folds with foldRuns.
 *
 * The fold is shared with the main thread when the main thread keeps up
 * (the WebAssembly fold only): zstd and the fold together can cost the
 * reading thread more than the simulation costs the main thread (py-200M:
 * 1.9 s against 1.45 s of CPU), so when a slot is posted, the consumer
 * holds no other and this thread has not waited for a free slot of late,
 * the next slot takes records as zstd makes them (2^18 at most, `records`
 * in its message) and readSlots folds them in place, with the same module
 * on the same memory, 64K records a call as here, before the consumer sees
 * the slot: consumers see the same runs either way. VMLAB_FOLD_SHARE=worker
 * (never), main (every slot but the first) or alternate (every other)
 * overrides the choice (tests; comparisons).
 *
 * Protocol: the worker fills slot k, sets state[k] = 1 and posts the slot's
 * message; the main thread sets state[k] = 0 (and notifies) when its
 * consumer is done with the slot. The worker waits on a slot's state word
 * before filling it again. state[SLOTS] = 1 asks it to stop.
 *
 * A job that brings its own MessagePort (readSlotsSync, for a caller that
 * cannot wait for events: a scenario's replay) gets the messages there, and
 * state[SLOTS + 1] counts them (notified), so that the main thread can block
 * in Atomics.wait and take each with receiveMessageOnPort.
 *
 * zstd goes through zstd-napi's binding of ZSTD_decompressStream straight
 * into the slot or the staging buffer (zstd-napi's stream wrapper makes a
 * Buffer per 128 KiB and runs at a quarter of the speed); gzip through
 * node:zlib's stream.
 */
import { createRequire } from "node:module";
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { fromBase64, instantiate, type WasmApi, type WasmMemory, wasmApi } from "../../base/wasm.ts";
import { FOLD_WASM } from "./foldWasm.ts";
import { foldRuns } from "./runs.ts";
import { mark, markAbsolute, timelineOn } from "./timeline.ts";

export type Codec = "none" | "gzip" | "zstd";

/** A message from the worker. */
export interface SlotMessage {
  /** a filled slot */
  slot?: number;
  /** raw mode: decompressed bytes in the slot */
  bytes?: number;
  /** fold mode: runs in the slot, and their records' totals (RUN_TOTALS; raw mode with totals: its records') */
  runs?: number;
  totals?: number[];
  /**
   * fold mode, a slot left to the main thread to fold: whole records in it,
   * and the byte offset of its first in the decompressed stream (readSlots
   * folds them and hands on `runs` and `totals` instead)
   */
  records?: number;
  at?: number;
  /** compressed bytes read, and decompressed bytes produced, so far */
  raw: number;
  out: number;
  /** the end of the input (or of the folding, at a bad record) */
  done?: boolean;
  /** fold mode, at the end: bytes after the last whole record */
  rest?: number;
  /** fold mode: the first record that is not u64-addr2kind, at this byte offset */
  bad?: { offset: number; lo: number; hi: number };
  error?: string;
  code?: string;
  /** the error is the decoder's: corrupt or truncated compressed data */
  decode?: boolean;
  /** at the end of a job: the reading thread's CPU seconds so far (Linux; else absent) */
  cpu?: number;
  /** at the end of a job: the seconds it waited for a free slot */
  waited?: number;
  /** at the end of a job, VMLAB_TIMELINE=1: this thread's marks (absolute ms: timeOrigin + now) */
  marks?: Array<[string, number]>;
}

const SLOTS = 4;
const SLOT_BYTES = 4 << 20;
/** The fold's staging buffer (64K records). */
const PIECE = 65536 * 8;
/** Where in the ring the main thread's fold adds its totals (after the reading thread's). */
const MAIN_TOTALS_AT = SLOTS * SLOT_BYTES + PIECE + 64;

/** Who folds a slot: the reading thread unless the main thread keeps up (auto), or as forced. */
export type FoldShare = "auto" | "worker" | "main" | "alternate";

/**
 * foldRuns as the worker knows it: the worker's source defines it from
 * foldRuns' text (the body must not name an import: loaders rewrite those).
 */
declare const foldInWorker: typeof foldRuns;
/**
 * The worker's `require`, named apart: a bundler turns a `require` in the
 * body's text into its own helper, which the worker does not have.
 */
declare const workerRequire: NodeJS.Require;

/**
 * The worker's body. It runs in the worker (as CommonJS, from its source
 * text: no loader hooks needed), so it may use nothing from outside its
 * body but foldInWorker, which is sent with it.
 */
function workerMain(workerData: unknown): void {
  const { parentPort } = workerRequire("node:worker_threads");
  const fs = workerRequire("node:fs");
  const zlib = workerRequire("node:zlib");
  const {
    zstd,
    ring: ownRing,
    ctl,
    slots,
    size,
    memory,
    foldWasm,
    timeline,
  } = workerData as {
    zstd: string | null;
    ring: SharedArrayBuffer;
    ctl: SharedArrayBuffer;
    slots: number;
    size: number;
    /** the ring as a shared WebAssembly.Memory, and the fold module's bytes (else null: foldRuns) */
    memory: WasmMemory | null;
    foldWasm: Uint8Array | null;
    /** VMLAB_TIMELINE=1: keep marks (timeline.ts) */
    timeline: boolean;
  };
  const marks: Array<[string, number]> = [];
  const mark = (name: string): void => {
    if (timeline) marks.push([`reading thread: ${name}`, performance.timeOrigin + performance.now()]);
  };
  mark("started");
  // the WebAssembly fold: its staging buffer (PIECE bytes) and totals (7 f64) follow the slots in the ring
  const PIECE = 65536 * 8; // (as outside the body)
  const stagingAt = slots * size;
  const totalsAt = stagingAt + PIECE;
  const wa = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly; // (no import in the body)
  const foldModule = memory !== null && foldWasm !== null ? new wa.Module(foldWasm) : null;
  const ownExports = foldModule !== null ? new wa.Instance(foldModule, { env: { memory } }).exports : null;
  // zstd's binding loaded now, while the main thread is still setting up (not when the first job comes)
  if (zstd !== null) workerRequire(zstd);
  mark("fold module ready");
  /** This thread's CPU seconds (user + system) so far, from /proc/thread-self/stat; undefined elsewhere. */
  const threadCpu = (): number | undefined => {
    try {
      // the time on a CPU in ns (schedstat's first field), where stat's utime and stime count 10 ms ticks
      return Number(fs.readFileSync("/proc/thread-self/schedstat", "latin1").split(" ")[0]) / 1e9;
    } catch {
      return undefined;
    }
  };
  parentPort.on(
    "message",
    (job: {
      path: string;
      codec: Codec;
      fold: boolean;
      share?: FoldShare;
      port?: MessagePort;
      totals?: boolean;
      memory?: WasmMemory;
    }) =>
      runJob(
        job.path,
        job.codec,
        job.fold,
        job.share ?? "auto",
        job.port ?? null,
        job.totals === true,
        job.memory ?? null,
      ),
  );

  /** Reads one file; its last message is `done` or `error` (none when the main thread stopped it). */
  function runJob(
    path: string,
    codec: Codec,
    fold: boolean,
    share: FoldShare,
    port: MessagePort | null,
    withTotals: boolean,
    jobMemory: WasmMemory | null,
  ): void {
    mark("job received");
    // the ring: this thread's own, or the one at the start of the memory the job brought (readSlots' `memory`)
    const ring = jobMemory !== null ? (jobMemory.buffer as SharedArrayBuffer) : ownRing;
    const foldExports =
      jobMemory !== null && foldModule !== null
        ? new wa.Instance(foldModule, { env: { memory: jobMemory } }).exports
        : ownExports;
    const wasmFold = foldExports?.fold as
      | ((rec: number, n: number, out: number, totals: number) => number)
      | undefined;
    /** wasm/fold.ts's totals: the fold's totals of records without folding them (raw slots with totals) */
    const wasmTotals = foldExports?.totals as ((rec: number, n: number, totals: number) => void) | undefined;
    const state = new Int32Array(ctl);
    /** a message to the main thread: on the job's own port (counted in state[slots + 1]), else the thread's */
    const send = (m: SlotMessage): void => {
      if (port === null) {
        parentPort.postMessage(m);
        return;
      }
      port.postMessage(m);
      Atomics.add(state, slots + 1, 1);
      Atomics.notify(state, slots + 1);
    };
    let slot = 0;
    let fill = 0;
    let raw = 0;
    let out = 0;
    let view = new Uint8Array(ring, 0, size);
    // fold mode: decompressed bytes are staged, 64K records at a time (in the ring's tail for the WebAssembly fold)
    const staging =
      fold && wasmFold !== undefined
        ? new Uint8Array(ring, stagingAt, PIECE)
        : new Uint8Array(fold ? PIECE : 0);
    let staged = 0;
    /** byte offset of staging[0] (of the slot's first byte, in a shared slot) in the decompressed stream */
    let base = 0;
    /** the current slot takes records for the main thread to fold (fold mode, the WebAssembly fold only) */
    let shared = false;
    const SHARED_MAX = 262144 * 8; // records in a shared slot at most, as many as a folded slot's
    // a raw slot with totals holds 2^18 records, as a folded one: the consumer sees the same batches
    const rawMax = withTotals ? SHARED_MAX : size;
    const totals = wasmFold !== undefined ? new Float64Array(ring, totalsAt, 7) : new Float64Array(7);
    totals.fill(0);
    let stopped = false;

    let posted = 0;
    /** milliseconds spent waiting for a free slot, and the count of slots posted when it last waited */
    let waited = 0;
    let lastWait = -Infinity;
    /**
     * Posts the current slot and waits for the next. `mayShare`: nothing is
     * staged, so the next slot may be a shared one (whole records, as they come).
     */
    const post = (mayShare: boolean): void => {
      if (posted === 0) mark("first slot posted");
      Atomics.store(state, slot, 1);
      if (shared) {
        send({ slot, records: fill / 8, at: base, raw, out });
        base += fill;
      } else if (fold) send({ slot, runs: fill / 8, totals: Array.from(totals), raw, out });
      else if (withTotals) {
        // raw, with the totals of the slot's whole records (the consumer takes the records themselves)
        const n = Math.floor(fill / 8);
        if (wasmTotals !== undefined) wasmTotals(slot * size, n, totalsAt);
        else totalsOf(new Uint32Array(ring, slot * size, 2 * n), n, totals);
        send({ slot, bytes: fill, totals: Array.from(totals), raw, out });
      } else send({ slot, bytes: fill, raw, out });
      totals.fill(0);
      posted++;
      // the consumer keeps up when it holds no slot but the one just posted, and this thread has not
      // waited for a free slot in the last 8 (the consumer the slower side of late): the next is its to fold
      let held = 0;
      for (let k = 0; k < slots; k++) held += Atomics.load(state, k) !== 0 ? 1 : 0;
      shared =
        mayShare &&
        wasmFold !== undefined &&
        (share === "main" ||
          (share === "alternate" && posted % 2 === 1) ||
          (share === "auto" && held <= 1 && posted - lastWait > 8));
      slot = (slot + 1) % slots;
      fill = 0;
      if (Atomics.load(state, slot) !== 0) {
        lastWait = posted;
        const t0 = performance.now();
        while (Atomics.load(state, slot) !== 0) {
          if (Atomics.load(state, slots) !== 0) throw new Error("stopped");
          Atomics.wait(state, slot, 1, 1000);
        }
        waited += performance.now() - t0;
      }
      view = new Uint8Array(ring, slot * size, size);
    };

    /** The totals of `n` records (foldRuns' without folding: wasm/fold.ts's totals when there is no WebAssembly). */
    const totalsOf = (w: Uint32Array, n: number, t: Float64Array): void => {
      for (let i = 0; i < n; i++) {
        const lo = w[2 * i];
        const off = (lo >>> 2) & 4095;
        const k = lo & 3;
        t[k]++;
        t[k === 0 ? 5 : 4] += off;
      }
      t[6] += n;
    };

    /** Folds the staged whole records into the slot; stops at a bad record. */
    const foldStaged = (): void => {
      const whole = Math.floor(staged / 8);
      const words = new Uint32Array(staging.buffer, staging.byteOffset, whole * 2);
      if (fill > 0 && (size - fill) / 8 < whole) post(false);
      const before = totals[6];
      const m =
        wasmFold !== undefined
          ? wasmFold(stagingAt, whole, slot * size + fill, totalsAt)
          : foldInWorker(words, whole, new Uint32Array(ring, slot * size + fill, 2 * whole), totals);
      const n = totals[6] - before;
      fill += m * 8;
      if (n < whole) {
        if (fill > 0) post(false);
        send({
          done: true,
          raw,
          out,
          bad: { offset: base + n * 8, lo: words[2 * n], hi: words[2 * n + 1] },
        });
        stopped = true;
        return;
      }
      const used = whole * 8;
      // a slot at least every 2^18 records, so that the consumer sees progress (faults over time) often enough
      if (totals[6] >= 262144) post(used === staged);
      staging.copyWithin(0, used, staged);
      staged -= used;
      base += used;
    };

    /** Where the next decompressed bytes go. */
    const space = (): Uint8Array =>
      shared
        ? view.subarray(fill, SHARED_MAX)
        : fold
          ? staging.subarray(staged)
          : view.subarray(fill, rawMax);
    /** n bytes were written at space(). */
    const commit = (n: number): void => {
      out += n;
      if (shared) {
        fill += n;
        if (fill === SHARED_MAX) post(true);
      } else if (fold) {
        staged += n;
        if (staged === PIECE) foldStaged();
      } else {
        fill += n;
        if (fill === rawMax) post(false);
      }
    };
    const put = (c: Uint8Array): void => {
      let at = 0;
      while (at < c.length && !stopped) {
        const s = space();
        const n = Math.min(c.length - at, s.length);
        s.set(c.subarray(at, at + n));
        at += n;
        commit(n);
      }
    };

    const readZstd = (): void => {
      const dctx = new (workerRequire(zstd as string).DCtx)();
      const fd = fs.openSync(path, "r");
      const src = Buffer.allocUnsafe(1 << 20);
      const empty = new Uint8Array(0);
      let ret = 0;
      try {
        while (!stopped) {
          const got = fs.readSync(fd, src, 0, src.length, null);
          raw += got;
          let input: Uint8Array = got === 0 ? empty : src.subarray(0, got);
          // at the end: call again without input until nothing more comes out
          while (!stopped) {
            let r: number[];
            try {
              r = dctx.decompressStream(space(), input);
            } catch (e) {
              throw Object.assign(e as Error, { decode: true });
            }
            // (a call that does nothing after a frame's end asks for the next frame's header)
            if (r[1] !== 0 || r[2] !== 0) ret = r[0];
            if (out === 0 && r[1] !== 0) mark("zstd's first bytes");
            input = input.subarray(r[2]);
            const before = out;
            commit(r[1]);
            if (out === before && r[2] === 0 && input.length !== 0)
              throw new Error("the zstd decoder made no progress");
            if (input.length === 0 && (got !== 0 || r[1] === 0)) break;
          }
          if (got === 0) break;
        }
      } finally {
        fs.closeSync(fd);
      }
      if (!stopped && ret !== 0)
        throw Object.assign(new Error("the input ends inside a zstd frame"), { decode: true });
    };
    const readPlain = (): void => {
      const fd = fs.openSync(path, "r");
      try {
        while (!stopped) {
          const s = space();
          const got = fs.readSync(fd, s, 0, s.length, null);
          if (got === 0) break;
          raw += got;
          commit(got);
        }
      } finally {
        fs.closeSync(fd);
      }
    };
    const readGzip = async (): Promise<void> => {
      const src = fs.createReadStream(path, { highWaterMark: 1 << 20 });
      const dec = zlib.createGunzip();
      src.on("error", (e: Error) => dec.destroy(e));
      src.on("data", (c: Buffer) => {
        raw += c.length;
      });
      src.pipe(dec);
      try {
        for await (const c of dec) {
          put(c);
          if (stopped) break;
        }
      } finally {
        src.destroy();
      }
    };

    (async () => {
      if (codec === "zstd") readZstd();
      else if (codec === "gzip") await readGzip();
      else readPlain();
      if (stopped) return;
      let rest = 0;
      if (shared) {
        // the records of a shared slot; the bytes after the last whole one are the rest
        rest = fill % 8;
        fill -= rest;
      } else if (fold) {
        foldStaged();
        if (stopped) return;
        rest = staged;
      }
      if (fill > 0) post(false);
      mark("last slot posted");
      send({
        done: true,
        raw,
        out,
        rest,
        cpu: threadCpu(),
        waited: waited / 1000,
        marks: timeline ? marks.splice(0) : undefined,
      });
    })().catch((e) => {
      if (Atomics.load(state, slots) === 0)
        send({
          error: String(e?.message ?? e),
          code: e?.code,
          // a decoder's complaint about the data (zlib's codes are Z_...), not a fault of the worker
          decode: e?.decode === true || /^Z_/.test(String(e?.code)),
          raw,
          out,
        });
    });
  }
}

/** zstd-napi's native binding (DCtx), or null when it is not installed. */
export function zstdBindingPath(): string | null {
  try {
    return createRequire(import.meta.url).resolve("zstd-napi/binding.js");
  } catch {
    return null;
  }
}

// `__name`: the name-keeping shim some TypeScript loaders (tsx) put in function bodies
const WORKER_BODY = `"use strict";\nconst __name = (f) => f;\nconst foldInWorker = ${foldRuns.toString()};\nreturn (${workerMain.toString()});\n`;
const WORKER_SOURCE = `new Function("workerRequire", ${JSON.stringify(WORKER_BODY)})(require)(require("node:worker_threads").workerData);\n`;

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
  state: Int32Array;
  /** the current job's message queue */
  queue: SlotMessage[];
  wake: (() => void) | null;
  /** the thread has failed or exited */
  dead: boolean;
}

/** Idle reading threads (unref'd: they do not keep the process alive). */
const pool: Reader[] = [];
const POOL_MAX = 2;

/** The fold module's bytes, or null when the fold is to be foldRuns (VMLAB_WASM=0, or no WebAssembly). */
function foldModuleBytes(): Uint8Array | null {
  if (process.env.VMLAB_WASM === "0" || wasmApi() === null) return null;
  return fromBase64(FOLD_WASM);
}

function newReader(): Reader {
  const foldWasm = foldModuleBytes();
  // the slots, then the WebAssembly fold's staging buffer (64K records) and both threads' totals, in whole pages
  const pages = Math.ceil((MAIN_TOTALS_AT + 64) / 65536);
  const memory =
    foldWasm !== null ? new (wasmApi()!.Memory)({ initial: pages, maximum: pages, shared: true }) : null;
  const ring =
    memory !== null ? (memory.buffer as SharedArrayBuffer) : new SharedArrayBuffer(SLOTS * SLOT_BYTES);
  const ctl = new SharedArrayBuffer(4 * (SLOTS + 2));
  const workerData = {
    zstd: zstdBindingPath(),
    ring,
    ctl,
    slots: SLOTS,
    size: SLOT_BYTES,
    memory,
    foldWasm,
    timeline: timelineOn(),
  };
  let worker = takePrestarted();
  if (worker !== null) worker.postMessage({ body: WORKER_BODY, workerData });
  else worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
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
  const r: Reader = { worker, ring, fold, state: new Int32Array(ctl), queue: [], wake: null, dead: false };
  const deliver = (m: SlotMessage): void => {
    r.queue.push(m);
    if (r.wake) {
      const w = r.wake;
      r.wake = null;
      w();
    }
  };
  worker.on("message", deliver);
  worker.on("error", (e) => {
    r.dead = true;
    deliver({ error: e.message, raw: 0, out: 0 });
  });
  worker.on("exit", (code) => {
    r.dead = true;
    deliver({ error: `the reading thread exited (code ${code})`, raw: 0, out: 0 });
  });
  worker.unref();
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
  const { state } = r;
  const ring = memory !== null ? (memory.buffer as SharedArrayBuffer) : r.ring;
  state.fill(0);
  r.queue.length = 0;
  r.worker.ref();
  r.worker.postMessage({ path, codec, fold, share: foldShare(), totals, memory: memory ?? undefined });
  mark("job posted to the reading thread");
  let finished = false;
  let slots = 0;
  const none = new Uint8Array(0);
  let waited = 0;
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
        const at = m.slot! * SLOT_BYTES;
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
      }
      if (m.slot === undefined) {
        finished = m.done === true || m.error !== undefined;
        if (m.done) {
          // (kept here, off the message: its consumers see the same messages from run to run)
          const { cpu, waited: readingWaited, marks, ...rest } = m;
          if (marks !== undefined) markAbsolute(marks);
          mark("main: the last message taken");
          lastJob = { readingCpu: cpu, readingWaited: readingWaited ?? 0, mainWaited: waited / 1000 };
          m = rest;
        }
        yield { m, view: none };
        if (finished) return;
        continue;
      }
      const length = m.bytes ?? m.runs! * 8;
      if (slots++ === 0) mark("main: first slot to the consumer");
      yield { m, view: new Uint8Array(ring, m.slot * SLOT_BYTES, length) };
      // the consumer is done with the slot: it goes back to the thread
      Atomics.store(state, m.slot, 0);
      Atomics.notify(state, m.slot);
    }
  } finally {
    if (finished && !r.dead && pool.length < POOL_MAX) {
      // the thread has ended its job: it waits for the next
      r.worker.unref();
      pool.push(r);
    } else {
      Atomics.store(state, SLOTS, 1);
      for (let k = 0; k < SLOTS; k++) Atomics.notify(state, k);
      await r.worker.terminate();
    }
  }
}

/** The bytes at the start of a memory given to readSlots that its ring takes (slots, staging, totals). */
export const RING_BYTES = Math.ceil((MAIN_TOTALS_AT + 64) / 65536) * 65536;

/**
 * A shared WebAssembly memory for readSlots' `memory` (raw slots): the ring
 * in its first RING_BYTES, room to grow after them (to 4 GiB) for the
 * consumer's own state, such as machine mode's hit loop (hitLoop.ts), which
 * then reads the records where zstd wrote them, with no copy (issue #20,
 * goal 1). Null without WebAssembly or with VMLAB_WASM=0 (the fold's rule).
 */
export function ringMemory(): WasmMemory | null {
  if (process.env.VMLAB_WASM === "0" || wasmApi() === null) return null;
  return new (wasmApi()!.Memory)({ initial: RING_BYTES / 65536, maximum: 65536, shared: true });
}

/** How the last job that readSlots read to its end went on each side of the ring. */
export interface RingWaits {
  /** the reading thread's CPU seconds when it ended the job (Linux; else undefined) */
  readingCpu: number | undefined;
  /** seconds the reading thread waited for a free slot */
  readingWaited: number;
  /** seconds readSlots' caller waited for a slot */
  mainWaited: number;
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

/** VMLAB_FOLD_SHARE: who folds the slots (auto unless one of the others is named). */
function foldShare(): FoldShare {
  const v = process.env.VMLAB_FOLD_SHARE;
  return v === "worker" || v === "main" || v === "alternate" ? v : "auto";
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
