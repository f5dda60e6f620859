/**
 * The simulation a `vmlab trace` run (and `vmlab ui --trace`'s worker)
 * feeds, built from its settings:
 * machine mode (the reference pager, or the kernel model's with --pager
 * linux) or a replacement policy over page numbers, with the analyses over
 * page numbers alongside (miss-ratio curves, SHARDS, the working set, the
 * TLB curve). It takes batches of records (`feed`) or, in machine mode or
 * policy mode's fast path with nothing alongside, the reading thread's runs
 * (`feedRuns`), and sums the run up as a TraceSummary.
 */
import type { CacheSpec } from "../../hw/cache/CacheSpec.ts";
import type { TlbSpec } from "../../hw/mmu/Tlb.ts";
import { Shards, StackDistance, WorkingSet } from "../mrc.ts";
import { FAST_POLICIES, FastSim } from "../policy/fast.ts";
import { OptString } from "../policy/opt.ts";
import { type PolicyResult, PolicySim } from "../policy/simulate.ts";
import { TlbCurve } from "../tlbCurve.ts";
import type { SharedPlace } from "./hitLoop.ts";
import { KernelMode } from "./kernelMode.ts";
import { type MachineArch, MachineMode } from "./machineMode.ts";
import type { TraceSummary } from "./summary.ts";

/** `n` records as word pairs (workloads/trace/formats.ts BatchSink; the same shape, declared here: analysis does not import workloads). */
type BatchSink = (words: Uint32Array, n: number) => void;
/** `count` runs and their totals (workloads/trace/formats.ts RunSink). */
type RunSink = (runs: Uint32Array, count: number, totals: Float64Array) => void;
/** `count` unchecked records; returns those taken, up to the first that is not one (formats.ts RawRecordSink). */
type RawRecordSink = (words: Uint32Array, count: number, totals: Float64Array) => number;

/** What is replayed through what (the CLI's ReplaySettings less the input's format). */
export interface SimSettings {
  /** machine mode (else policy mode) */
  machine: boolean;
  /** machine mode through the kernel model's fault handling (--pager linux) */
  linuxPager: boolean;
  frames: number;
  seed: number;
  policy: string;
  dataOnly: boolean;
  /** --tlb as given, and parsed */
  tlb: string;
  tlbSpec: TlbSpec;
  page: "4k" | "2m" | "thp";
  arch: string;
  /** --pager linux: the swap area in bytes */
  swapBytes?: number;
  /** machine mode with the reference pager: the cycle cost model */
  cost?: Record<string, number>;
  /** machine mode with the reference pager: an L1 data cache (--cache) */
  cache?: CacheSpec;
}

/** The miss-ratio curves that run in the same pass. */
export interface CurveSettings {
  /** the sizes of the curves */
  sizes: number[];
  /** the exact LRU curve (one pass) */
  exact: boolean;
  /** SHARDS' sampling rate, or null */
  shardsRate: number | null;
  /** policies run at every size of the curve */
  curvePolicies: string[];
}

/** The other analyses over page numbers in the same pass: the working set, the TLB curve. */
export interface SamplerSettings {
  wss: { tau: number; every: number } | null;
  tlbCurveWays: number | null;
}

/** The analyses of one run. */
interface Analyses {
  sizes: number[];
  exact: StackDistance | null;
  shards: Shards | null;
  shardsRate: number | null;
  curvePolicies: string[];
  curveSims: FastSim[][];
  ws: WorkingSet | null;
  tlbCurve: TlbCurve | null;
}

/** The summary's fields that do not come from the simulation. */
export type SummaryBase = Pick<TraceSummary, "trace" | "format" | "compression" | "seconds" | "complete">;

export class Replay {
  private sim: MachineMode | null = null;
  private ksim: KernelMode | null = null;
  private psim: PolicySim | null = null;
  private fast: FastSim | null = null;
  /** OPT: the page string, kept until the end (it needs the future; 4 bytes a reference) */
  private opt: OptString | null = null;
  private optResult: PolicyResult | null = null;
  private an: Analyses | null = null;
  /** the mode's own sink, without the analyses */
  private readonly inner: BatchSink;
  /** records fed so far */
  fed = 0;
  /** machine mode: faults so far after each batch */
  private readonly faultsOverTime: [number, number][] = [];
  /** a point every `faultsEvery` batches: doubled (and every other point dropped) at 2 * FAULT_POINTS */
  private faultsEvery = 1;
  private batches = 0;

