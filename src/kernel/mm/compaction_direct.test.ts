/**
 * Direct compaction in the allocator's slow path (compaction_direct.ts): a THP fault in a
 * MADV_HUGEPAGE VMA compacts (async: movable pageblocks only) where free memory is all holes
 * between user pages; a VMA without it does not (GFP_TRANSHUGE_LIGHT cannot sleep); an unmovable
 * costly allocation's async compaction looks only at unmovable pageblocks and fails; deferral
 * and the priorities' escalation as Linux counts them.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { mmapArgs } from "../Kernel.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { vmstat } from "../view/proc.ts";
import { MAX_ORDER, type Zone } from "./buddy.ts";
import { CompactResult } from "./compaction.ts";
import {
  CompactPriority,
  compactionDeferReset,
  compactionDeferred,
  DirectCompaction,
  deferCompaction,
} from "./compaction_direct.ts";
import { Gfp } from "./gfp.ts";
import { MigrateType } from "./migratetype.ts";
import { PageKind } from "./PageDesc.ts";

const MiB = 2 ** 20;
const PAGE = 4096;

/**
 * A machine whose free memory is all holes: B's user pages fill it, every other one given back;
 * the DMA zone's free pages are taken by the kernel, every other one given back. No free block
 * of order 9 anywhere.
 */
function holes(thp: "always" | "madvise") {
  const k = new Kernel({ ramBytes: 128 * MiB, cpus: 1, thp, overcommit: "always" });
  const dma: number[] = [];
  for (;;) {
    const p = k.buddy.alloc(0, Gfp.DMA, PageKind.KernelPages);
    if (p < 0) break;
    dma.push(p);
  }
  for (let i = 0; i < dma.length; i += 2) expect(k.buddy.free(dma[i], 0)).toBeNull();
  const b = k.spawn("B")!;
  k.switchTo(0, b);
  const size = 96 * MiB;
  const at = k.mmap(b, mmapArgs(size, { noreserve: true }));
  expect(k.madvise(b, at, BigInt(size), "nohugepage")).toBe(0n);
  let pages = 0;
  for (; pages < size / PAGE; pages++) {
    // until no free block of order 9 or more is left (the lists' largest blocks go last)
    if (k.buddy.zones.every((z) => z.nrFree.slice(9).every((n) => n === 0))) break;
    k.userAccess(0, b, at + BigInt(pages * PAGE), Access.Write, 7);
  }
  // what is left free in blocks of order 9 or more, the kernel takes (no reclaim, no compaction, and
  // no kswapd woken: kcompactd, which kswapd and a failing GFP_NOWAIT wake, would make new blocks
  // for the loop to take, and for the tests below none are to be made before they ask)
  k.buddy.pcp!.drainAllPages();
  for (let o = MAX_ORDER; o >= 9; o--) while (k.buddy.alloc(o, 0, PageKind.KernelPages) >= 0);
  // every other frame freed (by frame number: neighbours in B's address space need not be neighbours in RAM)
  for (let i = 0; i < pages; i++) {
    const leaf = k.view.walk(b, at + BigInt(i * PAGE)).leaf;
    if (leaf !== null && leaf.pfn % 2 === 0) k.madvise(b, at + BigInt(i * PAGE), BigInt(PAGE), "dontneed");
  }
  k.buddy.pcp!.drainAllPages();
  // a block the page tables' pageblocks kept, merged from the per-CPU lists: the kernel takes it too
  for (let o = MAX_ORDER; o >= 9; o--) while (k.buddy.alloc(o, Gfp.HIGH, PageKind.KernelPages) >= 0);
  for (const z of k.buddy.zones)
    for (let o = 9; o <= MAX_ORDER; o++) expect([z.name, o, z.nrFree[o]]).toEqual([z.name, o, 0]);
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  return { k, t, b, at, pages };
}

