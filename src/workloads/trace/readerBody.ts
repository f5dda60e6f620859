/**
 * The reading thread's side of the ring (worker.ts has the main thread's):
 * the body a worker runs, as text (WORKER_BODY), and the messages it sends.
 * The reading thread reads a trace file, decompresses it (zstd, gzip or
 * none) and hands it to the main thread through a ring of slots in shared
 * memory, so that reading and decoding run on the second core beside the
 * simulation, in constant memory, and nothing is copied between the threads.
 *
 * A job names its ring: the thread's own (SLOTS slots of SLOT_BYTES), or,
 * for raw slots, the start of a shared WebAssembly memory of the consumer's
 * (MEM_SLOTS slots of MEM_SLOT_BYTES, with the job's own control words: its
 * `ctl`), so that machine mode's hit loop reads the records where zstd
 * wrote them. bin/vmlab.cjs can start such a job before the CLI is loaded
 * (speculate.ts).
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
 * the slot: consumers see the same runs either way. The same rule leaves a
 * raw slot's totals to the main thread when the slot is in the consumer's
 * memory (machine mode's path: zstd alone is most of this thread's work
 * there, and the totals pass ~10% of its instructions): the slot is posted
 * with `count` and no totals, and readSlots counts them with the same
 * module before the consumer sees it. VMLAB_FOLD_SHARE=worker (never),
 * main (every slot but the first; every raw slot) or alternate (every
 * other) overrides the choice (tests; comparisons).
 *
 * Protocol: the worker fills slot k, sets state[k] = 1 and posts the slot's
 * message; the main thread sets state[k] = 0 (and notifies) when its
 * consumer is done with the slot. The worker waits on a slot's state word
 * before filling it again. It takes the slots it has used in turn, and a
 * slot not used yet only when the next in turn is still held: a consumer
 * that keeps up is served from a few slots, so that the rest of the ring
 * is never touched (py-50M: 32 MiB, ~18 ms of page faults on this thread,
 * and their freeing at the process's end), while one that falls behind
 * gets all of them. state[slots] = 1 (slots: the ring's count) asks
 * it to stop: it stops at its next slot, or at once when it waits for one.
 *
 * A job that brings its own MessagePort (readSlotsSync, for a caller that
 * cannot wait for events: a scenario's replay; the job speculate.ts starts,
 * whose messages are seen only if it is taken up) gets the messages there, and
 * state[slots + 1] counts them (notified), so that the main thread can block
 * in Atomics.wait and take each with receiveMessageOnPort.
 *
 * zstd goes through zstd-napi's binding of ZSTD_decompressStream straight
 * into the slot or the staging buffer (zstd-napi's stream wrapper makes a
 * Buffer per 128 KiB and runs at a quarter of the speed); gzip through
 * node:zlib's stream.
 */
import type { MessagePort } from "node:worker_threads";
import type { WasmApi, WasmMemory } from "../../base/wasm.ts";
import { foldRuns } from "./runs.ts";

export type Codec = "none" | "gzip" | "zstd";

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC = [0x1f, 0x8b];

/** The compression a file's first bytes announce (its magic number; none without one). */
export function codecOf(head: Uint8Array): Codec {
  const starts = (magic: number[]) => head.length >= magic.length && magic.every((m, i) => head[i] === m);
  return starts(ZSTD_MAGIC) ? "zstd" : starts(GZIP_MAGIC) ? "gzip" : "none";
}

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
  /**
   * raw with totals in the consumer's memory, a slot whose totals are left to
   * the main thread (the share rule): readSlots counts them with the same
   * module and hands on `totals` instead
   */
  count?: boolean;
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
  /** at the end of a job: the slots of the ring it took (the ring grows as the consumer holds slots; the next is taken as one is posted) */
  used?: number;
  /** at the end of a job, VMLAB_TIMELINE=1: this thread's marks (absolute ms: timeOrigin + now) */
  marks?: Array<[string, number]>;
}

/** The slots of a reading thread's own ring. */
export const SLOTS = 4;
export const SLOT_BYTES = 4 << 20;
/** The fold's staging buffer (64K records). */
const PIECE = 65536 * 8;
/** Where in the ring the main thread's fold adds its totals (after the reading thread's). */
export const MAIN_TOTALS_AT = SLOTS * SLOT_BYTES + PIECE + 64;

/**
 * The slots of a ring in the consumer's memory (raw slots: a slot with totals
 * holds 2^18 records, 2 MiB). More than the thread's own ring: a job that
 * bin/vmlab.cjs starts before the CLI is loaded (speculate.ts) decodes
 * while this thread compiles and builds the simulation, ~30 ms of zstd
 * before the first record is taken, and the ring holds what it makes then
 * (issue #20, goal 1).
 */
export const MEM_SLOTS = 16;
export const MEM_SLOT_BYTES = 2 << 20;

/** Where in a consumer's memory the main thread's totals of a raw slot go (after the reading thread's). */
export const MEM_MAIN_TOTALS_AT = MEM_SLOTS * MEM_SLOT_BYTES + PIECE + 64;

/** The bytes at the start of a consumer's memory that its ring takes (slots, staging, totals). */
export const RING_BYTES = Math.ceil((MEM_SLOTS * MEM_SLOT_BYTES + PIECE + 128) / 65536) * 65536;

/** A job for the reading thread (its message). */
export interface ReaderJob {
  path: string;
  codec: Codec;
  fold: boolean;
  share?: FoldShare;
  /** the job's messages go here (counted in its state[slots + 1]), not to the thread's parent port */
  port?: MessagePort;
  /** raw slots with their records' totals */
  totals?: boolean;
  /** the ring at the start of this memory (raw slots), with the job's own control words and layout */
  memory?: WasmMemory;
  ctl?: SharedArrayBuffer;
  slots?: number;
  size?: number;
}

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

