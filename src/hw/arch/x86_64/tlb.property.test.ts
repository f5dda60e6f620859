/**
 * Property tests over random page tables and access sequences.
 *
 * 1. With the invalidations a kernel must do (INVLPG after every change),
 *    translating through the TLBs gives exactly what a fresh walk gives.
 * 2. With no invalidation, every result is one the SDM allows: the
 *    translation in memory now, or one that was in memory at some point
 *    since the page was last invalidated (SDM §4.10.4.3). And staleness
 *    really happens (the model does not stay coherent by magic).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toPfn, toVpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { WalkRecord } from "./Cpu.ts";
import { Outcome } from "./fault.ts";
import { bareMachine } from "./testkit.ts";

const NPAGES = 24; // pages in play: vpn 0x100..0x117 spread over two page tables
const vpnAt = (i: number) => toVpn(i < 12 ? 0x100 + i : 0x40000 + i);

type Op =
  | { op: "map"; page: number; frame: number; writable: boolean; user: boolean; nx: boolean }
  | { op: "unmap"; page: number }
  | { op: "protect"; page: number; writable: boolean; user: boolean; nx: boolean }
  | { op: "access"; page: number; access: Access; cpl: 0 | 3 }
  | { op: "pcid"; pcid: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("map" as const),
    page: fc.nat(NPAGES - 1),
    frame: fc.integer({ min: 0x800, max: 0x8ff }),
    writable: fc.boolean(),
    user: fc.boolean(),
    nx: fc.boolean(),
  }),
  fc.record({ op: fc.constant("unmap" as const), page: fc.nat(NPAGES - 1) }),
  fc.record({
    op: fc.constant("protect" as const),
    page: fc.nat(NPAGES - 1),
    writable: fc.boolean(),
    user: fc.boolean(),
    nx: fc.boolean(),
  }),
  fc.record({
    op: fc.constant("access" as const),
    page: fc.nat(NPAGES - 1),
    access: fc.constantFrom(Access.Read, Access.Write, Access.Exec),
    cpl: fc.constantFrom(0 as const, 3 as const),
  }),
  fc.record({
    op: fc.constant("access" as const),
    page: fc.nat(NPAGES - 1),
    access: fc.constantFrom(Access.Read, Access.Write),
    cpl: fc.constantFrom(0 as const, 3 as const),
  }),
  fc.record({ op: fc.constant("pcid" as const), pcid: fc.nat(3) }),
);

/** A translation outcome as a comparable string: the frame, or the fault and its error code. */
function outcomeKey(outcome: number, pa: number, code: number): string {
  return outcome === Outcome.OK ? `pa:${pa}` : `pf:${code}`;
}

