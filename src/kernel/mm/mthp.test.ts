/**
 * Anonymous mTHP (mm/mthp.ts; Linux 6.12 mm/memory.c alloc_anon_folio,
 * do_anonymous_page; mm/rmap.c __folio_remove_rmap; mm/huge_memory.c
 * deferred_split_folio, split_huge_page_to_list_to_order): on x86-64 and
 * arm64, a write fault in a VMA whose sizes are enabled maps a whole folio
 * by PTEs; populated PTEs and the VMA's edges make it fall back; a partial
 * unmap queues the folio for the deferred split; fork shares it and a write
 * copies one page while the child maps any of it, reuses the page in place
 * once the parent maps it alone (6.15+'s __wp_can_reuse_large_anon_folio, as
 * the host's 6.18 does); MADV_PAGEOUT swaps it out whole; the counters follow.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { K64, region, write } from "../mm.testkit.ts";
import { checkInvariants } from "../view/invariants.ts";
import { compoundOf } from "../view/pageTypes.ts";

const PAGE = 4096n;

function boot(arch: "x86_64" | "arm64", thp: "never" | "madvise" | "always" = "never") {
  const k = new Kernel({ arch, ramBytes: 256 * 2 ** 20, cpus: 1, thp, swapBytes: 64 * 2 ** 20 });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  return { k, t, m: k.userMm.env.mthp!, q: k.userMm.env.deferredSplit! };
}

function read(k: Kernel, t: Task, va: bigint): number {
  const r = k.userAccess(0, t, va, Access.Read);
  return r.ok ? r.value : -1;
}

/** The frame a present PTE maps at va, or -1 (none, or a swap entry). */
function pfnAt(k: Kernel, t: Task, va: bigint): number {
  const l = k.userMm.leafFor(t.mm!, Number(va / PAGE));
  return l !== null && k.userMm.env.pgtable.present(l.hi, l.lo) ? l.pfn : -1;
}

