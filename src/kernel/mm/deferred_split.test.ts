/**
 * The deferred split of anonymous THPs and the deferred_split shrinker
 * (Linux 6.12 mm/huge_memory.c deferred_split_folio, deferred_split_scan,
 * thp_underused; mm/migrate.c try_to_map_unused_to_zeropage): a partial
 * unmap keeps the folio's frames until the shrinker splits it; a folio
 * freed whole leaves the queue; a THP unmapped whole is freed at once; the
 * underused-THP path splits a mostly zero THP and maps its zero pages to the
 * zero page.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { mmapArgs } from "./userMm.ts";

const PAGE = 4096n;
const HUGE = 2n << 20n;

function boot(extra: { thpMaxPtesNone?: number; thpShrinkUnderused?: boolean } = {}) {
  const k = new Kernel({ ramBytes: 256 * 2 ** 20, cpus: 1, thp: "always", ...extra });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  return { k, t, q: k.userMm.env.deferredSplit! };
}

/** A 2M-aligned anonymous range of `huge` huge pages; `written` pages of each written (value 7), the rest zero. */
function hugeRange(k: Kernel, t: Task, huge: number, written = 512): bigint {
  const r = k.mmap(t, mmapArgs((huge + 1) * Number(HUGE)));
  const base = ((r + HUGE - 1n) / HUGE) * HUGE;
  for (let h = 0; h < huge; h++)
    for (let i = 0; i < written; i++)
      expect(k.userAccess(0, t, base + BigInt(h) * HUGE + BigInt(i) * PAGE, Access.Write, 7).ok).toBe(true);
  return base;
}

function leaf(k: Kernel, t: Task, va: bigint) {
  return k.userMm.leafFor(t.mm!, Number(va / PAGE));
}

