/**
 * PageStore's compact pages (storeCompact: a uniform page, one odd 64-bit word, materialised) against
 * a plain model: random byte and word stores into a few words of a few pages, values drawn mostly
 * from the page's pattern and a few others (so that a store meets each case: the pattern's own value,
 * a page's first odd word, a later store into that word, one that makes it the pattern again, a
 * second odd word), and fills with new patterns. After every step each page's words equal the
 * model's, and its state is the one the model gives: uniform when every word is the pattern's, one
 * word when exactly one 64-bit word differs, materialised otherwise and until the next fill.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../base/rng.ts";
import { PageState, PageStore } from "./PageStore.ts";

const PAGES = 6;

describe("PageStore's compact pages", () => {
  it("hold what a plain array of words holds, in the state its differing words give", () => {
    for (const seed of [1, 2, 3, 4]) {
      const rng = new Rng(seed);
      const s = new PageStore(PAGES);
      const words = Array.from({ length: PAGES }, () => new Uint32Array(1024));
      const pattern = Array.from({ length: PAGES }, () => [0, 0]);
      const sticky = new Array<boolean>(PAGES).fill(false);
      const values = (p: number) => [pattern[p][0], pattern[p][1], 0, 1, 0xff, 0xdeadbeef];
      for (let step = 0; step < 4000; step++) {
        const p = rng.below(PAGES);
        const w = rng.below(4) === 0 ? rng.below(1024) : rng.below(4); // mostly words 0..3 (qwords 0, 1)
        const op = rng.below(10);
        if (op === 0) {
          const lo = rng.below(2) === 0 ? 0 : rng.nextU32();
          const hi = rng.below(2) === 0 ? lo : rng.nextU32();
          s.fill(p, lo, hi);
          for (let i = 0; i < 1024; i += 2) {
            words[p][i] = lo;
            words[p][i + 1] = hi;
          }
          pattern[p] = [lo, hi];
          sticky[p] = false;
        } else if (op < 5) {
          const v = values(p)[rng.below(6)] >>> 0;
          s.writeWord(p, w, v);
          words[p][w] = v;
        } else {
          const off = w * 4 + rng.below(4);
          const b = rng.below(3) === 0 ? 0 : rng.below(256);
          s.writeByte(p, off, b);
          const shift = (off & 3) * 8;
          words[p][w] = ((words[p][w] & ~(0xff << shift)) | (b << shift)) >>> 0;
        }
        let differing = 0;
        for (let q = 0; q < 512; q++)
          if (words[p][2 * q] !== pattern[p][0] || words[p][2 * q + 1] !== pattern[p][1]) differing++;
        if (differing > 1) sticky[p] = true;
        const want = sticky[p]
          ? PageState.Materialised
          : differing === 0
            ? PageState.Uniform
            : PageState.OneWord;
        expect(s.state(p), `seed ${seed}, step ${step}, page ${p}`).toBe(want);
        for (let i = 0; i < 1024; i++)
          if (s.readWord(p, i) !== words[p][i])
            expect(s.readWord(p, i), `seed ${seed}, step ${step}, page ${p}, word ${i}`).toBe(words[p][i]);
      }
    }
  });
});
