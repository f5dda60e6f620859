/**
 * The fold of resident runs (src/hw/mmu/runFold.ts, ./runFold.ts, TlbArray.insertRun) against the
 * per-access loop of Mmu.accessRun: twin machines run the same random sequence, one with
 * `runFold.enabled` off. Runs of 1..3000 loads or stores (stride 1, 2, 3 or 7 pages, from CPL 3 or
 * 0) over 4 leaf tables' worth of pages, some of them one 2M page instead, with holes, read-only,
 * no-execute, global, protection-key and PAT/PCD pages, pages mapped onto page-table frames or
 * outside RAM, accessed/dirty bits cleared, scattered single accesses that leave some of a run's
 * pages at every LRU position of the arrays (4K, 2M, and a 1G page elsewhere), PCID switches with
 * and without flush, INVLPG, CR4.PGE/PKE, EFER.NXE, runs of writes whose demand faults a sink
 * resolves inside the run (the kernel's fold: the lookups RunFold.missesAll answers from its marks,
 * kept over a retry unless a TLB insert came between); skylake, tiny and small TLBs. After every run:
 * the count, outcome, registers, counters and walk record; every few ops every TLB entry in order,
 * the evictions, and the bytes of every table and data frame.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toPfn, toVpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import {
  applyPattern,
  type CommonOp,
  commonOpArbs,
  DATA,
  expectFoldAgrees,
  expectRunsAgree,
  expectTableStoresAgree,
  type FoldTwin,
  NP,
  RAM_FRAMES,
  RunArea,
  stopRun,
  stopRunArb,
} from "../../mmu/runFold.testkit.ts";
import { RunFault } from "../../mmu/WalkMemo.ts";
import { WalkRecord } from "../../mmu/WalkRecord.ts";
import type { Cpu } from "./Cpu.ts";
import { Pte } from "./pte.ts";
import { bareMachine } from "./testkit.ts";

/** the run area: from R, a PML4 entry's boundary 1024 pages in */
const R = 0x7f0000000 - 1024;
/** a 1G page elsewhere (its frames outside RAM: loads only, stray reads counted) */
const GIG = 262144 * 5;

type Flags = { writable: boolean; user: boolean; nx: boolean; global: boolean; pkey: number; pcd: boolean };
/** a run's mode is its CPL */
type Op =
  | CommonOp<Flags, 0 | 3>
  | { op: "gig"; piece: number }
  | { op: "age"; page: number; level: number }
  | { op: "cr3"; pcid: number; noFlush: boolean }
  | { op: "invlpg"; page: number }
  | { op: "cr4"; pge: boolean; pke: boolean }
  | { op: "nxe"; on: boolean }
  | {
      op: "frun";
      page: number;
      count: number;
      step: number;
      holes: number;
      touch: number;
      ahead: number;
      anew: number;
    };

const flagsArb = {
  writable: fc.constantFrom(true, true, true, false),
  user: fc.constantFrom(true, true, true, true, false),
  nx: fc.constantFrom(false, false, false, true),
  global: fc.constantFrom(false, false, true),
  pkey: fc.constantFrom(0, 0, 0, 0, 1),
  pcd: fc.constantFrom(false, false, false, true),
};
const pageArb = fc.nat(NP - 1);
const cplArb = fc.constantFrom(3 as const, 3 as const, 3 as const, 0 as const);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  ...commonOpArbs<Flags, 0 | 3>(flagsArb, cplArb),
  { arbitrary: fc.record({ op: fc.constant("gig" as const), piece: fc.nat(1000) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("age" as const), page: pageArb, level: fc.nat(3) }), weight: 2 },
  {
    arbitrary: fc.record({ op: fc.constant("cr3" as const), pcid: fc.nat(2), noFlush: fc.boolean() }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant("invlpg" as const), page: pageArb }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("cr4" as const),
      pge: fc.constantFrom(true, true, false),
      pke: fc.constantFrom(false, false, false, true),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant("nxe" as const), on: fc.constantFrom(true, true, false) }),
    weight: 1,
  },
  {
    // a run of writes whose not-present faults a sink resolves in the run (RunFaultSink, as the
    // kernel's faultfold.ts), every `holes`-th page unmapped first: the page mapped, every
    // `touch`-th fault a kernel load of the page `ahead` run steps on first (a TLB insert between
    // the fault and its retry), every `anew`-th a RetryAnew
    arbitrary: fc.record({
      op: fc.constant("frun" as const),
      page: pageArb,
      count: fc.integer({ min: 1, max: 1500 }),
      step: fc.constantFrom(1, 1, 2, 3),
      holes: fc.constantFrom(0, 1, 1, 3),
      touch: fc.constantFrom(0, 0, 1, 5),
      ahead: fc.constantFrom(1, 2, 4, 40),
      anew: fc.constantFrom(0, 0, 7),
    }),
    weight: 4,
  },
);

