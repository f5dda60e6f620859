/**
 * `vmlab trace FILE|-`: replays a memory trace in machine mode (the real
 * MMU, a demand pager with N frames) or policy mode (a replacement policy
 * over page numbers), and prints the figures as a table or JSON.
 */
import { statSync } from "node:fs";
import { extname } from "node:path";
import { type Panel, toHtml, toPng, toSvg } from "../analysis/chart.ts";
import { curveSizes, Shards, StackDistance, WorkingSet } from "../analysis/mrc.ts";
import { FAST_POLICIES, FastSim } from "../analysis/policy/fast.ts";
import { POLICY_NAMES } from "../analysis/policy/policies.ts";
import { PolicySim } from "../analysis/policy/simulate.ts";
import { TlbCurve, type TlbCurveResult } from "../analysis/tlbCurve.ts";
import { KernelMode, type KernelModeResult } from "../analysis/trace/kernelMode.ts";
import { MACHINE_POLICIES, MachineMode, type MachineModeResult } from "../analysis/trace/machineMode.ts";
import { InputError } from "../base/errors.ts";
import { parseTlbSpec } from "../hw/mmu/Tlb.ts";
import {
  canReadRuns,
  readRuns,
  readTrace,
  sniffFormat,
  TRACE_FORMATS,
  type TraceFormat,
  type TraceReadStats,
} from "../workloads/trace/formats.ts";
import {
  type Compression,
  compressionOf,
  openTrace,
  peekBytes,
  peekTrace,
  type TraceInput,
} from "../workloads/trace/input.ts";
import { warmReader } from "../workloads/trace/worker.ts";
import { writeWhole } from "./output.ts";

export interface TraceCliOptions {
  format: string;
  mode: string;
  frames: string;
  policy: string;
  tlb: string;
  dataOnly: boolean;
  json: boolean;
  seed: string;
  cost?: string;
  progress: boolean;
  mrc?: boolean;
  shards?: string;
  mrcPolicies?: string;
  mrcMax?: string;
  wss?: string;
  wssEvery?: string;
  csv?: boolean;
  chart?: string;
  tlbCurve?: string;
  page?: string;
  arch?: string;
  pager?: string;
  swap?: string;
  ram?: string;
  /** --frames was given on the command line (not its default) */
  framesGiven?: boolean;
}

export interface TraceOutcome {
  /** the report (stdout), or null when the input was bad */
  text: string | null;
  /** what went wrong, and the figures so far marked incomplete (stderr) */
  error: string | null;
  /** the figures, when the run finished */
  summary?: TraceSummary;
}

/** The JSON shape every consumer can rely on (plus mode-specific fields). */
export interface TraceSummary {
  mode: "machine" | "policy";
  trace: string;
  format: TraceFormat;
  compression: string;
  frames: number;
  policy: string;
  accesses: number;
  tlbHits: number;
  tlbMisses: number;
  walks: number;
  faults: number;
  majorFaults: number;
  evictions: number;
  swapIns: number;
  seconds: number;
  levels: { name: string; hits: number; misses: number }[];
  complete: boolean;
  machine?: MachineModeResult;
  policyHits?: number;
  policyMisses?: number;
  /** the miss-ratio curve: miss ratio per memory size, one series per policy */
  mrc?: {
    method: string;
    references: number;
    distinctPages: number;
    sizes: number[];
    series: Record<string, number[]>;
  };
  /** Denning's working set W(t, tau) */
  wss?: { tau: number; samples: { t: number; wss: number }[] };
  /** machine mode with --pager linux: the kernel's counters */
  kernel?: KernelModeResult;
  /** TLB miss ratio against TLB size (set-associative and fully associative) */
  tlbCurve?: TlbCurveResult;
  /** machine mode: page faults so far, after each batch of records */
  faultsOverTime?: [number, number][];
}

function positiveInt(text: string, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text)))
    throw new InputError(`${what} must be a positive integer, not '${text}'`);
  return Number(text);
}