describe("direct compaction (__alloc_pages_direct_compact)", () => {
  it("gives a MADV_HUGEPAGE VMA's THP fault a huge page by compacting the movable pageblocks", () => {
    const { k, t, b, at, pages } = holes("madvise");
    const a = k.mmap(t, mmapArgs(4 * MiB));
    expect(k.madvise(t, a, BigInt(4 * MiB), "hugepage")).toBe(0n);
    const before = vmstat(k);
    const pgalloc = () => k.buddy.pgalloc.reduce((n, x) => n + x, 0);
    const alloc0 = pgalloc();
    expect(k.userAccess(0, t, a, Access.Write, 1).ok).toBe(true);
    const after = vmstat(k);
    expect(after.thp_fault_alloc).toBe(before.thp_fault_alloc + 1);
    // the huge page was captured (compaction_capture): __free_one_page handed the merged block to
    // the compaction under way, never to a free list, so rmqueue's PGALLOC did not count its 512
    // pages (the fault's page tables it did)
    expect(pgalloc() - alloc0).toBeLessThan(512);
    expect(k.buddy.capture).toBeNull();
    expect(after.compact_stall).toBeGreaterThanOrEqual(before.compact_stall + 1);
    expect(after.compact_success).toBe(before.compact_success + 1);
    expect(after.pgmigrate_success).toBeGreaterThan(before.pgmigrate_success);
    // B's pages kept their bytes wherever they went
    k.switchTo(0, b);
    let kept = 0;
    for (let i = 0; i < pages; i++) {
      if (k.view.walk(b, at + BigInt(i * PAGE)).leaf === null) continue;
      const r = k.userAccess(0, b, at + BigInt(i * PAGE), Access.Read);
      expect(r.ok && r.value).toBe(7);
      kept++;
    }
    expect(kept).toBeGreaterThan(pages / 3);
    expect(k.buddy.check()).toEqual([]);
  });

  it("does not compact for a VMA without MADV_HUGEPAGE (GFP_TRANSHUGE_LIGHT): the fault falls back", () => {
    const { k, t } = holes("always");
    const a = k.mmap(t, mmapArgs(4 * MiB));
    const before = vmstat(k);
    expect(k.userAccess(0, t, a, Access.Write, 1).ok).toBe(true);
    const after = vmstat(k);
    expect(after.thp_fault_fallback).toBe(before.thp_fault_fallback + 1);
    expect(after.compact_stall).toBe(before.compact_stall);
    expect(after.pgmigrate_success).toBe(before.pgmigrate_success);
  });

  it("fails an unmovable costly __GFP_NORETRY allocation: its async compaction looks at unmovable pageblocks only", () => {
    const { k } = holes("madvise");
    const before = vmstat(k);
    // without kswapd (vmlab's kcompactd, which kswapd wakes, runs at once and would make the
    // block); __GFP_NORETRY: after reclaim too, compact_priority stays INIT_COMPACT_PRIORITY
    const gfp = (Gfp.KERNEL & ~Gfp.KSWAPD_RECLAIM) | Gfp.NORETRY;
    expect(k.buddy.alloc(9, gfp, PageKind.KernelPages)).toBe(-1);
    const after = vmstat(k);
    // before reclaim and after it, at COMPACT_PRIO_ASYNC; nothing migrated from the movable blocks
    expect(after.compact_stall).toBe(before.compact_stall + 2);
    expect(after.compact_fail).toBe(before.compact_fail + 2);
    expect(after.pgmigrate_success).toBe(before.pgmigrate_success);
    // the same order for a movable allocation compacts and succeeds
    const movable = Gfp.HIGHUSER_MOVABLE & ~Gfp.KSWAPD_RECLAIM;
    expect(k.buddy.alloc(9, movable, PageKind.KernelPages)).toBeGreaterThanOrEqual(0);
    expect(vmstat(k).compact_success).toBe(after.compact_success + 1);
  });
});

describe("compact_priority after reclaim: DEF_COMPACT_PRIORITY (SYNC_LIGHT)", () => {
  // without kswapd, whose kcompactd would make the block first (it runs at once in vmlab)
  const kernel = Gfp.KERNEL & ~Gfp.KSWAPD_RECLAIM;
  it.each([
    ["an unmovable costly GFP_KERNEL allocation", kernel, false],
    // the HugeTLB pool's: clean page cache in some of the holes, so reclaim makes progress
    ["__GFP_RETRY_MAYFAIL, reclaim making progress", kernel | Gfp.RETRY_MAYFAIL, true],
  ])(
    "%s: async compaction before reclaim fails, sync-light after it moves movable pages; no OOM",
    (_, gfp, cache) => {
      const { k } = holes("madvise");
      if (cache) k.createFile("cache", 4 * MiB, "disk", true);
      const before = vmstat(k);
      const pfn = k.buddy.alloc(9, gfp, PageKind.KernelPages);
      const after = vmstat(k);
      // async before reclaim (the unmovable pageblocks only: nothing to move), MIGRATE_SYNC_LIGHT
      // after it (every pageblock: B's pages move, a block is free and captured)
      expect(pfn).toBeGreaterThanOrEqual(0);
      expect(after.compact_stall).toBe(before.compact_stall + 2);
      expect(after.compact_fail).toBe(before.compact_fail + 1);
      expect(after.compact_success).toBe(before.compact_success + 1);
      expect(after.pgmigrate_success).toBeGreaterThan(before.pgmigrate_success);
      expect(after.oom_kill).toBe(before.oom_kill);
      expect(k.buddy.check()).toEqual([]);
    },
  );
});

