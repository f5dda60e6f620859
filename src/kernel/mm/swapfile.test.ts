import { describe, expect, it } from "vitest";
import { SwapCacheIndex } from "./swapfile.ts";

describe("SwapCacheIndex (the swap cache in a typed array)", () => {
  it("behaves as a Map over random sets, deletes and lookups, out-of-range keys included", () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const n = 257;
    const idx = new SwapCacheIndex(n);
    const ref = new Map<number, number>();
    for (let i = 0; i < 20000; i++) {
      const key = rand(n);
      const op = rand(4);
      if (op === 0) {
        const v = rand(1 << 20);
        idx.set(key, v);
        ref.set(key, v);
      } else if (op === 1) {
        expect(idx.delete(key)).toBe(ref.delete(key));
      } else {
        // lookups, with keys past either end now and then (a bogus swap PTE's offset)
        const k = op === 3 && rand(8) === 0 ? (rand(2) === 0 ? -1 - rand(5) : n + rand(5)) : key;
        expect(idx.get(k)).toBe(ref.get(k));
        expect(idx.has(k)).toBe(ref.has(k));
        expect(idx.at(k)).toBe(ref.get(k) ?? -1);
      }
      expect(idx.size).toBe(ref.size);
    }
    expect(ref.size).toBeGreaterThan(0);
    expect([...idx]).toEqual([...ref].sort((a, b) => a[0] - b[0]));
  });

  it("keeps value 0 (pfn 0, slot 0) as a value, not as none", () => {
    const idx = new SwapCacheIndex(4);
    idx.set(2, 0);
    expect([idx.has(2), idx.get(2), idx.size]).toEqual([true, 0, 1]);
    idx.set(2, 3); // a new value for the same key: size unchanged
    expect([idx.get(2), idx.size]).toEqual([3, 1]);
  });
});
