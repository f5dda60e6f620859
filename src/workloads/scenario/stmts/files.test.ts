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
    // refused before any page is filled: filling 8G page by page would take minutes (a bound, not a
    // speed target: a 64G machine's boot alone takes seconds on a loaded machine)
    expect(performance.now() - t0).toBeLessThan(60000);
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

describe("a memfd named after its last reference went (memfdRelease)", () => {
  const freed = "machine ram=64M\nspawn A\nA: memfd buf\nA: ftruncate buf 8K\nA: close buf\n";
  it("is an error at FILE:LINE:COL in a statement", () => {
    for (const [stmt, col] of [
      ["A: r = ftruncate buf 4K", 1],
      ["A: m = mmap 8K shared file=buf", 1],
      ["A: fallocate buf 0 4K", 1],
      ["A: seal buf grow", 1],
    ] as const)
      expect(scenarioError(`${freed}${stmt}\n`)).toBe(
        `s.vm:6:${col}: file buf: its last reference went, the memfd is freed`,
      );
  });

  it("is an error at its name in cached() and file_byte()", () => {
    expect(scenarioError(`${freed}let n = cached(buf)\n`)).toBe(
      "s.vm:6:16: cached: file buf: its last reference went, the memfd is freed",
    );
    expect(scenarioError(`${freed}expect file_byte(buf, 0) == 0\n`)).toBe(
      "s.vm:6:18: file_byte: file buf: its last reference went, the memfd is freed",
    );
  });

  it("is no error while a mapping still holds it", () => {
    expect(
      scenarioError(
        "machine ram=64M\nspawn A\nA: memfd buf\nA: ftruncate buf 8K\nA: m = mmap 8K shared file=buf\nA: close buf\nlet n = cached(buf)\nA: r = ftruncate buf 4K\n",
      ),
    ).toBe("no error");
  });
});
