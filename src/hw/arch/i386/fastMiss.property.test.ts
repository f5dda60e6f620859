/**
 * The 32-bit x86 fast TLB-miss path (I386Cpu.walkFast, Tlb.fillMissed)
 * against the generic walk and fill, in 32-bit paging and PAE paging: two
 * machines run the same random sequence (maps of 4K and large pages, 4M
 * ones above 4 GiB through PSE-36, unmaps, permission changes, accessed bits
 * cleared on leaves and PDEs, reserved bits set, PDPTE 3 in memory switched
 * to another PD (its register reloaded only by MOV to CR3), INVLPG, CR4.PSE/PGE/SMAP and EFER.NXE
 * changes, accesses of every kind from CPL 0 and 3), one with `useFastMiss`
 * off; every outcome, every counter, every TLB array's entries in order (and
 * evictions) and the page tables' bytes (A/D write-backs) must agree.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pfnToPa, toPfn, toVpn, type Vpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { countGenericWalks, mmuState, runOnBoth } from "../../mmu/fastMiss.testkit.ts";
import type { TlbSpec } from "../../mmu/Tlb.ts";
import type { I386Cpu } from "./Cpu.ts";
import { Pte } from "./pte.ts";
import { bareI386 } from "./testkit.ts";

/** pages in play: 12 4K pages, 6 under PDPTE 0 (VA 0x100000..) and 6 under PDPTE 3 (VA 0xc0100000..) */
const NPAGES = 12;
const vpn4k = (i: number) => toVpn(i < 6 ? 0x100 + i : 0xc0100 + i);
/** two large regions (4M or 2M), one under PDPTE 0 and one under PDPTE 3 */
const vpnLarge = (region: number, per: number) => toVpn((region === 0 ? 0 : 0xc0000) + per * 0x10);
const inLarge = (region: number, per: number, piece: number) => toVpn(vpnLarge(region, per) + piece * 7);

type Flags = { writable: boolean; user: boolean; nx: boolean; global: boolean };
type Op =
  | ({ op: "map"; page: number; frame: number; high: boolean } & Flags)
  | ({ op: "mapLarge"; region: number; high: boolean } & Flags)
  | { op: "unmap"; page: number }
  | { op: "unmapLarge"; region: number }
  | ({ op: "protect"; page: number } & Flags)
  | { op: "age"; page: number; level: number }
  | { op: "poison"; page: number; level: number; high: boolean }
  | { op: "access"; page: number; large: boolean; piece: number; access: Access; cpl: 0 | 3 }
  | { op: "cr3" }
  | { op: "pdpt" }
  | { op: "invlpg"; page: number; large: boolean }
  | { op: "cr4"; pse: boolean; pge: boolean; smap: boolean }
  | { op: "nxe"; on: boolean };

const flagsArb = {
  writable: fc.constantFrom(true, true, true, false),
  user: fc.constantFrom(true, true, true, false),
  nx: fc.constantFrom(false, false, false, true),
  global: fc.boolean(),
};
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant("map" as const),
      page: fc.nat(NPAGES - 1),
      frame: fc.integer({ min: 0x800, max: 0x8ff }),
      high: fc.constantFrom(false, false, true),
      ...flagsArb,
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("mapLarge" as const),
      region: fc.nat(1),
      high: fc.boolean(),
      ...flagsArb,
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant("unmap" as const), page: fc.nat(NPAGES - 1) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("unmapLarge" as const), region: fc.nat(1) }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant("protect" as const), page: fc.nat(NPAGES - 1), ...flagsArb }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant("age" as const), page: fc.nat(NPAGES - 1), level: fc.nat(1) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("poison" as const),
      page: fc.nat(NPAGES - 1),
      level: fc.nat(1),
      high: fc.boolean(),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("access" as const),
      page: fc.nat(NPAGES - 1),
      large: fc.constantFrom(false, false, false, true),
      piece: fc.nat(3),
      access: fc.constantFrom(Access.Read, Access.Write, Access.Exec, Access.Read, Access.Write),
      cpl: fc.constantFrom(0 as const, 3 as const, 3 as const),
    }),
    weight: 16,
  },
  { arbitrary: fc.record({ op: fc.constant("cr3" as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("pdpt" as const) }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("invlpg" as const),
      page: fc.nat(NPAGES - 1),
      large: fc.boolean(),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("cr4" as const),
      pse: fc.constantFrom(true, true, true, false),
      pge: fc.boolean(),
      smap: fc.boolean(),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant("nxe" as const), on: fc.constantFrom(true, true, false) }),
    weight: 1,
  },
);