function parseCost(text: string | undefined): Record<string, number> {
  if (!text) return {};
  const out: Record<string, number> = {};
  for (const part of text.split(",")) {
    const m = /^\s*(l1|l2|walkRead|minorFault|majorFault)\s*=\s*(\d+(\.\d+)?)\s*$/.exec(part);
    if (!m)
      throw new InputError(
        `--cost: '${part}' is not KEY=NUMBER with KEY l1, l2, walkRead, minorFault or majorFault`,
      );
    out[m[1]] = Number(m[2]);
  }
  return out;
}

/**
 * Runs the options on `file` (or on `opened`, an input already open, such
 * as valgrind's pipe for `vmlab record`). `validateOnly` checks the options
 * and returns before reading anything.
 */
export async function runTraceCli(
  file: string,
  o: TraceCliOptions,
  opened?: () => TraceInput,
  validateOnly = false,
): Promise<TraceOutcome> {
  if (o.format !== "auto" && !TRACE_FORMATS.includes(o.format as TraceFormat))
    throw new InputError(`--format must be auto, ${TRACE_FORMATS.join(", ")}, not '${o.format}'`);
  if (o.mode !== "machine" && o.mode !== "policy")
    throw new InputError(`--mode must be machine or policy, not '${o.mode}'`);
  // the reading thread starts while the rest is set up
  if (!validateOnly && opened === undefined && file !== "-") warmReader();
  // --ram SIZE: the machine statement's vocabulary for the same thing
  if (o.ram !== undefined && o.framesGiven) throw new InputError("give --frames or --ram, not both");
  const frames = o.ram !== undefined ? ramFrames(o.ram) : positiveInt(o.frames, "--frames");
  const seed = Number(o.seed);
  if (!Number.isSafeInteger(seed)) throw new InputError(`--seed must be an integer, not '${o.seed}'`);
  const machine = o.mode === "machine";
  const policy = o.policy;
  const pager = o.pager ?? "reference";
  if (pager !== "reference" && pager !== "linux")
    throw new InputError(`--pager must be reference or linux, not '${pager}'`);
  if (pager === "linux" && !machine) throw new InputError("--pager linux is a machine-mode option");
  const linuxPager = machine && pager === "linux";
  if (machine && !linuxPager && !(MACHINE_POLICIES as readonly string[]).includes(policy))
    throw new InputError(`machine mode policies: ${MACHINE_POLICIES.join(", ")} (not '${policy}')`);
  if (!machine && !(POLICY_NAMES as readonly string[]).includes(policy))
    throw new InputError(`policy mode policies: ${POLICY_NAMES.join(", ")} (not '${policy}')`);
  const tlbSpec = parseTlbSpec(o.tlb);
  const page = (o.page ?? "4k").toLowerCase();
  if (page !== "4k" && page !== "2m" && page !== "thp")
    throw new InputError(`--page must be 4k, 2m or thp, not '${o.page}'`);
  if (page !== "4k" && !machine) throw new InputError("--page: policy mode counts 4 KiB pages only");
  const arch = o.arch ?? "x86_64";
  if (o.chart !== undefined && ![".svg", ".html", ".png"].includes(extname(o.chart).toLowerCase()))
    throw new InputError(`--chart: the file must end in .svg, .html or .png, not '${o.chart}'`);
  const total = file === "-" ? 0 : fileSize(file);
  const progress = Progress.forTerminal(o.progress, process.stderr.isTTY, total);

  let feed: (w: Uint32Array, n: number) => void;
  let sim: MachineMode | null = null;
  let ksim: KernelMode | null = null;
  let psim: PolicySim | null = null;
  let fast: FastSim | null = null;
  let optPages: Float64Array | null = null;
  let optN = 0;
  if (linuxPager) {
    if (page === "2m")
      throw new InputError(
        "--pager linux: --page 4k, or thp for the kernel's transparent huge pages (thp=always); Linux has no all-2M mode for anonymous memory",
      );
    const swapBytes = o.swap !== undefined ? parseSize(o.swap, "--swap") : undefined;
    const k = new KernelMode({
      frames,
      tlb: o.tlb,
      policy,
      swapBytes,
      dataOnly: o.dataOnly,
      seed,
      thp: page === "thp",
    });
    ksim = k;
    feed = (w, n) => k.feed(w, n);
  } else if (machine) {
    sim = new MachineMode({
      frames,
      tlb: tlbSpec,
      policy: policy as never,
      dataOnly: o.dataOnly,
      seed,
      cost: parseCost(o.cost),
      pageSize: page === "4k" ? "4k" : "2m",
      arch: arch as "x86_64" | "x86_64-la57",
    });
    const s = sim;
    feed = (w, n) => s.feed(w, n);
  } else if (policy === "opt") {
    // OPT needs the future: the page string is kept (8 bytes a reference), then run
    optPages = new Float64Array(1 << 20);
    feed = (w, n) => {
      for (let i = 0; i < n; i++) {
        if (o.dataOnly && (w[2 * i] & 3) === 0) continue;
        if (optN === optPages!.length) {
          const bigger = new Float64Array(optPages!.length * 2);
          bigger.set(optPages!);
          optPages = bigger;
        }
        optPages![optN++] = w[2 * i + 1] * 262144 + (w[2 * i] >>> 14);
      }
    };
  } else if ((FAST_POLICIES as readonly string[]).includes(policy)) {
    const f = new FastSim(policy as never, frames);
    fast = f;
    feed = (w, n) => {
      for (let i = 0; i < n; i++) {
        const lo = w[2 * i];
        if ((lo & 3) === 0 && o.dataOnly) continue;
        f.access(w[2 * i + 1] * 262144 + (lo >>> 14));
      }
    };
  } else {
    psim = new PolicySim(policy, frames, { seed });
    const p = psim;
    feed = (w, n) => {
      for (let i = 0; i < n; i++) {
        const lo = w[2 * i];
        const kind = lo & 3;
        if (kind === 0 && o.dataOnly) continue;
        p.access(w[2 * i + 1] * 262144 + (lo >>> 14), kind >= 2);
      }
    };
  }
  // analyses over page numbers, in the same pass
  const mrcMax = o.mrcMax !== undefined ? positiveInt(o.mrcMax, "--mrc-max") : frames;
  const shardsRate = o.shards !== undefined ? Number(o.shards) : null;
  if (shardsRate !== null && !(shardsRate > 0 && shardsRate <= 1))
    throw new InputError(`--shards must be a sampling rate in (0, 1], not '${o.shards}'`);
  const wantMrc = o.mrc || shardsRate !== null || o.mrcPolicies !== undefined;
  const sizes = curveSizes(mrcMax);
  const exact = wantMrc && shardsRate === null ? new StackDistance() : null;
  const shards = shardsRate !== null ? new Shards(shardsRate) : null;
  const extraPolicies = (o.mrcPolicies ?? "").split(",").filter((p) => p !== "");
  for (const p of extraPolicies)
    if (!(FAST_POLICIES as readonly string[]).includes(p))
      throw new InputError(`--mrc-policies: one of ${FAST_POLICIES.join(", ")}, not '${p}'`);
  if (extraPolicies.length * sizes.length > 400)
    throw new InputError(
      `--mrc-policies: ${extraPolicies.length * sizes.length} runs at once is too many; lower --mrc-max`,
    );
  const curveSims = extraPolicies.map((p) => sizes.map((f) => new FastSim(p as never, f)));
  const ws =
    o.wss !== undefined
      ? new WorkingSet(
          positiveInt(o.wss, "--wss"),
          o.wssEvery !== undefined ? positiveInt(o.wssEvery, "--wss-every") : positiveInt(o.wss, "--wss"),
        )
      : null;
  const tlbCurve = o.tlbCurve !== undefined ? new TlbCurve(positiveInt(o.tlbCurve, "--tlb-curve")) : null;
  const analyses =
    exact !== null || shards !== null || curveSims.length > 0 || ws !== null || tlbCurve !== null;
  const faultsOverTime: [number, number][] = [];
  let fed = 0;
  const inner = feed;
  feed = (w, n) => {
    fed += n;
    inner(w, n);
    if (sim !== null) faultsOverTime.push([fed, sim.faultCount()]);
    if (!analyses) return;
    for (let i = 0; i < n; i++) {
      const lo = w[2 * i];
      if (o.dataOnly && (lo & 3) === 0) continue;
      const page = w[2 * i + 1] * 262144 + (lo >>> 14);
      exact?.access(page);
      shards?.access(page);
      ws?.access(page);
      tlbCurve?.access(page);
      for (const row of curveSims) for (const c of row) c.access(page);
    }
  };
  if (validateOnly) return { text: null, error: null };
  // machine mode's fast path: a binary trace file is checked and folded into
  // runs by the reading thread (same figures; see MachineMode.feedRuns)
  const runs =
    opened === undefined &&
    sim !== null &&
    sim.takesRuns &&
    !analyses &&
    canReadRuns(file) &&
    (o.format === "auto" ? sniffFormat(file, peekTrace(file)) : o.format) === "bin";
  // opened last: every option is checked before a file is read or a program started
  const input: { name: string; compression: Compression } = runs
    ? { name: file, compression: compressionOf(peekBytes(file, 4)) }
    : opened
      ? opened()
      : openTrace(file);
  const t0 = performance.now();
  let stats: TraceReadStats | null = null;
  let error: InputError | null = null;
  try {
    if (runs) {
      const s = sim!;
      stats = await readRuns(
        file,
        (w, n, totals) => {
          s.feedRuns(w, n, totals);
          fed += totals[6];
          faultsOverTime.push([fed, s.faultCount()]);
        },
        (rawBytes, records) => progress?.update(rawBytes, records, performance.now() - t0),
      );
    } else {
      const records = input as TraceInput;
      stats = await readTrace(records, o.format as TraceFormat | "auto", feed, (_bytes, n) =>
        progress?.update(records.rawBytes, n, performance.now() - t0),
      );
    }
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    error = e;
  } finally {
    progress?.done();
  }
  if (optPages !== null && error === null) {
    psim = new PolicySim("opt", frames, { refs: optPages.subarray(0, optN) });
    for (let i = 0; i < optN; i++) psim.access(optPages[i], false);
  }
  const seconds = (performance.now() - t0) / 1000;
  const summary: TraceSummary = summarise(sim, ksim, fast ?? psim, {
    trace: input.name,
    format: stats?.format ?? (runs ? "bin" : (o.format as TraceFormat)),
    compression: input.compression,
    frames,
    policy,
    seconds,
    complete: error === null,
  });
  if (exact !== null || shards !== null || curveSims.length > 0) {
    const series: Record<string, number[]> = {};
    const curve = exact ? exact.curve(sizes) : shards ? shards.curve(sizes) : null;
    if (curve) series[exact ? "lru" : "lru (SHARDS)"] = curve.map((p) => p.missRatio);
    extraPolicies.forEach((p, i) => {
      series[p] = curveSims[i].map((c) => {
        const r = c.result();
        return r.hits + r.misses > 0 ? r.misses / (r.hits + r.misses) : 0;
      });
    });
    summary.mrc = {
      method: exact
        ? "exact LRU stack distances (one pass)"
        : shards
          ? `SHARDS, sampling rate ${shardsRate}`
          : "one run per size",
      references: exact?.references ?? shards?.references ?? fed,
      distinctPages: exact?.distinct ?? Math.round(shards?.distinctEstimate ?? 0),
      sizes,
      series,
    };
  }
  if (ws !== null) summary.wss = { tau: ws.tau, samples: ws.samples };
  if (tlbCurve !== null) summary.tlbCurve = tlbCurve.result();
  if (sim !== null) summary.faultsOverTime = thin(faultsOverTime, 1000);
  if (error !== null && fed === 0) return { text: null, error: error.format() };
  if (error !== null) {
    return {
      text: null,
      error: `${error.format()}\nthe trace is not complete: the figures up to that point (not a result):\n${formatSummary(summary, stats).join("\n")}`,
    };
  }
  if (o.chart) writeChart(o.chart, summary);
  if (o.json) return { text: JSON.stringify(summary, null, 2), error: null, summary };
  if (o.csv) return { text: formatCsv(summary), error: null, summary };
  return {
    text: [...formatSummary(summary, stats), ...formatAnalyses(summary)].join("\n"),
    error: null,
    summary,
  };
}

