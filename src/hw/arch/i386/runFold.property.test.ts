/**
 * The fold of resident runs on 32-bit x86 (src/hw/mmu/runFold.ts, ./runFold.ts) against the
 * per-access loop of Mmu.accessRun, in 32-bit paging (1024-entry leaf tables, 4-byte PTEs) and PAE
 * paging (512-entry leaf tables, 8-byte PTEs, XD): twin machines run the same random sequence, one
 * with `runFold.enabled` off. Runs of 1..3000 loads or stores (stride 1, 2, 3 or 7 pages, from CPL
 * 3 or 0) over 2048 pages from R = VA 1G - 2M (two leaf-table boundaries of 32-bit paging, four of
 * PAE, and PAE's PDPTE 0 -> 1 boundary; PAE: some 512-page chunks one 2M page instead), with
 * holes, read-only, no-execute, global and PWT/PCD/PAT pages, pages mapped onto page-table frames
 * or outside RAM, accessed/dirty bits cleared (PTE and PDE), a large page elsewhere (4M or 2M,
 * its frames outside RAM: loads only), MOV to CR3, INVLPG, CR4.PGE/SMEP/SMAP, CR0.WP, EFER.NXE,
 * STAC/CLAC; skylake, tiny and small TLBs. After every run: the count, outcome, registers, counters
 * and walk record; every few ops every TLB entry in order, the evictions, and the bytes of every
 * table and data frame.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toPfn, toVpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
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
import { WalkRecord } from "../../mmu/WalkRecord.ts";
import type { I386Cpu } from "./Cpu.ts";
import { Pte } from "./pte.ts";
import { bareI386 } from "./testkit.ts";

/** the run area: VA 1G - 2M (512-aligned; 1024-aligned + 512: a 32-bit PT's boundary 512 pages in) */
const R = 0x40000 - 512;
/** a large page elsewhere (VA 2G; 4M or 2M, frames outside RAM: loads only, stray reads counted) */
const LARGE = 0x80000;

type Flags = {
  writable: boolean;
  user: boolean;
  nx: boolean;
  global: boolean;
  pwt: boolean;
  pcd: boolean;
  pat: boolean;
};
/** a run's mode is its CPL */
type Op =
  | CommonOp<Flags, 0 | 3>
  | { op: "large"; piece: number }
  | { op: "age"; page: number; level: number }
  | { op: "hi"; page: number; bits: number }
  | { op: "cr3" }
  | { op: "invlpg"; page: number }
  | { op: "cr4"; pge: boolean; smep: boolean; smap: boolean }
  | { op: "wp"; on: boolean }
  | { op: "ac"; on: boolean }
  | { op: "nxe"; on: boolean };

const flagsArb = {
  writable: fc.constantFrom(true, true, true, false),
  user: fc.constantFrom(true, true, true, true, false),
  nx: fc.constantFrom(false, false, false, true),
  global: fc.constantFrom(false, false, true),
  pwt: fc.constantFrom(false, false, false, true),
  pcd: fc.constantFrom(false, false, false, true),
  pat: fc.constantFrom(false, false, false, false, true),
};
const pageArb = fc.nat(NP - 1);
const cplArb = fc.constantFrom(3 as const, 3 as const, 3 as const, 0 as const);
const w = <T>(arbitrary: fc.Arbitrary<T>, weight: number) => ({ arbitrary, weight });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  ...commonOpArbs<Flags, 0 | 3>(flagsArb, cplArb),
  w(fc.record({ op: fc.constant("large" as const), piece: fc.nat(1000) }), 1),
  w(fc.record({ op: fc.constant("age" as const), page: pageArb, level: fc.nat(3) }), 2),
  // PAE: a PTE's high half ORed with PA bit 32 (a frame outside RAM), bit 36 (reserved: MAXPHYADDR 36) or XD
  w(
    fc.record({
      op: fc.constant("hi" as const),
      page: pageArb,
      bits: fc.constantFrom(0x1, 0x10, 0x80000000),
    }),
    2,
  ),
  w(fc.record({ op: fc.constant("cr3" as const) }), 1),
  w(fc.record({ op: fc.constant("invlpg" as const), page: pageArb }), 1),
  w(
    fc.record({
      op: fc.constant("cr4" as const),
      pge: fc.constantFrom(true, true, false),
      smep: fc.constantFrom(false, false, true),
      smap: fc.constantFrom(false, false, true),
    }),
    1,
  ),
  w(fc.record({ op: fc.constant("wp" as const), on: fc.constantFrom(true, true, false) }), 1),
  w(fc.record({ op: fc.constant("ac" as const), on: fc.boolean() }), 1),
  w(fc.record({ op: fc.constant("nxe" as const), on: fc.constantFrom(true, true, false) }), 1),
);

