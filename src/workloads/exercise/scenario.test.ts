import { describe, expect, it } from "vitest";
import { runScenario } from "../scenario/session.ts";
import { generateScenarioExercise, scenarioProblem, solveScenario } from "./scenario.ts";

/** The problem with each `# Qn:` line turned into `expect EXPR == ANSWER` (the same line, so lines keep their numbers). */
function withExpects(problem: string[], exprs: string[], values: string[]): string {
  return `${problem
    .map((l) => {
      const m = /^# Q(\d+):/.exec(l);
      return m ? `expect ${exprs[Number(m[1]) - 1]} == ${values[Number(m[1]) - 1]}` : l;
    })
    .join("\n")}\n`;
}

describe("exercise scenario", () => {
  it("gives the same scenario for the same seed, another for another", () => {
    const text = (seed: number) => scenarioProblem(generateScenarioExercise({ seed, arch: null })).join("\n");
    expect(text(4)).toBe(text(4));
    expect(text(5)).not.toBe(text(4));
  });

  it("--solve's answers hold where the questions are asked, on a run of the problem text itself", () => {
    for (const [seed, arch] of [
      [1, null],
      [2, "arm64"],
      [6, "riscv-sv39"],
    ] as const) {
      const ex = generateScenarioExercise({ seed, arch });
      const { values } = solveScenario(ex);
      const exprs = ex.lines.flatMap((l) => l.questions.map((q) => q.expr));
      expect(values).toHaveLength(exprs.length);
      for (const v of values) expect(v).toMatch(/^-?\d+$/);
      const r = runScenario(withExpects(scenarioProblem(ex), exprs, values), { file: "exercise.vm" });
      expect(r.expectations).toHaveLength(exprs.length);
      expect(r.failed, JSON.stringify(r.expectations.filter((e) => !e.ok))).toBe(0);
      // and an answer off by one fails there: the expectations test something
      const wrong = values.map((v, i) => (i === values.length - 1 ? String(Number(v) + 1) : v));
      expect(runScenario(withExpects(scenarioProblem(ex), exprs, wrong)).failed).toBe(1);
    }
  });

  it("asks about minor faults of both processes", () => {
    const ex = generateScenarioExercise({ seed: 9, arch: null });
    const problem = scenarioProblem(ex).join("\n");
    expect(problem).toContain("A: fork B");
    expect(problem).toMatch(/# Q\d+: How many minor faults has B taken/);
    expect(ex.lines.flatMap((l) => l.questions.map((q) => q.expr))).toContain("B.min_flt");
  });

  it("refuses an arch the machine statement does not know", () => {
    expect(() => generateScenarioExercise({ seed: 1, arch: "vax" })).toThrow(/--arch 'vax'.*expected one of/);
  });
});
