/**
 * The HugeTLB pools (struct hstate, one per huge page size): folios taken
 * from the buddy allocator (a gigantic size's from alloc_contig_pages)
 * into a pool, surplus folios, and a folio's last reference. Kept apart
 * from mm/hugetlb.ts (reservations, faults, mappings), which uses these.
 * Linux: mm/hugetlb.c (alloc_fresh_hugetlb_folio, alloc_gigantic_folio,
 * set_max_huge_pages, alloc_surplus_hugetlb_folio, free_huge_folio).
 */
import { ModelBug } from "../../base/assert.ts";
import { Gfp } from "./gfp.ts";
import type { HState } from "./hugetlb_vma.ts";
import type { MmContext } from "./internal.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { allocContigPages, freeContigRange } from "./page_alloc_contig.ts";
import type { Vma } from "./vma.ts";

/** The default pool of `ctx` (default_hstate), which every HugeTLB path needs. */
export function hstateOf(ctx: MmContext): HState {
  const h = ctx.hstate;
  if (h === undefined) throw new ModelBug("hugetlb: this context has no hstate");
  return h;
}

/** folio_hstate: the pool a folio in use belongs to (size_to_hstate(folio_size)). */
export function folioHstate(ctx: MmContext, head: number): HState {
  const hs = ctx.hstates;
  if (hs !== undefined && hs.length > 1) for (const h of hs) if (h.active.has(head)) return h;
  return hstateOf(ctx);
}

/** hstate_vma: the pool of a HugeTLB VMA's size. */
export function hstateVma(vma: Vma): HState {
  const hv = vma.htlb;
  if (hv === null) throw new ModelBug("hugetlb: a VMA without its hugetlbfs file");
  return hv.h;
}

// ---- the pool ----

/**
 * alloc_fresh_hugetlb_folio: a folio of huge_page_order from the buddy
 * allocator (htlb_alloc_mask: GFP_HIGHUSER_MOVABLE, the size being migratable:
 * hugepage_movable_supported; alloc_buddy_hugetlb_folio's alloc_try_hard
 * adds __GFP_RETRY_MAYFAIL, and __GFP_NOWARN: reclaim and compaction retry
 * with rising priority, the OOM killer never runs); -1 when no block that
 * large could be had. Its frames are of kind Hugetlb, unreferenced.
 * (node_alloc_noretry, which stops trying hard on a node after a failure
 * within one write, never matters on vmlab's one node: the first failure
 * ends the write's loop.)
 * Linux: mm/hugetlb.c alloc_fresh_hugetlb_folio, alloc_buddy_hugetlb_folio
 */
function allocFreshFolio(ctx: MmContext, h: HState): number {
  const env = ctx.env;
  const head = h.gigantic
    ? allocContigPages(env.buddy, h.nrPages, PageKind.Hugetlb) // alloc_gigantic_folio
    : env.buddy.alloc(h.order, Gfp.HIGHUSER_MOVABLE | Gfp.RETRY_MAYFAIL | Gfp.NOWARN, PageKind.Hugetlb);
  if (head < 0) {
    h.stats.poolAllocFail++;
    return -1;
  }
  for (let i = 0; i < h.nrPages; i++) {
    env.pages.refcount[head + i] = 0;
    env.pages.mapcount[head + i] = 0;
    env.pages.flags[head + i] = 0;
  }
  h.stats.poolAlloc++;
  return head;
}

/**
 * update_and_free_hugetlb_folio: the folio's block goes back to the buddy
 * allocator; a gigantic folio's range in MAX_PAGE_ORDER blocks
 * (free_contig_range: hugetlb_free_folio).
 */
function freeToBuddy(ctx: MmContext, h: HState, head: number): void {
  if (h.gigantic) {
    freeContigRange(ctx.env.buddy, head, h.nrPages);
    h.stats.poolFree++;
    return;
  }
  const err = ctx.env.buddy.free(head, h.order);
  if (err !== null) throw new ModelBug(`hugetlb: freeing folio ${head}: ${err}`);
  h.stats.poolFree++;
}

/**
 * remove_pool_hugetlb_folio: takes the free list's head out of the pool
 * and gives it back to the buddy allocator (nr_huge_pages and
 * free_huge_pages drop, and surplus_huge_pages when `surplus`); false
 * when the list is empty.
 */
export function removePoolFolio(ctx: MmContext, h: HState, surplus: boolean): boolean {
  if (surplus && h.surplusHugePages === 0) return false;
  const head = h.freeList.pop();
  if (head === undefined) return false;
  h.freeHugePages--;
  h.nrHugePages--;
  if (surplus) h.surplusHugePages--;
  freeToBuddy(ctx, h, head);
  return true;
}

/**
 * echo N > /proc/sys/vm/nr_hugepages: surplus folios become persistent
 * first, then new folios come from the buddy allocator until there are N
 * or no block of huge_page_order is left (the pool then stays smaller: the
 * write succeeds, and nr_hugepages reads what was had). Shrinking frees
 * free folios that no reservation needs, down to N; folios in use or
 * reserved beyond it become surplus, freed as they are let go. Returns
 * nr_hugepages after the write.
 * Linux: mm/hugetlb.c set_max_huge_pages (adjust_pool_surplus, alloc_pool_huge_folio,
 * prep_and_add_allocated_folios, remove_pool_hugetlb_folio)
 */
