/**
 * PageStore.zeroRun (PhysMem.zeroFrames: a fault batch's clear_page of each page, mm/anon_fault.ts
 * doAnonymousRun) against fill(page, 0, 0) page by page: two stores take the same random stores,
 * fills, copies and whole-page reads (scratch copies kept), then one zeroes random pages (some
 * twice, some already zero) at once and the other one by one; every page's state and words, the
 * whole-page reads, the slots held and free and the host bytes agree, and again after more
 * random work on both.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../base/rng.ts";
import { PageStore } from "./PageStore.ts";

const PAGES = 9000; // three directory chunks, the last in part

function randomWork(rng: Rng, stores: PageStore[], ops: number): void {
  for (let i = 0; i < ops; i++) {
    // pages of a few chunks' starts, so that pages meet in every state
    const page = rng.below(4) === 0 ? rng.below(PAGES) : rng.below(3) * 4096 + rng.below(40);
    const op = rng.below(7);
    const w = rng.below(1024);
    const v = rng.below(3) === 0 ? 0 : rng.nextU32();
    const lo = rng.below(2) === 0 ? 0 : rng.nextU32();
    const hi = rng.below(2) === 0 ? 0 : rng.nextU32();
    const to = rng.below(PAGES);
    for (const s of stores) {
      if (op === 0) s.writeWord(page, w, v);
      else if (op === 1) s.writeByte(page, w * 4 + (lo & 3), v);
      else if (op === 2) s.writeQword(page, w >>> 1, lo, hi);
      else if (op === 3) s.fill(page, lo, hi);
      else if (op === 4) s.copyTo(page, s, to);
      else s.wordsForRead(page); // a scratch copy of a compact page
    }
  }
}

function expectSame(a: PageStore, b: PageStore): void {
  for (let p = 0; p < PAGES; p++) {
    expect(a.state(p), `page ${p}`).toBe(b.state(p));
    const wa = a.wordsForRead(p);
    const wb = b.wordsForRead(p);
    expect(wa === null, `page ${p}`).toBe(wb === null);
    if (wa !== null && wb !== null) expect(Array.from(wa), `page ${p}`).toEqual(Array.from(wb));
  }
  expect(a.materialized).toBe(b.materialized);
  expect(a.freeSlotCount).toBe(b.freeSlotCount);
  expect(a.hostBytes()).toBe(b.hostBytes());
}

describe("PageStore.zeroRun", () => {
  it("leaves what fill(page, 0, 0) page by page leaves (random pages in every state)", () => {
    for (let seed = 1; seed <= 3; seed++) {
      const rng = new Rng(seed);
      const a = new PageStore(PAGES);
      const b = new PageStore(PAGES);
      for (let round = 0; round < 4; round++) {
        randomWork(rng, [a, b], 600);
        const n = 1 + rng.below(300);
        const pages = new Float64Array(n + 5);
        for (let i = 0; i < n; i++)
          pages[i] = rng.below(3) === 0 ? rng.below(PAGES) : rng.below(3) * 4096 + rng.below(40);
        pages[n] = 7; // past n: not zeroed
        const before = a.state(7);
        a.zeroRun(pages, n);
        for (let i = 0; i < n; i++) b.fill(pages[i], 0, 0);
        for (let i = 0; i < n; i++) expect(a.isZero(pages[i])).toBe(true);
        if (!Array.from(pages.subarray(0, n)).includes(7)) expect(a.state(7)).toBe(before);
        expectSame(a, b);
      }
      randomWork(rng, [a, b], 600);
      expectSame(a, b);
    }
  });
});
