/** The halves of a canonical address computed without a bigint, against the bigint form. */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { fromBig } from "../../base/u64.ts";
import { Vaddr, Vaddr32 } from "./vaddr.ts";

describe("Vaddr.canonicalHi / canonicalLo", () => {
  it("give the halves of canonical(vpn) for user and kernel vpns of every width", () => {
    const rng = new Rng(7);
    for (const va of [new Vaddr(39), new Vaddr(48), new Vaddr(57), new Vaddr32(0xc000_0000n)]) {
      const span = 2 ** (va.vaBits - 12);
      const vpns = [0, 1, span / 2 - 1, span / 2, span - 1, 2 ** 20 - 1, 2 ** 20];
      for (let i = 0; i < 2000; i++) vpns.push(Math.floor(rng.float() * span));
      for (const vpn of vpns) {
        if (vpn >= span) continue;
        const { hi, lo } = fromBig(va.canonical(vpn));
        expect([va.canonicalHi(vpn), va.canonicalLo(vpn)], `${va.vaBits} ${vpn}`).toEqual([hi, lo]);
      }
    }
  });
});

describe("Vaddr.vpnOf", () => {
  it("is vpn() of the same address given as halves, in both halves of every width", () => {
    const rng = new Rng(11);
    for (const v of [new Vaddr(39), new Vaddr(48), new Vaddr(57), new Vaddr32(0xc000_0000n)]) {
      for (let i = 0; i < 2000; i++) {
        const va = (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32());
        const { hi, lo } = fromBig(va);
        expect(v.vpnOf(hi, lo), va.toString(16)).toBe(v.vpn(va));
      }
      expect(v.vpnOf(0xffff_ffff, 0xffff_ffff)).toBe(v.vpn(0xffff_ffff_ffff_ffffn));
    }
  });
});

describe("Vaddr.isKernelOf", () => {
  it("is isKernel() of the same address given as halves: bit 63, or i386's PAGE_OFFSET and its edges", () => {
    const rng = new Rng(12);
    const vs = [new Vaddr(48), new Vaddr(57), new Vaddr32(0xc000_0000n), new Vaddr32(0x8000_0000n)];
    const edges = [0n, 0x7fff_ffffn, 0x8000_0000n, 0xbfff_ffffn, 0xc000_0000n, 0xffff_ffffn, 0x1_0000_0000n];
    for (const v of vs) {
      const vas = [...edges, 0x7fff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn];
      for (let i = 0; i < 1000; i++) vas.push((BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32()));
      for (let i = 0; i < 1000; i++) vas.push(BigInt(rng.nextU32())); // below 2^32: i386's space
      for (const va of vas) {
        const { hi, lo } = fromBig(va);
        expect(v.isKernelOf(hi, lo), va.toString(16)).toBe(v.isKernel(va));
      }
    }
  });
});
