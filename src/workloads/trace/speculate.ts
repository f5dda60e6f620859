/**
 * The reading job started before the CLI is loaded (issue #20, goal 1).
 *
 * `vmlab trace FILE` spends ~50 ms after Node's start before its first
 * record (the bundle compiled and run, the command's options, the
 * simulation built) while the reading thread, prestarted by bin/vmlab.cjs,
 * sits idle on the other core; then the two threads go at about the same
 * pace (py-50M: ~0.21 s of simulation against ~0.20 s of zstd), so the main
 * thread waits for slots now and then. bin/vmlab.cjs loads this module
 * alone (its own small bundle, .build/cli/reader.cjs) once the CLI's bundle
 * is known fresh, and `speculate` gives the prestarted thread its body and,
 * at once, the job machine mode's raw path will ask for (raw slots with
 * their totals, in a shared WebAssembly memory made here: the ring of
 * readerBody.ts's MEM_SLOTS slots): zstd runs during the CLI's start-up
 * and the ring is full when the first record is wanted.
 *
 * The CLI takes the job up (worker.ts's readSlots) only when it asks for
 * exactly that (the file, its compression, raw slots with totals, in the
 * very memory ringFor handed out); any other read stops it (its stop word,
 * seen at its next slot) and closes its port, so that nothing it sent is
 * seen, and the thread goes on to the job asked for. The file is only
 * read: every error of it (a missing file, corrupt data) is still reported
 * by the CLI, after its options are checked, as without the speculation.
 * A run that never reads (a bad option, --help) leaves the unref'd thread
 * to the process's exit.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { MessageChannel, type MessagePort, type Worker } from "node:worker_threads";
import { fromBase64, type WasmMemory, wasmApi } from "../../base/wasm.ts";
import { FOLD_WASM } from "./foldWasm.ts";
import {
  type Codec,
  codecOf,
  type FoldShare,
  MAIN_TOTALS_AT,
  MEM_SLOT_BYTES,
  MEM_SLOTS,
  type ReaderData,
  type ReaderJob,
  RING_BYTES,
  SLOT_BYTES,
  SLOTS,
  WORKER_BODY,
} from "./readerBody.ts";
import { mark, timelineOn } from "./timeline.ts";

/** The fold module's bytes, or null when the fold is to be foldRuns (VMLAB_WASM=0, or no WebAssembly). */
export function foldModuleBytes(): Uint8Array | null {
  if (process.env.VMLAB_WASM === "0" || wasmApi() === null) return null;
  return fromBase64(FOLD_WASM);
}

export type { ReaderData };

/** A new reading thread's data; `zstd`: zstd-napi's binding (worker.ts's zstdBindingPath). */
export function readerData(zstd: string | null): ReaderData {
  const foldWasm = foldModuleBytes();
  // the slots, then the WebAssembly fold's staging buffer (64K records) and both threads' totals, in whole pages
  const pages = Math.ceil((MAIN_TOTALS_AT + 64) / 65536);
  const memory =
    foldWasm !== null ? new (wasmApi()!.Memory)({ initial: pages, maximum: pages, shared: true }) : null;
  const ring =
    memory !== null ? (memory.buffer as SharedArrayBuffer) : new SharedArrayBuffer(SLOTS * SLOT_BYTES);
  const ctl = new SharedArrayBuffer(4 * (SLOTS + 2));
  return { zstd, ring, ctl, slots: SLOTS, size: SLOT_BYTES, memory, foldWasm, timeline: timelineOn() };
}

/**
 * A shared WebAssembly memory whose first RING_BYTES a job's ring takes,
 * with room to grow after them (to 4 GiB) for the consumer's own state;
 * null without WebAssembly or with VMLAB_WASM=0.
 */
export function newRingMemory(): WasmMemory | null {
  if (process.env.VMLAB_WASM === "0" || wasmApi() === null) return null;
  return new (wasmApi()!.Memory)({ initial: RING_BYTES / 65536, maximum: 65536, shared: true });
}

