/**
 * A large shmem folio (a tmpfs file's or memfd's, mm/shmem_huge.ts; a
 * shared anonymous or SysV object's, mm/shmem_anon_huge.ts, PMD-size or, for
 * shared anonymous memory, smaller) reclaimed whole,
 * as Linux 6.12 does under CONFIG_THP_SWAP (64-bit x86, arm64 with 4K pages,
 * RISC-V: ARCH_WANTS_THP_SWAP): shrink_folio_list handles the folio as one
 * (try_to_unmap with TTU_SPLIT_HUGE_PMD clears its PMDs, its PTEs go), and
 * shmem_writepage splits it only where i_size (shmem_fallocend) falls inside
 * it, else folio_alloc_swap asks for HPAGE_PMD_NR consecutive slots of one
 * cluster (get_swap_pages of its order: mm/swap_cluster.ts; 2^order for a
 * smaller folio) and, given them, writes the folio whole (swap_writepage:
 * count_swpout_vm_event, THP_SWPOUT for the PMD size, the size's swpout,
 * PSWPOUT += its pages); the object holds a swap entry at each
 * of its indices (vmlab keeps them per index, as shmem_split_large_entry
 * leaves them when a page of the folio is read back, order 0, by
 * shmem_swapin_folio). No slots (or a 32-bit kernel, without THP_SWAP):
 * the caller splits the folio and writes its pages one by one ("try_split").
 * A clean folio (never written) is dropped whole (__remove_mapping: no
 * shmem_writepage, no split), swap or not.
 * Linux: mm/shmem.c shmem_writepage, shmem_swapin_folio, shmem_split_large_entry;
 * mm/vmscan.c shrink_folio_list; mm/page_io.c swap_writepage, count_swpout_vm_event
 */
import { pfnUnchecked } from "../../base/units.ts";
import type { FileObject } from "../fs/file.ts";
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

/** shmemSwapOutFolio's answer where the folio is not reclaimed whole: the caller goes on page by page */
export const SHMEM_SPLIT = 0;
/** ... and where it stays (another of its pages is held or was referenced): nothing reclaimed */
export const SHMEM_KEEP = -1;

/**
 * shrink_folio_list + shmem_writepage for the large shmem folio holding
 * page `pfn` (at its owner's index `index`), which the scan took: the pages
 * reclaimed (the folio's), SHMEM_SPLIT where Linux would split it (no such
 * folio, i_size inside it, no THP_SWAP, no free cluster), or SHMEM_KEEP when
 * another of its pages is held or was referenced through a page table
 * (folio_referenced looks at every mapping of the folio; the folio stays).
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
    // shmem_writepage: no swap (redirty, unsplit), no CONFIG_THP_SWAP (64BIT only: a user space
    // above 4 GiB), or i_size (in pages, rounded up) inside the folio: the caller's path
    if (swap === null || um.env.taskSizeVpn <= 1 << 20) return SHMEM_SPLIT;
    // shmem_fallocend: a tmpfs file's i_size, or past it what fallocate (KEEP_SIZE) allocated
    const size = Math.ceil((tmpfs ? owner.sizeBytes : owner.sizePages * 4096) / 4096);
    const eof = tmpfs ? Math.max(size, owner.fallocend) : size;
    if (eof > start && eof < start + nr) return SHMEM_SPLIT;
    slot = allocSwapRange(swap, order); // folio_alloc_swap: get_swap_pages(1, &entry, order)
    if (slot < 0) return SHMEM_SPLIT; // try_split
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
