/**
 * The job threads' entry (piscina), for `vmlab sweep` and `vmlab worker`
 * alike: a group of jobs that read one shared decoding of the trace
 * (sweepGroup.ts), their results in the group's order.
 */
import { runSweepGroup, type SweepGroup } from "./sweepGroup.ts";
import type { SweepJobResult } from "./sweepJob.ts";

export type { SweepJob, SweepJobResult } from "./sweepJob.ts";

export default function runSweepTask(group: SweepGroup): Promise<SweepJobResult[]> {
  return runSweepGroup(group);
}