/** At most `max` points, evenly thinned, the last one kept. */
function thin(points: [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points;
  const step = points.length / max;
  const out: [number, number][] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.floor(i * step)]);
  out[out.length - 1] = points[points.length - 1];
  return out;
}

function formatAnalyses(s: TraceSummary): string[] {
  const lines: string[] = [];
  if (s.mrc) {
    const mrc = s.mrc;
    const names = Object.keys(mrc.series);
    lines.push("");
    lines.push(
      `miss-ratio curve: ${mrc.method}; ${fmt(mrc.references)} references, ${fmt(mrc.distinctPages)} distinct pages`,
    );
    if (mrc.method.startsWith("SHARDS"))
      lines.push(
        "  (approximate: sizes below 1/R pages are not resolved; expect a mean absolute error around 0.01-0.02)",
      );
    lines.push(`  ${"frames".padStart(8)}  ${names.map((n) => n.padStart(12)).join(" ")}`);
    mrc.sizes.forEach((f, i) => {
      lines.push(
        `  ${String(f).padStart(8)}  ${names.map((n) => mrc.series[n][i].toFixed(6).padStart(12)).join(" ")}`,
      );
    });
  }
  if (s.tlbCurve) {
    const c = s.tlbCurve;
    lines.push("");
    lines.push(`TLB miss ratio against size (4 KiB pages, ${fmt(c.references)} references):`);
    lines.push(
      `  ${"entries".padStart(8)}  ${"reach".padStart(9)}  ${`${c.ways}-way`.padStart(12)}  ${"fully assoc.".padStart(12)}`,
    );
    c.entries.forEach((e, i) => {
      lines.push(
        `  ${String(e).padStart(8)}  ${`${c.reachKiB[i] >= 1024 ? `${c.reachKiB[i] / 1024} MiB` : `${c.reachKiB[i]} KiB`}`.padStart(9)}  ${c.setAssociative[i].toFixed(6).padStart(12)}  ${c.fullyAssociative[i].toFixed(6).padStart(12)}`,
      );
    });
  }
  if (s.wss) {
    const w = s.wss.samples.map((x) => x.wss);
    lines.push("");
    lines.push(
      `working set W(t, ${fmt(s.wss.tau)}): ${w.length} samples; min ${w.length ? Math.min(...w) : 0}, max ${w.length ? Math.max(...w) : 0}, mean ${(w.reduce((a, x) => a + x, 0) / Math.max(1, w.length)).toFixed(1)} pages`,
    );
  }
  return lines;
}

