/**
 * The fold of resident runs on arm64 (src/hw/mmu/runFold.ts, ./runFold.ts) against the per-access
 * loop of Mmu.accessRun: twin machines run the same random sequence, one with `runFold.enabled`
 * off. Runs of 1..3000 loads or stores (stride 1, 2, 3 or 7 pages, from EL0 or EL1) over 4 leaf
 * tables' worth of pages across an L0 boundary (TTBR0's range, or TTBR1's), some of them a 2M block
 * instead, with holes, read-only, UXN, global (nG = 0), DBM writable-clean, AF-clear and AttrIndx
 * pages, contiguous-bit pages, output addresses beyond the 40-bit output size, reserved (01) L3
 * descriptors, APTable/UXNTable/PXNTable on the tables above, pages mapped onto page-table frames
 * or outside RAM, scattered single accesses, ASID switches with and without TLBI ASIDE1, TLBI
 * VAE1, TCR_EL1.HA/HD, PSTATE.PAN, SCTLR_EL1.WXN; skylake, tiny and small TLBs. After every run:
 * the count, outcome, ESR/FAR, counters and walk record; every few ops every TLB entry in order,
 * and the bytes of every table and data frame. Then runs of stores through pages mapped onto the
 * tables the run walks (its own L3 table, the next one, an L2/L1/L0 table), at a later page's
 * descriptor: the descriptors the fold reads after such a store are the stored bytes'.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pfnToPa, toVpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
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
import { type Arm64Cpu, TTBR1_VPN } from "./Cpu.ts";
import { Desc, DescHi } from "./format.ts";
import type { Arm64MapFlags } from "./Mapper.ts";
import { bareArm64 } from "./testkit.ts";

/** the run area: from R, 1024 pages below an L0 entry's boundary */
const L0_PAGES = 2 ** 27;

type Flags = {
  writable: boolean;
  user: boolean;
  nx: boolean;
  global: boolean;
  dbm: boolean;
  dirty: boolean;
  accessed: boolean;
  attrIndx: number;
};
/** a run's mode is its exception level */
type Op =
  | CommonOp<Flags, 0 | 1>
  | { op: "age"; page: number; clean: boolean }
  | { op: "poison"; page: number; kind: number }
  | { op: "tableBits"; page: number; level: number; bits: number }
  | { op: "asid"; asid: number; flush: boolean }
  | { op: "tlbi"; page: number }
  | { op: "tcr"; ha: boolean; hd: boolean }
  | { op: "pan"; pan: boolean; wxn: boolean };

const flagsArb = {
  writable: fc.constantFrom(true, true, true, false),
  user: fc.constantFrom(true, true, true, true, false),
  nx: fc.constantFrom(false, false, false, true),
  global: fc.constantFrom(false, false, true),
  dbm: fc.constantFrom(false, true, true),
  dirty: fc.boolean(),
  accessed: fc.constantFrom(true, true, true, false),
  attrIndx: fc.constantFrom(0, 0, 0, 4),
};
const pageArb = fc.nat(NP - 1);
const rwFlags: Flags = {
  writable: true,
  user: true,
  nx: false,
  global: false,
  dbm: false,
  dirty: false,
  accessed: true,
  attrIndx: 0,
};
const w = <T>(arbitrary: fc.Arbitrary<T>, weight: number) => ({ arbitrary, weight });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  ...commonOpArbs<Flags, 0 | 1>(flagsArb, fc.constantFrom(0 as const, 0 as const, 0 as const, 1 as const)),
  w(fc.record({ op: fc.constant("age" as const), page: pageArb, clean: fc.boolean() }), 2),
  // kind 0: output address bit 47 (beyond 40 bits); 1: bits[1:0] = 01 (reserved at L3); 2: the
  // Contiguous bit toggled (a 64K translation); 3: the Contiguous bit on 16 aligned pages
  w(fc.record({ op: fc.constant("poison" as const), page: pageArb, kind: fc.nat(3) }), 2),
  w(
    fc.record({
      op: fc.constant("tableBits" as const),
      page: pageArb,
      level: fc.integer({ min: 1, max: 3 }),
      bits: fc.nat(15),
    }),
    1,
  ),
  w(fc.record({ op: fc.constant("asid" as const), asid: fc.nat(2), flush: fc.boolean() }), 1),
  w(fc.record({ op: fc.constant("tlbi" as const), page: pageArb }), 1),
  w(
    fc.record({ op: fc.constant("tcr" as const), ha: fc.constantFrom(true, true, false), hd: fc.boolean() }),
    1,
  ),
  w(
    fc.record({
      op: fc.constant("pan" as const),
      pan: fc.boolean(),
      wxn: fc.constantFrom(false, false, true),
    }),
    1,
  ),
);

/** a page number's VA halves (TTBR1's sign-extended) */
const halves = (vpn: number) => {
  const ttbr1 = vpn >= TTBR1_VPN;
  const low = vpn % TTBR1_VPN;
  return {
    hi: ((ttbr1 ? 0xffff0000 : 0) | Math.floor(low / 1048576)) >>> 0,
    lo: ((low % 1048576) * 4096) >>> 0,
  };
};

