/** `vmlab run`'s statement lines: 100 columns, the kernel's own log lines kept whole. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runScenario } from "../workloads/scenario/session.ts";
import { formatStatements, OUTPUT_WIDTH } from "./run.ts";

describe("formatStatements", () => {
  const file = "examples/tour/10-arm64-pan.vm"; // its oops prints 138-column lines
  const result = runScenario(readFileSync(file, "utf8"), { file });

  it("keeps vmlab's lines to 100 columns and the kernel's log lines as dmesg prints them", () => {
    const lines = formatStatements(result);
    const log = new Set(result.log);
    expect(
      result.log.some((l) => l.length > OUTPUT_WIDTH - 8),
      "the oops has lines wider than the width",
    ).toBe(true);
    for (const l of lines) if (!log.has(l.trim())) expect(l.length, l).toBeLessThanOrEqual(OUTPUT_WIDTH);
    // every log line appears whole, on one line
    const shown = new Set(lines.map((l) => l.trim()));
    for (const l of result.log.filter((x) => x.startsWith("BUG:") || x.includes("Oops")))
      expect(shown.has(l), l).toBe(true);
  });

  it("puts a result beside its statement only when both fit, and loses no word when it wraps", () => {
    const narrow = formatStatements(result, [], 60);
    const wide = formatStatements(result, [], 10_000);
    expect(narrow.length).toBeGreaterThan(wide.length);
    const words = (ls: string[]) => ls.join(" ").split(/\s+/).filter(Boolean);
    expect(words(narrow)).toEqual(words(wide));
  });
});
