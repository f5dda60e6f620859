/**
 * The RISC-V fast TLB-miss path (RiscvCpu.walkFast, Tlb.fillMissed) against
 * the generic walk and fill, under Sv39, Sv48 and Sv57: two machines run the same
 * random sequence (4K pages, megapages and gigapages, unmaps, R/W/X/U/G
 * changes, A or D cleared, G on a pointer, reserved bits and encodings,
 * misaligned superpages, PBMT and N, Svadu/Svpbmt/Svnapot switched,
 * sstatus.SUM/MXR, ASID switches with and without a fence, every form of
 * SFENCE.VMA, accesses of each kind from U- and S-mode), one with
 * `useFastMiss` off; every outcome (scause, stval, PA), every counter, every
 * TLB array's entries in order and the tables' bytes (Svadu A/D
 * write-backs) must agree.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pfnToPa, toPfn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { countGenericWalks, mmuState, runOnBoth } from "../../mmu/fastMiss.testkit.ts";
import type { RiscvCpu } from "./Cpu.ts";
import { Pte, PteHi } from "./format.ts";
import { vpnHalves } from "./Mapper.ts";
import { bareRiscv } from "./testkit.ts";

/** 12 4K pages: 6 in one table, 6 in another (the top half of the VA space: every level's index non-zero) */
const NPAGES = 12;
const HIGH = { 39: 0x7ff_4000, 48: 0xf_f7fc_4000, 57: 0x1f07_fbfc_4000 } as const;
let vaBitsNow: 39 | 48 | 57 = 39;
const vpn4k = (i: number) => (i < 6 ? 0x100 + i : HIGH[vaBitsNow] + i);
/** a megapage (size 1) or a gigapage (size 2) */
const vpnLarge = (i: number, size: number) => (size === 1 ? 512 * (0x10 + i) : 262144 * (3 + i));
const inLarge = (i: number, size: number, piece: number) => vpnLarge(i, size) + piece * 7;

type Flags = {
  readable: boolean;
  writable: boolean;
  user: boolean;
  nx: boolean;
  global: boolean;
  accessed: boolean;
  dirty: boolean;
};
type Op =
  | ({ op: "map"; page: number; frame: number } & Flags)
  | ({ op: "mapLarge"; size: 1 | 2; region: number } & Flags)
  | { op: "unmap"; page: number }
  | { op: "unmapLarge"; size: 1 | 2; region: number }
  | ({ op: "protect"; page: number } & Flags)
  | { op: "age"; page: number; large: number; bit: number }
  | { op: "pointerG"; page: number; level: number }
  | { op: "poison"; page: number; level: number; kind: number }
  | { op: "access"; page: number; large: number; piece: number; access: Access; user: boolean }
  | { op: "asid"; asid: number; fence: boolean }
  | { op: "sfence"; va: boolean; asid: number | null; page: number }
  | { op: "ext"; svadu: boolean; svpbmt: boolean; svnapot: boolean }
  | { op: "sstatus"; sum: boolean; mxr: boolean };

