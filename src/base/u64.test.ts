import { describe, expect, it } from "vitest";
import { fromBig, toBig } from "./u64.ts";

/** The halves by bigint arithmetic alone (fromBig's path for values outside [0, 2^53)). */
function reference(v: bigint): { hi: number; lo: number } {
  const u = BigInt.asUintN(64, v);
  return { hi: Number(u >> 32n), lo: Number(u & 0xffffffffn) };
}

describe("fromBig", () => {
  it("splits like bigint arithmetic on both sides of 2^53, 2^64 and 0", () => {
    let seed = 12345;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return BigInt(seed);
    };
    const edges = [
      0n,
      1n,
      -1n,
      2n ** 32n - 1n,
      2n ** 32n,
      2n ** 53n - 1n,
      2n ** 53n,
      2n ** 53n + 1n,
      2n ** 64n - 1n,
      2n ** 64n,
      -(2n ** 53n),
    ];
    const values = [...edges];
    for (let i = 0; i < 5000; i++) {
      const v = (rnd() << 32n) | rnd();
      values.push(v >> (rnd() % 64n), -(v >> (rnd() % 64n)), v << (rnd() % 8n));
    }
    for (const v of values) {
      const got = fromBig(v);
      expect(got, `0x${v.toString(16)}`).toEqual(reference(v));
      expect(toBig(got.hi, got.lo)).toBe(BigInt.asUintN(64, v));
    }
  });
});
