import { describe, expect, it } from "vitest";
import { PhysMem } from "../../PhysMem.ts";
import { HAT_SLOT_BYTES, IPT_ENTRY_BYTES, Ipt } from "./Ipt.ts";

/** 1 MiB of RAM (256 frames): the IPT at 64 KiB, the HAT at 128 KiB. */
function setup(): { phys: PhysMem; ipt: Ipt } {
  const phys = new PhysMem(1 << 20);
  return { phys, ipt: new Ipt(phys, 0x10000, 0x20000, phys.nrFrames) };
}

/** Two (space, vpn) tags that hash to the same HAT slot. */
function colliding(ipt: Ipt): [[number, number], [number, number]] {
  // hash = (vpn ^ space * 0x9e5) & 255 with 256 slots: vpn + 256 collides
  expect(ipt.hash(1, 5)).toBe(ipt.hash(1, 5 + ipt.hatSlots));
  return [
    [1, 5],
    [1, 5 + ipt.hatSlots],
  ];
}

describe("hashed inverted page table", () => {
  it("sizes the table by RAM: 16 bytes per frame plus a 4-byte HAT slot per frame", () => {
    const { ipt } = setup();
    expect(ipt.hatSlots).toBe(256);
    expect(ipt.bytes).toBe(256 * IPT_ENTRY_BYTES + 256 * HAT_SLOT_BYTES);
    expect(Ipt.sizes(65536)).toEqual({ iptBytes: 1 << 20, hatBytes: 1 << 18 });
    // the HAT rounds up to a power of two
    expect(Ipt.sizes(300).hatBytes).toBe(512 * 4);
  });

  it("writes an entry as bytes in RAM: tag, vpn, rights and dirty bit, chain link; the HAT slot points at it", () => {
    const { phys, ipt } = setup();
    ipt.insert(7, 3, 0x123456789, 0b001011, true, 5);
    const pa = 0x10000 + 7 * 16;
    expect(phys.read32(pa)).toBe((0x80000000 | 3) >>> 0);
    expect(phys.read32(pa + 4)).toBe(0x23456789);
    expect(phys.read32(pa + 8)).toBe((0x1 | (0b001011 << 16) | (1 << 22) | (5 << 24)) >>> 0);
    expect(phys.read32(pa + 12)).toBe(0); // end of chain
    expect(phys.read32(0x20000 + ipt.hash(3, 0x123456789) * 4)).toBe(8); // frame + 1
    expect(ipt.entry(7)).toEqual({
      pfn: 7,
      space: 3,
      vpn: 0x123456789,
      rights: 0b001011,
      dirty: true,
      attrs: 5,
      next: -1,
    });
  });

  it("finds an entry in one HAT reference and one entry reference; a miss on an empty slot costs one", () => {
    const { ipt } = setup();
    ipt.insert(9, 2, 0x40, 7, false, 0);
    expect(ipt.lookup(2, 0x40)).toBe(9);
    expect(ipt.refs).toBe(2);
    expect(ipt.rights).toBe(7);
    expect(ipt.dirty).toBe(false);
    expect(ipt.lookup(2, 0x41)).toBe(-1);
    expect(ipt.refs).toBe(3);
    expect([ipt.lookups, ipt.hits, ipt.misses]).toEqual([2, 1, 1]);
  });

  it("the tag keeps spaces apart: the same vpn in another space misses", () => {
    const { ipt } = setup();
    ipt.insert(9, 2, 0x40, 7, false, 0);
    expect(ipt.lookup(3, 0x40)).toBe(-1);
  });

  it("follows a collision chain, comparing each entry, and counts one reference per entry", () => {
    const { ipt } = setup();
    const [[s1, v1], [s2, v2]] = colliding(ipt);
    ipt.insert(10, s1, v1, 1, false, 0);
    ipt.insert(11, s2, v2, 1, false, 0); // pushed at the head: 11 -> 10
    expect(ipt.chain(ipt.hash(s1, v1))).toEqual([11, 10]);
    expect(ipt.lookup(s1, v1)).toBe(10);
    expect(ipt.chainSteps).toBe(2);
    expect(ipt.refs).toBe(3); // HAT + two entries
    const t = ipt.trace(s1, v1);
    expect(t.steps.map((s) => [s.pfn, s.match])).toEqual([
      [11, false],
      [10, true],
    ]);
    // a miss walks the whole chain
    const before = ipt.refs;
    expect(ipt.lookup(s1, v1 + 2 * ipt.hatSlots)).toBe(-1);
    expect(ipt.refs - before).toBe(3);
  });

  it("removes an entry from the middle, head and tail of a chain", () => {
    const { phys, ipt } = setup();
    const h = ipt.hash(1, 5);
    for (const [pfn, k] of [
      [20, 0],
      [21, 1],
      [22, 2],
    ])
      ipt.insert(pfn, 1, 5 + k * ipt.hatSlots, 1, false, 0);
    expect(ipt.chain(h)).toEqual([22, 21, 20]);
    expect(ipt.chainStats()).toEqual({ slotsUsed: 1, longest: 3 });
    expect(ipt.remove(21)).toBe(true);
    expect(ipt.chain(h)).toEqual([22, 20]);
    expect(ipt.lookup(1, 5)).toBe(20);
    expect(ipt.remove(22)).toBe(true);
    expect(ipt.chain(h)).toEqual([20]);
    expect(ipt.remove(20)).toBe(true);
    expect(ipt.chain(h)).toEqual([]);
    expect(phys.read32(ipt.slotAddress(h))).toBe(0);
    expect(ipt.remove(20)).toBe(false);
    expect(ipt.entry(21)).toBeNull();
    expect(ipt.validEntries()).toBe(0);
  });

  it("one entry per frame: mapping the frame for another space steals it from the previous alias", () => {
    const { ipt } = setup();
    ipt.insert(30, 1, 0x400, 1, false, 0);
    expect(ipt.stolen).toBe(false);
    ipt.insert(30, 2, 0x400, 1, false, 0);
    expect(ipt.stolen).toBe(true);
    expect([ipt.stolenSpace, ipt.stolenVpn]).toEqual([1, 0x400]);
    expect(ipt.steals).toBe(1);
    expect(ipt.lookup(1, 0x400)).toBe(-1);
    expect(ipt.lookup(2, 0x400)).toBe(30);
    // re-inserting the same tag (new rights) is no steal
    ipt.insert(30, 2, 0x400, 3, true, 0);
    expect(ipt.stolen).toBe(false);
    expect(ipt.steals).toBe(1);
    expect(ipt.validEntries()).toBe(1);
    expect(ipt.chain(ipt.hash(1, 0x400))).not.toContain(30);
  });

  it("refuses frames outside the table", () => {
    const { ipt } = setup();
    expect(() => ipt.insert(256, 1, 1, 1, false, 0)).toThrow(RangeError);
  });
});
