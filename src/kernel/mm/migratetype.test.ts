/**
 * Grouping pages by mobility (migratetype.ts, page_alloc_fallback.ts, the buddy's lists per type):
 * gfp_migratetype, build_all_zonelists' choice, the fallbacks and their block claims,
 * ALLOC_NOFRAGMENT, the high-order atomic reserve, and what a booted kernel's page tables and user
 * pages look like afterwards (/proc/pagetypeinfo).
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { Access } from "../../hw/access.ts";
import { wakeupKswapd } from "../core/reclaim.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { formatBuddyinfo, formatPagetypeinfo, formatZoneinfo } from "../view/proc.ts";
import { BuddyAllocator, Wmark, ZONES_64, type ZoneLayout } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { gfpMigratetype, MIGRATE_TYPES, MigrateType, Mobility } from "./migratetype.ts";
import { PageDescTable, PageKind } from "./PageDesc.ts";
import { mmapArgs } from "./userMm.ts";

const PB = 512;

/** A bare allocator of `frames` frames grouping by mobility (build_all_zonelists), no pcp lists. */
function grouped(frames: number, layout: ZoneLayout = ZONES_64, start = 256) {
  const pages = new PageDescTable(frames);
  const b = new BuddyAllocator(pages, frames, layout);
  b.freeBootRange(start, frames);
  b.buildAllZonelists();
  b.setupWatermarks();
  return { pages, b };
}

/** Free pages on the lists of type `mt` in zone `z`. */
function freeOfType(b: BuddyAllocator, z: number, mt: number): number {
  let n = 0;
  for (let order = 0; order <= 10; order++)
    for (let pfn = b.zones[z].head[order * MIGRATE_TYPES + mt]; pfn !== -1; pfn = b.pages.next[pfn])
      n += 1 << order;
  return n;
}

describe("migrate types (gfp_migratetype, build_all_zonelists)", () => {
  it("maps gfp flags to types, and every request to one type when grouping is off or absent", () => {
    expect(gfpMigratetype(Gfp.HIGHUSER_MOVABLE, Mobility.ON)).toBe(MigrateType.MOVABLE);
    expect(gfpMigratetype(Gfp.KERNEL, Mobility.ON)).toBe(MigrateType.UNMOVABLE);
    expect(gfpMigratetype(Gfp.KERNEL | Gfp.RECLAIMABLE, Mobility.ON)).toBe(MigrateType.RECLAIMABLE);
    expect(gfpMigratetype(Gfp.HIGHUSER_MOVABLE, Mobility.DISABLED)).toBe(MigrateType.UNMOVABLE);
    expect(gfpMigratetype(Gfp.KERNEL, Mobility.NONE)).toBe(MigrateType.MOVABLE);
  });

  it("groups by mobility from pageblock_nr_pages * MIGRATE_TYPES pages up", () => {
    const small = grouped(2048 + 256).b; // 2048 managed pages < 512 * 5
    expect(small.mobility).toBe(Mobility.DISABLED);
    const big = grouped(2560 + 256).b;
    expect(big.mobility).toBe(Mobility.ON);
    // every pageblock starts movable (memmap_init_range)
    expect(new Set(big.blockMt)).toEqual(new Set([MigrateType.MOVABLE]));
  });
});

