/**
 * The homework's policy variants where they part from policy mode's: OPT's
 * tie among pages never used again (the homework evicts the one loaded last,
 * policy mode the smallest page), UNOPT, and RAND/CLOCK drawing positions in
 * load order from the random source they are given.
 */
import { describe, expect, it } from "vitest";
import { OstepClock, OstepOpt, OstepRandom } from "./ostep.ts";
import { PolicySim, simulate } from "./simulate.ts";

function victims(sim: PolicySim, refs: number[]): (number | null)[] {
  return refs.map((p) => {
    sim.access(p, false);
    return sim.lastVictim;
  });
}

describe("OSTEP's paging-policy variants in PolicySim", () => {
  it("OPT breaks a tie among never-again pages toward the page loaded last", () => {
    // at the reference to 4, pages 3, 1, 2 are all unused in the future
    const refs = [3, 1, 2, 4];
    expect(victims(new PolicySim(new OstepOpt(refs), 3, { refs }), refs)[3]).toBe(2);
    expect(simulate(refs, "opt", 3, { table: true }).accesses![3].victim).toBe(1); // policy mode: the smallest
  });

  it("OPT evicts the page used farthest ahead; UNOPT the nearest", () => {
    const refs = [1, 2, 3, 4, 1, 2, 3];
    expect(victims(new PolicySim(new OstepOpt(refs), 3, { refs }), refs)[3]).toBe(3);
    expect(victims(new PolicySim(new OstepOpt(refs, true), 3, { refs }), refs)[3]).toBe(1);
  });

  it("RAND takes the position its random source names, in load order", () => {
    const draws = [0.99, 0.0];
    const sim = new PolicySim(new OstepRandom(() => draws.shift()!), 3);
    expect(victims(sim, [5, 6, 7, 8, 9])).toEqual([null, null, null, 7, 5]);
  });

  it("CLOCK counts a page's hits up to clockBits and spends one per look", () => {
    // every look lands on position 0: page 5 (count 2 after one hit) survives two looks
    const sim = new PolicySim(new OstepClock(() => 0, 2), 2);
    expect(victims(sim, [5, 6, 5, 7])).toEqual([null, null, null, 5]);
    const looks: number[] = [];
    const sim1 = new PolicySim(
      new OstepClock(() => {
        looks.push(1);
        return 0;
      }, 1),
      2,
    );
    victims(sim1, [5, 6, 5, 5, 7]);
    expect(looks.length).toBe(2); // clamped to 1: one look spends it, the next evicts
  });
});
