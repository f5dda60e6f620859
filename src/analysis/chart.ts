/**
 * Line charts as SVG (no DOM, no browser): miss-ratio curves, working set
 * and faults over time. One or more panels stacked in one image; `toPng`
 * renders the SVG with resvg (a native module from the registry), `toHtml`
 * wraps it in a page. The panels of a trace come from analysis/trace/
 * summary.ts; the browser's trace view draws the same panels with the same
 * ticks (chartScale.ts), interactively.
 */
import { createRequire } from "node:module";
import { fmtTick, log2Ticks, niceTicks } from "./chartScale.ts";

export interface Series {
  name: string;
  points: [number, number][];
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** a log2 x axis (memory sizes) */
  logX?: boolean;
  /** y from 0 to 1 (ratios) */
  yMax?: number;
}

const W = 760;
const H = 340;
const M = { left: 70, right: 170, top: 36, bottom: 48 };
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function panelSvg(p: Panel, y0: number): string {
  const pts = p.series.flatMap((s) => s.points);
  const xs = pts.map(([x]) => (p.logX ? Math.log2(Math.max(x, 1)) : x));
  const ys = pts.map(([, y]) => y);
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 1;
  const yMax = p.yMax ?? (ys.length ? Math.max(...ys) * 1.05 : 1);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) =>
    M.left + (((p.logX ? Math.log2(Math.max(x, 1)) : x) - xMin) / (xMax - xMin || 1)) * pw;
  const sy = (y: number) => y0 + M.top + ph - (y / (yMax || 1)) * ph;
  const parts: string[] = [];
  parts.push(
    `<text x="${W / 2}" y="${y0 + 22}" text-anchor="middle" font-size="15" font-weight="bold">${esc(p.title)}</text>`,
  );
  parts.push(
    `<rect x="${M.left}" y="${y0 + M.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`,
  );
  // axes
  const xTicks = p.logX ? log2Ticks(xMin, xMax) : niceTicks(xMin, xMax);
  for (const t of xTicks) {
    const x = sx(t);
    parts.push(
      `<line x1="${x}" y1="${y0 + M.top + ph}" x2="${x}" y2="${y0 + M.top + ph + 5}" stroke="#444"/>`,
    );
    parts.push(
      `<text x="${x}" y="${y0 + M.top + ph + 18}" text-anchor="middle" font-size="11">${fmtTick(t)}</text>`,
    );
  }
  for (const t of niceTicks(0, yMax)) {
    const y = sy(t);
    parts.push(`<line x1="${M.left - 5}" y1="${y}" x2="${M.left + pw}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.left - 8}" y="${y + 4}" text-anchor="end" font-size="11">${fmtTick(t)}</text>`);
  }
  parts.push(
    `<text x="${M.left + pw / 2}" y="${y0 + H - 8}" text-anchor="middle" font-size="12">${esc(p.xLabel)}</text>`,
  );
  parts.push(
    `<text x="16" y="${y0 + M.top + ph / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${y0 + M.top + ph / 2})">${esc(p.yLabel)}</text>`,
  );
  p.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const d = s.points.map(([x, y], j) => `${j ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join("");
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const ly = y0 + M.top + 14 + i * 18;
    parts.push(
      `<line x1="${W - M.right + 12}" y1="${ly - 4}" x2="${W - M.right + 36}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`,
    );
    parts.push(`<text x="${W - M.right + 42}" y="${ly}" font-size="12">${esc(s.name)}</text>`);
  });
  return parts.join("\n");
}

/** One SVG image with the panels one above the other. */
export function toSvg(panels: Panel[]): string {
  const height = H * panels.length;
  const body = panels.map((p, i) => panelSvg(p, i * H)).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">
<rect width="100%" height="100%" fill="white"/>
${body}
</svg>
`;
}

export function toHtml(panels: Panel[], title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body style="font-family: sans-serif">
<h1 style="font-size: 18px">${esc(title)}</h1>
${toSvg(panels)}
</body></html>
`;
}

export function toPng(svg: string): Buffer {
  const { Resvg } = createRequire(import.meta.url)("@resvg/resvg-js") as {
    Resvg: new (svg: string, opts?: object) => { render(): { asPng(): Buffer } };
  };
  return new Resvg(svg, { font: { loadSystemFonts: true }, background: "white" }).render().asPng();
}