const flagsArb = {
  readable: fc.constantFrom(true, true, true, false),
  writable: fc.constantFrom(true, true, true, false),
  user: fc.constantFrom(true, true, true, false),
  nx: fc.constantFrom(false, false, false, true),
  global: fc.constantFrom(false, false, true),
  accessed: fc.constantFrom(true, true, true, false),
  dirty: fc.constantFrom(true, true, false),
};
const accessArb = fc.record({
  op: fc.constant("access" as const),
  page: fc.nat(NPAGES - 1),
  large: fc.constantFrom(0, 0, 0, 1, 2),
  piece: fc.nat(3),
  access: fc.constantFrom(Access.Read, Access.Write, Access.Exec, Access.Read, Access.Write),
  user: fc.constantFrom(true, true, false),
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
  w(
    fc.record({
      op: fc.constant("age" as const),
      page: fc.nat(NPAGES - 1),
      large: fc.nat(2),
      bit: fc.nat(1),
    }),
    1,
  ),
  w(
    fc.record({
      op: fc.constant("pointerG" as const),
      page: fc.nat(NPAGES - 1),
      level: fc.integer({ min: 1, max: 3 }),
    }),
    1,
  ),
  w(
    fc.record({
      op: fc.constant("poison" as const),
      page: fc.nat(NPAGES - 1),
      level: fc.nat(2),
      kind: fc.nat(5),
    }),
    1,
  ),
  w(accessArb, 16),
  w(fc.record({ op: fc.constant("asid" as const), asid: fc.nat(3), fence: fc.boolean() }), 1),
  w(
    fc.record({
      op: fc.constant("sfence" as const),
      va: fc.boolean(),
      asid: fc.constantFrom(null, 0, 1, 2),
      page: fc.nat(NPAGES - 1),
    }),
    1,
  ),
  w(
    fc.record({
      op: fc.constant("ext" as const),
      svadu: fc.constantFrom(true, true, false),
      svpbmt: fc.boolean(),
      svnapot: fc.boolean(),
    }),
    2,
  ),
  w(fc.record({ op: fc.constant("sstatus" as const), sum: fc.boolean(), mxr: fc.boolean() }), 1),
);

/** Everything the two paths must agree on (mmuState), as every architecture's test. */
function state(cpu: RiscvCpu, tableFrames: [number, number]): unknown {
  return mmuState(cpu, tableFrames);
}

function machine(fast: boolean, tlb: string, vaBits: 39 | 48 | 57) {
  const b = bareRiscv({ tlb, ramBytes: 32 << 20, vaBits, svadu: true });
  b.cpu.useFastMiss = fast;
  const counts = countGenericWalks(b.cpu); // the fast path's share is the rest
  return { ...b, ...counts };
}

function apply(mc: ReturnType<typeof machine>, o: Op): string {
  const { cpu, mapper, root, m, vaBits } = mc;
  // W without R is reserved: the mapper refuses to write it (poison does)
  const flags = (f: Flags) => ({ ...f, writable: f.writable && f.readable });
  switch (o.op) {
    case "map": {
      const vpn = vpn4k(o.page);
      if (mapper.lookup(root, vpn as never) !== null) return "";
      return String(mapper.map(root, vpn as never, toPfn(o.frame), 0, flags(o)).ok);
    }
    case "mapLarge":
      return String(
        mapper.map(
          root,
          vpnLarge(o.region, o.size) as never,
          toPfn(o.size === 1 ? 0x1000 + 512 * o.region : 262144 * (1 + o.region)),
          o.size,
          flags(o),
        ).ok,
      );
    case "unmap":
      return String(mapper.unmap(root, vpn4k(o.page) as never).ok);
    case "unmapLarge":
      return String(mapper.unmap(root, vpnLarge(o.region, o.size) as never).ok);
    case "protect":
      return String(mapper.protect(root, vpn4k(o.page) as never, flags(o)).ok);
    case "age": {
      // A (or D) cleared on a page or a superpage (ptep_test_and_clear_young, ptep_clear_flush_dirty)
      const vpn = o.large === 0 ? vpn4k(o.page) : vpnLarge(o.page & 1, o.large);
      const e = mapper.entryAt(root, vpn as never, o.large);
      if (e === null || (e.lo & Pte.V) === 0) return "";
      m.phys.write32(e.entryPa, (e.lo & ~(o.bit === 0 ? Pte.A : Pte.D)) >>> 0);
      return "aged";
    }
    case "pointerG": {
      const vpn = vpn4k(o.page);
      const e = mapper.entryAt(root, vpn as never, Math.min(o.level, mapper.levels - 1));
      if (e === null || (e.lo & (Pte.V | Pte.R | Pte.W | Pte.X)) !== Pte.V) return "";
      m.phys.write32(e.entryPa, (e.lo | Pte.G) >>> 0);
      return "G";
    }
    case "poison": {
      const large = o.kind === 3 || o.kind === 4;
      const vpn = large ? vpnLarge(o.page & 1, 1 + (o.level & 1)) : vpn4k(o.page);
      const e = mapper.entryAt(root, vpn as never, large ? 1 + (o.level & 1) : o.level);
      if (e === null || (e.lo & Pte.V) === 0) return "";
      const pointer = (e.lo & (Pte.R | Pte.X)) === 0;
      if (o.kind === 0)
        m.phys.write32(e.entryPa + 4, (e.hi | (1 << 22)) >>> 0); // bit 54: reserved
      else if (o.kind === 1 && !pointer)
        m.phys.write32(e.entryPa, ((e.lo & ~Pte.R) | Pte.W) >>> 0); // W without R
      else if (o.kind === 2 && pointer)
        m.phys.write32(e.entryPa, (e.lo | Pte.A) >>> 0); // A in a pointer
      else if (o.kind === 3 && !pointer)
        m.phys.write32(e.entryPa, (e.lo + (1 << Pte.PPN_SHIFT)) >>> 0); // misaligned
      else if (o.kind === 4)
        m.phys.write32(e.entryPa + 4, (e.hi | (o.page & 1 ? PteHi.PBMT_MASK : 1 << 29)) >>> 0);
      else if (o.kind === 5)
        m.phys.write32(e.entryPa + 4, (e.hi | PteHi.N) >>> 0); // Svnapot N
      else return "";
      return "poisoned";
    }
    case "access": {
      const vpn = o.large === 0 ? vpn4k(o.page) : inLarge(o.page & 1, o.large, o.piece);
      const { hi, lo } = vpnHalves(vpn, vaBits);
      cpu.setUserMode(o.user);
      const out = cpu.translate(hi, lo + 0x123, o.access);
      return `${out}:${cpu.pa}:${cpu.scause}:${cpu.stvalHi}:${cpu.stvalLo}:${cpu.faultKind}:${cpu.faultLevel}`;
    }
    case "asid":
      if (o.fence) cpu.loadUserRoot(root, o.asid);
      else cpu.loadSatp(cpu.maxMode, o.asid, pfnToPa(root));
      return "";
    case "sfence": {
      const va = vpnHalves(vpn4k(o.page), vaBits);
      return String(cpu.sfenceVma(o.va ? va : null, o.asid));
    }
    case "ext":
      cpu.setExtensions(o);
      return "";
    case "sstatus":
      cpu.setSum(o.sum);
      cpu.setMxr(o.mxr);
      return "";
  }
}

/**
 * Runs ops on both paths; returns the fast machine's walks by path (runOnBoth:
 * walkFast's V = 0 page faults among its own; every walk it gives up on
 * faults, pointers having no A/D to set, and for Svnapot pages: the generic
 * walk's successes there are those and the dirty assists).
 */
function compare(ops: Op[], tlb: string, vaBits: 39 | 48 | 57) {
  vaBitsNow = vaBits;
  const fast = machine(true, tlb, vaBits);
  const ref = machine(false, tlb, vaBits);
  const frames = (): [number, number] => [fast.root, fast.frames.next]; // every table both built
  return runOnBoth(
    fast,
    ref,
    ops,
    apply,
    (m) => state(m.cpu, frames()),
    (o) => o.op === "access" && o.large === 0 && o.page >= 6,
  );
}

describe("the RISC-V fast TLB-miss path against the generic walk (fast-check)", () => {
  for (const [tlb, vaBits] of [
    ["skylake", 39],
    ["tiny", 57],
    ["vmref", 48],
  ] as const) {
    it(`every outcome, counter, TLB entry and table byte agrees (tlb=${tlb}, Sv${vaBits})`, () => {
      let fastOk = 0;
      let genericOk = 0;
      let generic = 0;
      let fastHigh = 0;
      let fastFaults = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 30, maxLength: 160, size: "max" }), (ops) => {
          const r = compare(ops, tlb, vaBits);
          fastOk += r.fastOk;
          genericOk += r.genericOk;
          generic += r.generic;
          fastHigh += r.fastHigh;
          fastFaults += r.fastFaults;
        }),
        { numRuns: 80, seed: 0x5f39 + tlb.length + vaBits },
      );
      // the fast path took most walks; the generic one the faults walkFast leaves to it
      expect(fastOk).toBeGreaterThan(genericOk);
      expect(generic - genericOk).toBeGreaterThan(0);
      // walkFast raised V = 0 page faults itself (the walk record compared after every access)
      expect(fastFaults).toBeGreaterThan(0);
      expect(fastHigh).toBeGreaterThan(0);
    });
  }
});
