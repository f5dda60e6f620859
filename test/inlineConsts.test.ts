/**
 * bin/inlineConsts.cjs, the bundles' constant inliner: every value it would put in the bundle is the
 * value the source's module has (each exported constant and enum member against the module itself, run
 * as the tests run it), and a source it rewrites keeps its lines.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a CommonJS file without types
import { constsOf, enumsOf, evaluate } from "../bin/inlineConsts.cjs";

interface Entry {
  values: Map<string, number>;
  enums: Map<string, Map<string, number>>;
  source: string | undefined;
  consts: string;
  partial: boolean;
}
const constsOfTyped = constsOf as (
  path: string,
  root: string,
  cache: Map<string, Entry>,
  stack: string[],
) => Entry;
const enumsOfTyped = enumsOf as (
  text: string,
  scope: Map<string, unknown>,
) => Map<string, Map<string, number>>;
const evaluateTyped = evaluate as (expr: string, known: Map<string, unknown>) => number | undefined;

const ROOT = resolve(import.meta.dirname, "..");

/** The sources the bundles are made from (tests and test kits aside; the browser's view too: it needs a DOM). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (p !== join(ROOT, "src", "web")) out.push(...sources(p));
    } else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") && !e.name.endsWith(".d.ts"))
      out.push(p);
  }
  return out;
}

describe("bin/inlineConsts.cjs", () => {
  it("evaluates literals and arithmetic as JavaScript does, and nothing else", () => {
    const known = new Map<string, unknown>([
      ["A", 3],
      ["E", new Map([["X", 8]])],
    ]);
    expect(evaluateTyped("4096", known)).toBe(4096);
    expect(evaluateTyped("2 ** 32", known)).toBe(4294967296);
    expect(evaluateTyped("0x7fff_ffff", known)).toBe(0x7fffffff);
    expect(evaluateTyped("0o2000", known)).toBe(1024);
    expect(evaluateTyped("1 << 31", known)).toBe(-2147483648);
    expect(evaluateTyped("(1 << 31) >>> 0", known)).toBe(2147483648);
    expect(evaluateTyped("A * (1 + 2) - E.X", known)).toBe(1);
    expect(evaluateTyped("-1", known)).toBe(-1);
    expect(evaluateTyped("64n", known)).toBeUndefined(); // a bigint is left alone
    expect(evaluateTyped("B + 1", known)).toBeUndefined(); // an unknown name
    expect(evaluateTyped("E.Y", known)).toBeUndefined();
    expect(evaluateTyped("Math.PI", known)).toBeUndefined();
    expect(evaluateTyped("1 / 0", known)).toBeUndefined();
    expect(evaluateTyped('"a".length', known)).toBeUndefined();
  });

  it("reads enums as TypeScript numbers them, and leaves out one it cannot", () => {
    const text = [
      "export const enum E {",
      "  A,",
      "  /** four, as in (a, b) */",
      "  B = 4,",
      "  C, // after B",
      "  D = B | C | K,",
      "}",
      "enum S {",
      '  X = "x",',
      "}",
      "export enum F {",
      "  G = E.D << 1,",
      "}",
      "",
    ].join("\n");
    const enums = enumsOfTyped(text, new Map([["K", 64]]));
    expect([...enums.keys()]).toEqual(["E", "F"]);
    expect([...(enums.get("E") ?? [])]).toEqual([
      ["A", 0],
      ["B", 4],
      ["C", 5],
      ["D", 69],
    ]);
    expect(enums.get("F")?.get("G")).toBe(138);
  });

  it("gives every exported constant and enum member the value its module has, and keeps each file's lines", async () => {
    const cache = new Map<string, Entry>();
    let checked = 0;
    let moved = 0;
    for (const file of sources(join(ROOT, "src"))) {
      const e = constsOfTyped(file, ROOT, cache, []);
      expect(e.partial).toBe(false); // (no import cycles: scripts/check-layers.mjs)
      const text = readFileSync(file, "utf8");
      if (e.source !== undefined) {
        expect(e.source.split("\n").length).toBe(text.split("\n").length);
        moved += e.values.size;
      }
      const exported = [...e.values.keys()].filter((n) =>
        new RegExp(`^export const ${n}\\b`, "m").test(text),
      );
      if (exported.length === 0 && e.enums.size === 0) continue;
      const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      for (const n of exported) {
        expect([file, n, mod[n]]).toEqual([file, n, e.values.get(n)]);
        checked++;
      }
      for (const [name, members] of e.enums) {
        const runtime = mod[name] as Record<string, number> | undefined;
        if (runtime === undefined) continue; // (an enum the module does not export)
        for (const [m, v] of members) {
          expect([file, name, m, runtime[m]]).toEqual([file, name, m, v]);
          checked++;
        }
      }
    }
    expect(moved).toBeGreaterThan(300);
    expect(checked).toBeGreaterThan(500);
  }, 300_000);
});
