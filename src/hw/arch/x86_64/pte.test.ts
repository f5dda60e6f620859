import { describe, expect, it } from "vitest";
import { fromBig, toBig } from "../../../base/u64.ts";
import { toPfn } from "../../../base/units.ts";
import { leafEntry, leafPfn } from "./Mapper.ts";
import { decodeEntry, flagNames, reservedMasks } from "./pte.ts";

describe("x86-64 entry decoding", () => {
  it("decodes 0x8000000012345067 as a present, writable, user, accessed, dirty, XD page at 0x12345000", () => {
    const { hi, lo } = fromBig(0x8000000012345067n);
    const d = decodeEntry(hi, lo, 0);
    expect(d).toMatchObject({
      present: true,
      writable: true,
      user: true,
      accessed: true,
      dirty: true,
      xd: true,
    });
    expect(d).toMatchObject({ pwt: false, pcd: false, global: false, pat: false, pkey: 0 });
    expect(d.addr).toBe(0x12345000);
    expect(flagNames(hi, lo, 0)).toEqual(["P", "RW", "US", "A", "D", "XD"]);
  });

  it("reads bit 7 as PAT in a PTE and as PS in a PDE, and bit 12 as PAT of a large page", () => {
    expect(decodeEntry(0, 0x80 | 1, 0)).toMatchObject({ pat: true, pageSize: false });
    expect(decodeEntry(0, 0x80 | 1, 1)).toMatchObject({ pat: false, pageSize: true });
    const large = decodeEntry(0, 0x40001000 | 0x80 | 1, 2);
    expect(large).toMatchObject({ pat: true, pageSize: true, addr: 0x40000000 });
  });

  it("decodes protection keys from bits 62..59 and software bits", () => {
    const { hi, lo } = fromBig((0xbn << 59n) | (0x7fn << 52n) | (5n << 9n) | 1n);
    const d = decodeEntry(hi, lo, 0);
    expect(d.pkey).toBe(0xb);
    expect(d.softHi).toBe(0x7f);
    expect(d.softLo).toBe(5);
    expect(d.xd).toBe(false);
  });

  it("round-trips leaf entries built from flags, for every page size and high frames", () => {
    const hiMask = reservedMasks(52).hiAddrMask;
    for (const size of [0, 1, 2]) {
      for (const pfn of [0, 0x12345 * 512 ** size, (2 ** 40 - 512 ** size) / 1]) {
        const pfnAligned = pfn - (pfn % 512 ** size);
        const e = leafEntry(toPfn(pfnAligned), size, {
          writable: true,
          user: true,
          nx: true,
          global: true,
          pkey: 9,
          pat: true,
          dirty: true,
        });
        expect(leafPfn(e.hi, e.lo, size, hiMask)).toBe(pfnAligned);
        const d = decodeEntry(e.hi, e.lo, size);
        expect(d).toMatchObject({
          present: true,
          writable: true,
          user: true,
          xd: true,
          global: true,
          pkey: 9,
          pat: true,
          dirty: true,
        });
        expect(d.pageSize).toBe(size > 0);
        expect(toBig(e.hi, e.lo) & 1n).toBe(1n);
      }
    }
  });

  it("computes reserved address bits from MAXPHYADDR", () => {
    expect(reservedMasks(46).hiAddr).toBe(0x000fc000); // bits 51..46
    expect(reservedMasks(46).hiAddrMask).toBe(0x3fff); // bits 45..32
    expect(reservedMasks(52).hiAddr).toBe(0);
    expect(reservedMasks(36).hiAddrMask).toBe(0xf);
  });
});