/** One machine: the run area mapped (PAE: chunk c of 512 pages a 2M page where big[c]), a large page elsewhere. */
function machine(
  pae: boolean,
  tlb: string,
  big: boolean[],
  nxe: boolean,
  fold: boolean,
): FoldTwin<Op> & { cpu: I386Cpu; area: RunArea } {
  const { cpu, mapper, root, frames } = bareI386({ pae, tlb, ramBytes: RAM_FRAMES * 4096 });
  cpu.runFold!.enabled = fold;
  cpu.movToCr4({ pge: true });
  cpu.setNxe(nxe); // PAE, off: an XD bit is reserved (SDM §4.4.2), a fault of its own
  // 32-bit paging: no 2M pages (a 4M one spans two of the area's 512-page chunks)
  const area = new RunArea(mapper, root, R, pae ? big : big.map(() => false));
  mapper.map(root, toVpn(LARGE), toPfn(0x8000), 1, { writable: false, user: true });
  cpu.setUserMode(true);
  const walkOf = (vpn: number) => {
    const r = new WalkRecord();
    cpu.probe(0, vpn * 4096, Access.Read, Mode.User, r);
    return r;
  };
  const apply = (o: Op): string => {
    switch (o.op) {
      case "run": {
        cpu.setUserMode(o.mode === 3);
        const done = cpu.accessRun(
          0,
          (R + o.page) * 4096 + o.off,
          area.count(o),
          o.step * 4096,
          o.access,
          o.value,
        );
        cpu.setUserMode(true);
        return `${done}:${cpu.runOutcome}:${cpu.pa}:${cpu.data}:${cpu.faultKind}:${cpu.faultLevel}:${cpu.cr2}:${cpu.errorCode}`;
      }
      case "map":
      case "unmap":
      case "mapEvery":
        return area.apply(o)!;
      case "touch": {
        const va = (R + o.page) * 4096;
        return String(o.access === Access.Write ? cpu.store8(0, va, 7) : cpu.load8(0, va));
      }
      case "large":
        return String(cpu.load8(0, (LARGE + o.piece) * 4096));
      case "age": {
        const r = walkOf(R + o.page);
        if (r.count === 0) return "";
        const k = o.level % r.count;
        cpu.phys.write32(r.entryPa[k], (r.lo[k] & ~(Pte.A | Pte.D)) >>> 0);
        return "aged";
      }
      case "hi": {
        const r = walkOf(R + o.page);
        if (!pae || r.count !== 2 || r.size !== 0) return "";
        cpu.phys.write32(r.entryPa[1] + 4, (r.hi[1] | o.bits) >>> 0);
        return "hi";
      }
      case "cr3":
        return String(cpu.movToCr3(root * 4096));
      case "invlpg":
        cpu.invlpg((R + o.page) * 4096);
        return "";
      case "cr4":
        return String(cpu.movToCr4({ pge: o.pge, smep: o.smep, smap: o.smap }));
      case "wp":
        cpu.setWp(o.on);
        return "";
      case "ac":
        if (o.on) cpu.stac();
        else cpu.clac();
        return "";
      case "nxe":
        cpu.setNxe(o.on);
        return "";
    }
  };
  return { cpu, area, tables: () => [256, frames.next], apply };
}

