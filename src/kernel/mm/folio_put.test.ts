/**
 * A freed THP goes back as one order-9 block onto the running CPU's THP pcp
 * list (__folio_put -> free_unref_page(&folio->page, HPAGE_PMD_ORDER),
 * free_unref_folios), so the next THP allocation on that CPU takes the same
 * block (LIFO), MemFree (the buddy lists only) does not rise at the free, and
 * the list spills whole blocks to the buddy lists when its count reaches high.
 * A split THP's pages are order-0 folios: each goes to the order-0 list.
 * Linux: mm/swap.c __folio_put; mm/page_alloc.c free_unref_page, free_unref_page_commit
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { putPage } from "./memory.ts";
import { NR_PCP_LISTS, orderToPindex } from "./page_alloc_pcp.ts";
import { mmapArgs } from "./userMm.ts";

const PAGE = 4096n;
const MOVABLE = 1;
const UNMOVABLE = 0;

/** 1 GiB: DMA32's pcp high (its low watermark, ~1280 pages) holds a THP or two without a spill. */
function boot(ramMiB = 1024, cpus = 1) {
  const k = new Kernel({ ramBytes: ramMiB * 2 ** 20, cpus, thp: "always" });
  const t = k.spawn("A")!;
  return { k, t };
}

/** A 2M-aligned anonymous range of `huge` huge pages, written on `cpu` (one THP fault each). */
function hugeRange(k: Kernel, t: Task, huge: number, cpu = 0): bigint {
  k.switchTo(cpu, t);
  const r = k.mmap(t, mmapArgs((huge + 1) * (2 << 20)));
  const base = ((r + (2n << 20n) - 1n) / (2n << 20n)) * (2n << 20n);
  for (let i = 0; i < huge; i++) {
    const a = k.userAccess(cpu, t, base + BigInt(i) * (2n << 20n), Access.Write, 1);
    expect(a.ok).toBe(true);
  }
  return base;
}

function pfnOf(k: Kernel, t: Task, va: bigint): number {
  return k.userMm.leafFor(t.mm!, Number(va / PAGE))?.pfn ?? -1;
}

/** The first pfn on `cpu`'s list of `order` (of migrate type `mt`) in the zone of `pfn`, and the CPU's count. */
function pcpOf(k: Kernel, zone: number, cpu: number, order: number, mt = MOVABLE) {
  const set = k.buddy.pcp!.sets[zone]!;
  const li = cpu * NR_PCP_LISTS + orderToPindex(mt, order);
  let n = 0;
  for (let p = set.head[li]; p !== -1; p = k.pages.next[p]) n++;
  return { head: set.head[li], blocks: n, count: set.count[cpu], high: set.high[cpu], batch: set.batch[cpu] };
}

