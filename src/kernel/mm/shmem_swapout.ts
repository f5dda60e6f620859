/**
 * A large shmem folio (a tmpfs file's or memfd's, mm/shmem_huge.ts; a
 * shared anonymous or SysV object's, mm/shmem_anon_huge.ts, PMD-size or, for
 * shared anonymous memory, smaller) reclaimed whole,
 * as Linux 6.12 does under CONFIG_THP_SWAP (64-bit x86, arm64 with 4K pages,
 * RISC-V: ARCH_WANTS_THP_SWAP): shrink_folio_list handles the folio as one
 * (try_to_unmap with TTU_SPLIT_HUGE_PMD clears its PMDs, its PTEs go), and
 * shmem_writepage splits it only where i_size (shmem_fallocend) falls inside
 * it (shmemSplitWrite: the pages past it dropped, the others written one by
 * one), else folio_alloc_swap asks for HPAGE_PMD_NR consecutive slots of one
 * cluster (get_swap_pages of its order: mm/swap_cluster.ts; 2^order for a
 * smaller folio) and, given them, writes the folio whole (swap_writepage:
 * count_swpout_vm_event, THP_SWPOUT for the PMD size, the size's swpout,
 * PSWPOUT += its pages); the object holds a swap entry at each
 * of its indices (vmlab keeps them per index, as shmem_split_large_entry
 * leaves them when a page of the folio is read back, order 0, by
 * shmem_swapin_folio). No slots (or a 32-bit kernel, without THP_SWAP):
 * split, and its pages written one by one ("try_split": shmemSplitWrite).
 * A clean folio (never written) is dropped whole (__remove_mapping: no
 * shmem_writepage, no split), swap or not.
 * Linux: mm/shmem.c shmem_writepage, shmem_swapin_folio, shmem_split_large_entry;
 * mm/vmscan.c shrink_folio_list; mm/page_io.c swap_writepage, count_swpout_vm_event
 */
import { pfnUnchecked } from "../../base/units.ts";
import type { FileObject } from "../fs/file.ts";
import { countFolioSplit } from "./huge_memory.ts";
import { freeUnmapped } from "./memory.ts";
import { PageFlag } from "./PageDesc.ts";
import type { PageCache } from "./pagecache.ts";
import type { PfnSetLike } from "./pfnset.ts";
import { folioReferenced, type RmapEnv, type RmapPages, tryToUnmapShmem } from "./rmap.ts";
import { type ShmemOwner, shmemPages, shmemSetSwapEntry } from "./shmem.ts";
import { shmemObjFolioGone, shmemObjFolioStart } from "./shmem_anon_huge.ts";
import { allocSwapRange } from "./swap_cluster.ts";
import type { SwapArea } from "./swapfile.ts";
import { tryToUnmapFlushDirty } from "./tlbbatch.ts";
import { ShmemObject } from "./vma.ts";

/** What the whole-folio reclaim needs of reclaim (mm/vmscan_evict.ts EvictPages has it all). */
export interface ShmemEvict extends RmapPages {
  readonly env: RmapEnv & { readonly pageCache: PageCache; readonly swap: SwapArea | null };
  readonly pinned: PfnSetLike;
  del(pfn: number): void;
  evictShadow(pfn: number, nr: number): number;
  readonly stats: { nr_vmscan_write: number };
  readonly reclaimCtx: { readonly mayWritepage: boolean };
  /** reclaim_pages (MADV_PAGEOUT): the folio's references are not looked at */
  readonly ignoreReferences?: boolean;
}

/** shmemSwapOutFolio's answer where the page is in no large folio: the caller's order-0 path */
export const SHMEM_SPLIT = 0;
/** ... and where it stays (another of its pages is held or was referenced): nothing reclaimed */
export const SHMEM_KEEP = -1;

/**
 * shrink_folio_list + shmem_writepage for the large shmem folio holding
 * page `pfn` (at its owner's index `index`), which the scan took: the pages
 * reclaimed (the folio's, or where shmem_writepage splits it, i_size inside
 * it, no THP_SWAP, no free cluster, those shmemSplitWrite wrote), SHMEM_SPLIT
 * where there is no such folio, or SHMEM_KEEP when another of its pages is
 * held or was referenced through a page table (folio_referenced looks at
 * every mapping of the folio; the folio stays), or the folio is dirty and
 * may not be written (no swap at all: shmem_writepage redirties it unsplit).
 */
