/**
 * The reading job bin/vmlab.cjs starts before the CLI is loaded
 * (src/workloads/trace/speculate.ts): a run that takes it up, one that
 * stops it for another read, and bad files and options give what the same
 * run gives without it (VMLAB_SPECULATE=0), output and exit code alike.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, vmlab } from "../testkit.ts";

const dir = mkdtempSync(join(tmpdir(), "vmlab-speculate-"));
/** More records than the ring holds (16 slots of 2^18): the reading thread waits for slots, and its ring wraps. */
const REFS = 5_000_000;
const file = join(dir, "hot.u64.zst");

/** `vmlab ARGS` with the speculation on or off, and VMLAB_TIMELINE=1 (its marks say which read ran). */
function run(args: string[], speculate: boolean, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [resolve(ROOT, "bin/vmlab.cjs"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, VMLAB_TIMELINE: "1", VMLAB_SPECULATE: speculate ? "1" : "0", ...env },
  });
  const lines = r.stderr.split("\n");
  // (the run's time and rate aside)
  const timeless = (t: string) =>
    t.replace(/"seconds": [\d.e+-]+/g, '"seconds": 0').replace(/time {2,}[^\n]*/g, "time");
  return {
    code: r.status,
    stdout: timeless(r.stdout),
    stderr: timeless(lines.filter((l) => !l.startsWith("vmlab timeline:")).join("\n")),
    marks: lines.filter((l) => l.startsWith("vmlab timeline:")).map((l) => l.replace(/^.* ms {2}/, "")),
  };
}

const ARGS = ["--frames", "320", "--policy", "clock", "--tlb", "64x4,1536x12", "--json", "--no-progress"];

describe("the reading job started before the CLI", () => {
  beforeAll(() => {
    expect(vmlab(["gen", "hotcold", "--pages", "400", "--refs", String(REFS), "--out", file]).code).toBe(0);
  });

  it("is taken up by machine mode's raw read: the same figures, faults over time included, as without it", () => {
    const on = run(["trace", file, ...ARGS], true);
    const off = run(["trace", file, ...ARGS], false);
    expect(on.code).toBe(0);
    expect(on.marks).toContain("reading job posted (speculative)");
    expect(on.marks).toContain("speculative job taken up");
    expect(on.marks).not.toContain("job posted to the reading thread");
    expect(off.marks).not.toContain("reading job posted (speculative)");
    expect(off.marks).toContain("job posted to the reading thread");
    expect(JSON.parse(on.stdout).accesses).toBe(REFS);
    expect(JSON.parse(on.stdout).faultsOverTime.length).toBeGreaterThan(1);
    expect(on.stdout).toBe(off.stdout);
  });

  it("takes VMLAB_FOLD_SHARE as the CLI's own job does: the main thread counts every slot's totals, or none", () => {
    const counted = (share: string) => {
      const r = run(["trace", file, ...ARGS], true, { VMLAB_FOLD_SHARE: share, VMLAB_TRACE_CPU: "1" });
      expect(r.code).toBe(0);
      expect(r.marks).toContain("speculative job taken up");
      const m = /totals counted by main: (\d+) of (\d+) slots/.exec(r.stderr);
      return { stdout: r.stdout, counted: Number(m?.[1]), slots: Number(m?.[2]) };
    };
    const main = counted("main");
    const worker = counted("worker");
    // 5 M records: 20 slots of 2^18
    expect([main.counted, main.slots]).toEqual([20, 20]);
    expect([worker.counted, worker.slots]).toEqual([0, 20]);
    expect(main.stdout).toBe(worker.stdout);
  });

  it("is stopped by a run that reads otherwise (records for the miss-ratio curve): the same output", () => {
    const args = ["trace", file, ...ARGS, "--mrc"];
    const on = run(args, true);
    const off = run(args, false);
    expect(on.code).toBe(0);
    expect(on.marks).toContain("reading job posted (speculative)");
    expect(on.marks).not.toContain("speculative job taken up");
    expect(on.stdout).toBe(off.stdout);
  });

  it("leaves corrupt data, a missing file and a bad option to the CLI: the same messages and exit codes", () => {
    const bytes = readFileSync(file);
    const corrupt = join(dir, "corrupt.u64.zst");
    const b = Buffer.from(bytes);
    for (let i = b.length >> 1; i < (b.length >> 1) + 64; i++) b[i] ^= 0x5a;
    writeFileSync(corrupt, b);
    const cases = [
      ["trace", corrupt, ...ARGS],
      ["trace", join(dir, "none.u64.zst"), ...ARGS],
      ["trace", file, ...ARGS, "--frames", "0"],
    ];
    for (const args of cases) {
      const on = run(args, true);
      const off = run(args, false);
      expect(on.code, args[1]).toBe(2);
      expect(on.stderr, args[1]).not.toMatch(/\n\s+at /); // no stack trace
      expect([on.code, on.stdout, on.stderr], args[1]).toEqual([off.code, off.stdout, off.stderr]);
    }
    // the corrupt file was started early, and its error came after the CLI took the job up
    expect(run(cases[0], true).marks).toContain("speculative job taken up");
  });
});