describe("deferral and priorities (defer_compaction, should_compact_retry)", () => {
  const zone = () =>
    ({ compactConsidered: 0, compactDeferShift: 0, compactOrderFailed: 0 }) as unknown as Zone;

  it("skips 2^shift - 1 attempts after each failure, the shift up to 6; a success resets it", () => {
    const z = zone();
    deferCompaction(z, 9);
    expect(z.compactOrderFailed).toBe(0); // the smaller of 0 and 9 (struct zone starts at 0)
    compactionDeferReset(z, 8, false); // a compaction success at order 8: failures count from 9
    expect(z.compactOrderFailed).toBe(9);
    const skips = () => {
      let n = 0;
      while (compactionDeferred(z, 9)) n++;
      return n;
    };
    expect(skips()).toBe(1); // shift 1: one attempt in two
    expect(compactionDeferred(z, 4)).toBe(false); // below the order that failed: never deferred
    for (let i = 0; i < 8; i++) deferCompaction(z, 9);
    expect(z.compactDeferShift).toBe(6);
    expect(skips()).toBe(63);
    compactionDeferReset(z, 9, true);
    expect([z.compactDeferShift, z.compactConsidered, z.compactOrderFailed]).toEqual([0, 0, 10]);
    expect(compactionDeferred(z, 9)).toBe(false);
  });

  it("raises the priority after failures: to SYNC_LIGHT for costly orders, SYNC_FULL for others", () => {
    const k = new Kernel({ ramBytes: 64 * MiB });
    const dc = (order: number) =>
      new DirectCompaction(
        k.vmscan,
        k.buddy,
        k.compactStats,
        order,
        Gfp.KERNEL,
        MigrateType.UNMOVABLE,
        () => -1,
      );
    const never = () => false;
    // DEF_COMPACT_PRIORITY (SYNC_LIGHT) is already a costly order's highest
    const costly = dc(9);
    expect(costly.prio).toBe(CompactPriority.SyncLight);
    costly.result = CompactResult.Complete;
    expect([costly.shouldRetry(never), costly.prio]).toEqual([false, CompactPriority.SyncLight]);
    // a costly __GFP_NORETRY one stays at ASYNC after its first attempt, then may rise once
    const noretry = new DirectCompaction(
      k.vmscan,
      k.buddy,
      k.compactStats,
      9,
      Gfp.KERNEL | Gfp.NORETRY,
      MigrateType.UNMOVABLE,
      () => -1,
    );
    noretry.result = CompactResult.Complete;
    expect([noretry.giveUpFirst(), noretry.prio]).toEqual([false, CompactPriority.Async]);
    expect([noretry.shouldRetry(never), noretry.prio]).toEqual([true, CompactPriority.SyncLight]);
    expect(noretry.shouldRetry(never)).toBe(false);
    noretry.result = CompactResult.Deferred;
    expect(noretry.giveUpFirst()).toBe(true);
    const small = dc(2);
    small.result = CompactResult.Complete;
    expect([small.shouldRetry(never), small.prio]).toEqual([true, CompactPriority.SyncFull]);
    expect(small.shouldRetry(never)).toBe(false);
    // a compaction that reported success but lost the page: 4 retries for a costly order; 16 for
    // a small one, then one that raises the priority (compaction_retries back to 0), 16 more
    const retriesOf = (order: number) => {
      const raced = dc(order);
      raced.result = CompactResult.Success;
      let n = 0;
      while (n < 100 && raced.shouldRetry(never)) n++;
      return n;
    };
    expect([retriesOf(9), retriesOf(2)]).toEqual([4, 33]);
    expect(dc(2).first()).toBe(true); // unmovable order 2 compacts before reclaim
    // skipped (too few free pages): retried while compaction_zonelist_suitable says reclaim can help
    const skipped = dc(2);
    skipped.result = CompactResult.Skipped;
    expect([skipped.shouldRetry(() => true), skipped.shouldRetry(never), skipped.prio]).toEqual([
      true,
      false,
      CompactPriority.SyncLight,
    ]);
  });
});

