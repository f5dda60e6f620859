/**
 * One `vmlab trace` run: the options checked, the simulation built, the
 * trace opened (the trace layer chooses how it is read: workloads/trace/
 * open.ts) and fed through, and the outcome reported.
 */
import { readFileSync } from "node:fs";
import { parseCurves, parseSamplers, type TraceCliOptions } from "../../analysis/trace/flags.ts";
import { Replay } from "../../analysis/trace/replay.ts";
import { assert } from "../../base/assert.ts";
import { InputError } from "../../base/errors.ts";
import type { TraceFormat, TraceReadStats } from "../../workloads/trace/formats.ts";
import { openSource, ringFor, type TraceSource, warmUp } from "../../workloads/trace/open.ts";
import { mark } from "../../workloads/trace/timeline.ts";
import { lastRingWaits } from "../../workloads/trace/worker.ts";
import { refuseClosedStdin } from "../shared/stdin.ts";
import { parseReplay } from "./options.ts";
import { Progress } from "./progress.ts";
import { report, reportIncomplete, type TraceOutcome } from "./report.ts";

/**
 * Runs the options on `file` (or on `opened`, a trace already open, such
 * as valgrind's pipe for `vmlab record`). `validateOnly` checks the options
 * and returns before reading anything.
 */
export async function runTraceCli(
  file: string,
  o: TraceCliOptions,
  opened?: () => TraceSource,
  validateOnly = false,
): Promise<TraceOutcome> {
  mark("trace command loaded, arguments parsed");
  const settings = parseReplay(o);
  // the reading thread starts while the rest is set up
  if (!validateOnly && opened === undefined) warmUp(file);
  mark("reading thread spawned");
  // the slots' memory, which machine mode's hit loop shares (it reads the records where zstd wrote them)
  const ring = validateOnly || opened !== undefined ? null : ringFor(file);
  const replay = new Replay(settings, ring);
  mark("simulation built");
  replay.addCurves(parseCurves(o, settings.frames));
  replay.addSamplers(parseSamplers(o));
  if (validateOnly) return { text: null, error: null };
  // opened last: every option is checked before a file is read or a program started
  if (opened === undefined) refuseClosedStdin(file);
  const source = opened
    ? opened()
    : openSource(file, {
        format: settings.format,
        runs: replay.takesRuns,
        raw: replay.takesRaw,
        memory: ring?.memory,
      });
  const progress = Progress.forTerminal(o.progress, process.stderr.isTTY, source.size);
  const t0 = performance.now();
  let stats: TraceReadStats | null = null;
  let error: InputError | null = null;
  try {
    stats = await source.read({
      records: replay.feed,
      runs: replay.feedRuns,
      raw: replay.feedRaw,
      progress: progress
        ? (rawBytes, records) => progress.update(rawBytes, records, performance.now() - t0)
        : undefined,
    });
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    error = e;
  } finally {
    progress?.done();
  }
  mark("reading ended");
  replay.finish(error === null);
  // VMLAB_TRACE_CPU=1 (bench/process.bench.ts): how the CPU divides between the threads, which says
  // which one bounds the wall clock (the simulation here, or the reading thread's zstd and fold)
  if (process.env.VMLAB_TRACE_CPU === "1") {
    const w = lastRingWaits();
    const f = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(3));
    process.stderr.write(
      `vmlab trace: main thread ${f(mainThreadCpu())} s CPU, reading thread ${f(w?.readingCpu)} s CPU; waited: main ${f(w?.mainWaited)} s for a slot, reading ${f(w?.readingWaited)} s for a free one; totals counted by main: ${w?.mainCounted ?? "-"} of ${w?.slots ?? "-"} slots; ring: ${w?.ringUsed ?? "-"} of ${w?.ringSlots ?? "-"} slots used\n`,
    );
  }
  if (!replay.hasResult) {
    // OPT over a trace that stopped early: no partial figures exist (it needs the whole future)
    assert(error !== null, "trace: no figures from a complete input");
    const out = reportIncomplete(error, null, stats);
    if (replay.fed === 0) return out;
    return {
      ...out,
      error: `${out.error}\nno figures: OPT replays only a whole trace (it needs every future reference)`,
    };
  }
  const summary = replay.summary({
    trace: source.name,
    format: stats?.format ?? (source.format as TraceFormat),
    compression: source.compression,
    seconds: (performance.now() - t0) / 1000,
    complete: error === null,
  });
  if (error !== null) return reportIncomplete(error, replay.fed === 0 ? null : summary, stats);
  return await report(summary, stats, o);
}

/**
 * CPU seconds (user + system) of this thread so far, to the ns (Linux: /proc/thread-self/schedstat's
 * first field, the time on a CPU; stat's utime and stime count 10 ms ticks), or NaN.
 */
function mainThreadCpu(): number {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "latin1").split(" ")[0]) / 1e9;
  } catch {
    return Number.NaN;
  }
}
