/** PageMap against a JS Map: the same answers after any sequence of sets, gets, deletes and takes. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PageMap } from "./pageMap.ts";

describe("PageMap", () => {
  it("answers as a Map does, through growth and deletions that shift clusters back", () => {
    // few distinct keys (long probe clusters, many deletions), some above 2^32 and near 2^35
    const key = fc.oneof(
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 40 }).map((k) => k * 2 ** 32 + 7),
      fc.integer({ min: 2 ** 35 - 40, max: 2 ** 35 - 1 }),
    );
    const op = fc.tuple(
      fc.constantFrom("set", "get", "delete", "take"),
      key,
      fc.integer({ min: 0, max: 1000 }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 1, max: 8 }), (ops, expected) => {
        const m = new PageMap(expected);
        const ref = new Map<number, number>();
        for (const [kind, k, v] of ops) {
          if (kind === "set") {
            m.set(k, v);
            ref.set(k, v);
          } else if (kind === "delete") expect(m.delete(k)).toBe(ref.delete(k));
          else if (kind === "take") {
            expect(m.take(k)).toBe(ref.get(k) ?? -1); // the value, and the page gone
            ref.delete(k);
          } else expect(m.get(k)).toBe(ref.get(k) ?? -1);
          expect(m.size).toBe(ref.size);
        }
        for (const [k, v] of ref) expect(m.get(k)).toBe(v);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps every key findable when deletions shift a cluster back, across the table's wrap-around", () => {
    // many keys at once (clusters of several slots, some running past the table's end), half taken
    // or deleted in a random order: each removal's backward shift moves the keys after it (or not)
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 ** 35 }), { minLength: 20, maxLength: 200 }),
        fc.array(fc.nat(), { minLength: 20, maxLength: 200 }),
        (keys, order) => {
          const m = new PageMap(1);
          const ref = new Map<number, number>();
          keys.forEach((k, i) => {
            m.set(k, i);
            ref.set(k, i);
          });
          const distinct = [...ref.keys()];
          for (const o of order) {
            const k = distinct[o % distinct.length];
            if (o % 2 === 0) expect(m.take(k)).toBe(ref.get(k) ?? -1);
            else expect(m.delete(k)).toBe(ref.has(k));
            ref.delete(k);
            for (const [kk, v] of ref) expect(m.get(kk)).toBe(v);
          }
          expect(m.size).toBe(ref.size);
        },
      ),
      { numRuns: 100 },
    );
  });
});
