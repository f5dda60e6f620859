/** Tlb.lookup's `missed` (Mmu's first-level fast path probes that array first): the same hits, misses and contents as a lookup of every array. */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import type { Vpn } from "../../base/units.ts";
import { makeTlb, type Tlb } from "./Tlb.ts";
import { Meta } from "./TlbArray.ts";
import { smallSkylake } from "./tlbSpecs.testkit.ts";

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

describe("Tlb.fill's choice of array", () => {
  it("puts a page in each level's array of its size, else fractures it into the level's base-page array", () => {
    // skylake's L1 has a 2M array, its L2 (STLB) holds 4K and 2M; `vmref` has 4K arrays only; `none` has none
    const vpn = (5 * 512 + 37) as Vpn;
    const first = 5 * 512;
    for (const [spec, expected] of [
      ["skylake", ["L1.1", "L2.0"]],
      ["vmref", ["L1.0", "L2.0"]],
    ] as const) {
      const t = makeTlb(spec);
      t.fill(vpn, 1, (first + 9000) as never, 3 | Meta.D, false);
      const held = t.levels.flatMap((l) =>
        l.arrays.flatMap((a) =>
          a.occupancy() === 0
            ? []
            : [
                {
                  name: a.name,
                  pfn: a.pfns[a.peek(vpn, 3)],
                  held: (a.metas[a.peek(vpn, 3)] >>> Meta.HELD_SIZE_SHIFT) & 7,
                  src: (a.metas[a.peek(vpn, 3)] >>> Meta.SRC_SIZE_SHIFT) & 7,
                },
              ],
        ),
      );
      expect(held.map((h) => h.name)).toEqual(expected);
      for (const h of held) {
        const fractured = h.held === 0;
        expect(h.src).toBe(1); // the page's own size, kept in a fractured piece
        // a 2M entry holds the page's first frame; a fractured piece the frame of vpn's 4K piece
        expect(h.pfn).toBe(first + 9000 + (fractured ? 37 : 0));
        expect(fractured).toBe(spec === "vmref");
      }
    }
    // a hit in the STLB of a fractured piece is promoted into L1 as that piece
    const t = makeTlb("vmref");
    t.fill(vpn, 1, (first + 9000) as never, 3 | Meta.D, false, 0, 2);
    t.levels[0].arrays[0].invalidateAll(3, 1);
    expect(t.lookup(vpn, 3, false)).toBe(true);
    expect(t.hitLevel).toBe(1);
    const l1 = t.levels[0].arrays[0];
    expect(l1.pfns[l1.peek(vpn, 3)]).toBe(first + 9000 + 37);
    // and no level has an array for an instruction fetch in `none`
    const none = makeTlb("none");
    none.fill(vpn, 1, 1 as never, 3, true);
    expect(none.lookup(vpn, 3, true)).toBe(false);
  });
});

/** skylake's arrays, smaller: an instruction-fetch entry outlives its copy in the STLB */
const SMALL_SKYLAKE = smallSkylake(64);

describe("Tlb.invalidatePageMissed (an x86 page fault after a miss in every array)", () => {
  for (const [name, spec] of [
    ["skylake", "skylake"],
    ["small skylake", SMALL_SKYLAKE],
    ["vmref", "vmref"],
  ] as const) {
    it(`drops the entries invalidatePage drops after a missed lookup (${name}: fills of 4K, 2M and 1G pages, fetches and data, global ones)`, () => {
      const rng = new Rng(11);
      const plain = makeTlb(spec);
      const fast = makeTlb(spec);
      let dropped = 0;
      let skipped = 0;
      let faults = 0;
      for (let step = 0; step < 30000; step++) {
        const vpn = (rng.below(2) * 262144 + rng.below(4096)) as Vpn; // in two 1G regions
        const asid = rng.below(2);
        const instr = rng.below(3) === 0;
        const op = rng.below(40);
        if (op === 0) {
          // an INVLPG elsewhere, which drops large pages too
          const other = (rng.below(2) * 262144 + rng.below(4096)) as Vpn;
          for (const t of [plain, fast]) t.invalidatePage(other, asid, 0);
          continue;
        }
        if (op < 20) {
          const r = rng.below(40);
          const size = r === 0 ? 2 : r < 5 ? 1 : 0;
          const first = vpn - (vpn % [1, 512, 262144][size]);
          const meta = asid | Meta.D | (rng.below(4) === 0 ? Meta.G : 0);
          for (const t of [plain, fast]) t.fill(vpn, size, (first + 1000) as never, meta, instr);
          continue;
        }
        // a lookup as Mmu makes it; a miss in every array then faults
        const hitA = plain.lookup(vpn, asid, instr);
        const hitB = fast.lookup(vpn, asid, instr);
        expect(hitB).toBe(hitA);
        if (hitA) continue;
        faults++;
        const a = plain.invalidatePage(vpn, asid, 0);
        const b = fast.invalidatePageMissed(vpn, asid, instr);
        expect(b).toBe(a);
        dropped += a;
        skipped += fast.levels
          .flatMap((l) => l.arrays)
          .filter((x) => (x.kindMask & (instr ? 2 : 1)) !== 0 && !x.mayHoldPieces).length;
      }
      expect(state(fast)).toEqual(state(plain));
      // the faults dropped entries (fetch entries on a data fault, fractured pieces: seldom in skylake's
      // large arrays) and skipped arrays (vmref fractures every large page into its 4K arrays: fewer)
      expect(faults).toBeGreaterThan(1000);
      expect(dropped).toBeGreaterThan(name === "skylake" ? 0 : 100);
      expect(skipped).toBeGreaterThan(name === "vmref" ? 1000 : faults);
    });
  }
});