export function shmemSwapOutFolio(v: ShmemEvict, pfn: number, owner: ShmemOwner, index: number): number {
  const env = v.env;
  const um = env.userMm;
  const pc = env.pageCache;
  const tmpfs = !(owner instanceof ShmemObject);
  const start = tmpfs ? pc.folioStart(owner, index) : shmemObjFolioStart(owner, index, pc.pmdOrder);
  // a large folio of any order (shared anonymous memory has them below the PMD size too)
  const order = start < 0 ? 0 : (owner.folios.get(start) ?? 0);
  if (order === 0) return SHMEM_SPLIT;
  const nr = 2 ** order;
  const resident = shmemPages(owner);
  const pages = env.pages;
  const head = resident.get(start)!;
  // the folio as one: none of its other pages held, referenced through a mapping or pinned
  for (let i = 0; i < nr; i++) {
    const p = head + i;
    if (p === pfn) continue;
    if (v.pinned.has(p) || resident.get(start + i) !== p) return SHMEM_KEEP;
    if (v.ignoreReferences === true) continue;
    const r = folioReferenced(v, p);
    if (r.young > 0 || r.locked || r.found !== pages.mapcount[p] || pages.refcount[p] !== r.found + 1)
      return SHMEM_KEEP;
  }
  // try_to_unmap of the folio: its PMDs cleared (a dirty one dirties the folio), its PTEs
  for (let i = 0; i < nr; i++) tryToUnmapShmem(v, head + i);
  let dirty = false;
  for (let i = 0; i < nr && !dirty; i++) dirty = (pages.flags[head + i] & PageFlag.Dirty) !== 0;
  if (tmpfs) for (let i = 0; i < nr && !dirty; i++) dirty = owner.dirty.has(start + i);
  // shrink_folio_list: a dirty folio is kept when the reclaim may not write (kswapd's boosted run)
  if (dirty && !v.reclaimCtx.mayWritepage) return SHMEM_KEEP;
  const swap = env.swap;
  let slot = -1;
  if (dirty) {
    // shmem_writepage: no swap at all (!total_swap_pages): redirty, unsplit (AOP_WRITEPAGE_ACTIVATE)
    if (swap === null) return SHMEM_KEEP;
    // shmem_fallocend: a tmpfs file's i_size (in pages, rounded up), or past it what fallocate
    // (KEEP_SIZE) allocated
    const size = Math.ceil((tmpfs ? owner.sizeBytes : owner.sizePages * 4096) / 4096);
    const eof = tmpfs ? Math.max(size, owner.fallocend) : size;
    // no CONFIG_THP_SWAP (64BIT only: a user space above 4 GiB), or i_size inside the folio: split
    if (um.env.taskSizeVpn <= 1 << 20 || (eof > start && eof < start + nr))
      return shmemSplitWrite(v, pfn, owner, start, order, eof);
    slot = allocSwapRange(swap, order); // folio_alloc_swap: get_swap_pages(1, &entry, order)
    if (slot < 0) return shmemSplitWrite(v, pfn, owner, start, order, eof); // try_split
    tryToUnmapFlushDirty(um.env.tlbUbc); // pageout: no write through a stale TLB entry
  }
  // __remove_mapping: one shadow for the folio (workingset_eviction), in each of its slots
  const shadow = v.evictShadow(pfn, nr);
  if (tmpfs) {
    owner.folios.delete(start);
    pc.largeHeads.delete(head);
    pages.flags[head] &= ~PageFlag.Head;
  } else shmemObjFolioGone(um, owner, start);
  for (let i = 0; i < nr; i++) {
    const p = head + i;
    if (dirty) {
      env.phys.saveFrame(pfnUnchecked(p), swap!.contents, slot + i);
      swap!.wrotePage(slot + i); // count_swpout_vm_event: PSWPOUT += nr
      shmemSetSwapEntry(swap!, owner, start + i, slot + i); // swap_shmem_alloc, shmem_delete_from_page_cache
      swap!.setShadow(slot + i, shadow);
    }
    if (tmpfs) owner.dirty.delete(start + i);
    resident.delete(start + i);
    v.del(p);
    v.owner[p] = undefined;
    pages.flags[p] &= ~(PageFlag.Dirty | PageFlag.SwapBacked);
    pages.refcount[p]--; // the owner's reference
    freeUnmapped(um, p);
  }
  if (dirty) {
    v.stats.nr_vmscan_write += nr; // pageout: node_stat_add_folio(folio, NR_VMSCAN_WRITE)
    if (order === pc.pmdOrder) um.thpStats.thp_swpout++; // count_swpout_vm_event: THP_SWPOUT (folio_test_pmd_mappable)
    const st = um.env.mthp?.stats[order];
    if (st !== undefined) st.swpout++; // count_mthp_stat(order, MTHP_STAT_SWPOUT)
  }
  // shmem_writepage's shmem_recalc_inode(inode, 0, nr) (tmpfs: the pages left for swap stay
  // charged), or a clean folio dropped: nrpages falls, alloced does not until the next recalc
  if (tmpfs) {
    if (dirty) pc.shmemRecalc(owner as FileObject);
    else (owner as FileObject).unrecalced += nr;
  }
  return nr;
}

