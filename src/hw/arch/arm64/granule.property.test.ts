/**
 * granule.ts's walk with the 4K granule against the CPU model's probe (Cpu.probe over
 * Arm64Format, the walk every other arm64 test checks) on random tables and registers: the same
 * descriptors read, the same physical address and leaf size, or the same fault, level and ESR_EL1.
 * The 16K and 64K walks share every rule but the geometry with this one (granule.test.ts checks
 * their geometry by hand).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromBig } from "../../../base/u64.ts";
import { Access, Mode } from "../../access.ts";
import { WalkRecord } from "./Cpu.ts";
import { type GranuleRegs, granuleWalk } from "./granule.ts";
import { describeArm64Walk } from "./image.ts";
import { Arm64Machine } from "./machine.ts";

/** tables: the root at 0x1000 (L0 at T0SZ 16), then 0x2000, 0x3000, 0x4000; entries 0..7 of each */
const TABLES = [0x1000, 0x2000, 0x3000, 0x4000];

const descArb = (next: number) =>
  fc
    .record({
      kind: fc.constantFrom(0, 1, 1, 1, 1, 1, 1, 2, 2), // invalid, table or page, block
      // 0: the next table; below 10 a low frame; else 2^(30 + far) up, which may be beyond IPS
      far: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 12, 16, 17),
      frame: fc.nat(0x3ff),
      lo: fc.constantFrom(0, 0x400, 0x440, 0x440, 0x4c0, 0x480, 0xf40, 0x7c0, 0x840, 0x404, 0x41c, 0x400),
      hi: fc.constantFrom(
        0,
        0x0020_0000,
        0x0040_0000,
        0x0060_0000,
        0x0008_0000,
        0x0010_0000,
        0x2000_0000,
        0x4000_0000,
        0x1800_0000,
      ),
    })
    .map(({ kind, far, frame, lo, hi }) => {
      const addr = far === 0 ? next : far < 10 ? frame * 4096 : 2 ** (30 + far) + frame * 4096;
      const a = Math.floor(addr / 2 ** 32);
      const bits = kind === 0 ? 0 : kind === 1 ? 3 : 1;
      return { hi: (hi | a) >>> 0, lo: ((addr % 2 ** 32) | lo | bits) >>> 0 };
    });

const caseArb = fc.record({
  tables: fc.tuple(
    ...TABLES.map((_, t) => fc.array(descArb(TABLES[t + 1] ?? 0x5000), { minLength: 8, maxLength: 8 })),
  ),
  t0sz: fc.constantFrom(16, 16, 25, 39),
  ips: fc.nat(5),
  ha: fc.boolean(),
  hd: fc.boolean(),
  pan: fc.boolean(),
  wxn: fc.boolean(),
  tbi: fc.boolean(),
  ttbrLow: fc.constantFrom(0, 1, 0x40),
  vas: fc.array(
    fc.record({
      idx: fc.tuple(fc.nat(7), fc.nat(7), fc.nat(7), fc.nat(7)),
      off: fc.nat(0xfff),
      top: fc.constantFrom(0n, 0n, 0n, 0n, 0x3400n, 0xffffn, 0x0001n),
      access: fc.constantFrom(Access.Read, Access.Write, Access.Exec),
      el: fc.constantFrom(0, 1),
      unpriv: fc.boolean(),
    }),
    { minLength: 1, maxLength: 6 },
  ),
});

describe("granule.ts at 4K = the CPU model's walk", () => {
  it("gives Cpu.probe's answers on random tables and registers", () => {
    const m = new Arm64Machine({ ramBytes: 64 << 20, tlb: "none" });
    const cpu = m.cpus[0];
    const rec = new WalkRecord();
    const read64 = (pa: number) => ({ lo: m.phys.read32(pa), hi: m.phys.read32(pa + 4) });
    let faults = 0;
    let oks = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        for (const t of TABLES) for (let i = 0; i < 512; i++) m.phys.write32(t + i * 4, 0);
        c.tables.forEach((entries, t) => {
          entries.forEach((d, i) => {
            m.phys.write32(TABLES[t] + i * 8, d.lo);
            m.phys.write32(TABLES[t] + i * 8 + 4, d.hi);
          });
        });
        cpu.setTcr({ t0sz: c.t0sz, t1sz: 16, ips: c.ips, ha: c.ha, hd: c.hd, tbi0: c.tbi, tbi1: false });
        cpu.setPan(c.pan);
        cpu.setWxn(c.wxn);
        cpu.setTtbr0(0, 0x1000 + c.ttbrLow);
        cpu.setTtbr1(0, 0x1000);
        const range = { g: 12, tsz: c.t0sz, epd: false, tbi: c.tbi, ttbr: BigInt(0x1000 + c.ttbrLow) };
        const regs: GranuleRegs = {
          ranges: [range, { ...range, tsz: 16, tbi: false, ttbr: 0x1000n }],
          ips: c.ips,
          parange: 5,
          ha: c.ha,
          hd: c.hd,
          pan: c.pan,
          wxn: c.wxn,
        };
        const inputBits = 64 - c.t0sz;
        for (const v of c.vas) {
          // the indices from the range's first level down (fewer levels for a smaller range)
          const [i0, i1, i2, i3] = v.idx;
          const low = (BigInt(i0) << 39n) | (BigInt(i1) << 30n) | (BigInt(i2) << 21n) | (BigInt(i3) << 12n);
          const va = (v.top << 48n) | (low & ((1n << BigInt(inputBits)) - 1n)) | BigInt(v.off);
          const mode = v.el === 0 || v.unpriv ? Mode.User : Mode.Supervisor;
          cpu.el = v.el;
          const { hi, lo } = fromBig(va);
          const want = describeArm64Walk(cpu.probe(hi, lo, v.access, mode, rec), rec, va);
          const got = granuleWalk(regs, read64, va, v.access, v.el, mode);
          expect(got.steps.map((s) => `0x${s.entryPa.toString(16)}`)).toEqual(
            want.levels.map((l) => l.entryPa),
          );
          if (got.ok) {
            oks++;
            expect(want).toMatchObject({ ok: true, pa: `0x${got.pa.toString(16)}`, pageSize: got.size });
          } else {
            faults++;
            expect(want).toMatchObject({ ok: false, level: got.armLevel, esr: `0x${got.esr.toString(16)}` });
          }
        }
      }),
      { numRuns: 300 },
    );
    // both outcomes really happen
    expect(oks).toBeGreaterThan(20);
    expect(faults).toBeGreaterThan(20);
  });
});
