/**
 * vmlab trace's policy and analysis loops (src/analysis/trace/replay.ts) decode
 * records by hand, for speed: held here to src/workloads/trace/record.ts,
 * against the simulators fed through record.ts's helpers.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { curveSizes, StackDistance, WorkingSet } from "../../analysis/mrc.ts";
import { FastSim } from "../../analysis/policy/fast.ts";
import { PolicySim } from "../../analysis/policy/simulate.ts";
import { TlbCurve } from "../../analysis/tlbCurve.ts";
import { parseCurves, parseSamplers, type TraceCliOptions } from "../../analysis/trace/flags.ts";
import { Replay } from "../../analysis/trace/replay.ts";
import { isFetch, isWrite, pageAt, recordKind, setRecord } from "../../workloads/trace/record.ts";
import { ROOT } from "../testkit.ts";
import { parseReplay } from "./options.ts";

/**
 * Pages that a slip in the decoding would merge: neighbours, and pages
 * whose low 18 bits (the record's low word) are equal or whose high words
 * are.
 */
const PAGES = [
  0x100,
  0x101,
  0x102,
  0x103,
  0x100 + 2 ** 17,
  0x100 + 2 ** 18,
  0x101 + 2 ** 18,
  0x100 + 2 ** 19,
  2 ** 35 - 1,
  2 ** 35 - 2,
  2 ** 34,
  2 ** 34 - 1,
];

/** Records of [page, offset, kind] accesses to those pages. */
const traces = fc
  .array(
    fc.tuple(
      fc.integer({ min: 0, max: PAGES.length - 1 }),
      fc.integer({ min: 0, max: 4095 }),
      fc.integer({ min: 0, max: 3 }),
    ),
    { minLength: 1, maxLength: 300, size: "medium" },
  )
  .map((xs) => {
    const w = new Uint32Array(2 * xs.length);
    xs.forEach(([p, off, kind], i) => {
      setRecord(w, i, PAGES[p] * 4096 + off, kind);
    });
    return w;
  });

function options(extra: Partial<TraceCliOptions>): TraceCliOptions {
  return {
    format: "bin",
    mode: "policy",
    frames: "4",
    policy: "lru",
    tlb: "vmref",
    dataOnly: false,
    json: true,
    seed: "1",
    progress: false,
    ...extra,
  };
}

/** Replay's summary of the records `w`, fed in two batches. */
function replay(w: Uint32Array, o: TraceCliOptions) {
  const s = parseReplay(o);
  const r = new Replay(s);
  r.addCurves(parseCurves(o, s.frames));
  r.addSamplers(parseSamplers(o));
  const n = w.length / 2;
  const half = n >> 1;
  r.feed(w, half);
  r.feed(w.subarray(2 * half), n - half);
  r.finish(true);
  return r.summary({ trace: "t", format: "bin", compression: "none", seconds: 0, complete: true });
}

/** The pages and write flags of the records `w` that a run with `dataOnly` takes, through record.ts. */
function decoded(w: Uint32Array, dataOnly: boolean): { pages: number[]; writes: boolean[] } {
  const pages: number[] = [];
  const writes: boolean[] = [];
  for (let i = 0; i < w.length / 2; i++) {
    if (dataOnly && isFetch(w[2 * i])) continue;
    pages.push(pageAt(w, i));
    writes.push(isWrite(recordKind(w[2 * i])));
  }
  return { pages, writes };
}

