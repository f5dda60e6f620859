/**
 * What a trace replay found, as one object: the TraceSummary (the JSON
 * `vmlab trace --json` prints, which `vmlab ui --trace` draws too), and the
 * charts it makes (analysis/chartSpec.ts, Vega-Lite), the one specification
 * of the pictures that both `vmlab trace --chart` (analysis/chartRender.ts:
 * SVG, PNG, HTML) and the browser's trace view (src/web/app/trace/) draw.
 */
import { faultsOverTimeChart, type LineChart, mrcChart, tlbCurveChart, wssChart } from "../chartSpec.ts";
import type { TlbCurveResult } from "../tlbCurve.ts";
import type { KernelModeResult } from "./kernelMode.ts";
import type { MachineModeResult } from "./machineMode.ts";

/** The JSON shape every consumer can rely on (plus mode-specific fields). */
export interface TraceSummary {
  mode: "machine" | "policy";
  trace: string;
  /** bin, lackey, text or refs (workloads/trace/formats.ts TraceFormat) */
  format: string;
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

/** The line charts this run can draw (their specifications: analysis/chartSpec.ts lineSpec). */
export function chartPanels(s: TraceSummary): LineChart[] {
  const charts: LineChart[] = [];
  if (s.mrc) charts.push(mrcChart(s.mrc));
  if (s.tlbCurve) charts.push(tlbCurveChart(s.tlbCurve));
  if (s.wss) charts.push(wssChart(s.wss));
  if (s.faultsOverTime && s.faultsOverTime.length > 1)
    charts.push(faultsOverTimeChart(s.faultsOverTime, s.frames, s.policy));
  return charts;
}