function formatCsv(s: TraceSummary): string {
  const out: string[] = [];
  if (s.mrc) {
    const mrc = s.mrc;
    const names = Object.keys(mrc.series);
    out.push(["frames", ...names].join(","));
    mrc.sizes.forEach((f, i) => {
      out.push([f, ...names.map((n) => mrc.series[n][i])].join(","));
    });
  }
  if (s.tlbCurve) {
    const c = s.tlbCurve;
    if (out.length) out.push("");
    out.push(`entries,reach_kib,miss_ratio_${c.ways}way,miss_ratio_fully_associative`);
    c.entries.forEach((e, i) => {
      out.push([e, c.reachKiB[i], c.setAssociative[i], c.fullyAssociative[i]].join(","));
    });
  }
  if (s.wss) {
    if (out.length) out.push("");
    out.push("t,wss");
    for (const x of s.wss.samples) out.push(`${x.t},${x.wss}`);
  }
  if (out.length === 0) {
    out.push("accesses,tlb_hits,tlb_misses,walks,faults,major_faults,evictions,swap_ins,seconds");
    out.push(
      [
        s.accesses,
        s.tlbHits,
        s.tlbMisses,
        s.walks,
        s.faults,
        s.majorFaults,
        s.evictions,
        s.swapIns,
        s.seconds,
      ].join(","),
    );
  }
  return out.join("\n");
}