const hiOf = (vpn: number) => Math.floor(vpn / 1048576);
const loOf = (vpn: number) => (vpn % 1048576) * 4096;

/** One machine: the run area mapped (chunk c of 512 pages a 2M page where big[c]), a 1G page elsewhere. */
function machine(
  tlb: string,
  big: boolean[],
  nxe: boolean,
  fold: boolean,
): FoldTwin<Op> & { cpu: Cpu; area: RunArea } {
  const { cpu, mapper, root, frames } = bareMachine({ tlb, ramBytes: RAM_FRAMES * 4096 });
  cpu.runFold!.enabled = fold;
  cpu.movToCr4({ pcide: true, pge: true });
  cpu.setNxe(nxe); // off: an XD bit is reserved (SDM §4.5), a fault of its own
  const area = new RunArea(mapper, root, R, big);
  mapper.map(root, toVpn(GIG), toPfn(GIG), 2, { writable: false, user: true });
  cpu.setUserMode(true);
  let pcid = 0;
  const walkOf = (vpn: number) => {
    const r = new WalkRecord();
    cpu.probe(hiOf(vpn), loOf(vpn), Access.Read, Mode.User, r);
    return r;
  };
  const apply = (o: Op): string => {
    switch (o.op) {
      case "run": {
        cpu.setUserMode(o.mode === 3);
        const done = cpu.accessRun(
          hiOf(R + o.page),
          loOf(R + o.page) + o.off,
          area.count(o),
          o.step * 4096,
          o.access,
          o.value,
        );
        cpu.setUserMode(true);
        return `${done}:${cpu.runOutcome}:${cpu.pa}:${cpu.data}:${cpu.faultKind}:${cpu.faultLevel}:${cpu.cr2Lo}:${cpu.errorCode}`;
      }
      case "map":
      case "unmap":
      case "mapEvery":
        return area.apply(o)!;
      case "touch": {
        const vpn = R + o.page;
        return String(
          o.access === Access.Write ? cpu.store8(hiOf(vpn), loOf(vpn), 7) : cpu.load8(hiOf(vpn), loOf(vpn)),
        );
      }
      case "gig":
        return String(cpu.load8(hiOf(GIG + o.piece), loOf(GIG + o.piece)));
      case "age": {
        const r = walkOf(R + o.page);
        if (r.count === 0) return "";
        const k = o.level % r.count;
        cpu.phys.write32(r.entryPa[k], (r.lo[k] & ~(Pte.A | Pte.D)) >>> 0);
        return "aged";
      }
      case "cr3":
        pcid = o.pcid;
        return String(cpu.loadCr3(root * 4096, pcid, o.noFlush));
      case "invlpg":
        cpu.invlpg(hiOf(R + o.page), loOf(R + o.page));
        return "";
      case "cr4":
        return String(cpu.movToCr4({ pge: o.pge, pke: o.pke }));
      case "nxe":
        cpu.setNxe(o.on);
        return "";
      case "frun": {
        let faults = 0;
        cpu.runFaults = {
          runFault(_c, hi, lo) {
            const p = hi * 1048576 + Math.floor(lo / 4096) - R;
            if (p < 0 || p >= NP || area.isBig(p)) return RunFault.NotTaken;
            faults++;
            cpu.setUserMode(false);
            const t = R + p + o.ahead * o.step; // a page ahead of the run
            if (o.touch > 0 && faults % o.touch === 0) cpu.load8(hiOf(t), loOf(t));
            mapper.map(toPfn(root), toVpn(R + p), toPfn(DATA + p), 0, { writable: true, user: true });
            cpu.setUserMode(true);
            return o.anew > 0 && faults % o.anew === 0 ? RunFault.RetryAnew : RunFault.Retry;
          },
        };
        const n = Math.min(o.count, Math.floor((NP + 600 - o.page - 1) / o.step) + 1);
        // every `holes`-th page of the run unmapped first (0: none): demand faults for the sink
        if (o.holes > 0)
          for (let j = 0; j < n; j += o.holes) area.apply({ op: "unmap", page: o.page + j * o.step });
        const done = cpu.accessRun(hiOf(R + o.page), loOf(R + o.page) + 8, n, o.step * 4096, Access.Write, 5);
        cpu.runFaults = null;
        return `${done}:${faults}:${cpu.runOutcome}:${cpu.pa}:${cpu.faultKind}:${cpu.cr2Lo}:${cpu.errorCode}`;
      }
    }
  };
  return { cpu, area, tables: () => [256, frames.next], apply };
}

