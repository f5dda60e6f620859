/**
 * `vmlab sweep TRACE`: one trace under every combination of the given
 * modes, frame counts, policies and TLBs, run on all cores (worker threads
 * through piscina, the trace decoded once for all of them: sweepPass.ts) or,
 * with `--queue redis://...`, by `vmlab worker`
 * processes on any number of machines through a BullMQ job queue. Prints
 * one row per configuration (or JSON, CSV) and can chart faults against
 * memory size, one line per policy.
 */
import { availableParallelism } from "node:os";
import { extname, resolve } from "node:path";
import { chartFile } from "../analysis/chartRender.ts";
import { lineSpec, sweepChart } from "../analysis/chartSpec.ts";
import { excerpt, InputError } from "../base/errors.ts";
import { writeWhole } from "./shared/output.ts";
import { sweepTaskModule } from "./shared/taskModule.ts";
import { traceFile } from "./sweepGroup.ts";
import type { SweepJob, SweepJobResult } from "./sweepJob.ts";
import { fileSize, PASS_MAX, runPass, type SpareRings } from "./sweepPass.ts";
import { type Ring, stopRing } from "./sweepShared.ts";

export interface SweepOptions {
  format: string;
  mode: string;
  frames: string;
  policy: string;
  tlb: string[];
  dataOnly: boolean;
  seed: string;
  jobs?: string;
  json: boolean;
  csv?: boolean;
  chart?: string;
  queue?: string;
  progress: boolean;
}

const list = (text: string) =>
  text
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");

/** The jobs: the cartesian product of the lists, in a stable order. */
export function sweepJobs(path: string, o: SweepOptions): SweepJob[] {
  if (path === "-")
    throw new InputError(
      "sweep: the trace must be a file (read once per 64 configurations, and by every queue worker)",
    );
  // an absolute path, so that workers started elsewhere find the same file
  const file = resolve(path);
  const modes = list(o.mode);
  for (const m of modes)
    if (m !== "machine" && m !== "policy") throw new InputError(`--mode: machine or policy, not '${m}'`);
  const frames = list(o.frames).map((f) => {
    if (!/^\d+$/.test(f) || Number(f) < 1) throw new InputError(`--frames: '${f}' is not a positive integer`);
    return Number(f);
  });
  const policies = list(o.policy);
  const tlbs = o.tlb.length ? o.tlb : ["vmref"];
  const seed = Number(o.seed);
  if (!Number.isSafeInteger(seed)) throw new InputError(`--seed must be an integer, not '${o.seed}'`);
  if (!modes.length || !frames.length || !policies.length)
    throw new InputError("sweep: --mode, --frames and --policy need at least one value each");
  const jobs: SweepJob[] = [];
  for (const mode of modes)
    for (const tlb of mode === "machine" ? tlbs : ["-"])
      for (const policy of policies)
        for (const f of frames)
          jobs.push({
            file,
            format: o.format,
            mode: mode as "machine" | "policy",
            frames: f,
            policy,
            tlb: tlb === "-" ? "vmref" : tlb,
            dataOnly: o.dataOnly,
            seed,
          });
  if (jobs.length > 10_000)
    throw new InputError(`sweep: ${jobs.length} configurations is more than vmlab runs at once (10,000)`);
  return jobs;
}

export interface SweepOutcome {
  text: string;
  failed: number;
}

export async function runSweepCli(file: string, o: SweepOptions): Promise<SweepOutcome> {
  const jobs = sweepJobs(file, o);
  if (o.chart !== undefined && ![".svg", ".html", ".png"].includes(extname(o.chart).toLowerCase()))
    throw new InputError(`--chart: the file must end in .svg, .html or .png, not '${o.chart}'`);
  const threads = o.jobs !== undefined ? Number(o.jobs) : availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256)
    throw new InputError(`--jobs must be 1..256, not '${o.jobs}'`);
  const t0 = performance.now();
  const progress = o.progress && process.stderr.isTTY;
  let done = 0;
  const tick = () => {
    done++;
    if (progress) process.stderr.write(`\r${done}/${jobs.length} configurations done   `);
  };
  // a job whose worker died runs again: said on stderr (on the progress line's own line when there is one)
  const retrying = (i: number) => {
    const j = jobs[i];
    process.stderr.write(
      `${progress ? "\r\x1b[K" : ""}vmlab sweep: job ${i + 1} (${j.mode} ${j.policy} ${j.frames} frames) lost its worker: it runs again\n`,
    );
    if (progress) process.stderr.write(`${done}/${jobs.length} configurations done   `);
  };
  const results = o.queue
    ? await (await import("./queue.ts")).runQueued(o.queue, jobs, { tick, retrying })
    : await runLocal(jobs, threads, tick);
  if (progress) process.stderr.write("\r\x1b[K");
  const seconds = (performance.now() - t0) / 1000;
  const failed = results.filter((r) => r.error !== null).length;
  // no figures at all (a corrupt or truncated trace fails every configuration): no chart file
  if (o.chart && failed < results.length) await writeSweepChart(o.chart, results, file);
  if (o.json)
    return {
      text: JSON.stringify({ trace: file, seconds, workers: o.queue ? "queue" : threads, results }, null, 2),
      failed,
    };
  if (o.csv) return { text: formatCsv(results), failed };
  return {
    text: formatTable(results, seconds, o.queue ? `queue ${o.queue}` : `${threads} worker threads`),
    failed,
  };
}

