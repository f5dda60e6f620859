/**
 * Tlb.knownMiss (a faulting access's retry counted as the miss it is, without probing the arrays)
 * against the lookups themselves: two machines run the same random sequence, one with
 * `tlb.useKnownMiss` off. The sequence is made of faults and their retries: an access faults, and
 * most often the next ops map the page (4K, or a 2M/1G page over it; global or not; user or not)
 * and retry it, with inserts in between (other pages' accesses, which fill and evict), PCID
 * switches with and without a flush, INVLPG, CR4.PGE changes, and accesses of every kind from
 * CPL 0 and 3. Every outcome, every counter (the TLB's hits and misses by level among them), every
 * TLB array's entries in order must agree, and some retries must have been answered by knownMiss.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toPfn, toVpn, type Vpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { mmuState, walkRecord } from "../../mmu/fastMiss.testkit.ts";
import { bareMachine } from "./testkit.ts";

/** 16 4K pages over two page tables; page i also lies in 2M region i & 1 (pages 0-7) */
const NPAGES = 16;
const vpn4k = (i: number): Vpn => toVpn(i < 8 ? 512 * (0x10 + (i & 1)) + 3 * i : 0x40000 + i);

type Op =
  | { op: "access"; page: number; last: boolean; access: Access; cpl: 0 | 3 }
  | { op: "map"; page: number; last: boolean; size: 0 | 1; global: boolean; user: boolean; writable: boolean }
  | { op: "unmap"; page: number; last: boolean }
  | { op: "cr3"; pcid: number; noFlush: boolean }
  | { op: "invlpg"; page: number }
  | { op: "pge"; on: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant("access" as const),
      page: fc.nat(NPAGES - 1),
      last: fc.constantFrom(true, true, false), // the page of the last fault, two times in three
      access: fc.constantFrom(Access.Read, Access.Write, Access.Write, Access.Exec),
      cpl: fc.constantFrom(0 as const, 3 as const, 3 as const),
    }),
    weight: 10,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("map" as const),
      page: fc.nat(NPAGES - 1),
      last: fc.constantFrom(true, true, false),
      size: fc.constantFrom(0 as const, 0 as const, 0 as const, 1 as const),
      global: fc.constantFrom(false, false, true),
      user: fc.constantFrom(true, true, true, false),
      writable: fc.constantFrom(true, true, false),
    }),
    weight: 5,
  },
  {
    // unmapped without a flush: a PCID switched away from keeps its entry (stale), as may this one
    arbitrary: fc.record({ op: fc.constant("unmap" as const), page: fc.nat(NPAGES - 1), last: fc.boolean() }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("cr3" as const),
      pcid: fc.nat(1),
      noFlush: fc.constantFrom(true, true, false),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant("invlpg" as const), page: fc.nat(NPAGES - 1) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("pge" as const), on: fc.boolean() }), weight: 1 },
);

const hiOf = (vpn: number) => Math.floor(vpn / 1048576);
const loOf = (vpn: number) => (vpn % 1048576) * 4096;

function machine(known: boolean, tlb: string) {
  const b = bareMachine({ tlb, ramBytes: 32 << 20 });
  b.cpu.tlb.useKnownMiss = known;
  b.cpu.movToCr4({ pcide: true });
  return { ...b, lastFault: 0, lastPage: 0 };
}

function apply(mc: ReturnType<typeof machine>, o: Op): string {
  const { cpu, mapper, root } = mc;
  switch (o.op) {
    case "access": {
      const page = o.last ? mc.lastFault : o.page;
      const vpn = vpn4k(page);
      cpu.cpl = o.cpl;
      const out = cpu.translate(hiOf(vpn), loOf(vpn) + 0x321, o.access);
      if (out !== 0) mc.lastFault = page;
      mc.lastPage = page;
      return `${out}:${cpu.pa}:${cpu.errorCode}:${cpu.faultKind}:${cpu.faultLevel}`;
    }
    case "map": {
      const page = o.last ? mc.lastFault : o.page;
      const flags = { writable: o.writable, user: o.user, nx: false, global: o.global };
      if (o.size === 1 && page < 8) {
        const region = toVpn(vpn4k(page) - (vpn4k(page) % 512));
        return String(mapper.map(root, region, toPfn(0x1000 + 512 * (page & 1)), 1, flags).ok);
      }
      const vpn = vpn4k(page);
      if (mapper.lookup(root, vpn) !== null) return "";
      return String(mapper.map(root, vpn, toPfn(0x800 + page), 0, flags).ok);
    }
    case "unmap": {
      const page = o.last ? mc.lastPage : o.page;
      const vpn = vpn4k(page);
      const r = mapper.unmap(root, vpn).ok;
      return String(page < 8 ? r || mapper.unmap(root, toVpn(vpn - (vpn % 512))).ok : r);
    }
    case "cr3":
      return String(cpu.movToCr3(o.noFlush ? 0x80000000 : 0, root * 4096 + o.pcid));
    case "invlpg":
      cpu.invlpg(hiOf(vpn4k(o.page)), loOf(vpn4k(o.page)));
      return "";
    case "pge":
      return String(cpu.movToCr4({ pge: o.on }));
  }
}

describe("Tlb.knownMiss against the lookups it stands for (fast-check)", () => {
  for (const tlb of ["skylake", "vmref", "tiny"]) {
    it(`every outcome, counter and TLB entry agrees (tlb=${tlb})`, () => {
      let answered = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 30, maxLength: 160, size: "max" }), (ops) => {
          const a = machine(true, tlb);
          const b = machine(false, tlb);
          const frames = (): [number, number] => [a.root, a.frames.next];
          for (let i = 0; i < ops.length; i++) {
            const ra = apply(a, ops[i]);
            const rb = apply(b, ops[i]);
            if (ra !== rb) expect(ra, `op ${i} ${JSON.stringify(ops[i])}`).toBe(rb);
            if (ops[i].op === "access") {
              const [x, y] = [walkRecord(a.cpu), walkRecord(b.cpu)];
              if (JSON.stringify(x) !== JSON.stringify(y)) expect(x, `walk record after op ${i}`).toEqual(y);
            }
            if (i % 6 === 5)
              expect(mmuState(a.cpu, frames()), `after op ${i}`).toEqual(mmuState(b.cpu, frames()));
          }
          expect(mmuState(a.cpu, frames())).toEqual(mmuState(b.cpu, frames()));
          expect(b.cpu.tlb.knownMisses).toBe(0);
          answered += a.cpu.tlb.knownMisses;
        }),
        { numRuns: 80, seed: 0x4b4d + tlb.length },
      );
      expect(answered).toBeGreaterThan(200);
    });
  }
});
