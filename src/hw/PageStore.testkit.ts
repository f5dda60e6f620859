/**
 * What PageStore's run tests share (PageStore_zeroRun.test.ts, PageStore_writeByteRun.test.ts):
 * the same random work on several stores, and the check that two stores hold the same pages.
 */
import { expect } from "vitest";
import type { Rng } from "../base/rng.ts";
import type { PageStore } from "./PageStore.ts";

/**
 * `ops` random operations, each done on every store alike: word, byte and qword stores, fills,
 * copies, zeroings (fill with 0, when `zeroings`) and whole-page reads (scratch copies kept),
 * on the page `pick` chooses (of `pages`).
 */
export function randomPageWork(
  rng: Rng,
  stores: PageStore[],
  ops: number,
  pages: number,
  pick: (rng: Rng) => number,
  zeroings: boolean,
): void {
  for (let i = 0; i < ops; i++) {
    const page = pick(rng);
    const op = rng.below(7);
    const w = rng.below(1024);
    const v = rng.below(3) === 0 ? 0 : rng.nextU32();
    const lo = rng.below(2) === 0 ? 0 : rng.nextU32();
    const hi = rng.below(2) === 0 ? 0 : rng.nextU32();
    const to = rng.below(pages);
    for (const s of stores) {
      if (op === 0) s.writeWord(page, w, v);
      else if (op === 1) s.writeByte(page, w * 4 + (lo & 3), v);
      else if (op === 2) s.writeQword(page, w >>> 1, lo, hi);
      else if (op === 3) s.fill(page, lo, hi);
      else if (op === 4) s.copyTo(page, s, to);
      else if (op === 5 && zeroings) s.fill(page, 0, 0);
      else s.wordsForRead(page); // a scratch copy of a compact page
    }
  }
}

/** Every one of `pages` pages alike in both stores (state and words), and the slots held and free and the host bytes. */
export function expectSamePages(a: PageStore, b: PageStore, pages: number): void {
  for (let p = 0; p < pages; p++) {
    expect(a.state(p), `page ${p}`).toBe(b.state(p));
    const wa = a.wordsForRead(p);
    const wb = b.wordsForRead(p);
    expect(wa === null, `page ${p}`).toBe(wb === null);
    if (wa === null || wb === null) continue;
    let same = true;
    for (let w = 0; w < wa.length && same; w++) same = wa[w] === wb[w];
    if (!same) expect(Array.from(wa), `page ${p}`).toEqual(Array.from(wb)); // the difference shown
  }
  expect(a.materialized).toBe(b.materialized);
  expect(a.freeSlotCount).toBe(b.freeSlotCount);
  expect(a.hostBytes()).toBe(b.hostBytes());
}
