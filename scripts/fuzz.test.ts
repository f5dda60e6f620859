import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { classify, type FuzzTarget, formatSummary, fuzz, TARGETS } from "./fuzz.ts";

const out = () => mkdtempSync(join(tmpdir(), "vmlab-fuzz-test-"));
const opts = { seconds: 60, timeoutMs: 20_000, jobs: 1, maxMb: 2048 };

/** A target whose every try runs `code` in node, whatever the input. */
function fake(code: string): FuzzTarget {
  return {
    name: "fake",
    ext: ".txt",
    corpus: () => [join(import.meta.dirname, "fuzz.ts")],
    mutate: (t) => t.slice(0, 100),
    command: () => ["-e", code],
  };
}

describe("fuzz harness", () => {
  it("classifies how a process ended", () => {
    const end = { code: 0, signal: null, timedOut: false, stderr: "" };
    expect(classify(end)).toBe("accepted");
    expect(classify({ ...end, code: 1 })).toBe("accepted");
    expect(classify({ ...end, code: 2, stderr: "vmlab: f.vm:3:4: unknown statement 'x'\n" })).toBe("error");
    expect(classify({ ...end, code: 2, stderr: "" })).toBe("crash");
    expect(classify({ ...end, code: 3, stderr: "vmlab: internal error" })).toBe("crash");
    expect(classify({ ...end, code: 2, stderr: "RangeError: x\n    at f (/a/b.ts:1:2)\n" })).toBe("crash");
    expect(classify({ ...end, code: 1, stderr: "TypeError: y\n    at /a/b.ts:1:2\n" })).toBe("crash");
    expect(classify({ ...end, code: null, signal: "SIGSEGV" })).toBe("crash");
    expect(classify({ ...end, code: null, timedOut: true })).toBe("hang");
  });

  it("finds a crash and a hang, saves them, and reports the memory peak", async () => {
    const dir = out();
    const crash = await fuzz(fake("throw new RangeError('boom')"), { ...opts, seeds: [1, 2], out: dir });
    expect(crash.counts).toMatchObject({ crash: 2, accepted: 0, error: 0, hang: 0 });
    expect(crash.peakKb).toBeGreaterThan(1000);
    expect(crash.offenders.map((o) => o.outcome)).toEqual(["crash", "crash"]);
    expect(readFileSync(`${crash.offenders[0].file}.txt`, "utf8")).toMatch(
      /seed 1: crash[\s\S]*RangeError: boom/,
    );
    const hang = await fuzz(fake("setInterval(() => {}, 1000)"), {
      ...opts,
      seeds: [7, 7],
      timeoutMs: 1500,
      out: dir,
    });
    expect(hang.counts.hang).toBe(1);
    expect(hang.hangsRetried).toBe(1);
    // a try stalled once (a busy machine) and quick the second time is not a hang
    const mark = join(dir, "stalled-once");
    const slow = await fuzz(
      fake(
        `const fs = require("node:fs"); if (!fs.existsSync(${JSON.stringify(mark)})) { fs.writeFileSync(${JSON.stringify(mark)}, ""); setTimeout(() => {}, 60000); }`,
      ),
      { ...opts, seeds: [8, 8], timeoutMs: 1500, out: dir },
    );
    expect(slow.counts).toMatchObject({ hang: 0, accepted: 1 });
    expect(slow.hangsRetried).toBe(1);
    expect(existsSync(join(dir, "fake-7-hang.txt"))).toBe(true);
    expect(formatSummary(hang)).toMatch(
      /seeds 7\.\.7 \(1 tries\)\n {2}accepted 0, good errors 0, crashes 0, hangs 1/,
    );
  });

  it("ops: bad parameters are an error naming the key, not a crash", async () => {
    const bad = { ...TARGETS.ops, mutate: () => '{"seed": -1, "steps": 10}' };
    const s = await fuzz(bad, { ...opts, seeds: [1, 1], out: out() });
    expect(s.counts.error).toBe(1);
    expect(s.tries[0].stderr).toMatch(/"seed" must be an integer 0\.\.2147483647/);
  });

  // image seed 54 nests arrays thousands deep: a stack overflow in the JSON reader before issue #19's fix
  // (the seeds name these inputs as long as the mutations and the corpus stay as they are)
  for (const [name, seeds] of [
    ["scenario", [1, 3]],
    ["image", [52, 54]],
    ["trace", [1, 3]],
    ["ops", [1, 1]],
  ] as const) {
    it(`finds no crash in the ${name} target for seeds ${seeds[0]}..${seeds[1]}`, async () => {
      const s = await fuzz(TARGETS[name], { ...opts, seeds: [...seeds], out: out() });
      expect(s.ran).toBe(seeds[1] - seeds[0] + 1);
      expect(
        s.tries.filter((t) => t.outcome === "crash").map((t) => `${t.seed}: ${t.stderr.slice(0, 300)}`),
      ).toEqual([]);
    });
  }
});
