/**
 * readEntry (ptep_get with both halves from one look-up of the frame) reads
 * what entryHi and entryLo read, one half at a time, whatever the frame holds:
 * zeros, one value throughout, a single entry (a compact frame), varied words;
 * for 8-byte and 4-byte entries.
 */
import { describe, expect, it } from "vitest";
import { pfnUnchecked } from "../../base/units.ts";
import { PhysMem } from "../../hw/PhysMem.ts";
import type { MmContext } from "./internal.ts";
import { entryHi, entryLo, entryRead, readEntry } from "./pgtable.ts";

function ctxOf(phys: PhysMem, entryBytes: number): MmContext {
  return { env: { phys, pgtable: { entryBytes } } } as unknown as MmContext;
}

describe("readEntry", () => {
  for (const entryBytes of [8, 4]) {
    it(`${entryBytes}-byte entries: the halves entryHi and entryLo read, frame by frame`, () => {
      const phys = new PhysMem(64 * 4096);
      phys.fillFrame(pfnUnchecked(1), 0x12345678, 0x9abcdef1); // one value throughout
      phys.write64(2 * 4096 + 8 * 17, 0x80000000, 0x0badf00d); // one entry: a compact frame
      let seed = 7;
      const rand = () => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed;
      };
      for (let i = 0; i < 512; i++) phys.write64(3 * 4096 + i * 8, rand(), rand()); // varied
      phys.write64(4 * 4096 + 8, 0xffffffff, 0xfffff067);
      phys.write64(4 * 4096 + 4000, 1, 2); // two entries
      const ctx = ctxOf(phys, entryBytes);
      let nonzero = 0;
      for (const frame of [0, 1, 2, 3, 4, 63]) {
        for (let i = 0; i < 4096 / entryBytes; i++) {
          const pa = frame * 4096 + i * entryBytes;
          readEntry(ctx, pa);
          const want = [entryHi(ctx, pa), entryLo(ctx, pa)];
          expect([entryRead.hi, entryRead.lo], `frame ${frame} entry ${i}`).toEqual(want);
          if (want[0] !== 0 || want[1] !== 0) nonzero++;
        }
      }
      expect(nonzero).toBeGreaterThan(4096 / entryBytes);
    });
  }
});