function run(ops: Op[], invalidate: boolean, tlb: string, psc: boolean) {
  const { m, cpu, mapper, root } = bareMachine({ tlb, psc });
  cpu.movToCr4({ pcide: true, smep: true, smap: true });
  const rec = new WalkRecord();
  // per (pcid, page): every outcome allowed since the last invalidation
  const allowed = new Map<string, Set<string>>();
  let stale = 0;
  const probeKey = (vpn: number, access: Access, mode: Mode) => {
    const o = cpu.probe(Math.floor(vpn / 1048576), (vpn % 1048576) * 4096, access, mode, rec);
    return o === Outcome.OK ? `pa:${(rec.pagePfn + 0) * 4096}` : `pf:${rec.errorCode}`;
  };
  // INVLPG covers only the current PCID; the same tables are also live under
  // the other PCIDs, so those need INVPCID type 0 (Linux instead flushes a
  // stale ASID when it next switches to it)
  const flush = (vpn: number) => {
    if (!invalidate) return;
    const hi = Math.floor(vpn / 1048576);
    const lo = (vpn % 1048576) * 4096;
    cpu.invlpg(hi, lo);
    for (let pcid = 0; pcid < 4; pcid++) if (pcid !== cpu.pcid) cpu.invpcid(0, pcid, hi, lo);
  };
  const forget = (vpn: number) => {
    for (const k of [...allowed.keys()]) if (k.endsWith(`:${vpn}`)) allowed.delete(k);
  };
  for (const o of ops) {
    if (o.op === "map") {
      const vpn = vpnAt(o.page);
      if (mapper.lookup(root, vpn) !== null) continue;
      mapper.map(root, vpn, toPfn(o.frame), 0, o);
      // P 0 -> 1 needs no invalidation, and no stale entry can exist for a not-present page
    } else if (o.op === "unmap") {
      const vpn = vpnAt(o.page);
      const r = mapper.unmap(root, vpn);
      if (r.ok) {
        flush(vpn);
        if (invalidate) forget(vpn);
      }
    } else if (o.op === "protect") {
      const vpn = vpnAt(o.page);
      const r = mapper.protect(root, vpn, o);
      if (r.ok) {
        flush(vpn);
        if (invalidate) forget(vpn);
      }
    } else if (o.op === "pcid") {
      cpu.movToCr3(0x80000000, root * 4096 + o.pcid); // no flush: the same tables under another PCID
    } else {
      const vpn = vpnAt(o.page);
      cpu.cpl = o.cpl;
      const mode = o.cpl === 3 ? Mode.User : Mode.Supervisor;
      const fresh = probeKey(vpn, o.access, mode);
      const out = cpu.translate(Math.floor(vpn / 1048576), (vpn % 1048576) * 4096, o.access);
      const got = outcomeKey(out, cpu.pa, cpu.errorCode);
      const key = `${cpu.pcid}:${vpn}`;
      if (invalidate) {
        expect(got, `${JSON.stringify(o)} pcid ${cpu.pcid}`).toBe(fresh);
      } else {
        // what any translation of this page since its last invalidation could give for this access
        const ok = got === fresh || (allowed.get(key)?.has(`${o.access}:${o.cpl}:${got}`) ?? false);
        expect(ok, `${JSON.stringify(o)}: got ${got}, memory says ${fresh}`).toBe(true);
        if (got !== fresh) stale++;
      }
      // remember what memory said for every access kind, as the state a TLB entry may hold
      for (const a of [Access.Read, Access.Write, Access.Exec]) {
        for (const cpl of [0, 3]) {
          const k = probeKey(vpn, a, cpl === 3 ? Mode.User : Mode.Supervisor);
          let set = allowed.get(key);
          if (!set) {
            set = new Set();
            allowed.set(key, set);
          }
          set.add(`${a}:${cpl}:${k}`);
          // a fault from a stale entry drops it, so a not-present answer is always possible next
          set.add(
            `${a}:${cpl}:pf:${(a === Access.Write ? 2 : 0) | (cpl === 3 ? 4 : 0) | (a === Access.Exec ? 16 : 0)}`,
          );
        }
      }
    }
  }
  return { stale, m };
}

describe("TLB against fresh walks (fast-check)", () => {
  for (const [tlb, psc] of [
    ["skylake", false],
    ["tiny", true],
    ["vmref", false],
  ] as const) {
    it(`with required invalidations, TLB results equal fresh walks (tlb=${tlb}, psc=${psc})`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 20, maxLength: 150, size: "max" }), (ops) => {
          run(ops, true, tlb, psc);
        }),
        { numRuns: 150, seed: 0x5eed + tlb.length },
      );
    });

    it(`without invalidation, results are ones the SDM allows (tlb=${tlb}, psc=${psc})`, () => {
      let totalStale = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 20, maxLength: 150, size: "max" }), (ops) => {
          totalStale += run(ops, false, tlb, psc).stale;
        }),
        { numRuns: 150, seed: 0xfade + tlb.length },
      );
      expect(totalStale).toBeGreaterThan(0); // staleness is observed, not hidden
    });
  }
});
