/**
 * `P: oom_score_adj N`, `show P oom_score_adj` and P.oom_score_adj: the
 * write's range checked at the number's position (a literal at compile time,
 * a variable's value when it runs), EACCES printed, fork's copy.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../session.ts";
import { expectationFailures, scenarioError } from "../testKit.ts";

describe("P: oom_score_adj N", () => {
  it("sets it, shows it, lowers oom_score, is copied by fork; an unprivileged lowering is EACCES", () => {
    const src = [
      "machine ram=64M cpus=1",
      "spawn A",
      "A: a = mmap 4M",
      "A: write a 4M",
      "let before = A.oom_score",
      "A: oom_score_adj -500",
      "show A oom_score_adj",
      "A: fork B",
      "B: setuid 1000",
      "B: oom_score_adj -600",
      "expect A.oom_score_adj == 0 - 500",
      "expect B.oom_score_adj == A.oom_score_adj",
      "expect A.oom_score < before",
      "",
    ].join("\n");
    expect(expectationFailures(src)).toEqual([]);
    const r = runScenario(src);
    expect(r.statements[5].output).toEqual(["0: oom_score_adj -500"]);
    expect(r.statements[6].output).toEqual(["-500"]);
    expect(r.statements[9].output).toEqual(["-13 EACCES: oom_score_adj -500"]);
  });

  it("a value outside -1000..1000 is an error at its position, a literal's before anything runs", () => {
    expect(scenarioError("machine ram=64M\nspawn A\nA: oom_score_adj 1001\n")).toBe(
      "s.vm:3:18: oom_score_adj 1001 is outside -1000..1000 (the write would fail with EINVAL)",
    );
    expect(scenarioError("machine ram=64M\nspawn A\nlet v = 2000\nA: oom_score_adj v - 999\n")).toBe(
      "s.vm:4:18: oom_score_adj 1001 is outside -1000..1000 (the write would fail with EINVAL)",
    );
    expect(scenarioError("machine ram=64M\nspawn A\nA: oom_score_adj\n")).toMatch(
      /^s\.vm:3:\d+: oom_score_adj N/,
    );
  });
});
