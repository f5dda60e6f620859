/**
 * PhysMem.frameWordsToStore: a materialised frame's own words, into which a
 * store is what write64 does, while nothing observes stores; null for a
 * frame held compactly (untouched, uniform, one word) and whenever a write
 * watch or a cache's snoop must see every store.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../base/rng.ts";
import { pfnUnchecked } from "../base/units.ts";
import { PhysMem } from "./PhysMem.ts";

describe("PhysMem.frameWordsToStore", () => {
  it("gives a materialised frame's words, stores into which equal write64's (random stores)", () => {
    const rng = new Rng(7);
    const a = new PhysMem(1 << 20);
    const b = new PhysMem(1 << 20);
    const pfn = pfnUnchecked(3);
    // untouched, then one word: held compactly, nothing to store into
    expect(a.frameWordsToStore(pfn)).toBeNull();
    a.write64(3 * 4096 + 8, 1, 2);
    b.write64(3 * 4096 + 8, 1, 2);
    expect(a.frameWordsToStore(pfn)).toBeNull();
    a.write64(3 * 4096 + 16, 3, 4);
    b.write64(3 * 4096 + 16, 3, 4);
    const words = a.frameWordsToStore(pfn);
    expect(words).not.toBeNull();
    for (let i = 0; i < 2000; i++) {
      const q = rng.below(512);
      const hi = rng.nextU32();
      const lo = rng.nextU32();
      words![2 * q] = lo;
      words![2 * q + 1] = hi;
      b.write64(3 * 4096 + q * 8, hi, lo);
    }
    for (let w = 0; w < 1024; w++) expect(a.read32(3 * 4096 + w * 4)).toBe(b.read32(3 * 4096 + w * 4));
    expect(a.hostBytes()).toBe(b.hostBytes());
  });

  it("is null while a write watch or a snoop must see the stores", () => {
    const m = new PhysMem(1 << 20);
    m.write64(8, 1, 2);
    m.write64(16, 3, 4);
    expect(m.frameWordsToStore(pfnUnchecked(0))).not.toBeNull();
    m.watch = { wrote() {}, wroteFrame() {} };
    expect(m.frameWordsToStore(pfnUnchecked(0))).toBeNull();
    m.watch = null;
    m.snoop = { willWrite() {}, willRead() {} };
    expect(m.frameWordsToStore(pfnUnchecked(0))).toBeNull();
  });
});