for (const arch of ["x86_64", "arm64"] as const)
  describe(`anonymous mTHP on ${arch}`, () => {
    it("sizes default to never: a write maps one page", () => {
      const { k, t, m } = boot(arch);
      const a = region(k, t, K64);
      write(k, t, a);
      expect(pfnAt(k, t, a + PAGE)).toBe(-1);
      expect(m.heads.size).toBe(0);
    });

    it("a 64K write fault maps 16 PTEs to one folio, counted in RSS and the stats", () => {
      const { k, t, m } = boot(arch);
      expect(k.mthpSet(64, "always")).toBe(true);
      const a = region(k, t, 2n * K64);
      const rss0 = t.mm!.rssAnon;
      write(k, t, a + 5n * PAGE);
      const head = pfnAt(k, t, a);
      expect(head % 16).toBe(0);
      for (let i = 0; i < 16; i++) {
        expect(pfnAt(k, t, a + BigInt(i) * PAGE)).toBe(head + i);
        expect(compoundOf(k, head + i)).toEqual({ head, order: 4 });
      }
      expect(pfnAt(k, t, a + K64)).toBe(-1); // the next block is not touched
      expect(t.mm!.rssAnon).toBe(rss0 + 16);
      expect(m.stats[4].anon_fault_alloc).toBe(1);
      expect(m.nrAnon(4)).toBe(1);
      expect(read(k, t, a + 5n * PAGE)).toBe(7);
      expect(read(k, t, a + 6n * PAGE)).toBe(0);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("a populated PTE in the block drops that order: the next enabled order, else order 0", () => {
      const { k, t, m } = boot(arch);
      const a = region(k, t, K64);
      write(k, t, a); // order 0 while the sizes are never
      expect(k.mthpSet(64, "always")).toBe(true);
      expect(k.mthpSet(16, "always")).toBe(true);
      write(k, t, a + 9n * PAGE); // 64K block has a PTE; 16K block [8,12) is empty
      const h = pfnAt(k, t, a + 8n * PAGE);
      expect(compoundOf(k, h)).toEqual({ head: h, order: 2 });
      expect(m.stats[2].anon_fault_alloc).toBe(1);
      expect(m.stats[4].anon_fault_alloc).toBe(0);
      expect(m.stats[4].anon_fault_fallback).toBe(0); // dropped by pte_range_none, not by the allocation
      write(k, t, a + 1n * PAGE); // 16K block [0,4) has a PTE: order 0
      expect(compoundOf(k, pfnAt(k, t, a + PAGE)).order).toBe(0);
      expect(pfnAt(k, t, a + 2n * PAGE)).toBe(-1);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("a block crossing the VMA's edge is not suitable (thp_vma_suitable_orders)", () => {
      const { k, t, m } = boot(arch);
      expect(k.mthpSet(64, "always")).toBe(true);
      const a = region(k, t, K64);
      expect(k.munmap(t, a + K64 - PAGE, PAGE)).toBe(0n); // the VMA now ends 4K short of the block
      write(k, t, a);
      expect(m.heads.size).toBe(0);
      expect(pfnAt(k, t, a + PAGE)).toBe(-1);
    });

    it("inherit follows the top-level enabled; madvise needs MADV_HUGEPAGE", () => {
      const { k, t, m } = boot(arch, "madvise");
      expect(k.mthpSet(64, "inherit")).toBe(true);
      const a = region(k, t, 2n * K64);
      write(k, t, a);
      expect(m.heads.size).toBe(0);
      expect(k.madvise(t, a + K64, K64, "hugepage")).toBe(0n);
      write(k, t, a + K64);
      expect(m.nrAnon(4)).toBe(1);
      expect(k.mthpSet(48, "always")).toBe(false); // not a power of two
    });

    it("a partial munmap queues the folio partially mapped; the shrinker splits it and frees the rest", () => {
      const { k, t, m, q } = boot(arch);
      expect(k.mthpSet(64, "always")).toBe(true);
      const a = region(k, t, K64);
      write(k, t, a);
      const head = pfnAt(k, t, a);
      const free0 = k.buddy.freePages();
      const rss0 = t.mm!.rssAnon;
      expect(k.munmap(t, a + 8n * PAGE, 8n * PAGE)).toBe(0n);
      expect(t.mm!.rssAnon).toBe(rss0 - 8);
      expect(q.queue.get(head)).toBe(true);
      expect(m.stats[4].split_deferred).toBe(1);
      expect(m.stats[4].nr_anon_partially_mapped).toBe(1);
      expect(k.buddy.freePages()).toBe(free0); // the 8 pages stay with the folio
      expect(checkInvariants(k)).toEqual([]);
      k.vmscan.shrinkSlab(0);
      expect(m.stats[4].split).toBe(1);
      expect(m.stats[4].nr_anon_partially_mapped).toBe(0);
      expect(m.nrAnon(4)).toBe(0);
      expect(q.queue.has(head)).toBe(false);
      // the unmapped pages are freed, and remap_page(RMP_USE_SHARED_ZEROPAGE) maps the mapped
      // zero-filled ones (1..7) to the zero page, freeing them too
      for (let i = 1; i < 16; i++) expect(k.pages.kind[head + i]).not.toBe(k.pages.kind[head]);
      expect(pfnAt(k, t, a)).toBe(head);
      expect(pfnAt(k, t, a + PAGE)).toBe(k.userMm.env.zeroPfn);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("MADV_DONTNEED of part queues the folio; over the memory limit the charge falls back to 4K", () => {
      const { k, t, m, q } = boot(arch);
      expect(k.mthpSet(64, "always")).toBe(true);
      const a = region(k, t, K64);
      write(k, t, a);
      const head = pfnAt(k, t, a);
      expect(k.madvise(t, a, 4n * PAGE, "dontneed")).toBe(0n);
      expect(q.queue.get(head)).toBe(true);
      expect(m.stats[4].split_deferred).toBe(1);
      expect(pfnAt(k, t, a + 4n * PAGE)).toBe(head + 4);
      expect(checkInvariants(k)).toEqual([]);
      // a memory limit of 8 pages (RSS 0 so far): a 64K folio's charge fails after a reclaim that
      // finds nothing (anon_fault_fallback_charge, then anon_fault_fallback), one page is charged
      const limited = new Kernel({
        arch,
        ramBytes: 256 * 2 ** 20,
        cpus: 1,
        thp: "never",
        userMemoryPages: 8,
      });
      const u = limited.spawn("L")!;
      limited.switchTo(0, u);
      expect(limited.mthpSet(64, "always")).toBe(true);
      const b = region(limited, u, K64);
      write(limited, u, b);
      const st = limited.userMm.env.mthp!.stats[4];
      expect([st.anon_fault_fallback_charge, st.anon_fault_fallback, st.anon_fault_alloc]).toEqual([1, 1, 0]);
      expect(pfnAt(limited, u, b + PAGE)).toBe(-1);
      expect(checkInvariants(limited)).toEqual([]);
    });

    it("a folio unmapped whole goes back as one block, unqueued", () => {
      const { k, t, m } = boot(arch);
      expect(k.mthpSet(64, "always")).toBe(true);
      const a = region(k, t, K64);
      const free0 = k.buddy.freePages();
      write(k, t, a);
      expect(k.munmap(t, a, K64)).toBe(0n);
      expect(m.heads.size).toBe(0);
      expect(m.stats[4].split_deferred).toBe(0);
      expect(k.buddy.freePages()).toBeGreaterThanOrEqual(free0);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("fork shares the folio; a write after fork copies one page", () => {
      const { k, t, m } = boot(arch);
      expect(k.mthpSet(64, "always")).toBe(true);
      const a = region(k, t, K64);
      for (let i = 0n; i < 16n; i++) write(k, t, a + i * PAGE, Number(i) + 1);
      const head = pfnAt(k, t, a);
      const c = k.fork(t, "B")!;
      expect(k.pages.mapcount[head + 3]).toBe(2);
      k.switchTo(0, c);
      write(k, c, a + 3n * PAGE, 99);
      expect(pfnAt(k, c, a + 3n * PAGE)).not.toBe(head + 3);
      expect(pfnAt(k, c, a + 4n * PAGE)).toBe(head + 4);
      expect(k.pages.mapcount[head + 3]).toBe(1);
      expect(m.nrAnon(4)).toBe(1);
      k.switchTo(0, t);
      expect(read(k, t, a + 3n * PAGE)).toBe(4);
      // the parent's write copies too: the page lost PageAnonExclusive at fork and is in a large folio
      write(k, t, a + 5n * PAGE, 50);
      expect(pfnAt(k, t, a + 5n * PAGE)).not.toBe(head + 5);
      expect(checkInvariants(k)).toEqual([]);
    });

    /** A 64K folio written whole, then forked: the parent, the child, the folio's head and start. */
    function forked() {
      const { k, t, m } = boot(arch);
      expect(k.mthpSet(64, "always")).toBe(true);
      const a = region(k, t, K64);
      for (let i = 0n; i < 16n; i++) write(k, t, a + i * PAGE, Number(i) + 1);
      const head = pfnAt(k, t, a);
      const c = k.fork(t, "B")!;
      return { k, t, m, c, a, head };
    }

    it("the child exits: the parent's writes reuse the folio's pages in place, one PTE each", () => {
      const { k, t, m, c, a, head } = forked();
      k.exit(c, "done");
      k.switchTo(0, t);
      const rss = t.mm!.rssAnon;
      write(k, t, a + 3n * PAGE, 90);
      expect(pfnAt(k, t, a + 3n * PAGE)).toBe(head + 3);
      expect(read(k, t, a + 3n * PAGE)).toBe(90);
      write(k, t, a + 4n * PAGE, 91);
      expect(pfnAt(k, t, a + 4n * PAGE)).toBe(head + 4);
      expect(t.mm!.rssAnon).toBe(rss);
      expect(m.nrAnon(4)).toBe(1);
      // wp_page_reuse makes the faulting PTE alone writable: the next page still faults
      const l = k.userMm.leafFor(t.mm!, Number((a + 5n * PAGE) / PAGE))!;
      expect(k.userMm.env.pgtable.write(l.hi, l.lo)).toBe(false);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("the child unmaps its whole copy: the parent reuses; half of it: the parent copies", () => {
      const { k, t, c, a, head } = forked();
      k.switchTo(0, c);
      expect(k.munmap(c, a, K64 / 2n)).toBe(0n);
      k.switchTo(0, t);
      write(k, t, a + 10n * PAGE, 90);
      expect(pfnAt(k, t, a + 10n * PAGE)).not.toBe(head + 10); // the child still maps pages 8-15
      k.switchTo(0, c);
      expect(k.munmap(c, a + K64 / 2n, K64 / 2n)).toBe(0n);
      k.switchTo(0, t);
      write(k, t, a + 11n * PAGE, 91);
      expect(pfnAt(k, t, a + 11n * PAGE)).toBe(head + 11);
      expect(read(k, t, a + 10n * PAGE)).toBe(90);
      expect(read(k, t, a + 11n * PAGE)).toBe(91);
      expect(checkInvariants(k)).toEqual([]);
    });

    it("both write (each copies); after the child's exit the parent reuses; its last mapped page is copied", () => {
      const { k, t, c, a, head } = forked();
      write(k, t, a + 3n * PAGE, 90);
      expect(pfnAt(k, t, a + 3n * PAGE)).not.toBe(head + 3);
      k.switchTo(0, c);
      write(k, c, a + 3n * PAGE, 80);
      expect(pfnAt(k, c, a + 3n * PAGE)).not.toBe(head + 3);
      k.exit(c, "done");
      k.switchTo(0, t);
      write(k, t, a + 5n * PAGE, 92);
      expect(pfnAt(k, t, a + 5n * PAGE)).toBe(head + 5);
      // folio_large_mapcount <= 1: the folio's only mapped page is copied, the folio freed
      const t2 = forked();
      expect(t2.k.munmap(t2.t, t2.a + PAGE, K64 - PAGE)).toBe(0n);
      t2.k.exit(t2.c, "done");
      t2.k.switchTo(0, t2.t);
      write(t2.k, t2.t, t2.a, 93);
      expect(pfnAt(t2.k, t2.t, t2.a)).not.toBe(t2.head);
      expect(t2.m.nrAnon(4)).toBe(0);
      expect(checkInvariants(t2.k)).toEqual([]);
    });

    it("MADV_PAGEOUT swaps the folio out whole (mthp swpout; more in mthp_swap.test.ts)", () => {
      const { k, t, m } = boot(arch);
      expect(k.mthpSet(64, "always")).toBe(true);
      const a = region(k, t, K64);
      for (let i = 0n; i < 16n; i++) write(k, t, a + i * PAGE, 5);
      expect(k.madvise(t, a, K64, "pageout")).toBe(0n);
      expect([m.stats[4].swpout, m.stats[4].swpout_fallback, m.stats[4].split]).toEqual([1, 0, 0]);
      expect(m.nrAnon(4)).toBe(0);
      expect(t.mm!.swapEnts).toBe(16);
      expect(read(k, t, a + 7n * PAGE)).toBe(5); // swap-in: order 0
      expect(m.nrAnon(4)).toBe(0);
      expect(checkInvariants(k)).toEqual([]);
    });
  });
