/**
 * One configuration of a sweep and its result: a whole `vmlab trace` run
 * with its options, returning its summary.
 */
import type { TraceSource } from "../workloads/trace/open.ts";
import { runTraceCli, type TraceCliOptions, type TraceSummary } from "./trace/index.ts";

export interface SweepJob {
  file: string;
  format: string;
  mode: "machine" | "policy";
  frames: number;
  policy: string;
  tlb: string;
  dataOnly: boolean;
  seed: number;
}

export interface SweepJobResult {
  job: SweepJob;
  /** the run's figures, without the per-batch series */
  summary: Omit<TraceSummary, "faultsOverTime"> | null;
  /** bad input or another failure of this job */
  error: string | null;
}

/** The job as `vmlab trace` options (`vmlab trace FILE --json` with these gives the same figures). */
export function traceOptions(job: SweepJob): TraceCliOptions {
  return {
    format: job.format,
    mode: job.mode,
    frames: String(job.frames),
    policy: job.policy,
    tlb: job.tlb,
    dataOnly: job.dataOnly,
    json: true,
    seed: String(job.seed),
    progress: false,
  };
}

/** One job: the file read by this run itself, or `opened`, a shared decoding of it. */
export async function runSweepJob(job: SweepJob, opened?: () => TraceSource): Promise<SweepJobResult> {
  try {
    const r = await runTraceCli(job.file, traceOptions(job), opened);
    if (r.error !== null || r.summary === undefined)
      return { job, summary: null, error: r.error ?? "no result" };
    const { faultsOverTime: _drop, ...summary } = r.summary;
    return { job, summary, error: null };
  } catch (e) {
    return {
      job,
      summary: null,
      error: (e as Error & { format?: () => string }).format?.() ?? (e as Error).message,
    };
  }
}
