/**
 * The charts' Vega-Lite specifications (chartSpec.ts) and what vega makes of
 * them headless (chartRender.ts): the data are the curve's own points, sizes
 * go on a log2 axis only when they span powers of two, the SVG has the
 * titles and one line per series and is well-formed XML, the PNG is a PNG of
 * the SVG's size. The PNG of a trace's charts is saved under
 * test-output/charts/ to be looked at.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import { describe, expect, it } from "vitest";
import { chartFile, toHtml, toPng, toSvg } from "./chartRender.ts";
import {
  faultsOverTimeChart,
  hitRatesSpec,
  type LineChart,
  lineSpec,
  mrcChart,
  powersOfTwo,
  stackedSpec,
  sweepChart,
  tlbCurveChart,
} from "./chartSpec.ts";
import { curveSizes, type MissRatioPoint, StackDistance } from "./mrc.ts";
import { chartPanels, type TraceSummary } from "./trace/summary.ts";

const OUT = join(import.meta.dirname, "..", "..", "test-output", "charts");

/** LRU's exact curve of a looping scan over 40 pages with a hot set of 6 (a curve with a knee). */
function lruCurve(sizes: number[]): MissRatioPoint[] {
  const sd = new StackDistance();
  for (let i = 0; i < 4000; i++) sd.access(i % 3 === 0 ? 1000 + (i % 6) : (i * 7) % 40);
  return sd.curve(sizes);
}

// biome-ignore lint/suspicious/noExplicitAny: the compiled specification is read as plain JSON
type Json = any;

describe("chart specifications", () => {
  it("the miss-ratio curve: the curve's own points per policy, a log2 axis of powers of two, titles", () => {
    const sizes = curveSizes(64);
    const lru = lruCurve(sizes);
    const chart = mrcChart({ method: "exact", sizes, series: { lru: lru.map((p) => p.missRatio) } });
    const spec: Json = lineSpec(chart);
    expect(spec.title).toBe("Miss ratio against memory size (exact)");
    const points = spec.data.values.filter((v: Json) => v.series === "lru").map((v: Json) => [v.x, v.y]);
    expect(points).toEqual(lru.map((p) => [p.frames, p.missRatio]));
    expect(spec.encoding.x.scale).toMatchObject({ type: "log", base: 2 });
    expect(spec.encoding.x.axis.values).toEqual(powersOfTwo(sizes[0], sizes.at(-1)!));
    expect(spec.encoding.x.title).toBe("frames (4 KiB pages)");
    expect(spec.layer[0].encoding.y).toMatchObject({ title: "miss ratio", scale: { domain: [0, 1] } });
    // the tooltip names every series
    expect(spec.layer[1].encoding.tooltip.map((t: Json) => t.title)).toEqual(["frames (4 KiB pages)", "lru"]);
  });

  it("log2 only where the sizes span powers of two; linear time axes with whole-number ticks", () => {
    const wide = lineSpec(
      sweepChart([
        {
          name: "lru",
          points: [
            [64, 0.1],
            [8, 0.5],
            [16, 0.3],
          ],
        },
      ]),
    ) as Json;
    expect(wide.encoding.x.scale.type).toBe("log");
    // sorted by frames, as a line must be
    expect(wide.data.values.map((v: Json) => v.x)).toEqual([8, 16, 64]);
    const narrow = lineSpec(
      sweepChart([
        {
          name: "fifo",
          points: [
            [3, 0.75],
            [4, 0.83],
          ],
        },
      ]),
    ) as Json;
    expect(narrow.encoding.x.scale.type).toBeUndefined();
    const withZero = lineSpec({
      ...sweepChart([
        {
          name: "x",
          points: [
            [0, 1],
            [64, 0],
          ],
        },
      ]),
    }) as Json;
    expect(withZero.encoding.x.scale.type).toBeUndefined();
    const faults = lineSpec(
      faultsOverTimeChart(
        [
          [100, 3],
          [200, 9],
        ],
        48,
        "clock",
      ),
    ) as Json;
    expect(faults.encoding.x.scale.type).toBeUndefined();
    expect(faults.encoding.x.axis).toMatchObject({ tickMinStep: 1 });
    expect(faults.title).toBe("Page faults over time (48 frames, clock)");
    // the line starts at the origin, before the first batch recorded
    const fc = faultsOverTimeChart([[100, 3]], 48, "clock");
    expect(fc.series[0].points).toEqual([
      [0, 0],
      [100, 3],
    ]);
    expect(faultsOverTimeChart([[0, 0]], 48, "clock").series[0].points).toEqual([[0, 0]]);
  });

  it("the TLB curve: both associativities; the hit rates: one bar per level, in order", () => {
    const tc = {
      ways: 4,
      entries: [16, 32, 64],
      reachKiB: [64, 128, 256],
      setAssociative: [0.5, 0.25, 0.125],
      fullyAssociative: [0.4, 0.2, 0.1],
      references: 100,
    };
    const spec = lineSpec(tlbCurveChart(tc)) as Json;
    expect(spec.layer[0].encoding.color.scale.domain).toEqual(["4-way", "fully assoc."]);
    expect(spec.data.values.filter((v: Json) => v.series === "fully assoc.").map((v: Json) => v.y)).toEqual(
      tc.fullyAssociative,
    );
    const bars = hitRatesSpec([
      { name: "L1", hits: 90, misses: 10 },
      { name: "L2", hits: 0, misses: 10 },
    ]) as Json;
    expect(bars.data.values.map((v: Json) => [v.label, v.rate])).toEqual([
      ["L1: 90.00% of 100", 0.9],
      ["L2: 0.00% of 10", 0],
    ]);
  });
});