describe("fallbacks (__rmqueue_fallback, steal_suitable_fallback)", () => {
  it("gives the first unmovable allocation the largest movable block, whose pageblocks become unmovable", () => {
    const { b } = grouped(16384); // DMA32: pfns 4096-16383, twelve order-10 blocks
    const z = b.zones[1];
    const largest = z.head[10 * MIGRATE_TYPES + MigrateType.MOVABLE];
    const pfn = b.alloc(0, Gfp.KERNEL, PageKind.KernelPages);
    expect(pfn).toBe(largest);
    expect([b.blockMt[pfn / PB], b.blockMt[pfn / PB + 1]]).toEqual([
      MigrateType.UNMOVABLE,
      MigrateType.UNMOVABLE,
    ]);
    // the rest of the block is on the unmovable lists, and the next 1023 unmovable pages come from it
    expect(freeOfType(b, 1, MigrateType.UNMOVABLE)).toBe(1023);
    for (let i = 1; i < 1024; i++) {
      const p = b.alloc(0, Gfp.KERNEL, PageKind.KernelPages);
      expect(p >= largest && p < largest + 1024).toBe(true);
    }
    // movable allocations never land in it
    for (let i = 0; i < 200; i++) {
      const p = b.alloc(0, Gfp.HIGHUSER_MOVABLE, PageKind.UserAnon);
      expect(b.blockMt[Math.floor(p / PB)]).toBe(MigrateType.MOVABLE);
    }
    expect(b.check()).toEqual([]);
  });

  it("claims a smaller block's pageblock when half of it is free, and takes one block when not", () => {
    for (const freeHalf of [true, false]) {
      const { b } = grouped(16384);
      // fill DMA32 with movable pages (user pages on an LRU: PageLRU, Vmscan.lru's list), then
      // free some of one pageblock
      const lru = new Uint8Array(16384);
      b.lru = lru;
      const taken: number[] = [];
      for (;;) {
        const p = b.alloc(0, Gfp.HIGHUSER_MOVABLE | Gfp.DMA32, PageKind.UserAnon);
        if (p < 0 || b.zones[1].freePages <= b.zones[1].wmark[Wmark.Low] + 600) break;
        if (p >= 4096) {
          lru[p] = 1;
          taken.push(p);
        }
      }
      const block = 8192; // a movable pageblock, all allocated
      const nFree = freeHalf ? 300 : 100;
      for (let i = 0; i < nFree; i++) {
        lru[block + i] = 0;
        expect(b.free(block + i, 0)).toBeNull();
      }
      // nothing unmovable is free anywhere: an unmovable request falls back into movable blocks;
      // the largest free movable block is this pageblock's (the others hold scraps at most)
      const before = b.blockMt[block / PB];
      expect(before).toBe(MigrateType.MOVABLE);
      const largest = [...Array(11).keys()]
        .reverse()
        .find((o) => b.zones[1].head[o * MIGRATE_TYPES + MigrateType.MOVABLE] !== -1)!;
      const from = b.zones[1].head[largest * MIGRATE_TYPES + MigrateType.MOVABLE];
      const p = b.alloc(0, Gfp.KERNEL | Gfp.DMA32, PageKind.KernelPages);
      const claimedBlock = Math.floor(from / PB);
      expect(Math.floor(p / PB)).toBe(claimedBlock);
      if (claimedBlock === block / PB) {
        // free + alike (the allocated pages not on an LRU) >= 256 claims it: the free ones move too
        expect(b.blockMt[claimedBlock]).toBe(freeHalf ? MigrateType.UNMOVABLE : MigrateType.MOVABLE);
        expect(freeOfType(b, 1, MigrateType.UNMOVABLE)).toBe(freeHalf ? nFree - 1 : (1 << largest) - 1);
      }
      expect(b.check()).toEqual([]);
    }
  });

  it("lets a small movable request take the smallest foreign block without claiming its pageblock", () => {
    const { b } = grouped(16384);
    b.setupWatermarks(0); // min_free_kbytes 0: low and high a dozen pages, below the holes made next
    // unmovable pages fill one order-10 block (its two pageblocks claimed)
    const u: number[] = [];
    for (let i = 0; i < 1024; i++) u.push(b.alloc(0, Gfp.KERNEL | Gfp.DMA32, PageKind.KernelPages));
    const base = Math.min(...u);
    expect(Math.max(...u)).toBe(base + 1023);
    // holes in it: order-1 pairs in its first pageblock, single pages in its second
    for (let p = base; p < base + 256; p += 8) {
      b.free(p, 0);
      b.free(p + 1, 0);
    }
    for (let p = base + 512; p < base + 768; p += 8) b.free(p, 0);
    // movable pages take every movable block of the zone
    while (freeOfType(b, 1, MigrateType.MOVABLE) > 0)
      if (b.alloc(0, Gfp.HIGHUSER_MOVABLE | Gfp.DMA32, PageKind.UserAnon) < 0) break;
    expect(freeOfType(b, 1, MigrateType.MOVABLE)).toBe(0);
    expect(b.zones[1].head[1 * MIGRATE_TYPES + MigrateType.UNMOVABLE]).not.toBe(-1);
    const single = b.zones[1].head[0 * MIGRATE_TYPES + MigrateType.UNMOVABLE];
    expect(single).toBeGreaterThanOrEqual(base + 512);
    // the largest foreign block is of order 1 (< pageblock_order / 2): the request takes the smallest
    // (find_smallest), and both pageblocks stay unmovable (single_page)
    const p = b.alloc(0, Gfp.HIGHUSER_MOVABLE | Gfp.DMA32, PageKind.UserAnon);
    expect(p).toBe(single);
    expect([b.blockMt[base / PB], b.blockMt[base / PB + 1]]).toEqual([
      MigrateType.UNMOVABLE,
      MigrateType.UNMOVABLE,
    ]);
    expect(b.check()).toEqual([]);
  });

  it("keeps every free block on its pageblock's list through random work of every type", () => {
    for (let seed = 1; seed <= 4; seed++) {
      const { b } = grouped(16384);
      const rng = new Rng(seed);
      const live: [number, number][] = [];
      const gfps = [Gfp.KERNEL, Gfp.HIGHUSER_MOVABLE, Gfp.KERNEL | Gfp.RECLAIMABLE];
      for (let i = 0; i < 4000; i++) {
        if (live.length > 0 && rng.float() < 0.45) {
          const [pfn, order] = live.splice(Math.floor(rng.float() * live.length), 1)[0];
          expect(b.free(pfn, order)).toBeNull();
        } else {
          const order = rng.float() < 0.8 ? 0 : Math.floor(rng.float() * 10);
          const p = b.alloc(order, gfps[Math.floor(rng.float() * 3)], PageKind.KernelPages);
          if (p >= 0) live.push([p, order]);
        }
      }
      expect(b.check()).toEqual([]);
      for (const [pfn, order] of live) expect(b.free(pfn, order)).toBeNull();
      expect(b.check()).toEqual([]);
      // all free again: the zones merge back to their boot blocks, whatever types the blocks took
      expect(Array.from(b.zones[1].nrFree)).toEqual(Array.from(grouped(16384).b.zones[1].nrFree));
    }
  });
});

