/**
 * Property tests over random page tables, two harts and random accesses
 * (Privileged Architecture, "Supervisor Memory-Management Fence
 * Instruction": a hart may use any translation cached since its last
 * SFENCE.VMA that covers it; nothing else keeps harts coherent):
 *
 * 1. With the fences software must issue (SFENCE.VMA va, x0 on every hart
 *    after each change of a valid PTE: a local fence and a remote one, as
 *    Linux's flush_tlb_page does through SBI), translating through the
 *    TLBs of either hart gives exactly what a fresh walk gives, whatever
 *    the privilege, SUM, MXR and ASID, under Svade and under Svadu.
 * 2. With none, every result is one the architecture allows: what memory
 *    says now, or what a PTE in memory at some time gives under the
 *    current privilege, SUM and MXR (a page fault drops no entry);
 *    staleness really happens, and the coherence checker reports it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pfnToPa, toPfn, type Vpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { type TableOp, tableOpArbs } from "../../mmu/tableOps.testkit.ts";
import { Priv, type RiscvCpu, SatpMode, WalkRecord } from "./Cpu.ts";
import { vpnHalves } from "./Mapper.ts";
import { bareRiscv } from "./testkit.ts";

const NPAGES = 24; // 8 user pages in one leaf table, 8 in the upper half, 8 more far away
const vpnAt = (i: number): Vpn => (i < 8 ? 0x400 + i : i < 16 ? 0x400_0000 + 0x100 + i : 0x4_0000 + i) as Vpn; // 0x400_0000: VA bit 38

type Op =
  | TableOp
  | { op: "access"; cpu: number; page: number; access: Access; priv: Priv }
  | { op: "asid"; asid: number }
  | { op: "sstatus"; cpu: number; sum: boolean; mxr: boolean };

const accessArb = fc.record({
  op: fc.constant("access" as const),
  cpu: fc.nat(1),
  page: fc.nat(NPAGES - 1),
  access: fc.constantFrom(Access.Read, Access.Write, Access.Exec),
  priv: fc.constantFrom(Priv.U, Priv.S),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  ...tableOpArbs(NPAGES),
  accessArb,
  accessArb,
  fc.record({ op: fc.constant("asid" as const), asid: fc.nat(3) }),
  fc.record({ op: fc.constant("sstatus" as const), cpu: fc.nat(1), sum: fc.boolean(), mxr: fc.boolean() }),
);

const halves = (vpn: number) => vpnHalves(vpn, 39);
const modeOf = (p: Priv) => (p === Priv.U ? Mode.User : Mode.Supervisor);

function run(ops: Op[], fence: boolean, tlb: string, psc: boolean, svadu: boolean) {
  const { m, mapper, root } = bareRiscv({ cpus: 2, tlb, psc, svadu });
  const rec = new WalkRecord();
  const cpus = m.cpus;
  // per page: outcomes any PTE in memory since the page's last fence gives, by access, privilege, SUM and MXR
  const allowed = new Map<number, Set<string>>();
  let stale = 0;
  const probeKey = (cpu: RiscvCpu, vpn: number, access: Access, mode: Mode) => {
    const { hi, lo } = halves(vpn);
    const o = cpu.probe(hi, lo, access, mode, rec);
    return o === 0 ? `pa:${rec.pagePfn}` : `scause:${rec.errorCode}`;
  };
  const flush = (vpn: number) => {
    if (!fence) return;
    for (const c of cpus) c.sfenceVma(halves(vpn), null); // local, then the "remote" one
    allowed.delete(vpn);
  };
  for (const o of ops) {
    if (o.op === "map") {
      const vpn = vpnAt(o.page);
      if (mapper.lookup(root, vpn) !== null) continue;
      mapper.map(root, vpn, toPfn(o.frame), 0, o); // invalid -> valid: no fence needed
    } else if (o.op === "unmap" || o.op === "protect") {
      const vpn = vpnAt(o.page);
      const r = o.op === "unmap" ? mapper.unmap(root, vpn) : mapper.protect(root, vpn, o);
      if (r.ok) flush(vpn);
    } else if (o.op === "asid") {
      for (const c of cpus) c.loadSatp(SatpMode.Sv39, o.asid, pfnToPa(root)); // the same tables under another ASID, no fence
    } else if (o.op === "sstatus") {
      cpus[o.cpu].setSum(o.sum);
      cpus[o.cpu].setMxr(o.mxr);
    } else {
      const cpu = cpus[o.cpu];
      const vpn = vpnAt(o.page);
      cpu.priv = o.priv;
      const mode = modeOf(o.priv);
      const fresh = probeKey(cpu, vpn, o.access, mode);
      const { hi, lo } = halves(vpn);
      const out = cpu.translate(hi, lo, o.access);
      const got = out === 0 ? `pa:${Math.floor(cpu.pa / 4096)}` : `scause:${cpu.scause}`;
      const what = `${JSON.stringify(o)} on hart ${o.cpu}, ASID ${cpu.asid}, SUM ${cpu.sum}, MXR ${cpu.mxr}`;
      if (fence) expect(got, what).toBe(fresh);
      else {
        const ok =
          got === fresh ||
          (allowed.get(vpn)?.has(`${o.access}:${mode}:${cpu.sum}:${cpu.mxr}:${got}`) ?? false);
        expect(ok, `${what}: got ${got}, memory says ${fresh}`).toBe(true);
        if (got !== fresh) stale++;
      }
      // what a TLB entry may now hold, as every later access would see it
      const set = allowed.get(vpn) ?? new Set<string>();
      allowed.set(vpn, set);
      const [sum, mxr] = [cpu.sum, cpu.mxr];
      for (const s of [false, true])
        for (const x of [false, true]) {
          cpu.setSum(s);
          cpu.setMxr(x);
          for (const a of [Access.Read, Access.Write, Access.Exec])
            for (const md of [Mode.User, Mode.Supervisor])
              set.add(`${a}:${md}:${s}:${x}:${probeKey(cpu, vpn, a, md)}`);
        }
      cpu.setSum(sum);
      cpu.setMxr(mxr);
    }
  }
  return { stale, m };
}

describe("TLBs against fresh walks (fast-check)", () => {
  for (const [tlb, psc, svadu] of [
    ["skylake", false, false],
    ["tiny", true, true],
  ] as const) {
    const name = `tlb=${tlb}, psc=${psc}, ${svadu ? "Svadu" : "Svade"}`;
    it(`with the required SFENCE.VMAs on both harts, TLB results equal fresh walks (${name})`, () => {
      let fences = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 20, maxLength: 150, size: "max" }), (ops) => {
          const { m } = run(ops, true, tlb, psc, svadu);
          fences += m.sfences;
          expect(m.cpus[0].sfences).toBe(m.cpus[1].sfences);
        }),
        { numRuns: 120, seed: 0x5f39 + tlb.length },
      );
      expect(fences).toBeGreaterThan(0);
    });

    it(`without fences, results are ones the architecture allows, and staleness is seen (${name})`, () => {
      let totalStale = 0;
      let reported = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 20, maxLength: 150, size: "max" }), (ops) => {
          totalStale += run(ops, false, tlb, psc, svadu).stale;
        }),
        { numRuns: 120, seed: 0xfade + tlb.length },
      );
      expect(totalStale).toBeGreaterThan(0);
      // and the coherence checker sees stale uses in such runs
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 40, maxLength: 150, size: "max" }), (ops) => {
          const { m } = runChecked(ops, tlb, psc, svadu);
          reported += m.checker!.reports.length;
        }),
        { numRuns: 30, seed: 0xc0de },
      );
      expect(reported).toBeGreaterThan(0);
    });
  }
});

/** The no-fence run on a machine with the coherence checker (its reports are what is counted). */
function runChecked(ops: Op[], tlb: string, psc: boolean, svadu: boolean) {
  const { m, mapper, root } = bareRiscv({ cpus: 2, tlb, psc, svadu, checkCoherence: true });
  for (const o of ops) {
    if (o.op === "asid") for (const c of m.cpus) c.loadSatp(SatpMode.Sv39, o.asid, pfnToPa(root));
    else if (o.op === "sstatus") {
      m.cpus[o.cpu].setSum(o.sum);
      m.cpus[o.cpu].setMxr(o.mxr);
    } else {
      const vpn = vpnAt(o.page);
      if (o.op === "map") {
        if (mapper.lookup(root, vpn) === null) mapper.map(root, vpn, toPfn(o.frame), 0, o);
      } else if (o.op === "unmap") mapper.unmap(root, vpn);
      else if (o.op === "protect") mapper.protect(root, vpn, o);
      else {
        const cpu = m.cpus[o.cpu];
        cpu.priv = o.priv;
        const { hi, lo } = halves(vpn);
        cpu.translate(hi, lo, o.access);
      }
    }
  }
  return { m };
}
