/**
 * A large anonymous folio (an mTHP, mm/mthp.ts, or a PMD-size THP) swapped out whole, as
 * shrink_folio_list does when add_to_swap gets it a swap range of its order:
 * the folio is referenced-checked as one (folio_check_references over every
 * PTE of the folio), gets 2^order consecutive slots (folio_alloc_swap ->
 * get_swap_pages(1, &entry, order): mm/swap_cluster.ts), try_to_unmap gives
 * each PTE its own entry (entry + i, try_to_unmap_one's subpage), pageout
 * writes it (swap_writepage -> __swap_writepage: count_swpout_vm_event:
 * PSWPOUT += nr, MTHP_STAT_SWPOUT of its order) and the folio is freed whole.
 * Linux 6.12: mm/vmscan.c shrink_folio_list, mm/swap_state.c add_to_swap,
 * mm/rmap.c try_to_unmap_one, mm/page_io.c swap_writepage,
 * count_swpout_vm_event. A PMD-mapped THP has its PMDs split by
 * try_to_unmap (TTU_SPLIT_HUGE_PMD) after add_to_swap, and counts THP_SWPOUT.
 *
 * vmlab's swap writes are synchronous: the folio leaves the swap cache and is
 * freed in the same pass (Linux: once its writeback ends, at once for a
 * synchronous device, else on a later pass), so a fault never finds a large
 * folio in the swap cache and do_swap_page's large-folio-in-swapcache path has
 * nothing to map; swap-in stays order 0 (6.12 reads large folios only from a
 * SWP_SYNCHRONOUS_IO device, which vmlab's is not: swap_state.ts).
 */
import { pfnUnchecked } from "../../base/units.ts";
import { splitPmd } from "./huge_memory.ts";
import type { MmStruct } from "./MmStruct.ts";
import { freeUnmapped } from "./memory.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import type { PfnSetLike } from "./pfnset.ts";
import { folioReferenced, type RmapEnv, type RmapPages, rmapWalk, tryToUnmapAnon } from "./rmap.ts";
import { allocSwapRange } from "./swap_cluster.ts";
import type { SwapArea } from "./swapfile.ts";
import { tryToUnmapFlushDirty } from "./tlbbatch.ts";
import { VmFlag } from "./vma.ts";

/** What the whole-folio swap-out needs of reclaim (mm/vmscan.ts's Vmscan has it all). */
export interface SwapOutPages extends RmapPages {
  readonly env: RmapEnv & { readonly swap: SwapArea | null };
  /** pages a fault holds (reclaim leaves them alone) */
  readonly pinned: PfnSetLike;
  /** the LRU batches: a page waiting in one is not on a list */
  readonly fbatches: { inBatch(pfn: number): boolean };
  /** PG_referenced */
  readonly referenced: Uint8Array;
  /** takes the page off the lists for good */
  del(pfn: number): void;
  /** a PMD-mapped THP's one LRU entry becomes one per page (its PMDs split) */
  splitFolio(head: number): void;
  /** workingset_eviction: the shadow of a folio of nr pages leaving memory (0: none kept) */
  evictShadow(pfn: number, nr: number): number;
  readonly stats: { nr_vmscan_write: number };
}

/** swapOutLargeFolio's outcome when the folio cannot be looked at whole: the caller splits it as before */
export const NOT_WHOLE = -2;

/** rmap walk state of countOne (one record, no closure per page) */
const walk = { found: 0, locked: false };
function countOne(_mm: unknown, v: { vmFlags: number }): void {
  walk.found++;
  if (v.vmFlags & VmFlag.LOCKED) walk.locked = true;
}

/**
 * shrink_folio_list for a large anonymous folio (`head`, `order`: an mTHP, or
 * a THP of the PMD order) whose page `pfn` the scan has taken, not partially
 * mapped (a PMD-mapped THP: its swap range first, then its PMDs split,
 * splitPmds; its references were read at the PMD): every page must be anonymous,
 * mapped, off the batches, unpinned, evictable and referenced by its
 * mappings alone (else NOT_WHOLE, or -1 for the pins and references Linux
 * would find later, at __remove_mapping: the folio stays, activated).
 * Unless `ignoreReferences` (reclaim_pages, MADV_PAGEOUT), the folio's other
 * PTEs' accessed bits are read and cleared (folio_referenced): any young one
 * activates the folio (Linux keeps a folio with one young PTE and no
 * PG_referenced on the inactive list instead: vmlab's scanned page carries
 * the flag alone, so it is marked and activated). Then the swap range:
 * none (0) and the caller splits it (THP_SWPOUT_FALLBACK,
 * MTHP_STAT_SWPOUT_FALLBACK); else the folio goes whole and its pages are
 * returned (pgsteal counts them all).
 * Linux: mm/vmscan.c shrink_folio_list, folio_check_references; mm/swap_state.c add_to_swap
 */