describe("runFold against accessRun's per-access loop, x86-64 (fast-check)", () => {
  for (const tlb of ["skylake", "tiny", "16x4,64x8"])
    it(`every run's outcome, counter, walk record, TLB entry and frame byte agrees (tlb=${tlb})`, () => {
      let missed = 0;
      expectFoldAgrees({
        setup: fc.tuple(
          fc.array(fc.constantFrom(false, false, true), { minLength: 4, maxLength: 4 }),
          fc.constantFrom(true, false),
        ),
        ops: opArb,
        machine: ([big, nxe], fold) => {
          const m = machine(tlb, big, nxe, fold);
          const apply = m.apply;
          m.apply = (o) => {
            const before = m.cpu.runFold!.missed;
            const r = apply(o);
            missed += m.cpu.runFold!.missed - before;
            return r;
          };
          return m;
        },
        seed: 0xf01d + tlb.length,
      });
      // lookups the marks answered (RunFold.missesAll), many of them the first access of a page
      // whose fault the sink resolved (frun)
      expect(missed).toBeGreaterThan(2000);
    });
});

describe("runFold's leaf checks page by page, x86-64 (fast-check)", () => {
  it("stops where the per-access loop faults: every PTE flag, EFER.NXE, CR4.PKE, CPL, reads and writes", () => {
    let stops = 0;
    const flagArb = fc.record({
      ...flagsArb,
      nx: fc.boolean(),
      present: fc.constantFrom(true, true, true, false),
    });
    fc.assert(
      fc.property(
        fc.array(flagArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 60 }),
        fc.boolean(),
        fc.boolean(),
        stopRunArb(fc.constantFrom(3 as const, 3 as const, 0 as const)),
        (pattern, spacing, nxe, pke, runs) => {
          const twins = [true, false].map((fold) => {
            const t = machine("skylake", [false, false, false, false], nxe, fold);
            t.cpu.movToCr4({ pke });
            applyPattern(t, pattern, spacing);
            return t;
          });
          stops += expectRunsAgree<Op>(twins, runs.map(stopRun));
        },
      ),
      { numRuns: 150, seed: 0x1eaf },
    );
    expect(stops).toBeGreaterThan(50);
  });
});

describe("runFold and stores into the tables the run walks, x86-64 (fast-check)", () => {
  it("a store through a page mapped onto its own leaf table, the next one or a table above changes what later walks read, as the per-access loop's", () => {
    const hits = expectTableStoresAgree<Op, 0 | 3>({
      machine: (fold) => machine("skylake", [false, false, false, false], true, fold),
      rw: { writable: true, user: true },
      mode: 3,
      levels: 4,
      entryBytes: 8,
      seed: 0x7ab1e86,
    });
    // runs whose stores the fold made or met in the leaf table, and a later walk of it read
    expect(hits).toBeGreaterThan(20);
  });
});
