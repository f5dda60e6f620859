/**
 * One pass of a sweep on this machine's job threads: up to PASS_MAX
 * configurations dealt out in groups, one per thread (sweepGroup.ts), and
 * the rings they read (sweepShared.ts), each filled once from the trace.
 * `vmlab sweep` runs its configurations in passes; `vmlab worker` runs the
 * jobs it holds of one trace as a pass (queue.ts).
 */
import { statSync } from "node:fs";
import { type Reading, readingOf, type SweepGroup, type TraceFile, traceFile } from "./sweepGroup.ts";
import { type SweepJob, type SweepJobResult, traceOptions } from "./sweepJob.ts";
import { broadcast, broadcastBoth, newRing, type Ring, reuseRing, stopRing } from "./sweepShared.ts";

/** The rings of the last pass that ended well, for the next pass to reuse (reuseRing). */
export interface SpareRings {
  runs: Ring | null;
  records: Ring | null;
}

/**
 * Configurations run together, reading one decoding of the trace: a sweep
 * of more decodes the file once per this many (their simulations are all in
 * memory at once).
 */
export const PASS_MAX = 64;

/** One pass: the jobs in groups, one per thread, and the rings they read, filled once. */
export async function runPass(
  pool: { run(task: unknown): Promise<unknown> },
  jobs: SweepJob[],
  threads: number,
  file: TraceFile,
  tick: () => void,
  rings: Ring[],
  spare?: SpareRings,
): Promise<SweepJobResult[]> {
  const reading = jobs.map((j) => readingOf(j, file, traceOptions));
  const n = Math.min(threads, jobs.length);
  const groups = Array.from({ length: n }, () => ({ index: [] as number[], reading: [] as Reading[] }));
  // dealt out kind by kind, in the jobs' order, there and back (threads 0, 1, 1, 0, 0, 1, ...):
  // every thread has a like share of each kind and of each frame count (the sizes alternate
  // in the jobs' order, and the small ones fault more), as the pass lasts as long as its slowest thread
  let next = 0;
  for (const kind of ["runs", "records", "own"] as const)
    reading.forEach((r, i) => {
      if (r !== kind) return;
      const turn = Math.floor(next / n);
      const at = next++ % n;
      const g = groups[turn % 2 === 0 ? at : n - 1 - at];
      g.index.push(i);
      g.reading.push(r);
    });
  const ring = (fold: boolean, kind: Reading): Ring | null => {
    if (!reading.includes(kind)) return null;
    const reads = groups.map((g) => g.reading.includes(kind));
    const old = spare?.[kind as "runs" | "records"] ?? null;
    const r = (old !== null ? reuseRing(old, reads) : null) ?? newRing(fold, reads);
    if (spare !== undefined) spare[kind as "runs" | "records"] = r;
    rings.push(r);
    return r;
  };
  const shared = { runs: ring(true, "runs"), records: ring(false, "records") };
  // both rings from one decompression when both are read, else the one from its own reading
  const producers =
    shared.runs !== null && shared.records !== null
      ? [broadcastBoth(shared.runs, shared.records, file.path, file.codec)]
      : [shared.runs, shared.records].flatMap((r) =>
          r === null ? [] : [broadcast(r, file.path, file.codec)],
        );
  const results = new Array<SweepJobResult>(jobs.length);
  const tasks = groups.map(async (g, t) => {
    const task: SweepGroup = {
      jobs: g.index.map((i) => jobs[i]),
      reading: g.reading,
      thread: t,
      rings: shared,
      codec: file.codec,
      size: file.size,
    };
    const out = (await pool.run(task)) as SweepJobResult[];
    out.forEach((r, k) => {
      results[g.index[k]] = r;
      tick();
    });
  });
  try {
    await Promise.all([...producers, ...tasks]);
  } catch (e) {
    // a thread's failure: the producers and the other threads would wait for it for ever
    for (const r of [shared.runs, shared.records]) if (r !== null) stopRing(r);
    throw e;
  }
  return results;
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Jobs a worker holds per thread (at most PASS_MAX in all): what one pass can gather. */
export const HELD_PER_THREAD = 8;

/** How long a worker gathers jobs before its first pass starts. */
const GATHER_MS = 50;

interface Waiting {
  job: SweepJob;
  done: (r: SweepJobResult) => void;
  failed: (e: unknown) => void;
}

/**
 * `vmlab worker`'s jobs, gathered by trace into passes that run one after
 * another on the worker's pool (one at a time: two passes' groups waiting
 * for each other's threads would never end). A job that comes while a pass
 * runs waits for the next, with every other job that came meanwhile.
 */
export class WorkerPasses {
  private readonly pending = new Map<string, Waiting[]>();
  private busy = false;
  private spare: SpareRings = { runs: null, records: null };

  constructor(
    private readonly pool: { run(task: unknown): Promise<unknown> },
    private readonly threads: number,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** The job's result, once the pass it joins has run. */
  run(job: SweepJob): Promise<SweepJobResult> {
    return new Promise((done, failed) => {
      const list = this.pending.get(job.file) ?? [];
      list.push({ job, done, failed });
      this.pending.set(job.file, list);
      if (!this.busy) {
        this.busy = true;
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    // the jobs of a sweep come one by one: a moment to gather them
    await new Promise((r) => setTimeout(r, GATHER_MS));
    for (;;) {
      const first = this.pending.entries().next();
      if (first.done) break;
      const [file, list] = first.value;
      const batch = list.splice(0, PASS_MAX);
      if (list.length === 0) this.pending.delete(file);
      const rings: Ring[] = [];
      try {
        const jobs = batch.map((w) => w.job);
        this.log(
          `pass: ${jobs.length} job${jobs.length === 1 ? "" : "s"} of ${file}, the trace decoded once`,
        );
        const results = await runPass(
          this.pool,
          jobs,
          this.threads,
          traceFile(file, fileSize(file)),
          () => {},
          rings,
          this.spare,
        );
        batch.forEach((w, i) => {
          w.done(results[i]);
        });
      } catch (e) {
        // a failed pass's rings may still be read by a thread it stopped: the next pass makes its own
        this.spare = { runs: null, records: null };
        for (const w of batch) w.failed(e);
      } finally {
        for (const r of rings) stopRing(r);
      }
    }
    this.busy = false;
  }
}
