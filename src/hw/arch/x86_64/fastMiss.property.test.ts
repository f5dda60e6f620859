/**
 * The fast TLB-miss path (Cpu.walkFast, Tlb.fillMissed) against the generic
 * walk and fill: two machines run the same random sequence (maps of 4K, 2M
 * and 1G pages, unmaps, permission changes, accessed bits cleared on leaves
 * and tables, reserved bits set, INVLPG/INVPCID/CR3 flushes, PCID switches,
 * CR4.PGE/SMAP/PKE and EFER.NXE changes, accesses of every kind from CPL 0
 * and 3), one with
 * `useFastMiss` off; every outcome, every counter, every TLB array's
 * entries in order and the page tables' bytes (A/D write-backs) must agree.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toPfn, toVpn, type Vpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { countGenericWalks, mmuState, runOnBoth } from "../../mmu/fastMiss.testkit.ts";
import type { Cpu } from "./Cpu.ts";
import { Pte } from "./pte.ts";
import { bareMachine } from "./testkit.ts";

/** pages in play: 12 4K pages over two page tables, two 2M regions, one 1G region */
const NPAGES = 12;
const vpn4k = (i: number) => toVpn(i < 6 ? 0x100 + i : 0x40000 + i);
const vpnLarge = (i: number, size: number) => toVpn(size === 1 ? 512 * (0x10 + i) : 262144 * (3 + i));
/** a vpn inside a large page (its first, or a later 4K piece) */
const inLarge = (i: number, size: number, piece: number) => toVpn(vpnLarge(i, size) + piece * 7);

type Flags = { writable: boolean; user: boolean; nx: boolean; global: boolean; pkey: number };
type Op =
  | ({ op: "map"; page: number; frame: number } & Flags)
  | ({ op: "mapLarge"; size: 1 | 2; region: number } & Flags)
  | { op: "unmap"; page: number }
  | { op: "unmapLarge"; size: 1 | 2; region: number }
  | ({ op: "protect"; page: number } & Flags)
  | { op: "age"; page: number; level: number }
  | { op: "poison"; page: number; level: number; high: boolean }
  | { op: "access"; page: number; large: number; piece: number; access: Access; cpl: 0 | 3 }
  | { op: "cr3"; pcid: number; noFlush: boolean }
  | { op: "invlpg"; page: number }
  | { op: "invpcid"; type: number; pcid: number; page: number }
  | { op: "cr4"; pge: boolean; smap: boolean; pke: boolean; pkru: number }
  | { op: "nxe"; on: boolean };

const flagsArb = {
  writable: fc.constantFrom(true, true, true, false),
  user: fc.constantFrom(true, true, true, false),
  nx: fc.constantFrom(false, false, false, true),
  global: fc.boolean(),
  pkey: fc.constantFrom(0, 0, 0, 1),
};
const accessArb = fc.record({
  op: fc.constant("access" as const),
  page: fc.nat(NPAGES - 1),
  large: fc.constantFrom(0, 0, 0, 1, 2),
  piece: fc.nat(3),
  access: fc.constantFrom(Access.Read, Access.Write, Access.Exec, Access.Read, Access.Write),
  cpl: fc.constantFrom(0 as const, 3 as const, 3 as const),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant("map" as const),
      page: fc.nat(NPAGES - 1),
      frame: fc.integer({ min: 0x800, max: 0x8ff }),
      ...flagsArb,
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("mapLarge" as const),
      size: fc.constantFrom(1 as const, 2 as const),
      region: fc.nat(1),
      ...flagsArb,
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant("unmap" as const), page: fc.nat(NPAGES - 1) }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("unmapLarge" as const),
      size: fc.constantFrom(1 as const, 2 as const),
      region: fc.nat(1),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant("protect" as const), page: fc.nat(NPAGES - 1), ...flagsArb }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant("age" as const), page: fc.nat(NPAGES - 1), level: fc.nat(3) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("poison" as const),
      page: fc.nat(NPAGES - 1),
      level: fc.nat(2),
      high: fc.boolean(),
    }),
    weight: 1,
  },
  { arbitrary: accessArb, weight: 16 },
  {
    arbitrary: fc.record({ op: fc.constant("cr3" as const), pcid: fc.nat(3), noFlush: fc.boolean() }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant("invlpg" as const), page: fc.nat(NPAGES - 1) }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("invpcid" as const),
      type: fc.nat(3),
      pcid: fc.nat(3),
      page: fc.nat(NPAGES - 1),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("cr4" as const),
      pge: fc.boolean(),
      smap: fc.boolean(),
      pke: fc.constantFrom(false, false, true),
      pkru: fc.constantFrom(0, 0xc, 0x4),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant("nxe" as const), on: fc.constantFrom(true, true, false) }),
    weight: 1,
  },
);

const hiOf = (vpn: number) => Math.floor(vpn / 1048576);
const loOf = (vpn: number) => (vpn % 1048576) * 4096;

/** Everything the two paths must agree on (mmuState) and the faults by kind. */
function state(cpu: Cpu, tableFrames: [number, number]): unknown {
  return { ...mmuState(cpu, tableFrames), faultsByKind: { ...cpu.faultsByKind } };
}

