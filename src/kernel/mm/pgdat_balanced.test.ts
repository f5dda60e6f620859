/**
 * kswapd's view of the node, zone by zone, as Linux 6.12 has it: the lowmem reserves
 * (mm/page_alloc.c setup_per_zone_lowmem_reserve), pgdat_balanced (some eligible zone above
 * its high watermark for the order, its reserve against highest_zoneidx included),
 * wake_all_kswapds (one wakeup_kswapd per node), wakeup_kswapd's gate, and kswapd_shrink_node's
 * nr_to_reclaim up to highest_zoneidx.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { BuddyAllocator, Wmark } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { PageDescTable, PageKind } from "./PageDesc.ts";
import { mmapArgs } from "./userMm.ts";
import { kswapdTarget, pgdatBalanced, topZone } from "./vmscan_kswapd.ts";

/** A bare allocator of `frames` frames (x86-64 zones), boot memory from pfn 256. */
function fresh(frames: number) {
  const pages = new PageDescTable(frames);
  const b = new BuddyAllocator(pages, frames);
  b.freeBootRange(256, frames);
  b.setupWatermarks();
  return b;
}

/**
 * Every page __GFP_HIGH may take (each zone down to half its min watermark, DMA's reserve
 * kept), then DMA's given back until it holds `dmaFree` free pages.
 */
function drain(b: BuddyAllocator, dmaFree: number): void {
  const dma: number[] = [];
  for (;;) {
    const pfn = b.alloc(0, Gfp.KERNEL | Gfp.HIGH, PageKind.KernelPages);
    if (pfn < 0) break;
    if (pfn < b.zones[0].endPfn) dma.push(pfn);
  }
  while (b.zones[0].freePages < dmaFree) expect(b.free(dma.pop()!, 0)).toBeNull();
}

describe("lowmem reserves (setup_per_zone_lowmem_reserve)", () => {
  it("a zone below an empty one keeps back the sum of the zones above it: protection (0, D, D)", () => {
    const b = fresh(65536); // 256 MiB: DMA and DMA32, no Normal
    const [dma, dma32, normal] = b.zones;
    expect(normal.managed).toBe(0);
    const d = Math.floor(dma32.managed / 256);
    expect(d).toBeGreaterThan(200);
    expect(dma.lowmemReserve).toEqual([0, d, d]);
    // DMA32's ratio over an empty Normal adds nothing; Normal manages nothing and keeps nothing
    expect(dma32.lowmemReserve).toEqual([0, 0, 0]);
    expect(normal.lowmemReserve).toEqual([0, 0, 0]);
  });

  it("with a Normal zone each reserve is the running sum over its ratio", () => {
    const b = fresh(5 << 18); // 5 GiB: Normal above 4 GiB
    const [dma, dma32, normal] = b.zones;
    expect(dma.lowmemReserve).toEqual([
      0,
      Math.floor(dma32.managed / 256),
      Math.floor((dma32.managed + normal.managed) / 256),
    ]);
    expect(dma32.lowmemReserve).toEqual([0, 0, Math.floor(normal.managed / 256)]);
  });
});

