import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OptString } from "./opt.ts";
import { simulate } from "./simulate.ts";

function run(refs: number[], frames: number) {
  const s = new OptString();
  for (const p of refs) s.add(p);
  return s.run(frames);
}

describe("OptString (OPT for traces, 4 bytes a reference)", () => {
  it("gives PolicySim's opt figures on the classic string", () => {
    const refs = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
    expect(run(refs, 3)).toEqual({ ...simulate(refs, "opt", 3), accesses: undefined });
    expect(run(refs, 3).misses).toBe(9);
  });

  it("equals PolicySim's opt on random, cyclic and skewed strings", () => {
    const strings = fc.oneof(
      fc.array(fc.nat(30), { minLength: 1, maxLength: 400 }),
      fc
        .tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 400 }))
        .map(([k, n]) => Array.from({ length: n }, (_, i) => i % k)),
      fc.array(fc.oneof(fc.nat(3), fc.nat(3), fc.nat(3), fc.integer({ min: 2 ** 34, max: 2 ** 34 + 50 })), {
        minLength: 1,
        maxLength: 400,
      }),
    );
    fc.assert(
      fc.property(strings, fc.integer({ min: 1, max: 40 }), (refs, frames) => {
        const want = simulate(refs, "opt", frames);
        const got = run(refs, frames);
        expect(got).toEqual({ ...want, accesses: undefined });
      }),
      { numRuns: 400, seed: 19 },
    );
  });

  it("crosses chunk boundaries (4 Mi references a chunk)", () => {
    const n = (1 << 22) + 1000;
    const refs = new Float64Array(n);
    for (let i = 0; i < n; i++) refs[i] = (i * 7919) % 13 === 0 ? 100 + (i % 11) : i % 9;
    const s = new OptString();
    for (const p of refs) s.add(p);
    expect(s.run(8)).toEqual({ ...simulate(refs, "opt", 8), accesses: undefined });
  });
});
