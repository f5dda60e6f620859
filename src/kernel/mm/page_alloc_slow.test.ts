/**
 * The allocator's slow path (page_alloc_slow.ts) as mm/page_alloc.c decides it: should_reclaim_retry's
 * no_progress_loops and its watermark test with the reclaimable pages counted as free,
 * compaction_zonelist_suitable's share of them, the rounds of direct reclaim before the OOM
 * killer, and __alloc_pages_may_oom's rules (no kill for a lowmem allocation).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { BuddyAllocator, Wmark, type Zone } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { MigrateType } from "./migratetype.ts";
import { PageDescTable, PageKind } from "./PageDesc.ts";
import { compactionZonelistSuitable, shouldReclaimRetry } from "./page_alloc_slow.ts";
import { mmapArgs } from "./userMm.ts";

/** A bare allocator of 32 MiB (DMA, DMA32) whose zones report `reclaimable[id]` reclaimable pages. */
function bare(reclaimable: number[]) {
  const frames = 8192;
  const pages = new PageDescTable(frames);
  const b = new BuddyAllocator(pages, frames);
  b.freeBootRange(256, frames);
  b.setupWatermarks();
  b.hooks = {
    wakeKswapd: () => {},
    directReclaim: () => 0,
    outOfMemory: () => false,
    zoneReclaimablePages: (z: Zone) => reclaimable[z.id],
  };
  return b;
}

/**
 * Takes DMA's pages down to its min watermark (GFP_DMA), then DMA32's until `free` are left there
 * (GFP_DMA32 | __GFP_HIGH: below the min watermark, to half of it).
 */
function drainTo(b: BuddyAllocator, free: number) {
  while (b.alloc(0, Gfp.DMA, PageKind.KernelPages) >= 0);
  const z = b.zones[1];
  while (z.freePages > free)
    expect(b.alloc(0, Gfp.DMA32 | Gfp.HIGH, PageKind.KernelPages)).toBeGreaterThanOrEqual(4096);
  expect(z.freePages).toBe(free);
}

describe("should_reclaim_retry", () => {
  it("retries while free + reclaimable pages would pass the min watermark, to the page", () => {
    // GFP_DMA32 allocations: highest zone DMA32, whose lowmem reserve for itself is 0; DMA keeps
    // a reserve against DMA32 allocations larger than its free pages with nothing reclaimable
    const reclaimable = [0, 0];
    const b = bare(reclaimable);
    const z = b.zones[1];
    const min = z.wmark[Wmark.Min];
    expect(min).toBeGreaterThan(12);
    drainTo(b, min - 5);
    const retry = () => shouldReclaimRetry(b, 0, 1, MigrateType.UNMOVABLE, 0, true, { n: 0 });
    // __zone_watermark_ok: free (minus 2^order - 1) must be above min + lowmem_reserve
    reclaimable[1] = 5;
    expect(retry()).toBe(false); // min - 5 + 5 = min: not above
    reclaimable[1] = 6;
    expect(retry()).toBe(true);
    // an order-1 request takes one more page off, and needs a free block of order 1 or more
    expect(shouldReclaimRetry(b, 1, 1, MigrateType.UNMOVABLE, 0, true, { n: 0 })).toBe(false);
    reclaimable[1] = 7;
    expect(shouldReclaimRetry(b, 1, 1, MigrateType.UNMOVABLE, 0, true, { n: 0 })).toBe(true);
    // __GFP_HIGH (ALLOC_MIN_RESERVE) halves the mark
    reclaimable[1] = 0;
    expect(retry()).toBe(false);
    expect(shouldReclaimRetry(b, 0, 1, MigrateType.UNMOVABLE, 1, true, { n: 0 })).toBe(true);
  });

  it("zone_reclaimable_pages: the file lists, the anon lists only with free swap, a zone with none by its free pages", () => {
    for (const swapBytes of [0, 16 << 20]) {
      const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes });
      const [dma, dma32] = k.buddy.zones;
      const hook = k.buddy.hooks!.zoneReclaimablePages!;
      const t = k.spawn("A")!;
      k.switchTo(0, t);
      const a = k.mmap(t, mmapArgs(64 * 4096));
      for (let i = 0; i < 64; i++)
        expect(k.userAccess(0, t, a + BigInt(i * 4096), Access.Write, 1).ok).toBe(true);
      k.createFile("f", 16 * 4096, "disk", true);
      k.vmscan.fbatches.drain();
      const s = k.vmscan.size;
      expect(s[1] + s[2]).toBeGreaterThanOrEqual(64);
      expect(s[3] + s[4]).toBeGreaterThanOrEqual(16);
      expect(hook(dma)).toBe(dma.freePages); // user and cache pages came from DMA32
      expect(hook(dma32)).toBe(s[3] + s[4] + (swapBytes > 0 ? s[1] + s[2] : 0));
    }
  });

  it("gives up after MAX_RECLAIM_RETRIES rounds without progress; progress resets them below a costly order", () => {
    const b = bare([0, 1 << 20]); // plenty reclaimable: only the loop count decides
    const loops = { n: 0 };
    for (let i = 1; i <= 16; i++) {
      expect(shouldReclaimRetry(b, 0, 1, MigrateType.UNMOVABLE, 0, false, loops)).toBe(true);
      expect(loops.n).toBe(i);
    }
    expect(shouldReclaimRetry(b, 0, 1, MigrateType.UNMOVABLE, 0, false, loops)).toBe(false);
    expect(loops.n).toBe(17);
    expect(shouldReclaimRetry(b, 0, 1, MigrateType.UNMOVABLE, 0, true, loops)).toBe(true);
    expect(loops.n).toBe(0);
    // order 4: progress counts as none (its block may never form)
    expect(shouldReclaimRetry(b, 4, 1, MigrateType.UNMOVABLE, 0, true, loops)).toBe(true);
    expect(loops.n).toBe(1);
  });
});

