/**
 * shrink_folio_list's common case in one function: an order-0 anonymous page
 * on the inactive list, mapped once (one PTE in its anon_vma's chain's VMAs,
 * in a materialised table of 8-byte entries that may be stored into
 * directly), not mlocked, not lazily freed, not part of a huge or mTHP folio,
 * not pinned, with no reference but the mapping's and the swap cache's.
 * folio_referenced (the accessed bit read and cleared), folio_check_references,
 * and for a page that goes add_to_swap, try_to_unmap, pageout, __remove_mapping
 * and the free, as mm/vmscan.ts (shrinkInactive, tryReclaim, swapOut) and
 * mm/rmap.ts (folioReferenced, tryToUnmapAnon) do them one call after
 * another, with the page's state in locals: no record handed from one step to
 * the next, no walk callback, no second look at what the first step checked.
 * Any other page is left to that path (NOT_HANDLED) before anything is
 * changed, and the outcome of a page handled here is the same in every
 * figure (vmscan_anon.test.ts runs both). A host shortcut, on unless a test
 * turns it off (setAnonShrinkFast).
 * Linux: mm/vmscan.c shrink_folio_list, folio_check_references, pageout,
 * __remove_mapping; mm/rmap.c folio_referenced_one, try_to_unmap_one
 */
import { pfnUnchecked } from "../../base/units.ts";
import { PteFlag, TlbFlush } from "./arch.ts";
import type { MmStruct } from "./MmStruct.ts";
import { freeUnmapped } from "./memory.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import type { PfnSetLike } from "./pfnset.ts";
import { anonChain, Found, hit, type RmapEnv, type RmapPages, rmapFind } from "./rmap.ts";
import type { SwapArea } from "./swapfile.ts";
import { setTlbUbcFlushPending, tryToUnmapFlushDirty } from "./tlbbatch.ts";
import { VmFlag } from "./vma.ts";
import { countStolen, type ReclaimContext, type ReclaimStats } from "./vmscan_stat.ts";

/** What the common case needs of reclaim (mm/vmscan.ts's Vmscan has it all). */
export interface AnonShrinkPages extends RmapPages {
  readonly env: RmapEnv & { readonly swap: SwapArea | null };
  /** PG_referenced */
  readonly referenced: Uint8Array;
  /** pages a fault holds (reclaim leaves them alone) */
  readonly pinned: PfnSetLike;
  readonly stats: ReclaimStats;
  readonly reclaimCtx: ReclaimContext;
  /** onto the head of a list (off any other) */
  add(pfn: number, list: number): void;
  /** off the lists for good */
  del(pfn: number): void;
  /** workingset_eviction: the shadow of a folio of nr pages leaving memory (0: none kept) */
  evictShadow(pfn: number, nr: number): number;
  /** shrink_folio_list's activate_locked */
  activateLocked(pfn: number, active: number, nrPages: number, count: boolean): void;
}

/** shrinkAnonSmall's answer for a page it leaves to the page-by-page path */
export const NOT_HANDLED = -1;

let fast = true;
/** The common case's function on or off (tests compare the two paths). */
export function setAnonShrinkFast(on: boolean): void {
  fast = on;
}
/** pages shrinkAnonSmall handled (tests check that the function ran) */
export const anonShrinkStats = { handled: 0 };

/** The entry ptep_clear_flush_young writes back (PagingFormat.modifyInto's out: no new object a page) */
const youngCleared = { hi: 0, lo: 0 };

/**
 * shrink_folio_list for one page of the inactive anonymous list (`list`; its active list
 * `active`), isolated and counted scanned by the caller: the pages reclaimed (1: swapped out and
 * freed, the caller counts it in free_folios; 0: kept, put back on a list), or NOT_HANDLED with
 * nothing changed when the page is not the common case.
 */
