/**
 * Machine mode's WebAssembly hit loop (hitLoop.ts, wasm/hits.ts) against
 * feedRuns in JavaScript and against the plain path (every access through
 * Mmu.translate): every counter and phys_sum equal on random traces with
 * faults, evictions, dirty pages, unified and split first levels, and
 * --data-only. A change to the loop's logic (wasm/hits.ts) fails it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { wasmApi } from "../../base/wasm.ts";
import { foldRuns, RUN_TOTALS } from "../../workloads/trace/runs.ts";
import { type HitLoop, recordTotals } from "./hitLoop.ts";
import { MachineMode, type MachineModeConfig, type MachinePolicy } from "./machineMode.ts";
import { recordWords } from "./records.testkit.ts";

// pages: a few (front hits), up to 40 in a handful of sets (hits past the front, promotions, evictions
// within a set), anywhere below 2^35 (other sets, high words), and low pages under several high words
const page = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 12 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 39 }).map((k) => (k % 4) + 16 * Math.floor(k / 4)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 35 - 1 }) },
  // the same low page bits under other high words (the memo compares both)
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1 }))
      .map(([h, p]) => h * 2 ** 18 + p),
  },
);
const record = fc.tuple(
  page,
  fc.integer({ min: 0, max: 4095 }),
  fc.integer({ min: 0, max: 3 }),
  fc.integer({ min: 1, max: 5 }),
);

/** Replays the records through the three paths, batch by batch, and asks for the same result. */
function check(
  spec: [number, number, number, number][],
  policy: string,
  tlb: string,
  frames: number,
  dataOnly: boolean,
  batch: number,
): void {
  const w = recordWords(spec);
  const n = w.length / 2;
  const cfg = { frames, tlb, policy: policy as MachinePolicy, dataOnly, seed: 5 };
  const wasm = new MachineMode({ ...cfg, wasm: true });
  const js = new MachineMode({ ...cfg, wasm: false });
  const plain = new MachineMode({ ...cfg, shortcuts: false });
  // the records themselves through the loop (feedRecords), with the fold's totals as the reading thread counts them
  const recs = new MachineMode({ ...cfg, wasm: true });
  // and read where they are in a shared memory the loop's state is in too (a reading thread's slot)
  const { mm: inPlace, slot } = sharedMode(cfg);
  const out = new Uint32Array(2 * batch);
  const totals = new Float64Array(RUN_TOTALS);
  for (let at = 0; at < n; at += batch) {
    const k = Math.min(batch, n - at);
    const part = w.subarray(2 * at, 2 * (at + k));
    totals.fill(0);
    const m = foldRuns(part, k, out, totals);
    wasm.feedRuns(out, m, totals);
    js.feedRuns(out, m, totals);
    plain.feed(part, k);
    expect(recs.feedRecords(part, k, totals)).toBe(k);
    slot.set(part);
    expect(inPlace.feedRecords(slot, k, totals)).toBe(k);
  }
  const r = wasm.result();
  expect(r).toEqual(js.result());
  expect(r).toEqual(plain.result());
  expect(recs.result()).toEqual(r);
  expect(inPlace.result()).toEqual(r);
  // and the TLB itself: every entry in its place, and each array's bookkeeping
  expect(tlbState(wasm)).toEqual(tlbState(js));
  expect(tlbState(recs)).toEqual(tlbState(js));
  expect(tlbState(inPlace)).toEqual(tlbState(js));
}

/**
 * Machine mode with its hit loop's state in a shared memory (MachineModeConfig.shared) past its
 * first page, and a view of that page for records (as a reading thread's slot is), which the loop
 * reads in place (checked: HitLoop.place gives the view's own address, no copy).
 */
function sharedMode(cfg: Omit<MachineModeConfig, "wasm" | "shared">): { mm: MachineMode; slot: Uint32Array } {
  const memory = new (wasmApi()!.Memory)({ initial: 1, maximum: 65536, shared: true });
  const mm = new MachineMode({ ...cfg, wasm: true, shared: { memory, from: 65536 } });
  const slot = new Uint32Array(memory.buffer, 8, 8190);
  expect((mm as unknown as { hits: HitLoop }).hits.place(slot, 1, 1)).toBe(16);
  return { mm, slot };
}