/**
 * All jobs on a pool of worker threads (piscina), in passes of at most
 * PASS_MAX: the trace is decoded once per pass (sweepShared.ts) and each
 * thread runs its share of the pass's configurations side by side.
 */
async function runLocal(jobs: SweepJob[], threads: number, tick: () => void): Promise<SweepJobResult[]> {
  const { Piscina } = await import("piscina");
  const pool = new Piscina({
    ...sweepTaskModule(),
    maxThreads: threads,
    minThreads: Math.min(threads, jobs.length),
  });
  // a thread that fails outside any job (it cannot start: too little memory or address space)
  // ends the sweep with a message, not an unhandled 'error' event
  const broken = new Promise<never>((_, reject) =>
    pool.on("error", (e: Error) =>
      reject(
        new InputError(
          `sweep: a worker thread failed: ${excerpt(e.message, 200)} (too little memory or address space for ${threads} threads? try --jobs 1)`,
        ),
      ),
    ),
  );
  const file = traceFile(jobs[0].file, fileSize(jobs[0].file));
  try {
    const results: SweepJobResult[] = [];
    // the rings, made by the first pass and reused by each one after it (a failed pass ends the sweep)
    const spare: SpareRings = { runs: null, records: null };
    for (let at = 0; at < jobs.length; at += PASS_MAX) {
      const rings: Ring[] = [];
      try {
        const pass = runPass(pool, jobs.slice(at, at + PASS_MAX), threads, file, tick, rings, spare);
        results.push(...(await Promise.race([broken, pass])));
      } finally {
        // a failed pass: its producers and any thread still waiting stop
        for (const r of rings) stopRing(r);
      }
    }
    return results;
  } finally {
    await pool.destroy();
  }
}

const fmt = (n: number) => n.toLocaleString("en-US");

function formatTable(results: SweepJobResult[], seconds: number, how: string): string {
  const lines = [
    `${"mode".padEnd(8)} ${"policy".padEnd(13)} ${"frames".padStart(8)} ${"tlb".padEnd(14)} ${"accesses".padStart(12)} ${"faults".padStart(10)} ${"major".padStart(10)} ${"evictions".padStart(10)} ${"tlb misses".padStart(11)} ${"seconds".padStart(8)}`,
  ];
  for (const r of results) {
    const j = r.job;
    const head = `${j.mode.padEnd(8)} ${j.policy.padEnd(13)} ${String(j.frames).padStart(8)} ${(j.mode === "machine" ? j.tlb : "-").padEnd(14)}`;
    if (r.summary === null) {
      lines.push(`${head} failed: ${r.error}`);
      continue;
    }
    const s = r.summary;
    lines.push(
      `${head} ${fmt(s.accesses).padStart(12)} ${fmt(s.faults).padStart(10)} ${fmt(s.majorFaults).padStart(10)} ${fmt(s.evictions).padStart(10)} ${(j.mode === "machine" ? fmt(s.tlbMisses) : "-").padStart(11)} ${s.seconds.toFixed(2).padStart(8)}`,
    );
  }
  lines.push(`${results.length} configurations in ${seconds.toFixed(2)} s on ${how}`);
  return lines.join("\n");
}

function formatCsv(results: SweepJobResult[]): string {
  const out = [
    "mode,policy,frames,tlb,accesses,faults,major_faults,evictions,tlb_misses,walks,seconds,error",
  ];
  for (const r of results) {
    const j = r.job;
    const s = r.summary;
    out.push(
      [
        j.mode,
        j.policy,
        j.frames,
        JSON.stringify(j.tlb),
        s?.accesses ?? "",
        s?.faults ?? "",
        s?.majorFaults ?? "",
        s?.evictions ?? "",
        s?.tlbMisses ?? "",
        s?.walks ?? "",
        s?.seconds ?? "",
        r.error ? JSON.stringify(r.error) : "",
      ].join(","),
    );
  }
  return out.join("\n");
}

/** Faults per access against frames, one line per mode, policy and TLB (analysis/chartSpec.ts). */
async function writeSweepChart(path: string, results: SweepJobResult[], trace: string): Promise<void> {
  const series = new Map<string, [number, number][]>();
  for (const r of results) {
    if (r.summary === null || r.summary.accesses === 0) continue;
    const j = r.job;
    const name = `${j.policy}${j.mode === "machine" ? ` (machine${j.tlb !== "vmref" ? `, ${j.tlb}` : ""})` : ""}`;
    if (!series.has(name)) series.set(name, []);
    series.get(name)!.push([j.frames, r.summary.faults / r.summary.accesses]);
  }
  const spec = lineSpec(sweepChart([...series].map(([name, points]) => ({ name, points }))));
  writeWhole(path, await chartFile(spec, extname(path).toLowerCase(), `vmlab sweep ${trace}`), "--chart");
}