  /** `shared`: a shared memory machine mode's hit loop may place its state in, from byte `from` (MachineModeConfig.shared) */
  constructor(
    private readonly s: SimSettings,
    shared: SharedPlace | null = null,
  ) {
    const { frames, policy, dataOnly, seed } = s;
    if (s.linuxPager) {
      const k = new KernelMode({
        frames,
        tlb: s.tlb,
        policy,
        swapBytes: s.swapBytes,
        dataOnly,
        seed,
        thp: s.page === "thp",
      });
      this.ksim = k;
      this.inner = (w, n) => k.feed(w, n);
    } else if (s.machine) {
      const m = new MachineMode({
        frames,
        tlb: s.tlbSpec,
        policy: policy as never,
        dataOnly,
        seed,
        cost: s.cost,
        cache: s.cache ?? null,
        pageSize: s.page === "4k" ? "4k" : "2m",
        arch: s.arch as MachineArch,
        shared,
      });
      this.sim = m;
      this.inner = (w, n) => m.feed(w, n);
    } else if (policy === "opt") {
      // OPT needs the future: the page string is kept (4 bytes a reference, analysis/policy/opt.ts), then run
      const opt = new OptString();
      this.opt = opt;
      this.inner = (w, n) => {
        // record.ts's layout written out (a fetch is kind lo & 3 = 0, the page hi * 2^18 + (lo >>> 14)):
        // keep in sync with it (see there why; src/cli/trace/replay.test.ts checks)
        for (let i = 0; i < n; i++) {
          const lo = w[2 * i];
          if (dataOnly && (lo & 3) === 0) continue;
          opt.add(w[2 * i + 1] * 262144 + (lo >>> 14));
        }
      };
    } else if ((FAST_POLICIES as readonly string[]).includes(policy)) {
      const f = new FastSim(policy as never, frames);
      this.fast = f;
      // record.ts's layout written out there, as above
      this.inner = (w, n) => f.feedRecords(w, n, dataOnly);
    } else {
      const p = new PolicySim(policy, frames, { seed });
      this.psim = p;
      this.inner = (w, n) => {
        // record.ts's layout written out, as above; a store or modify (kind >= 2) writes
        for (let i = 0; i < n; i++) {
          const lo = w[2 * i];
          const kind = lo & 3;
          if (kind === 0 && dataOnly) continue;
          p.access(w[2 * i + 1] * 262144 + (lo >>> 14), kind >= 2);
        }
      };
    }
  }

  /** Adds the curves that run in the same pass (before anything is fed). */
  addCurves(c: CurveSettings): void {
    const exact = c.exact ? new StackDistance() : null;
    const shards = c.shardsRate !== null ? new Shards(c.shardsRate) : null;
    const curveSims = c.curvePolicies.map((p) => c.sizes.map((f) => new FastSim(p as never, f)));
    this.an = { ...c, exact, shards, curveSims, ws: null, tlbCurve: null };
    this.dropIdleAnalyses();
  }

  /** Adds the working set and the TLB curve (after addCurves, before anything is fed). */
  addSamplers(s: SamplerSettings): void {
    const ws = s.wss !== null ? new WorkingSet(s.wss.tau, s.wss.every) : null;
    const tlbCurve = s.tlbCurveWays !== null ? new TlbCurve(s.tlbCurveWays) : null;
    const an = this.an;
    this.an =
      an !== null
        ? { ...an, ws, tlbCurve }
        : {
            sizes: [],
            exact: null,
            shards: null,
            shardsRate: null,
            curvePolicies: [],
            curveSims: [],
            ws,
            tlbCurve,
          };
    this.dropIdleAnalyses();
  }

  /** No analysis at all: none to feed (and machine mode can take runs). */
  private dropIdleAnalyses(): void {
    const a = this.an;
    if (
      a !== null &&
      a.exact === null &&
      a.shards === null &&
      a.curveSims.length === 0 &&
      a.ws === null &&
      a.tlbCurve === null
    )
      this.an = null;
  }

  /**
   * Whether the run can take runs (feedRuns): machine mode's fast path (and
   * --pager linux's), or policy mode's (LRU, FIFO, CLOCK: FastSim.feedRuns),
   * with no analysis alongside.
   */
  get takesRuns(): boolean {
    return (
      (this.sim?.takesRuns === true || this.ksim?.takesRuns === true || this.fast !== null) &&
      this.an === null
    );
  }

  /**
   * Whether the run can take unchecked records (feedRaw): machine mode with
   * its WebAssembly hit loop (MachineMode.takesRecords), nothing alongside.
   */
  get takesRaw(): boolean {
    return this.sim?.takesRecords === true && this.an === null;
  }

  /** Takes `n` unchecked records, up to the first that is not one (only when takesRaw); returns those taken. */
  readonly feedRaw: RawRecordSink = (w, n, totals) => {
    const s = this.sim!;
    const taken = s.feedRecords(w, n, totals);
    this.fed += taken;
    this.noteFaults(s.faultCount());
    return taken;
  };

  /** Takes `n` records: the mode's simulation, then the analyses. */
  readonly feed: BatchSink = (w, n) => {
    this.fed += n;
    this.inner(w, n);
    const sim = this.sim;
    if (sim !== null) this.noteFaults(sim.faultCount());
    const an = this.an;
    if (an === null) return;
    const { exact, shards, ws, tlbCurve, curveSims } = an;
    const dataOnly = this.s.dataOnly;
    // record.ts's layout written out (a fetch is kind lo & 3 = 0, the page hi * 2^18 + (lo >>> 14)):
    // keep in sync with it (see there why; src/cli/trace/replay.test.ts checks)
    for (let i = 0; i < n; i++) {
      const lo = w[2 * i];
      if (dataOnly && (lo & 3) === 0) continue;
      const page = w[2 * i + 1] * 262144 + (lo >>> 14);
      exact?.access(page);
      shards?.access(page);
      ws?.access(page);
      tlbCurve?.access(page);
      for (const row of curveSims) for (const c of row) c.access(page);
    }
  };

