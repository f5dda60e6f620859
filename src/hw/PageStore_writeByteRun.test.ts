/**
 * PageStore.writeByteRun (a fault run's stores, hw/arch/x86_64/runFold.ts leaves) against
 * writeByte page by page: two stores take the same random stores, fills, copies, zeroings and
 * whole-page reads (scratch copies kept), then one takes a run of one-byte stores at once and the
 * other one by one. The runs mix stretches of consecutive pages (some across a chunk's end, some
 * in a chunk never touched), fresh zero pages, pages in every state, repeated pages, a zero byte
 * and bytes with the top bit set; every page's state and words, the whole-page reads, the slots
 * held and free and the host bytes agree, and again after more random work on both. A third test
 * runs over a chunk's end (pages 4095/4096: the last fields of a chunk and the first of the next)
 * among pages in every state, mostly fresh zero pages, in the array directory and the Map one, and
 * checks the pages around the run too: a run that stores one page past its stretch fails it (it
 * was written for a layout of a chunk's fields tried and left: bench/RESULTS.md, "pagerec").
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../base/rng.ts";
import { expectSamePages, randomPageWork } from "./PageStore.testkit.ts";
import { PageStore } from "./PageStore.ts";

const PAGES = 13000; // four directory chunks, the last in part

// pages near the first chunks' starts and ends, so that pages meet in every state
const pick = (r: Rng) => (r.below(4) === 0 ? r.below(PAGES) : r.below(2) * 4096 + 4060 + r.below(80));
const randomWork = (rng: Rng, stores: PageStore[], ops: number) =>
  randomPageWork(rng, stores, ops, PAGES, pick, true);
const expectSame = (a: PageStore, b: PageStore) => expectSamePages(a, b, PAGES);

/** A run's pages: stretches of consecutive pages from random starts, some pages repeated. */
function runPages(rng: Rng, n: number): Float64Array {
  const pages = new Float64Array(n + 3);
  for (let k = 0; k < n; ) {
    const start =
      rng.below(3) === 0
        ? rng.below(PAGES)
        : rng.below(3) === 0
          ? 3 * 4096 + rng.below(PAGES - 3 * 4096) // the last chunk, untouched by randomWork's most
          : rng.below(2) * 4096 + 4060 + rng.below(80);
    const len = 1 + rng.below(rng.below(2) === 0 ? 4 : 60);
    for (let j = 0; j < len && k < n; j++, k++) pages[k] = Math.min(start + j, PAGES - 1);
    if (rng.below(8) === 0 && k > 0 && k < n) pages[k] = pages[rng.below(k)]; // a page again
  }
  return pages;
}

describe("PageStore.writeByteRun", () => {
  it("leaves what writeByte page by page leaves (random pages in every state)", () => {
    for (let seed = 1; seed <= 3; seed++) {
      const rng = new Rng(seed);
      const a = new PageStore(PAGES);
      const b = new PageStore(PAGES);
      for (let round = 0; round < 4; round++) {
        randomWork(rng, [a, b], 500);
        const n = 1 + rng.below(400);
        const pages = runPages(rng, n);
        const at = rng.below(3);
        // most runs on fresh frames (a fault run clears them first), the others on pages as they are
        if (rng.below(3) !== 0) {
          a.zeroRun(pages.subarray(at), n);
          b.zeroRun(pages.subarray(at), n);
        }
        const off = rng.below(4096);
        const value = [0, 1, 0x80, 0xff, 0x17f][rng.below(5)];
        const count = Math.min(n, pages.length - at);
        a.writeByteRun(pages, at, count, off, value);
        for (let k = 0; k < count; k++) b.writeByte(pages[at + k], off, value);
        for (let k = 0; k < count; k++)
          expect(a.readWord(pages[at + k], off >>> 2)).toBe(b.readWord(pages[at + k], off >>> 2));
        expectSame(a, b);
        // a second pass over the same pages (a later write pass: their odd word is the byte's)
        const again = [0, 2, 0xfe][rng.below(3)];
        a.writeByteRun(pages, at, count, off, again);
        for (let k = 0; k < count; k++) b.writeByte(pages[at + k], off, again);
        expectSame(a, b);
      }
      randomWork(rng, [a, b], 600);
      expectSame(a, b);
    }
  });

  it("makes fresh pages one-word pages with the byte (a fault run's stores)", () => {
    const s = new PageStore(PAGES);
    const pages = Float64Array.from({ length: 100 }, (_, k) => 4090 + k); // across a chunk's end
    s.writeByteRun(pages, 0, 100, 4095, 0xab);
    for (let k = 0; k < 100; k++) {
      expect(s.state(4090 + k)).toBe(1); // PageState.OneWord
      expect(s.readWord(4090 + k, 1023)).toBe(0xab000000);
      expect(s.readWord(4090 + k, 1022)).toBe(0);
    }
    expect(s.state(4089)).toBe(0);
    expect(s.state(4190)).toBe(0);
    expect(s.materialized).toBe(0);
  });

  it("leaves the pages beside a run as they were, across a chunk's end, in both directories", () => {
    // the array directory and the Map one (stores above 2^28 pages): pages 4080..4111 from a chunk's start
    for (const [nrPages, base] of [
      [PAGES, 0],
      [2 ** 30, 2 ** 29 + 3 * 4096],
    ]) {
      for (let seed = 1; seed <= 12; seed++) {
        const rng = new Rng(seed);
        const a = new PageStore(nrPages);
        const b = new PageStore(nrPages);
        for (let p = base + 4080; p < base + 4112; p++) {
          // each page zero (most: fresh frames), a pattern, one word or materialised
          const kind = rng.below(3) === 0 ? rng.below(3) : -1;
          const lo = rng.nextU32();
          const w = rng.below(1024);
          for (const s of [a, b]) {
            if (kind >= 0) s.fill(p, lo, p);
            if (kind >= 1) s.writeWord(p, w, lo ^ 1);
            if (kind >= 2) s.writeWord(p, w ^ 2, lo ^ 2);
          }
        }
        const from = base + 4084 + rng.below(8);
        const n = 4 + rng.below(20); // the last page 4087..4113: over the chunk's end
        const pages = Float64Array.from({ length: n }, (_, k) => from + k);
        const off = rng.below(4096);
        a.writeByteRun(pages, 0, n, off, 0x5a);
        for (let k = 0; k < n; k++) b.writeByte(pages[k], off, 0x5a);
        for (let p = base + 4076; p < base + 4116; p++) {
          expect(a.state(p), `page ${p}`).toBe(b.state(p));
          const wa = a.wordsForRead(p);
          const wb = b.wordsForRead(p);
          expect(wa === null ? null : Array.from(wa), `page ${p}`).toEqual(
            wb === null ? null : Array.from(wb),
          );
        }
        expect(a.materialized).toBe(b.materialized);
        expect(a.hostBytes()).toBe(b.hostBytes());
      }
    }
  });
});
