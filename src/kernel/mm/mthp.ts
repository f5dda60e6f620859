/**
 * Anonymous multi-size THP (mTHP): large anonymous folios of the orders
 * below the PMD order that /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled
 * allows, mapped by PTEs. Linux 6.12: mm/memory.c do_anonymous_page,
 * alloc_anon_folio, pte_range_none; include/linux/huge_mm.h
 * thp_vma_allowable_orders, thp_vma_suitable_orders, highest_order,
 * next_order; mm/huge_memory.c __thp_vma_allowable_orders,
 * huge_anon_orders_{always,madvise,inherit}, thpsize_enabled_store, the mthp
 * stats (struct mthp_stat, count_mthp_stat, mod_mthp_stat). The host (6.18)
 * has the same knobs, defaults and fault path (its stats directory adds
 * anon_fault_declined-like files vmlab does not model).
 *
 * Modelling choice (as for PMD THPs, folio_put.ts): a large folio's pages
 * carry their own refcount and mapcount, each 1 when the fault maps them.
 * The folio itself is a record here (its head and order; the pages not yet
 * put), so that the pages go back as one buddy block of the folio's order
 * with the last of them, and a split (split_folio to order 0) makes each page
 * a folio of its own. The folios' pages sit on vmlab's LRU one by one, as a
 * PTE-mapped PMD THP's do. The knobs, counters and folio records are in
 * mm/mthp_state.ts.
 */
export { MTHP_MODE_NAMES, MthpMode, type MthpModeName, MthpState, type MthpStats } from "./mthp_state.ts";