describe("ALLOC_NOFRAGMENT (alloc_flags_nofragment)", () => {
  // a small 64-bit machine whose Normal zone starts at 32 MiB: DMA 0-16M, DMA32 16-32M, Normal 32-64M
  const layout = (dma32: boolean): ZoneLayout => ({
    names: ["DMA", "DMA32", "Normal"],
    endPfns: [4096, 8192, Number.POSITIVE_INFINITY],
    normal: 2,
    highmem: 2,
    dma32,
  });

  it("passes over a Normal zone that only has small foreign blocks, where a 32-bit layout steals from them", () => {
    for (const dma32 of [true, false]) {
      const { b } = grouped(16384, layout(dma32));
      const normal = b.zones[2];
      // Normal: all unmovable (claimed by unmovable allocations), then half of every pageblock freed
      // in small pieces, so its free pages are unmovable and below pageblock_order
      const got: number[] = [];
      for (;;) {
        const p = b.alloc(0, Gfp.KERNEL, PageKind.KernelPages);
        if (p < 0 || p < 8192) break;
        got.push(p);
      }
      for (const p of got) if (p % 4 === 0) b.free(p, 0);
      expect(freeOfType(b, 2, MigrateType.MOVABLE)).toBe(0);
      expect(normal.freePages).toBeGreaterThan(normal.wmark[Wmark.Low] + 1);
      const p = b.alloc(0, Gfp.HIGHUSER_MOVABLE, PageKind.UserAnon);
      // x86-64 (CONFIG_ZONE_DMA32): no fallback below pageblock_order in Normal, DMA32's movable page
      // instead; i386-like: no ALLOC_NOFRAGMENT, a page of Normal's unmovable blocks
      if (dma32) expect(p >= 4096 && p < 8192).toBe(true);
      else expect(p).toBeGreaterThanOrEqual(8192);
      expect(b.check()).toEqual([]);
    }
  });
});