export function swapOutLargeFolio(
  v: SwapOutPages,
  pfn: number,
  head: number,
  order: number,
  ignoreReferences: boolean,
): number {
  const env = v.env;
  const swap = env.swap;
  const m = env.userMm.env.mthp;
  if (swap === null || m === undefined) return NOT_WHOLE;
  const nr = 1 << order;
  let slot = -1;
  if (v.large[head]) {
    // a PMD-mapped THP (its one LRU entry): add_to_swap first, then try_to_unmap with
    // TTU_SPLIT_HUGE_PMD splits each PMD that maps it (the folio stays whole, PTE-mapped); the
    // caller has looked at its references through the PMDs
    slot = allocSwapRange(swap, order);
    if (slot < 0) return 0;
    splitPmds(v, head);
    ignoreReferences = true;
  }
  const stay = wholeChecks(v, pfn, head, nr, ignoreReferences);
  if (stay !== 0) {
    if (slot >= 0) swap.releaseRange(slot, nr); // put_swap_folio
    return stay;
  }
  if (slot < 0) slot = allocSwapRange(swap, order);
  if (slot < 0) return 0;
  for (let i = 0; i < nr; i++) tryToUnmapAnon(v, head + i, swap, slot + i);
  // pageout -> swap_writepage: no write through a stale TLB entry once the I/O starts
  tryToUnmapFlushDirty(env.userMm.env.tlbUbc);
  for (let i = 0; i < nr; i++) {
    env.phys.saveFrame(pfnUnchecked(head + i), swap.contents, slot + i);
    swap.wrotePage(slot + i); // count_swpout_vm_event: PSWPOUT += nr
  }
  v.stats.nr_vmscan_write += nr; // pageout: node_stat_add_folio(folio, NR_VMSCAN_WRITE)
  // count_swpout_vm_event: THP_SWPOUT for a PMD-mappable folio, count_mthp_stat(order, MTHP_STAT_SWPOUT)
  if (order === m.pmdOrder) env.userMm.thpStats.thp_swpout++;
  m.stats[order].swpout++;
  // __remove_mapping: one shadow for the folio (workingset_eviction), in each of its slots
  // (__delete_from_swap_cache); then free_unref_folios: the block goes back whole with its last page
  const shadow = v.evictShadow(head, nr);
  for (let i = 0; i < nr; i++) swap.setShadow(slot + i, shadow);
  for (let i = 0; i < nr; i++) {
    v.del(head + i);
    freeUnmapped(env.userMm, head + i);
  }
  return nr;
}

/**
 * The checks before a whole swap-out (swapOutLargeFolio): 0 to go on,
 * NOT_WHOLE (split as before) or -1 (the folio stays, activated).
 */
function wholeChecks(
  v: SwapOutPages,
  pfn: number,
  head: number,
  nr: number,
  ignoreReferences: boolean,
): number {
  const pages = v.env.pages;
  const swap = v.env.swap!;
  for (let i = 0; i < nr; i++) {
    const p = head + i;
    if (pages.kind[p] !== PageKind.UserAnon || pages.mapcount[p] === 0 || pages.refcount[p] === 0)
      return NOT_WHOLE;
    if (pages.flags[p] & (PageFlag.Lazyfree | PageFlag.Mlocked)) return NOT_WHOLE;
    if (v.pinned.has(p) || v.fbatches.inBatch(p) || swap.slotOf.has(p)) return -1;
  }
  let young = 0;
  for (let i = 0; i < nr; i++) {
    const p = head + i;
    let found: number;
    let locked: boolean;
    if (ignoreReferences || p === pfn) {
      walk.found = 0;
      walk.locked = false;
      rmapWalk(v, p, countOne);
      found = walk.found;
      locked = walk.locked;
    } else {
      const r = folioReferenced(v, p);
      found = r.found;
      locked = r.locked;
      young += r.young;
    }
    if (locked || found !== pages.mapcount[p] || pages.refcount[p] !== found) return -1;
  }
  if (young > 0) {
    v.referenced[pfn] = 1; // folio_check_references: folio_set_referenced
    return -1;
  }
  return 0;
}

/**
 * try_to_unmap_one's TTU_SPLIT_HUGE_PMD for a PMD-mapped THP: each PMD that
 * maps it is split (split_huge_pmd_locked: thp_split_pmd), the folio whole,
 * its pages one LRU entry each from now on (vmlab's LRU holds a PTE-mapped
 * THP's pages one by one). Linux 6.12 (and 6.18) swap a PMD-mapped THP out
 * this way: unmap_huge_pmd_locked keeps a PMD whole for a lazy-free folio only.
 * Linux: mm/rmap.c try_to_unmap_one; mm/huge_memory.c split_huge_pmd_locked
 */
function splitPmds(v: SwapOutPages, head: number): void {
  const maps: [MmStruct, number][] = [];
  rmapWalk(v, head, (mm, _v, vpn) => maps.push([mm, vpn]));
  for (const [mm, vpn] of maps) splitPmd(v.env.userMm, mm, vpn);
  v.splitFolio(head); // if no mapping's split did it
}
