/**
 * A local sweep reads the trace once for all its configurations, and each
 * configuration's figures (or error) are those of `vmlab trace` with its
 * options, reading the file itself (runSweepJob without a shared source,
 * as every job ran before).
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { traceBatches } from "../workloads/trace/generate.ts";
import { readingOf, traceFile } from "./sweepGroup.ts";
import { runSweepJob, type SweepJob, type SweepJobResult, traceOptions } from "./sweepJob.ts";
import { vmlab } from "./testkit.ts";

const dir = mkdtempSync(join(tmpdir(), "vmlab-sweepgroup-"));

/** A hotcold trace of `refs` references as bytes (fetches among them: every 7th record's kind set to 0). */
function traceBytes(refs: number): Buffer {
  const parts: Buffer[] = [];
  for (const [w, n] of traceBatches({ pattern: "hotcold", pages: 3000, refs, writeRatio: 0.3, seed: 7 })) {
    for (let i = 0; i < n; i += 7) w[2 * i] &= ~3;
    parts.push(Buffer.from(w.buffer.slice(0, n * 8)));
  }
  return Buffer.concat(parts);
}

const bytes = traceBytes(300_000);

/** The sweep's results, without each run's time. */
function figures(results: SweepJobResult[]): unknown[] {
  return results.map((r) => {
    // an error's partial figures: all but the time
    if (r.summary === null) return { job: r.job, error: r.error?.replace(/^ *time .*$/gm, "time") };
    const { seconds: _s, ...rest } = r.summary;
    return { job: r.job, summary: rest };
  });
}

/** Every job of a sweep run alone, each reading the file itself. */
async function alone(jobs: SweepJob[]): Promise<unknown[]> {
  const out: SweepJobResult[] = [];
  for (const j of jobs) out.push(await runSweepJob(j));
  return figures(out);
}

const ARGS = ["--mode", "machine,policy", "--policy", "clock,lru", "--frames", "2600,4000", "--json"];

describe("vmlab sweep, the trace decoded once", () => {
  it("gives every configuration vmlab trace's figures, on one thread and on two", async () => {
    const gz = join(dir, "hot.u64.gz");
    writeFileSync(gz, gzipSync(bytes, { level: 1 }));
    const one = vmlab(["sweep", gz, ...ARGS, "--tlb", "vmref", "--tlb", "16x4", "--jobs", "1"]);
    const two = vmlab(["sweep", gz, ...ARGS, "--tlb", "vmref", "--tlb", "16x4", "--jobs", "2"]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    const a = JSON.parse(one.stdout).results as SweepJobResult[];
    const b = JSON.parse(two.stdout).results as SweepJobResult[];
    // machine mode under two TLBs, both policies, both sizes; and policy mode
    expect(a).toHaveLength(12);
    const want = await alone(a.map((r) => r.job));
    expect(figures(a)).toEqual(want);
    expect(figures(b)).toEqual(want);
    // the figures differ from one configuration to the next: a wrong feed would show
    expect(new Set(a.map((r) => r.summary?.tlbMisses)).size).toBeGreaterThan(2);
    expect(new Set(a.map((r) => r.summary?.faults)).size).toBeGreaterThan(1);
  }, 60_000);

  it("fails every configuration as vmlab trace does on a corrupt or truncated trace: no chart, no hang", async () => {
    const bad = Buffer.from(bytes);
    bad.writeUInt32LE(0xffffffff, 8 * 200_000 + 4); // record 200000's address beyond 2^47
    const cases: [string, Buffer][] = [
      ["bad.u64", bad],
      ["cut.u64", bytes.subarray(0, bytes.length - 3)],
      ["cut.u64.gz", gzipSync(bytes, { level: 1 }).subarray(0, 100_000)],
    ];
    const errors: Record<string, string | null> = {};
    for (const [name, content] of cases) {
      const path = join(dir, name);
      writeFileSync(path, content);
      const chart = join(dir, `${name}.svg`);
      const r = vmlab(["sweep", path, ...ARGS, "--jobs", "2", "--chart", chart]);
      expect(r.code, name).toBe(2);
      const got = JSON.parse(r.stdout).results as SweepJobResult[];
      expect(got.every((x) => x.summary === null && x.error !== null)).toBe(true);
      expect(figures(got), name).toEqual(await alone(got.map((x) => x.job)));
      expect(existsSync(chart), name).toBe(false);
      errors[name] = got[0].error;
    }
    // the errors name the place: the bad record's offset, the cut, the decoder's complaint
    expect(errors["bad.u64"]).toMatch(/bad\.u64.*1600000.*record 200000/s);
    expect(errors["cut.u64"]).toMatch(/truncated: 5 bytes/);
    expect(errors["cut.u64.gz"]).toMatch(/corrupt or truncated gzip/);
  }, 60_000);

  it("reads the file itself for OPT (it keeps the whole trace), the shared rings for the rest", () => {
    const path = join(dir, "reading.u64");
    writeFileSync(path, bytes.subarray(0, 8 * 1000));
    const file = traceFile(path, 8 * 1000);
    const job = (policy: string, mode: "policy" | "machine" = "policy"): SweepJob => ({
      file: path,
      format: "auto",
      mode,
      frames: 64,
      policy,
      tlb: "vmref",
      dataOnly: false,
      seed: 1,
    });
    expect(readingOf(job("opt"), file, traceOptions)).toBe("own");
    expect(readingOf(job("lru"), file, traceOptions)).not.toBe("own");
    expect(readingOf(job("arc"), file, traceOptions)).not.toBe("own");
    expect(readingOf(job("clock", "machine"), file, traceOptions)).toBe("runs");
  });
});
