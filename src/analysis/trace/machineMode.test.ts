/**
 * Machine mode against the C reference simulator's counters
 * (../shared/bench/expected-counters.json) on the shared traces, and its
 * policies against policy mode and a naive model on trace slices.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readRuns, readTrace } from "../../workloads/trace/formats.ts";
import { openTrace } from "../../workloads/trace/input.ts";
import { foldRuns, RUN_TOTALS } from "../../workloads/trace/runs.ts";
import { PolicySim } from "../policy/simulate.ts";
import { type MachineArch, MachineMode, type MachinePolicy } from "./machineMode.ts";
import { recordArb, recordWords } from "./records.testkit.ts";

const SHARED = resolve(import.meta.dirname, "../../../../shared");
const have = existsSync(`${SHARED}/traces/gzip-10M.u64.zst`);

interface Expected {
  trace: string;
  mode: "all" | "data-only";
  frames: number;
  [k: string]: unknown;
}
const expected: Expected[] = have
  ? JSON.parse(readFileSync(`${SHARED}/bench/expected-counters.json`, "utf8")).runs
  : [];

/**
 * What the MMU holds and counted beyond result()'s figures: every counter of the CPU, each TLB
 * array's entries (the shortcut retry must leave them as the retry walked in full leaves them; not
 * `pa`, which the first-level and second-level shortcuts do not keep).
 */
function hardware(mm: MachineMode) {
  const c = mm.cpu;
  return {
    counters: [c.translations, c.walks, c.walkRefs, c.adWrites, c.pageFaults, c.pageInvalidations],
    hits: Array.from(c.tlb.hits),
    misses: Array.from(c.tlb.misses),
    arrays: c.tlb.levels.flatMap((l) =>
      l.arrays.map((a) => [Array.from(a.keys), Array.from(a.pfns), Array.from(a.metas), Array.from(a.attrs)]),
    ),
  };
}

