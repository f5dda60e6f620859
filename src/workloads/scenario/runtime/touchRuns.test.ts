import { describe, expect, it } from "vitest";
import { Rng } from "../../../base/rng.ts";
import { touchPoints, touchRuns } from "./context.ts";

/** The addresses of the runs, in order. */
function expand(r: NonNullable<ReturnType<typeof touchRuns>>): bigint[] {
  return r.runs.flatMap((run) =>
    Array.from({ length: run.count }, (_, i) => run.first + BigInt(i * run.stride)),
  );
}

describe("touchRuns", () => {
  it("gives touchPoints' addresses, ascending or reversed, as runs", () => {
    const rng = new Rng(5);
    let tried = 0;
    for (let i = 0; i < 1000; i++) {
      // page-aligned or not, near 0, in the middle, at the top of the 64-bit space
      const base = rng.pick([0n, 0x7fff_f000_0000n, 0xffff_ffff_ffff_0000n]);
      const start = base + BigInt(rng.below(3) === 0 ? rng.below(16) * 4096 : rng.below(40000));
      const stride = BigInt(rng.pick([4096, 4096, 1, 7, 100, 4095, 4097, 8192, 65536]));
      let len = BigInt(1 + rng.below(Number(stride) * (rng.below(2) === 0 ? 3 : 200))); // up to 200 addresses
      if (start + len > 1n << 64n) len = (1n << 64n) - start;
      const desc = rng.below(2) === 0;
      const r = touchRuns(start, len, stride, desc);
      expect(r).not.toBeNull();
      const points = touchPoints(start, len, stride);
      if (desc) points.reverse();
      expect(r!.total).toBe(points.length);
      expect(expand(r!)).toEqual(points);
      expect(r!.runs.length).toBeLessThanOrEqual(2);
      tried++;
    }
    expect(tried).toBe(1000);
  });

  it("leaves a negative stride to touchPoints' list", () => {
    expect(touchRuns(0x1000n, 0x3000n, -4096n, false)).toBeNull();
  });
});
