import { describe, expect, it } from "vitest";
import { exercisePolicies, generatePolicyExercise, policyProblem, solvePolicy } from "./policy.ts";

const opts = (seed: number) => ({
  seed,
  count: 15,
  pages: 7,
  frames: null,
  policies: ["fifo", "lru", "opt", "clock"],
});

describe("exercise policy", () => {
  it("gives the same problem for the same seed, another for another", () => {
    const text = (seed: number) => {
      const ex = generatePolicyExercise(opts(seed));
      return [...policyProblem(ex), ...solvePolicy(ex).answers].join("\n");
    };
    expect(text(1)).toBe(text(1));
    expect(text(2)).not.toBe(text(1));
  });

  it("asks for evictions: the string needs more frames than it has, pages stay in range", () => {
    for (let seed = 0; seed < 20; seed++) {
      const ex = generatePolicyExercise(opts(seed));
      expect(ex.frames === 3 || ex.frames === 4).toBe(true);
      expect(new Set(ex.refs).size).toBeGreaterThan(ex.frames);
      for (const p of ex.refs) expect(p >= 0 && p < 7).toBe(true);
      for (let t = 1; t < ex.refs.length; t++) expect(ex.refs[t]).not.toBe(ex.refs[t - 1]);
    }
  });

  it("answers are consistent: OPT never misses more, a miss's victim was resident, hits + misses = references", () => {
    for (let seed = 0; seed < 20; seed++) {
      const ex = generatePolicyExercise(opts(seed));
      const { results } = solvePolicy(ex);
      const opt = results.find((r) => r.policy === "opt")!;
      for (const r of results) {
        expect(opt.misses).toBeLessThanOrEqual(r.misses);
        expect(r.hits + r.misses).toBe(ex.refs.length);
        r.accesses!.forEach((a, t) => {
          expect(a.page).toBe(ex.refs[t]);
          if (a.victim !== null) expect(t > 0 && r.accesses![t - 1].frames.includes(a.victim)).toBe(true);
        });
      }
    }
  });

  it("takes policy mode's names, and refuses others", () => {
    expect(exercisePolicies("lru,opt")).toEqual(["lru", "opt"]);
    expect(exercisePolicies("all")).toContain("s3-fifo");
    expect(() => exercisePolicies("lru,bogus")).toThrow(/'bogus' is not a policy/);
  });
});
