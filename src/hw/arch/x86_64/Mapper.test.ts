/**
 * Mapper.entryAt reads both halves of an entry from one look-up of its table's frame: the same
 * entries as two read32s; entryPaAt finds the same entry's address.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../../base/rng.ts";
import type { Pfn, Vpn } from "../../../base/units.ts";
import { PhysMem } from "../../PhysMem.ts";
import { Mapper } from "./Mapper.ts";

/** entryAt as it was: every half through PhysMem.read32. */
function reference(phys: PhysMem, levels: number, rootPfn: number, vpn: number, level: number) {
  let tablePa = rootPfn * 4096;
  for (let l = levels - 1; l >= level; l--) {
    const entryPa = tablePa + (Math.floor(vpn / 512 ** l) % 512) * 8;
    const lo = phys.read32(entryPa);
    const hi = phys.read32(entryPa + 4);
    if (l === level) return { level: l, entryPa, hi, lo };
    if ((lo & 1) === 0 || (l <= 2 && (lo & 0x80) !== 0)) return null;
    tablePa = (hi & 0xfffff) * 2 ** 32 + ((lo & 0xfffff000) >>> 0);
  }
  return null;
}

describe("Mapper.entryAt", () => {
  it("gives read32's entries and stray reads for mapped, unmapped, large, garbage and out-of-RAM tables", () => {
    const rng = new Rng(11);
    const phys = new PhysMem(8 << 20);
    let next = 1;
    const m = new Mapper(phys, 4, 46, { allocFrame: () => (next < phys.nrFrames ? (next++ as Pfn) : -1) });
    const root = m.newRoot() as Pfn;
    const window = 4 * 512 * 512; // four PMD tables' worth of pages, two PUD entries
    for (let i = 0; i < 3000; i++) {
      const size = rng.below(8) === 0 ? 1 : 0;
      const vpn = rng.below(window);
      const first = size === 1 ? vpn - (vpn % 512) : vpn;
      m.map(root, first as Vpn, (rng.below(1 << 20) * (size === 1 ? 512 : 1)) as Pfn, size, {
        user: true,
        writable: rng.below(2) === 0,
        nx: rng.below(2) === 0,
      });
    }
    // garbage: entries pointing outside RAM (present), other words changed by hand
    for (let i = 0; i < 200; i++) {
      const frame = 1 + rng.below(next - 1);
      const w = rng.below(512) * 8;
      if (rng.below(2) === 0)
        phys.write64(frame * 4096 + w, rng.below(16), ((rng.below(1 << 20) * 4096) | 1) >>> 0);
      else phys.write32(frame * 4096 + w + 4, rng.below(1 << 31));
    }
    // PMD entries naming tables beyond RAM: the next level's reads are stray
    for (let i = 0; i < 20; i++) {
      const e = m.entryAt(root, rng.below(window) as Vpn, 1);
      if (e !== null) phys.write64(e.entryPa, 0, (((phys.nrFrames + rng.below(1000)) * 4096) | 1) >>> 0);
    }
    let found = 0;
    let strays = 0;
    for (let i = 0; i < 8000; i++) {
      const vpn = rng.below(window * 2);
      const level = rng.below(4);
      const stray0 = phys.strayAccesses;
      const want = reference(phys, 4, root, vpn, level);
      const strayWant = phys.strayAccesses - stray0;
      const got = m.entryAt(root, vpn as Vpn, level);
      expect(got, `vpn ${vpn} level ${level}`).toEqual(want);
      expect(phys.strayAccesses - stray0 - strayWant).toBe(strayWant);
      // entryPaAt: the same walk without the object (the entry's own halves are not read)
      expect(m.entryPaAt(root, vpn as Vpn, level), `entryPaAt vpn ${vpn} level ${level}`).toBe(
        got?.entryPa ?? -1,
      );
      if (got !== null && (got.lo & 1) !== 0) found++;
      if (strayWant > 0) strays++;
    }
    expect(found).toBeGreaterThan(500);
    expect(strays).toBeGreaterThan(0);
  });
});
