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
import { expectSamePages, randomPageWork } from "./PageStore.testkit.ts";
import { PageStore } from "./PageStore.ts";

const PAGES = 9000; // three directory chunks, the last in part

// pages of a few chunks' starts, so that pages meet in every state
const pick = (r: Rng) => (r.below(4) === 0 ? r.below(PAGES) : r.below(3) * 4096 + r.below(40));
const randomWork = (rng: Rng, stores: PageStore[], ops: number) =>
  randomPageWork(rng, stores, ops, PAGES, pick, false);
const expectSame = (a: PageStore, b: PageStore) => expectSamePages(a, b, PAGES);

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
