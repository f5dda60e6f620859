/** The count of valid entries that lets an invalidation of an empty array stop at once, against occupancy(). */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { InvalidateHow, TlbArray } from "./TlbArray.ts";

describe("TlbArray's count of valid entries", () => {
  it("equals the entries present after random inserts and invalidations, so an empty array skips the scan exactly", () => {
    const rng = new Rng(3);
    const a = new TlbArray(16, 4, 1, 3, "t");
    const valid = (x: TlbArray) => (x as unknown as { valid: number }).valid;
    for (let step = 0; step < 20000; step++) {
      const vpn = rng.below(64);
      const asid = rng.below(3);
      const op = rng.below(10);
      if (op < 6) a.insert(vpn, 0, vpn + 100, asid | (rng.below(8) === 0 ? 1 << 23 : 0));
      else if (op < 9) a.invalidatePage(vpn, asid, rng.below(4) as InvalidateHow);
      else a.invalidateAll(asid, rng.below(4) as InvalidateHow);
      expect(valid(a)).toBe(a.occupancy());
    }
    // emptied, it drops nothing and says so; filled again, invalidation finds the entries
    a.invalidateAll(0, InvalidateHow.Everything);
    expect(a.occupancy()).toBe(0);
    expect(a.invalidatePage(5, 0, InvalidateHow.Everything)).toBe(0);
    a.insert(5, 0, 105, 0);
    expect(a.invalidatePage(5, 0, InvalidateHow.PcidAndGlobal)).toBe(1);
    expect(a.lookup(5, 0)).toBe(-1);
  });
});

describe("TlbArray's count of valid entries by size", () => {
  it("equals the entries of each size present, so lookups and invalidations that skip an absent size find what a full probe finds", () => {
    const rng = new Rng(5);
    const a = new TlbArray(32, 4, 7, 3, "t"); // 4K, 2M and 1G entries
    const bySize = (x: TlbArray) => (x as unknown as { bySize: Int32Array }).bySize;
    let hits = 0;
    for (let step = 0; step < 20000; step++) {
      const size = rng.below(10) === 0 ? 2 : rng.below(4) === 0 ? 1 : 0;
      const vpn = rng.below(1 << 20);
      const asid = rng.below(2);
      const op = rng.below(10);
      if (op < 4) a.insert(vpn, size, vpn + 7, asid | (rng.below(8) === 0 ? 1 << 23 : 0));
      else if (op < 6) a.invalidatePage(vpn, asid, rng.below(4) as InvalidateHow);
      else if (op === 6 && rng.below(50) === 0) a.invalidateAll(asid, rng.below(4) as InvalidateHow);
      else {
        const seen = a.peek(vpn, asid) >= 0; // probes every size held
        expect(a.lookup(vpn, asid) >= 0).toBe(seen);
        if (seen) hits++;
      }
      for (let s = 0; s < 3; s++) expect(bySize(a)[s]).toBe(a.occupancy(s));
    }
    expect(hits).toBeGreaterThan(100);
  });
});

describe("TlbArray.invalidatePage", () => {
  it("drops every entry of the page it matches, says how many, and leaves no copy a lookup could hit", () => {
    const rng = new Rng(9);
    const a = new TlbArray(32, 8, 3, 3, "t"); // 4K and 2M entries, 8 ways: sets with holes and full sets
    let dropped = 0;
    for (let step = 0; step < 20000; step++) {
      const size = rng.below(6) === 0 ? 1 : 0;
      const vpn = rng.below(4096);
      const asid = rng.below(3);
      if (rng.below(3) !== 0) {
        a.insert(vpn, size, vpn + 3, asid | (rng.below(8) === 0 ? 1 << 23 : 0));
        continue;
      }
      const before = a.occupancy();
      const n = a.invalidatePage(vpn, asid, InvalidateHow.PcidAndGlobal);
      expect(a.occupancy()).toBe(before - n);
      expect(a.peek(vpn, asid)).toBe(-1); // neither the 4K entry nor the 2M one that holds vpn
      dropped += n;
    }
    expect(dropped).toBeGreaterThan(500);
  });
});