describe("freeing a transparent huge page (free_unref_page of order 9)", () => {
  it("puts the whole block on the THP pcp list: MemFree stays, the next THP fault on the CPU gets it back", () => {
    const { k, t } = boot();
    const a = hugeRange(k, t, 1);
    const head = pfnOf(k, t, a);
    expect(head % 512).toBe(0);
    expect(k.userMm.thpStats.thp_fault_alloc).toBe(1);
    const zone = k.pages.zone[head];
    const before = pcpOf(k, zone, 0, 9);
    const free0 = k.buddy.freePages();
    const pgfree0 = k.buddy.pgfree;
    const order0 = pcpOf(k, zone, 0, 0).blocks;
    const tables0 = pcpOf(k, zone, 0, 0, UNMOVABLE).blocks;
    expect(k.munmap(t, a, 2n << 20n)).toBe(0n);
    const after = pcpOf(k, zone, 0, 9);
    expect(after.head).toBe(head);
    expect(after.blocks).toBe(before.blocks + 1);
    // the deposited PTE table goes too (order 0), to the unmovable list (its pageblock's type: a
    // page table is an unmovable allocation), and nothing of the THP lands on an order-0 list
    expect(pcpOf(k, zone, 0, 0, UNMOVABLE).blocks).toBe(tables0 + 1);
    expect(pcpOf(k, zone, 0, 0).blocks).toBe(order0);
    expect(k.buddy.pgfree).toBe(pgfree0 + 513);
    expect(k.buddy.freePages()).toBe(free0); // no spill at this count
    expect(k.pages.kind[head + 511]).toBe(0); // Free, on the pcp list with its head
    expect(k.buddy.check()).toEqual([]);
    expect(checkInvariants(k)).toEqual([]);
    // LIFO: the next THP on this CPU takes the same block, MemFree again unchanged
    const b = hugeRange(k, t, 1);
    expect(pfnOf(k, t, b)).toBe(head);
    expect(k.buddy.freePages()).toBeLessThanOrEqual(free0);
    expect(pcpOf(k, zone, 0, 9).blocks).toBe(before.blocks);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("frees a THP at exit whole, on the CPU the exit runs on", () => {
    const { k, t } = boot(2048, 2);
    const a = hugeRange(k, t, 1, 1);
    const head = pfnOf(k, t, a);
    const zone = k.pages.zone[head];
    const on0 = pcpOf(k, zone, 0, 9).blocks;
    const on1 = pcpOf(k, zone, 1, 9).blocks;
    k.switchTo(1, t);
    k.exit(t, "done");
    const l1 = pcpOf(k, zone, 1, 9);
    expect(pcpOf(k, zone, 0, 9).blocks).toBe(on0);
    expect(l1.blocks).toBe(on1 + 1);
    expect(l1.head).toBe(head);
    expect(k.buddy.check()).toEqual([]);
  });

  it("spills whole blocks to the buddy lists once the count reaches high (nr_pcp_free)", () => {
    const { k, t } = boot(1024);
    const n = 40;
    const a = hugeRange(k, t, n);
    const heads: number[] = [];
    for (let i = 0; i < n; i++) heads.push(pfnOf(k, t, a + BigInt(i) * (2n << 20n)));
    const zone = k.pages.zone[heads[0]];
    const z = k.buddy.zones[zone];
    let spills = 0;
    for (let i = 0; i < n; i++) {
      const pre = pcpOf(k, zone, 0, 9);
      const free0 = z.freePages;
      expect(k.munmap(t, a + BigInt(i) * (2n << 20n), 2n << 20n)).toBe(0n);
      const post = pcpOf(k, zone, 0, 9);
      const rose = z.freePages - free0;
      // what left the pcp lists went to the buddy lists: the pcp count and MemFree move together
      expect(post.count + z.freePages).toBe(pre.count + free0 + 513);
      if (rose > 0) {
        spills++;
        // the spill came when the count reached high; at least a batch went, and the pcp list
        // keeps the hottest blocks: the one just freed is still at its head
        expect(pre.count + 513).toBeGreaterThanOrEqual(Math.min(pre.high, post.high));
        expect(rose).toBeGreaterThanOrEqual(post.batch);
        expect(post.blocks).toBeLessThanOrEqual(pre.blocks);
      } else expect(post.blocks).toBe(pre.blocks + 1);
      expect(post.count).toBeLessThan(Math.max(post.high, 512 + post.batch));
    }
    expect(spills).toBeGreaterThan(0);
    expect(k.buddy.check()).toEqual([]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("keeps a partially unmapped THP whole (deferred split) and frees it whole, leaving the queue, when the rest goes", () => {
    const { k, t } = boot();
    const a = hugeRange(k, t, 1);
    const head = pfnOf(k, t, a);
    const zone = k.pages.zone[head];
    const thp0 = pcpOf(k, zone, 0, 9).blocks;
    const pgfree0 = k.buddy.pgfree;
    const q = k.userMm.env.deferredSplit!;
    // a partial munmap splits the PMD, not the folio: the page unmapped stays allocated with it,
    // and the folio is queued partially mapped (deferred_split_folio)
    expect(k.munmap(t, a + 5n * PAGE, PAGE)).toBe(0n);
    expect(k.buddy.pgfree).toBe(pgfree0);
    expect(k.pages.kind[head + 5]).not.toBe(0);
    expect(q.queue.get(head)).toBe(true);
    expect(k.userMm.thpStats.thp_deferred_split_page).toBe(1);
    // the rest: the folio's last page frees it as one order-9 block, and it leaves the queue
    expect(k.munmap(t, a, 2n << 20n)).toBe(0n);
    expect(k.buddy.pgfree).toBe(pgfree0 + 512 + 1); // and the PTE table
    expect(pcpOf(k, zone, 0, 9).blocks).toBe(thp0 + 1);
    expect(q.queue.has(head)).toBe(false);
    expect(q.nrPartiallyMapped).toBe(0);
    expect(k.userMm.thpStats.thp_split_page).toBe(0);
    expect(k.buddy.check()).toEqual([]);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("reclaim of a large page-cache folio frees it whole (free_unref_folios)", () => {
  for (const [kib, order] of [
    [2048, 9],
    [16, 2],
    [128, 5],
  ] as const) {
    const pcpList = order <= 3 || order === 9;
    it(`folio=${kib}K: blocks of order ${order}, ${pcpList ? "on the pcp list of that order" : "to the buddy lists (no pcp list)"}`, () => {
      const k = new Kernel({ ramBytes: 2 ** 30, cpus: 1 });
      const f = k.createFile("f", 2 << 20, "disk", true, kib << 10);
      const heads = new Set([...f.folios.keys()].map((i) => f.cache.get(i)!));
      const head = f.cache.get(0)!;
      const zone = k.pages.zone[head];
      const z = k.buddy.zones[zone];
      const pre = pcpOf(k, zone, 0, pcpList ? order : 0);
      const order0 = pcpOf(k, zone, 0, 0).blocks;
      const free0 = z.freePages;
      const pgfree0 = k.buddy.pgfree;
      expect(k.reclaim(1)).toBeGreaterThanOrEqual(1);
      const dropped = 512 - f.cache.size;
      const nr = 1 << order;
      expect(dropped % nr).toBe(0);
      expect(dropped).toBeGreaterThan(0);
      expect(k.buddy.pgfree - pgfree0).toBe(dropped);
      expect(pcpOf(k, zone, 0, 0).blocks).toBe(order0); // no page of a folio on the order-0 list
      if (pcpList) {
        const post = pcpOf(k, zone, 0, order);
        expect(post.blocks).toBe(pre.blocks + dropped / nr);
        expect(heads.has(post.head)).toBe(true);
        expect(z.freePages).toBe(free0);
      } else expect(z.freePages - free0).toBe(dropped); // free_one_page: straight to the buddy lists
      expect(k.buddy.check()).toEqual([]);
      expect(checkInvariants(k)).toEqual([]);
    });
  }
});

describe("truncate of a large page-cache folio wholly past the new end", () => {
  it("frees it as one block (folio_batch_release); the folio holding the new end is split, its pages order-0", () => {
    const k = new Kernel({ ramBytes: 2 ** 30, cpus: 1 });
    const f = k.createFile("f", 4 << 20, "disk", true, 2 << 20);
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const second = f.cache.get(512)!;
    const zone = k.pages.zone[second];
    const thp = pcpOf(k, zone, 0, 9).blocks;
    const order0 = pcpOf(k, zone, 0, 0).blocks;
    const free0 = k.buddy.zones[zone].freePages;
    expect(k.ftruncate(t, f, 2n << 20n)).toBe(0n);
    const post = pcpOf(k, zone, 0, 9);
    expect(post.blocks).toBe(thp + 1);
    expect(post.head).toBe(second);
    expect(pcpOf(k, zone, 0, 0).blocks).toBe(order0);
    expect(k.buddy.zones[zone].freePages).toBe(free0);
    // the new end inside the first folio: split, the pages past the end freed one by one
    expect(k.ftruncate(t, f, 1n << 20n)).toBe(0n);
    expect(pcpOf(k, zone, 0, 9).blocks).toBe(thp + 1);
    expect(f.cache.size).toBe(256);
    expect(k.buddy.check()).toEqual([]);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("a lazy-free THP discarded by reclaim (MADV_FREE, then memory pressure)", () => {
  it("goes back whole, as one order-9 block on the THP pcp list", () => {
    const { k, t } = boot();
    const a = hugeRange(k, t, 1);
    const head = pfnOf(k, t, a);
    const zone = k.pages.zone[head];
    const thp = pcpOf(k, zone, 0, 9).blocks;
    expect(k.madvise(t, a, 2n << 20n, "free")).toBe(0n);
    const lazy0 = k.vmscan.stats.pglazyfreed;
    k.reclaim(512);
    expect(k.vmscan.stats.pglazyfreed - lazy0).toBe(512);
    const post = pcpOf(k, zone, 0, 9);
    expect(post.blocks).toBe(thp + 1);
    expect(post.head).toBe(head);
    expect(k.buddy.check()).toEqual([]);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("a THP whose head is still held when its mappings go", () => {
  it("stays allocated, all 512 pages, until the last reference goes; then the block goes whole", () => {
    const { k, t } = boot();
    const a = hugeRange(k, t, 1);
    const head = pfnOf(k, t, a);
    const zone = k.pages.zone[head];
    const thp = pcpOf(k, zone, 0, 9).blocks;
    k.pages.refcount[head]++; // a reference of the folio's (folio_get), as a batch or a pin holds
    const pgfree0 = k.buddy.pgfree;
    expect(k.munmap(t, a, 2n << 20n)).toBe(0n);
    expect(k.buddy.pgfree).toBe(pgfree0 + 1); // only the deposited table
    expect(k.pages.refcount[head + 1]).toBe(0);
    expect(k.pages.kind[head + 511]).toBe(k.pages.kind[head]); // still the folio's, not free
    expect(pcpOf(k, zone, 0, 9).blocks).toBe(thp);
    expect(k.buddy.check()).toEqual([]);
    putPage(k.userMm, head); // folio_put of that reference
    expect(k.buddy.pgfree).toBe(pgfree0 + 513);
    const post = pcpOf(k, zone, 0, 9);
    expect(post.blocks).toBe(thp + 1);
    expect(post.head).toBe(head);
    expect(k.buddy.check()).toEqual([]);
    expect(checkInvariants(k)).toEqual([]);
  });
});
