/**
 * The LRU lists (mm_inline.ts) against a model of plain arrays: every random add, addTail,
 * unlink and insertBefore leaves the same order (both ways), sizes and zone counts; a rotation
 * (add of a page to the head of the list it is on) leaves the sizes alone.
 */
import { describe, expect, it } from "vitest";
import { LruLists } from "./mm_inline.ts";

describe("LruLists against a model", () => {
  it("keeps the order, sizes and zone counts of plain arrays through 20,000 random moves (3 seeds)", () => {
    for (const s0 of [1, 7, 1234567]) {
      let seed = s0;
      const rand = (n: number) => {
        seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
        return ((seed >>> 0) % n) >>> 0;
      };
      const N = 64;
      const l = new LruLists(N, 8, [16, 40, N]);
      const zone = (p: number) => (p < 16 ? 0 : p < 40 ? 1 : 2);
      const model: number[][] = [[], [], [], [], [], []]; // head to tail
      const on = new Array<number>(N).fill(0);
      const out = (p: number) => {
        if (on[p] !== 0) model[on[p]].splice(model[on[p]].indexOf(p), 1);
        on[p] = 0;
      };
      let rotations = 0;
      for (let i = 0; i < 20000; i++) {
        const p = rand(N);
        const list = 1 + rand(5);
        const op = rand(4);
        if (op === 0) {
          if (on[p] === list) rotations++;
          out(p);
          model[list].unshift(p);
          on[p] = list;
          l.add(p, list);
        } else if (op === 1) {
          out(p);
          model[list].push(p);
          on[p] = list;
          l.addTail(p, list);
        } else if (op === 2) {
          if (on[p] === 0) continue;
          out(p);
          l.unlink(p);
        } else {
          // insertBefore: a page on no list, before a page of the list (or at the tail)
          if (on[p] !== 0 || l.large[p]) continue;
          const m = model[list];
          const at = m.length === 0 ? -1 : rand(m.length + 1) - 1;
          const before = at < 0 ? -1 : m[at];
          if (before < 0) m.push(p);
          else m.splice(at, 0, p);
          on[p] = list;
          l.insertBefore(p, list, before);
        }
        // large folios come and go only off the lists
        if (on[p] === 0 && rand(8) === 0) l.large[p] = l.large[p] ? 0 : 1;
        if (i % 97 !== 0) continue;
        for (let li = 1; li <= 5; li++) {
          const fwd: number[] = [];
          for (let q = l.head[li]; q >= 0; q = l.next[q]) fwd.push(q);
          const back: number[] = [];
          for (let q = l.tail[li]; q >= 0; q = l.prev[q]) back.push(q);
          expect(fwd).toEqual(model[li]);
          expect(back.reverse()).toEqual(model[li]);
          const nr = (q: number) => (l.large[q] ? 8 : 1);
          expect(l.size[li]).toBe(model[li].reduce((a, q) => a + nr(q), 0));
          for (let z = 0; z < 3; z++)
            expect(l.zoneSize[li * 3 + z]).toBe(
              model[li].filter((q) => zone(q) === z).reduce((a, q) => a + nr(q), 0),
            );
        }
        expect(Array.from(l.lru)).toEqual(on);
      }
      expect(rotations).toBeGreaterThan(500);
    }
  });
});
