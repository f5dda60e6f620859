/**
 * The job threads' entry (piscina): for a local sweep, a group of jobs
 * that read one shared decoding of the trace (sweepGroup.ts); for `vmlab
 * worker`, one queued job, which reads the file itself.
 */
import { runSweepGroup, type SweepGroup } from "./sweepGroup.ts";
import { runSweepJob, type SweepJob, type SweepJobResult } from "./sweepJob.ts";

export { runSweepJob, type SweepJob, type SweepJobResult, traceOptions } from "./sweepJob.ts";

/** piscina's entry: a group of a local sweep, or one queued job. */
export default function runSweepTask(
  task: SweepJob | SweepGroup,
): Promise<SweepJobResult | SweepJobResult[]> {
  return "jobs" in task ? runSweepGroup(task) : runSweepJob(task);
}
