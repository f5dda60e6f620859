import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HostMemoryError, InputError } from "../base/errors.ts";
import { pfnUnchecked } from "../base/units.ts";
import { PageState, PageStore } from "./PageStore.ts";
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

  it("materialises a frame at its first varied write, and only then", () => {
    const m = new PhysMem(64 * 2 ** 30);
    m.write32(0x1000, 0); // writing zero to an untouched frame changes nothing
    expect(m.materialized).toBe(0);
    m.write8(60 * 2 ** 30 + 5, 0xab); // one word off the pattern: still compact
    expect(m.materialized).toBe(0);
    m.write8(60 * 2 ** 30 + 9, 0xcd); // a second word: materialised
    expect(m.materialized).toBe(1);
    expect([m.read8(60 * 2 ** 30 + 5), m.read8(60 * 2 ** 30 + 9), m.read8(60 * 2 ** 30 + 4)]).toEqual([
      0xab, 0xcd, 0,
    ]);
    // one 1 MiB block of contents and one directory chunk (24 bytes for each of 4096 frames)
    expect(m.hostBytes()).toBe(2 ** 20 + 4096 * 24);
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
    m.write32(2 ** 51 + 16, 9);
    expect(m.read32(2 ** 51 + 8)).toBe(7);
    expect(m.read32(2 ** 51 + 16)).toBe(9);
    expect(m.read32(2 ** 51 + 12)).toBe(0);
    expect(m.materialized).toBe(1);
  });

  it("refuses to materialise a frame past hostLimitFrames, and goes on with the frames it holds", () => {
    const m = new PhysMem(64 << 20);
    m.hostLimitFrames = 2;
    m.write8(0x1000, 1);
    m.write8(0x1010, 3);
    m.write64(0x5008, 0, 7);
    m.write64(0x5010, 0, 8);
    m.write8(0x9000, 1); // one word off the pattern takes no frame
    m.fillFrame(pfnUnchecked(0xa), 0x01010101, 0x01010101); // nor does a uniform frame
    expect(() => m.write8(0x9010, 1)).toThrow(HostMemoryError);
    expect(() => m.write8(0x9010, 1)).toThrow(/fills the 8 KiB of host memory/);
    m.write8(0x1001, 2); // a frame it holds: no new memory
    expect([
      m.read8(0x1000),
      m.read8(0x1001),
      m.read8(0x9000),
      m.read8(0x9010),
      m.read8(0xa123),
      m.materialized,
    ]).toEqual([1, 2, 1, 0, 1, 2]);
    m.zeroFrame(pfnUnchecked(1)); // a frame cleared gives its memory back
    m.write8(0x9010, 1);
    expect([m.read8(0x9000), m.read8(0x9010), m.read8(0x1000), m.materialized]).toEqual([1, 1, 0, 2]);
  });
});

