import { describe, expect, it } from "vitest";
import { runScenario } from "../session.ts";

/** Runs a scenario and returns its expectations' results, each within a time limit. */
function run(source: string) {
  const t0 = performance.now();
  const r = runScenario(source, { file: "s.vm" });
  return { r, ms: performance.now() - t0 };
}

describe("range metrics over huge ranges", () => {
  it("count terabyte ranges from the populated tables only, quickly, and the same as page by page", () => {
    const { r, ms } = run(
      [
        "machine ram=64M swap=4M",
        "spawn A",
        "A: m = mmap 4M",
        "A: write m 64K",
        "A: read m+1M 8K",
        "A: madvise m 8K pageout",
        "A: mlock m+16K 16K",
        "A: madvise m+60K 4K free",
        // every range metric over 16 TiB from the region's start, and from 0
        ...["rss", "present", "anon", "dirty", "locked", "swapped", "guard", "anon_huge", "lazyfree"].flatMap(
          (fn) => [
            `let big_${fn} = ${fn}(A, m 16T)`,
            `let all_${fn} = ${fn}(A, 0 128T)`,
            `expect big_${fn} == ${fn}(A, m 4M)`,
            `expect all_${fn} == ${fn}(A, m 4M)`,
          ],
        ),
        "expect rss(A, m 16T) == 14",
        "expect present(A, m 16T) == 16",
        "expect swapped(A, m 16T) == 2",
        "expect locked(A, m 16T) == 4",
        "expect present(kernel, 0xffff888000000000 16T) == present(kernel, 0xffff888000000000 64M)",
        "expect present(kernel, 0xffff888000000000 64M) == 16384",
      ].join("\n"),
    );
    const failed = r.expectations.filter((e) => !e.ok).map((e) => `${e.line}: ${e.text}: got ${e.actual}`);
    expect(failed).toEqual([]);
    expect(ms).toBeLessThan(10_000);
  });
});

describe("expect shows numbers in the base the expected value was written in (issue #18)", () => {
  it("hex when the right-hand side is 0x..., decimal otherwise", () => {
    const { r } = run(
      [
        "machine ram=64M",
        "spawn A",
        "A: a = mmap 4p",
        "A: write a value=0x5a",
        "expect byte(A, a) == 0x5a",
        "expect byte(A, a) == 90",
        "expect byte(A, a) == 0x10",
      ].join("\n"),
    );
    expect(r.expectations.map((e) => [e.actual, e.expected])).toEqual([
      ["0x5a", "== 0x5a"],
      ["90", "== 90"],
      ["0x5a", "== 0x10"],
    ]);
  });
});