/**
 * shmem_writepage's split (try_split: no CONFIG_THP_SWAP, i_size or
 * shmem_fallocend inside the folio, or no free cluster for it) of the large
 * folio of `owner` at index `start`, which shrink_folio_list has unmapped
 * whole (try_to_unmap with TTU_SPLIT_HUGE_PMD) and found dirty:
 * folio_test_set_dirty ("Ensure the subpages are still dirty"), then
 * split_huge_page_to_list_to_order(page, wbc->list, 0): the folio's mark
 * gone (NR_SHMEM_THPS: ShmemHugePages), THP_SPLIT_PAGE for the PMD order and
 * the size's stats/split; __split_huge_page drops the tails at or past `end`
 * (DIV_ROUND_UP(i_size) or shmem_fallocend) from the page cache and frees
 * them (__filemap_remove_folio, folio_put: no shadow, no swap, not counted
 * in pgsteal) and shmem_uncharge recalculates the inode (their blocks
 * uncharged); the head is never dropped. shmem_writepage then writes the
 * head to a swap slot of its own, and each tail below `end`, which the split
 * put on reclaim's folio list (lru_add_page_tail, highest index first), makes
 * its own pass: unmapped, dirty, pageout -> shmem_writepage, a slot each.
 * vmlab writes those tails at once (Linux: at the end of the folio list,
 * after the folios taken with this one; the slots' order can differ). A page
 * without a slot stays in the cache, dirty (redirty: Linux activates it).
 * Returns the pages written (reclaimed); where none was and `pfn`, the page
 * in hand, was a tail dropped (vmlab's LRU holds the folio's pages one by
 * one; Linux's page in hand is the head), 1 for it, so that the caller does
 * not put a freed page back on a list.
 * Linux: mm/shmem.c shmem_writepage, shmem_uncharge; mm/huge_memory.c
 * split_huge_page_to_list_to_order, __split_huge_page, lru_add_page_tail; mm/vmscan.c shrink_folio_list
 */
function shmemSplitWrite(
  v: ShmemEvict,
  pfn: number,
  owner: ShmemOwner,
  start: number,
  order: number,
  end: number,
): number {
  const head = shmemPages(owner).get(start)!;
  shmemSplitFolio(v, owner, start, order, end);
  const index = start + (pfn - head);
  const pfnGone = index !== start && index >= end;
  // the head first (shmem_writepage goes on with it), then the tails of the list, highest index first
  let written = shmemWritePage(v, head, owner, start);
  for (let i = Math.min(2 ** order, end - start) - 1; i >= 1; i--)
    written += shmemWritePage(v, head + i, owner, start + i);
  return written === 0 && pfnGone ? 1 : written;
}

/**
 * shmem_writepage of a dirty, unmapped order-0 shmem page `pfn` at its
 * owner's index `index`: a swap slot (folio_alloc_swap), the page written
 * there (swap_writepage: PSWPOUT; pageout: NR_VMSCAN_WRITE), the owner
 * holding the entry in its place (swap_shmem_alloc, shmem_delete_from_page_cache),
 * a tmpfs inode recalculated (shmem_recalc_inode(inode, 0, 1)), and the page
 * freed as __remove_mapping would, a shadow left in the slot (workingset_eviction:
 * the page went through the swap cache). vmlab frees it as soon as it is
 * written, as for anonymous pages (Linux frees it on a later pass, when the
 * writeback has ended). No free slot: 0, the page stays dirty in the owner
 * (redirty, AOP_WRITEPAGE_ACTIVATE). Returns the pages written (0 or 1).
 * Linux: mm/shmem.c shmem_writepage; mm/vmscan.c pageout, __remove_mapping
 */
