import { describe, expect, it } from "vitest";
import { HostMemoryError, InputError } from "../base/errors.ts";
import { PhysMem } from "./PhysMem.ts";

describe("PhysMem", () => {
  it("reads untouched frames as zero and takes no host memory for them", () => {
    const m = new PhysMem(64 * 2 ** 30);
    expect(m.nrFrames).toBe(16 * 2 ** 20);
    expect(m.read32(0x12345678)).toBe(0);
    expect(m.read64Big(63 * 2 ** 30)).toBe(0n);
    expect(m.materialized).toBe(0);
    expect(m.hostBytes()).toBe(0);
  });

  it("materialises a frame on first write, and only then", () => {
    const m = new PhysMem(64 * 2 ** 30);
    m.write32(0x1000, 0); // writing zero to an untouched frame changes nothing
    expect(m.materialized).toBe(0);
    m.write8(60 * 2 ** 30 + 5, 0xab);
    expect(m.materialized).toBe(1);
    expect(m.read8(60 * 2 ** 30 + 5)).toBe(0xab);
    expect(m.read8(60 * 2 ** 30 + 4)).toBe(0);
    expect(m.hostBytes()).toBeLessThanOrEqual(2 ** 20);
  });

  it("stores little-endian 8/16/32/64-bit values, aligned or not", () => {
    const m = new PhysMem(1 << 20);
    m.write64Big(0x2000, 0x8000000012345067n);
    expect(m.read8(0x2000)).toBe(0x67);
    expect(m.read8(0x2007)).toBe(0x80);
    expect(m.read16(0x2000)).toBe(0x5067);
    expect(m.read32(0x2000)).toBe(0x12345067);
    expect(m.read64Lo(0x2000)).toBe(0x12345067);
    expect(m.read64Hi(0x2000)).toBe(0x80000000);
    // unaligned, across a frame boundary
    m.write32(0x2ffe, 0xdeadbeef);
    expect(m.read8(0x2ffe)).toBe(0xef);
    expect(m.read8(0x3001)).toBe(0xde);
    expect(m.read32(0x2ffe)).toBe(0xdeadbeef);
    expect(m.read16(0x2fff)).toBe(0xadbe);
    m.write64Big(0x3ffc, 0x0102030405060708n);
    expect(m.read64Big(0x3ffc)).toBe(0x0102030405060708n);
  });

  it("reads all ones outside RAM and drops writes there", () => {
    const m = new PhysMem(1 << 20);
    expect(m.read32(1 << 20)).toBe(0xffffffff);
    m.write32(1 << 20, 5);
    expect(m.strayAccesses).toBe(2);
    expect(m.materialized).toBe(0);
  });

  it("rejects impossible sizes with a clear error", () => {
    expect(() => new PhysMem(0)).toThrow(InputError);
    expect(() => new PhysMem(-4096)).toThrow(/positive/);
    expect(() => new PhysMem(4097)).toThrow(/multiple of the page size/);
    expect(() => new PhysMem(2 ** 53)).toThrow(InputError);
    expect(() => new PhysMem(1.5)).toThrow(InputError);
  });

  it("models the whole 52-bit physical address space sparsely", () => {
    const m = new PhysMem(2 ** 52);
    m.write32(2 ** 51 + 8, 7);
    expect(m.read32(2 ** 51 + 8)).toBe(7);
    expect(m.materialized).toBe(1);
  });

  it("refuses to materialise a frame past hostLimitFrames, and goes on with the frames it holds", () => {
    const m = new PhysMem(64 << 20);
    m.hostLimitFrames = 2;
    m.write8(0x1000, 1);
    m.write64(0x5008, 0, 7);
    expect(() => m.write8(0x9000, 1)).toThrow(HostMemoryError);
    expect(() => m.write8(0x9000, 1)).toThrow(/fills the 8 KiB of host memory/);
    m.write8(0x1001, 2); // a frame it holds: no new memory
    expect([m.read8(0x1000), m.read8(0x1001), m.read8(0x9000), m.materialized]).toEqual([1, 2, 0, 2]);
  });
});
