/**
 * The arm64 fast TLB-miss path (Arm64Cpu.walkFast, Tlb.fillMissed) against
 * the generic walk and fill: two machines run the same random sequence
 * (pages of TTBR0's and TTBR1's ranges, 2M and 1G blocks, unmaps, AP/UXN/PXN
 * and DBM changes, AF cleared, APTable/UXNTable/PXNTable set on table
 * descriptors, output addresses beyond the output size, reserved L3
 * descriptors, TCR_EL1.HA/HD/EPD0, ASID switches with and without TLBI
 * ASIDE1, the TLBIs, PSTATE.PAN, SCTLR_EL1.WXN, accesses of each kind from
 * EL0, EL1 and LDTR/STTR), one with `useFastMiss` off; every outcome
 * (ESR, FAR, PA), every counter, every TLB array's entries in order and the
 * tables' bytes (AF and dirty-state write-backs) must agree.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pfnToPa, toPfn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { countGenericWalks, mmuState, runOnBoth } from "../../mmu/fastMiss.testkit.ts";
import { type Arm64Cpu, TLBI_OPS, type TlbiOp, TTBR1_VPN } from "./Cpu.ts";
import { Desc, DescHi } from "./format.ts";
import { bareArm64 } from "./testkit.ts";

/** 12 4K pages: 4 in one user L3 table, 4 in another, 4 in TTBR1's range */
const NPAGES = 12;
const vpn4k = (i: number) =>
  i < 4 ? 0x400 + i : i < 8 ? 0x4_0000 + i : TTBR1_VPN + 0x8_0000_0000 + 0x200 + i;
/** a 2M block (size 1) or a 1G block (size 2) of the user range */
const vpnLarge = (i: number, size: number) => (size === 1 ? 512 * (0x10 + i) : 262144 * (3 + i));
const inLarge = (i: number, size: number, piece: number) => vpnLarge(i, size) + piece * 7;

type Flags = {
  writable: boolean;
  user: boolean;
  nx: boolean;
  global: boolean;
  dbm: boolean;
  accessed: boolean;
};
type Op =
  | ({ op: "map"; page: number; frame: number } & Flags)
  | ({ op: "mapLarge"; size: 1 | 2; region: number } & Flags)
  | { op: "unmap"; page: number }
  | { op: "unmapLarge"; size: 1 | 2; region: number }
  | ({ op: "protect"; page: number } & Flags)
  | { op: "age"; page: number; large: number }
  | { op: "tableBits"; page: number; level: number; bits: number }
  | { op: "poison"; page: number; level: number; kind: number }
  | { op: "cont"; page: number }
  | { op: "access"; page: number; large: number; piece: number; access: Access; el: 0 | 1; unpriv: boolean }
  | { op: "asid"; asid: number; flush: boolean }
  | { op: "tlbi"; how: number; page: number; asid: number }
  | { op: "tlbiRange"; how: number; page: number; pages: number; asid: number }
  | { op: "tcr"; ha: boolean; hd: boolean; epd0: boolean }
  | { op: "pan"; pan: boolean; wxn: boolean };

