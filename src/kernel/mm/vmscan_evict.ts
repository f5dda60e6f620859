/**
 * The end of shrink_folio_list for a page-cache page (dropFile) and a shmem
 * page (shmemWriteout): unmapped, written back or to swap, removed from the
 * cache with a shadow entry left in its place (__remove_mapping:
 * workingset_eviction, mm/workingset.ts) and freed.
 * Linux: mm/vmscan.c shrink_folio_list, pageout, __remove_mapping; mm/shmem.c shmem_writeout
 */
import type { FileObject } from "../fs/file.ts";
import { freeUnmapped } from "./memory.ts";
import { PageFlag } from "./PageDesc.ts";
import { DirtyFolio, fileFolioDirty, type ReclaimWriteback } from "./page_writeback.ts";
import type { PageCache } from "./pagecache.ts";
import type { PfnSetLike } from "./pfnset.ts";
import { folioReferenced, type RmapEnv, type RmapPages, tryToUnmapFile, tryToUnmapShmem } from "./rmap.ts";
import { type ShmemOwner, shmemDroppedClean, shmemPages } from "./shmem.ts";
import { SHMEM_SPLIT, shmemSwapOutFolio, shmemWritePage } from "./shmem_swapout.ts";
import type { SwapArea } from "./swapfile.ts";
import { tryToUnmapFlushDirty } from "./tlbbatch.ts";
import { ShmemObject } from "./vma.ts";
import { Reclaimer } from "./vmscan_stat.ts";

/** What eviction needs of reclaim (mm/vmscan.ts's Vmscan has it all). */
export interface EvictPages extends RmapPages {
  readonly env: RmapEnv & { readonly pageCache: PageCache; readonly swap: SwapArea | null };
  /** the file or shmem object of each page-cache page, and its index there */
  readonly owner: (FileObject | ShmemObject | undefined)[];
  readonly index: Float64Array;
  /** pages a fault holds (reclaim leaves them alone) */
  readonly pinned: PfnSetLike;
  /** takes the page off the lists for good */
  del(pfn: number): void;
  /** workingset_eviction: the shadow of a folio of nr pages leaving memory (0: none kept) */
  evictShadow(pfn: number, nr: number): number;
  readonly stats: { nr_vmscan_write: number; pgactivate: number };
  /** dirty page-cache folios left to the flusher (page_writeback.ts; null: reclaim writes them itself) */
  readonly writeback: ReclaimWriteback | null;
  readonly reclaimCtx: { readonly reclaimer: Reclaimer; readonly mayWritepage: boolean };
}

/**
 * A shmem page (shrink_folio_list, then pageout -> shmem_writeout):
 * unmapped everywhere (its PTEs cleared: the object keeps the page, not
 * the page tables); a clean page (never written: zeros) is simply dropped
 * from the object (__remove_mapping); a dirty one is written to a new swap
 * slot, which the object holds in its place (shmem_delete_from_page_cache
 * with the swap entry, swap_shmem_alloc), and freed. vmlab frees it as soon
 * as it is written, as for anonymous pages (Linux frees it on a later pass,
 * when the writeback has ended). 0 without a free slot: the page stays
 * in the object, unmapped, and is activated (AOP_WRITEPAGE_ACTIVATE). A page
 * of a large folio takes the folio with it: written whole, or split and its
 * pages below i_size written, those past it dropped (mm/shmem_swapout.ts).
 * Returns the pages reclaimed.
 * Linux: mm/vmscan.c shrink_folio_list, pageout; mm/shmem.c shmem_writeout
 */
