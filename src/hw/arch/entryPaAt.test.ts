/**
 * PageTableMapper.entryPaAt, the walk the kernel's fault path and reverse map take to an entry
 * without an object, finds the entry `entryAt` finds (or none where it finds none) on every
 * architecture's tables: 4K and large pages mapped at random, some unmapped, levels 0 to the top.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import type { Pfn, Vpn } from "../../base/units.ts";
import type { PageTableMapper } from "../mmu/Mapper.ts";
import { PhysMem } from "../PhysMem.ts";
import { Arm64Mapper } from "./arm64/Mapper.ts";
import { I386Mapper } from "./i386/Mapper.ts";
import { RiscvMapper } from "./riscv/Mapper.ts";
import { Mapper } from "./x86_64/Mapper.ts";

type Make = (phys: PhysMem, alloc: { allocFrame: () => Pfn | -1 }) => PageTableMapper;

const MAPPERS: [string, Make, number, number, number][] = [
  // name, constructor, levels, pages of a level-1 leaf, the first vpn of the pages mapped
  ["x86-64", (p, a) => new Mapper(p, 4, 46, a), 4, 512, 0],
  ["i386", (p, a) => new I386Mapper(p, false, a), 2, 1024, 0],
  ["i386 PAE", (p, a) => new I386Mapper(p, true, a), 3, 512, 0],
  ["arm64", (p, a) => new Arm64Mapper(p, a), 4, 512, 0],
  // TTBR1's range (its vpns carry bit 36, which the initial table's index masks off), 42 bits
  // (TxSZ 22: an 8-entry initial table), high in the range: every level's index in use
  [
    "arm64 TTBR1 42-bit",
    (p, a) => new Arm64Mapper(p, a, 42),
    4,
    512,
    2 ** 36 + (5 * 512 + 0x1a5) * 512 * 512,
  ],
  ["riscv Sv39", (p, a) => new RiscvMapper(p, a, 3), 3, 512, 0],
  ["riscv Sv57", (p, a) => new RiscvMapper(p, a, 5), 5, 512, 0x1234567 * 512 * 512],
];

describe("PageTableMapper.entryPaAt", () => {
  for (const [name, make, levels, largePages, base] of MAPPERS) {
    it(`finds entryAt's entry on ${name}`, () => {
      const rng = new Rng(7);
      const phys = new PhysMem(16 << 20);
      let next = 1;
      const m = make(phys, { allocFrame: () => (next < phys.nrFrames ? (next++ as Pfn) : -1) });
      const root = m.newRoot() as Pfn;
      const window = 4 * largePages * 512;
      for (let i = 0; i < 800; i++) {
        const large = rng.below(8) === 0;
        const vpn = base + rng.below(window);
        const first = large ? vpn - (vpn % largePages) : vpn;
        const pfn = large ? 0x800 * largePages : 0x800 + rng.below(0x100);
        m.map(root, first as Vpn, pfn as Pfn, large ? 1 : 0, { user: true, writable: rng.below(2) === 0 });
        if (rng.below(4) === 0) m.unmap(root, (base + rng.below(window)) as Vpn);
      }
      let found = 0;
      for (let i = 0; i < 3000; i++) {
        const vpn = base + rng.below(window * 2);
        const level = rng.below(levels);
        const want = m.entryAt(root, vpn as Vpn, level);
        expect(m.entryPaAt(root, vpn as Vpn, level), `vpn ${vpn} level ${level}`).toBe(want?.entryPa ?? -1);
        if (want !== null) found++;
      }
      expect(found).toBeGreaterThan(500); // walks that reach their level, and (below) walks that stop above it
      expect(found).toBeLessThan(3000);
    });
  }
});