export function setMaxHugePages(ctx: MmContext, count: number, h: HState = hstateOf(ctx)): number {
  // adjust_pool_surplus(h, nodes, -1): a surplus folio counts as persistent again
  while (h.surplusHugePages > 0 && count > h.persistent) h.surplusHugePages--;
  const allocated: number[] = [];
  let failed = false;
  while (count > h.persistent + allocated.length) {
    const head = allocFreshFolio(ctx, h);
    if (head < 0) {
      failed = true;
      break;
    }
    allocated.push(head);
  }
  // prep_and_add_allocated_folios: enqueued last-allocated first, so the first allocated heads the list
  for (let i = allocated.length - 1; i >= 0; i--) {
    h.freeList.push(allocated[i]);
    h.nrHugePages++;
    h.freeHugePages++;
  }
  if (!failed) {
    const minCount = Math.max(count, h.resvHugePages + h.nrHugePages - h.freeHugePages);
    while (minCount < h.persistent) if (!removePoolFolio(ctx, h, false)) break;
    // adjust_pool_surplus(h, nodes, 1): what is still above the count is surplus
    while (count < h.persistent && h.surplusHugePages < h.nrHugePages) h.surplusHugePages++;
  }
  return h.persistent;
}

/**
 * echo N > /proc/sys/vm/nr_overcommit_hugepages (hugetlb_overcommit_handler), or a size's
 * sysfs file (nr_overcommit_hugepages_store); false (-EINVAL) for a gigantic size, which
 * never has surplus pages.
 */
export function setOvercommitHugePages(ctx: MmContext, count: number, h: HState = hstateOf(ctx)): boolean {
  if (h.gigantic) return false;
  h.nrOvercommitHugePages = count;
  return true;
}

/**
 * alloc_surplus_hugetlb_folio: a folio beyond the pool, while
 * surplus_huge_pages < nr_overcommit_hugepages; it counts in nr_huge_pages
 * and surplus_huge_pages, referenced once. -1 otherwise.
 * Linux: mm/hugetlb.c alloc_surplus_hugetlb_folio
 */
export function allocSurplusFolio(ctx: MmContext, h: HState): number {
  if (h.gigantic || h.surplusHugePages >= h.nrOvercommitHugePages) return -1;
  const head = allocFreshFolio(ctx, h);
  if (head < 0) return -1;
  h.nrHugePages++;
  h.surplusHugePages++;
  ctx.env.pages.refcount[head] = 1;
  return head;
}

/**
 * free_huge_folio: the last reference to a folio in use is gone. A surplus
 * folio leaves the pool for the buddy allocator; any other joins the free
 * list's head.
 * Linux: mm/hugetlb.c free_huge_folio (enqueue_hugetlb_folio, remove_hugetlb_folio)
 */
export function freeHugeFolio(ctx: MmContext, h: HState, head: number): void {
  ctx.env.pages.flags[head] &= ~PageFlag.AnonExclusive; // __ClearPageAnonExclusive
  h.anon.delete(head);
  h.active.delete(head);
  if (h.surplusHugePages > 0) {
    h.nrHugePages--;
    h.surplusHugePages--;
    freeToBuddy(ctx, h, head);
    return;
  }
  h.freeList.push(head);
  h.freeHugePages++;
}

/**
 * folio_put of a HugeTLB folio (memory.ts putPage sends it here): one
 * reference fewer; at zero, free_huge_folio.
 * Linux: mm/swap.c __folio_put (folio_test_hugetlb: free_huge_folio)
 */
export function hugetlbFolioPut(ctx: MmContext, head: number): void {
  const pages = ctx.env.pages;
  if (!(pages.refcount[head] > 0)) throw new ModelBug(`hugetlb: folio ${head} has no references`);
  if (--pages.refcount[head] === 0) freeHugeFolio(ctx, folioHstate(ctx, head), head);
}

/**
 * A write of nr_hugepages and nr_overcommit_hugepages (null: left alone) to
 * the default pool, or to hugepages-<sizeKb>kB's: nr_hugepages as read back,
 * -2 (ENOENT) without such a size, -22 (EINVAL) for the overcommit of a
 * gigantic size.
 * Linux: mm/hugetlb.c hugetlb_sysctl_handler, hugetlb_overcommit_handler, nr_hugepages_store
 */
export function sysctlHugetlb(
  ctx: MmContext,
  nrHugepages: number | null,
  nrOvercommitHugepages: number | null,
  sizeKb?: number,
): number {
  const h = sizeKb === undefined ? ctx.hstate : (ctx.hstates ?? []).find((x) => x.sizeKb === sizeKb);
  if (h === undefined) return -2;
  if (nrOvercommitHugepages !== null && !setOvercommitHugePages(ctx, nrOvercommitHugepages, h)) return -22;
  return nrHugepages === null ? h.persistent : setMaxHugePages(ctx, nrHugepages, h);
}

/** The pool as /proc/meminfo shows it (HugePages_Total, _Free, _Rsvd, _Surp; Hugetlb in pages). */
export function hugetlbReport(h: HState | undefined): {
  total: number;
  free: number;
  rsvd: number;
  surp: number;
  pages: number;
} {
  if (h === undefined) return { total: 0, free: 0, rsvd: 0, surp: 0, pages: 0 };
  return {
    total: h.nrHugePages,
    free: h.freeHugePages,
    rsvd: h.resvHugePages,
    surp: h.surplusHugePages,
    pages: h.nrHugePages * h.nrPages,
  };
}
