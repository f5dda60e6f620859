/** Tlb.lookup's `missed` (Mmu's first-level fast path probes that array first): the same hits, misses and contents as a lookup of every array. */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import type { Vpn } from "../../base/units.ts";
import { makeTlb, type Tlb } from "./Tlb.ts";
import { Meta } from "./TlbArray.ts";

function state(t: Tlb) {
  return {
    hits: [...t.hits],
    misses: [...t.misses],
    arrays: t.levels.flatMap((l) => l.arrays.map((a) => [[...a.keys], [...a.pfns], [...a.metas]])),
  };
}

describe("Tlb.lookup skipping an array just missed in", () => {
  it("leaves every counter, hit and entry as the full lookup does (skylake: 4K, 2M and 1G arrays)", () => {
    const rng = new Rng(7);
    const plain = makeTlb("skylake");
    const fast = makeTlb("skylake");
    const l1 = fast.dataPath[0].find((a) => (a.sizeMask & 1) !== 0)!;
    let hits = 0;
    for (let step = 0; step < 20000; step++) {
      const vpn = rng.below(1 << 12) as Vpn;
      const asid = rng.below(2);
      if (rng.below(3) === 0) {
        const size = rng.below(4) === 0 ? 1 : 0;
        const first = size === 1 ? vpn - (vpn % 512) : vpn;
        for (const t of [plain, fast])
          t.fill(first as Vpn, size, (first + 1000) as never, asid | Meta.D, false);
        continue;
      }
      const a = plain.lookup(vpn, asid, false);
      const slot = l1.lookup(vpn, asid);
      let b: boolean;
      if (slot >= 0) {
        b = true;
        fast.hits[0]++;
        fast.hitArray = l1;
        fast.hitSlot = slot;
        fast.hitLevel = 0;
      } else b = fast.lookup(vpn, asid, false, l1);
      expect(b).toBe(a);
      if (a) {
        hits++;
        expect(fast.hitLevel).toBe(plain.hitLevel);
        expect(fast.hitArray!.pfns[fast.hitSlot]).toBe(plain.hitArray!.pfns[plain.hitSlot]);
      }
    }
    expect(hits).toBeGreaterThan(1000);
    expect(state(fast)).toEqual(state(plain));
  });
});
