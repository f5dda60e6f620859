/**
 * The Mersenne Twister against CPython 3.11's own numbers (values printed by
 * `random.seed(s); random.getrandbits(32)` / `random.random()`): the seeding
 * of small, negative and multi-word seeds, the 32-bit words, the 53-bit
 * floats, and a stream past the first 624-word refill.
 */
import { describe, expect, it } from "vitest";
import { PyRandom } from "./pyRandom.ts";

describe("PyRandom: CPython's random module", () => {
  it("gives CPython's first floats for small seeds, and drops the sign", () => {
    const r0 = new PyRandom(0);
    expect([r0.random(), r0.random(), r0.random()]).toEqual([
      0.8444218515250481, 0.7579544029403025, 0.420571580830845,
    ]);
    const r1 = new PyRandom(1);
    expect(r1.random()).toBe(0.13436424411240122);
    // the sign is dropped: -7 seeds as 7
    expect(new PyRandom(-7).random()).toBe(0.32383276483316237);
    expect(new PyRandom(7).random()).toBe(0.32383276483316237);
  });

  it("splits a big seed into 32-bit words, least significant first", () => {
    const r = new PyRandom(2n ** 64n + 3n);
    expect([r.nextU32(), r.nextU32()]).toEqual([3921169615, 2134766284]);
    expect(r.random()).toBe(0.9226991467077957);
    expect(new PyRandom(2n ** 32n + 5n).random()).toBe(0.15727238718789782);
    expect(new PyRandom(12345678901234567890123n).random()).toBe(0.15803717805068784);
  });

  it("stays on CPython's stream across refills of the state", () => {
    const r = new PyRandom(0);
    let x = 0;
    for (let i = 0; i < 1000; i++) x = r.random();
    expect(x).toBe(0.4804125346981437);
  });
});
