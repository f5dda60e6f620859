/**
 * Mapper.mapAt (resumed where a failed walk stopped) writes what Mapper.map writes, allocates the
 * same table frames in the same order and gives the leaf's address as entryPaAt finds it, on 4
 * and 5 levels, for 4K and 2M leaves, user and supervisor pages; a record that is not the walk
 * of that page (another page's, a stale one) falls back to map. clearAt clears what unmap clears.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../../base/rng.ts";
import type { Pfn, PhysAddr, Vpn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { BumpFrames, type MapFlags } from "../../mmu/Mapper.ts";
import { WalkRecord } from "../../mmu/WalkRecord.ts";
import { hwArch } from "../index.ts";

const FRAMES = 4096;

function setup(arch: string) {
  const a = hwArch(arch);
  const m = a.machine({ ramBytes: FRAMES * 4096, tlb: "vmref" });
  const tables = new BumpFrames(2048, FRAMES);
  const mapper = a.mapper(m.phys, tables);
  const root = mapper.newRoot() as Pfn;
  const cpu = m.cpus[0];
  cpu.loadUserRoot(root, 0);
  return { phys: m.phys, tables, mapper, root, cpu };
}

describe("Mapper.mapAt", () => {
  for (const arch of ["x86_64", "x86_64-la57"]) {
    it(`${arch}: the tables, frames and leaf address of map, from a walk's fault or not`, () => {
      const rng = new Rng(arch.length);
      const byMap = setup(arch);
      const byWalk = setup(arch);
      const rec = new WalkRecord();
      const other = new WalkRecord();
      const span = 2 ** (byMap.mapper.levels === 5 ? 44 : 35); // pages of the lower half
      let resumed = 0;
      for (let i = 0; i < 400; i++) {
        const size = rng.below(6) === 0 ? 1 : 0;
        // pages in a few regions (shared tables), some anywhere
        const region = rng.below(4) === 0 ? rng.below(span) : rng.below(4) * 2 ** 27 + rng.below(4096);
        const vpn = size === 1 ? region - (region % 512) : region;
        const flags: MapFlags = {
          user: rng.below(4) !== 0,
          writable: rng.below(2) === 0,
          accessed: rng.below(2) === 0,
          dirty: rng.below(2) === 0,
          nx: rng.below(3) === 0,
        };
        const pfn = (rng.below(2048 >> (9 * size)) << (9 * size)) as Pfn;
        const va = vpn * 4096;
        const hi = Math.floor(va / 2 ** 32);
        const lo = va % 2 ** 32;
        const out = byWalk.cpu.probe(hi, lo, Access.Read, Mode.Supervisor, rec);
        if (out === 0 || rec.faultLevel < size) continue; // mapped there (or a leaf above): map refuses
        const expected = byMap.mapper.map(byMap.root, vpn as Vpn, pfn, size, flags);
        if (!expected.ok) continue; // a 2M page where a table is, or the other way round
        // one in four: a record of another page's walk, which mapAt must not trust
        const stale = rng.below(4) === 0;
        if (stale) byWalk.cpu.probe(hi, (lo + 4096 * 513) % 2 ** 32, Access.Read, Mode.Supervisor, other);
        else resumed++;
        const leaf = byWalk.mapper.mapAt(byWalk.root, vpn as Vpn, pfn, size, flags, stale ? other : rec);
        expect(leaf).toBe(byMap.mapper.entryPaAt(byMap.root, vpn as Vpn, size));
        expect(byWalk.tables.next).toBe(byMap.tables.next);
        if (rng.below(5) === 0) {
          // and taken away again, as unmap takes it
          expect(byMap.mapper.unmap(byMap.root, vpn as Vpn).ok).toBe(true);
          byWalk.mapper.clearAt(leaf as PhysAddr);
        }
      }
      expect(resumed).toBeGreaterThan(100);
      for (let f = 0; f < FRAMES; f++) {
        const a = byMap.phys.frameWords(f as Pfn);
        const b = byWalk.phys.frameWords(f as Pfn);
        if (a === null || b === null)
          expect(a === null ? (b?.every((w) => w === 0) ?? true) : a.every((w) => w === 0)).toBe(true);
        else expect(Array.from(b)).toEqual(Array.from(a));
      }
    });
  }

  for (const arch of ["arm64", "riscv-sv48", "i386", "i386-pae"]) {
    it(`${arch}: map and the leaf's address (mapAtByWalk), clearAt as unmap`, () => {
      const t = setup(arch);
      const ref = setup(arch);
      const rec = new WalkRecord();
      for (let i = 0; i < 64; i++) {
        const vpn = (i * 37) % 300;
        const pfn = (100 + i) as Pfn;
        const r = ref.mapper.map(ref.root, vpn as Vpn, pfn, 0, { user: true, writable: true });
        const leaf = t.mapper.mapAt(t.root, vpn as Vpn, pfn, 0, { user: true, writable: true }, rec);
        if (!r.ok) continue;
        expect(leaf).toBe(ref.mapper.entryPaAt(ref.root, vpn as Vpn, 0));
        if (i % 3 === 0) {
          expect(ref.mapper.unmap(ref.root, vpn as Vpn).ok).toBe(true);
          t.mapper.clearAt(leaf as PhysAddr);
        }
        expect(t.mapper.lookup(t.root, vpn as Vpn)).toEqual(ref.mapper.lookup(ref.root, vpn as Vpn));
      }
    });
  }
});