import { pfnUnchecked } from "../../base/units.ts";
import { Gfp } from "./gfp.ts";
import { linearIndex, type MmContext, VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { MthpMode, type MthpState } from "./mthp_state.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { entryRead, readEntry, setPteAt, userPte } from "./pgtable.ts";
import { thpVmFlags, type Vma, VmFlag } from "./vma.ts";

/**
 * thp_vma_allowable_orders for a page fault (TVA_IN_PF | TVA_ENFORCE_SYSFS)
 * over the orders below PMD: a private anonymous VMA without
 * MADV_NOHUGEPAGE nor the mm's MMF_DISABLE_THP (vma_thp_disabled); per order, `always`, `madvise` with MADV_HUGEPAGE, or
 * `inherit` when the top-level enabled allows this VMA (always, or madvise
 * with MADV_HUGEPAGE). A bitmask of orders.
 * Linux: mm/huge_memory.c __thp_vma_allowable_orders; include/linux/huge_mm.h thp_vma_allowable_orders
 */
export function mthpAllowableOrders(ctx: MmContext, m: MthpState, mm: MmStruct, vma: Vma): number {
  if (
    vma.shmem !== null ||
    vma.file !== null ||
    thpVmFlags(mm, vma.vmFlags) & (VmFlag.SHARED | VmFlag.NOHUGEPAGE)
  )
    return 0;
  const hugepage = (vma.vmFlags & VmFlag.HUGEPAGE) !== 0;
  const global = ctx.settings.thp;
  const inherit = global === "always" || (hugepage && global === "madvise");
  let orders = 0;
  for (let o = 2; o < m.pmdOrder; o++) {
    const e = m.enabled[o];
    if (e === MthpMode.always || (e === MthpMode.madvise && hugepage) || (e === MthpMode.inherit && inherit))
      orders |= 1 << o;
  }
  return orders;
}

/**
 * thp_vma_suitable_orders: the orders whose naturally aligned block around
 * vpn lies inside the VMA (an anonymous VMA: no vm_pgoff condition).
 * Linux: include/linux/huge_mm.h thp_vma_suitable_order(s)
 */
export function mthpSuitableOrders(vma: Vma, vpn: number, orders: number): number {
  let m = orders;
  let out = 0;
  while (m !== 0) {
    const o = 31 - Math.clz32(m);
    m &= ~(1 << o);
    const base = vpn - (vpn & ((1 << o) - 1));
    if (base >= vma.vmStart && base + (1 << o) <= vma.vmEnd) out |= 1 << o;
  }
  return out;
}

/** pte_range_none: are the `nr` PTEs from `pa` all none? Linux: mm/memory.c pte_range_none */
function pteRangeNone(ctx: MmContext, pa: number, nr: number): boolean {
  const pt = ctx.env.pgtable;
  for (let i = 0; i < nr; i++) {
    readEntry(ctx, pa + i * pt.entryBytes);
    if (!pt.none(entryRead.hi, entryRead.lo)) return false;
  }
  return true;
}

/**
 * do_anonymous_page's write fault with alloc_anon_folio: the highest order
 * allowed for the VMA (mthpAllowableOrders), whose aligned block lies
 * inside it (mthpSuitableOrders) and has only empty PTEs (pte_range_none;
 * a populated PTE drops that order), is allocated (vma_alloc_folio with
 * vma_thp_gfp_mask; none free: anon_fault_fallback, next order) and charged
 * to the memory cgroup (over the limit: anon_fault_fallback_charge, next
 * order); the folio's pages are zeroed, each mapped once and exclusive
 * (folio_add_new_anon_rmap), joined to the LRU (folio_add_lru_vma), RSS grows
 * by nr (add_mm_counter) and set_ptes maps them all, writable and dirty
 * where the VMA is writable. Returns null when no large order could be had
 * (the caller goes on with an order-0 page).
 * `pa` is the faulting PTE's address.
 * Linux: mm/memory.c do_anonymous_page, alloc_anon_folio
 */
export function doAnonymousLarge(
  ctx: MmContext,
  m: MthpState,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pa: number,
): VmFault | null {
  let orders = mthpSuitableOrders(vma, vpn, mthpAllowableOrders(ctx, m, mm, vma));
  if (orders === 0) return null;
  const env = ctx.env;
  const pt = env.pgtable;
  const eb = pt.entryBytes;
  // the highest order whose aligned range is all pte_none (the rest below it are too)
  let order = 31 - Math.clz32(orders);
  while (orders !== 0) {
    const off = vpn & ((1 << order) - 1);
    if (pteRangeNone(ctx, pa - off * eb, 1 << order)) break;
    orders &= ~(1 << order);
    order = 31 - Math.clz32(orders);
  }
  if (orders === 0) return null;
  // vma_thp_gfp_mask with defrag=madvise: direct reclaim for a VMA that asked, neither reclaim nor
  // a kswapd wake-up for the others. vmlab adds __GFP_NORETRY to the first (orders up to 3 are not
  // costly, and would otherwise retry into the OOM killer)
  const gfp = Gfp.TRANSHUGE_LIGHT | (vma.vmFlags & VmFlag.HUGEPAGE ? Gfp.DIRECT_RECLAIM | Gfp.NORETRY : 0);
  let pfn = -1;
  while (orders !== 0) {
    const stats = m.stats[order];
    // mem_cgroup_charge (vmlab charges before the allocation, as hugeFault does; the same outcome)
    if (env.chargeHugePage !== undefined && !env.chargeHugePage(1 << order, gfp))
      stats.anon_fault_fallback_charge++;
    else {
      pfn = env.buddy.alloc(order, gfp, PageKind.UserAnon);
      if (pfn >= 0) break;
    }
    stats.anon_fault_fallback++;
    orders &= ~(1 << order);
    order = 31 - Math.clz32(orders);
  }
  if (pfn < 0) return null;
  const nr = 1 << order;
  const pages = env.pages;
  mm.anonVmaPrepare(vma);
  const addr = vpn - (vpn & (nr - 1));
  const base = pa - (vpn - addr) * eb;
  const writable = (vma.vmFlags & VmFlag.WRITE) !== 0;
  // set_ptes: arm64's contpte_set_ptes gives PTE_CONT to every 64K block the folio covers whole
  // (the folio is naturally aligned: every block when it has 16 pages or more)
  const cp = pt.contpte;
  const cont = cp != null && nr >= cp.nr;
  for (let i = 0; i < nr; i++) {
    // folio_zero_user: clear_user_highpage of each page (kmap_local'd on 32-bit highmem); the
    // folio's pages accounted as allocThpFolio accounts a PMD THP's
    const va = env.kmapLocal?.(pfn + i);
    env.phys.zeroFrame(pfnUnchecked(pfn + i));
    if (va !== undefined) env.kunmapLocal?.(va);
    pages.order[pfn + i] = 0;
    pages.refcount[pfn + i] = 1;
    pages.flags[pfn + i] = PageFlag.AnonExclusive; // folio_add_new_anon_rmap(RMAP_EXCLUSIVE)
    pages.mapcount[pfn + i] = 1;
  }
  m.add(pfn, order);
  mm.rssAnon += nr; // add_mm_counter(MM_ANONPAGES, nr_pages)
  m.stats[order].anon_fault_alloc++;
  for (let i = 0; i < nr; i++) {
    env.lru?.addAnon(pfn + i, linearIndex(vma, addr + i), vma.anonVma, vma.vmFlags); // folio_add_lru_vma
    const e = userPte(ctx, pfn + i, vma.vmFlags, writable, true, false);
    if (cont) {
      cp.mkCont(e);
      env.phys.write64(base + i * eb, e.hi, e.lo); // __set_ptes of contpte_set_ptes (every PTE was none)
    } else setPteAt(ctx, base + i * eb, e.hi, e.lo); // set_ptes
  }
  return VmFault.OK;
}

/**
 * __folio_remove_rmap's partially-mapped check for an mTHP folio some of
 * whose pages an unmap took the last mapping of: a page still mapped makes
 * it partially mapped, queued for the deferred split (deferred_split_folio(folio, true)).
 * Linux: mm/rmap.c __folio_remove_rmap
 */
export function mthpUnmappedSome(ctx: MmContext, head: number): void {
  const m = ctx.env.mthp;
  const q = ctx.env.deferredSplit;
  const order = m?.heads.get(head);
  if (m === undefined || q === undefined || order === undefined) return;
  const mapcount = ctx.env.pages.mapcount;
  for (let i = 0; i < 1 << order; i++)
    if (mapcount[head + i] > 0) {
      q.deferredSplitMthp(head, order, m.stats[order]);
      return;
    }
}

/**
 * __wp_can_reuse_large_anon_folio: may a write fault reuse the page `pfn` of
 * the mTHP folio at `head` (order `order`), whose PTE at `pa` (page table
 * entry address) maps it at `vpn` read-only and not PageAnonExclusive (after
 * fork)? Only if the folio is mapped by this mm alone and every reference to
 * it is a mapping's:
 * - folio_large_mapcount <= 1 (its last mapped page) refuses: the page is
 *   copied and the folio freed ("let's just free up a large folio");
 * - folio_maybe_mapped_shared refuses: Linux keeps two MM ids per folio
 *   (folio->_mm_ids, each with its mapcount) and a "maybe mapped shared" bit
 *   set when a second mm maps it, cleared when an mm's last mapping of it
 *   goes and the other slot holds all the rest (folio_add/sub_return_large_mapcount).
 *   vmlab counts the folio's pages this mm's page table maps around `vpn`
 *   (the folio's natural place, inside the faulting PTE's table) against the
 *   folio's mapcount: equal is "exclusive". Where they differ: a folio mapped
 *   by three mms or more, whose two slot owners then unmap it, stays "maybe
 *   shared" in Linux (copied), exclusive in vmlab; a folio this mm maps at two
 *   places (a partial mremap) counts as shared in vmlab, not in Linux.
 * - folio_large_mapcount != folio_ref_count refuses (a GUP pin, or any other
 *   reference). vmlab's pages carry their own references, summed here; a
 *   page's LRU batch reference is not counted: Linux never leaves a large
 *   folio in a batch (folio_batch_add_and_move moves it at once), vmlab does.
 * vmlab's mTHP folios are never in the swap cache (one swapped out whole is
 * freed in the same pass: mm/vmscan_swapout.ts), so folio_free_swap has nothing to do.
 * Linux 6.12 never reuses a page of a large folio (wp_can_reuse_anon_folio:
 * folio_test_large returns false). Linux 6.15 (David Hildenbrand's "mm: MM
 * owner tracking for large folios (!hugetlb) + CONFIG_NO_PAGE_MAPCOUNT"
 * series: commit 1da190f4d0a6 "mm: Copy-on-Write (COW) reuse support for
 * PTE-mapped THP", CONFIG_MM_ID) added this, and the host (6.18) does it:
 * test/differential/mthp.test.ts (a child that exits or unmaps its whole copy
 * leaves the parent reusing; a child that keeps half makes it copy).
 * Linux: mm/memory.c __wp_can_reuse_large_anon_folio, wp_can_reuse_anon_folio;
 * include/linux/mm.h folio_maybe_mapped_shared; include/linux/rmap.h folio_add_return_large_mapcount,
 * folio_sub_return_large_mapcount
 */
export function wpCanReuseLargeAnonFolio(
  ctx: MmContext,
  vpn: number,
  pa: number,
  pfn: number,
  head: number,
  order: number,
): boolean {
  const env = ctx.env;
  const pages = env.pages;
  const nr = 1 << order;
  let mapcount = 0;
  for (let i = 0; i < nr; i++) mapcount += pages.mapcount[head + i];
  if (mapcount <= 1) return false; // folio_large_mapcount(folio) <= 1
  // folio_maybe_mapped_shared: this mm's mappings of the folio against all of them
  const pt = env.pgtable;
  const eb = pt.entryBytes;
  const perTable = pt.ptrsPerTable;
  const first = vpn - (vpn % perTable);
  let ours = 0;
  for (let i = 0; i < nr; i++) {
    const v = vpn + (head + i - pfn);
    if (v < first || v >= first + perTable) continue;
    readEntry(ctx, pa + (v - vpn) * eb);
    const hi = entryRead.hi;
    const lo = entryRead.lo;
    if (pt.present(hi, lo) && !pt.special(hi, lo) && pt.pfn(hi, lo, 0) === head + i) ours++;
  }
  if (ours !== mapcount) return false;
  // folio_large_mapcount(folio) != folio_ref_count(folio)
  const batches = env.lru?.fbatches;
  let refs = 0;
  for (let i = 0; i < nr; i++) refs += pages.refcount[head + i] - (batches?.inBatch(head + i) ? 1 : 0);
  return refs === mapcount;
}
