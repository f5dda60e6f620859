/**
 * The deferred split of anonymous THPs and the deferred_split shrinker, as
 * Linux 6.12 has them. Linux: mm/huge_memory.c deferred_split_folio,
 * __folio_unqueue_deferred_split, deferred_split_count, deferred_split_scan,
 * thp_underused, split_huge_page_to_list_to_order, __split_huge_page,
 * remap_page; mm/migrate.c try_to_map_unused_to_zeropage; mm/rmap.c
 * __folio_remove_rmap; mm/shrinker.c do_shrink_slab.
 *
 * A PMD split (__split_huge_pmd: a partial munmap, MADV_DONTNEED, mprotect
 * or mremap of part of a huge page) maps the folio's pages by PTEs but
 * leaves the folio whole. When an unmap leaves some of its pages mapped and
 * some not, __folio_remove_rmap queues it here, partially mapped
 * (THP_DEFERRED_SPLIT_PAGE); the unmapped pages stay allocated with the
 * folio. 6.12 also queues every new anonymous THP at its fault (not
 * partially mapped: for the underused-THP shrinker). The shrinker, run by
 * reclaim's shrink_slab, splits a partially mapped folio, and a fully mapped
 * one that thp_underused finds mostly zero-filled; the split frees the pages
 * nobody maps and maps each mapped zero-filled page to the shared zero page
 * (remap_page with RMP_USE_SHARED_ZEROPAGE). A folio freed whole leaves the
 * queue (__folio_unqueue_deferred_split).
 *
 * vmlab has one queue, the node's (pgdat->deferred_split_queue): a memory
 * cgroup's own queue (memcg->deferred_split_queue) is not modelled.
 */