describe("the high-order atomic reserve (reserve_highatomic_pageblock)", () => {
  it("reserves the pageblock of a high-order atomic allocation, hides its free pages from others, gives it back", () => {
    const { b } = grouped(65536); // DMA32: 61440 pages, 1% >= one pageblock
    const z = b.zones[1];
    // down to the min watermark with non-blocking order-0 allocations
    const held: number[] = [];
    for (;;) {
      const p = b.alloc(0, Gfp.NOWAIT | Gfp.MOVABLE | Gfp.DMA32, PageKind.UserAnon);
      if (p < 0) break;
      held.push(p);
    }
    // free an aligned 64 pages of a movable pageblock's allocations (order-6 block back)
    const block = held.find(
      (p) => p % PB === 0 && b.blockMt[p / PB] === MigrateType.MOVABLE && held.includes(p + 63),
    )!;
    expect(block).toBeDefined();
    for (let i = 0; i < 64; i++) b.free(block + i, 0);
    const p = b.alloc(1, Gfp.ATOMIC | Gfp.DMA32, PageKind.KernelPages); // slow path: ALLOC_HIGHATOMIC
    expect(p).toBeGreaterThanOrEqual(0);
    const blk = Math.floor(p / PB);
    expect(b.blockMt[blk]).toBe(MigrateType.HIGHATOMIC);
    expect(z.nrReservedHighatomic).toBe(PB);
    expect(z.nrFreeMt[MigrateType.HIGHATOMIC]).toBe(freeOfType(b, 1, MigrateType.HIGHATOMIC));
    expect(z.nrFreeMt[MigrateType.HIGHATOMIC]).toBeGreaterThan(0);
    // the zone's usable free pages leave the reserve out: an order-0 GFP_KERNEL request takes none of it
    const k = b.alloc(0, Gfp.NOWAIT | Gfp.MOVABLE | Gfp.DMA32, PageKind.UserAnon);
    if (k >= 0) expect(Math.floor(k / PB)).not.toBe(blk);
    // a page of the block freed goes back on the highatomic list; the reserve is given back by
    // unreserve (forced: only one pageblock is reserved)
    expect(b.free(p, 1)).toBeNull();
    expect(b.check()).toEqual([]);
  });
});

