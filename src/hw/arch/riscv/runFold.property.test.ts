/**
 * The fold of resident runs on RISC-V Sv48 (src/hw/mmu/runFold.ts, ./runFold.ts) against the
 * per-access loop of Mmu.accessRun: twin machines run the same random sequence, one with
 * `runFold.enabled` off. Runs of 1..3000 loads or stores (stride 1, 2, 3 or 7 pages, from U or S
 * mode) over 4 leaf tables' worth of pages across a level-3 PTE's boundary, some of them a 2M
 * superpage, with holes, read-only, no-execute, global, A/D-clear, PBMT pages, reserved bits,
 * W without R, PBMT = 3, Svnapot N bits, G on a pointer above, pages mapped onto page-table frames
 * or outside RAM, scattered single accesses, ASID switches with and without SFENCE.VMA, SFENCE.VMA
 * of a page, Svadu on and off, sstatus.SUM/MXR; skylake, tiny and small TLBs. After every run: the
 * count, outcome, counters and walk record; every few ops every TLB entry in order, and the bytes
 * of every table and data frame. And runs over a pattern of leaf flags stop where the per-access
 * loop faults.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pfnToPa, toVpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import {
  applyPattern,
  type CommonOp,
  commonOpArbs,
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
import type { RiscvCpu } from "./Cpu.ts";
import { Pte, PteHi } from "./format.ts";
import { bareRiscv } from "./testkit.ts";

/** the run area: 1024 pages below a level-3 PTE's boundary (512 GiB) */
const R = 2 ** 27 - 1024;

type Flags = {
  writable: boolean;
  user: boolean;
  nx: boolean;
  global: boolean;
  accessed: boolean;
  dirty: boolean;
  pbmt: number;
};
/** a run's mode is U (true) or S */
type Op =
  | CommonOp<Flags, boolean>
  | { op: "age"; page: number; dirtyToo: boolean }
  | { op: "poison"; page: number; kind: number }
  | { op: "globalAbove"; page: number; on: boolean }
  | { op: "asid"; asid: number; flush: boolean }
  | { op: "sfence"; page: number }
  | { op: "svadu"; on: boolean }
  | { op: "sum"; sum: boolean; mxr: boolean };

const flagsArb = {
  writable: fc.constantFrom(true, true, true, false),
  user: fc.constantFrom(true, true, true, true, false),
  nx: fc.constantFrom(false, false, false, true),
  global: fc.constantFrom(false, false, true),
  accessed: fc.constantFrom(true, true, true, false),
  dirty: fc.constantFrom(true, false),
  pbmt: fc.constantFrom(0, 0, 0, 1, 2),
};
const pageArb = fc.nat(NP - 1);
const w = <T>(arbitrary: fc.Arbitrary<T>, weight: number) => ({ arbitrary, weight });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  ...commonOpArbs<Flags, boolean>(flagsArb, fc.constantFrom(true, true, true, false)),
  w(fc.record({ op: fc.constant("age" as const), page: pageArb, dirtyToo: fc.boolean() }), 2),
  // kind 0: a reserved bit (60:54); 1: W without R; 2: the Svnapot N bit toggled; 3: PBMT = 3
  w(fc.record({ op: fc.constant("poison" as const), page: pageArb, kind: fc.nat(3) }), 2),
  w(fc.record({ op: fc.constant("globalAbove" as const), page: pageArb, on: fc.boolean() }), 1),
  w(fc.record({ op: fc.constant("asid" as const), asid: fc.nat(2), flush: fc.boolean() }), 1),
  w(fc.record({ op: fc.constant("sfence" as const), page: pageArb }), 1),
  w(fc.record({ op: fc.constant("svadu" as const), on: fc.constantFrom(true, true, false) }), 1),
  w(fc.record({ op: fc.constant("sum" as const), sum: fc.boolean(), mxr: fc.boolean() }), 1),
);

const hiOf = (vpn: number) => Math.floor(vpn / 1048576);
const loOf = (vpn: number) => (vpn % 1048576) * 4096;