import { pfnUnchecked } from "../../base/units.ts";
import { thpFolioSplit } from "./folio_put.ts";
import { splitPmd } from "./huge_memory.ts";
import type { MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { putPage } from "./memory.ts";
import { mthpFolioSplit } from "./mthp_state.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { isHugePmd, pmdOf, ptepClearFlushOf, setPteAt, userPte } from "./pgtable.ts";
import { type RmapPages, rmapWalk } from "./rmap.ts";
import { SHRINK_STOP, type Shrinker } from "./shrinker.ts";
import { type Vma, VmFlag } from "./vma.ts";
import { NOT_WHOLE, type SwapOutPages, swapOutLargeFolio } from "./vmscan_swapout.ts";

/** Is `head` the first frame of a whole (unsplit) anonymous THP? */
function wholeThp(ctx: MmContext, head: number): boolean {
  const pages = ctx.env.pages;
  return pages.priv[head] > 0 && pages.kind[head] === PageKind.UserAnon;
}

/**
 * can_split_folio: no references but the mappings' (an anonymous folio
 * outside the swap cache has no other pins): vmlab's pages each carry
 * their own, so every page's refcount must equal its mapcount.
 * Linux: mm/huge_memory.c can_split_folio
 */
function canSplitFolio(ctx: MmContext, head: number, nr: number): boolean {
  const pages = ctx.env.pages;
  for (let i = 0; i < nr; i++) if (pages.refcount[head + i] !== pages.mapcount[head + i]) return false;
  return true;
}

/**
 * split_huge_page_to_list_to_order(folio, NULL, 0) of a whole anonymous
 * THP (split_folio): unmap_folio splits every PMD that maps it
 * (TTU_SPLIT_HUGE_PMD: thp_split_pmd each), the folio leaves the deferred
 * split queue, and __split_huge_page makes each page an order-0 folio: the
 * pages nobody maps are freed, and remap_page(RMP_USE_SHARED_ZEROPAGE)
 * maps each mapped zero-filled page to the shared zero page
 * (try_to_map_unused_to_zeropage), freeing it too. THP_SPLIT_PAGE, or
 * THP_SPLIT_PAGE_FAILED when can_split_folio finds other references (the
 * folio then stays as it was). An mTHP folio (mm/mthp.ts) is split alike,
 * counting its order's split / split_failed (THP_SPLIT_PAGE counts PMD-size
 * folios only); PTEs map it, so no PMD is split. `r` is reclaim's reverse map (mm/vmscan.ts).
 *
 * vmlab's unmap_folio/remap_page change only the PTEs of zero-filled pages
 * (cleared, flushed, pointed at the zero page); Linux also turns every other
 * mapping into a migration entry and back, flushing it, with the same end
 * state of the page tables.
 * Linux: mm/huge_memory.c split_huge_page_to_list_to_order, unmap_folio, __split_huge_page, remap_page
 */
export function splitHugePage(r: RmapPages, head: number): boolean {
  const ctx = r.env.userMm;
  const env = ctx.env;
  // its order's split / split_failed; THP_SPLIT_PAGE(_FAILED) for the PMD order only (an mTHP folio: mm/mthp.ts)
  const pmd = wholeThp(ctx, head);
  const order = pmd ? -1 : (env.mthp?.heads.get(head) ?? -1);
  if (!pmd && order < 0) return false;
  const nr = pmd ? env.pgtable.hpagePmdNr : 1 << order;
  if (!canSplitFolio(ctx, head, nr)) {
    if (pmd) ctx.thpStats.thp_split_page_failed++;
    const st = env.mthp?.stats[pmd ? env.mthp.pmdOrder : order];
    if (st !== undefined) st.split_failed++; // count_mthp_stat(order, MTHP_STAT_SPLIT_FAILED)
    return false;
  }
  // unmap_folio: TTU_SPLIT_HUGE_PMD, each PMD that maps the folio (a large LRU entry: PMD-mapped)
  if (pmd && r.large[head]) {
    const maps: [MmStruct, number][] = [];
    rmapWalk(r, head, (mm, _v, vpn) => maps.push([mm, vpn]));
    for (const [mm, vpn] of maps) splitPmd(ctx, mm, vpn);
    env.lru?.splitFolio(head); // if no mapping split did it
  }
  env.deferredSplit?.unqueue(head);
  if (pmd) {
    thpFolioSplit(env, head); // the pages at refcount 0 (mapped nowhere) are freed
    ctx.thpStats.thp_split_page++;
    const st = env.mthp?.stats[env.mthp.pmdOrder];
    if (st !== undefined) st.split++; // count_mthp_stat(HPAGE_PMD_ORDER, MTHP_STAT_SPLIT)
  } else {
    mthpFolioSplit(env, head);
    env.mthp!.stats[order].split++;
  }
  // remap_page(folio, nr, RMP_USE_SHARED_ZEROPAGE): try_to_map_unused_to_zeropage of each mapped page
  const pages = env.pages;
  for (let i = 0; i < nr; i++) {
    const pfn = head + i;
    if (pages.kind[pfn] !== PageKind.UserAnon || pages.mapcount[pfn] === 0) continue;
    if (pages.flags[pfn] & PageFlag.Mlocked) continue; // folio_test_mlocked
    env.phys.frameWillBeRead(pfnUnchecked(pfn)); // kmap_local_page + memchr_inv
    if (!env.phys.store.isZero(pfn)) continue;
    zeroRemap.ctx = ctx;
    zeroRemap.pfn = pfn;
    rmapWalk(r, pfn, mapToZeropage);
  }
  return true;
}

/** mapToZeropage's page and context (one record, no closure per page). */
const zeroRemap = { ctx: null as MmContext | null, pfn: 0 };

/**
 * try_to_map_unused_to_zeropage for one mapping of a zero-filled page
 * (not in a VM_LOCKED VMA): the PTE (a migration entry in Linux, flushed
 * by try_to_migrate) becomes the zero page's, special and read-only under
 * the VMA's rights; the page loses the mapping and its reference, and the
 * mm one page of anonymous RSS.
 * Linux: mm/migrate.c try_to_map_unused_to_zeropage, remove_migration_pte
 */
function mapToZeropage(mm: MmStruct, v: Vma, vpn: number, pa: number, hi: number, lo: number): void {
  if (v.vmFlags & VmFlag.LOCKED) return;
  const ctx = zeroRemap.ctx!;
  const env = ctx.env;
  const pfn = zeroRemap.pfn;
  mm.updateHiwaterRss(); // try_to_migrate_one: update_hiwater_rss
  env.cache.flushCachePage(mm, vpn, pfn); // try_to_migrate_one: flush_cache_page
  ptepClearFlushOf(ctx, mm, pa, vpn, 0, hi, lo);
  const e = userPte(ctx, env.zeroPfn, v.vmFlags, false, false, true);
  setPteAt(ctx, pa, e.hi, e.lo);
  mm.rssAnon--; // dec_mm_counter(mm_counter(folio))
  env.pages.flags[pfn] &= ~PageFlag.AnonExclusive;
  env.pages.mapcount[pfn]--;
  putPage(ctx, pfn); // __split_huge_page: free_page_and_swap_cache of the unmapped page
}

/**
 * thp_underused: more than khugepaged's max_ptes_none of the folio's pages
 * are zero-filled (never when max_ptes_none is HPAGE_PMD_NR - 1, its
 * default); stops early either way.
 * Linux: mm/huge_memory.c thp_underused
 */
export function thpUnderused(ctx: MmContext, head: number): boolean {
  const env = ctx.env;
  const nr = env.pgtable.hpagePmdNr;
  const setting = ctx.settings.thpMaxPtesNone ?? -1;
  const maxNone = setting < 0 ? nr - 1 : setting;
  if (maxNone >= nr - 1) return false;
  let zero = 0;
  let filled = 0;
  for (let i = 0; i < nr; i++) {
    env.phys.frameWillBeRead(pfnUnchecked(head + i));
    if (env.phys.store.isZero(head + i)) {
      if (++zero > maxNone) return true;
    } else if (++filled >= nr - maxNone) return false;
  }
  return false;
}

/**
 * deferred_split_scan: takes up to nrToScan folios from the head of the
 * queue; a partially mapped one is split; a fully mapped one is split when
 * thp_underused (THP_UNDERUSED_SPLIT_PAGE) and otherwise leaves the queue
 * (considered used); a partially mapped one that fails to split goes back,
 * at the tail. Returns the folios split, or SHRINK_STOP.
 * Linux: mm/huge_memory.c deferred_split_scan
 */
export function deferredSplitScan(r: RmapPages, nrToScan: number): number {
  const ctx = r.env.userMm;
  const q = ctx.env.deferredSplit;
  if (q === undefined) return SHRINK_STOP;
  const list: number[] = [];
  for (const head of q.queue.keys()) {
    list.push(head);
    if (list.length >= nrToScan) break;
  }
  let split = 0;
  for (const head of list) {
    const partially = q.queue.get(head);
    if (partially === undefined) continue; // freed under us (a split's zero-page remap of another folio cannot free it; kept for safety)
    let underused = false;
    if (!partially) {
      underused = thpUnderused(ctx, head);
      if (!underused) {
        q.unqueue(head); // removed++
        continue;
      }
    }
    if (splitHugePage(r, head)) {
      split++;
      if (underused) ctx.thpStats.thp_underused_split_page++;
    } else if (!partially) q.unqueue(head);
    else {
      q.queue.delete(head); // list_splice_tail: back at the tail
      q.queue.set(head, true);
    }
  }
  if (split === 0 && q.queue.size === 0) return SHRINK_STOP;
  return split;
}

/** DEFAULT_SEEKS: the deferred_split shrinker's seeks */
const DEFAULT_SEEKS = 2;

/**
 * The thp-deferred_split shrinker (mm/shrinker.ts): count_objects is
 * deferred_split_count (the queue's length), scan_objects deferred_split_scan.
 * Returns null without a queue. The pages a split frees are not counted as
 * reclaimed.
 * Linux: mm/huge_memory.c deferred_split_count, deferred_split_scan
 */
export function deferredSplitShrinker(r: RmapPages): Shrinker | null {
  const q = r.env.userMm.env.deferredSplit;
  if (q === undefined) return null;
  return {
    count: () => q.splitQueueLen,
    scan: (n) => deferredSplitScan(r, n),
    seeks: DEFAULT_SEEKS,
    get nrDeferred() {
      return q.nrDeferred;
    },
    set nrDeferred(n: number) {
      q.nrDeferred = n;
    },
  };
}

/**
 * shrink_folio_list meeting a page of a whole anonymous THP that PTEs map
 * (vmlab's LRU holds such a folio's pages one by one): a partially mapped
 * folio is split right away ("Split partially mapped folios right away"). A
 * fully mapped mTHP folio (mm/mthp.ts) is swapped out whole when add_to_swap
 * gets it a swap range of its order (mm/vmscan_swapout.ts); with none, it is
 * split and its pages go one by one, counting MTHP_STAT_SWPOUT_FALLBACK of
 * its order. A PMD-size THP alike (its PMDs split first, TTU_SPLIT_HUGE_PMD;
 * THP_SWPOUT, or THP_SWPOUT_FALLBACK and the PMD order's swpout_fallback). `ignoreReferences`:
 * reclaim_pages (MADV_PAGEOUT) is calling.
 * Returns 0 to go on with the page (now order 0, or not in a whole THP),
 * n > 0 when n pages went (the whole folio; or, 1, the page went with the
 * split: it was zero-filled, mapped to the zero page and freed), -1 when the
 * folio stays (activate_locked).
 * Linux: mm/vmscan.c shrink_folio_list
 */
export function splitForReclaim(r: SwapOutPages, pfn: number, ignoreReferences = false): number {
  const ctx = r.env.userMm;
  const nr = ctx.env.pgtable.hpagePmdNr;
  const m = ctx.env.mthp;
  let head = pfn - (pfn % nr);
  let order = -1;
  if (!wholeThp(ctx, head)) {
    head = m !== undefined && m.liveOrders !== 0 ? m.headOf(pfn) : -1;
    if (head < 0) return 0;
    order = m!.heads.get(head)!;
  }
  const partially = ctx.env.deferredSplit?.queue.get(head) === true;
  const whole = order > 0 ? order : (m?.pmdOrder ?? -1); // a PMD THP: the PMD order (m: the stats)
  if (whole > 0 && !partially) {
    const got = swapOutLargeFolio(r, pfn, head, whole, ignoreReferences);
    if (got !== 0 && got !== NOT_WHOLE) return got;
  }
  if (!splitHugePage(r, head)) return -1;
  if (!partially) {
    if (order < 0) ctx.thpStats.thp_swpout_fallback++;
    // count_mthp_stat(order, MTHP_STAT_SWPOUT_FALLBACK) for every order, the PMD's included
    if (m !== undefined) m.stats[order < 0 ? m.pmdOrder : order].swpout_fallback++;
  }
  return ctx.env.pages.kind[pfn] === PageKind.UserAnon && ctx.env.pages.refcount[pfn] > 0 ? 0 : 1;
}

/**
 * split_folio of each anonymous THP that a huge PMD maps in part of [start,
 * end) in this mm and nobody else maps (folio_likely_mapped_shared skips
 * it; vmlab then splits its PMD only, as before; a page-cache folio's PMD
 * is left alone), for MADV_FREE
 * (madvise_free_huge_pmd: "discard part-pages of THP") and MADV_COLD /
 * MADV_PAGEOUT (madvise_cold_or_pageout_pte_range). A folio that cannot be
 * split has its PMD split only, so that the PTE walk after finds PTEs.
 * Linux: mm/huge_memory.c madvise_free_huge_pmd; mm/madvise.c madvise_cold_or_pageout_pte_range
 */
export function splitFoliosInPart(ctx: MmContext, mm: MmStruct, start: number, end: number): void {
  const env = ctx.env;
  const pt = env.pgtable;
  const nr = pt.hpagePmdNr;
  for (let h = start - (start % nr); h < end; h += nr) {
    if (h >= start && h + nr <= end) continue;
    const pmd = pmdOf(ctx, mm, h);
    if (pmd === null || !isHugePmd(ctx, pmd.hi, pmd.lo)) continue;
    const head = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
    const special = pt.special(pmd.hi, pmd.lo);
    if (!special && env.pages.kind[head] === PageKind.PageCache) continue; // a file's: not an anonymous THP
    const anon = !special && env.pages.kind[head] === PageKind.UserAnon;
    if (anon && env.pages.mapcount[head] === 1 && env.lru?.splitHugePage(head)) continue;
    splitPmd(ctx, mm, h);
  }
}