  /** Takes `n` runs of the reading thread (only when takesRuns). */
  readonly feedRuns: RunSink = (w, n, totals) => {
    if (this.fast !== null) {
      // policy mode: a run is one reference and its repeats (the write bit and the totals are not needed)
      this.fast.feedRuns(w, n, this.s.dataOnly);
      this.fed += totals[6];
      return;
    }
    if (this.ksim !== null) {
      // --pager linux: the kernel pager's hit path takes runs as machine mode's does
      this.ksim.feedRuns(w, n, totals);
      this.fed += totals[6];
      return;
    }
    const s = this.sim!;
    s.feedRuns(w, n, totals);
    this.fed += totals[6];
    this.noteFaults(s.faultCount());
  };

  /**
   * Machine mode's faults after a batch, kept in constant memory for a trace
   * of any length: at 2 * FAULT_POINTS points, every other one goes and a
   * point is taken every twice as many batches.
   */
  private noteFaults(faults: number): void {
    if (++this.batches % this.faultsEvery !== 0) return;
    const points = this.faultsOverTime;
    points.push([this.fed, faults]);
    if (points.length < 2 * FAULT_POINTS) return;
    let j = 0;
    for (let i = 1; i < points.length; i += 2) points[j++] = points[i];
    points.length = j;
    this.faultsEvery *= 2;
  }

  /** The end of the input: OPT runs now over the page string, if the input was whole. */
  finish(complete: boolean): void {
    if (this.opt !== null && complete) this.optResult = this.opt.run(this.s.frames);
    this.opt = null;
  }

  /**
   * Are there figures to report? Not for OPT over an input that stopped
   * early: it runs only over a whole page string (finish).
   */
  get hasResult(): boolean {
    return this.s.policy !== "opt" || this.s.machine || this.s.linuxPager || this.optResult !== null;
  }

  /** The figures, as `vmlab trace --json` prints them. */
  summary(base: SummaryBase): TraceSummary {
    const s = this.headline({
      trace: base.trace,
      format: base.format,
      compression: base.compression,
      frames: this.s.frames,
      policy: this.s.policy,
      seconds: base.seconds,
      complete: base.complete,
    });
    const an = this.an;
    if (an !== null && (an.exact !== null || an.shards !== null || an.curveSims.length > 0)) {
      const { exact, shards, sizes } = an;
      const series: Record<string, number[]> = {};
      const curve = exact ? exact.curve(sizes) : shards ? shards.curve(sizes) : null;
      if (curve) series[exact ? "lru" : "lru (SHARDS)"] = curve.map((p) => p.missRatio);
      an.curvePolicies.forEach((p, i) => {
        series[p] = an.curveSims[i].map((c) => {
          const r = c.result();
          return r.hits + r.misses > 0 ? r.misses / (r.hits + r.misses) : 0;
        });
      });
      s.mrc = {
        method: exact
          ? "exact LRU stack distances (one pass)"
          : shards
            ? `SHARDS, sampling rate ${an.shardsRate}`
            : "one run per size",
        references: exact?.references ?? shards?.references ?? this.fed,
        distinctPages: exact?.distinct ?? Math.round(shards?.distinctEstimate ?? 0),
        sizes,
        series,
      };
    }
    if (an?.ws) s.wss = { tau: an.ws.tau, samples: an.ws.samples };
    if (an?.tlbCurve) s.tlbCurve = an.tlbCurve.result();
    if (this.sim !== null) {
      const points = this.faultsOverTime;
      const last = points[points.length - 1];
      if (last === undefined || last[0] !== this.fed) points.push([this.fed, this.sim.faultCount()]);
      s.faultsOverTime = thin(points, FAULT_POINTS);
    }
    return s;
  }

  /** The headline figures of the mode. */
  private headline(base: SummaryBase & Pick<TraceSummary, "frames" | "policy">): TraceSummary {
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
    if (this.ksim !== null) {
      const r = this.ksim.result();
      return { ...machine(r, r.faults, r.majorFaults, r.evictions), swapIns: r.swapIns, kernel: r };
    }
    if (this.sim !== null) {
      const r = this.sim.result();
      return { ...machine(r, r.faults, r.faults_swap_in, r.evictions), machine: r };
    }
    const p = this.optResult ?? (this.fast ?? this.psim)!.result();
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
}

/** Points of faults over time in a summary. */
const FAULT_POINTS = 1000;

/** At most `max` points, evenly thinned, the last one kept. */
function thin(points: [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points;
  const step = points.length / max;
  const out: [number, number][] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.floor(i * step)]);
  out[out.length - 1] = points[points.length - 1];
  return out;
}