/** Everything the two paths must agree on (mmuState), the faults by kind and the PDPTE registers. */
function state(cpu: I386Cpu, tableFrames: [number, number]): unknown {
  return {
    ...mmuState(cpu, tableFrames),
    faultsByKind: { ...cpu.faultsByKind },
    pdpte: [...cpu.pdpteHi, ...cpu.pdpteLo],
  };
}

/**
 * skylake's split arrays, small: an instruction fetch's 4K entry outlives its copy in the L2 array,
 * so a data access can miss everywhere and fault while the fetch entry of the page is still held
 * (the fault's invalidation must then drop it, SDM §4.10.4.1)
 */
const SMALL_SPLIT: TlbSpec = [
  {
    name: "L1",
    arrays: [
      { entries: 4, ways: 2, sizes: ["4K"], kind: "data" },
      { entries: 2, ways: 2, sizes: ["2M"], kind: "data" },
      { entries: 16, ways: 4, sizes: ["4K"], kind: "instr" },
      { entries: 4, ways: 4, sizes: ["2M"], kind: "instr" },
    ],
  },
  { name: "L2", arrays: [{ entries: 4, ways: 2, sizes: ["4K", "2M"], kind: "unified" }] },
];

function machine(fast: boolean, pae: boolean, tlb: string | TlbSpec) {
  const b = bareI386({ pae, tlb, ramBytes: 32 << 20 });
  b.cpu.useFastMiss = fast;
  b.cpu.movToCr4({ smep: true });
  const counts = countGenericWalks(b.cpu); // the fast path's share is the rest
  // PAE: PDPTE 3 in memory switches between its PD and a spare one (empty at first; the mapper, which
  // reads the PDPT in memory, then maps into it) while the register keeps the old PD until MOV to CR3
  const spare = b.frames.allocFrame();
  if (spare === -1) throw new Error("no frame for the spare PD");
  b.m.phys.zeroFrame(spare);
  const pdpte3 = [b.m.phys.read32(pfnToPa(b.root) + 24), (pfnToPa(spare) | Pte.P) >>> 0];
  let which = 0;
  const switchPdpte3 = () => {
    which ^= 1;
    b.m.phys.write32(pfnToPa(b.root) + 24, pdpte3[which]);
  };
  return {
    ...b,
    pae,
    per: pae ? 512 : 1024,
    switchPdpte3,
    ...counts,
  };
}