describe("kcompactd (wakeup_kcompactd, kcompactd_do_work)", () => {
  it("is woken by kswapd going to sleep after an atomic order-4 wake-up, and compacts for it", () => {
    const { k } = holes("madvise");
    // no free block above order 0 at all: the kernel takes them (GFP_NOWAIT, on the fast path)
    for (let o = 8; o >= 1; o--) while (k.buddy.alloc(o, Gfp.NOWAIT, PageKind.KernelPages) >= 0);
    for (const z of k.buddy.zones) expect(z.nrFree.slice(1).every((n) => n === 0)).toBe(true);
    const before = vmstat(k);
    // GFP_ATOMIC cannot compact by itself; kswapd, woken for order 4, reclaims nothing (no swap),
    // and the node is balanced at order 0: kcompactd is woken for order 4. The loop above may have
    // woken it already, and a zone it could not help is deferred for a while (defer_compaction):
    // the atomic allocations fail until a wake-up finds the zone due again
    let pfn = -1;
    let tries = 0;
    while (pfn < 0 && tries < 200) {
      pfn = k.buddy.alloc(4, Gfp.ATOMIC, PageKind.KernelPages);
      tries++;
    }
    const after = vmstat(k);
    expect(after.compact_daemon_wake).toBeGreaterThan(before.compact_daemon_wake);
    expect(after.compact_stall).toBe(before.compact_stall); // never a direct compaction
    expect(after.pgmigrate_success).toBeGreaterThan(before.pgmigrate_success);
    expect(after.compact_daemon_migrate_scanned).toBeGreaterThan(before.compact_daemon_migrate_scanned);
    // vmlab's kcompactd runs at once: an allocation's retry finds the block it made
    expect(pfn).toBeGreaterThanOrEqual(0);
    expect(k.buddy.check()).toEqual([]);
  });

  it("is not woken for order 0, nor when every zone already has a free block of the order", () => {
    const k = new Kernel({ ramBytes: 64 * MiB });
    k.kcompactd!.wake(0, 1);
    k.kcompactd!.wake(4, 1); // a fresh machine: free blocks of every order
    expect(vmstat(k).compact_daemon_wake).toBe(0);
    expect(k.kcompactd!.maxOrder).toBe(4); // remembered for the next wake-up
  });
});

describe("pageblock skip hints (compaction_skip.ts)", () => {
  it("a failed async compaction marks what it scanned, the next passes over it; kswapd's sleep resets", () => {
    const { k } = holes("madvise");
    const marked = () => k.buddy.blockSkip.reduce((n, b) => n + b, 0);
    // an unmovable costly request that stays async (__GFP_NORETRY), kswapd left asleep
    const gfp = (Gfp.KERNEL & ~Gfp.KSWAPD_RECLAIM) | Gfp.NORETRY;
    const scannedBy = () => {
      const before = vmstat(k).compact_migrate_scanned + vmstat(k).compact_free_scanned;
      expect(k.buddy.alloc(9, gfp, PageKind.KernelPages)).toBe(-1);
      return vmstat(k).compact_migrate_scanned + vmstat(k).compact_free_scanned - before;
    };
    expect(marked()).toBe(0);
    const first = scannedBy();
    // the unmovable pageblocks it isolated from or found nothing in, the free scanner's blocks
    expect(marked()).toBeGreaterThan(0);
    expect(k.buddy.zones.some((z) => z.compactBlockskipFlush)).toBe(true); // the scanners met
    const second = scannedBy();
    expect(second).toBeLessThan(first);
    // kswapd goes to sleep on a balanced node: reset_isolation_suitable runs for the zones whose
    // scanners a direct compaction brought together (which blocks it clears: compaction_skip.test.ts)
    k.kswapd();
    expect(k.buddy.zones.every((z) => !z.compactBlockskipFlush)).toBe(true);
    expect(k.buddy.check()).toEqual([]);
  });

  it("compact_memory and SYNC_FULL direct compaction ignore the hints", () => {
    const { k } = holes("madvise");
    k.buddy.blockSkip.fill(1);
    const r = k.sysctlCompactMemory(1);
    expect(r.migrated).toBeGreaterThan(0); // every block marked, and still compacted
  });
});