function machine(fast: boolean, tlb: string) {
  const b = bareMachine({ tlb, ramBytes: 32 << 20 });
  b.cpu.useFastMiss = fast;
  b.cpu.movToCr4({ pcide: true, smep: true });
  const counts = countGenericWalks(b.cpu); // the fast path's share is the rest
  return { ...b, ...counts };
}

function apply(mc: ReturnType<typeof machine>, o: Op): string {
  const { cpu, mapper, root, m } = mc;
  switch (o.op) {
    case "map": {
      const vpn = vpn4k(o.page);
      if (mapper.lookup(root, vpn) !== null) return "";
      return String(mapper.map(root, vpn, toPfn(o.frame), 0, o).ok);
    }
    case "mapLarge":
      return String(
        mapper.map(
          root,
          vpnLarge(o.region, o.size),
          toPfn(o.size === 1 ? 0x1000 + 512 * o.region : 262144 * (1 + o.region)),
          o.size,
          o,
        ).ok,
      );
    case "unmap":
      return String(mapper.unmap(root, vpn4k(o.page)).ok);
    case "unmapLarge":
      return String(mapper.unmap(root, vpnLarge(o.region, o.size)).ok);
    case "protect":
      return String(mapper.protect(root, vpn4k(o.page), o).ok);
    case "age": {
      // clear A in one entry of the page's walk (Linux's ptep_test_and_clear_young on a leaf)
      const e = mapper.entryAt(root, vpn4k(o.page), o.level);
      if (e === null || (e.lo & Pte.P) === 0) return "";
      m.phys.write32(e.entryPa, (e.lo & ~Pte.A) >>> 0);
      return "aged";
    }
    case "poison": {
      // a reserved bit: bit 51 (above MAXPHYADDR 46), or bit 13 (reserved in a 2M or 1G leaf; an address bit in a PTE)
      const vpn = o.level === 0 ? vpn4k(o.page) : vpnLarge(o.page & 1, o.level);
      const e = mapper.entryAt(root, vpn, o.level);
      if (e === null || (e.lo & Pte.P) === 0) return "";
      if (o.high) m.phys.write32(e.entryPa + 4, (e.hi | (1 << 19)) >>> 0);
      else m.phys.write32(e.entryPa, (e.lo | 0x2000) >>> 0);
      return "poisoned";
    }
    case "access": {
      const vpn: Vpn = o.large === 0 ? vpn4k(o.page) : inLarge(o.page & 1, o.large, o.piece);
      cpu.cpl = o.cpl;
      const out = cpu.translate(hiOf(vpn), loOf(vpn) + 0x123, o.access);
      return `${out}:${cpu.pa}:${cpu.errorCode}:${cpu.faultKind}:${cpu.faultLevel}`;
    }
    case "cr3":
      return String(cpu.movToCr3(o.noFlush ? 0x80000000 : 0, root * 4096 + o.pcid));
    case "invlpg":
      cpu.invlpg(hiOf(vpn4k(o.page)), loOf(vpn4k(o.page)));
      return "";
    case "invpcid":
      return String(cpu.invpcid(o.type, o.pcid, hiOf(vpn4k(o.page)), loOf(vpn4k(o.page))));
    case "cr4":
      cpu.wrpkru(o.pkru);
      return String(cpu.movToCr4({ pge: o.pge, smap: o.smap, pke: o.pke }));
    case "nxe":
      cpu.setNxe(o.on);
      return "";
  }
}

/**
 * Runs ops on both paths; returns the fast machine's walks by path (fastOk: walkFast's, its
 * not-present faults among them; genericOk: the generic walk's successful ones), and the page
 * faults walkFast raised (the faults of walks less those of the generic walk).
 */
function compare(ops: Op[], tlb: string): { fastOk: number; genericOk: number; fastFaults: number } {
  const fast = machine(true, tlb);
  const ref = machine(false, tlb);
  const frames = (): [number, number] => [fast.root, fast.frames.next]; // every table both built
  const r = runOnBoth(fast, ref, ops, apply, (m) => state(m.cpu, frames()));
  // every walk either finds a page or faults: the ref's walk faults are all generic
  const walkFaults = ref.cpu.walks - ref.genericOk();
  return { ...r, fastFaults: walkFaults - (r.generic - r.genericOk) };
}

describe("the fast TLB-miss path against the generic walk (fast-check)", () => {
  for (const tlb of ["skylake", "vmref", "tiny"]) {
    it(`every outcome, counter, TLB entry and table byte agrees (tlb=${tlb})`, () => {
      let fastOk = 0;
      let genericOk = 0;
      let fastFaults = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 30, maxLength: 160, size: "max" }), (ops) => {
          const r = compare(ops, tlb);
          fastOk += r.fastOk;
          genericOk += r.genericOk;
          fastFaults += r.fastFaults;
        }),
        { numRuns: 80, seed: 0xfa57 + tlb.length },
      );
      // the fast path took most walks; the generic one still took those it gives up on
      expect(fastOk).toBeGreaterThan(genericOk);
      expect(genericOk).toBeGreaterThan(0);
      // walkFast raised not-present faults itself (the record compared after every access)
      expect(fastFaults).toBeGreaterThan(0);
    });
  }
});
