/**
 * The Contiguous bit on level-2 block descriptors (Arm ARM D8.6.1, 4K
 * granule: 16 adjacent 2M blocks, a 32M run; Linux's CONT_PMD HugeTLB
 * pages). The bit is a hint: the run's descriptors "might" be cached as one
 * TLB entry. vmlab's TLB keeps a 32M run as each 2M block's own entry (it
 * has one contiguous size, the 64K of page descriptors), which the hint
 * allows; so a misprogrammed run (D8.6.1 "Misprogramming of the Contiguous
 * bit", CONSTRAINED UNPREDICTABLE) translates each block by the descriptor
 * walked for it, one of the outcomes the Arm ARM permits, and never mixes
 * two descriptors' addresses.
 */
import { describe, expect, it } from "vitest";
import { toPfn, type Vpn } from "../../../base/units.ts";
import { Access } from "../../access.ts";
import { DescHi } from "./format.ts";
import { bareArm64, va, vpnOf } from "./testkit.ts";

const BASE = 0x4000_0000n; // 32M-aligned
const FRAME = 0x8000; // 8192-aligned: 128M

/** 16 user 2M blocks at BASE -> FRAME + 512 i, with the Contiguous bit; `frameOf` may misprogram one. */
function mapRun(
  k: ReturnType<typeof bareArm64>,
  frameOf = (i: number) => FRAME + 512 * i,
  cont = (_i: number) => true,
) {
  for (let i = 0; i < 16; i++) {
    const vpn = (vpnOf(BASE) + 512 * i) as Vpn;
    expect(k.mapper.map(k.root0, vpn, toPfn(frameOf(i)), 1, { user: true, writable: true }).ok).toBe(true);
    const e = k.mapper.lookup(k.root0, vpn)!;
    if (cont(i)) k.m.phys.write64(e.entryPa, (e.hi | DescHi.CONT) >>> 0, e.lo);
  }
}

function touch(cpu: ReturnType<typeof bareArm64>["cpu"], offset: bigint): number {
  const a = va(BASE + offset);
  return cpu.translate(a.hi, a.lo, Access.Read);
}

describe("a 32M run of contiguous 2M blocks (D8.6.1)", () => {
  for (const fast of [true, false]) {
    it(`each block translates by its own descriptor, one 2M TLB entry per block (${fast ? "fast" : "generic"} walk)`, () => {
      const k = bareArm64({ tlb: "skylake" });
      k.cpu.useFastMiss = fast;
      k.cpu.el = 0;
      mapRun(k);
      expect(touch(k.cpu, 0x1234n)).toBe(0);
      expect(k.cpu.pa).toBe(FRAME * 4096 + 0x1234);
      expect(touch(k.cpu, 0x100000n)).toBe(0); // the same block: a hit
      expect(k.cpu.walks).toBe(1);
      expect(touch(k.cpu, 5n * 0x200000n + 0x3008n)).toBe(0);
      expect(k.cpu.pa).toBe((FRAME + 5 * 512) * 4096 + 0x3008);
      expect(touch(k.cpu, 0x1ff_ffffn)).toBe(0);
      expect(k.cpu.pa).toBe((FRAME + 15 * 512) * 4096 + 0x1f_ffff);
      expect(k.cpu.walks).toBe(3);
    });
  }

  it("a misprogrammed run (a block off its place, another without the bit) still translates block by block", () => {
    const k = bareArm64({ tlb: "skylake" });
    k.cpu.el = 0;
    mapRun(
      k,
      (i) => (i === 5 ? 0x4000 : FRAME + 512 * i),
      (i) => i !== 7,
    );
    for (const i of [0, 5, 7, 9]) {
      expect(touch(k.cpu, BigInt(i) * 0x200000n + 0x10n)).toBe(0);
      expect(k.cpu.pa).toBe((i === 5 ? 0x4000 : FRAME + 512 * i) * 4096 + 0x10);
    }
  });
});
