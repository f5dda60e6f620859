import { describe, expect, it } from "vitest";
import { runScenario } from "../session.ts";
import { scenarioError } from "../testKit.ts";

describe("file NAME size=...", () => {
  it("refuses a cached or tmpfs file larger than RAM at its line, at once", () => {
    const t0 = performance.now();
    expect(scenarioError("machine ram=64M\nfile big size=1T cached\n")).toMatch(
      /^s\.vm:2:15: size=1T: a cached file is read into RAM whole, and this machine has 64 MiB/,
    );
    expect(scenarioError("machine ram=64M\nfile big size=65M fs=tmpfs\n")).toMatch(
      /^s\.vm:2:15: size=65M: a tmpfs file lives in RAM whole, and this machine has 64 MiB/,
    );
    expect(scenarioError("machine ram=64G\nfile big size=8G cached\n")).toMatch(
      /^s\.vm:2:15: a cached file fills a page per 4K at once; vmlab caps one statement at 1,000,000 pages/,
    );
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it("still takes a 1T disk file read on demand, and a cached file that fits", () => {
    const r = runScenario(
      "machine ram=64M\nfile big size=1T\nfile small size=1M cached\nexpect cached(small) == 256\n",
    );
    expect(r.statements[1].output[0]).toMatch(
      /disk file big: 1099511627776 bytes, 268435456 pages, none cached/,
    );
    expect(r.failed).toBe(0);
  });
});
