/**
 * What a trace replay found, as one object: the TraceSummary (the JSON
 * `vmlab trace --json` prints, which `vmlab ui --trace` draws too), and the
 * chart panels it makes, the one specification of the pictures that both
 * `vmlab trace --chart` (analysis/chart.ts, SVG and PNG) and the browser's
 * trace view (src/web/app/trace/) draw.
 */
import type { Panel } from "../chart.ts";
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

const fmt = (n: number) => n.toLocaleString("en-US");
