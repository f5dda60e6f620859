/**
 * INVLPG by page number (Cpu.invlpgPage, what the kernel's flush_tlb_one_user
 * hands it) against INVLPG of the page's canonical address (Cpu.invlpg): the
 * same TLB entries dropped, the same arrays left, the same counts; and both
 * against Tlb.invalidatePage's reference, every array's invalidatePage called
 * whether it holds entries or not (Tlb.invalidatePage skips an empty one,
 * TlbArray.invalidatePage probes only the 4K set of an array holding base
 * pages only). SDM Vol. 3A §4.10.4.1.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toPfn, toVpn, type Vpn } from "../../../base/units.ts";
import type { Tlb } from "../../mmu/Tlb.ts";
import { InvalidateHow, Meta } from "../../mmu/TlbArray.ts";
import { bareMachine } from "./testkit.ts";

/** pages in play: two 2M regions of the user half, and the top of the lower half */
const regions = [0x100, 0x7ff00, 2 ** 35 - 1024];

type Fill = { page: number; size: 0 | 1; asid: number; global: boolean; instr: boolean };

const fillArb: fc.Arbitrary<Fill> = fc.record({
  page: fc.nat(3 * 1024 - 1),
  size: fc.constantFrom(0 as const, 0 as const, 1 as const),
  asid: fc.nat(3),
  global: fc.boolean(),
  instr: fc.boolean(),
});

const vpnAt = (page: number): Vpn => toVpn(regions[Math.floor(page / 1024)] + (page % 1024));

function snapshot(tlb: Tlb): number[][] {
  return tlb.levels.flatMap((l) => l.arrays.map((a) => [...a.keys, ...a.metas, ...a.pfns, a.valid]));
}

function machine(tlb: string, fills: Fill[], pcid: number) {
  const { cpu, root } = bareMachine({ tlb });
  cpu.movToCr4({ pcide: true });
  cpu.loadCr3(root * 4096, pcid, true);
  for (const f of fills) {
    const vpn = vpnAt(f.page);
    const meta = f.asid | (f.global ? Meta.G : 0) | (7 << Meta.RIGHTS_SHIFT);
    cpu.tlb.fill(vpn, f.size, toPfn(0x1000 + (f.page & ~511)), meta, f.instr);
  }
  return cpu;
}

describe("INVLPG by page number drops what INVLPG of the address drops", () => {
  for (const tlb of ["skylake", "vmref", "tiny"])
    it(`tlb=${tlb}: entries dropped, arrays left and counts equal, and equal to every array's invalidatePage`, () => {
      fc.assert(
        fc.property(
          fc.array(fillArb, { maxLength: 120 }),
          fc.array(fc.nat(3 * 1024 - 1), { minLength: 1, maxLength: 12 }),
          fc.nat(3),
          (fills, flushes, pcid) => {
            const a = machine(tlb, fills, pcid);
            const b = machine(tlb, fills, pcid);
            const ref = machine(tlb, fills, pcid);
            const dropped = (cpu: typeof a) => {
              let n = 0;
              cpu.tracer = (e) => {
                if (e.type === "invalidate") n += e.entries;
              };
              return () => n;
            };
            const na = dropped(a);
            const nb = dropped(b);
            let nRef = 0;
            for (const p of flushes) {
              const vpn = vpnAt(p);
              a.invlpgPage(vpn);
              const addr = BigInt(vpn) * 4096n;
              b.invlpg(Number(addr >> 32n), Number(addr & 0xffffffffn));
              // the reference: every array asked, held entries or not
              for (const l of ref.tlb.levels)
                for (const arr of l.arrays)
                  nRef += arr.invalidatePage(vpn, pcid, InvalidateHow.PcidAndGlobal);
            }
            expect(na()).toBe(nb());
            expect(na()).toBe(nRef);
            expect(a.pageInvalidations).toBe(b.pageInvalidations);
            expect(a.pageInvalidations).toBe(flushes.length);
            expect(snapshot(a.tlb)).toEqual(snapshot(b.tlb));
            expect(snapshot(a.tlb)).toEqual(snapshot(ref.tlb));
          },
        ),
        { numRuns: 150 },
      );
    });

  it("the property sees entries dropped (not vacuous)", () => {
    const fills: Fill[] = [{ page: 5, size: 0, asid: 1, global: false, instr: false }];
    const cpu = machine("skylake", fills, 1);
    let n = 0;
    cpu.tracer = (e) => {
      if (e.type === "invalidate") n += e.entries;
    };
    cpu.invlpgPage(vpnAt(5));
    expect(n).toBe(2); // the L1 dTLB's copy and the STLB's
  });
});