/** The chart panels this run can draw. */
export function chartPanels(s: TraceSummary): Panel[] {
  const panels: Panel[] = [];
  const mrc = s.mrc;
  if (mrc)
    panels.push({
      title: `Miss ratio against memory size (${mrc.method})`,
      xLabel: "frames (4 KiB pages)",
      yLabel: "miss ratio",
      logX: true,
      yMax: 1,
      series: Object.entries(mrc.series).map(([name, ys]) => ({
        name,
        points: mrc.sizes.map((f, i) => [f, ys[i]] as [number, number]),
      })),
    });
  const tc = s.tlbCurve;
  if (tc)
    panels.push({
      title: "TLB miss ratio against TLB size (reach = entries x 4 KiB)",
      xLabel: "TLB entries",
      yLabel: "miss ratio",
      logX: true,
      series: [
        {
          name: `${tc.ways}-way`,
          points: tc.entries.map((e, i) => [e, tc.setAssociative[i]] as [number, number]),
        },
        {
          name: "fully assoc.",
          points: tc.entries.map((e, i) => [e, tc.fullyAssociative[i]] as [number, number]),
        },
      ],
    });
  if (s.wss)
    panels.push({
      title: `Working set W(t, ${s.wss.tau})`,
      xLabel: "references",
      yLabel: "pages",
      series: [{ name: "W(t, tau)", points: s.wss.samples.map((x) => [x.t, x.wss] as [number, number]) }],
    });
  if (s.faultsOverTime && s.faultsOverTime.length > 1)
    panels.push({
      title: `Page faults over time (${fmt(s.frames)} frames, ${s.policy})`,
      xLabel: "accesses",
      yLabel: "faults so far",
      series: [{ name: "faults", points: s.faultsOverTime }],
    });
  return panels;
}

