import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ModelBug } from "./assert.ts";
import {
  PFN_LIMIT,
  PHYS_ADDR_LIMIT,
  paAdd,
  paOffset,
  paToPfn,
  pfnAdd,
  pfnToPa,
  pfnUnchecked,
  physAddrUnchecked,
  toPfn,
  toPhysAddr,
  toVpn,
  tryPfn,
  tryPhysAddr,
  tryVpn,
  VPN_LIMIT,
  vaToVpn,
  vpnAdd,
  vpnUnchecked,
} from "./units.ts";

/** Integers 0 .. limit-1, with the ends drawn often (fast-check biases towards them). */
const below = (limit: number) => fc.bigInt({ min: 0n, max: BigInt(limit) - 1n }).map(Number);
/** Numbers that are no unit at all: negative, fractional, not finite, or at/above the limit. */
const outside = (limit: number) =>
  fc.oneof(
    fc.constantFrom(-1, -0.5, 0.5, limit, limit + 1, 2 ** 53, Number.NaN, Infinity, -Infinity),
    fc.bigInt({ min: BigInt(limit), max: 2n ** 53n }).map(Number),
    fc.bigInt({ min: -(2n ** 53n), max: -1n }).map(Number),
    // + 0.5 is exact below 2^52, where doubles still have halves
    below(Math.min(limit, 2 ** 51)).map((n) => n + 0.5),
  );

const units = [
  { name: "toPfn", limit: PFN_LIMIT, checked: toPfn, tried: tryPfn, cast: pfnUnchecked },
  { name: "toVpn", limit: VPN_LIMIT, checked: toVpn, tried: tryVpn, cast: vpnUnchecked },
  {
    name: "toPhysAddr",
    limit: PHYS_ADDR_LIMIT,
    checked: toPhysAddr,
    tried: tryPhysAddr,
    cast: physAddrUnchecked,
  },
];

describe("units: the checked, trying and unchecked converters", () => {
  it("have the limits of docs/decisions/0001: frames < 2^40, pages < 2^45, addresses < 2^52", () => {
    expect([PFN_LIMIT, VPN_LIMIT, PHYS_ADDR_LIMIT]).toEqual([2 ** 40, 2 ** 45, 2 ** 52]);
  });

  for (const u of units) {
    it(`${u.name}: every integer below the limit is itself, by all three`, () => {
      fc.assert(
        fc.property(below(u.limit), (n) => {
          expect(u.checked(n)).toBe(n);
          expect(u.tried(n)).toBe(n);
          expect(u.cast(n)).toBe(n);
        }),
      );
    });

    it(`${u.name}: anything else throws ModelBug (checked) or gives null (try)`, () => {
      fc.assert(
        fc.property(outside(u.limit), (n) => {
          expect(() => u.checked(n)).toThrow(ModelBug);
          expect(u.tried(n)).toBeNull();
        }),
      );
    });

    it(`${u.name}: the boundary is exact (limit-1 in, limit out, 0 in, -1 out)`, () => {
      expect(u.checked(u.limit - 1)).toBe(u.limit - 1);
      expect(u.checked(0)).toBe(0);
      expect(() => u.checked(u.limit)).toThrow(`${u.name}: ${u.limit} is not`);
      expect(() => u.checked(-1)).toThrow(ModelBug);
      expect(u.tried(u.limit)).toBeNull();
    });

    it(`${u.name}: the unchecked cast changes nothing, even out of range`, () => {
      fc.assert(fc.property(outside(u.limit), (n) => Object.is(u.cast(n), n)));
    });
  }
});

describe("units: arithmetic that keeps the unit", () => {
  it("pfnToPa is pfn * 4096 exactly, for every frame up to 2^40-1 (the last frame of the 52-bit space)", () => {
    fc.assert(
      fc.property(below(PFN_LIMIT), (n) => {
        const pa = pfnToPa(toPfn(n));
        expect(BigInt(pa)).toBe(BigInt(n) << 12n);
        expect(toPhysAddr(pa)).toBe(pa); // always a valid address
      }),
    );
    expect(pfnToPa(toPfn(PFN_LIMIT - 1))).toBe(PHYS_ADDR_LIMIT - 4096);
  });

  it("paToPfn and paOffset split every address below 2^52 into frame and offset", () => {
    fc.assert(
      fc.property(below(PHYS_ADDR_LIMIT), (n) => {
        const pa = toPhysAddr(n);
        const f = paToPfn(pa);
        const off = paOffset(pa);
        expect(BigInt(f)).toBe(BigInt(n) >> 12n);
        expect(off).toBe(Number(BigInt(n) & 0xfffn));
        expect(toPfn(f)).toBe(f); // always a valid frame
        expect(pfnToPa(f) + off).toBe(n);
      }),
    );
    expect(paToPfn(toPhysAddr(PHYS_ADDR_LIMIT - 1))).toBe(PFN_LIMIT - 1);
    expect(paOffset(toPhysAddr(PHYS_ADDR_LIMIT - 1))).toBe(4095);
  });

  it("paToPfn inverts pfnToPa", () => {
    fc.assert(fc.property(below(PFN_LIMIT), (n) => paToPfn(pfnToPa(toPfn(n))) === n));
  });

  it("pfnAdd, vpnAdd and paAdd are exact sums, undone by the negative step", () => {
    const step = fc.integer({ min: -(2 ** 31), max: 2 ** 31 });
    fc.assert(
      fc.property(below(PFN_LIMIT), step, (n, k) => {
        const p = pfnAdd(toPfn(n), k);
        expect(p).toBe(n + k);
        expect(pfnAdd(p, -k)).toBe(n);
      }),
    );
    fc.assert(
      fc.property(below(VPN_LIMIT), step, (n, k) => {
        expect(vpnAdd(toVpn(n), k)).toBe(n + k);
        expect(vpnAdd(vpnAdd(toVpn(n), k), -k)).toBe(n);
      }),
    );
    fc.assert(
      fc.property(below(PHYS_ADDR_LIMIT), step, (n, k) => {
        expect(paAdd(toPhysAddr(n), k)).toBe(n + k);
        expect(paAdd(paAdd(toPhysAddr(n), k), -k)).toBe(n);
      }),
    );
  });

  it("vaToVpn takes bits 47..12 (or 56..12 with LA57) of any 64-bit address, sign extension dropped", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.constantFrom(48 as const, 57 as const),
        (va, bits) => {
          const hi = Number(va >> 32n);
          const lo = Number(va & 0xffffffffn);
          const v = vaToVpn(hi, lo, bits);
          expect(v).toBe(Number((va & ((1n << BigInt(bits)) - 1n)) >> 12n));
          expect(toVpn(v)).toBe(v); // always a valid page number
        },
      ),
    );
    // the top of the canonical range: the last page of each half
    expect(vaToVpn(0xffffffff, 0xfffff000)).toBe(2 ** 36 - 1);
    expect(vaToVpn(0xffffffff, 0xfffff000, 57)).toBe(VPN_LIMIT - 1);
    expect(vaToVpn(0x00007fff, 0xfffff000)).toBe(2 ** 35 - 1);
  });
});
