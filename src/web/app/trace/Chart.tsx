/**
 * The trace view's charts: the Vega-Lite specifications of
 * analysis/chartSpec.ts (the ones `vmlab trace --chart` renders to SVG and
 * PNG) compiled by vega-lite and rendered by vega into the page as SVG,
 * with vega-interpreter evaluating vega's expressions (no eval under the
 * page's Content-Security-Policy). vega and vega-lite are loaded (chunks of
 * their own) when the first chart is drawn. The pointer over a line chart picks the nearest x and a tooltip
 * lists every series' value there; below each chart, its numbers as a table
 * (the `data-v` of each cell is the exact value, as `--json` prints it).
 */
import { useEffect, useMemo, useRef } from "preact/hooks";
import { hitRatesSpec, type LineChart, lineSpec, type TopLevelSpec } from "../../../analysis/chartSpec.ts";

type Vega = typeof import("vega");
type VegaLite = typeof import("vega-lite");
type Interpreter = typeof import("vega-interpreter");
let libs: Promise<[Vega, VegaLite, Interpreter]> | null = null;
/** vega, vega-lite and vega-interpreter, loaded once (also for the scenario view's step charts) */
export const load = () => {
  libs ??= Promise.all([import("vega"), import("vega-lite"), import("vega-interpreter")]);
  return libs;
};

/** A tooltip's fields as `name: value` lines (vega's formatted values). */
function tooltipText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
}

/** One specification drawn by vega as SVG into a div; its tooltips in a box beside the pointer. */
function VegaView({ spec, label }: { spec: TopLevelSpec; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const tip = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let view: InstanceType<Vega["View"]> | null = null;
    let gone = false;
    void (async () => {
      const [vega, vl, { expressionInterpreter }] = await load();
      const el = box.current;
      if (gone || el === null) return;
      // vega's expressions interpreted, not compiled with Function(): the page's
      // Content-Security-Policy (cli/ui.ts) allows no eval
      const runtime = vega.parse(vl.compile(spec).spec, undefined, { ast: true });
      view = new vega.View(runtime, { renderer: "svg", hover: true, expr: expressionInterpreter });
      view.tooltip((_handler: unknown, event: MouseEvent, _item: unknown, value: unknown) => {
        const t = tip.current;
        if (t === null) return;
        const text = tooltipText(value);
        t.hidden = text === "";
        t.textContent = text;
        const r = el.getBoundingClientRect();
        t.style.left = `${event.clientX - r.left + 14}px`;
        t.style.top = `${event.clientY - r.top + 14}px`;
      });
      view.initialize(el);
      await view.runAsync();
      if (!gone) el.dataset.drawn = "yes";
    })();
    return () => {
      gone = true;
      view?.finalize();
    };
  }, [spec]);
  return (
    <div class="vega-chart">
      <div ref={box} role="img" aria-label={label} data-testid="plot" />
      <div ref={tip} class="vega-tip" data-testid="hover" hidden />
    </div>
  );
}

export function LineChartView({ chart }: { chart: LineChart }) {
  const spec = useMemo(() => lineSpec(chart), [chart]);
  return (
    <figure class="trace-chart" data-testid={`chart-${chart.id}`}>
      <VegaView spec={spec} label={chart.title} />
      <details>
        <summary>the numbers</summary>
        <NumbersTable chart={chart} />
      </details>
    </figure>
  );
}

/** A number as the table shows it: integers whole, ratios to 6 places. */
function fmtExact(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(6);
}

/** The chart's points: one row per x, one column per series. */
function NumbersTable({ chart }: { chart: LineChart }) {
  const xs = [...new Set(chart.series.flatMap((s) => s.points.map(([x]) => x)))].sort((a, b) => a - b);
  const maps = chart.series.map((s) => new Map(s.points));
  return (
    <table class="numbers" data-testid={`numbers-${chart.id}`}>
      <thead>
        <tr>
          <th>{chart.xLabel}</th>
          {chart.series.map((s) => (
            <th key={s.name}>{s.name}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {xs.map((x) => (
          <tr key={x} data-x={x}>
            <td>{x.toLocaleString("en-US")}</td>
            {maps.map((m, i) => {
              const v = m.get(x);
              return (
                <td
                  key={chart.series[i].name}
                  data-series={chart.series[i].name}
                  data-v={v === undefined ? "" : String(v)}
                >
                  {v === undefined ? "" : fmtExact(v)}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type Level = { name: string; hits: number; misses: number };

/** TLB hit rate per level (hits / lookups at that level), as bars, and their numbers. */
export function HitRates({ levels }: { levels: Level[] }) {
  const spec = useMemo(() => hitRatesSpec(levels), [levels]);
  return (
    <figure class="trace-chart" data-testid="chart-tlb-levels">
      <VegaView spec={spec} label="TLB hit rate by level" />
      <details>
        <summary>the numbers</summary>
        <table class="numbers">
          <thead>
            <tr>
              <th>level</th>
              <th>hits</th>
              <th>misses</th>
            </tr>
          </thead>
          <tbody>
            {levels.map((l) => (
              <tr
                key={l.name}
                data-testid="tlb-level"
                data-level={l.name}
                data-hits={l.hits}
                data-misses={l.misses}
              >
                <td>{l.name}</td>
                <td>{l.hits.toLocaleString("en-US")}</td>
                <td>{l.misses.toLocaleString("en-US")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
