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

describe("TlbArray.invalidateAll", () => {
  it("drops exactly the entries `how` matches, keeps the others in their ways' order, and counts them", () => {
    const rng = new Rng(13);
    const a = new TlbArray(32, 4, 3, 3, "t"); // 8 sets of 4: full sets, sets with holes, empty sets
    const G = 1 << 23;
    let dropped = 0;
    for (let step = 0; step < 4000; step++) {
      const n0 = rng.below(40);
      for (let j = 0; j < n0; j++) {
        const vpn = rng.below(256);
        a.insert(vpn, rng.below(5) === 0 ? 1 : 0, vpn + 5, rng.below(3) | (rng.below(6) === 0 ? G : 0));
      }
      const asid = rng.below(3);
      const how = rng.below(4) as InvalidateHow;
      // the expected result, from the arrays as they are: each set's ways, the matching ones left out
      const want = { keys: [] as number[], metas: [] as number[], n: 0 };
      for (let i = 0; i < a.entries; i++) {
        const k = a.keys[i];
        const m = a.metas[i];
        const global = (m & G) !== 0;
        const own = (m & 0xffff) === asid;
        const hit =
          k !== -1 &&
          (how === InvalidateHow.PcidAndGlobal
            ? global || own
            : how === InvalidateHow.PcidNonGlobal
              ? !global && own
              : how === InvalidateHow.AllNonGlobal
                ? !global
                : true);
        if (hit) want.n++;
        else if (k !== -1) {
          want.keys.push(k);
          want.metas.push(m);
        }
        // the set's end: its invalid ways after the entries kept
        if (i % a.ways === a.ways - 1)
          while (want.keys.length < i + 1) {
            want.keys.push(-1);
            want.metas.push(Number.NaN);
          }
      }
      const n = a.invalidateAll(asid, how);
      expect(n).toBe(want.n);
      expect([...a.keys]).toEqual(want.keys);
      for (let i = 0; i < a.entries; i++) if (want.keys[i] !== -1) expect(a.metas[i]).toBe(want.metas[i]);
      expect(a.occupancy()).toBe(want.keys.filter((k) => k !== -1).length);
      dropped += n;
    }
    expect(dropped).toBeGreaterThan(1000);
  });
});