function machine(
  tlb: string,
  big: boolean[],
  fold: boolean,
): FoldTwin<Op> & { cpu: RiscvCpu; area: RunArea } {
  const { cpu, mapper, root, frames, m } = bareRiscv(
    { tlb, ramBytes: RAM_FRAMES * 4096, vaBits: 48, svadu: true, svnapot: true, svpbmt: true },
    1,
  );
  cpu.runFold!.enabled = fold;
  const area = new RunArea(mapper, root, R, big);
  const isBig = (p: number) => area.isBig(p);
  cpu.setUserMode(true);
  const leaf = (page: number) => (isBig(page) ? null : mapper.entryAt(root, toVpn(R + page), 0));
  const apply = (o: Op): string => {
    switch (o.op) {
      case "run": {
        cpu.setUserMode(o.mode);
        const done = cpu.accessRun(
          hiOf(R + o.page),
          loOf(R + o.page) + o.off,
          area.count(o),
          o.step * 4096,
          o.access,
          o.value,
        );
        cpu.setUserMode(true);
        return `${done}:${cpu.runOutcome}:${cpu.pa}:${cpu.data}:${cpu.faultKind}:${cpu.faultLevel}:${cpu.scause}:${cpu.stvalHi}:${cpu.stvalLo}`;
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
      case "age": {
        const e = leaf(o.page);
        if (e === null || (e.lo & Pte.V) === 0) return "";
        m.phys.write32(e.entryPa, (e.lo & ~(Pte.A | (o.dirtyToo ? Pte.D : 0))) >>> 0);
        return "aged";
      }
      case "poison": {
        const e = leaf(o.page);
        if (e === null || (e.lo & Pte.V) === 0) return "";
        if (o.kind === 0) m.phys.write32(e.entryPa + 4, (e.hi | (1 << 22)) >>> 0);
        else if (o.kind === 1) m.phys.write32(e.entryPa, ((e.lo & ~Pte.R) | Pte.W) >>> 0);
        else if (o.kind === 2) m.phys.write32(e.entryPa + 4, (e.hi ^ PteHi.N) >>> 0);
        else m.phys.write32(e.entryPa + 4, (e.hi | PteHi.PBMT_MASK) >>> 0);
        return "poisoned";
      }
      case "globalAbove": {
        // G on the level-1 pointer above the page (a global mapping below it)
        const e = mapper.entryAt(root, toVpn(R + o.page), 1);
        if (e === null || (e.lo & Pte.V) === 0 || (e.lo & (Pte.R | Pte.X)) !== 0) return "";
        m.phys.write32(e.entryPa, (o.on ? e.lo | Pte.G : e.lo & ~Pte.G) >>> 0);
        return "g";
      }
      case "asid":
        if (o.flush) cpu.loadUserRoot(root, o.asid);
        else cpu.loadSatp(cpu.satpMode, o.asid, pfnToPa(root));
        return String(cpu.asid);
      case "sfence":
        return String(cpu.sfenceVmaVa(hiOf(R + o.page), loOf(R + o.page), null));
      case "svadu":
        cpu.setExtensions({ svadu: o.on });
        return "";
      case "sum":
        cpu.setSum(o.sum);
        cpu.setMxr(o.mxr);
        return "";
    }
  };
  return { cpu, area, tables: () => [256, frames.next], apply };
}

describe("runFold against accessRun's per-access loop, RISC-V (fast-check)", () => {
  for (const tlb of ["skylake", "tiny", "16x4,64x8"])
    it(`every run's outcome, counter, walk record, TLB entry and frame byte agrees (tlb=${tlb})`, () => {
      expectFoldAgrees({
        setup: fc.array(fc.constantFrom(false, false, false, true), { minLength: 4, maxLength: 4 }),
        ops: opArb,
        machine: (big, fold) => machine(tlb, big, fold),
        seed: 0x5c0f01d + tlb.length,
      });
    });
});

describe("runFold's leaf checks page by page, RISC-V (fast-check)", () => {
  it("stops where the per-access loop faults: every PTE bit, Svadu, SUM, MXR, U and S mode, reads and writes", () => {
    let stops = 0;
    const flagArb = fc.record({
      ...flagsArb,
      nx: fc.boolean(),
      present: fc.constantFrom(true, true, true, false),
      poison: fc.constantFrom(-1, -1, -1, -1, 0, 1, 2, 3),
    });
    fc.assert(
      fc.property(
        fc.array(flagArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 60 }),
        fc.boolean(),
        fc.record({ sum: fc.boolean(), mxr: fc.boolean() }),
        stopRunArb(fc.constantFrom(true, true, false)),
        (pattern, spacing, svadu, sum, runs) => {
          const twins = [true, false].map((fold) => {
            const t = machine("skylake", [false, false, false, false], fold);
            t.apply({ op: "svadu", on: svadu });
            t.apply({ op: "sum", ...sum });
            applyPattern(t, pattern, spacing);
            return t;
          });
          stops += expectRunsAgree<Op>(twins, runs.map(stopRun));
        },
      ),
      { numRuns: 150, seed: 0x1eaf5c },
    );
    expect(stops).toBeGreaterThan(50);
  });
});

describe("runFold and stores into the tables the run walks, RISC-V Sv48 (fast-check)", () => {
  it("a store through a page mapped onto its own leaf table, the next one or a table above changes what later walks read, as the per-access loop's", () => {
    const hits = expectTableStoresAgree<Op, boolean>({
      machine: (fold) => machine("skylake", [false, false, false, false], fold),
      rw: { writable: true, user: true },
      mode: true,
      levels: 4,
      entryBytes: 8,
      seed: 0x7ab1e5c,
    });
    // runs whose stores the fold made or met in the leaf table, and a later walk of it read
    expect(hits).toBeGreaterThan(20);
  });
});