describe("PhysMem: uniform frames (PageStore)", () => {
  const F = (n: number) => pfnUnchecked(n);

  it("keeps a frame uniform through fills and through writes of the pattern's own value", () => {
    const m = new PhysMem(1 << 20);
    m.fillFrame(F(3), 0x5a5a5a5a, 0x5a5a5a5a);
    m.write8(0x3000 + 17, 0x5a);
    m.write16(0x3000 + 4094, 0x5a5a);
    m.write32(0x3000 + 1, 0x5a5a5a5a); // unaligned, inside the frame
    m.write64(0x3000 + 8, 0x5a5a5a5a, 0x5a5a5a5a);
    expect(m.store.state(3)).toBe(PageState.Uniform);
    expect(m.materialized).toBe(0);
    expect([m.read8(0x3000), m.read16(0x3fff - 1), m.read32(0x3003), m.read64Big(0x3ff8)]).toEqual([
      0x5a,
      0x5a5a,
      0x5a5a5a5a,
      0x5a5a5a5a5a5a5a5an,
    ]);
    // a 64-bit pattern whose halves differ
    m.fillFrame(F(4), 0x11223344, 0x55667788);
    m.write32(0x4000 + 4 * 101, 0x11223344); // an odd word: the high half
    expect(m.store.state(4)).toBe(PageState.Uniform);
    expect(m.read64Big(0x4000 + 800)).toBe(0x1122334455667788n);
    expect(m.read32(0x4000 + 2)).toBe(0x33445566); // bytes 2..5, across the halves
  });

  it("holds one differing word compactly, and materialises at a second", () => {
    const m = new PhysMem(1 << 20);
    m.fillFrame(F(2), 0x01020304, 0x05060708);
    m.write8(0x2000 + 41, 0xee); // word 5 of 64-bit word 5
    expect(m.store.state(2)).toBe(PageState.OneWord);
    m.write8(0x2000 + 43, 0xdd); // the same 64-bit word: still one
    expect(m.store.state(2)).toBe(PageState.OneWord);
    expect([m.read8(0x2000 + 40), m.read8(0x2000 + 41), m.read8(0x2000 + 43), m.read8(0x2000 + 49)]).toEqual([
      0x08, 0xee, 0xdd, 0x07,
    ]);
    // writing the pattern back makes it uniform again
    m.write64(0x2000 + 40, 0x01020304, 0x05060708);
    expect(m.store.state(2)).toBe(PageState.Uniform);
    m.write8(0x2000 + 41, 0xee);
    m.write8(0x2000 + 4095, 0xcc); // another 64-bit word
    expect(m.store.state(2)).toBe(PageState.Materialised);
    expect(m.materialized).toBe(1);
    expect([
      m.read8(0x2000 + 41),
      m.read8(0x2000 + 4095),
      m.read8(0x2000 + 4094),
      m.read64Big(0x2000),
    ]).toEqual([0xee, 0xcc, 0x02, 0x0102030405060708n]);
  });

  it("reads unaligned accesses that cross from a uniform frame into another exactly", () => {
    const m = new PhysMem(1 << 20);
    m.fillFrame(F(5), 0xa1a2a3a4, 0xb1b2b3b4);
    m.fillFrame(F(6), 0, 0xc4c3c2c1);
    expect(m.read32(0x5ffe)).toBe(0xc2c1a1a2);
    expect(m.read16(0x5fff)).toBe(0xc1a1);
    expect(m.read64Big(0x5ffb)).toBe(0xc3c2c1a1a2a3a4b1n);
    m.write32(0x5ffe, 0xa2a1c2c1); // two bytes in each frame, none of them what was there
    expect(m.read32(0x5ffe)).toBe(0xa2a1c2c1);
    expect([m.store.state(5), m.store.state(6)]).toEqual([PageState.OneWord, PageState.OneWord]);
    expect(m.materialized).toBe(0);
  });

  it("copies a uniform or one-word frame without materialising, and stores a materialised copy compactly when it can", () => {
    const m = new PhysMem(1 << 20);
    m.fillFrame(F(1), 0x77777777, 0x77777777);
    m.write8(0x1000 + 3000, 9);
    m.copyFrame(F(2), F(1));
    expect(m.materialized).toBe(0);
    expect([m.read8(0x2000 + 3000), m.read8(0x2000 + 2999), m.store.state(2)]).toEqual([
      9,
      0x77,
      PageState.OneWord,
    ]);
    // a frame made uniform word by word is materialised, and its copy is compact (page_same_filled)
    for (let off = 0; off < 4096; off += 4) m.write32(0x3000 + off, 0x12345678 + ((off >> 2) & 1) * 7);
    m.write32(0x3000 + 24, 1);
    m.write32(0x3000 + 24, 0x12345678); // back to the pattern
    expect(m.store.state(3)).toBe(PageState.Materialised);
    m.copyFrame(F(4), F(3));
    expect(m.store.state(4)).toBe(PageState.Uniform);
    for (let off = 0; off < 4096; off += 4) expect(m.read32(0x4000 + off)).toBe(m.read32(0x3000 + off));
    // varied contents are copied word by word
    m.write32(0x3000 + 100, 1);
    m.write32(0x3000 + 200, 2);
    m.copyFrame(F(5), F(3));
    expect(m.store.state(5)).toBe(PageState.Materialised);
    expect([m.read32(0x5000 + 100), m.read32(0x5000 + 200), m.read32(0x5000 + 204)]).toEqual([
      1, 2, 0x1234567f,
    ]);
  });

  it("gives a cleared frame's host slot back, and the next materialisation reuses it", () => {
    const m = new PhysMem(64 << 20);
    const vary = (pfn: number) => {
      m.write8(pfn * 4096, 1);
      m.write8(pfn * 4096 + 64, 2);
    };
    for (let pfn = 0; pfn < 300; pfn++) vary(pfn);
    const held = m.hostBytes();
    expect(m.materialized).toBe(300);
    for (let round = 0; round < 5; round++) {
      for (let pfn = 0; pfn < 300; pfn++) m.zeroFrame(F(pfn));
      expect([m.materialized, m.store.freeSlotCount]).toEqual([0, 300]);
      for (let pfn = 1000 + round * 300; pfn < 1300 + round * 300; pfn++) vary(pfn);
      expect(m.materialized).toBe(300);
      for (let pfn = 1000 + round * 300; pfn < 1300 + round * 300; pfn++) m.zeroFrame(F(pfn));
      for (let pfn = 0; pfn < 300; pfn++) vary(pfn);
    }
    expect(m.hostBytes()).toBe(held); // 300 frames' worth of slots, whatever frames held them
    expect([m.read8(0), m.read8(64), m.read8(1000 * 4096 + 64)]).toEqual([1, 2, 0]);
  });

  it("saves frames to another store and loads them back exactly (swap-out, swap-in)", () => {
    const m = new PhysMem(1 << 20);
    const dev = new PageStore(16);
    m.fillFrame(F(1), 0xdeadbeef, 0xdeadbeef);
    m.write8(0x2000 + 7, 3);
    m.write8(0x2000 + 900, 4);
    m.saveFrame(F(1), dev, 5);
    m.saveFrame(F(2), dev, 6);
    expect([dev.state(5), dev.state(6), dev.materialized]).toEqual([
      PageState.Uniform,
      PageState.Materialised,
      1,
    ]);
    m.zeroFrame(F(1));
    m.zeroFrame(F(2));
    m.loadFrame(dev, 6, F(1));
    m.loadFrame(dev, 5, F(2));
    expect([
      m.read8(0x1000 + 7),
      m.read8(0x1000 + 900),
      m.read8(0x1000 + 901),
      m.read32(0x2000 + 4092),
    ]).toEqual([3, 4, 0, 0xdeadbeef]);
    expect(m.store.state(2)).toBe(PageState.Uniform);
  });

  it("gives the walker's readers (frameWords) a frame's bytes without materialising it", () => {
    const m = new PhysMem(1 << 20);
    expect(m.frameWords(F(1))).toBeNull();
    m.fillFrame(F(1), 0, 7);
    m.write32(0x1000 + 8, 9);
    const w = m.frameWords(F(1))!;
    expect([w[0], w[1], w[2], w[3], w[1023]]).toEqual([7, 0, 9, 0, 0]);
    expect(m.materialized).toBe(0);
  });

  // A plain byte array is the model: any sequence of accesses, fills, clears and copies leaves
  // every byte equal to it, through every accessor width, aligned or not.
  it("behaves as a plain byte array over random operations (property)", () => {
    const FRAMES = 2;
    const SIZE = FRAMES * 4096;
    // few distinct values, so that writes often equal a frame's pattern or one of its halves
    const byte = fc.constantFrom(0, 0x5a, 0x01);
    const word = fc.constantFrom(0, 0x5a5a5a5a, 0x01020304);
    // aligned words (where a frame's pattern halves sit), addresses near frame boundaries, and anywhere
    const addr = fc.oneof(
      fc.nat(SIZE / 4 - 1).map((w) => w * 4),
      fc
        .integer({ min: 1, max: FRAMES - 1 })
        .chain((f) => fc.integer({ min: f * 4096 - 9, max: f * 4096 + 8 })),
      fc.integer({ min: 0, max: SIZE - 1 }),
    );
    const frame = fc.nat(FRAMES - 1);
    const op = fc.oneof(
      fc.record({ k: fc.constant("w8"), a: addr, v: byte }),
      fc.record({ k: fc.constant("w16"), a: addr, v: word }),
      fc.record({ k: fc.constant("w32"), a: addr, v: word }),
      fc.record({ k: fc.constant("w32"), a: addr, v: word }),
      fc.record({ k: fc.constant("w64"), a: addr, v: word, h: word }),
      fc.record({ k: fc.constant("fill"), f: frame, v: word, h: word }),
      fc.record({ k: fc.constant("fill"), f: frame, v: word, h: word }),
      fc.record({ k: fc.constant("zero"), f: frame }),
      fc.record({ k: fc.constant("copy"), f: frame, g: frame }),
      fc.record({ k: fc.constant("swap"), f: frame, g: frame }),
      fc.record({ k: fc.constant("words"), f: frame }),
      // a memset word by word but for up to two 64-bit words (a materialised frame stays materialised),
      // then a copy to another frame or to the device and back: the copy scans for a repeated value
      fc.record({
        k: fc.constant("wfill"),
        f: frame,
        g: frame,
        v: word,
        h: word,
        odd: fc.array(
          fc.record({
            at: fc.oneof(fc.nat(3), fc.constant(511), fc.nat(511)),
            flip: fc.constantFrom(1, 2, 3), // which halves differ: low, high, both
          }),
          { maxLength: 2 },
        ),
        dev: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const m = new PhysMem(SIZE);
        const dev = new PageStore(FRAMES);
        const model = new Uint8Array(SIZE + 8);
        const put = (a: number, v: number, n: number) => {
          for (let i = 0; i < n; i++) if (a + i < SIZE) model[a + i] = (v / 2 ** (8 * i)) & 0xff;
        };
        const copy = (from: number, to: number, viaDevice: boolean) => {
          if (viaDevice) {
            m.saveFrame(F(from), dev, to);
            m.loadFrame(dev, to, F(to));
          } else m.copyFrame(F(to), F(from));
          model.copyWithin(to * 4096, from * 4096, from * 4096 + 4096);
        };
        const fill64 = (pa: number, hi: number, lo: number) => {
          put(pa, lo, 4);
          put(pa + 4, hi, 4);
        };
        const wordsAgree = (f: number) => {
          const w = m.frameWords(F(f));
          for (let i = 0; i < 1024; i++) {
            const at = f * 4096 + 4 * i;
            const v =
              (model[at] | (model[at + 1] << 8) | (model[at + 2] << 16) | (model[at + 3] << 24)) >>> 0;
            if ((w === null ? 0 : w[i]) !== v) return false;
          }
          return true;
        };
        for (const o of ops) {
          switch (o.k) {
            case "words": // a reader of whole frames (the walker) in the middle of the run
              if (!wordsAgree(o.f)) return false;
              break;
            case "w8":
              m.write8(o.a, o.v);
              put(o.a, o.v, 1);
              break;
            case "w16":
              m.write16(o.a, o.v & 0xffff);
              put(o.a, o.v & 0xffff, 2);
              break;
            case "w32":
              m.write32(o.a, o.v);
              put(o.a, o.v, 4);
              break;
            case "w64":
              m.write64(o.a, o.h, o.v);
              fill64(o.a, o.h, o.v);
              break;
            case "fill":
              m.fillFrame(F(o.f), o.h, o.v);
              for (let i = 0; i < 4096; i += 8) fill64(o.f * 4096 + i, o.h, o.v);
              break;
            case "zero":
              m.zeroFrame(F(o.f));
              model.fill(0, o.f * 4096, o.f * 4096 + 4096);
              break;
            case "copy":
              copy(o.f, o.g, false);
              break;
            case "swap":
              copy(o.f, o.g, true);
              break;
            case "wfill":
              for (let i = 0; i < 512; i++) {
                let lo = o.v;
                let hi = o.h;
                for (const d of o.odd)
                  if (d.at === i) {
                    if (d.flip & 1) lo = (lo ^ 0x80) >>> 0;
                    if (d.flip & 2) hi = (hi ^ 0x8000) >>> 0;
                  }
                m.write64(o.f * 4096 + 8 * i, hi, lo);
                fill64(o.f * 4096 + 8 * i, hi, lo);
              }
              copy(o.f, o.g, o.dev);
              break;
          }
        }
        for (let a = 0; a < SIZE; a++) if (m.read8(a) !== model[a]) return false;
        const le = (a: number, n: number) => {
          let v = 0;
          for (let i = n - 1; i >= 0; i--) v = v * 256 + (a + i < SIZE ? model[a + i] : 0xff);
          return v;
        };
        for (let a = 0; a < SIZE - 8; a += 3) {
          if (m.read16(a) !== le(a, 2) || m.read32(a) !== le(a, 4)) return false;
          if (m.read64Lo(a) !== le(a, 4) || m.read64Hi(a) !== le(a + 4, 4)) return false;
        }
        // the frame readers agree too, and only frames with varied contents hold host memory
        let held = 0;
        for (let f = 0; f < FRAMES; f++) {
          const w = m.frameWords(F(f));
          for (let i = 0; i < 1024; i++)
            if ((w === null ? 0 : w[i]) !== le(f * 4096 + 4 * i, 4)) return false;
          if (m.store.state(f) === PageState.Materialised) held++;
        }
        return held === m.materialized;
      }),
      { numRuns: 200 },
    );
  });

  // PhysMem.write64 stores both halves with one PageStore.writeQword, and write8 its byte with one
  // writeByte: each must leave a page exactly as the word stores it replaces would, in its contents
  // and in how it is held (uniform, one word, materialised), so that which frames take host memory
  // does not change
  it("writeQword and writeByte hold a page exactly as word stores would (property)", () => {
    const half = fc.constantFrom(0, 0x5a5a5a5a, 0x01020304, 0xffffffff);
    const op = fc.oneof(
      fc.record({ k: fc.constant("q"), q: fc.oneof(fc.nat(1), fc.nat(3), fc.nat(511)), lo: half, hi: half }),
      fc.record({ k: fc.constant("w"), w: fc.oneof(fc.nat(3), fc.nat(7), fc.nat(1023)), v: half }),
      fc.record({ k: fc.constant("fill"), lo: half, hi: half }),
      fc.record({
        k: fc.constant("b"),
        off: fc.oneof(fc.nat(15), fc.nat(4095)),
        v: fc.constantFrom(0, 0x5a, 0x01, 0x04, 0xff, 0x1ff),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 30 }), (ops) => {
        const a = new PageStore(2);
        const b = new PageStore(2);
        for (const o of ops) {
          if (o.k === "q") {
            a.writeQword(1, o.q, o.lo, o.hi);
            b.writeWord(1, 2 * o.q, o.lo);
            b.writeWord(1, 2 * o.q + 1, o.hi);
          } else if (o.k === "b") {
            a.writeByte(1, o.off, o.v);
            const w = o.off >>> 2;
            const shift = (o.off & 3) * 8;
            b.writeWord(1, w, ((b.readWord(1, w) & ~(0xff << shift)) | ((o.v & 0xff) << shift)) >>> 0);
          } else if (o.k === "w") {
            a.writeWord(1, o.w, o.v);
            b.writeWord(1, o.w, o.v);
          } else {
            a.fill(1, o.lo, o.hi);
            b.fill(1, o.lo, o.hi);
          }
          if (a.state(1) !== b.state(1) || a.materialized !== b.materialized) return false;
          for (let w = 0; w < 1024; w++) if (a.readWord(1, w) !== b.readWord(1, w)) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
    // outside RAM both halves are stray, as two word stores were
    const m = new PhysMem(4096);
    m.write64(8192, 1, 2);
    expect(m.strayAccesses).toBe(2);
    m.write8(4097, 1); // a byte's word read and store, both outside RAM
    expect(m.strayAccesses).toBe(4);
  });
});
