/**
 * Property tests over random 32-bit and PAE page tables and accesses (SDM
 * Vol. 3A §4.10.4):
 *
 * 1. With the invalidations software must issue (INVLPG after every change
 *    of a present entry; after a PDPT change, MOV to CR3 plus a CR4.PGE
 *    toggle for the global entries), translating through the TLB gives
 *    exactly what a fresh walk gives, and a fresh walk agrees with the
 *    tables in memory.
 * 2. With none, every result is one the SDM allows: what a walk gives now,
 *    or what the entries gave at some point since the page was last
 *    invalidated (§4.10.4.3); and staleness really happens, in the TLB and
 *    (PAE) in the PDPTE registers, which walks use instead of the PDPT in
 *    memory (§4.4.1).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Pfn, pfnToPa, toPfn, toVpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { type TableOp, tableOpArbs } from "../../mmu/tableOps.testkit.ts";
import { Outcome, WalkRecord } from "./Cpu.ts";
import { bareI386 } from "./testkit.ts";

const NPAGES = 24; // 12 pages under PDPTE 0 (VA 0x100000..), 12 under PDPTE 3 (VA 0xc0100000..)
const vpnAt = (i: number) => toVpn(i < 12 ? 0x100 + i : 0xc0100 + i);

type Op =
  | TableOp
  | { op: "access"; page: number; access: Access; cpl: 0 | 3 }
  | { op: "reload" }
  | { op: "pdpt" };

const accessArb = fc.record({
  op: fc.constant("access" as const),
  page: fc.nat(NPAGES - 1),
  access: fc.constantFrom(Access.Read, Access.Write, Access.Exec),
  cpl: fc.constantFrom(0 as const, 3 as const),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  ...tableOpArbs(NPAGES),
  accessArb,
  accessArb,
  fc.record({ op: fc.constant("reload" as const) }),
  fc.record({ op: fc.constant("pdpt" as const) }),
);

function run(ops: Op[], pae: boolean, invalidate: boolean, tlb: string) {
  const { cpu, mapper, root, frames, m } = bareI386({ pae, tlb, psc: tlb === "tiny" });
  cpu.movToCr4({ smep: true, smap: true, pge: true });
  cpu.setNxe(true);
  const rec = new WalkRecord();
  const rootPa = pfnToPa(root);
  // PAE: a spare PD that PDPTE 3 is switched to and back, in memory
  const spare = frames.allocFrame() as Pfn;
  m.phys.zeroFrame(spare);
  const pdptes = [m.phys.read32(rootPa + 24), (pfnToPa(spare) | 1) >>> 0];
  let which = 0;
  const allowed = new Map<number, Set<string>>();
  let stale = 0;
  let registersStale = 0;
  const halves = (vpn: number) => vpn * 4096;
  const probeKey = (vpn: number, access: Access, mode: Mode) =>
    cpu.probe(0, halves(vpn), access, mode, rec) === Outcome.OK ? `pa:${rec.pagePfn}` : `pf:${rec.errorCode}`;
  const flush = (vpn: number) => {
    if (invalidate) cpu.invlpg(halves(vpn));
  };
  for (const o of ops) {
    if (o.op === "map") {
      const vpn = vpnAt(o.page);
      if (mapper.lookup(root, vpn) === null) mapper.map(root, vpn, toPfn(o.frame), 0, o);
    } else if (o.op === "unmap") {
      if (mapper.unmap(root, vpnAt(o.page)).ok) flush(vpnAt(o.page));
    } else if (o.op === "protect") {
      if (mapper.protect(root, vpnAt(o.page), o).ok) flush(vpnAt(o.page));
    } else if (o.op === "reload") {
      expect(cpu.movToCr3(rootPa)).toBe(Outcome.OK);
    } else if (o.op === "pdpt") {
      if (!pae) continue;
      which ^= 1;
      m.phys.write32(rootPa + 24, pdptes[which]); // PDPTE 3 names the other PD, in memory only
      if (invalidate) {
        cpu.movToCr3(rootPa); // reloads the PDPTE registers, drops non-global entries
        cpu.movToCr4({ pge: false }); // and the global ones (Linux: __flush_tlb_all)
        cpu.movToCr4({ pge: true });
      }
    } else {
      const vpn = vpnAt(o.page);
      cpu.cpl = o.cpl;
      const mode = o.cpl === 3 ? Mode.User : Mode.Supervisor;
      const fresh = probeKey(vpn, o.access, mode);
      // what the tables in memory say (the mapper's software walk reads the PDPT in memory)
      const inMemory = mapper.lookup(root, vpn);
      const viaRegisters = cpu.walk(vpn, Access.Read, Mode.Supervisor, false, rec, false) === Outcome.OK; // no rights check
      const memPfn = inMemory === null ? -1 : mapper.leafPfn(inMemory.hi, inMemory.lo, inMemory.level);
      const regsAgree = viaRegisters ? memPfn === rec.pagePfn : inMemory === null;
      const out = cpu.translate(0, halves(vpn), o.access);
      const got = out === Outcome.OK ? `pa:${Math.floor(cpu.pa / 4096)}` : `pf:${cpu.errorCode}`;
      if (invalidate) {
        expect(got, JSON.stringify(o)).toBe(fresh);
        expect(regsAgree, `${JSON.stringify(o)}: PDPTE registers and memory`).toBe(true);
      } else {
        const ok = got === fresh || (allowed.get(vpn)?.has(`${o.access}:${o.cpl}:${got}`) ?? false);
        expect(ok, `${JSON.stringify(o)}: got ${got}, a walk says ${fresh}`).toBe(true);
        if (got !== fresh) stale++;
        if (!regsAgree) registersStale++;
      }
      // remember what a walk gave now for every kind of access, as what a TLB entry may hold
      let set = allowed.get(vpn);
      if (!set) {
        set = new Set();
        allowed.set(vpn, set);
      }
      for (const a of [Access.Read, Access.Write, Access.Exec]) {
        for (const cpl of [0, 3]) {
          set.add(`${a}:${cpl}:${probeKey(vpn, a, cpl === 3 ? Mode.User : Mode.Supervisor)}`);
          // a fault from a stale entry drops it, so a not-present answer is always possible next
          set.add(
            `${a}:${cpl}:pf:${(a === Access.Write ? 2 : 0) | (cpl === 3 ? 4 : 0) | (a === Access.Exec ? 16 : 0)}`,
          );
        }
      }
    }
  }
  return { stale, registersStale };
}

describe("TLB against fresh walks (fast-check)", () => {
  for (const pae of [false, true])
    for (const tlb of ["skylake", "tiny"]) {
      const name = `${pae ? "PAE" : "32-bit"}, tlb=${tlb}`;
      it(`with the required INVLPG / CR3 reloads, TLB results equal fresh walks (${name})`, () => {
        fc.assert(
          fc.property(fc.array(opArb, { minLength: 20, maxLength: 150, size: "max" }), (ops) => {
            run(ops, pae, true, tlb);
          }),
          { numRuns: 100, seed: 0x386 + tlb.length + (pae ? 1 : 0) },
        );
      });

      it(`without them, results are ones the SDM allows, and staleness shows (${name})`, () => {
        let stale = 0;
        let registersStale = 0;
        fc.assert(
          fc.property(fc.array(opArb, { minLength: 20, maxLength: 150, size: "max" }), (ops) => {
            const r = run(ops, pae, false, tlb);
            stale += r.stale;
            registersStale += r.registersStale;
          }),
          { numRuns: 100, seed: 0xfade + tlb.length + (pae ? 1 : 0) },
        );
        expect(stale).toBeGreaterThan(0);
        if (pae) expect(registersStale).toBeGreaterThan(0);
      });
    }
});
