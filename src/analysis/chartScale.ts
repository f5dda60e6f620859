/**
 * The axes of vmlab's line charts, shared by the SVG the CLI writes
 * (chart.ts) and the browser's trace view (src/web/app/trace/Chart.tsx),
 * so that both draw the same ticks: round steps on a linear axis, powers of
 * two on a log2 axis (memory sizes).
 */

/** About `n` round ticks from lo to hi (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/** A tick's label: 1.5k, 2M, 1e-4. */
export function fmtTick(v: number): string {
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(0);
  if (Math.abs(v) >= 1e9) return `${Number((v / 1e9).toPrecision(3))}G`;
  if (Math.abs(v) >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (Math.abs(v) >= 1000) return `${Number((v / 1000).toPrecision(3))}k`;
  return String(Number(v.toPrecision(4)));
}

/** The ticks of a log2 axis from 2^lo to 2^hi (lo, hi already log2). */
export function log2Ticks(lo: number, hi: number): number[] {
  return Array.from(
    { length: Math.max(0, Math.floor(hi) - Math.ceil(lo) + 1) },
    (_, i) => 2 ** (Math.ceil(lo) + i),
  );
}