export function shmemWriteout(v: EvictPages, pfn: number): number {
  const obj = v.owner[pfn] as ShmemOwner;
  const index = v.index[pfn];
  const pages = v.env.pages;
  const resident = shmemPages(obj);
  if (resident.get(index) !== pfn) {
    // a clean, unmapped swap-cache page (read ahead): __remove_mapping takes it out of the swap
    // cache (__delete_from_swap_cache, a shadow in its place) and frees it; the object keeps its
    // swap entry
    const swap = v.env.swap!;
    const slot = swap.slotOf.at(pfn);
    const shadow = v.evictShadow(pfn, 1);
    swap.removeFromCache(pfn);
    if (slot >= 0) swap.setShadow(slot, shadow);
    v.del(pfn);
    v.owner[pfn] = undefined;
    pages.flags[pfn] &= ~PageFlag.SwapBacked;
    pages.refcount[pfn]--;
    freeUnmapped(v.env.userMm, pfn);
    return 1;
  }
  // a large folio: whole (CONFIG_THP_SWAP), or split by shmem_writepage (mm/shmem_swapout.ts)
  if (obj.folios.size > 0) {
    const n = shmemSwapOutFolio(v, pfn, obj, index);
    if (n !== SHMEM_SPLIT) return Math.max(n, 0);
  }
  tryToUnmapShmem(v, pfn);
  const dirty = (pages.flags[pfn] & PageFlag.Dirty) !== 0;
  // shrink_folio_list: a dirty folio is kept when the reclaim may not write (kswapd's boosted run)
  if (dirty && !v.reclaimCtx.mayWritepage) return 0;
  // pageout -> shmem_writepage: to a swap slot, or (none free) kept (mm/shmem_swapout.ts)
  if (dirty) return shmemWritePage(v, pfn, obj, index);
  shmemDroppedClean(obj, index);
  resident.delete(index);
  v.del(pfn);
  v.owner[pfn] = undefined;
  pages.flags[pfn] &= ~(PageFlag.Dirty | PageFlag.SwapBacked);
  pages.refcount[pfn]--; // the object's reference
  freeUnmapped(v.env.userMm, pfn);
  return 1;
}

/**
 * A page-cache page: unmapped everywhere, then dropped from the cache; a
 * dirty one is left to the flusher (page_writeback.ts: activated or kept,
 * DirtyFolio, the page unmapped) or, without that (the policies other than
 * linux), written back first. A page of a large folio takes its folio with it,
 * as shrink_folio_list handles the folio whole: unless another of its
 * pages is held or was referenced through a page table (folio_referenced
 * looks at every PTE of the folio), all its pages are unmapped, written
 * back and removed together (__remove_mapping). Returns the pages dropped
 * (0: none; DirtyFolio's negative answers: none, the folio kept dirty).
 * Linux: mm/vmscan.c shrink_folio_list, __remove_mapping
 */
export function dropFile(v: EvictPages, pfn: number): number {
  const f = v.owner[pfn] as FileObject | ShmemObject;
  if (f instanceof ShmemObject || f.fs === "tmpfs") return shmemWriteout(v, pfn);
  const pc = v.env.pageCache;
  const index = v.index[pfn];
  const start = f.folios.size > 0 ? pc.folioStart(f, index) : index;
  const nr = pc.folioPages(f, start);
  const pages = v.env.pages;
  for (let i = start; i < start + nr; i++) {
    const p = f.cache.get(i)!;
    if (p === pfn) continue;
    if (v.pinned.has(p)) return 0;
    const r = folioReferenced(v, p);
    if (r.young > 0 || r.locked || r.found !== pages.mapcount[p] || pages.refcount[p] !== r.found + 1)
      return 0;
  }
  const wb = v.writeback;
  if (wb !== null) {
    // try_to_unmap, then folio_test_dirty (a dirty PTE's bit is the folio's now): no writepage
    for (let i = start; i < start + nr; i++) tryToUnmapFile(v, f.cache.get(i)!, f, i);
    if (fileFolioDirty(pc, f, index)) {
      const kswapd = v.reclaimCtx.reclaimer === Reclaimer.Kswapd;
      const r = wb.dirtyFolio(pages.flags, pfn, kswapd, wb.referencedClean);
      if (r === DirtyFolio.Activate) v.stats.pgactivate++; // activate_locked: stat->nr_activate
      return r;
    }
  }
  // __remove_mapping: workingset_eviction once for the folio, its shadow at each of its indices
  const shadow = v.evictShadow(pfn, nr);
  for (let i = start; i < start + nr; i++) {
    const p = f.cache.get(i)!;
    if (wb === null) tryToUnmapFile(v, p, f, i);
    if (f.dirty.has(i)) {
      tryToUnmapFlushDirty(v.env.userMm.env.tlbUbc);
      v.stats.nr_vmscan_write++; // pageout: the writepage below
    }
    pc.writeback(f, i);
    v.del(p);
    v.owner[p] = undefined;
  }
  // vmlab frees the folio's frames one by one (each accounted by itself)
  for (let i = start, o = 31 - Math.clz32(nr); i < start + nr; i++) {
    if (!pc.evict(f, i, o)) return i - start;
    if (shadow !== 0) {
      f.shadows.set(i, shadow);
      pc.shadowNodes?.updateFile(f, i);
    }
  }
  return nr;
}