describe("PF_MEMALLOC", () => {
  it("an allocation made by reclaim itself does not reclaim: it fails at once", () => {
    const b = bare([0, 1 << 20]);
    let reclaims = 0;
    let inReclaim = true;
    const directReclaim = () => {
      reclaims++;
      return 0;
    };
    b.hooks = { ...b.hooks!, directReclaim, inReclaim: () => inReclaim };
    drainTo(b, b.zones[1].wmark[Wmark.Min]);
    expect(b.alloc(0, Gfp.KERNEL | Gfp.DMA32, PageKind.KernelPages)).toBe(-1);
    expect([reclaims, b.allocStalls]).toEqual([0, 0]);
    // outside reclaim the same allocation reclaims: 17 rounds without progress (plenty reported
    // reclaimable), then no OOM kill for a DMA32 allocation
    inReclaim = false;
    expect(b.alloc(0, Gfp.KERNEL | Gfp.DMA32, PageKind.KernelPages)).toBe(-1);
    expect([reclaims, b.allocStalls]).toEqual([17, 17]);
  });
});

describe("compaction_zonelist_suitable", () => {
  it("counts free pages and a 1/order share of the reclaimable ones against min (low for costly) plus compact_gap", () => {
    const reclaimable = [0, 0];
    const b = bare(reclaimable);
    const z = b.zones[1];
    const min = z.wmark[Wmark.Min];
    const low = z.wmark[Wmark.Low];
    drainTo(b, min);
    // order 2: min + 8 (2 << 2) to pass, so free + floor(R / 2) must be above it
    reclaimable[1] = 16;
    expect(compactionZonelistSuitable(b, 2, 1)).toBe(false); // min + 8: not above
    reclaimable[1] = 18;
    expect(compactionZonelistSuitable(b, 2, 1)).toBe(true);
    // order 9 (costly): the low watermark plus 1024
    reclaimable[1] = (low - min + 1024) * 9;
    expect(compactionZonelistSuitable(b, 9, 1)).toBe(false);
    reclaimable[1] += 9;
    expect(compactionZonelistSuitable(b, 9, 1)).toBe(true);
  });
});

describe("__alloc_pages_slowpath on a kernel", () => {
  it("reclaims 17 times without progress (MAX_RECLAIM_RETRIES + 1) before the OOM killer", () => {
    // no swap, anonymous pages only: nothing reclaimable, but a zone's free pages then count
    // twice, so each round retries until no_progress_loops passes 16; then the OOM killer
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, overcommit: "always" });
    const big = k.spawn("big")!;
    k.switchTo(0, big);
    const pages = 20000;
    const a = k.mmap(big, mmapArgs(pages * 4096));
    let stalls = -1;
    let i = 0;
    for (; i < pages; i++) {
      const s0 = k.buddy.allocStalls;
      if (!k.userAccess(0, big, a + BigInt(i * 4096), Access.Write, 1).ok) {
        stalls = k.buddy.allocStalls - s0;
        break;
      }
    }
    expect(i).toBeLessThan(pages);
    expect(stalls).toBe(17);
    expect([k.oomKills, big.alive]).toEqual([1, false]);
    expect(k.vmscan.kswapdFailures).toBe(16);
  });

  it("does not kill for an allocation limited to the zones below ZONE_NORMAL; GFP_KERNEL kills and gets its page", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, overcommit: "always" });
    const big = k.spawn("big")!;
    k.switchTo(0, big);
    const a = k.mmap(big, mmapArgs(12000 * 4096));
    for (let i = 0; i < 12000; i++)
      expect(k.userAccess(0, big, a + BigInt(i * 4096), Access.Write, 1).ok).toBe(true);
    const small = k.spawn("small")!;
    while (k.buddy.alloc(0, Gfp.NOWAIT, PageKind.KernelPages) >= 0);
    expect(k.oomKills).toBe(0);
    // GFP_KERNEL | GFP_DMA32: highest zone DMA32, below ZONE_NORMAL: 17 rounds, then no kill
    const stalls = k.buddy.allocStalls;
    expect(k.buddy.alloc(0, Gfp.KERNEL | Gfp.DMA32, PageKind.KernelPages)).toBe(-1);
    expect(k.buddy.allocStalls - stalls).toBe(17);
    expect([k.oomKills, big.alive]).toEqual([0, true]);
    // GFP_KERNEL: the OOM killer frees big's memory, and the retry after it succeeds
    expect(k.buddy.alloc(0, Gfp.KERNEL, PageKind.KernelPages)).toBeGreaterThanOrEqual(0);
    expect([k.oomKills, big.alive, small.alive]).toEqual([1, false, true]);
  });
});
