/**
 * SFENCE.VMA ("Supervisor Memory-Management Fence Instruction"): which
 * entries each rs1/rs2 form drops by ASID and G, the address forms leaving
 * cached non-leaf PTEs alone, a fence local to its hart, stale entries used
 * as hardware may and reported by the coherence checker.
 */
import { describe, expect, it } from "vitest";
import { pfnToPa, toPfn, type Vpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { formatStaleUse } from "../../mmu/CoherenceChecker.ts";
import { Priv, type RiscvCpu, SatpMode } from "./Cpu.ts";
import { bareRiscv, va, vpnOf } from "./testkit.ts";

const USER = 0x40_0000n;
const USER2 = 0x40_1000n;
const KERNEL = 0xffff_ffc0_0010_0000n;

/** Is a translation of v cached for asid (a global one matches every ASID)? Changes nothing. */
function cached(cpu: RiscvCpu, v: bigint, asid: number): boolean {
  const vpn: Vpn = vpnOf(v);
  return cpu.tlb.levels.some((l) => l.arrays.some((a) => a.peek(vpn, asid) >= 0));
}

/** Two harts; on each, USER cached under ASIDs 1 and 2, USER2 under ASID 1, KERNEL (global) cached. */
function warm() {
  const k = bareRiscv({ cpus: 2 });
  k.mapper.map(k.root, vpnOf(USER), toPfn(0x900), 0, { user: true, writable: true });
  k.mapper.map(k.root, vpnOf(USER2), toPfn(0x901), 0, { user: true });
  k.mapper.map(k.root, vpnOf(KERNEL), toPfn(0xa00), 0, { global: true });
  for (const cpu of k.m.cpus) {
    cpu.setSum(true);
    for (const asid of [2, 1]) {
      cpu.loadSatp(SatpMode.Sv39, asid, pfnToPa(k.root));
      for (const v of [USER, USER2, KERNEL]) {
        const a = va(v);
        expect(cpu.translate(a.hi, a.lo, Access.Read)).toBe(0);
      }
    }
  }
  return k;
}

describe("SFENCE.VMA rs1, rs2", () => {
  // [rs1, rs2, what stays cached: USER@1, USER@2, USER2@1, KERNEL]
  const table: [bigint | null, number | null, boolean[]][] = [
    [null, null, [false, false, false, false]], // everything, global entries too
    [null, 1, [false, true, false, true]], // ASID 1's entries, global ones kept
    [USER, null, [false, false, true, true]], // the page, every address space
    [KERNEL, null, [true, true, true, false]], // a global page goes with rs2 = x0
    [USER, 1, [false, true, true, true]], // the page in ASID 1
    [KERNEL, 1, [true, true, true, true]], // global mappings are not ordered by an ASID fence
  ];
  for (const [rs1, rs2, stays] of table) {
    const name = `${rs1 === null ? "x0" : `0x${rs1.toString(16)}`}, ${rs2 === null ? "x0" : rs2}`;
    it(`SFENCE.VMA ${name}`, () => {
      const { m } = warm();
      const [c0, c1] = m.cpus;
      const n = c0.sfenceVma(rs1 === null ? null : va(rs1), rs2);
      const now = [cached(c0, USER, 1), cached(c0, USER, 2), cached(c0, USER2, 1), cached(c0, KERNEL, 5)];
      expect(now).toEqual(stays);
      expect(n).toBeGreaterThanOrEqual(stays.filter((s) => !s).length);
      // a fence is local: the other hart keeps everything (remote fences are software's, through SBI)
      expect([cached(c1, USER, 1), cached(c1, USER, 2), cached(c1, USER2, 1), cached(c1, KERNEL, 5)]).toEqual(
        [true, true, true, true],
      );
      expect([c0.sfences, c1.sfences, m.sfences]).toEqual([1, 0, 1]);
    });
  }

  it("an address that is not valid in the current MODE makes the fence do nothing", () => {
    const { m } = warm();
    const c0 = m.cpus[0];
    expect(c0.sfenceVma(va(0x0000_0040_0040_0000n), null)).toBe(0);
    expect(cached(c0, USER, 1)).toBe(true);
  });

  it("the address forms keep cached non-leaf PTEs; x0 forms drop them", () => {
    const k = bareRiscv({ psc: true });
    const { cpu, mapper, root } = k;
    mapper.map(root, vpnOf(USER), toPfn(0x900), 0, { user: true });
    mapper.map(root, vpnOf(USER2), toPfn(0x901), 0, { user: true });
    cpu.priv = Priv.U;
    const a = va(USER);
    const b = va(USER2);
    expect(cpu.translate(a.hi, a.lo, Access.Read)).toBe(0);
    // the level-1 pointer now points to an empty table: a by-address fence leaves the walk cache with the old one
    const l1 = mapper.entryAt(root, vpnOf(USER), 1)!;
    const empty = k.frames.allocFrame() as number;
    k.m.phys.zeroFrame(toPfn(empty));
    mapper.setEntryRaw(root, vpnOf(USER), 1, 0, ((empty * 1024) | 1) >>> 0);
    cpu.sfenceVma(a, null);
    expect(cpu.translate(b.hi, b.lo, Access.Read)).toBe(0); // the old leaf table, through the cached pointer
    expect(cpu.walkRec.pscLevel).toBe(1);
    cpu.sfenceVma(null, null);
    expect(cpu.translate(b.hi, b.lo, Access.Read)).toBe(13);
    mapper.setEntryRaw(root, vpnOf(USER), 1, l1.hi, l1.lo);
  });

  it("loadUserRoot writes satp and fences the ASID; setSatp alone fences nothing", () => {
    const { m, root } = warm();
    const c0 = m.cpus[0];
    c0.loadUserRoot(toPfn(root), 2);
    expect([c0.asid, cached(c0, USER, 2), cached(c0, USER, 1), cached(c0, KERNEL, 2)]).toEqual([
      2,
      false,
      true,
      true,
    ]);
    c0.loadSatp(SatpMode.Sv39, 1, pfnToPa(root));
    expect(cached(c0, USER, 1)).toBe(true);
  });
});

describe("superpages in the TLB", () => {
  it("Sv57: megapages to petapages are cached (whole or as 4K pieces) and dropped by a fence at any address in them", () => {
    const { cpu, mapper, root } = bareRiscv({ vaBits: 57 });
    for (let level = 1; level < 5; level++) {
      const size = 1n << BigInt(12 + 9 * level);
      const v = size * 5n;
      const pfn = 2 ** (9 * level) * 3;
      expect(mapper.map(root, vpnOf(v, 57), pfn as never, level, { global: true }).ok).toBe(true);
      const at = (off: bigint) => {
        const a = va(v + off);
        expect(cpu.translate(a.hi, a.lo, Access.Read), `level ${level}`).toBe(0);
        return cpu.pa;
      };
      expect(at(0x1234n)).toBe(pfn * 4096 + 0x1234);
      const walks = cpu.walks;
      expect(at(0x1238n)).toBe(pfn * 4096 + 0x1238);
      expect(cpu.walks, `level ${level}: a hit`).toBe(walks);
      // remap it elsewhere: a fence by the page's last address drops what the first access cached
      mapper.unmap(root, vpnOf(v, 57));
      mapper.map(root, vpnOf(v, 57), (pfn + 2 ** (9 * level)) as never, level, { global: true });
      expect(at(0x1234n), `level ${level}: stale until the fence`).toBe(pfn * 4096 + 0x1234);
      cpu.sfenceVma(va(v + size - 1n), null);
      expect(at(0x1234n), `level ${level}: after the fence`).toBe((pfn + 2 ** (9 * level)) * 4096 + 0x1234);
    }
  });
});

describe("stale entries", () => {
  it("a missing fence leaves a stale translation that the hart uses, and the checker reports it", () => {
    const k = bareRiscv({ cpus: 2, checkCoherence: true }, 7);
    const { m, mapper, root } = k;
    const [c0, c1] = m.cpus;
    mapper.map(root, vpnOf(USER), toPfn(0x900), 0, { user: true, writable: true });
    const a = va(USER);
    for (const c of m.cpus) {
      c.priv = Priv.U;
      expect(c.translate(a.hi, a.lo, Access.Write)).toBe(0);
    }
    // make it read-only, fence only hart 0
    const r = mapper.protect(root, vpnOf(USER), { user: true, writable: false });
    expect(r.ok && r.flush?.required).toBe(true);
    c0.sfenceVma(a, 7);
    expect(c0.translate(a.hi, a.lo, Access.Write)).toBe(15);
    expect(c1.translate(a.hi, a.lo, Access.Write)).toBe(0); // hart 1 still writes through its stale entry
    const reports = m.checker!.reports;
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ cpu: 1, pcid: 7, asidName: "ASID", global: false });
    expect(reports[0].differences).toContain("writable (memory: read-only)");
    expect(reports[0].missing).toMatch(/SFENCE\.VMA 0x400000, 7/);
    expect(formatStaleUse(reports[0])).toMatch(/L0 entry at 0x[0-9a-f]+ changed/);
    // a page fault drops nothing: hart 1 keeps using it until its own fence
    expect(c1.translate(a.hi, a.lo, Access.Write)).toBe(0);
    c1.sfenceVma(null, 7);
    expect(c1.translate(a.hi, a.lo, Access.Write)).toBe(15);
  });

  it("a remapped global page stays stale under SFENCE.VMA x0, asid; SFENCE.VMA va, x0 drops it", () => {
    const k = bareRiscv({ checkCoherence: true });
    const { cpu, mapper, root } = k;
    mapper.map(root, vpnOf(KERNEL), toPfn(0xa00), 0, { global: true });
    const a = va(KERNEL);
    expect(cpu.translate(a.hi, a.lo, Access.Read)).toBe(0);
    mapper.unmap(root, vpnOf(KERNEL));
    mapper.map(root, vpnOf(KERNEL), toPfn(0xb00), 0, { global: true });
    cpu.sfenceVma(null, 0);
    expect(cpu.translate(a.hi, a.lo, Access.Read)).toBe(0);
    expect(cpu.pa).toBe(0xa00000);
    const rep = k.m.checker!.reports[0];
    expect(rep.global).toBe(true);
    expect(rep.differences[0]).toMatch(/frame 0xa00 \(memory: 0xb00\)/);
    expect(rep.missing).toMatch(/SFENCE\.VMA 0xffffffc000100000, x0 \(the entry is global/);
    cpu.sfenceVma(a, null);
    expect(cpu.translate(a.hi, a.lo, Access.Read)).toBe(0);
    expect(cpu.pa).toBe(0xb00000);
  });
});
