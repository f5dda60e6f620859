/** The progress line of vmlab trace: only on a terminal, throttled, with the ETA when the size is known. */
import { describe, expect, it } from "vitest";
import { vmlab } from "../testkit.ts";
import { Progress } from "./index.ts";

describe("the progress line", () => {
  it("is drawn on a terminal only, at most every 200 ms, with percent and ETA, and erased at the end", () => {
    expect(Progress.forTerminal(true, false, 100)).toBeNull();
    expect(Progress.forTerminal(true, undefined, 100)).toBeNull();
    expect(Progress.forTerminal(false, true, 100)).toBeNull();
    const out: string[] = [];
    const p = Progress.forTerminal(true, true, 1000, (s) => out.push(s))!;
    p.update(100, 1_000_000, 100); // too early: nothing
    p.update(250, 5_000_000, 500);
    p.update(300, 6_000_000, 600); // within 200 ms of the last line: nothing
    p.update(500, 10_000_000, 1000);
    p.done();
    expect(out).toEqual([
      "\r5,000,000 records, 10.0 M/s, 25%, ETA 2 s   ",
      "\r10,000,000 records, 10.0 M/s, 50%, ETA 1 s   ",
      "\r\x1b[K",
    ]);
  });

  it("stays out of a piped run's output", () => {
    const r = vmlab(["trace", "-", "--format", "refs", "--mode", "policy"], "1,2,3,1,2,3\n");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
  });
});