function writeChart(path: string, s: TraceSummary): void {
  const ext = extname(path).toLowerCase();
  if (ext !== ".svg" && ext !== ".html" && ext !== ".png")
    throw new InputError(`--chart: the file must end in .svg, .html or .png, not '${path}'`);
  const panels = chartPanels(s);
  if (panels.length === 0)
    throw new InputError(
      "--chart: nothing to draw (add --mrc, --shards, --wss or --tlb-curve, or use machine mode)",
    );
  const svg = toSvg(panels);
  const data = ext === ".png" ? toPng(svg) : ext === ".html" ? toHtml(panels, `vmlab trace ${s.trace}`) : svg;
  writeWhole(path, data, "--chart");
}

/** --ram SIZE as 4 KiB frames: a multiple of 4K. */
function ramFrames(text: string): number {
  const bytes = parseSize(text, "--ram");
  if (bytes < 4096 || bytes % 4096 !== 0)
    throw new InputError(`--ram: ${text} is not a positive multiple of 4K`);
  return bytes / 4096;
}

/** A size with an optional K, M or G suffix, in bytes. */
function parseSize(text: string, what: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (!m) throw new InputError(`${what}: '${text}' is not a size like 512M`);
  const v = Number(m[1]) * 1024 ** " KMG".indexOf((m[2] || " ").toUpperCase());
  if (!Number.isSafeInteger(v) || v > 2 ** 36) throw new InputError(`${what}: ${text} is more than 64G`);
  return v;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function summarise(
  sim: MachineMode | null,
  ksim: KernelMode | null,
  psim: PolicySim | FastSim | null,
  base: Pick<TraceSummary, "trace" | "format" | "compression" | "frames" | "policy" | "seconds" | "complete">,
): TraceSummary {
  // machine mode: the same headline figures from either pager
  const machine = (
    r: { simulated: number; walks: number; levels: TraceSummary["levels"] },
    faults: number,
    major: number,
    evictions: number,
  ) => ({
    mode: "machine" as const,
    ...base,
    accesses: r.simulated,
    tlbHits: r.simulated - r.walks,
    tlbMisses: r.walks,
    walks: r.walks,
    faults,
    majorFaults: major,
    evictions,
    swapIns: major,
    levels: r.levels,
  });
  if (ksim !== null) {
    const r = ksim.result();
    return { ...machine(r, r.faults, r.majorFaults, r.evictions), swapIns: r.swapIns, kernel: r };
  }
  if (sim !== null) {
    const r = sim.result();
    return { ...machine(r, r.faults, r.faults_swap_in, r.evictions), machine: r };
  }
  const p = psim!.result();
  const accesses = p.hits + p.misses;
  return {
    mode: "policy",
    ...base,
    accesses,
    tlbHits: 0,
    tlbMisses: 0,
    walks: 0,
    faults: p.misses,
    majorFaults: p.misses - p.firstRefs,
    evictions: p.evictions,
    swapIns: p.misses - p.firstRefs,
    levels: [],
    policyHits: p.hits,
    policyMisses: p.misses,
  };
}

const fmt = (n: number) => n.toLocaleString("en-US");
const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(2)}%` : "-");

function formatSummary(s: TraceSummary, stats: TraceReadStats | null): string[] {
  const lines = [
    `trace ${s.trace} (${s.format}${s.compression !== "none" ? `, ${s.compression}` : ""})${stats?.skippedLines ? `: ${fmt(stats.skippedLines)} non-access lines skipped` : ""}`,
  ];
  if (s.kernel) {
    const r = s.kernel;
    lines.push(
      `machine mode, Linux's fault handling: user memory limited to ${fmt(s.frames)} pages, reclaim policy ${s.policy}`,
    );
    lines.push(
      `  accesses        ${fmt(r.simulated)} in ${r.regions} mapped 1 GiB region${r.regions === 1 ? "" : "s"}`,
    );
    for (const l of r.levels)
      lines.push(
        `  TLB ${l.name.padEnd(11)} ${fmt(l.hits)} hits, ${fmt(l.misses)} misses (${pct(l.misses, l.hits + l.misses)} miss)`,
      );
    lines.push(`  walks           ${fmt(r.walks)}`);
    lines.push(
      `  page faults     ${fmt(r.faults)}: ${fmt(r.minorFaults)} minor, ${fmt(r.majorFaults)} major`,
    );
    lines.push(
      `  reclaim         ${fmt(r.pgscan)} pages scanned, ${fmt(r.evictions)} reclaimed; ${fmt(r.swapOuts)} swapped out, ${fmt(r.swapIns)} in; ${fmt(r.memcgReclaims)} limit reclaims`,
    );
    if (r.thpFaultAlloc + r.thpFaultFallback > 0)
      lines.push(
        `  huge pages      ${fmt(r.thpFaultAlloc)} faulted in, ${fmt(r.thpFaultFallback)} fell back to 4K, ${fmt(r.thpSplitPage)} split by reclaim`,
      );
    lines.push(
      `  at the end      ${fmt(r.rssPages)} pages resident, ${fmt(r.swapPages)} in swap${r.oomKills ? `; ${r.oomKills} OOM kills` : ""}`,
    );
  } else if (s.mode === "machine") {
    const r = s.machine!;
    lines.push(`machine mode: ${fmt(s.frames)} frames, policy ${s.policy}`);
    lines.push(
      `  accesses        ${fmt(r.simulated)} (${fmt(r.instr)} fetch, ${fmt(r.load)} load, ${fmt(r.store)} store, ${fmt(r.modify)} modify)${r.skipped_instr ? `; ${fmt(r.skipped_instr)} fetches skipped` : ""}`,
    );
    for (const l of r.levels)
      lines.push(
        `  TLB ${l.name.padEnd(11)} ${fmt(l.hits)} hits, ${fmt(l.misses)} misses (${pct(l.misses, l.hits + l.misses)} miss)`,
      );
    lines.push(
      `  walks           ${fmt(r.walks)} (${fmt(r.pt_reads)} entries read; ${fmt(r.pt_frames)} page-table frames)`,
    );
    lines.push(
      `  page faults     ${fmt(r.faults)}: ${fmt(r.faults_first_touch)} first touch (minor), ${fmt(r.faults_swap_in)} swap-in (major)`,
    );
    lines.push(
      `  evictions       ${fmt(r.evictions)} (${fmt(r.dirty_evictions)} dirty); swap slots in use at most ${fmt(r.swap_max_in_use)}`,
    );
    if (s.policy === "clock")
      lines.push(`  CLOCK           ${fmt(r.clock_ref_clears)} reference bits cleared`);
    lines.push(`  frames used     ${fmt(r.frames_used)}; phys_sum ${r.phys_sum}`);
    lines.push(
      `  est. cycles     ${fmt(Math.round(r.cycles))} (${(r.cycles / Math.max(1, r.simulated)).toFixed(2)} per access)`,
    );
  } else {
    lines.push(`policy mode: ${fmt(s.frames)} frames, policy ${s.policy}`);
    lines.push(`  references      ${fmt(s.accesses)}`);
    lines.push(`  hits            ${fmt(s.policyHits!)}`);
    lines.push(
      `  misses          ${fmt(s.policyMisses!)} (${pct(s.policyMisses!, s.accesses)}; ${fmt(s.policyMisses! - s.swapIns)} first references)`,
    );
    lines.push(`  evictions       ${fmt(s.evictions)}`);
  }
  lines.push(
    `  time            ${s.seconds.toFixed(2)} s (${(s.accesses / Math.max(1e-9, s.seconds) / 1e6).toFixed(1)} M accesses/s)`,
  );
  return lines;
}