/** Each TLB array's entries and counts (its private bookkeeping too: the loop settles it from outside). */
function tlbState(mm: MachineMode) {
  const tlb = mm.cpu.tlb;
  const arrays = [...new Set([...tlb.dataPath.flat(), ...tlb.instrPath.flat()])];
  return arrays.map((a) => {
    const priv = a as unknown as { valid: number; bySize: Int32Array };
    return {
      keys: Array.from(a.keys),
      pfns: Array.from(a.pfns),
      metas: Array.from(a.metas),
      evictions: a.evictions,
      valid: priv.valid,
      bySize: Array.from(priv.bySize),
    };
  });
}

/** `n` records over `pages` pages from a linear congruential generator seeded `seed`; `kind(i)`: record i's access kind */
function lcgTrace(n: number, seed: number, pages: number, kind: (i: number) => number): Uint32Array {
  const w = new Uint32Array(2 * n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const p = (x >>> 8) % pages;
    w[2 * i] = (((p << 12) | ((i * 8) & 4095)) << 2) | kind(i);
  }
  return w;
}

describe("machine mode's WebAssembly hit loop", () => {
  it("gives every figure feedRuns in JavaScript and the plain path give (policies, TLB shapes, frames, --data-only, batches)", () => {
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: 250 }),
        fc.constantFrom("clock", "fifo", "random"),
        // unified (vmref: 16 sets), split with an 8-way fetch level (skylake), multi-size (tiny), few sets
        // of many ways, 64 sets
        fc.constantFrom("vmref", "skylake", "tiny", "8x8,32x4", "256x4,1536x12"),
        fc.integer({ min: 1, max: 24 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 80 }),
        check,
      ),
      { numRuns: 200 },
    );
  });

  it("tells pages apart that share their low page bits (one set, the memo's two words)", () => {
    const colliding = fc.tuple(
      fc.integer({ min: 0, max: 3 }).map((h) => h * 2 ** 18),
      fc.integer({ min: 0, max: 4095 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 1, max: 3 }),
    );
    fc.assert(
      fc.property(fc.array(colliding, { maxLength: 60 }), fc.constantFrom("vmref", "skylake"), (spec, tlb) =>
        check(spec, "clock", tlb, 16, false, 64),
      ),
      { numRuns: 150 },
    );
  });

  it("takes a batch of more runs than it copies at a time (HIT_CHUNK), and feed between batches, with the same figures", () => {
    // 150,000 runs over 300 pages in 200 frames: faults and evictions throughout, a write every third run
    const n = 150_000;
    const w = lcgTrace(n, 12345, 300, (i) => (i % 3 === 0 ? 2 : 1));
    const cfg = { frames: 200, tlb: "vmref", policy: "clock" as const };
    const results = [true, false].map((wasm) => {
      const mm = new MachineMode({ ...cfg, wasm });
      const out = new Uint32Array(2 * n);
      const totals = new Float64Array(RUN_TOTALS);
      mm.feedRuns(out, foldRuns(w, n, out, totals), totals);
      mm.feed(w.subarray(0, 2000), 1000);
      totals.fill(0);
      mm.feedRuns(out, foldRuns(w, n, out, totals), totals);
      return { result: mm.result(), tlb: tlbState(mm) };
    });
    expect(results[0].result.faults).toBeGreaterThan(1000);
    expect(results[0].result.l2_hits).toBeGreaterThan(1000);
    expect(results[0]).toEqual(results[1]);
  });

  it("sends a miss of both levels to the walk without the lookups (PagerTables.touchMissed), with the same figures", () => {
    // 60,000 records over 400 pages in 64 frames, a write every fifth: faults, evictions and second-level hits
    const n = 60_000;
    const w = lcgTrace(n, 777, 400, (i) => (i % 5 === 0 ? 2 : i % 7 === 0 ? 0 : 1));
    const totals = new Float64Array(RUN_TOTALS);
    const out = new Uint32Array(2 * n);
    foldRuns(w, n, out, totals);
    for (const tlb of ["vmref", "skylake"]) {
      const cfg = { frames: 64, tlb, policy: "clock" as const };
      const recs = new MachineMode({ ...cfg, wasm: true });
      const plain = new MachineMode({ ...cfg, shortcuts: false });
      expect(recs.feedRecords(w, n, totals)).toBe(n);
      plain.feed(w, n);
      const r = recs.result();
      expect(r.faults).toBeGreaterThan(10_000);
      expect(r).toEqual(plain.result());
      expect(recs.cpu.translations).toBe(plain.cpu.translations);
      expect(recs.cpu.tlb.knownMisses).toBe(plain.cpu.tlb.knownMisses);
      expect(tlbState(recs)).toEqual(tlbState(plain));
      // vmref's TLB is the two arrays the loop probes (every such fault shortcut); skylake's has more
      const touches = (recs as unknown as { pt: { missedTouches: number } }).pt.missedTouches;
      if (tlb === "vmref") expect(touches).toBe(r.faults);
      else expect(touches).toBe(0);
    }
  });

  it("starts a walk that missed both levels at the leaf table a faulting walk left (Mmu.missAtLeaf), with the same figures, fault registers and walk record, on every machine arch", () => {
    // 40,000 records over 600 pages in 24 leaf tables (some above 2^32 pages) in 64 frames, a write every
    // fifth, fetches every seventh: faults under known leaf tables, first touches under new ones
    const n = 40_000;
    const w = new Uint32Array(2 * n);
    let x = 4242;
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const k = (x >>> 8) % 600;
      const page = (k % 24) * 512 * 67 + Math.floor(k / 24) * 3 + (k % 3 === 0 ? 2 ** 33 : 0);
      const kind = i % 5 === 0 ? 2 : i % 7 === 0 ? 0 : 1;
      w[2 * i] = (((page % 2 ** 18) << 14) | (((i * 8) & 4095) << 2) | kind) >>> 0;
      w[2 * i + 1] = Math.floor(page / 2 ** 18);
    }
    // what the CPU holds beyond the counters: its fault registers (CR2 and the error code, FAR and ESR, stval and
    // scause), the last fault's kind and level (not `pa`, which the shortcuts do not keep) and the walk record
    const cpuState = (mm: MachineMode) => {
      const c = mm.cpu as unknown as Record<string, unknown>;
      const rec = mm.cpu.walkRec;
      return {
        fields: Object.keys(c)
          .filter(
            (k) => (typeof c[k] === "number" || typeof c[k] === "boolean") && k !== "pa" && k !== "data",
          )
          .map((k) => [k, c[k]]),
        byKind: JSON.stringify(c.faultsByKind),
        rec: [rec.count, rec.faultKind, rec.faultLevel, rec.errorCode, rec.outcome, rec.pscLevel],
        entries: [rec.level, rec.index, rec.entryPa, rec.hi, rec.lo].map((a) =>
          Array.from(a.subarray(0, rec.count)),
        ),
      };
    };
    const leaves = (mm: MachineMode) =>
      (mm as unknown as { pt: { leafTouches: number; useLeaves: boolean } }).pt;
    for (const arch of ["x86_64", "x86_64-la57", "arm64", "riscv-sv48", "riscv-sv57"] as const) {
      const cfg = { frames: 64, tlb: "vmref", policy: "clock" as const, arch };
      const recs = new MachineMode({ ...cfg, wasm: true });
      // every other shortcut the same, the walks from the top (the walk record after a shortcut retry is the
      // fault's, not the retry's: PagerTables.retry), and the plain path
      const top = new MachineMode({ ...cfg, wasm: true });
      leaves(top).useLeaves = false;
      const plain = new MachineMode({ ...cfg, shortcuts: false });
      // fed in pieces, the state compared after each
      for (let at = 0; at < n; at += 4000) {
        const part = w.subarray(2 * at, 2 * (at + 4000));
        expect(recs.feedRecords(part, 4000, recordTotals(part, 4000, new Float64Array(RUN_TOTALS)))).toBe(
          4000,
        );
        expect(top.feedRecords(part, 4000, recordTotals(part, 4000, new Float64Array(RUN_TOTALS)))).toBe(
          4000,
        );
        plain.feed(part, 4000);
        expect(cpuState(recs)).toEqual(cpuState(top));
        expect(cpuState(recs).fields).toEqual(cpuState(plain).fields);
        expect(cpuState(recs).byKind).toEqual(cpuState(plain).byKind);
      }
      const r = recs.result();
      expect(r.faults).toBeGreaterThan(10_000);
      expect(r).toEqual(plain.result());
      expect(top.result()).toEqual(r);
      expect(tlbState(recs)).toEqual(tlbState(plain));
      // nearly every fault but the first under each leaf table starts there
      // (where the loop sends a miss of both levels to touchMissed: arm64's vmref TLB has more arrays)
      const missed = (recs as unknown as { pt: { missedTouches: number } }).pt.missedTouches;
      if (!arch.startsWith("arm64")) expect(missed, arch).toBeGreaterThan(10_000);
      if (missed > 0) expect(leaves(recs).leafTouches, arch).toBeGreaterThan(r.faults * 0.9);
      else expect(leaves(recs).leafTouches, arch).toBe(0);
      expect(leaves(top).leafTouches).toBe(0);
      expect(leaves(plain).leafTouches).toBe(0);
    }
  });

  it("swaps a set's ways 0 and 1 after way-1 hits (the flip bits) before a lookup in the set and at every return", () => {
    // pages of two sets of vmref's unified first level (16 sets): mostly two pages taking turns (a way-1
    // hit each), now and then a third or fourth of the set (a lookup past way 1, a second-level hit, a
    // fault), in batches of odd and even lengths (a flip bit left set at the return or not)
    const pageOf = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(0, 16, 32, 48, 3, 19) },
      { weight: 1, arbitrary: fc.constantFrom(35, 51, 64, 80) },
    );
    const rec = fc.tuple(pageOf, fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 1, max: 3 }));
    // and one call that has it surely: four faults of set 0, then a hit on way 3 (its memo of way 1 then
    // known), a way-1 hit (the set's flip bit set), a lookup of way 2 in the same set, more after it
    const seq = [0, 16, 32, 48, 0, 48, 32, 16, 0, 16, 48];
    const sure = recordWords(seq.map((p) => [p, 8, 1, 1] as [number, number, number, number]));
    const one = new MachineMode({ frames: 16, tlb: "vmref", policy: "clock", wasm: true });
    const plainOne = new MachineMode({ frames: 16, tlb: "vmref", policy: "clock", shortcuts: false });
    for (const at of [4, seq.length]) {
      // (the faults, then the rest in one call)
      const from = at === 4 ? 0 : 4;
      const part = sure.subarray(2 * from, 2 * at);
      const t = new Float64Array(RUN_TOTALS);
      foldRuns(part, at - from, new Uint32Array(2 * seq.length), t);
      expect(one.feedRecords(part, at - from, t)).toBe(at - from);
      plainOne.feed(part, at - from);
    }
    expect(tlbState(one)).toEqual(tlbState(plainOne));
    expect(one.result()).toEqual(plainOne.result());
    fc.assert(
      fc.property(
        fc.array(rec, { minLength: 1, maxLength: 300 }),
        fc.array(fc.integer({ min: 1, max: 120 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 4, max: 12 }),
        (spec, batches, frames) => {
          const w = recordWords(spec.map(([p, off, kind]) => [p, off, kind, 1]));
          const n = w.length / 2;
          const cfg = { frames, tlb: "vmref", policy: "clock" as const };
          const recs = new MachineMode({ ...cfg, wasm: true });
          const plain = new MachineMode({ ...cfg, shortcuts: false });
          const totals = new Float64Array(RUN_TOTALS);
          const out = new Uint32Array(2 * n);
          for (let at = 0, b = 0; at < n; b++) {
            const k = Math.min(batches[b % batches.length], n - at);
            const part = w.subarray(2 * at, 2 * (at + k));
            totals.fill(0);
            foldRuns(part, k, out, totals);
            expect(recs.feedRecords(part, k, totals)).toBe(k);
            plain.feed(part, k);
            expect(tlbState(recs)).toEqual(tlbState(plain));
            at += k;
          }
          expect(recs.result()).toEqual(plain.result());
        },
      ),
      { numRuns: 200 },
    );
  });

  it("takes records up to one that is not a record (feedRecords), with the figures of feed on those before it", () => {
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.constantFrom("vmref", "skylake"),
        fc.boolean(),
        (spec, at, tlb, dataOnly) => {
          const w = recordWords(spec);
          const n = w.length / 2;
          const bad = at % n;
          w[2 * bad + 1] = 131072 + (at % 7); // an address at or beyond 2^47
          const cfg = { frames: 8, tlb, policy: "clock" as const, dataOnly };
          const recs = new MachineMode({ ...cfg, wasm: true });
          const plain = new MachineMode({ ...cfg, shortcuts: false });
          const { mm: inPlace, slot } = sharedMode(cfg);
          slot.set(w);
          // the slot's totals count every record (the reading thread does not look for a bad one)
          const totals = new Float64Array(RUN_TOTALS).fill(1e6);
          expect(recs.feedRecords(w, n, totals)).toBe(bad);
          expect(inPlace.feedRecords(slot, n, totals)).toBe(bad);
          plain.feed(w, bad);
          expect(recs.result()).toEqual(plain.result());
          expect(inPlace.result()).toEqual(plain.result());
        },
      ),
      { numRuns: 150 },
    );
  });
});