export function shmemWritePage(v: ShmemEvict, pfn: number, owner: ShmemOwner, index: number): number {
  const pages = v.env.pages;
  const swap = v.env.swap;
  const slot = swap === null ? -1 : swap.allocSlot();
  if (slot < 0) {
    pages.flags[pfn] |= PageFlag.Dirty; // folio_mark_dirty
    return 0;
  }
  const um = v.env.userMm;
  tryToUnmapFlushDirty(um.env.tlbUbc); // shrink_folio_list: try_to_unmap_flush_dirty before pageout
  v.env.phys.saveFrame(pfnUnchecked(pfn), swap!.contents, slot);
  swap!.wrotePage(slot);
  v.stats.nr_vmscan_write++; // pageout
  shmemSetSwapEntry(swap!, owner, index, slot); // the owner's swap entry
  // the page went through the swap cache (add_to_swap_cache in shmem_writepage), which
  // __remove_mapping leaves with a shadow when the write is done
  swap!.setShadow(slot, v.evictShadow(pfn, 1));
  if (!(owner instanceof ShmemObject)) {
    owner.dirty.delete(index); // a tmpfs page written through a mapping
    v.env.pageCache.shmemRecalc(owner); // shmem_recalc_inode(inode, 0, nr_pages)
  }
  shmemPages(owner).delete(index);
  v.del(pfn);
  v.owner[pfn] = undefined;
  pages.flags[pfn] &= ~(PageFlag.Dirty | PageFlag.SwapBacked);
  pages.refcount[pfn]--; // the owner's reference
  freeUnmapped(um, pfn);
  return 1;
}

/**
 * split_huge_page_to_list_to_order of the large shmem folio of `owner` at
 * index `start`, unmapped already: its mark gone (NR_SHMEM_THPS:
 * ShmemHugePages), THP_SPLIT_PAGE for the PMD order and the size's
 * stats/split; __split_huge_page drops its tails at or past `end`
 * (DIV_ROUND_UP(i_size) or shmem_fallocend; never the head) from the page
 * cache and frees them (__filemap_remove_folio, folio_put: no shadow), and
 * shmem_uncharge recalculates a tmpfs inode (shmem_recalc_inode: their
 * blocks uncharged). The pages below `end` stay in the cache, 4K folios.
 * Returns the pages dropped.
 * Linux: mm/huge_memory.c split_huge_page_to_list_to_order, __split_huge_page; mm/shmem.c shmem_uncharge
 */
export function shmemSplitFolio(
  v: ShmemEvict,
  owner: ShmemOwner,
  start: number,
  order: number,
  end: number,
): number {
  const um = v.env.userMm;
  const pc = v.env.pageCache;
  const pages = v.env.pages;
  const nr = 2 ** order;
  const resident = shmemPages(owner);
  const head = resident.get(start)!;
  if (owner instanceof ShmemObject) shmemObjFolioGone(um, owner, start);
  else pc.splitFolio(owner, start);
  countFolioSplit(um, order); // THP_SPLIT_PAGE (PMD order), count_mthp_stat(order, MTHP_STAT_SPLIT)
  // "Some pages can be beyond EOF: drop them from page cache" (shmem: nr_dropped)
  let dropped = 0;
  for (let i = nr - 1; i >= 1 && start + i >= end; i--) {
    const p = head + i;
    resident.delete(start + i);
    if (!(owner instanceof ShmemObject)) owner.dirty.delete(start + i);
    v.del(p);
    v.owner[p] = undefined;
    pages.flags[p] &= ~(PageFlag.Dirty | PageFlag.SwapBacked);
    pages.refcount[p]--; // the page cache's reference (folio_put)
    freeUnmapped(um, p);
    dropped++;
  }
  // shmem_uncharge -> shmem_recalc_inode: nrpages fell by the pages dropped, their blocks go
  if (dropped > 0 && !(owner instanceof ShmemObject)) {
    owner.unrecalced += dropped;
    pc.shmemRecalc(owner);
  }
  return dropped;
}