/** A reading thread's data (workerMain): its own ring and control words. */
export interface ReaderData {
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
}

/**
 * The worker's body. It runs in the worker (as CommonJS, from its source
 * text: no loader hooks needed), so it may use nothing from outside its
 * body but foldInWorker, which is sent with it.
 */
function workerMain(workerData: unknown): void {
  const { parentPort } = workerRequire("node:worker_threads");
  const fs = workerRequire("node:fs");
  const {
    zstd,
    ring: ownRing,
    ctl: ownCtl,
    slots: ownSlots,
    size: ownSize,
    memory,
    foldWasm,
    timeline,
  } = workerData as ReaderData;
  const marks: Array<[string, number]> = [];
  const mark = (name: string): void => {
    if (timeline) marks.push([`reading thread: ${name}`, performance.timeOrigin + performance.now()]);
  };
  mark("started");
  // the WebAssembly fold: its staging buffer (PIECE bytes) and totals (7 f64) follow the slots in the ring
  const PIECE = 65536 * 8; // (as outside the body)
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
  parentPort.on("message", (job: ReaderJob) => runJob(job));

  /** Reads one file; its last message is `done` or `error` (none when the main thread stopped it). */
  function runJob(job: ReaderJob): void {
    const { path, codec, fold } = job;
    const share = job.share ?? "auto";
    const port = job.port ?? null;
    const withTotals = job.totals === true;
    const jobMemory = job.memory ?? null;
    mark("job received");
    // the ring: this thread's own, or the one at the start of the memory the job brought (readSlots' `memory`),
    // with the job's own slots and control words
    const ring = jobMemory !== null ? (jobMemory.buffer as SharedArrayBuffer) : ownRing;
    const slots = job.slots ?? ownSlots;
    const size = job.size ?? ownSize;
    const stagingAt = slots * size;
    const totalsAt = stagingAt + PIECE;
    const foldExports =
      jobMemory !== null && foldModule !== null
        ? new wa.Instance(foldModule, { env: { memory: jobMemory } }).exports
        : ownExports;
    const wasmFold = foldExports?.fold as
      | ((rec: number, n: number, out: number, totals: number) => number)
      | undefined;
    /** wasm/fold.ts's totals: the fold's totals of records without folding them (raw slots with totals) */
    const wasmTotals = foldExports?.totals as ((rec: number, n: number, totals: number) => void) | undefined;
    const state = new Int32Array(job.ctl ?? ownCtl);
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
    /** the slots taken so far (0 to used - 1): the ring grows into the rest when the consumer holds these */
    let used = 1;
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
     * The share rule: whether the consumer takes a slot's work (the fold of
     * the next slot; a raw slot's totals: the slot being posted). It keeps up
     * when it holds no slot but the one just posted (it waits for that one)
     * and this thread has not waited for a free slot in the last 8 (the
     * consumer the slower side of late). VMLAB_FOLD_SHARE overrides (share).
     */
    const sharesNext = (): boolean => {
      if (share === "main") return true;
      if (share === "alternate") return posted % 2 === 1;
      if (share !== "auto" || posted - lastWait <= 8) return false;
      let held = 0;
      for (let k = 0; k < slots; k++) held += Atomics.load(state, k) !== 0 ? 1 : 0;
      return held <= 1;
    };
    /**
     * Posts the current slot and waits for the next. `mayShare`: nothing is
     * staged, so the next slot may be a shared one (whole records, as they come).
     */
    const post = (mayShare: boolean): void => {
      if (posted === 0) mark("first slot posted");
      if (Atomics.load(state, slots) !== 0) throw new Error("stopped"); // (a job not taken up: speculate.ts)
      Atomics.store(state, slot, 1);
      if (shared) {
        send({ slot, records: fill / 8, at: base, raw, out });
        base += fill;
      } else if (fold) send({ slot, runs: fill / 8, totals: Array.from(totals), raw, out });
      else if (withTotals) {
        // raw, with the totals of the slot's whole records (the consumer takes the records themselves);
        // in the consumer's memory, left to the consumer when it waits for this slot (the share rule)
        if (jobMemory !== null && wasmTotals !== undefined && sharesNext()) {
          send({ slot, bytes: fill, count: true, raw, out });
        } else {
          const n = Math.floor(fill / 8);
          if (wasmTotals !== undefined) wasmTotals(slot * size, n, totalsAt);
          else totalsOf(new Uint32Array(ring, slot * size, 2 * n), n, totals);
          send({ slot, bytes: fill, totals: Array.from(totals), raw, out });
        }
      } else send({ slot, bytes: fill, raw, out });
      totals.fill(0);
      posted++;
      shared = mayShare && wasmFold !== undefined && sharesNext();
      // the slots in turn, but only as many as the consumer keeps busy: a slot not used yet is taken
      // only when the next in turn is still held, so that a ring the consumer keeps up with is touched
      // (its pages faulted in, and freed at the end) in a few slots, not all of it
      slot = (slot + 1) % used;
      if (used < slots && Atomics.load(state, slot) !== 0) slot = used++;
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
      // (loaded here, for a gzip file only: ~0.35 ms of the thread's start, before zstd's first bytes)
      const dec = workerRequire("node:zlib").createGunzip();
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
        used,
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

// `__name`: the name-keeping shim some TypeScript loaders (tsx) put in function bodies
export const WORKER_BODY = `"use strict";\nconst __name = (f) => f;\nconst foldInWorker = ${foldRuns.toString()};\nreturn (${workerMain.toString()});\n`;
export const WORKER_SOURCE = `new Function("workerRequire", ${JSON.stringify(WORKER_BODY)})(require)(require("node:worker_threads").workerData);\n`;
