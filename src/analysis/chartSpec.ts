/**
 * vmlab's charts as Vega-Lite specifications (plain JSON): the one
 * description of each picture that both front ends draw. `vmlab trace
 * --chart` and `vmlab sweep --chart` compile them with vega-lite and render
 * them with vega headless (analysis/chartRender.ts: SVG, PNG, HTML); the
 * browser's trace view (src/web/app/trace/Chart.tsx) renders the same
 * specifications with vega into the page, with tooltips.
 *
 * A chart is made in two steps: a function per figure (mrcChart,
 * tlbCurveChart, ...) gathers its points, titles and axes into a LineChart,
 * and lineSpec turns any LineChart into its specification. Memory and TLB
 * sizes go on a log2 axis when they span powers of two.
 */
import type { TopLevelSpec } from "vega-lite";
import type { TlbCurveResult } from "./tlbCurve.ts";

export type { TopLevelSpec };

export interface Series {
  name: string;
  points: [number, number][];
}

/** One line chart: its data, titles and axes (what lineSpec draws). */
export interface LineChart {
  /** a short name: mrc, tlb-curve, wss, faults, sweep (the browser's test ids) */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** the x values are memory (or TLB) sizes: a log2 axis if they span powers of two */
  sizes?: boolean;
  /** y from 0 to this (ratios: 1) */
  yMax?: number;
  /** how a y value is written in tooltips (a d3-format string) */
  yFormat: string;
}

const RATIO = ".6f";
const COUNT = ",d";
/** The plotting area of every chart, in pixels. */
export const PLOT = { width: 520, height: 240 };
const FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif";

/** The miss-ratio curve(s): miss ratio per memory size, one series per policy (analysis/mrc.ts). */
export function mrcChart(mrc: {
  method: string;
  sizes: number[];
  series: Record<string, number[]>;
}): LineChart {
  return {
    id: "mrc",
    title: `Miss ratio against memory size (${mrc.method})`,
    xLabel: "frames (4 KiB pages)",
    yLabel: "miss ratio",
    sizes: true,
    yMax: 1,
    yFormat: RATIO,
    series: Object.entries(mrc.series).map(([name, ys]) => ({
      name,
      points: mrc.sizes.map((f, i) => [f, ys[i]] as [number, number]),
    })),
  };
}

/** The TLB miss curve: set-associative and fully associative (analysis/tlbCurve.ts). */
export function tlbCurveChart(tc: TlbCurveResult): LineChart {
  return {
    id: "tlb-curve",
    title: "TLB miss ratio against TLB size (reach = entries x 4 KiB)",
    xLabel: "TLB entries",
    yLabel: "miss ratio",
    sizes: true,
    yFormat: RATIO,
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
  };
}

/** Denning's working set W(t, tau) over the references. */
export function wssChart(wss: { tau: number; samples: { t: number; wss: number }[] }): LineChart {
  return {
    id: "wss",
    title: `Working set W(t, ${wss.tau})`,
    xLabel: "references",
    yLabel: "pages",
    yFormat: COUNT,
    series: [{ name: "W(t, tau)", points: wss.samples.map((x) => [x.t, x.wss] as [number, number]) }],
  };
}

/** Page faults so far against accesses (machine mode's batches). */
export function faultsOverTimeChart(points: [number, number][], frames: number, policy: string): LineChart {
  return {
    id: "faults",
    title: `Page faults over time (${frames.toLocaleString("en-US")} frames, ${policy})`,
    xLabel: "accesses",
    yLabel: "faults so far",
    yFormat: COUNT,
    // no fault before the first access: the line starts at the origin even where the first batch recorded is later
    series: [
      { name: "faults", points: points.length > 0 && points[0][0] > 0 ? [[0, 0], ...points] : points },
    ],
  };
}

/** `vmlab sweep`: faults per access against frames, one series per policy (and mode, TLB). */
export function sweepChart(series: Series[]): LineChart {
  return {
    id: "sweep",
    title: "Page faults per access against memory size",
    xLabel: "frames (4 KiB pages)",
    yLabel: "faults per access",
    sizes: true,
    yFormat: RATIO,
    series: series.map((s) => ({ name: s.name, points: [...s.points].sort((a, b) => a[0] - b[0]) })),
  };
}

/** Whether sizes go on a log2 axis: all above zero and at least two octaves apart. */
export function log2Axis(c: LineChart): boolean {
  const xs = c.series.flatMap((s) => s.points.map(([x]) => x));
  if (!c.sizes || xs.length === 0) return false;
  const lo = Math.min(...xs);
  return lo > 0 && Math.max(...xs) >= 4 * lo;
}

/** The powers of two from lo to hi (the ticks of a log2 axis). */
export function powersOfTwo(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.ceil(Math.log2(lo)); 2 ** e <= hi; e++) out.push(2 ** e);
  return out;
}

/**
 * The chart's Vega-Lite specification: one line per series with a legend;
 * the pointer picks the nearest x and its tooltip lists every series' value
 * there (vega-lite's pivot-and-rule pattern, invisible when drawn statically).
 * The series are keyed s0, s1, ... in the data, so that a name is never read as
 * a field path.
 */
