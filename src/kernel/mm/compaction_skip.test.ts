/**
 * __reset_isolation_suitable (compaction_skip.ts) on a hand-made zone: the pageblocks walked from
 * both ends, the lower ones sampled (every eighth page) for an LRU page, the upper movable ones for
 * a free page, both once a side has found its first; a persistent compound page keeps its hint;
 * the scanners' cached positions move to the outermost blocks cleared.
 */
import { describe, expect, it } from "vitest";
import { BuddyAllocator } from "./buddy.ts";
import { resetIsolationSuitableZone } from "./compaction_skip.ts";
import { MigrateType } from "./migratetype.ts";
import { PageDescTable, PageFlag } from "./PageDesc.ts";

/** 32 MiB, nothing handed to the allocator: DMA32 is pageblocks 8..15 (pfns 4096..8191), every one marked. */
function zone() {
  const pages = new PageDescTable(8192);
  const b = new BuddyAllocator(pages, 8192);
  const lru = new Uint8Array(8192);
  const z = b.zones[1];
  expect([z.startPfn, z.endPfn]).toEqual([4096, 8192]);
  b.blockSkip.fill(1);
  return { b, lru, z, pages };
}

const block = (n: number) => n * 512;

describe("__reset_isolation_suitable", () => {
  it("clears the blocks a sample finds a source or target in, and moves the cached positions to them", () => {
    const { b, lru, z, pages } = zone();
    lru[block(9) + 16] = 1; // block 9 (lower half): an LRU page where a sample looks
    lru[block(10) + 3] = 1; // block 10: one where none looks
    pages.flags[block(13) + 8] |= PageFlag.Buddy; // block 13 (upper half): a free page sampled
    pages.flags[block(14) + 8] |= PageFlag.Buddy; // block 14: the same, but unmovable
    b.blockMt[14] = MigrateType.UNMOVABLE;
    lru[block(11)] = 1; // block 11: a THP's head, order 9: its hint persists
    pages.flags[block(11)] |= PageFlag.Head;
    pages.order[block(11)] = 9;
    z.compactBlockskipFlush = true;
    resetIsolationSuitableZone(b, lru, z);
    const marked = [...b.blockSkip.subarray(8, 16)].map((v, i) => (v ? i + 8 : -1)).filter((i) => i >= 0);
    expect(marked).toEqual([8, 10, 11, 12, 14, 15]);
    expect(z.compactBlockskipFlush).toBe(false);
    // the migration scanner restarts at block 9, the free scanner at the last pfn of block 13's walk step
    expect([...z.compactCachedMigratePfn]).toEqual([block(9), block(9)]);
    expect(z.compactCachedFreePfn).toBe(8191 - 2 * 512);
  });

  it("does nothing unless a direct compaction's scanners met since (compact_blockskip_flush)", () => {
    const { b, lru, z } = zone();
    lru[block(9)] = 1;
    resetIsolationSuitableZone(b, lru, z);
    expect(b.blockSkip[9]).toBe(1);
  });

  it("with no block cleared, both scanners restart where the walk met", () => {
    const { b, lru, z } = zone();
    z.compactBlockskipFlush = true;
    resetIsolationSuitableZone(b, lru, z);
    expect(b.blockSkip.subarray(8, 16).every((v) => v === 1)).toBe(true);
    // four steps from each end: 4096 + 4 * 512 and 8191 - 4 * 512
    expect([...z.compactCachedMigratePfn, z.compactCachedFreePfn]).toEqual([6144, 6144, 6143]);
  });
});