describe("vega headless: SVG, PNG, HTML", () => {
  const summary = {
    trace: "loop",
    frames: 48,
    policy: "clock",
    levels: [
      { name: "L1", hits: 950, misses: 50 },
      { name: "L2", hits: 20, misses: 30 },
    ],
    mrc: {
      method: "exact",
      sizes: curveSizes(64),
      series: {
        lru: lruCurve(curveSizes(64)).map((p) => p.missRatio),
        fifo: lruCurve(curveSizes(64)).map((p) => Math.min(1, p.missRatio * 1.1)),
      },
    },
    faultsOverTime: [
      [0, 0],
      [1000, 40],
      [2000, 55],
      [4000, 70],
    ],
  } as unknown as TraceSummary;

  it("draws each chart's titles and one line per series, as well-formed XML", async () => {
    const charts: LineChart[] = chartPanels(summary);
    expect(charts.map((c) => c.id)).toEqual(["mrc", "faults"]);
    const svg = await toSvg(stackedSpec([hitRatesSpec(summary.levels), ...charts.map(lineSpec)]));
    expect(svg.startsWith("<svg")).toBe(true);
    for (const t of [
      "TLB hit rate by level (hits / lookups at that level)",
      "Miss ratio against memory size (exact)",
      "Page faults over time (48 frames, clock)",
      "frames (4 KiB pages)",
      "miss ratio",
      "faults so far",
    ])
      expect(svg).toContain(`>${t}</text>`);
    // one path per series: lru and fifo, then faults
    const lines = [...svg.matchAll(/<g class="mark-line role-mark[^>]*>((?:<path[^>]*\/>)*)<\/g>/g)];
    expect(lines.map((m) => m[1].match(/aria-label="[^"]*series: ([^"]*)"/)?.[1])).toEqual([
      "lru",
      "fifo",
      "faults",
    ]);
    // resvg's XML parser (roxmltree) takes it, and refuses what is not XML
    expect(new Resvg(svg).width).toBeGreaterThan(500);
    expect(() => new Resvg(svg.replace("</g>", ""))).toThrow();
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, "trace.png"), toPng(svg));
  });

  it("a PNG of the SVG's size, and an HTML page with the SVG inline and no script", async () => {
    const spec = lineSpec(
      sweepChart([
        {
          name: "lru",
          points: [
            [8, 0.5],
            [16, 0.3],
            [64, 0.1],
          ],
        },
      ]),
    );
    const svg = await toSvg(spec);
    const [, w, h] = /^<svg[^>]* width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
    const png = (await chartFile(spec, ".png", "t")) as Buffer;
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([w, h]);
    const html = toHtml(svg, "vmlab sweep <x>");
    expect(html).toContain("<title>vmlab sweep &lt;x&gt;</title>");
    expect(html).toContain(svg);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });
});