export function lineSpec(c: LineChart): TopLevelSpec {
  const log2 = log2Axis(c);
  const xs = c.series.flatMap((s) => s.points.map(([x]) => x));
  const values = c.series.flatMap((s, i) => s.points.map(([x, y]) => ({ x, y, k: `s${i}`, series: s.name })));
  const names = c.series.map((s) => s.name);
  const x = {
    field: "x",
    type: "quantitative" as const,
    title: c.xLabel,
    // linear axes (references, accesses) from the first point, integer ticks
    scale: log2 ? { type: "log" as const, base: 2, nice: false } : { zero: false, nice: false },
    axis: log2
      ? {
          values: powersOfTwo(Math.min(...xs), Math.max(...xs)),
          format: ",d",
          labelOverlap: "parity" as const,
        }
      : { format: ",~f", tickCount: 8, tickMinStep: 1 },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: c.title,
    width: PLOT.width,
    height: PLOT.height,
    config: { font: FONT, background: "white" },
    data: { values },
    encoding: { x },
    layer: [
      {
        encoding: {
          y: {
            field: "y",
            type: "quantitative",
            title: c.yLabel,
            scale: c.yMax === undefined ? {} : { domain: [0, c.yMax] },
            // counts as 12k, 3.4M; ratios as vega writes them
            axis: c.yFormat === COUNT ? { format: "~s", tickMinStep: 1 } : {},
          },
          color: {
            field: "series",
            type: "nominal",
            title: null,
            scale: { domain: names },
            legend: { orient: "right", symbolType: "stroke", symbolStrokeWidth: 3 },
          },
        },
        layer: [
          { mark: { type: "line", strokeWidth: 2 } },
          { transform: [{ filter: { param: "near", empty: false } }], mark: { type: "point", filled: true } },
        ],
      },
      {
        transform: [{ pivot: "k", value: "y", groupby: ["x"] }],
        mark: { type: "rule", color: "#888" },
        encoding: {
          opacity: { condition: { param: "near", value: 0.6, empty: false }, value: 0 },
          tooltip: [
            { field: "x", type: "quantitative", title: c.xLabel, format: "," },
            ...c.series.map((s, i) => ({
              field: `s${i}`,
              type: "quantitative" as const,
              title: s.name,
              format: c.yFormat,
            })),
          ],
        },
        params: [
          {
            name: "near",
            select: { type: "point", fields: ["x"], nearest: true, on: "pointerover", clear: "pointerout" },
          },
        ],
      },
    ],
  };
}

/** The TLB hit rate of each level (hits / lookups at that level), as bars. */
export function hitRatesSpec(levels: { name: string; hits: number; misses: number }[]): TopLevelSpec {
  const pct = (h: number, n: number) => (n > 0 ? `${((100 * h) / n).toFixed(2)}%` : "-");
  const values = levels.map((l) => {
    const lookups = l.hits + l.misses;
    return {
      // the axis label says the figures, as the text report does
      label: `${l.name}: ${pct(l.hits, lookups)} of ${lookups.toLocaleString("en-US")}`,
      level: l.name,
      hits: l.hits,
      misses: l.misses,
      rate: lookups > 0 ? l.hits / lookups : 0,
    };
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "TLB hit rate by level (hits / lookups at that level)",
    width: PLOT.width,
    height: { step: 26 },
    config: { font: FONT, background: "white" },
    data: { values },
    mark: { type: "bar", color: "#4c78a8" },
    encoding: {
      y: { field: "label", type: "nominal", title: null, sort: null },
      x: {
        field: "rate",
        type: "quantitative",
        title: "hit rate",
        scale: { domain: [0, 1] },
        axis: { format: "%" },
      },
      tooltip: [
        { field: "level", type: "nominal" },
        { field: "rate", type: "quantitative", title: "hit rate", format: ".4%" },
        { field: "hits", type: "quantitative", format: "," },
        { field: "misses", type: "quantitative", format: "," },
      ],
    },
  };
}

/** Several charts one above the other, as one image (the CLI's --chart file). */
export function stackedSpec(specs: TopLevelSpec[]): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    config: { font: FONT, background: "white" },
    vconcat: specs.map(({ $schema: _, config: __, ...rest }) => rest),
    spacing: 30,
    // each chart keeps its own series, colours and legend
    resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
  } as TopLevelSpec;
}

/** The size of the scenario view's per-step charts, in pixels. */
export const SPARK = { width: 160, height: 24 };

/**
 * The scenario view's small chart of one running figure (page faults, TLB
 * hits, ...) over the steps: a bare line, no axes, y from 0. Its rows come
 * from the named dataset "steps" ({ step, v }: the figure after boot, step
 * 0, and after each statement), which the page replaces on every step
 * without compiling the chart again. `label` is the figure's name.
 */
export function stepSparkSpec(label: string): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description: `${label} over the steps`,
    width: SPARK.width,
    height: SPARK.height,
    padding: 1,
    autosize: { type: "none" },
    config: { view: { stroke: null }, background: "transparent" },
    data: { name: "steps" },
    mark: { type: "line", strokeWidth: 1.5, color: "#2c7bb6", interpolate: "linear" },
    encoding: {
      x: {
        field: "step",
        type: "quantitative",
        axis: null,
        scale: { nice: false, domain: { unionWith: [0, 1] } },
      },
      y: {
        field: "v",
        type: "quantitative",
        axis: null,
        scale: { nice: false, zero: true, domain: { unionWith: [0, 1] } },
      },
    },
  };
}
