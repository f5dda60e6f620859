/**
 * readEntry (ptep_get with both halves from one look-up of the frame) reads
 * what entryHi and entryLo read, one half at a time, whatever the frame holds:
 * zeros, one value throughout, a single entry (a compact frame), varied words;
 * for 8-byte and 4-byte entries. pmdPa's remembered PMD table is forgotten
 * when the tables above the PTE level leave their place (freed by munmap,
 * moved by mremap): under vitest every remembered table is also checked
 * against a walk from the PGD (a ModelBug fails the scenario).
 */
import { describe, expect, it } from "vitest";
import { pfnUnchecked } from "../../base/units.ts";
import { PhysMem } from "../../hw/PhysMem.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import type { MmContext } from "./internal.ts";
import { entryHi, entryLo, entryRead, modPow2, pteOffset, readEntry } from "./pgtable.ts";

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

describe("pmdPa's remembered PMD table", () => {
  it("is forgotten when munmap frees the tables: the next fault there finds the new ones", () => {
    // A's second fault remembers its PMD table; B's faults take A's freed table frames, so A's
    // new PMD table is another frame
    expect(
      expectationFailures(`machine ram=64M thp=never overcommit=always
spawn A
spawn B
A: a = mmap 2M at=0x40000000
A: write a 8K value=1
let d1 = table(A, a, pd)
A: munmap a 2M
B: x = mmap 256K
B: write x 256K value=2
A: b = mmap 2M at=0x40000000
A: write b 4K value=3
expect byte(A, b) == 3
expect table(A, b, pd) != d1
expect byte(B, x+128K) == 2
`),
    ).toEqual([]);
  });

  it("is forgotten when mremap moves a PMD table by its PUD entry (move_normal_pud)", () => {
    expect(
      expectationFailures(`machine ram=64M thp=never overcommit=always
spawn A
spawn B
A: a = mmap 1G at=0x40000000
A: write a 8K value=1
let d = table(A, a, pd)
A: b = mremap a 1G 1G maymove to=0x80000000
expect table(A, b, pd) == d
B: x = mmap 256K
B: write x 256K value=2
A: c = mmap 2M at=0x40000000
A: write c 4K value=3
expect byte(A, c) == 3
expect table(A, c, pd) != d
expect byte(A, b) == 1
`),
    ).toEqual([]);
  });
});

describe("modPow2", () => {
  it("is x % n for whole x up to 2^53 and powers of two n, above 2^31 too", () => {
    let seed = 11;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    const xs = [
      0,
      1,
      511,
      512,
      513,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32 + 7,
      2 ** 36 - 1,
      2 ** 52 + 3,
      2 ** 53 - 1,
    ];
    for (let i = 0; i < 2000; i++) xs.push(rand() * 2 ** (rand() % 22) + (rand() % 4096));
    for (const x of xs)
      for (const n of [1, 2, 8, 512, 1024, 2 ** 18, 2 ** 27])
        expect(modPow2(x, n), `${x} mod ${n}`).toBe(x % n);
  });
});

describe("pteOffset", () => {
  it("indexes the PMD entry's table by vpn % PTRS_PER_PTE, for vpns up to 2^53, 512- and 1024-entry tables", () => {
    let seed = 5;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    const xs = [0, 1, 511, 512, 1023, 1024, 2 ** 31 - 1, 2 ** 31, 2 ** 35 + 77, 2 ** 44 - 1, 2 ** 53 - 1];
    for (let i = 0; i < 2000; i++) xs.push(rand() * 2 ** (rand() % 22) + (rand() % 4096));
    for (const [ptrs, entryBytes] of [
      [512, 8],
      [1024, 4],
    ]) {
      // a table at frame 0x1234: pteOffset's PMD entry is present and points there
      const pt = {
        ptrsPerTable: ptrs,
        entryBytes,
        hpagePmdNr: ptrs,
        table: () => true,
        pfn: () => 0x1234,
      };
      const ctx = { env: { pgtable: pt } } as unknown as MmContext;
      for (const vpn of xs)
        expect(pteOffset(ctx, 0, 0, vpn), `${vpn}, ${ptrs} entries`).toBe(
          0x1234 * 4096 + (vpn % ptrs) * entryBytes,
        );
    }
  });
});
