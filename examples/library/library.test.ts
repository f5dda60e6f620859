import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { FastSim } from "../../src/analysis/policy/fast.ts";
import { readTrace } from "../../src/workloads/trace/formats.ts";
import { openTrace } from "../../src/workloads/trace/input.ts";
import { cowDemo } from "./cow.ts";
import { replayAtSizes } from "./replay.ts";

describe("the library example", () => {
  it("shows copy-on-write through the API", () => {
    const r = cowDemo();
    expect(r.childFrameBefore).toBe(r.parentFrame);
    expect(r.childFrameAfter).not.toBe(r.parentFrame);
    expect(r.childFaults).toBe(1);
    expect(r.problems).toEqual([]);
  });

  it("replays a trace through machine mode at several sizes: LRU's faults equal policy mode's misses at each", async () => {
    const file = "examples/traces/hotcold.u64.gz";
    const sizes = [4, 8, 16, 32, 64];
    const rows = await replayAtSizes(file, sizes);
    const pages: number[] = [];
    await readTrace(openTrace(file), "bin", (w, n) => {
      for (let i = 0; i < n; i++) pages.push(w[2 * i + 1] * 262144 + (w[2 * i] >>> 14));
    });
    rows.forEach((row, i) => {
      const lru = new FastSim("lru", sizes[i]);
      for (const p of pages) lru.access(p);
      expect(row.faults, `${sizes[i]} frames`).toBe(lru.result().misses);
      expect(row.accesses).toBe(pages.length);
      // LRU is a stack algorithm: more frames never fault more
      if (i > 0) expect(row.faults).toBeLessThanOrEqual(rows[i - 1].faults);
    });
    expect(rows[0].faults).toBeGreaterThan(rows[rows.length - 1].faults);
  });
});

const ROOT = resolve(import.meta.dirname, "..", "..");

/** Runs an example as the README says to: node --import tsx FILE; its output lines. */
function runExample(name: string): string[] {
  const r = spawnSync(process.execPath, ["--import", "tsx", join("examples/library", name)], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout.trimEnd().split("\n");
}

/**
 * The README's snippet marked `<!-- examples/library/NAME -->`: the code
 * block after the marker.
 */
function readmeSnippet(name: string): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const marker = `<!-- examples/library/${name} -->\n\`\`\`ts\n`;
  const start = readme.indexOf(marker);
  expect(start, `README.md has no snippet marked ${marker.split("\n")[0]}`).toBeGreaterThanOrEqual(0);
  const body = readme.slice(start + marker.length);
  return body.slice(0, body.indexOf("```\n"));
}

/** An example's code as the README shows it: without its header comment, paths from the repository's root. */
function exampleAsInReadme(name: string): string {
  const text = readFileSync(join(ROOT, "examples/library", name), "utf8");
  return text.slice(text.indexOf("*/\n") + 3).replaceAll('"../../src/', '"./src/');
}

describe("the README's library snippets", () => {
  for (const name of ["translate.ts", "kernel.ts"])
    it(`shows examples/library/${name} as it is`, () => {
      expect(readmeSnippet(name)).toBe(exampleAsInReadme(name));
    });

  it("translate.ts: a mapped page translates, a second access hits the TLB, an unmapped one faults", () => {
    expect(runExample("translate.ts")).toEqual(["1234abc", "2 1", "14"]);
  });

  it("kernel.ts: a store and a load through the fault path, a four-level walk, no broken invariant", () => {
    const lines = runExample("kernel.ts");
    expect(lines[0]).toBe("1 42");
    expect(lines.slice(1, -1).map((l) => l.split(" ")[0])).toEqual(["PML4", "PDPT", "PD", "PT"]);
    expect(lines[4]).toMatch(/^PT \d+ P RW US A D/);
    expect(lines.at(-1)).toBe("[]");
  });
});