/** The first `limit` records of a shared trace, as words. */
async function load(trace: string, limit = Number.POSITIVE_INFINITY): Promise<Uint32Array> {
  const parts: Uint32Array[] = [];
  let n = 0;
  await readTrace(openTrace(`${SHARED}/traces/${trace}`), "bin", (w, count) => {
    const take = Math.min(count, limit - n);
    if (take > 0) parts.push(w.slice(0, 2 * take));
    n += Math.max(0, take);
  });
  const out = new Uint32Array(2 * n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function replay(words: Uint32Array, frames: number, policy: MachinePolicy, dataOnly = false) {
  const mm = new MachineMode({ frames, tlb: "64x4,1536x12", policy, dataOnly });
  const BATCH = 65536;
  for (let at = 0; at < words.length / 2; at += BATCH) {
    const n = Math.min(BATCH, words.length / 2 - at);
    mm.feed(words.subarray(2 * at, 2 * (at + n)), n);
  }
  return mm.result();
}

/** vmref's counters, except its page-table reads (see below). */
const COUNTERS = [
  "records",
  "simulated",
  "skipped_instr",
  "instr",
  "load",
  "store",
  "modify",
  "l1_hits",
  "l1_misses",
  "l2_hits",
  "l2_misses",
  "walks",
  "pt_frames",
  "faults",
  "faults_first_touch",
  "faults_swap_in",
  "evictions",
  "dirty_evictions",
  "swap_outs",
  "swap_max_in_use",
  "clock_ref_clears",
  "frames_used",
  "phys_sum",
];

describe("machine mode, runs against records", () => {
  it("feedRuns and feed give every figure the plain path (each access through Mmu.translate) gives, whatever the policy, TLB, frames and batches", () => {
    let shortRetries = 0;
    fc.assert(
      fc.property(
        fc.array(recordArb, { maxLength: 200 }),
        fc.constantFrom("clock", "lru", "fifo", "random"),
        fc.constantFrom("vmref", "skylake", "tiny"),
        fc.integer({ min: 1, max: 12 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 64 }),
        (spec, policy, tlb, frames, dataOnly, batch) => {
          const w = recordWords(spec); // each [page, offset, kind, repeat]: that record repeated
          const cfg = { frames, tlb, policy: policy as MachinePolicy, dataOnly, seed: 3 };
          const byRecord = new MachineMode(cfg);
          const byRun = new MachineMode(cfg);
          // no first-level shortcuts: the reference for the memo and the direct 4K-array lookups
          const plain = new MachineMode({ ...cfg, shortcuts: false });
          const out = new Uint32Array(2 * batch);
          const totals = new Float64Array(RUN_TOTALS);
          for (let at = 0; at < w.length / 2; at += batch) {
            const n = Math.min(batch, w.length / 2 - at);
            const part = w.subarray(2 * at, 2 * (at + n));
            byRecord.feed(part, n);
            plain.feed(part, n);
            totals.fill(0);
            byRun.feedRuns(out, foldRuns(part, n, out, totals), totals);
          }
          expect(byRecord.result()).toEqual(plain.result());
          expect(byRun.result()).toEqual(plain.result());
          expect(hardware(byRecord)).toEqual(hardware(plain));
          expect(hardware(byRun)).toEqual(hardware(plain));
          expect(plain.shortRetries).toBe(0);
          shortRetries += byRun.shortRetries;
        },
      ),
      { numRuns: 1500 },
    );
    expect(shortRetries).toBeGreaterThan(1000); // the retries after the first of a machine
  });

  it("on arm64, RISC-V Sv48 and Sv57 too: the shortcuts and the runs give the plain path's figures", () => {
    fc.assert(
      fc.property(
        fc.array(recordArb, { maxLength: 200 }),
        fc.constantFrom("arm64", "riscv-sv48", "riscv-sv57") as fc.Arbitrary<MachineArch>,
        fc.constantFrom("clock", "lru", "random"),
        fc.constantFrom("vmref", "tiny"),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 64 }),
        (spec, arch, policy, tlb, frames, batch) => {
          const w = recordWords(spec); // each [page, offset, kind, repeat]: that record repeated
          const cfg = { frames, tlb, policy: policy as MachinePolicy, seed: 3, arch };
          const byRun = new MachineMode(cfg);
          const plain = new MachineMode({ ...cfg, shortcuts: false });
          const out = new Uint32Array(2 * batch);
          const totals = new Float64Array(RUN_TOTALS);
          for (let at = 0; at < w.length / 2; at += batch) {
            const n = Math.min(batch, w.length / 2 - at);
            const part = w.subarray(2 * at, 2 * (at + n));
            plain.feed(part, n);
            totals.fill(0);
            byRun.feedRuns(out, foldRuns(part, n, out, totals), totals);
          }
          expect(byRun.result()).toEqual(plain.result());
          expect(hardware(byRun)).toEqual(hardware(plain));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("feed and feedRuns taking turns on one machine (each keeps its own memo of the sets' front pages) give the plain path's figures", () => {
    // few pages (0..24, and a few far ones), reads and writes of one page apart: the memo's dirty and reference
    // shortcuts; and up to 10 pages in each of 4 first-level sets (4 ways): hits in the second level (l2Hit)
    const rec = fc.tuple(
      fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 0, max: 24 }) },
        {
          weight: 6,
          arbitrary: fc
            .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 9 }))
            .map(([s, k]) => s + 16 * k),
        },
        { weight: 1, arbitrary: fc.integer({ min: 2 ** 31, max: 2 ** 35 - 1 }) },
      ),
      fc.integer({ min: 0, max: 4095 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 1, max: 4 }),
    );
    fc.assert(
      fc.property(
        // (fast-check's arrays are short by default: long enough here for sets to fill and pages to come back)
        fc.array(rec, { minLength: 10, maxLength: 300, size: "max" }),
        fc.constantFrom("clock", "fifo", "random"),
        fc.constantFrom("vmref", "skylake"),
        // often enough frames that the sets' front pages outlive a batch (a fault empties every memo), yet evictions
        fc.oneof(
          fc.integer({ min: 1, max: 6 }),
          fc.integer({ min: 14, max: 22 }),
          fc.integer({ min: 36, max: 48 }),
        ),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 40 }),
        (spec, policy, tlb, frames, turns, batch) => {
          const w = recordWords(spec); // each [page, offset, kind, repeat]: that record repeated
          const cfg = { frames, tlb, policy: policy as MachinePolicy, seed: 5 };
          const mixed = new MachineMode(cfg);
          const plain = new MachineMode({ ...cfg, shortcuts: false });
          const out = new Uint32Array(2 * batch);
          const totals = new Float64Array(RUN_TOTALS);
          for (let at = 0, k = 0; at < w.length / 2; at += batch, k++) {
            const n = Math.min(batch, w.length / 2 - at);
            const part = w.subarray(2 * at, 2 * (at + n));
            plain.feed(part, n);
            if (turns[k % turns.length]) mixed.feed(part, n);
            else {
              totals.fill(0);
              mixed.feedRuns(out, foldRuns(part, n, out, totals), totals);
            }
          }
          expect(mixed.result()).toEqual(plain.result());
          expect(hardware(mixed)).toEqual(hardware(plain));
        },
      ),
      {
        numRuns: 300,
        // a read, then a write of the same page from its set's front: only the memo's hit can make the frame dirty
        // and pages 0 and 16 (one set) taking turns at its front, between the two paths (split first level: each path's memo)
        examples: [
          [
            [
              [0, 0, 1, 1],
              [0, 8, 2, 1],
              [1, 0, 1, 1],
            ],
            "clock",
            "vmref",
            1,
            [true],
            8,
          ],
          [
            [
              [0, 0, 1, 1],
              [16, 0, 1, 1],
              [0, 0, 1, 1],
              [16, 0, 1, 1],
              [0, 0, 1, 1],
            ],
            "clock",
            "skylake",
            8,
            [true, true, true, false, true],
            1,
          ],
          [
            [
              [0, 0, 1, 1],
              [16, 0, 1, 1],
              [0, 0, 1, 1],
              [16, 0, 1, 1],
              [0, 0, 1, 1],
            ],
            "clock",
            "skylake",
            8,
            [false, false, false, true, false],
            1,
          ],
        ],
      },
    );
  });

  it("refuse runs where the first level has no 4K arrays to take them (2 MiB pages)", () => {
    const mm = new MachineMode({ frames: 1024, tlb: "vmref", policy: "clock", pageSize: "2m" });
    expect(mm.takesRuns).toBe(false);
    expect(() => mm.feedRuns(new Uint32Array(2), 1, new Float64Array(RUN_TOTALS))).toThrow(/runs need/);
  });
});