/** Control words for a job in a memory ring (MEM_SLOTS slots' states, the stop word, a message count). */
export function memoryRingCtl(): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * (MEM_SLOTS + 2));
}

/**
 * VMLAB_FOLD_SHARE: who folds a slot, or counts a raw slot's totals (readerBody.ts's share rule):
 * auto unless one of the others is named.
 */
export function foldShare(): FoldShare {
  const v = process.env.VMLAB_FOLD_SHARE;
  return v === "worker" || v === "main" || v === "alternate" ? v : "auto";
}

/** The started job, until the CLI takes it up or stops it. */
export interface Speculation {
  /** the thread, given its body and `data` already */
  worker: Worker;
  data: ReaderData;
  path: string;
  codec: Codec;
  memory: WasmMemory;
  ctl: SharedArrayBuffer;
  /** where the job's messages come (nothing listens until the job is taken up) */
  port: MessagePort;
  /** ringFor has handed `memory` out (once) */
  memoryTaken: boolean;
}

// (on globalThis: bin/vmlab.cjs's copy of this module and the CLI bundle's are two)
const g = globalThis as { __vmlabSpeculation?: Speculation };

/**
 * bin/vmlab.cjs: gives the prestarted thread `worker` its body and data and
 * starts reading `path` as machine mode's raw path will ask for it, if
 * `path` is a regular file the thread can read (zstd needs the binding at
 * `zstd`). Nothing is posted unless all of it is. Returns whether it did.
 */
export function speculate(worker: Worker, path: string, zstd: string | null): boolean {
  let head: Buffer;
  try {
    const fd = openSync(path, "r");
    try {
      // a regular file only: a FIFO's bytes would be taken from the run that reads it
      if (!fstatSync(fd).isFile()) return false;
      head = Buffer.alloc(4);
      head = head.subarray(0, readSync(fd, head, 0, 4, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false; // (the CLI reports why the file cannot be read)
  }
  const codec = codecOf(head);
  if (codec === "zstd" && zstd === null) return false;
  const memory = newRingMemory();
  if (memory === null) return false;
  const data = readerData(zstd);
  const ctl = memoryRingCtl();
  const { port1, port2 } = new MessageChannel();
  const job: ReaderJob = {
    path,
    codec,
    fold: false,
    share: foldShare(),
    totals: true,
    memory,
    ctl,
    slots: MEM_SLOTS,
    size: MEM_SLOT_BYTES,
    port: port2,
  };
  worker.postMessage({ body: WORKER_BODY, workerData: data });
  worker.postMessage(job, [port2]);
  g.__vmlabSpeculation = { worker, data, path, codec, memory, ctl, port: port1, memoryTaken: false };
  mark("reading job posted (speculative)");
  return true;
}

/** The started job, if any (worker.ts). */
export function speculation(): Speculation | undefined {
  return g.__vmlabSpeculation;
}

/** Forgets the started job (worker.ts, once it is taken up or stopped). */
export function dropSpeculation(): void {
  g.__vmlabSpeculation = undefined;
}

/**
 * Whether a read of `path` asks for the started job `s`: raw slots with
 * totals, of the same compression, into the memory ringFor handed out.
 */
export function asksFor(
  s: Speculation,
  path: string,
  codec: Codec,
  fold: boolean,
  totals: boolean,
  memory: WasmMemory | null,
): boolean {
  return s.path === path && s.codec === codec && !fold && totals && memory === s.memory;
}

/** Stops the started job (it sees its stop word at its next slot) and drops its messages. */
export function stopSpeculation(s: Speculation): void {
  const state = new Int32Array(s.ctl);
  Atomics.store(state, MEM_SLOTS, 1);
  for (let k = 0; k < MEM_SLOTS; k++) Atomics.notify(state, k);
  s.port.close();
}
