import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { grouped } from "./grouped.ts";

describe("grouped", () => {
  it("writes what toLocaleString('en-US') writes, for any number", () => {
    const n = fc.oneof(
      fc.integer(),
      fc.maxSafeInteger(),
      fc.integer({ min: -1000, max: 1000 }),
      fc.constantFrom(0, -0, 999, 1000, 999_999, 1_000_000, -1000, 2 ** 53 - 1, 2 ** 53, 2 ** 64, 0.5, NaN),
      fc.double(),
    );
    fc.assert(
      fc.property(n, (x) => {
        expect(grouped(x)).toBe(x.toLocaleString("en-US"));
      }),
      { numRuns: 2000 },
    );
  });
});