/** One machine: the run area (TTBR1's range when `high`) mapped, chunk c of 512 pages a 2M block where big[c]. */
function machine(
  tlb: string,
  big: boolean[],
  high: boolean,
  fold: boolean,
  ramFrames = RAM_FRAMES,
): FoldTwin<Op> & { cpu: Arm64Cpu; area: RunArea<Arm64MapFlags> } {
  const { cpu, mapper, root0, root1, frames, m } = bareArm64({
    tlb,
    ramBytes: ramFrames * 4096,
    paBits: 40,
  });
  cpu.runFold!.enabled = fold;
  cpu.setTcr({ a1: true, ha: true, hd: true });
  const R = (high ? TTBR1_VPN : 0) + L0_PAGES - 1024;
  const root = high ? root1 : root0;
  const area = new RunArea(mapper, root, R, big, { writable: true, user: true, dbm: true });
  const isBig = (p: number) => area.isBig(p);
  cpu.el = 0;
  const leaf = (page: number) => (isBig(page) ? null : mapper.entryAt(root, toVpn(R + page), 0));
  const apply = (o: Op): string => {
    switch (o.op) {
      case "run": {
        cpu.el = o.mode;
        const { hi, lo } = halves(R + o.page);
        const done = cpu.accessRun(hi, lo + o.off, area.count(o), o.step * 4096, o.access, o.value);
        cpu.el = 0;
        return `${done}:${cpu.runOutcome}:${cpu.pa}:${cpu.data}:${cpu.faultKind}:${cpu.faultLevel}:${cpu.esr}:${cpu.farHi}:${cpu.farLo}`;
      }
      case "map":
      case "unmap":
      case "mapEvery":
        return area.apply(o)!;
      case "touch": {
        const { hi, lo } = halves(R + o.page);
        return String(o.access === Access.Write ? cpu.store8(hi, lo, 7) : cpu.load8(hi, lo));
      }
      case "age": {
        // AF cleared (ptep_test_and_clear_young), or a DBM page made clean again (AP[2] set)
        const e = leaf(o.page);
        if (e === null || (e.lo & Desc.VALID) === 0) return "";
        const lo = o.clean ? ((e.hi & DescHi.DBM) !== 0 ? e.lo | Desc.AP2 : e.lo) : e.lo & ~Desc.AF;
        m.phys.write32(e.entryPa, lo >>> 0);
        return "aged";
      }
      case "poison": {
        if (o.kind === 3) {
          const first = o.page - (o.page % 16);
          for (let p = first; p < first + 16; p++) {
            const e = leaf(p);
            if (e !== null && (e.lo & Desc.VALID) !== 0)
              m.phys.write32(e.entryPa + 4, (e.hi | DescHi.CONT) >>> 0);
          }
          return "cont16";
        }
        const e = leaf(o.page);
        if (e === null || (e.lo & Desc.VALID) === 0) return "";
        if (o.kind === 0) m.phys.write32(e.entryPa + 4, (e.hi | (1 << 15)) >>> 0);
        else if (o.kind === 1) m.phys.write32(e.entryPa, (e.lo & ~Desc.TABLE_OR_PAGE) >>> 0);
        else m.phys.write32(e.entryPa + 4, (e.hi ^ DescHi.CONT) >>> 0);
        return "poisoned";
      }
      case "tableBits": {
        // APTable/UXNTable/PXNTable on a table descriptor above the page
        const e = mapper.entryAt(root, toVpn(R + o.page), o.level);
        if (e === null || (e.lo & 3) !== 3) return "";
        m.phys.write32(e.entryPa + 4, ((e.hi & ~(15 << 27)) | (o.bits << 27)) >>> 0);
        return "bits";
      }
      case "asid":
        if (o.flush) cpu.loadUserRoot(root0, o.asid);
        else cpu.switchTtbr0(pfnToPa(root0), o.asid);
        return String(cpu.currentAsid);
      case "tlbi": {
        const { hi, lo } = halves(R + o.page);
        return String(cpu.tlbi("vae1", hi, lo, cpu.asid));
      }
      case "tcr":
        cpu.setTcr({ ha: o.ha, hd: o.hd });
        return "";
      case "pan":
        cpu.setPan(o.pan);
        cpu.setWxn(o.wxn);
        return "";
    }
  };
  return { cpu, area, tables: () => [256, frames.next], apply };
}

describe("runFold against accessRun's per-access loop, arm64 (fast-check)", () => {
  for (const tlb of ["skylake", "tiny", "16x4,64x8"])
    it(`every run's outcome, counter, walk record, TLB entry and frame byte agrees (tlb=${tlb})`, () => {
      expectFoldAgrees({
        setup: fc.tuple(
          fc.array(fc.constantFrom(false, false, false, true), { minLength: 4, maxLength: 4 }),
          fc.constantFrom(false, false, true),
        ),
        ops: opArb,
        machine: ([big, high], fold) => machine(tlb, big, high, fold),
        seed: 0xa64f01d + tlb.length,
      });
    });
});