describe.skipIf(!have)("machine mode against the C reference (vmref) counters", () => {
  const runs = expected.filter((r) => r.trace.startsWith("gzip") || r.frames === 256);
  for (const run of runs) {
    // as vmlab trace FILE replays it: the reading thread folds the records into runs; one
    // configuration record by record as well (standard input, or analyses alongside)
    const records = run.trace.startsWith("gzip") && run.frames === 256 && run.mode === "all";
    it(`${run.trace} ${run.mode} ${run.frames} frames: every counter equal${records ? " (runs, and records)" : ""}`, async () => {
      const cfg = {
        frames: run.frames,
        tlb: "64x4,1536x12",
        policy: "clock" as const,
        dataOnly: run.mode === "data-only",
      };
      const mm = new MachineMode(cfg);
      await readRuns(`${SHARED}/traces/${run.trace}`, (w, n, totals) => mm.feedRuns(w, n, totals));
      if (records) {
        // streamed from the file: constant memory
        const byRecord = new MachineMode(cfg);
        await readTrace(openTrace(`${SHARED}/traces/${run.trace}`), "bin", (w, n) => byRecord.feed(w, n));
        expect(byRecord.result()).toEqual(mm.result());
      }
      const r = mm.result() as unknown as Record<string, unknown>;
      for (const k of COUNTERS) expect(String(r[k]), k).toBe(String(run[k]));
      // vmref allocates a missing table during the walk and then reads all 4 entries; the
      // SDM walker stops at the first non-present entry, so vmlab reads a few fewer
      expect(r.pt_reads as number).toBeLessThanOrEqual(run.pt_reads as number);
      expect(r.pt_reads as number).toBeGreaterThan((run.pt_reads as number) - 4 * (r.pt_frames as number));
    }, 60_000);
  }
});

describe.skipIf(!have)("machine-mode policies on trace slices", () => {
  it("LRU and FIFO take exactly as many faults as policy mode's LRU and FIFO misses on the same page string", async () => {
    const w = await load("py-50M.u64.zst", 2_000_000);
    const pages: number[] = [];
    for (let i = 0; i < w.length / 2; i++) pages.push(w[2 * i + 1] * 262144 + (w[2 * i] >>> 14));
    for (const policy of ["lru", "fifo"] as const) {
      for (const frames of [16, 64, 200]) {
        const m = replay(w, frames, policy);
        const p = new PolicySim(policy, frames);
        for (const page of pages) p.access(page, false);
        const r = p.result();
        expect([m.faults, m.evictions], `${policy} ${frames}`).toEqual([r.misses, r.evictions]);
        expect([m.faults_first_touch, m.faults_swap_in]).toEqual([r.firstRefs, r.misses - r.firstRefs]);
      }
    }
  }, 60_000);

  it("CLOCK with few frames agrees with a naive model of the same rules (evictions, swap-ins, dirty, clears)", async () => {
    const w = await load("gzip-10M.u64.zst", 300_000);
    for (const frames of [8, 24, 60]) {
      const m = replay(w, frames, "clock");
      const naive = naiveClock(w, frames);
      expect(
        [
          m.faults_first_touch,
          m.faults_swap_in,
          m.evictions,
          m.dirty_evictions,
          m.clock_ref_clears,
          m.swap_max_in_use,
        ],
        `${frames} frames`,
      ).toEqual([
        naive.first,
        naive.swapIns,
        naive.evictions,
        naive.dirtyEvictions,
        naive.clears,
        naive.swapMax,
      ]);
      expect(m.evictions).toBeGreaterThan(0);
    }
  }, 60_000);

  it("random is seeded: the same seed gives the same faults, another seed other faults", async () => {
    const w = await load("gzip-10M.u64.zst", 300_000);
    const run = (seed: number) => {
      const mm = new MachineMode({ frames: 32, tlb: "vmref", policy: "random", seed });
      for (let at = 0; at < w.length / 2; at += 65536) {
        const n = Math.min(65536, w.length / 2 - at);
        mm.feed(w.subarray(2 * at, 2 * (at + n)), n);
      }
      return mm.result().faults;
    };
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
  }, 60_000);
});