function apply(mc: ReturnType<typeof machine>, o: Op): string {
  const { cpu, mapper, root, m, pae, per } = mc;
  switch (o.op) {
    case "map": {
      const vpn = vpn4k(o.page);
      if (mapper.lookup(root, vpn) !== null) return "";
      // PAE: a frame above 4 GiB (the high half's address bits)
      return String(mapper.map(root, vpn, toPfn(o.frame + (pae && o.high ? 0x100000 : 0)), 0, o).ok);
    }
    case "mapLarge": {
      // a frame above 4 GiB: PSE-36 bits of a 4M PDE, or the high half of a 2M one
      const frame = (o.high ? 0x100000 : 0x1000) + per * o.region;
      return String(mapper.map(root, vpnLarge(o.region, per), toPfn(frame), 1, o).ok);
    }
    case "unmap":
      return String(mapper.unmap(root, vpn4k(o.page)).ok);
    case "unmapLarge":
      return String(mapper.unmap(root, vpnLarge(o.region, per)).ok);
    case "protect":
      return String(mapper.protect(root, vpn4k(o.page), o).ok);
    case "age": {
      // clear A in the PTE or the PDE of the page's walk (Linux's ptep_test_and_clear_young on a leaf)
      const e = mapper.entryAt(root, vpn4k(o.page), o.level);
      if (e === null || (e.lo & Pte.P) === 0) return "";
      m.phys.write32(e.entryPa, (e.lo & ~Pte.A) >>> 0);
      return "aged";
    }
    case "poison": {
      // a reserved bit: 32-bit paging, bit 21 of a 4M PDE (a PTE has none); PAE, bit 51 (above
      // MAXPHYADDR 36) or bit 13 (reserved in a 2M PDE, an address bit in a PTE)
      const vpn = o.level === 0 ? vpn4k(o.page) : vpnLarge(o.page & 1, per);
      const e = mapper.entryAt(root, vpn, o.level);
      if (e === null || (e.lo & Pte.P) === 0) return "";
      if (pae && o.high) m.phys.write32(e.entryPa + 4, (e.hi | (1 << 19)) >>> 0);
      else m.phys.write32(e.entryPa, (e.lo | (pae ? 0x2000 : 0x200000)) >>> 0);
      return "poisoned";
    }
    case "access": {
      const vpn: Vpn = o.large ? inLarge(o.page & 1, per, o.piece) : vpn4k(o.page);
      cpu.cpl = o.cpl;
      const out = cpu.translate(0, vpn * 4096 + 0x123, o.access);
      return `${out}:${cpu.pa}:${cpu.errorCode}:${cpu.cr2}:${cpu.faultKind}:${cpu.faultLevel}`;
    }
    case "cr3":
      return String(cpu.movToCr3(pfnToPa(root)));
    case "pdpt":
      if (!pae) return "";
      mc.switchPdpte3();
      return "pdpt";
    case "invlpg":
      cpu.invlpg((o.large ? inLarge(o.page & 1, per, 0) : vpn4k(o.page)) * 4096);
      return "";
    case "cr4":
      return String(cpu.movToCr4({ pse: o.pse, pge: o.pge, smap: o.smap }));
    case "nxe":
      cpu.setNxe(o.on);
      return "";
  }
}

/**
 * Runs ops on both paths; returns the fast machine's walks by path (runOnBoth: fastOk walkFast's,
 * its not-present faults among them; genericOk the generic walk's successful ones) and the page
 * faults walkFast raised itself (fastFaults).
 */
function compare(
  ops: Op[],
  pae: boolean,
  tlb: string | TlbSpec,
): { fastOk: number; genericOk: number; fastFaults: number } {
  const fast = machine(true, pae, tlb);
  const ref = machine(false, pae, tlb);
  const frames = (): [number, number] => [fast.root, fast.frames.next]; // every table both built
  return runOnBoth(fast, ref, ops, apply, (m) => state(m.cpu, frames()));
}

describe("the 32-bit x86 fast TLB-miss path against the generic walk (fast-check)", () => {
  for (const pae of [false, true])
    for (const [name, tlb] of [
      ["skylake", "skylake"],
      ["tiny", "tiny"],
      ["small split", SMALL_SPLIT],
    ] as const) {
      it(`every outcome, counter, TLB entry and table byte agrees (${pae ? "PAE" : "32-bit"}, tlb=${name})`, () => {
        let fastOk = 0;
        let genericOk = 0;
        let fastFaults = 0;
        fc.assert(
          fc.property(fc.array(opArb, { minLength: 30, maxLength: 160, size: "max" }), (ops) => {
            const r = compare(ops, pae, tlb);
            fastOk += r.fastOk;
            genericOk += r.genericOk;
            fastFaults += r.fastFaults;
          }),
          { numRuns: 60, seed: 0x1386 + name.length + (pae ? 100 : 0) },
        );
        // the fast path took most walks; the generic one still took those it gives up on
        expect(fastOk).toBeGreaterThan(genericOk);
        expect(genericOk).toBeGreaterThan(0);
        // walkFast raised not-present faults itself (the record compared after every access, the
        // TLB after the fault's invalidation every 32 ops)
        expect(fastFaults).toBeGreaterThan(0);
      });
    }
});