for (const pae of [false, true]) {
  const name = pae ? "PAE paging" : "32-bit paging";
  describe(`runFold against accessRun's per-access loop, i386 ${name} (fast-check)`, () => {
    for (const tlb of ["skylake", "tiny", "16x4,64x8"])
      it(`every run's outcome, counter, walk record, TLB entry and frame byte agrees (tlb=${tlb})`, () => {
        expectFoldAgrees({
          setup: fc.tuple(
            fc.array(fc.constantFrom(false, false, true), { minLength: 4, maxLength: 4 }),
            fc.constantFrom(true, false),
          ),
          ops: opArb,
          machine: ([big, nxe], fold) => machine(pae, tlb, big, nxe, fold),
          seed: 0x1386 + tlb.length + (pae ? 100 : 0),
        });
      });
  });

  describe(`runFold's leaf checks page by page, i386 ${name} (fast-check)`, () => {
    it("stops where the per-access loop faults: every PTE flag, EFER.NXE, CR0.WP, SMEP/SMAP, CPL, reads and writes", () => {
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
          fc.record({ wp: fc.boolean(), smep: fc.boolean(), smap: fc.boolean(), pge: fc.boolean() }),
          stopRunArb(fc.constantFrom(3 as const, 3 as const, 0 as const)),
          (pattern, spacing, nxe, ctl, runs) => {
            const twins = [true, false].map((fold) => {
              const t = machine(pae, "skylake", [false, false, false, false], nxe, fold);
              t.cpu.setWp(ctl.wp);
              t.cpu.movToCr4({ smep: ctl.smep, smap: ctl.smap, pge: ctl.pge });
              applyPattern(t, pattern, spacing);
              return t;
            });
            stops += expectRunsAgree<Op>(twins, runs.map(stopRun));
          },
        ),
        { numRuns: 150, seed: 0x1eaf + (pae ? 1 : 0) },
      );
      expect(stops).toBeGreaterThan(50);
    });
  });
}

describe("runFold and a store into the PD it remembers (i386)", () => {
  for (const pae of [false, true])
    it(`${pae ? "PAE" : "32-bit"} paging: a run that clears its PDE's U/S faults on the next page, folded or not`, () => {
      const outs = [true, false].map((fold) => {
        const t = machine(pae, "skylake", [false, false, false, false], true, fold);
        const r = new WalkRecord();
        t.cpu.probe(0, (R + 100) * 4096, Access.Read, Mode.User, r);
        const pdePa = r.entryPa[0];
        // page 100 onto the PD's frame: a store at the PDE's offset writes its low byte
        const flags = {
          writable: true,
          user: true,
          nx: false,
          global: false,
          pwt: false,
          pcd: false,
          pat: false,
        };
        t.apply({ op: "map", page: 100, frame: Math.floor(pdePa / 4096), ...flags });
        const run: Op = {
          op: "run",
          page: 90,
          count: 40,
          step: 1,
          off: pdePa & 4095,
          access: Access.Write,
          value: r.lo[0] & 0xff & ~Pte.US,
          mode: 3,
        };
        return { out: t.apply(run), t };
      });
      expect(outs[0].out).toBe(outs[1].out);
      expect(outs[0].out.split(":")[0]).toBe("11"); // pages 90..100 done, 101 a user access to a supervisor PDE
      expect(outs[0].t.cpu.runFold!.pages).toBeGreaterThan(5);
      expect(outs[0].t.cpu.errorCode).toBe(0x7); // P | W/R | U/S (SDM §4.7)
    });
});

describe("runFold and stores into the tables the run walks, i386 (fast-check)", () => {
  for (const pae of [false, true])
    it(`${pae ? "PAE" : "32-bit"} paging: a store through a page mapped onto its own page table, the next one or a table above changes what later walks read, as the per-access loop's`, () => {
      const hits = expectTableStoresAgree<Op, 0 | 3>({
        machine: (fold) => machine(pae, "skylake", [false, false, false, false], true, fold),
        rw: { writable: true, user: true },
        mode: 3,
        levels: pae ? 3 : 2,
        entryBytes: pae ? 8 : 4,
        tablePages: pae ? 512 : 1024,
        seed: pae ? 0x7ab1ea3 : 0x7ab1e32,
      });
      // runs whose stores the fold made or met in the leaf table, and a later walk of it read
      expect(hits).toBeGreaterThan(20);
    });
});
