/**
 * Sweeps over many machines: a BullMQ job queue on Redis. `vmlab sweep
 * --queue redis://HOST:PORT` adds one job per configuration to the queue
 * `vmlab-sweep` and waits for every result; `vmlab worker --queue ...`
 * processes jobs on a pool of worker threads of its own (one per core by
 * default), until it is stopped (or, with --exit-when-idle, once it has had
 * no job that long and the queue holds none, waiting or active). A failed job is retried once on another worker.
 * A worker holds a job's lock for LOCK_MS, renewed every half of it while
 * the job runs; a worker that dies (killed, its machine lost) stops renewing,
 * and the other workers' check for stalled jobs, every STALLED_CHECK_MS,
 * puts the job back in the queue within about ten seconds (BullMQ's
 * defaults took a minute and more); the sweep says so on standard error.
 * The trace path in a job must name the same file on every worker machine
 * (a shared file system, or the same copy everywhere).
 *
 * A worker holds up to HELD_PER_THREAD jobs per thread (PASS_MAX at most)
 * and runs those of one trace together as one pass over its threads
 * (sweepPass.ts): the trace is decoded once per pass on each machine, not
 * once per job. So a sweep of few configurations may run on fewer machines
 * than are listening.
 */
import { availableParallelism } from "node:os";
import { InputError } from "../base/errors.ts";
import { sweepTaskModule } from "./shared/taskModule.ts";
import type { SweepJob, SweepJobResult } from "./sweepJob.ts";
import { HELD_PER_THREAD, PASS_MAX, WorkerPasses } from "./sweepPass.ts";

export const QUEUE_NAME = "vmlab-sweep";

/** How long a worker's lock on a job lasts unless renewed (it renews every half of it). */
const LOCK_MS = 6000;
/** How often a worker looks for jobs whose worker stopped renewing their lock. */
const STALLED_CHECK_MS = 3000;

/** `redis://host:port` (optionally with a password and a database number) as ioredis options. */
export function redisConnection(url: string): {
  host: string;
  port: number;
  password?: string;
  db?: number;
  maxRetriesPerRequest: null;
} {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`--queue: '${url}' is not a URL like redis://127.0.0.1:6379`);
  }
  if (u.protocol !== "redis:") throw new InputError(`--queue: '${url}' is not a redis:// URL`);
  const port = u.port ? Number(u.port) : 6379;
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && !(Number.isSafeInteger(db) && db >= 0))
    throw new InputError(`--queue: '${u.pathname.slice(1)}' is not a database number`);
  return {
    host: u.hostname || "127.0.0.1",
    port,
    password: u.password || undefined,
    db,
    maxRetriesPerRequest: null,
  };
}

/**
 * Fails fast with an InputError when no Redis answers at `url`, or it
 * refuses the URL's database (BullMQ itself would retry forever, logging).
 */