/**
 * A progress line (on stderr, and only on a terminal): records, rate, and
 * the percentage and ETA when the input's size is known; redrawn at most
 * every 200 ms.
 */
export class Progress {
  private last = 0;
  constructor(
    private readonly total: number,
    private readonly write: (s: string) => void = (s) => process.stderr.write(s),
  ) {}

  /** The line for a terminal when `isTTY`, else null: pipes and CI stay quiet. */
  static forTerminal(
    enabled: boolean,
    isTTY: boolean | undefined,
    total: number,
    write?: (s: string) => void,
  ): Progress | null {
    return enabled && isTTY === true ? new Progress(total, write) : null;
  }

  update(rawBytes: number, records: number, ms: number): void {
    if (ms - this.last < 200) return;
    this.last = ms;
    const rate = records / (ms / 1000);
    let tail = "";
    if (this.total > 0 && rawBytes > 0) {
      const frac = Math.min(1, rawBytes / this.total);
      const eta = (ms / 1000) * (1 / frac - 1);
      tail = `, ${(100 * frac).toFixed(0)}%, ETA ${eta.toFixed(0)} s`;
    }
    this.write(`\r${fmt(records)} records, ${(rate / 1e6).toFixed(1)} M/s${tail}   `);
  }
  done(): void {
    if (this.last > 0) this.write("\r\x1b[K");
  }
}
