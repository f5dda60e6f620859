/**
 * Mmu.accessRun against one load8/store8 per access on 32-bit x86 (src/hw/mmu/accessRun.testkit.ts),
 * in 32-bit and PAE paging: 64 pages 32 below VA 1 GiB (a 32-bit PT's boundary; PAE: a PT's and
 * the PDPTE 0 -> 1 boundary), so that I386Cpu.walkFast's walk memo (WalkMemo) is kept, used and
 * dropped as it must be. (The testkit's own FIRST is above 4 GiB: page p here is VA (F + p) * 4K.)
 */
import { describe, expect, it } from "vitest";
import { toPfn, toVpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { checkAccessRuns, type RunMachine, runMachine } from "../../mmu/accessRun.testkit.ts";
import { mmuCounters, mmuState, walkRecord } from "../../mmu/fastMiss.testkit.ts";
import { WalkRecord } from "../../mmu/WalkRecord.ts";
import { Pte } from "./pte.ts";
import { bareI386 } from "./testkit.ts";

/** the first page: 32 below VA 1 GiB */
const F = 0x40000 - 32;

function machine(pae: boolean, tlb: string): RunMachine {
  const { cpu, mapper, root, frames } = bareI386({ pae, tlb, ramBytes: 32 << 20 });
  const map = (p: number, pfn: number) =>
    mapper.map(root, toVpn(F + p), toPfn(pfn), 0, { writable: true, user: true }).ok;
  return {
    ...runMachine({
      cpu,
      map,
      unmap: (p) => void mapper.unmap(root, toVpn(F + p)),
      tables: () => [256, frames.next],
      ageMask: (level, dirty) => Pte.A | (dirty && level === 0 ? Pte.D : 0),
      flushAll: () => void cpu.movToCr3(root * 4096),
    }),
    hi: () => 0,
    lo: (p) => (F + p) * 4096,
  };
}

for (const pae of [false, true])
  describe(`accessRun against one load8/store8 per access, i386 ${pae ? "PAE" : "32-bit"} paging (fast-check)`, () => {
    for (const tlb of ["skylake", "tiny"])
      it(`every run's outcome, counter, walk record, TLB entry and frame byte agrees (tlb=${tlb})`, () => {
        checkAccessRuns(() => machine(pae, tlb), 0x386 + tlb.length + (pae ? 7 : 0));
      });
  });

describe("accessRun under a PDE that takes rights away, i386", () => {
  for (const pae of [false, true])
    it(`${pae ? "PAE" : "32-bit"} paging: the rights the memo keeps are the PDE's (a read-only, supervisor PDE)`, () => {
      const [a, b] = [true, false].map((run) => {
        const m = machine(pae, "skylake");
        const r = new WalkRecord();
        m.cpu.probe(0, m.lo(40), Access.Read, Mode.User, r);
        // the PDE above pages 32.. (VA 1 GiB..): R/W and U/S cleared (SDM §4.6: the levels' rights ANDed)
        m.cpu.phys.write32(r.entryPa[0], (r.lo[0] & ~(Pte.RW | Pte.US)) >>> 0);
        m.cpu.setUserMode(false);
        if (run) expect(m.cpu.accessRun(0, m.lo(32), 32, 4096, Access.Read, 0)).toBe(32);
        else for (let p = 32; p < 64; p++) m.cpu.load8(0, m.lo(p));
        // then stores at CPL 0 with CR0.WP = 1: a read-only page faults, whatever the TLB holds
        const stores = [33, 40, 63].map((p) => m.cpu.store8(0, m.lo(p), 1));
        return { m, stores };
      });
      expect(a.stores).toEqual(b.stores);
      expect(a.stores[0]).not.toBe(0);
      expect(walkRecord(a.m.cpu)).toEqual(walkRecord(b.m.cpu));
      expect(mmuCounters(a.m.cpu)).toEqual(mmuCounters(b.m.cpu));
      expect(mmuState(a.m.cpu, a.m.tables())).toEqual(mmuState(b.m.cpu, b.m.tables()));
    });
});
