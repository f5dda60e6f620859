/** Synthetic traces: the patterns' shapes, repeatable with a seed, and bad parameters refused. */
import { describe, expect, it } from "vitest";
import { InputError } from "../../base/errors.ts";
import { type GenerateOptions, generateTrace } from "./generate.ts";

function pages(o: GenerateOptions): { pages: number[]; stores: number } {
  const out: number[] = [];
  let stores = 0;
  generateTrace(o, (w, n) => {
    for (let i = 0; i < n; i++) {
      const rec = w[2 * i + 1] * 4294967296 + w[2 * i];
      out.push(Math.floor(rec / 4 / 4096) - 0x10000);
      if (rec % 4 === 2) stores++;
    }
  });
  return { pages: out, stores };
}

describe("trace generators", () => {
  it("scan cyclically, across batches", () => {
    const r = pages({ pattern: "seq", pages: 7, refs: 70_000 });
    expect(r.pages).toHaveLength(70_000);
    expect(r.pages.slice(0, 9)).toEqual([0, 1, 2, 3, 4, 5, 6, 0, 1]);
    expect(r.pages[69_999]).toBe(69_999 % 7);
  });

  it("skew zipf toward the first pages and hotcold toward its hot fifth; uniform stays flat", () => {
    const count = (ps: number[], n: number) => {
      const c = new Array(n).fill(0);
      for (const p of ps) c[p]++;
      return c;
    };
    const z = count(pages({ pattern: "zipf", pages: 100, refs: 200_000, seed: 3 }).pages, 100);
    expect(z[0]).toBeGreaterThan(z[1]);
    expect(z[1]).toBeGreaterThan(z[9]);
    expect(z[0] / 200_000).toBeCloseTo(1 / 5.187, 1); // 1/H(100)
    const h = pages({ pattern: "hotcold", pages: 100, refs: 100_000, seed: 4 }).pages;
    const hot = h.filter((p) => p < 20).length / h.length;
    expect(hot).toBeGreaterThan(0.78);
    expect(hot).toBeLessThan(0.82);
    const u = count(pages({ pattern: "random", pages: 10, refs: 100_000, seed: 5 }).pages, 10);
    for (const c of u) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it("repeat with the same seed, differ with another, and honour the store fraction", () => {
    const a = pages({ pattern: "random", pages: 50, refs: 5000, seed: 9, writeRatio: 0.25 });
    const b = pages({ pattern: "random", pages: 50, refs: 5000, seed: 9, writeRatio: 0.25 });
    const c = pages({ pattern: "random", pages: 50, refs: 5000, seed: 10, writeRatio: 0.25 });
    expect(a).toEqual(b);
    expect(a.pages).not.toEqual(c.pages);
    expect(a.stores / 5000).toBeGreaterThan(0.22);
    expect(a.stores / 5000).toBeLessThan(0.28);
  });

  it("refuses impossible parameters", () => {
    for (const o of [
      { pattern: "spiral", pages: 10, refs: 10 },
      { pattern: "seq", pages: 0, refs: 10 },
      { pattern: "seq", pages: 10, refs: -1 },
      { pattern: "seq", pages: 10, refs: 10, writeRatio: 2 },
      { pattern: "zipf", pages: 10, refs: 10, zipfS: 0 },
    ] as GenerateOptions[])
      expect(() => generateTrace(o, () => {}), JSON.stringify(o)).toThrow(InputError);
  });
});
