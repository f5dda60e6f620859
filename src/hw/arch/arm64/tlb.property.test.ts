/**
 * Property tests over random translation tables, two CPUs and random
 * accesses (Arm ARM D8.16 "Translation Lookaside Buffers"):
 *
 * 1. With the TLBIs software must issue (TLBI VAAE1IS after every change of
 *    a valid descriptor), translating through the TLBs of either CPU gives
 *    exactly what a fresh walk gives, whatever the EL, PAN and ASID.
 * 2. With none, every result is one the architecture allows: what memory
 *    says now, or what a descriptor in memory since the page's last
 *    invalidation gives under the current EL and PAN (a TLB entry is never
 *    dropped by an abort on ARM); staleness really happens.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pfnToPa, toPfn, type Vpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { type TableOp, tableOpArbs } from "../../mmu/tableOps.testkit.ts";
import { type Arm64Cpu, TTBR1_VPN, WalkRecord } from "./Cpu.ts";
import { bareArm64 } from "./testkit.ts";

const NPAGES = 24; // 8 user pages in two L3 tables, 8 kernel pages (TTBR1), 8 more user pages far away
const vpnAt = (i: number): Vpn =>
  (i < 8 ? 0x400 + i : i < 16 ? TTBR1_VPN + 0x8_0000_0000 + 0x200 + i : 0x4_0000 + i) as Vpn;

type Op =
  | TableOp
  | { op: "access"; cpu: number; page: number; access: Access; el: 0 | 1; unpriv: boolean }
  | { op: "asid"; asid: number }
  | { op: "pan"; cpu: number; pan: boolean };

const accessArb = fc.record({
  op: fc.constant("access" as const),
  cpu: fc.nat(1),
  page: fc.nat(NPAGES - 1),
  access: fc.constantFrom(Access.Read, Access.Write, Access.Exec),
  el: fc.constantFrom(0 as const, 1 as const),
  unpriv: fc.boolean(),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  ...tableOpArbs(NPAGES),
  accessArb,
  accessArb,
  fc.record({ op: fc.constant("asid" as const), asid: fc.nat(3) }),
  fc.record({ op: fc.constant("pan" as const), cpu: fc.nat(1), pan: fc.boolean() }),
);

const halves = (vpn: number) => {
  const ttbr1 = vpn >= TTBR1_VPN;
  const low = vpn % TTBR1_VPN;
  return {
    hi: ((ttbr1 ? 0xffff0000 : 0) | Math.floor(low / 1048576)) >>> 0,
    lo: ((low % 1048576) * 4096) >>> 0,
  };
};

function run(ops: Op[], invalidate: boolean, tlb: string, psc: boolean) {
  const { m, mapper, root0, root1 } = bareArm64({ cpus: 2, tlb, psc });
  const rec = new WalkRecord();
  const cpus = m.cpus;
  // per page: outcomes any descriptor since the page's last invalidation gives, by access, mode, EL and PAN
  const allowed = new Map<number, Set<string>>();
  let stale = 0;
  const probeKey = (cpu: Arm64Cpu, vpn: number, access: Access, mode: Mode) => {
    const { hi, lo } = halves(vpn);
    const o = cpu.probe(hi, lo, access, mode, rec);
    return o === 0 ? `pa:${rec.pagePfn}` : `esr:${rec.errorCode.toString(16)}`;
  };
  const rootOf = (vpn: number) => (vpn >= TTBR1_VPN ? root1 : root0);
  const flush = (vpn: number) => {
    if (!invalidate) return;
    const { hi, lo } = halves(vpn);
    cpus[0].tlbiIs("vaae1", hi, lo);
    allowed.delete(vpn);
  };
  for (const o of ops) {
    if (o.op === "map") {
      const vpn = vpnAt(o.page);
      if (mapper.lookup(rootOf(vpn), vpn) !== null) continue;
      mapper.map(rootOf(vpn), vpn, toPfn(o.frame), 0, o); // invalid -> valid: no TLBI needed
    } else if (o.op === "unmap" || o.op === "protect") {
      const vpn = vpnAt(o.page);
      const r = o.op === "unmap" ? mapper.unmap(rootOf(vpn), vpn) : mapper.protect(rootOf(vpn), vpn, o);
      if (r.ok) flush(vpn);
    } else if (o.op === "asid") {
      for (const c of cpus) c.loadTtbr0(pfnToPa(root0), o.asid); // no TLBI: the same tables under another ASID
    } else if (o.op === "pan") {
      cpus[o.cpu].setPan(o.pan);
    } else {
      const cpu = cpus[o.cpu];
      const vpn = vpnAt(o.page);
      const unpriv = o.unpriv && o.access !== Access.Exec && o.el === 1;
      cpu.el = o.el;
      const mode = o.el === 0 || unpriv ? Mode.User : Mode.Supervisor;
      const fresh = probeKey(cpu, vpn, o.access, mode);
      const { hi, lo } = halves(vpn);
      const out = cpu.translateAs(hi, lo, o.access, mode);
      const got = out === 0 ? `pa:${Math.floor(cpu.pa / 4096)}` : `esr:${cpu.esr.toString(16)}`;
      const what = `${JSON.stringify(o)} on cpu${o.cpu}, ASID ${cpu.currentAsid}, PAN ${cpu.pan}`;
      if (invalidate) expect(got, what).toBe(fresh);
      else {
        const ok =
          got === fresh || (allowed.get(vpn)?.has(`${o.access}:${mode}:${o.el}:${cpu.pan}:${got}`) ?? false);
        expect(ok, `${what}: got ${got}, memory says ${fresh}`).toBe(true);
        if (got !== fresh) stale++;
      }
      // the state a TLB entry may now hold, as every later access would see it
      const set = allowed.get(vpn) ?? new Set<string>();
      allowed.set(vpn, set);
      const pan = cpu.pan;
      const el = cpu.el;
      for (const p of [false, true]) {
        cpu.setPan(p);
        for (const e of [0, 1]) {
          cpu.el = e;
          for (const a of [Access.Read, Access.Write, Access.Exec])
            for (const md of [Mode.User, Mode.Supervisor])
              set.add(`${a}:${md}:${e}:${p}:${probeKey(cpu, vpn, a, md)}`);
        }
      }
      cpu.setPan(pan);
      cpu.el = el;
    }
  }
  return { stale, m };
}

describe("TLBs against fresh walks (fast-check)", () => {
  for (const [tlb, psc] of [
    ["skylake", false],
    ["tiny", true],
  ] as const) {
    it(`with the required TLBIs (IS forms), TLB results equal fresh walks on both CPUs (tlb=${tlb}, psc=${psc})`, () => {
      let broadcasts = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 20, maxLength: 150, size: "max" }), (ops) => {
          const { m } = run(ops, true, tlb, psc);
          broadcasts += m.broadcasts;
          expect(m.cpus[1].broadcastsReceived).toBe(m.cpus[0].broadcasts);
        }),
        { numRuns: 120, seed: 0xa64 + tlb.length },
      );
      expect(broadcasts).toBeGreaterThan(0);
    });

    it(`without TLBIs, results are ones the architecture allows, and staleness is seen (tlb=${tlb}, psc=${psc})`, () => {
      let totalStale = 0;
      let reported = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 20, maxLength: 150, size: "max" }), (ops) => {
          totalStale += run(ops, false, tlb, psc).stale;
        }),
        { numRuns: 120, seed: 0xfade + tlb.length },
      );
      expect(totalStale).toBeGreaterThan(0);
      // and the coherence checker sees stale uses in such runs
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 40, maxLength: 150, size: "max" }), (ops) => {
          const { m } = runChecked(ops, tlb, psc);
          reported += m.checker!.reports.length;
        }),
        { numRuns: 30, seed: 0xc0de },
      );
      expect(reported).toBeGreaterThan(0);
    });
  }
});

/** The no-TLBI run on a machine with the coherence checker (its reports are what is counted). */
function runChecked(ops: Op[], tlb: string, psc: boolean) {
  const { m, mapper, root0, root1 } = bareArm64({ cpus: 2, tlb, psc, checkCoherence: true });
  for (const o of ops) {
    const vpn = o.op === "asid" || o.op === "pan" ? 0 : vpnAt(o.page);
    const root = vpn >= TTBR1_VPN ? root1 : root0;
    if (o.op === "map") {
      if (mapper.lookup(root, vpn as Vpn) === null) mapper.map(root, vpn as Vpn, toPfn(o.frame), 0, o);
    } else if (o.op === "unmap") mapper.unmap(root, vpn as Vpn);
    else if (o.op === "protect") mapper.protect(root, vpn as Vpn, o);
    else if (o.op === "asid") for (const c of m.cpus) c.loadTtbr0(pfnToPa(root0), o.asid);
    else if (o.op === "pan") m.cpus[o.cpu].setPan(o.pan);
    else {
      const cpu = m.cpus[o.cpu];
      cpu.el = o.el;
      const { hi, lo } = halves(vpn);
      cpu.translate(hi, lo, o.access);
    }
  }
  return { m };
}
