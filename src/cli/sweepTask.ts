/**
 * One job of a sweep: a whole `vmlab trace` run with one configuration,
 * returning its summary. Runs in a worker thread (piscina) for local sweeps
 * and in `vmlab worker` for queued ones.
 */
import { runTraceCli, type TraceSummary } from "./trace/index.ts";

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

export default async function runSweepJob(job: SweepJob): Promise<SweepJobResult> {
  try {
    const r = await runTraceCli(job.file, {
      format: job.format,
      mode: job.mode,
      frames: String(job.frames),
      policy: job.policy,
      tlb: job.tlb,
      dataOnly: job.dataOnly,
      json: true,
      seed: String(job.seed),
      progress: false,
    });
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