describe("deferred split of a partially unmapped THP", () => {
  it("keeps the unmapped pages allocated until the shrinker splits the folio, which frees them", () => {
    const { k, t, q } = boot();
    const a = hugeRange(k, t, 1);
    const head = leaf(k, t, a)!.pfn;
    // 6.12 queues every new anonymous THP (for the underused-THP shrinker), not partially mapped
    expect(q.queue.get(head)).toBe(false);
    const free0 = k.buddy.freePages();
    const rss0 = t.mm!.rssAnon;
    expect(k.munmap(t, a + HUGE / 2n, HUGE / 2n)).toBe(0n);
    const st = k.userMm.thpStats;
    expect([st.thp_split_pmd, st.thp_deferred_split_page, st.thp_split_page]).toEqual([1, 1, 0]);
    expect(q.queue.get(head)).toBe(true);
    expect(q.nrPartiallyMapped).toBe(1);
    expect(t.mm!.rssAnon).toBe(rss0 - 256); // RSS halves
    // the 256 frames stay with the folio (only the PTE table went back... none: it was deposited)
    expect(k.buddy.freePages()).toBe(free0);
    expect(k.pages.kind[head + 300]).toBe(k.pages.kind[head]);
    expect(checkInvariants(k)).toEqual([]);
    // the shrinker (shrink_slab at priority 0: the one folio is scanned) splits it
    expect(k.vmscan.shrinkSlab(0)).toBe(1);
    expect([st.thp_split_page, st.thp_split_page_failed]).toEqual([1, 0]);
    expect(q.splitQueueLen).toBe(0);
    expect(q.nrPartiallyMapped).toBe(0);
    expect(k.buddy.freePages()).toBeGreaterThanOrEqual(free0 + 256);
    // the mapped half is untouched (written: not zero)
    for (let i = 0; i < 256; i++) expect(leaf(k, t, a + BigInt(i) * PAGE)!.pfn).toBe(head + i);
    expect(t.mm!.rssAnon).toBe(rss0 - 256);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("runs the shrinker from reclaim (shrink_slab after each priority's LRU scan)", () => {
    const { k, t, q } = boot();
    const a = hugeRange(k, t, 1);
    const head = leaf(k, t, a)!.pfn;
    expect(k.munmap(t, a, PAGE)).toBe(0n);
    expect(q.queue.get(head)).toBe(true);
    // no swap: nothing else to reclaim, so reclaim goes down to priority 0, where the shrinker
    // scans the one queued folio
    k.reclaim(1 << 20);
    expect(k.userMm.thpStats.thp_split_page).toBe(1);
    expect(q.splitQueueLen).toBe(0);
    expect(k.pages.kind[head]).toBe(0); // the unmapped page is free
    expect(checkInvariants(k)).toEqual([]);
  });

  it("echo 2 > drop_caches runs the shrinker too (drop_slab: shrink_slab at priority 0)", () => {
    const { k, t, q } = boot();
    const a = hugeRange(k, t, 1);
    const head = leaf(k, t, a)!.pfn;
    expect(k.munmap(t, a + HUGE / 2n, HUGE / 2n)).toBe(0n);
    expect(k.dropCaches(1).ret).toBe(0n); // the page cache only: the queue stays
    expect(q.queue.get(head)).toBe(true);
    expect(k.dropCaches(2).ret).toBe(0n);
    expect(q.splitQueueLen).toBe(0);
    expect(k.userMm.thpStats.thp_split_page).toBe(1);
    expect(k.pages.kind[head + 300]).toBe(0); // freed
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a queued folio freed whole leaves the queue (folio_undo_large_rmappable)", () => {
    const { k, t, q } = boot();
    const a = hugeRange(k, t, 1);
    const head = leaf(k, t, a)!.pfn;
    expect(k.munmap(t, a + 10n * PAGE, PAGE)).toBe(0n);
    expect(q.queue.get(head)).toBe(true);
    const free0 = k.buddy.freePages();
    expect(k.munmap(t, a, HUGE)).toBe(0n);
    expect(q.queue.has(head)).toBe(false);
    expect(q.nrPartiallyMapped).toBe(0);
    expect(k.userMm.thpStats.thp_split_page).toBe(0);
    expect(k.buddy.freePages()).toBeGreaterThanOrEqual(free0 + 512);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a THP unmapped whole is freed at once, never partially mapped", () => {
    const { k, t, q } = boot();
    const a = hugeRange(k, t, 2);
    const free0 = k.buddy.freePages();
    expect(k.munmap(t, a, 2n * HUGE)).toBe(0n);
    expect(k.userMm.thpStats.thp_deferred_split_page).toBe(0);
    expect(q.splitQueueLen).toBe(0);
    expect(k.buddy.freePages()).toBeGreaterThanOrEqual(free0 + 1024);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("the underused-THP shrinker (6.12)", () => {
  it("splits a fully mapped THP with more than max_ptes_none zero pages and maps those to the zero page", () => {
    const { k, t, q } = boot({ thpMaxPtesNone: 100 });
    const a = hugeRange(k, t, 1, 10); // 10 pages written, 502 zero
    const head = leaf(k, t, a)!.pfn;
    expect(q.queue.get(head)).toBe(false);
    const free0 = k.buddy.freePages();
    expect(k.vmscan.shrinkSlab(0)).toBe(1);
    const st = k.userMm.thpStats;
    expect([st.thp_underused_split_page, st.thp_split_page, st.thp_split_pmd]).toEqual([1, 1, 1]);
    expect(t.mm!.rssAnon).toBe(10);
    expect(k.buddy.freePages()).toBeGreaterThanOrEqual(free0 + 502);
    const zero = k.userMm.env.zeroPfn;
    for (let i = 0; i < 512; i++) {
      const l = leaf(k, t, a + BigInt(i) * PAGE)!;
      expect([l.level, l.pfn]).toEqual([0, i < 10 ? head + i : zero]);
    }
    // a read of a zero page gives 0, a write faults a new page (copy-on-write of the zero page)
    const r = k.userAccess(0, t, a + 20n * PAGE, Access.Read);
    expect(r.ok && r.value).toBe(0);
    expect(k.userAccess(0, t, a + 20n * PAGE, Access.Write, 3).ok).toBe(true);
    expect(t.mm!.rssAnon).toBe(11);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("with the default max_ptes_none (511) takes a fully mapped THP off the queue unsplit", () => {
    const { k, t, q } = boot();
    const a = hugeRange(k, t, 1, 1);
    const head = leaf(k, t, a)!.pfn;
    expect(k.vmscan.shrinkSlab(0)).toBe(0);
    expect(q.queue.has(head)).toBe(false);
    expect(k.userMm.thpStats.thp_split_page).toBe(0);
    expect(leaf(k, t, a)!.level).toBeGreaterThan(0); // still PMD-mapped
  });

  it("shrink_underused off: a new THP is not queued", () => {
    const { k, t, q } = boot({ thpShrinkUnderused: false, thpMaxPtesNone: 0 });
    hugeRange(k, t, 1, 1);
    expect(q.splitQueueLen).toBe(0);
  });

  it("leaves a fully mapped THP with enough filled pages", () => {
    const { k, t, q } = boot({ thpMaxPtesNone: 100 });
    const a = hugeRange(k, t, 1, 450); // 62 zero pages: not more than 100
    expect(k.vmscan.shrinkSlab(0)).toBe(0);
    expect(q.splitQueueLen).toBe(0);
    expect(k.userMm.thpStats.thp_underused_split_page).toBe(0);
    expect(leaf(k, t, a)!.level).toBeGreaterThan(0);
  });
});
