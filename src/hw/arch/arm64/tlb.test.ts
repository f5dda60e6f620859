/**
 * TLB maintenance (Arm ARM D8.16, the TLBI instructions in C5.5): which
 * entries each operation drops by ASID and nG, the Inner Shareable forms on
 * every CPU with no interrupt, stale entries used as hardware would and
 * reported by the coherence checker.
 */
import { describe, expect, it } from "vitest";
import { pfnToPa, toPfn, type Vpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { formatStaleUse } from "../../mmu/CoherenceChecker.ts";
import type { Arm64Cpu, TlbiOp, TlbiRangeOp } from "./Cpu.ts";
import { bareArm64, va, vpnOf } from "./testkit.ts";

const USER = 0x40_0000n;
const USER2 = 0x40_1000n;
const KERNEL = 0xffff_8000_0010_0000n;

/** Is a translation of vpn cached for asid (a global one matches every ASID)? Changes nothing. */
function cached(cpu: Arm64Cpu, v: bigint, asid: number): boolean {
  const vpn: Vpn = vpnOf(v);
  return cpu.tlb.levels.some((l) => l.arrays.some((a) => a.peek(vpn, asid) >= 0));
}

/** Two CPUs; on each, USER cached under ASIDs 1 and 2, USER2 under ASID 1, KERNEL (global) cached. */
function warm() {
  const k = bareArm64({ cpus: 2 });
  k.mapper.map(k.root0, vpnOf(USER), toPfn(0x900), 0, { user: true, writable: true });
  k.mapper.map(k.root0, vpnOf(USER2), toPfn(0x901), 0, { user: true });
  k.mapper.map(k.root1, vpnOf(KERNEL), toPfn(0xa00), 0, { global: true });
  for (const cpu of k.m.cpus) {
    for (const asid of [2, 1]) {
      cpu.loadTtbr0(pfnToPa(k.root0), asid);
      for (const v of [USER, USER2, KERNEL]) {
        const a = va(v);
        expect(cpu.translate(a.hi, a.lo, Access.Read)).toBe(0);
      }
    }
  }
  return k;
}

describe("TLBI by ASID and VA", () => {
  // [op, what stays cached: USER@1, USER@2, USER2@1, KERNEL]
  const table: [TlbiOp, bigint, boolean[]][] = [
    ["vae1", USER, [false, true, true, true]], // VA + ASID (and global entries of the VA)
    ["vae1", KERNEL, [true, true, true, false]], // a global entry goes with any ASID
    ["vale1", USER, [false, true, true, true]],
    ["vaae1", USER, [false, false, true, true]], // every ASID
    ["vaale1", USER, [false, false, true, true]],
    ["aside1", 0n, [false, true, false, true]], // non-global entries of ASID 1 only
    ["vmalle1", 0n, [false, false, false, false]],
  ];
  for (const [op, v, stays] of table) {
    it(`TLBI ${op.toUpperCase()} ${v === 0n ? "" : `0x${v.toString(16)} `}(ASID 1)`, () => {
      const { m } = warm();
      const [c0, c1] = m.cpus;
      const a = va(v);
      c0.tlbi(op, a.hi, a.lo, 1);
      expect([cached(c0, USER, 1), cached(c0, USER, 2), cached(c0, USER2, 1), cached(c0, KERNEL, 5)]).toEqual(
        stays,
      );
      // the local form leaves the other CPU alone
      expect([cached(c1, USER, 1), cached(c1, USER, 2), cached(c1, USER2, 1), cached(c1, KERNEL, 5)]).toEqual(
        [true, true, true, true],
      );
      // the Inner Shareable form reaches both, by hardware: no interrupt, one broadcast
      c0.tlbiIs(op, a.hi, a.lo, 1);
      expect([cached(c1, USER, 1), cached(c1, USER, 2), cached(c1, USER2, 1), cached(c1, KERNEL, 5)]).toEqual(
        stays,
      );
      expect([c0.broadcasts, c1.broadcastsReceived, m.broadcasts]).toEqual([1, 1, 1]);
    });
  }

  it("takes the register operand as the instruction does (ASID in 63:48, VA[55:12] in 43:0)", () => {
    const { m } = warm();
    const c0 = m.cpus[0];
    // TLBI VAE1IS, Xt = ASID 1 | VA 0x400000 >> 12
    c0.tlbiXt("vae1", 0x0001_0000, 0x400, true);
    expect([cached(m.cpus[1], USER, 1), cached(m.cpus[1], USER, 2)]).toEqual([false, true]);
    // the kernel page: VA[55] is Xt bit 43
    const kvpn = Number((KERNEL >> 12n) & 0xf_ffff_ffffn);
    c0.tlbiXt("vaae1", 0x800 | Math.floor(kvpn / 2 ** 32), kvpn % 2 ** 32, false);
    expect(cached(c0, KERNEL, 1)).toBe(false);
  });

  it("TCR_EL1.A1 takes the ASID from TTBR1_EL1: switchTtbr0 writes it there and TTBR0's field no longer counts", () => {
    const { cpu, root0 } = bareArm64();
    cpu.setTcr({ a1: true });
    cpu.switchTtbr0(pfnToPa(root0), 7);
    expect(cpu.asid).toBe(7);
    expect(cpu.ttbr1Hi >>> 16).toBe(7);
    expect(cpu.ttbr0Hi >>> 16).toBe(0);
    cpu.loadTtbr0(pfnToPa(root0), 9);
    expect(cpu.asid).toBe(7);
    cpu.setTcr({ a1: false });
    expect(cpu.asid).toBe(9);
  });

  it("8-bit ASIDs: TLBI compares the low 8 bits", () => {
    const { m } = warm();
    const c0 = m.cpus[0];
    c0.setTcr({ as: false });
    c0.tlbi("aside1", 0, 0, 0x101);
    expect(cached(c0, USER, 1)).toBe(false);
  });
});

describe("TLBI by range (FEAT_TLBIRANGE)", () => {
  // [op, what stays cached: USER@1, USER@2, USER2@1, KERNEL], the range USER .. USER2 (2 pages)
  const table: [TlbiRangeOp, bigint, boolean[]][] = [
    ["rvae1", USER, [false, true, false, true]], // both pages of ASID 1; ASID 2's stays
    ["rvale1", USER, [false, true, false, true]],
    ["rvaae1", USER, [false, false, false, true]], // every ASID
    ["rvaale1", USER, [false, false, false, true]],
    ["rvae1", KERNEL, [true, true, true, false]], // a global entry in the range goes with any ASID
  ];
  for (const [op, v, stays] of table)
    it(`TLBI ${op.toUpperCase()} 0x${v.toString(16)} +2 pages (ASID 1): one instruction, one broadcast`, () => {
      const { m } = warm();
      const [c0, c1] = m.cpus;
      const a = va(v);
      const tlbis = c0.tlbis;
      c0.tlbiRange(op, a.hi, a.lo, 2, 1);
      const now = (c: Arm64Cpu) => [
        cached(c, USER, 1),
        cached(c, USER, 2),
        cached(c, USER2, 1),
        cached(c, KERNEL, 5),
      ];
      expect(now(c0)).toEqual(stays);
      expect(now(c1)).toEqual([true, true, true, true]);
      expect(c0.tlbis - tlbis).toBe(1);
      c0.tlbiRangeIs(op, a.hi, a.lo, 2, 1);
      expect(now(c1)).toEqual(stays);
      expect([c0.broadcasts, c1.broadcastsReceived, m.broadcasts]).toEqual([1, 1, 1]);
    });

  it("a range of one page leaves the next; a block entry that overlaps the range goes whole", () => {
    const { m, mapper, root0 } = warm();
    const c0 = m.cpus[0];
    c0.tlbiRange("rvae1", va(USER).hi, va(USER).lo, 1, 1);
    expect([cached(c0, USER, 1), cached(c0, USER2, 1)]).toEqual([false, true]);
    // a 2 MiB block at 0x4000_0000; a range over its last page and the page after drops it
    const BLOCK = 0x4000_0000n;
    mapper.map(root0, vpnOf(BLOCK), toPfn(0x1000), 1, { user: true });
    const b = va(BLOCK + 0x1f_f000n);
    expect(c0.translate(b.hi, b.lo, Access.Read)).toBe(0);
    expect(cached(c0, BLOCK, 1)).toBe(true);
    c0.tlbiRange("rvale1", b.hi, b.lo, 2, 1);
    expect(cached(c0, BLOCK, 1)).toBe(false);
  });
});

describe("stale entries", () => {
  it("a missing TLBI leaves a stale translation that hardware uses, and the checker reports it", () => {
    const k = bareArm64({ cpus: 2, checkCoherence: true });
    const { m, mapper, root0 } = k;
    const [c0, c1] = m.cpus;
    mapper.map(root0, vpnOf(USER), toPfn(0x900), 0, { user: true, writable: true });
    const a = va(USER);
    for (const c of m.cpus) {
      c.loadTtbr0(pfnToPa(root0), 7);
      c.el = 0;
      expect(c.translate(a.hi, a.lo, Access.Write)).toBe(0);
    }
    // make it read-only, flush only this CPU
    const r = mapper.protect(root0, vpnOf(USER), { user: true, writable: false });
    expect(r.ok && r.flush?.required).toBe(true);
    c0.tlbi("vae1", a.hi, a.lo, 7);
    expect(c0.translate(a.hi, a.lo, Access.Write)).toBe(0x24); // a permission fault on c0
    expect(c0.esr).toBe(0x9200004f);
    expect(c1.translate(a.hi, a.lo, Access.Write)).toBe(0); // c1 still writes through its stale entry
    const reports = m.checker!.reports;
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ cpu: 1, pcid: 7, asidName: "ASID", global: false });
    expect(reports[0].differences).toContain("writable (memory: read-only)");
    expect(reports[0].missing).toMatch(/TLBI VAE1IS for 0x400000 in ASID 7/);
    expect(formatStaleUse(reports[0])).toMatch(/L3 entry at 0x[0-9a-f]+ changed/);
    // an abort does not drop the stale entry on ARM (unlike x86's #PF): c1 keeps using it
    expect(c1.translate(a.hi, a.lo, Access.Write)).toBe(0);
    // the IS form fixes every CPU
    c0.tlbiIs("vae1", a.hi, a.lo, 7);
    expect(c1.translate(a.hi, a.lo, Access.Write)).toBe(0x24);
  });

  it("a remapped kernel page (global) stays stale under TLBI ASIDE1, and VAAE1IS drops it", () => {
    const k = bareArm64({ checkCoherence: true });
    const { cpu, mapper, root1 } = k;
    mapper.map(root1, vpnOf(KERNEL), toPfn(0xa00), 0, { global: true });
    const a = va(KERNEL);
    expect(cpu.translate(a.hi, a.lo, Access.Read)).toBe(0);
    mapper.unmap(root1, vpnOf(KERNEL));
    mapper.map(root1, vpnOf(KERNEL), toPfn(0xb00), 0, { global: true });
    cpu.tlbi("aside1", 0, 0, 0);
    expect(cpu.translate(a.hi, a.lo, Access.Read)).toBe(0);
    expect(cpu.pa).toBe(0xa00000);
    const rep = k.m.checker!.reports[0];
    expect(rep.global).toBe(true);
    expect(rep.differences[0]).toMatch(/frame 0xa00 \(memory: 0xb00\)/);
    expect(rep.missing).toMatch(/TLBI VAAE1IS or VAE1IS for 0xffff800000100000/);
    cpu.tlbiIs("vaae1", a.hi, a.lo);
    expect(cpu.translate(a.hi, a.lo, Access.Read)).toBe(0);
    expect(cpu.pa).toBe(0xb00000);
  });
});
