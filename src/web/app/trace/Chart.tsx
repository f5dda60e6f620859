/**
 * The trace view's charts: a Panel (analysis/trace/summary.ts chartPanels,
 * the specification `vmlab trace --chart` draws too) as an interactive
 * SVG: the same size, margins, axes and ticks as the CLI's (analysis/
 * chart.ts, chartScale.ts); the pointer over the plot shows the nearest
 * point of every series with its numbers; a box per series hides or shows
 * it. Below each chart, its numbers as a table (the
 * `data-v` of each cell is the exact value, as `--json` prints it).
 * No chart library: the panels are few lines, and this is all they need.
 */
import { useState } from "preact/hooks";
import type { Panel } from "../../../analysis/chart.ts";
import { fmtTick, log2Ticks, niceTicks } from "../../../analysis/chartScale.ts";

const W = 760;
const H = 340;
const M = { left: 70, right: 170, top: 36, bottom: 48 };
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

export function LineChart({ panel, id }: { panel: Panel; id: string }) {
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  const [hover, setHover] = useState<number | null>(null);
  const lx = (x: number) => (panel.logX ? Math.log2(Math.max(x, 1)) : x);
  const shown = panel.series.filter((s) => !hidden.has(s.name));
  const pts = shown.flatMap((s) => s.points);
  const xs = pts.map(([x]) => lx(x));
  const ys = pts.map(([, y]) => y);
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 1;
  const yMax = panel.yMax ?? (ys.length ? Math.max(...ys) * 1.05 : 1);
  const sx = (x: number) => M.left + ((lx(x) - xMin) / (xMax - xMin || 1)) * PW;
  const sy = (y: number) => M.top + PH - (y / (yMax || 1)) * PH;
  const xTicks = panel.logX ? log2Ticks(xMin, xMax) : niceTicks(xMin, xMax);
  // the x values, in order, that the pointer snaps to
  const allX = [...new Set(shown.flatMap((s) => s.points.map(([x]) => x)))].sort((a, b) => a - b);
  const onMove = (e: MouseEvent) => {
    const box = (e.currentTarget as SVGSVGElement).getBoundingClientRect();
    const px = ((e.clientX - box.left) / box.width) * W;
    let best: number | null = null;
    for (const x of allX) if (best === null || Math.abs(sx(x) - px) < Math.abs(sx(best) - px)) best = x;
    setHover(best);
  };
  const at = (pts: [number, number][], x: number) => pts.find((p) => p[0] === x);
  return (
    <figure class="trace-chart" data-testid={`chart-${id}`}>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={panel.title}
        data-testid="plot"
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
      >
        <text x={W / 2} y={22} text-anchor="middle" class="title">
          {panel.title}
        </text>
        {xTicks.map((t) => (
          <g key={`x${t}`}>
            <line x1={sx(t)} y1={M.top + PH} x2={sx(t)} y2={M.top + PH + 5} stroke="#444" />
            <text x={sx(t)} y={M.top + PH + 18} text-anchor="middle" class="tick">
              {fmtTick(t)}
            </text>
          </g>
        ))}
        {niceTicks(0, yMax).map((t) => (
          <g key={`y${t}`}>
            <line x1={M.left - 5} y1={sy(t)} x2={M.left + PW} y2={sy(t)} stroke="#ddd" />
            <text x={M.left - 8} y={sy(t) + 4} text-anchor="end" class="tick">
              {fmtTick(t)}
            </text>
          </g>
        ))}
        <rect x={M.left} y={M.top} width={PW} height={PH} fill="none" stroke="#444" />
        <text x={M.left + PW / 2} y={H - 8} text-anchor="middle" class="label">
          {panel.xLabel}
        </text>
        <text
          x={16}
          y={M.top + PH / 2}
          text-anchor="middle"
          class="label"
          transform={`rotate(-90 16 ${M.top + PH / 2})`}
        >
          {panel.yLabel}
        </text>
        {panel.series.map((s, i) =>
          hidden.has(s.name) ? null : (
            <path
              key={s.name}
              d={s.points
                .map(([x, y], j) => `${j ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
                .join("")}
              fill="none"
              stroke={COLORS[i % COLORS.length]}
              stroke-width="2"
            />
          ),
        )}
        {panel.series.map((s, i) => {
          const ly = M.top + 14 + i * 18;
          return (
            <g key={`l${s.name}`} class={`legend${hidden.has(s.name) ? " off" : ""}`}>
              <line
                x1={W - M.right + 12}
                y1={ly - 4}
                x2={W - M.right + 36}
                y2={ly - 4}
                stroke={COLORS[i % COLORS.length]}
                stroke-width="3"
              />
              <text x={W - M.right + 42} y={ly} class="tick">
                {s.name}
              </text>
            </g>
          );
        })}
        {hover !== null && (
          <g class="hover" data-testid="hover">
            <line
              x1={sx(hover)}
              y1={M.top}
              x2={sx(hover)}
              y2={M.top + PH}
              stroke="#888"
              stroke-dasharray="3 3"
            />
            {panel.series.map((s, i) => {
              const p = hidden.has(s.name) ? undefined : at(s.points, hover);
              return p ? (
                <circle key={s.name} cx={sx(p[0])} cy={sy(p[1])} r={4} fill={COLORS[i % COLORS.length]} />
              ) : null;
            })}
            <text x={W - M.right + 12} y={M.top + 22 + panel.series.length * 18} class="tick">
              {panel.xLabel.split(" ")[0]} {fmtExact(hover)}
            </text>
            {panel.series.map((s, i) => {
              const p = hidden.has(s.name) ? undefined : at(s.points, hover);
              return p ? (
                <text
                  key={`v${s.name}`}
                  x={W - M.right + 12}
                  y={M.top + 40 + (panel.series.length + i) * 16}
                  class="tick"
                >
                  {s.name}: {fmtExact(p[1])}
                </text>
              ) : null;
            })}
          </g>
        )}
      </svg>
      {panel.series.length > 1 && (
        <figcaption class="series-toggles">
          show:{" "}
          {panel.series.map((s) => (
            <label key={s.name}>
              <input
                type="checkbox"
                data-testid="series-toggle"
                checked={!hidden.has(s.name)}
                onChange={() => {
                  const next = new Set(hidden);
                  if (!next.delete(s.name)) next.add(s.name);
                  setHidden(next);
                }}
              />{" "}
              {s.name}
            </label>
          ))}
        </figcaption>
      )}
      <details>
        <summary>the numbers</summary>
        <NumbersTable panel={panel} id={id} />
      </details>
    </figure>
  );
}

/** A number as the tooltip shows it: integers whole, ratios to 6 places. */
function fmtExact(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(6);
}

/** The panel's points: one row per x, one column per series. */
function NumbersTable({ panel, id }: { panel: Panel; id: string }) {
  const xs = [...new Set(panel.series.flatMap((s) => s.points.map(([x]) => x)))].sort((a, b) => a - b);
  const maps = panel.series.map((s) => new Map(s.points));
  return (
    <table class="numbers" data-testid={`numbers-${id}`}>
      <thead>
        <tr>
          <th>{panel.xLabel}</th>
          {panel.series.map((s) => (
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
                  key={panel.series[i].name}
                  data-series={panel.series[i].name}
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

/** TLB hit rate per level (hits / lookups at that level), as horizontal bars. */
export function HitRates({ levels }: { levels: { name: string; hits: number; misses: number }[] }) {
  const rowH = 26;
  const h = 40 + levels.length * rowH;
  const bw = 300;
  return (
    <figure class="trace-chart" data-testid="chart-tlb-levels">
      <svg viewBox={`0 0 ${W} ${h}`} role="img" aria-label="TLB hit rate by level">
        <text x={W / 2} y={22} text-anchor="middle" class="title">
          TLB hit rate by level (hits / lookups at that level)
        </text>
        {levels.map((l, i) => {
          const n = l.hits + l.misses;
          const rate = n > 0 ? l.hits / n : 0;
          const y = 34 + i * rowH;
          return (
            <g
              key={l.name}
              data-testid="tlb-level"
              data-level={l.name}
              data-hits={l.hits}
              data-misses={l.misses}
            >
              <text x={M.left + 40} y={y + 15} text-anchor="end" class="tick">
                {l.name}
              </text>
              <rect x={M.left + 50} y={y} width={bw} height={18} fill="#eceff1" />
              <rect x={M.left + 50} y={y} width={bw * rate} height={18} fill={COLORS[i % COLORS.length]} />
              <text x={M.left + 60 + bw} y={y + 14} class="tick">
                {n > 0 ? `${(100 * rate).toFixed(2)}%` : "-"} of {n.toLocaleString("en-US")} (
                {l.hits.toLocaleString("en-US")} hits, {l.misses.toLocaleString("en-US")} misses)
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