describe("pgdat_balanced", () => {
  it("one zone above its high watermark (with its reserve) balances the node, whatever the others hold", () => {
    const b = fresh(65536);
    const [dma, dma32] = b.zones;
    // DMA32 below its min watermark, DMA above high + its reserve against Normal
    drain(b, dma.wmark[Wmark.High] + dma.lowmemReserve[2] + 5);
    expect(dma32.freePages).toBeLessThan(dma32.wmark[Wmark.Min]);
    expect(pgdatBalanced(b, 0, 2)).toBe(true);
    // the node's free pages summed are short of the high watermarks summed: not what Linux asks
    expect(b.freePages()).toBeLessThan(b.highWmarkPages());
    // DMA at its mark plus reserve (free pages must be above them), and no zone is balanced
    while (dma.freePages > dma.wmark[Wmark.High] + dma.lowmemReserve[2])
      expect(b.alloc(0, Gfp.DMA, PageKind.KernelPages)).toBeGreaterThanOrEqual(0);
    expect(pgdatBalanced(b, 0, 2)).toBe(false);
    // for a DMA32 allocation DMA's reserve is against DMA32 (the same D here): still unbalanced;
    // for a DMA allocation (highest_zoneidx DMA) no reserve applies and DMA is balanced
    expect(pgdatBalanced(b, 0, 1)).toBe(false);
    expect(pgdatBalanced(b, 0, 0)).toBe(true);
  });

  it("checks the order: free pages are not enough without a block of that order", () => {
    const b = fresh(65536);
    expect(pgdatBalanced(b, 10, 2)).toBe(true);
    // every page handed out one by one (down to the min watermarks), then every other one freed:
    // plenty of free pages, and each one's buddy is held: they stay single pages
    const held: number[] = [];
    for (;;) {
      const pfn = b.alloc(0, Gfp.KERNEL, PageKind.KernelPages);
      if (pfn < 0) break;
      held.push(pfn);
    }
    for (const pfn of held) if (pfn % 2 === 0) expect(b.free(pfn, 0)).toBeNull();
    expect(b.freePages()).toBeGreaterThan(b.highWmarkPages());
    // the largest block left is one of the few pages never handed out (below the min watermarks)
    let largest = 0;
    for (const z of b.zones)
      for (let o = 0; o < z.nrFree.length; o++) if (z.nrFree[o] > 0) largest = Math.max(largest, o);
    expect(largest).toBeLessThan(10);
    expect(pgdatBalanced(b, largest, 2)).toBe(true);
    expect(pgdatBalanced(b, largest + 1, 2)).toBe(false);
  });

  it("kswapd's target counts the zones up to highest_zoneidx only", () => {
    const b = fresh(5 << 18);
    const [dma, dma32, normal] = b.zones;
    const t = (z: { wmark: number[] }) => Math.max(z.wmark[Wmark.High], 32);
    expect(kswapdTarget(b, 2)).toBe(t(dma) + t(dma32) + t(normal));
    expect(kswapdTarget(b, 1)).toBe(t(dma) + t(dma32));
    expect(kswapdTarget(b, 0)).toBe(t(dma));
  });
});

describe("wake_all_kswapds and wakeup_kswapd on a kernel", () => {
  it("wakes kswapd once per slow path, and a run is counted only when the node was not balanced", () => {
    // two managed zones (DMA, DMA32): before, each had a wakeup_kswapd and a pageoutrun per slow path
    const k = new Kernel({ ramBytes: 64 << 20, swapBytes: 64 << 20, overcommit: "always" });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const pages = 24000; // 94 MiB through 64 MiB
    const a = k.mmap(t, mmapArgs(pages * 4096));
    let slowPaths = 0;
    let runs = 0;
    let twice = 0;
    for (let i = 0; i < pages; i++) {
      const w0 = k.buddy.kswapdWakeups;
      const r0 = k.vmscan.stats.pageoutrun;
      expect(k.userAccess(0, t, a + BigInt(i) * 4096n, Access.Write, 1).ok).toBe(true);
      const w = k.buddy.kswapdWakeups - w0;
      const r = k.vmscan.stats.pageoutrun - r0;
      // one wakeup_kswapd per slow path (a fault allocates one page: one slow path at most,
      // bar a page table's), and balance_pgdat runs at most once for each
      expect(r).toBeLessThanOrEqual(w);
      if (w > 1) twice++;
      slowPaths += w;
      runs += r;
    }
    expect(runs).toBeGreaterThan(10);
    expect(runs).toBeLessThanOrEqual(slowPaths);
    // two slow paths in one touch only where the fault also allocated a page table (one per 512 pages)
    expect(twice).toBeLessThanOrEqual(Math.ceil(pages / 512));
    // (fewer than one per 128 pages: a movable allocation that falls back to a small unmovable
    // block boosts the watermarks, and kswapd then reclaims a pageblock more in that run; a boost
    // in DMA wakes kswapd for DMA alone, whose reclaim frees DMA pages the fast path then takes)
    expect(slowPaths).toBeGreaterThan(Math.ceil(pages / 512));
  });

  it("the `kswapd` call runs balance_pgdat even on a balanced node (PAGEOUTRUN first), the allocator's wake-up does not", () => {
    const k = new Kernel({ ramBytes: 64 << 20, swapBytes: 64 << 20, overcommit: "always" });
    expect(pgdatBalanced(k.buddy, 0, topZone(k.buddy))).toBe(true);
    const r0 = k.vmscan.stats.pageoutrun;
    expect(k.kswapd()).toBe(0);
    expect(k.vmscan.stats.pageoutrun).toBe(r0 + 1);
  });
});