describe("a booted kernel's pageblocks (/proc/pagetypeinfo)", () => {
  it("keeps page tables in unmovable pageblocks and user pages in movable ones", () => {
    const k = new Kernel({ ramBytes: 128 << 20, overcommit: "always" });
    expect(k.buddy.mobility).toBe(Mobility.ON);
    // the boot's page tables come from memblock, not the page allocator: their pageblocks stay movable
    const boot = new Set<number>();
    for (let pfn = 0; pfn < k.pages.nrFrames; pfn++)
      if (k.pages.kind[pfn] === PageKind.PageTable) boot.add(pfn);
    for (let i = 0; i < 6; i++) {
      const t = k.spawn(`p${i}`)!;
      k.switchTo(0, t);
      const a = k.mmap(t, mmapArgs(32 << 20));
      // one page every 2 MiB: a PTE table for each, between the user pages
      for (let off = 0; off < 32 << 20; off += 2 << 20) k.userAccess(0, t, a + BigInt(off), Access.Write, 1);
      for (let off = 0; off < 1 << 20; off += 4096) k.userAccess(0, t, a + BigInt(off), Access.Write, 2);
    }
    let tables = 0;
    let user = 0;
    for (let pfn = 0; pfn < k.pages.nrFrames; pfn++) {
      const kind = k.pages.kind[pfn];
      if (kind === PageKind.PageTable && !boot.has(pfn)) {
        tables++;
        expect(k.buddy.blockMt[pfn >> 9]).toBe(MigrateType.UNMOVABLE);
      } else if (kind === PageKind.UserAnon) {
        user++;
        expect(k.buddy.blockMt[pfn >> 9]).toBe(MigrateType.MOVABLE);
      }
    }
    expect(tables).toBeGreaterThan(6 * 16);
    expect(user).toBeGreaterThan(6 * 256);
    expect(k.buddy.check()).toEqual([]);
    // steal_suitable_fallback's PageLRU is the LRU lists' own record: the user pages on a list count
    let onLru = 0;
    for (let pfn = 0; pfn < k.pages.nrFrames; pfn++) if (k.buddy.lru![pfn] !== 0) onLru++;
    expect(k.buddy.lru).toBe(k.vmscan.lru);
    expect(onLru).toBeGreaterThan(user / 2);
    // and the frame's view shows PG_lru from the same record (struct page's flags as Linux's)
    const listed = k.buddy.lru!.findIndex((l) => l !== 0);
    expect(k.view.frame(listed)!.flags).toContain("lru");
    expect(k.view.frame(listed)!.flags).not.toContain("active");
  });

  it("prints pagetypeinfo whose counts add up to buddyinfo's and the zones' pageblocks", () => {
    const k = new Kernel({ ramBytes: 64 << 20, overcommit: "always" });
    const t = k.spawn("a")!;
    k.switchTo(0, t);
    const a = k.mmap(t, mmapArgs(8 << 20));
    for (let off = 0; off < 8 << 20; off += 4096) k.userAccess(0, t, a + BigInt(off), Access.Write, 1);
    const info = k.view.pagetypeinfo()!;
    const lines = formatPagetypeinfo(info);
    expect(lines.slice(0, 3)).toEqual(["Page block order: 9", "Pages per block:  512", ""]);
    expect(lines[3]).toBe(
      "Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 ",
    );
    expect(lines).toContain(
      "Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate ",
    );
    const zones = info.zones.filter((z) => z.managed > 0);
    for (const z of zones) {
      const sum = z.freeBlocks.map((_, o) => z.freeByType.reduce((s, row) => s + row[o], 0));
      expect(sum).toEqual(z.freeBlocks);
      expect(z.blocksByType.reduce((s, n) => s + n, 0)).toBe(Math.ceil(z.spanned / PB));
    }
    // the DMA32 zone (pfns 4096 up) has unmovable blocks now: the process's page tables
    expect(zones[1].blocksByType[MigrateType.UNMOVABLE]).toBeGreaterThan(0);
    expect(formatBuddyinfo(info.zones).length).toBe(zones.length);
  });

  it("has no pagetypeinfo in the Windows profile", () => {
    const k = new Kernel({ ramBytes: 64 << 20, profile: "windows" });
    expect(k.view.pagetypeinfo()).toBeNull();
  });
});