async function probe(url: string): Promise<void> {
  const { Redis } = await import("ioredis");
  const { db, ...c } = redisConnection(url);
  const client = new Redis({
    ...c,
    lazyConnect: true,
    connectTimeout: 5000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  let cause = "";
  client.on("error", (e: Error) => {
    cause ||= e.message;
  });
  try {
    try {
      await client.connect();
      await client.ping();
    } catch (e) {
      throw new InputError(`--queue: no Redis answers at ${url}: ${cause || (e as Error).message}`);
    }
    if (db !== undefined) {
      try {
        await client.select(db);
      } catch (e) {
        throw new InputError(`--queue: Redis at ${url} refuses database ${db}: ${(e as Error).message}`);
      }
    }
  } finally {
    client.disconnect();
  }
}

/** What a queued sweep tells its caller as it goes. */
export interface QueueProgress {
  /** a job's result came */
  tick(): void;
  /** job `index` (of the list) lost its worker and goes back to the queue */
  retrying(index: number): void;
}

/** Adds the jobs and waits for all of them; results in the jobs' order. */
export async function runQueued(
  url: string,
  jobs: SweepJob[],
  progress: QueueProgress,
): Promise<SweepJobResult[]> {
  const connection = redisConnection(url);
  await probe(url);
  const { Queue, QueueEvents } = await import("bullmq");
  const queue = new Queue(QUEUE_NAME, { connection });
  const events = new QueueEvents(QUEUE_NAME, { connection });
  // each job's wait listens for the queue's closing: one listener a job, not a leak
  queue.setMaxListeners(jobs.length + 10);
  // a lost connection shows in the jobs' results; no stack traces on stderr
  queue.on("error", () => {});
  events.on("error", () => {});
  const indexOf = new Map<string, number>();
  events.on("stalled", ({ jobId }) => {
    const i = indexOf.get(jobId);
    if (i !== undefined) progress.retrying(i);
  });
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const added = await queue.addBulk(
      jobs.map((data) => ({
        name: "trace",
        data,
        opts: { attempts: 2, removeOnComplete: 1000, removeOnFail: 1000 },
      })),
    );
    added.forEach((job, i) => {
      if (job.id !== undefined) indexOf.set(job.id, i);
    });
    return await Promise.all(
      added.map(async (job, i) => {
        try {
          const r = (await job.waitUntilFinished(events)) as SweepJobResult;
          return r;
        } catch (e) {
          return {
            job: jobs[i],
            summary: null,
            error: `the queue gave up on this job: ${(e as Error).message}`,
          };
        } finally {
          progress.tick();
        }
      }),
    );
  } finally {
    await events.close();
    await queue.close();
  }
}

export interface WorkerOptions {
  queue: string;
  threads?: string;
  exitWhenIdle?: string;
}

/** Processes jobs until stopped; returns the number of jobs it completed. */
export async function runWorker(o: WorkerOptions, log: (line: string) => void): Promise<number> {
  const connection = redisConnection(o.queue);
  const threads = o.threads !== undefined ? Number(o.threads) : availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256)
    throw new InputError(`--threads must be 1..256, not '${o.threads}'`);
  const idle = o.exitWhenIdle !== undefined ? Number(o.exitWhenIdle) : null;
  if (idle !== null && !(idle > 0))
    throw new InputError(`--exit-when-idle must be a number of seconds, not '${o.exitWhenIdle}'`);
  await probe(o.queue);
  const { Queue, Worker } = await import("bullmq");
  const { Piscina } = await import("piscina");
  const pool = new Piscina({
    ...sweepTaskModule(),
    maxThreads: threads,
  });
  const passes = new WorkerPasses(pool, threads, log);
  let completed = 0;
  let lastActive = Date.now();
  let running = 0;
  const worker = new Worker(
    QUEUE_NAME,
    async (job) => {
      running++;
      try {
        return await passes.run(job.data as SweepJob);
      } finally {
        running--;
        lastActive = Date.now();
      }
    },
    {
      connection,
      // the jobs held at once, run as passes over the threads: each pass decodes the trace once
      concurrency: Math.min(PASS_MAX, HELD_PER_THREAD * threads),
      lockDuration: LOCK_MS,
      stalledInterval: STALLED_CHECK_MS,
      maxStalledCount: 2,
    },
  );
  worker.on("active", (job) => {
    const d = job.data as SweepJob;
    log(`start: ${d.mode} ${d.policy} ${d.frames} frames (${d.file})`);
  });
  worker.on("completed", (job) => {
    completed++;
    const d = job.data as SweepJob;
    log(`done: ${d.mode} ${d.policy} ${d.frames} frames (${d.file})`);
  });
  worker.on("failed", (job, err) => log(`failed: ${job?.id}: ${err.message}`));
  worker.on("error", (err) => log(`queue error: ${err.message}`));
  await worker.waitUntilReady();
  log(`vmlab worker: ${threads} threads on ${o.queue}, queue ${QUEUE_NAME}`);
  // idle means no job here and none left in the queue: a job whose worker died stays active until a
  // stalled check puts it back, and this worker may be the one to run it
  const queue = idle !== null ? new Queue(QUEUE_NAME, { connection }) : null;
  queue?.on("error", () => {});
  const queueEmpty = async () => {
    try {
      const c = await queue!.getJobCounts("active", "wait", "delayed", "prioritized", "waiting-children");
      return Object.values(c).every((n) => n === 0);
    } catch {
      return true;
    }
  };
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    if (idle !== null) {
      let checking = false;
      const timer = setInterval(async () => {
        if (checking || running !== 0 || Date.now() - lastActive <= idle * 1000) return;
        checking = true;
        if (await queueEmpty()) {
          clearInterval(timer);
          resolve();
        } else lastActive = Date.now();
        checking = false;
      }, 100);
    }
  });
  await queue?.close();
  await worker.close();
  await pool.destroy();
  return completed;
}
