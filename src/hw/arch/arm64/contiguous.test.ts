/**
 * The Contiguous bit (Arm ARM D8.6.1): 16 adjacent page descriptors with
 * bit 52, mapping one 64K-aligned block of frames, are cached as one TLB
 * entry; a TLBI by VA of any page of the block drops it; the coherence
 * checker reports "Misprogramming of the Contiguous bit".
 */
import { describe, expect, it } from "vitest";
import { toPfn, type Vpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { DescHi } from "./format.ts";
import { bareArm64, va, vpnOf } from "./testkit.ts";

const BASE = 0x40_0000n; // 64K-aligned
const FRAME = 0x900; // 16-aligned

/** 16 user pages at BASE -> FRAME.., with the Contiguous bit when `cont`; returns each descriptor's address. */
function mapBlock(k: ReturnType<typeof bareArm64>, cont: boolean, frame = FRAME): number[] {
  const pas: number[] = [];
  for (let i = 0; i < 16; i++) {
    const vpn = (vpnOf(BASE) + i) as Vpn;
    k.mapper.map(k.root0, vpn, toPfn(frame + i), 0, { user: true, writable: true });
    const e = k.mapper.lookup(k.root0, vpn)!;
    if (cont) k.m.phys.write64(e.entryPa, (e.hi | DescHi.CONT) >>> 0, e.lo);
    pas.push(e.entryPa);
  }
  return pas;
}

function touch(cpu: ReturnType<typeof bareArm64>["cpu"], page: number, access = Access.Read): number {
  const a = va(BASE + BigInt(page) * 0x1000n + 0x18n);
  return cpu.translate(a.hi, a.lo, access);
}

describe("contiguous page descriptors (D8.6.1)", () => {
  for (const fast of [true, false]) {
    it(`16 accesses to a contiguous block walk once and hold one TLB entry (${fast ? "fast" : "generic"} walk)`, () => {
      const k = bareArm64({ tlb: "tiny" });
      const { cpu } = k;
      cpu.useFastMiss = fast;
      cpu.el = 0;
      mapBlock(k, true);
      for (let i = 0; i < 16; i++) {
        expect(touch(cpu, i)).toBe(0);
        expect(cpu.pa).toBe((FRAME + i) * 4096 + 0x18);
      }
      expect(cpu.walks).toBe(1);
      const arr = cpu.tlb.levels[0].arrays[0];
      expect(arr.occupancy()).toBe(1);
      expect(arr.occupancy(4)).toBe(1); // size code 4: the 64K block
    });
  }

  it("without the bit the same block walks 16 times", () => {
    const k = bareArm64({ tlb: "tiny" });
    k.cpu.el = 0;
    mapBlock(k, false);
    for (let i = 0; i < 16; i++) expect(touch(k.cpu, i)).toBe(0);
    expect(k.cpu.walks).toBe(16);
  });

  it("an array with contiguous: false keeps base-page pieces, all dropped by a TLBI of one page", () => {
    const k = bareArm64({ tlb: [{ name: "L1", arrays: [{ entries: 64, ways: 4, contiguous: false }] }] });
    k.cpu.el = 0;
    mapBlock(k, true);
    for (let i = 0; i < 16; i++) expect(touch(k.cpu, i)).toBe(0);
    expect(k.cpu.walks).toBe(16);
    expect(k.cpu.tlb.levels[0].arrays[0].occupancy()).toBe(16);
    const a = va(BASE + 0x5000n);
    k.cpu.tlbi("vale1", a.hi, a.lo, 0);
    expect(k.cpu.tlb.levels[0].arrays[0].occupancy()).toBe(0);
  });

  it("TLBI VALE1 of any page of the block drops the block's entry", () => {
    for (const page of [0, 7, 15]) {
      const k = bareArm64({ tlb: "skylake" });
      const { cpu } = k;
      cpu.el = 0;
      mapBlock(k, true);
      expect(touch(cpu, 3)).toBe(0);
      const a = va(BASE + BigInt(page) * 0x1000n);
      cpu.tlbi("vale1", a.hi, a.lo, 0);
      expect(cpu.tlb.levels.every((l) => l.arrays.every((x) => x.occupancy() === 0))).toBe(true);
      // a page outside the block leaves it
      expect(touch(cpu, 3)).toBe(0);
      const out = va(BASE + 0x10000n);
      cpu.tlbi("vale1", out.hi, out.lo, 0);
      expect(cpu.tlb.levels[0].arrays.some((x) => x.occupancy(4) === 1)).toBe(true);
    }
  });

  it("a hardware dirty update through a contiguous entry sets one descriptor (DBM, TCR_EL1.HA/HD)", () => {
    const k = bareArm64({ tlb: "tiny" });
    const { cpu } = k;
    cpu.setTcr({ ha: true, hd: true });
    cpu.el = 0;
    const pas = [];
    for (let i = 0; i < 16; i++) {
      const vpn = (vpnOf(BASE) + i) as Vpn;
      k.mapper.map(k.root0, vpn, toPfn(FRAME + i), 0, { user: true, writable: true, dbm: true });
      const e = k.mapper.lookup(k.root0, vpn)!;
      // writable-clean: AP[2] set with DBM
      k.m.phys.write64(e.entryPa, (e.hi | DescHi.CONT | DescHi.DBM) >>> 0, (e.lo | 0x80) >>> 0);
      pas.push(e.entryPa);
    }
    expect(touch(cpu, 2, Access.Write)).toBe(0);
    expect(touch(cpu, 9, Access.Write)).toBe(0); // a hit on the now-dirty block entry
    const dirty = pas.map((pa) => (k.m.phys.read32(pa) & 0x80) === 0);
    expect(dirty.filter((d) => d)).toHaveLength(1);
    expect(dirty[2]).toBe(true);
  });

  it("the coherence checker reports a non-contiguous entry written into a folded block without break-before-make", () => {
    const k = bareArm64({ tlb: "skylake", checkCoherence: true });
    const { cpu, m } = k;
    cpu.el = 0;
    const pas = mapBlock(k, true);
    expect(touch(cpu, 1)).toBe(0);
    expect(m.checker!.reports).toHaveLength(0);
    // page 6 rewritten without the bit (same frame and rights), no TLBI: the TLB keeps the 64K entry
    const hi = m.phys.read32(pas[6] + 4);
    m.phys.write64(pas[6], (hi & ~DescHi.CONT) >>> 0, m.phys.read32(pas[6]));
    expect(touch(cpu, 6)).toBe(0);
    expect(touch(cpu, 4)).toBe(0);
    const diffs = m.checker!.reports.flatMap((r) => r.differences);
    expect(diffs).toContain("page size 64K (memory: 4K)");
    expect(
      diffs.some((d) =>
        /misprogrammed Contiguous bit: page 6 of the 64K block .* has no Contiguous bit/.test(d),
      ),
    ).toBe(true);
  });

  it("a consistent block under the checker reports nothing, and a misaligned frame is misprogramming", () => {
    const k = bareArm64({ tlb: "skylake", checkCoherence: true });
    k.cpu.el = 0;
    mapBlock(k, true, FRAME + 1); // frames 0x901..0x910: not a 64K-aligned block
    expect(touch(k.cpu, 0)).toBe(0);
    expect(touch(k.cpu, 0)).toBe(0); // the hit is checked
    const diffs = k.m.checker!.reports.flatMap((r) => r.differences);
    expect(diffs.some((d) => /not 64K-aligned/.test(d))).toBe(true);
    const k2 = bareArm64({ tlb: "skylake", checkCoherence: true });
    k2.cpu.el = 0;
    mapBlock(k2, true);
    for (let i = 0; i < 32; i++) expect(touch(k2.cpu, i % 16)).toBe(0);
    expect(k2.m.checker!.reports).toHaveLength(0);
  });
});