describe("watermark boosting (boost_watermark, ZONE_BOOSTED_WATERMARK, balance_pgdat's nr_boost_reclaim)", () => {
  it("boosts a zone by a pageblock when a fallback takes a block smaller than one, and wakes kswapd for it", () => {
    const { b } = grouped(65536); // DMA32: 61440 pages, high watermark ~ 500: max boost 1.5x high
    const wakes: [number, number][] = [];
    b.hooks = {
      wakeKswapd: (o, z) => void wakes.push([o, z]),
      directReclaim: () => 0,
      outOfMemory: () => false,
    };
    const z = b.zones[1];
    // the first unmovable allocation takes a 4 MiB block whole: no boost
    const u = b.alloc(0, Gfp.KERNEL | Gfp.DMA32, PageKind.KernelPages);
    expect(z.watermarkBoost).toBe(0);
    expect(wakes).toEqual([]);
    // use the rest of that block up, then leave only small movable holes: fill the zone with
    // movable pages and free every other one of a pageblock's
    for (let i = 1; i < 1024; i++) b.alloc(0, Gfp.KERNEL | Gfp.DMA32, PageKind.KernelPages);
    const held: number[] = [];
    for (;;) {
      const p = b.alloc(0, Gfp.NOWAIT | Gfp.MOVABLE | Gfp.DMA32, PageKind.UserAnon);
      if (p < 0) break;
      held.push(p);
    }
    for (const p of held) if (p % 2 === 0) b.free(p, 0);
    for (let o = 9; o <= 10; o++) expect(z.nrFree[o]).toBe(0); // nothing a fallback could claim whole
    expect(z.watermarkBoost).toBe(0);
    wakes.length = 0; // the fill's slow paths woke kswapd (wake_all_kswapds) on the way
    const high = z.wmark[Wmark.High];
    const p = b.alloc(0, Gfp.KERNEL | Gfp.DMA32, PageKind.KernelPages); // falls back: a small movable hole
    expect(p).toBeGreaterThanOrEqual(0);
    expect(Math.floor(p / PB)).not.toBe(Math.floor(u / PB));
    expect(z.watermarkBoost).toBe(Math.min(PB, Math.max(PB, Math.floor((high * 15000) / 10000))));
    // the allocation that found ZONE_BOOSTED_WATERMARK woke kswapd for the zone, at order 0
    expect(wakes).toEqual([[0, 1]]);
    expect(z.boostedWatermark).toBe(false);
    // every watermark reads the boost
    expect(b.wmark(z, Wmark.Low)).toBe(z.wmark[Wmark.Low] + z.watermarkBoost);
    expect(b.check()).toEqual([]);
  });

  it("kswapd reclaims a boost on a balanced node from the page cache only, then drops it", () => {
    const k = new Kernel({ ramBytes: 512 << 20, swapBytes: 64 << 20, overcommit: "always" });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    // anonymous pages and a cached 256 MiB file (its pages on the file LRU: DEF_PRIORITY's scan of
    // it is 16 pages a pass, so a boost is reclaimed within the priorities it may use), no pressure
    const a = k.mmap(t, mmapArgs(8 << 20));
    for (let off = 0; off < 8 << 20; off += 4096) k.userAccess(0, t, a + BigInt(off), Access.Write, 1);
    k.createFile("data", 256 << 20, "disk", true);
    const v0 = k.view.vmstat();
    const z = k.buddy.zones[1];
    expect(k.vmscan.stats.pageoutrun).toBe(0);
    z.watermarkBoost = 512; // as boost_watermark leaves it after a fallback
    const freed = k.kswapd();
    const v1 = k.view.vmstat();
    expect(freed).toBeGreaterThanOrEqual(512);
    expect(v1.pgsteal_file - v0.pgsteal_file).toBe(freed);
    expect(v1.pswpout).toBe(v0.pswpout); // may_swap cleared: no anonymous page went
    expect(z.watermarkBoost).toBe(0);
    // boosted: kswapd woken from an allocation runs even on a balanced node (pgdat_watermark_boosted)
    z.watermarkBoost = 512;
    expect(wakeupKswapd(k, 0, 1)).toBeGreaterThan(0);
    expect(z.watermarkBoost).toBe(0);
    expect(wakeupKswapd(k, 0, 1)).toBe(0);
  });

  it("shows the boost in zoneinfo and in its watermarks", () => {
    const k = new Kernel({ ramBytes: 64 << 20, overcommit: "always" });
    const z = k.buddy.zones[1];
    const base = [...z.wmark];
    z.watermarkBoost = 300;
    const zi = k.view.zoneinfo()[1];
    expect(zi.boost).toBe(300);
    expect(zi.watermarks).toEqual({ min: base[0] + 300, low: base[1] + 300, high: base[2] + 300 });
    const text = formatZoneinfo(k.view.zoneinfo());
    expect(text).toContain("        boost    300");
  });
});