export function shrinkAnonSmall(v: AnonShrinkPages, pfn: number, list: number, active: number): number {
  if (!fast) return NOT_HANDLED;
  const swap = v.env.swap;
  const pages = v.env.pages;
  const flags = pages.flags;
  if (swap === null || v.large[pfn] !== 0) return NOT_HANDLED;
  if ((flags[pfn] & (PageFlag.Mlocked | PageFlag.Lazyfree)) !== 0) return NOT_HANDLED;
  const um = v.env.userMm;
  const env = um.env;
  const pt = env.pgtable;
  // splitForReclaim's "not a large folio": no whole THP's block, no live mTHP folio
  const nr = pt.hpagePmdNr;
  const head = pfn - (pfn & (nr - 1)); // HPAGE_PMD_NR: a power of two (no integer division a page)
  if (pages.priv[head] > 0 && pages.kind[head] === PageKind.UserAnon) return NOT_HANDLED;
  if (env.mthp !== undefined && env.mthp.liveOrders !== 0) return NOT_HANDLED;
  if (env.ksm?.isKsm(pfn)) return NOT_HANDLED; // a KSM page: rmap_walk_ksm (ksm_rmap.ts)
  // folio_referenced: rmap_walk_anon over the anon_vma's chain, which must map the page once
  // (rmapFind leaves `hit` alone where it finds nothing: it holds the one mapping after the loop)
  const c = anonChain(v, pfn);
  if (c === null) return NOT_HANDLED;
  const vmas = c.vmas;
  let at = -1;
  for (let i = 0; i < vmas.length; i++) {
    const f = rmapFind(v, pfn, true, undefined, c.mms[i], vmas[i]);
    if (f === Found.None) continue;
    if (f !== Found.Entry || at >= 0) return NOT_HANDLED;
    at = i;
  }
  if (at < 0) return NOT_HANDLED;
  const vma = vmas[at];
  const mm = c.mms[at];
  if ((vma.vmFlags & VmFlag.LOCKED) !== 0) return NOT_HANDLED;
  const h = hit;
  const words = h.words;
  if (words === null) return NOT_HANDLED;
  const hi = h.hi;
  const lo = h.lo;
  const cp = pt.contpte;
  if (cp?.isCont(hi, lo)) return NOT_HANDLED;
  // shrink_folio_list's checks: one mapping, found; no pin; no reference but it and the swap cache's
  const slotOf = swap.slotOf;
  let slot = slotOf.at(pfn);
  const cached = slot >= 0;
  if (pages.mapcount[pfn] !== 1 || pages.refcount[pfn] !== (cached ? 2 : 1) || v.pinned.has(pfn))
    return NOT_HANDLED;
  anonShrinkStats.handled++;
  // folio_check_references: PG_referenced read and cleared
  const referencedBefore = v.referenced[pfn] !== 0;
  if (pt.young(hi, lo)) {
    // folio_referenced_one: ptep_clear_flush_young, the entry stored into the table rmapFind read
    const e = pt.modifyInto(youngCleared, hi, lo, 0, PteFlag.YOUNG);
    const w = h.w;
    words[w] = e.lo;
    words[w + 1] = e.hi;
    if (pt.clearYoungFlush) v.env.flushPage(mm, h.vpn);
    // referenced: marked, and spared for another trip (activated if it was marked already)
    v.referenced[pfn] = 1;
    if (referencedBefore) v.activateLocked(pfn, active, 1, true);
    else v.add(pfn, list);
    return 0;
  }
  v.referenced[pfn] = 0;
  // add_to_swap: a slot unless the page has one (a swap-cache page: written already)
  if (!cached) {
    slot = swap.allocSlot();
    if (slot < 0) {
      v.activateLocked(pfn, active, 1, true); // no swap: activate_locked
      return 0;
    }
  }
  // the rest in two functions of their own, each with its own budget for the engine's inlining
  const dirty = unmapToSwap(v, pfn, mm, slot) || !cached || (pages.flags[pfn] & PageFlag.Dirty) !== 0;
  pageoutFree(v, pfn, swap, slot, dirty, cached);
  return 1;
}

/**
 * try_to_unmap_one of shrinkAnonSmall's page (rmap.ts tryToUnmapAnonAt's direct store): the PTE
 * rmapFind left in `hit` becomes the swap entry of `slot`; whether it was dirty.
 */
function unmapToSwap(v: AnonShrinkPages, pfn: number, mm: MmStruct, slot: number): boolean {
  const h = hit;
  const vpn = h.vpn;
  const hi = h.hi;
  const lo = h.lo;
  const words = h.words!;
  const w = h.w;
  const pages = v.env.pages;
  const env = v.env.userMm.env;
  const pt = env.pgtable;
  env.cache.flushCachePage(mm, vpn, pfn);
  const exclusive = (pages.flags[pfn] & PageFlag.AnonExclusive) !== 0;
  mm.updateHiwaterRss();
  words[w] = pt.mkSwapLo(slot, exclusive);
  words[w + 1] = pt.mkSwapHi(slot, exclusive);
  const ubc = env.tlbUbc;
  if (ubc?.arch.shouldDefer(mm)) setTlbUbcFlushPending(ubc, pt, mm, vpn, hi, lo);
  else if (pt.accessible(hi, lo)) env.flushTlbMmRange(mm, vpn, 1, TlbFlush.Page);
  pages.flags[pfn] &= ~PageFlag.AnonExclusive;
  v.env.swap!.map[slot]++;
  mm.swapEnts++;
  mm.rssAnon--;
  pages.mapcount[pfn]--;
  pages.refcount[pfn]--;
  return pt.dirty(hi, lo);
}

/** pageout (when dirty), __remove_mapping (the shadow left at the slot) and the free of shrinkAnonSmall's page. */
function pageoutFree(
  v: AnonShrinkPages,
  pfn: number,
  swap: SwapArea,
  slot: number,
  dirty: boolean,
  cached: boolean,
): void {
  const um = v.env.userMm;
  if (dirty) {
    tryToUnmapFlushDirty(um.env.tlbUbc);
    v.env.phys.saveFrame(pfnUnchecked(pfn), swap.contents, slot);
    swap.wrotePage(slot);
    v.stats.nr_vmscan_write++;
  }
  const shadow = v.evictShadow(pfn, 1);
  if (cached) {
    swap.removeFromCache(pfn);
    v.env.pages.refcount[pfn]--;
  }
  swap.setShadow(slot, shadow);
  v.del(pfn);
  freeUnmapped(um, pfn);
  countStolen(v.stats, v.reclaimCtx, 1, false);
}