describe("vmlab trace's own record loops", () => {
  it("feed policy mode the pages and writes record.ts reads: the fast path, the other policies, OPT", () => {
    fc.assert(
      fc.property(traces, fc.boolean(), (w, dataOnly) => {
        const { pages, writes } = decoded(w, dataOnly);
        for (const policy of ["lru", "clock", "nru", "arc", "opt"]) {
          const s = replay(w, options({ policy, dataOnly }));
          const sim =
            policy === "lru" || policy === "clock"
              ? new FastSim(policy, 4)
              : new PolicySim(policy, 4, policy === "opt" ? { refs: Float64Array.from(pages) } : { seed: 1 });
          pages.forEach((p, i) => {
            sim.access(p, writes[i]);
          });
          const r = sim.result();
          expect([s.accesses, s.policyHits, s.policyMisses, s.evictions], policy).toEqual([
            pages.length,
            r.hits,
            r.misses,
            r.evictions,
          ]);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("feed the analyses the pages record.ts reads: the exact curve, the working set, the TLB curve", () => {
    fc.assert(
      fc.property(traces, fc.boolean(), (w, dataOnly) => {
        const { pages } = decoded(w, dataOnly);
        const s = replay(
          w,
          options({
            mode: "machine",
            policy: "clock",
            dataOnly,
            mrc: true,
            mrcMax: "8",
            wss: "5",
            tlbCurve: "2",
          }),
        );
        const sd = new StackDistance();
        const ws = new WorkingSet(5, 5);
        const tc = new TlbCurve(2);
        for (const p of pages) {
          sd.access(p);
          ws.access(p);
          tc.access(p);
        }
        expect(s.mrc?.series.lru).toEqual(sd.curve(curveSizes(8)).map((x) => x.missRatio));
        expect(s.wss?.samples).toEqual(ws.samples);
        expect(s.tlbCurve).toEqual(tc.result());
        expect(s.accesses).toBe(pages.length);
      }),
      { numRuns: 40 },
    );
  });
});

describe("machine mode's faults over time", () => {
  it("keep at most 1,000 true points however many batches come, and end at the last batch", () => {
    const o = options({ mode: "machine", policy: "clock", frames: "8192" });
    const r = new Replay(parseReplay(o));
    const w = new Uint32Array(2);
    // one record a batch, each on a page of its own: a first touch each, so faults = records at every point
    const batches = 5003;
    for (let i = 0; i < batches; i++) {
      setRecord(w, 0, (0x100000 + i) * 4096, 1);
      r.feed(w, 1);
    }
    r.finish(true);
    const points = r.summary({ trace: "t", format: "bin", compression: "none", seconds: 0, complete: true })
      .faultsOverTime!;
    expect(points.length).toBeLessThanOrEqual(1000);
    expect(points.length).toBeGreaterThan(400);
    for (const [fed, faults] of points) expect(faults).toBe(fed);
    for (let i = 1; i < points.length; i++) expect(points[i][0]).toBeGreaterThan(points[i - 1][0]);
    expect(points[points.length - 1]).toEqual([batches, batches]);
  });
});

describe("OPT over a long trace (issue #19, defect 14)", () => {
  it("runs 151 M references in bounded memory, where it died of a V8 fatal error", () => {
    // 18 copies of one zstd frame (concatenated frames are one stream) of 8 Mi loads cycling over 16 pages
    const w = new Uint32Array(2 * (8 << 20));
    for (let i = 0; i < w.length; i += 2) setRecord(w, i / 2, (0x10000 + ((i / 2) % 16)) * 4096, 1);
    const { compress } = createRequire(import.meta.url)("zstd-napi") as { compress(b: Buffer): Buffer };
    const frame = compress(Buffer.from(w.buffer));
    const dir = mkdtempSync(join(tmpdir(), "vmlab-opt-"));
    try {
      const file = join(dir, "cyc.u64.zst");
      writeFileSync(file, Buffer.concat(Array.from({ length: 18 }, () => frame)));
      // the page string used to cost 8 bytes a reference twice over and a JS array entry a hit (7 GB, then
      // a fatal error, for 200 M); the limit is Node's own reservations (about 23 GB of address space,
      // WebAssembly's included) plus 3 GB
      const r = spawnSync(
        "bash",
        [
          "-c",
          `ulimit -v 26000000; exec "${process.execPath}" bin/vmlab.mjs trace "${file}" --mode policy --policy opt --frames 8 --json`,
        ],
        { cwd: ROOT, encoding: "utf8", timeout: 100_000 },
      );
      expect(r.stderr).toBe("");
      const doc = JSON.parse(r.stdout);
      // a cyclic scan over 16 pages with 8 frames: OPT misses 8 references in 15
      expect(doc).toMatchObject({ accesses: 150_994_944, policyMisses: 80_530_641, evictions: 80_530_633 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