const flagsArb = {
  writable: fc.constantFrom(true, true, true, false),
  user: fc.constantFrom(true, true, true, false),
  nx: fc.constantFrom(false, false, false, true),
  global: fc.boolean(),
  dbm: fc.constantFrom(false, false, true),
  accessed: fc.constantFrom(true, true, true, false),
};
const accessArb = fc.record({
  op: fc.constant("access" as const),
  page: fc.nat(NPAGES - 1),
  large: fc.constantFrom(0, 0, 0, 1, 2),
  piece: fc.nat(3),
  access: fc.constantFrom(Access.Read, Access.Write, Access.Exec, Access.Read, Access.Write),
  el: fc.constantFrom(0 as const, 0 as const, 1 as const),
  unpriv: fc.constantFrom(false, false, true),
});
const w = <T>(arbitrary: fc.Arbitrary<T>, weight: number) => ({ arbitrary, weight });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  w(
    fc.record({
      op: fc.constant("map" as const),
      page: fc.nat(NPAGES - 1),
      frame: fc.integer({ min: 0x800, max: 0x8ff }),
      ...flagsArb,
    }),
    3,
  ),
  w(
    fc.record({
      op: fc.constant("mapLarge" as const),
      size: fc.constantFrom(1 as const, 2 as const),
      region: fc.nat(1),
      ...flagsArb,
    }),
    1,
  ),
  w(fc.record({ op: fc.constant("unmap" as const), page: fc.nat(NPAGES - 1) }), 1),
  w(
    fc.record({
      op: fc.constant("unmapLarge" as const),
      size: fc.constantFrom(1 as const, 2 as const),
      region: fc.nat(1),
    }),
    1,
  ),
  w(fc.record({ op: fc.constant("protect" as const), page: fc.nat(NPAGES - 1), ...flagsArb }), 1),
  w(fc.record({ op: fc.constant("age" as const), page: fc.nat(NPAGES - 1), large: fc.nat(2) }), 1),
  w(
    fc.record({
      op: fc.constant("tableBits" as const),
      page: fc.nat(NPAGES - 1),
      level: fc.integer({ min: 1, max: 3 }),
      bits: fc.nat(15),
    }),
    1,
  ),
  w(
    fc.record({
      op: fc.constant("poison" as const),
      page: fc.nat(NPAGES - 1),
      level: fc.nat(3),
      kind: fc.nat(1),
    }),
    1,
  ),
  w(fc.record({ op: fc.constant("cont" as const), page: fc.nat(NPAGES - 1) }), 1),
  w(accessArb, 16),
  w(fc.record({ op: fc.constant("asid" as const), asid: fc.nat(3), flush: fc.boolean() }), 1),
  w(
    fc.record({
      op: fc.constant("tlbi" as const),
      how: fc.nat(TLBI_OPS.length - 1),
      page: fc.nat(NPAGES - 1),
      asid: fc.nat(3),
    }),
    1,
  ),
  w(
    fc.record({
      op: fc.constant("tlbiRange" as const),
      how: fc.nat(3),
      page: fc.nat(NPAGES - 1),
      pages: fc.integer({ min: 1, max: 40 }),
      asid: fc.nat(3),
    }),
    1,
  ),
  w(
    fc.record({
      op: fc.constant("tcr" as const),
      ha: fc.constantFrom(true, true, false),
      hd: fc.boolean(),
      epd0: fc.constantFrom(false, false, false, true),
    }),
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

const halves = (vpn: number) => {
  const ttbr1 = vpn >= TTBR1_VPN;
  const low = vpn % TTBR1_VPN;
  return {
    hi: ((ttbr1 ? 0xffff0000 : 0) | Math.floor(low / 1048576)) >>> 0,
    lo: ((low % 1048576) * 4096) >>> 0,
  };
};

/** Everything the two paths must agree on (mmuState) and the faults by kind. */
function state(cpu: Arm64Cpu, tableFrames: [number, number]): unknown {
  return { ...mmuState(cpu, tableFrames), faultsByKind: { ...cpu.faultsByKind } };
}

function machine(fast: boolean, tlb: string) {
  // a 40-bit output size: descriptor address bits 47:40 are an Address size fault
  const b = bareArm64({ tlb, ramBytes: 32 << 20, paBits: 40 });
  b.cpu.useFastMiss = fast;
  b.cpu.setTcr({ a1: true });
  const counts = countGenericWalks(b.cpu); // the fast path's share is the rest
  return { ...b, ...counts };
}

function apply(mc: ReturnType<typeof machine>, o: Op): string {
  const { cpu, mapper, root0, root1, m } = mc;
  const rootOf = (vpn: number) => (vpn >= TTBR1_VPN ? root1 : root0);
  switch (o.op) {
    case "map": {
      const vpn = vpn4k(o.page);
      if (mapper.lookup(rootOf(vpn), vpn as never) !== null) return "";
      return String(mapper.map(rootOf(vpn), vpn as never, toPfn(o.frame), 0, o).ok);
    }
    case "mapLarge":
      return String(
        mapper.map(
          root0,
          vpnLarge(o.region, o.size) as never,
          toPfn(o.size === 1 ? 0x1000 + 512 * o.region : 262144 * (1 + o.region)),
          o.size,
          o,
        ).ok,
      );
    case "unmap":
      return String(mapper.unmap(rootOf(vpn4k(o.page)), vpn4k(o.page) as never).ok);
    case "unmapLarge":
      return String(mapper.unmap(root0, vpnLarge(o.region, o.size) as never).ok);
    case "protect":
      return String(mapper.protect(rootOf(vpn4k(o.page)), vpn4k(o.page) as never, o).ok);
    case "age": {
      // AF cleared (ptep_test_and_clear_young) on a page or a block
      const vpn = o.large === 0 ? vpn4k(o.page) : vpnLarge(o.page & 1, o.large);
      const e = mapper.entryAt(rootOf(vpn), vpn as never, o.large);
      if (e === null || (e.lo & Desc.VALID) === 0) return "";
      m.phys.write32(e.entryPa, (e.lo & ~Desc.AF) >>> 0);
      return "aged";
    }
    case "cont": {
      // the Contiguous bit (D8.6.1) toggled on a page descriptor: a 64K translation from its
      // block's first frame (consistent or misprogrammed, both paths must agree)
      const vpn = vpn4k(o.page);
      const e = mapper.entryAt(rootOf(vpn), vpn as never, 0);
      if (e === null || (e.lo & Desc.VALID) === 0) return "";
      m.phys.write32(e.entryPa + 4, (e.hi ^ DescHi.CONT) >>> 0);
      return "cont";
    }
    case "tableBits": {
      // APTable/UXNTable/PXNTable on a table descriptor above the page
      const vpn = vpn4k(o.page);
      const e = mapper.entryAt(rootOf(vpn), vpn as never, o.level);
      if (e === null || (e.lo & 3) !== 3) return "";
      m.phys.write32(e.entryPa + 4, ((e.hi & ~(15 << 27)) | (o.bits << 27)) >>> 0);
      return "bits";
    }
    case "poison": {
      // kind 0: output address bit 47 (beyond 40 bits); kind 1: bits[1:0] = 01 at L3 (reserved)
      const vpn = vpn4k(o.page);
      const level = o.kind === 1 ? 0 : o.level;
      const e = mapper.entryAt(rootOf(vpn), vpn as never, level);
      if (e === null || (e.lo & Desc.VALID) === 0) return "";
      if (o.kind === 0) m.phys.write32(e.entryPa + 4, (e.hi | (1 << 15)) >>> 0);
      else m.phys.write32(e.entryPa, (e.lo & ~Desc.TABLE_OR_PAGE) >>> 0);
      return "poisoned";
    }
    case "access": {
      const vpn = o.large === 0 ? vpn4k(o.page) : inLarge(o.page & 1, o.large, o.piece);
      const { hi, lo } = halves(vpn);
      cpu.el = o.el;
      const unpriv = o.unpriv && o.el === 1 && o.access !== Access.Exec; // LDTR/STTR
      const mode = o.el === 0 || unpriv ? Mode.User : Mode.Supervisor;
      const out = cpu.translateAs(hi, lo + 0x123, o.access, mode);
      return `${out}:${cpu.pa}:${cpu.esr}:${cpu.farHi}:${cpu.farLo}:${cpu.faultKind}:${cpu.faultLevel}`;
    }
    case "asid":
      if (o.flush) cpu.loadUserRoot(root0, o.asid);
      else cpu.switchTtbr0(pfnToPa(root0), o.asid);
      return String(cpu.currentAsid);
    case "tlbi": {
      const op: TlbiOp = TLBI_OPS[o.how];
      const { hi, lo } = halves(vpn4k(o.page));
      return String(cpu.tlbi(op, hi, lo, o.asid));
    }
    case "tlbiRange": {
      // FEAT_TLBIRANGE: every page of the range from the page, as the VA forms match them
      const op = (["rvae1", "rvale1", "rvaae1", "rvaale1"] as const)[o.how];
      const { hi, lo } = halves(vpn4k(o.page));
      return String(cpu.tlbiRange(op, hi, lo, o.pages, o.asid));
    }
    case "tcr":
      cpu.setTcr({ ha: o.ha, hd: o.hd, epd0: o.epd0 });
      return "";
    case "pan":
      cpu.setPan(o.pan);
      cpu.setWxn(o.wxn);
      return "";
  }
}

/**
 * Runs ops on both paths; returns the fast machine's walks by path (runOnBoth:
 * walkFast's Translation faults among its own; every walk it gives up on
 * faults, as arm64 table descriptors have no AF to set: the generic walk's
 * successes there are dirty assists).
 */
function compare(ops: Op[], tlb: string) {
  const fast = machine(true, tlb);
  const ref = machine(false, tlb);
  const frames = (): [number, number] => [fast.root0, fast.frames.next]; // every table both built
  return runOnBoth(
    fast,
    ref,
    ops,
    apply,
    (m) => state(m.cpu, frames()),
    (o) => o.op === "access" && o.large === 0 && o.page >= 8,
  );
}

describe("the arm64 fast TLB-miss path against the generic walk (fast-check)", () => {
  for (const tlb of ["skylake", "vmref", "tiny"]) {
    it(`every outcome, counter, TLB entry and table byte agrees (tlb=${tlb})`, () => {
      let fastOk = 0;
      let genericOk = 0;
      let generic = 0;
      let fastHigh = 0;
      let fastFaults = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 30, maxLength: 160, size: "max" }), (ops) => {
          const r = compare(ops, tlb);
          fastOk += r.fastOk;
          genericOk += r.genericOk;
          generic += r.generic;
          fastHigh += r.fastHigh;
          fastFaults += r.fastFaults;
        }),
        { numRuns: 80, seed: 0xa64f + tlb.length },
      );
      // the fast path took most walks; the generic one the faults walkFast leaves to it
      expect(fastOk).toBeGreaterThan(genericOk);
      expect(generic - genericOk).toBeGreaterThan(0);
      // walkFast raised Translation faults itself (the walk record compared after every access)
      expect(fastFaults).toBeGreaterThan(0);
      expect(fastHigh).toBeGreaterThan(0);
    });
  }
});