describe.skipIf(!have)("machine mode with 2 MiB pages and 5-level paging", () => {
  const run = (w: Uint32Array, cfg: Partial<ConstructorParameters<typeof MachineMode>[0]>) => {
    const mm = new MachineMode({ frames: 4096, tlb: "vmref", policy: "lru", ...cfg });
    for (let at = 0; at < w.length / 2; at += 65536) {
      const n = Math.min(65536, w.length / 2 - at);
      mm.feed(w.subarray(2 * at, 2 * (at + n)), n);
    }
    return mm.result();
  };

  it("maps each 2 MiB region with one PMD: as many first touches as regions, and LRU over 2 MiB pages", async () => {
    const w = await load("py-50M.u64.zst", 2_000_000);
    const regions = new Set<number>();
    const big: number[] = [];
    for (let i = 0; i < w.length / 2; i++) {
      const region = Math.floor((w[2 * i + 1] * 262144 + (w[2 * i] >>> 14)) / 512);
      regions.add(region);
      big.push(region);
    }
    const roomy = run(w, { pageSize: "2m", frames: 512 * 64, tlb: "skylake" });
    expect([roomy.faults, roomy.evictions]).toEqual([regions.size, 0]);
    expect(roomy.walks).toBeLessThan(100); // 2M entries: a handful of TLB misses for the whole slice
    for (const hugeFrames of [2, 3, 5]) {
      const m = run(w, { pageSize: "2m", frames: 512 * hugeFrames });
      const p = new PolicySim("lru", hugeFrames);
      for (const r of big) p.access(r, false);
      expect([m.faults, m.frames_used], `${hugeFrames} huge frames`).toEqual([
        p.result().misses,
        512 * hugeFrames,
      ]);
    }
  }, 60_000);

  it("walks five levels under LA57 with the same TLB and fault figures", async () => {
    const w = await load("gzip-10M.u64.zst", 1_000_000);
    const four = run(w, {});
    const five = run(w, { arch: "x86_64-la57" });
    expect([five.walks, five.faults, five.l1_hits]).toEqual([four.walks, four.faults, four.l1_hits]);
    expect(five.pt_reads).toBeGreaterThan(four.pt_reads);
    expect(five.pt_reads).toBeLessThanOrEqual(5 * five.walks);
  }, 60_000);

  it("on arm64 and RISC-V Sv48 the figures of x86-64's four levels, on Sv57 LA57's", async () => {
    const w = await load("gzip-10M.u64.zst", 1_000_000);
    const four = run(w, {});
    const five = run(w, { arch: "x86_64-la57" });
    expect(run(w, { arch: "arm64" })).toEqual(four);
    expect(run(w, { arch: "riscv-sv48" })).toEqual(four);
    expect(run(w, { arch: "riscv-sv57" })).toEqual(five);
  }, 60_000);
});

/** The pager's rules written plainly (Maps, no MMU): for CLOCK's fault and eviction counts. */
function naiveClock(w: Uint32Array, frames: number) {
  const resident = new Map<number, number>(); // vpn -> frame
  const swapped = new Set<number>();
  const owner: number[] = [];
  const ref: boolean[] = [];
  const dirty: boolean[] = [];
  let hand = 0;
  const r = { first: 0, swapIns: 0, evictions: 0, dirtyEvictions: 0, clears: 0, swapMax: 0 };
  for (let i = 0; i < w.length / 2; i++) {
    const lo = w[2 * i];
    const vpn = w[2 * i + 1] * 262144 + (lo >>> 14);
    const write = (lo & 3) >= 2;
    let f = resident.get(vpn);
    if (f === undefined) {
      if (swapped.delete(vpn)) r.swapIns++;
      else r.first++;
      if (owner.length < frames) f = owner.length;
      else {
        for (;;) {
          const g = hand;
          hand = (hand + 1) % frames;
          if (!ref[g]) {
            f = g;
            break;
          }
          ref[g] = false;
          r.clears++;
        }
        resident.delete(owner[f]);
        swapped.add(owner[f]);
        r.swapMax = Math.max(r.swapMax, swapped.size);
        r.evictions++;
        if (dirty[f]) r.dirtyEvictions++;
      }
      owner[f] = vpn;
      resident.set(vpn, f);
      dirty[f] = false;
    }
    ref[f] = true;
    if (write) dirty[f] = true;
  }
  return r;
}