describe("runFold's leaf checks page by page, arm64 (fast-check)", () => {
  it("stops where the per-access loop faults: every descriptor bit, HA/HD, PAN, WXN, EL, reads and writes", () => {
    let stops = 0;
    const flagArb = fc.record({
      ...flagsArb,
      nx: fc.boolean(),
      present: fc.constantFrom(true, true, true, false),
      poison: fc.constantFrom(-1, -1, -1, -1, 0, 1, 2),
    });
    fc.assert(
      fc.property(
        fc.array(flagArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 60 }),
        fc.record({ ha: fc.boolean(), hd: fc.boolean() }),
        fc.record({ pan: fc.boolean(), wxn: fc.boolean() }),
        stopRunArb(fc.constantFrom(0 as const, 0 as const, 1 as const)),
        (pattern, spacing, tcr, pan, runs) => {
          const twins = [true, false].map((fold) => {
            const t = machine("skylake", [false, false, false, false], false, fold);
            t.apply({ op: "tcr", ...tcr });
            t.apply({ op: "pan", ...pan });
            applyPattern(t, pattern, spacing);
            return t;
          });
          stops += expectRunsAgree<Op>(twins, runs.map(stopRun));
        },
      ),
      { numRuns: 150, seed: 0x1eaf64 },
    );
    expect(stops).toBeGreaterThan(50);
  });
});

describe("runFold and an output address above TCR_EL1.IPS's size inside RAM, arm64 (fast-check)", () => {
  it("stops at each such page (an Address size fault at level 3), as the per-access loop does", () => {
    const FOUR_GIB = 1048576; // frames
    let stops = 0;
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(false, false, false, true), { minLength: 1, maxLength: 9 }),
        fc.array(
          fc.record({ page: fc.nat(700), count: fc.integer({ min: 1, max: 900 }), write: fc.boolean() }),
          { minLength: 1, maxLength: 4 },
        ),
        (pattern, runs) => {
          const twins = [true, false].map((fold) => {
            // 8 GiB of RAM (materialised as written), a 32-bit output size (IPS = 0)
            const t = machine("skylake", [false, false, false, false], false, fold, 2 * FOUR_GIB);
            t.cpu.setTcr({ ips: 0 });
            for (let p = 0; p < NP; p++)
              if (pattern[p % pattern.length]) {
                t.apply({ op: "unmap", page: p });
                t.apply({ op: "map", page: p, frame: FOUR_GIB + DATA + p, ...rwFlags });
              }
            return t;
          });
          stops += expectRunsAgree<Op>(
            twins,
            runs.map((r) => stopRun({ ...r, mode: 0 as const })),
            (cpu) => (cpu as Arm64Cpu).faultsByKind.addressSize > 0,
          );
        },
      ),
      { numRuns: 40, seed: 0x1a5 },
    );
    expect(stops).toBeGreaterThan(10);
  });
});

describe("runFold and stores into the tables the run walks, arm64 (fast-check)", () => {
  it("a store through a page mapped onto its own leaf table, the next one or a table above changes what later walks read, as the per-access loop's", () => {
    for (const high of [false, true]) {
      const hits = expectTableStoresAgree<Op, 0 | 1>({
        machine: (fold) => machine("skylake", [false, false, false, false], high, fold),
        rw: rwFlags,
        mode: 0,
        levels: 4,
        entryBytes: 8,
        seed: high ? 0x7ab1e1 : 0x7ab1e0,
      });
      // runs whose stores the fold made or met in the leaf table, and a later walk of it read
      expect(hits).toBeGreaterThan(20);
    }
  });
});

describe("runFold's next leaf table, arm64", () => {
  it("a run crossing into a table whose first page is contiguous, unmapped or read-only, or a 2M block, leaves that page to the per-access path (walkNext's probe), as the loop does", () => {
    let spans = 0;
    for (const high of [false, true])
      for (const first of ["cont", "unmapped", "readonly"])
        for (const start of [0, 3, 500]) {
          const twins = [true, false].map((fold) => {
            // table 3: one 2M block; table 1's first page as `first`
            const t = machine("skylake", [false, false, false, true], high, fold);
            if (first === "cont")
              t.apply({ op: "poison", page: 512, kind: 3 }); // pages 512-527: one 64K translation
            else t.apply({ op: "unmap", page: 512 });
            if (first === "readonly")
              t.apply({ op: "map", page: 512, frame: DATA + 512, ...rwFlags, writable: false });
            return t;
          });
          // loads and stores from `start` over the area and past it, then from the page after table 1's first
          const runs = [Access.Read, Access.Write, Access.Read, Access.Write].map(
            (access, i): Op => ({
              op: "run",
              page: i < 3 ? start : 513,
              count: NP,
              step: 1,
              off: 8 * i,
              access,
              value: 5 + i,
              mode: 0,
            }),
          );
          expectRunsAgree<Op>(twins, runs);
          spans += twins[0].cpu.runFold!.spans;
        }
    expect(spans).toBeGreaterThan(30);
  });
});
