/**
 * Shared anonymous memory: the shmem object behind a MAP_SHARED |
 * MAP_ANONYMOUS mapping and its fault path; and the swap side of every
 * shmem page, a tmpfs file's too: swap entries in the owner's place, swap-in
 * with cluster readahead, truncation. Linux: mm/shmem.c (shmem_zero_setup,
 * shmem_fault, shmem_swapin_folio, shmem_undo_range, the object's pages
 * freed with its last reference).
 */

import { pfnUnchecked } from "../../base/units.ts";
import type { FileObject } from "../fs/file.ts";
import { PteFlag } from "./arch.ts";
import { Gfp } from "./gfp.ts";
import { type MmContext, VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { allocUserPage, putPage } from "./memory.ts";
import { vmaMlocks } from "./mlock_fbatch.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { ptePa, setPteAt, userPte } from "./pgtable.ts";
import {
  shmemObjAllocHuge,
  shmemObjFolioGone,
  shmemObjFolioStart,
  shmemObjMapPmd,
} from "./shmem_anon_huge.ts";
import { swapinNrPages } from "./swap_state.ts";
import type { SwapArea } from "./swapfile.ts";
import { ShmemObject, type Vma, VmFlag } from "./vma.ts";

/**
 * A shared anonymous mapping is backed by a new shmem object, which the VMA
 * holds the first reference to. `charge`: the pages the object holds in
 * vm_committed_as (VM_ACCT(size), 0 with VM_NORESERVE; the caller checked
 * them with __vm_enough_memory), given back when the object goes.
 * Linux: mm/shmem.c shmem_zero_setup, shmem_kernel_file_setup, shmem_acct_size
 */
export function shmemZeroSetup(ctx: MmContext, vma: Vma, charge: number): void {
  vma.shmem = new ShmemObject();
  vma.shmem.refs = 1;
  vma.shmem.sizePages = vma.vmEnd - vma.vmStart; // shmem_kernel_file_setup("dev/zero", size)
  shmemAcctSize(ctx, vma.shmem, charge);
}

/**
 * shmem_acct_size's charge of a shmem object (a shared anonymous mapping's
 * or a SysV segment's) to vm_committed_as, checked by the caller.
 * Linux: mm/shmem.c shmem_acct_size, shmem_unacct_size (shmem_evict_inode)
 */
export function shmemAcctSize(ctx: MmContext, obj: ShmemObject, pages: number): void {
  obj.acctPages = pages;
  ctx.settings.shmemCommitted += pages;
}

/**
 * What holds shmem pages: the object of a shared anonymous mapping, or a
 * tmpfs file (both a shmem inode in Linux, whose xarray holds each page or,
 * once reclaim wrote it out, its swap entry).
 */
export type ShmemOwner = ShmemObject | FileObject;

/** The owner's resident pages by index (the object's pages, the tmpfs file's page cache). */
export function shmemPages(o: ShmemOwner): Map<number, number> {
  return o instanceof ShmemObject ? o.pages : o.cache;
}

/**
 * shmem_writeout's side of the xarray: the page at `index` went to `slot`,
 * which the owner now holds (swap_shmem_alloc: the slot's one reference).
 * Linux: mm/shmem.c shmem_writeout
 */
export function shmemSetSwapEntry(swap: SwapArea, owner: ShmemOwner, index: number, slot: number): void {
  swap.map[slot] = 1;
  owner.swapped.set(index, slot);
  swap.shmemSlots.set(slot, { owner, index });
}

/**
 * A clean order-0 shmem page reclaim dropped (never written, zeros:
 * __remove_mapping, no shmem_writepage): for a tmpfs page nrpages falls,
 * alloced does not, so its charge stays until the inode's next recalc
 * (PageCache.shmemRecalc). A shared anonymous or SysV object's pages were
 * charged whole (shmem_acct_size): nothing to do. (A dirty page goes by
 * mm/shmem_swapout.ts shmemWritePage, a large folio by shmemSwapOutFolio.)
 * Linux: mm/vmscan.c shrink_folio_list, __remove_mapping; mm/shmem.c shmem_recalc_inode
 */
export function shmemDroppedClean(owner: ShmemOwner, index: number): void {
  if (owner instanceof ShmemObject) return;
  owner.dirty.delete(index);
  owner.unrecalced++;
}

/**
 * shmem_free_swap -> free_swap_and_cache: the owner's swap entry at `index`
 * goes; a page read ahead into the swap cache for the slot goes with it.
 * Linux: mm/shmem.c shmem_free_swap, mm/swapfile.c free_swap_and_cache_nr
 */
export function shmemFreeSwap(ctx: MmContext, owner: ShmemOwner, index: number): void {
  const swap = ctx.env.swap!;
  const slot = owner.swapped.get(index);
  if (slot === undefined) return;
  owner.swapped.delete(index);
  swap.shmemSlots.delete(slot);
  // shmem_recalc_inode: a tmpfs page gone from swap too is uncharged (shmem_inode_unacct_blocks;
  // a shared anonymous object's pages were charged whole, shmem_acct_size)
  if (!(owner instanceof ShmemObject)) ctx.env.pageCache.shmemInodeAcct(owner, -1);
  const pfn = swap.cache.get(slot);
  if (pfn !== undefined) {
    swap.removeFromCache(pfn);
    putPage(ctx, pfn);
  }
  swap.put(slot);
}

/**
 * The swap side of truncating a tmpfs file to `holeIndex` pages: the swap
 * entries past the new end are freed (shmem_undo_range: shmem_free_swap),
 * and a swapped page that holds the new end (`partial`) is read back first,
 * so that its tail can be zeroed (shmem_get_partial_folio).
 * Linux: mm/shmem.c shmem_undo_range
 */
export function shmemTruncateSwap(ctx: MmContext, f: FileObject, holeIndex: number, partial: boolean): void {
  if (partial && holeIndex > 0) shmemSwapinIndex(ctx, f, holeIndex - 1);
  for (const index of [...f.swapped.keys()]) if (index >= holeIndex) shmemFreeSwap(ctx, f, index);
}

/**
 * MADV_WILLNEED on a tmpfs or shared anonymous mapping (both shmem_mapping):
 * the swapped pages of indices [from, to) are read into the swap cache (no
 * readahead around them), not into the owner; their faults are then minor.
 * Linux: mm/madvise.c madvise_willneed, shmem_swapin_range
 */
export function shmemWillneed(ctx: MmContext, f: ShmemOwner, from: number, to: number): void {
  const swap = ctx.env.swap;
  if (swap === null) return;
  // xas_for_each: the swap entries in index order (the map holds them in the order reclaim wrote them)
  const entries = [...f.swapped].filter(([index]) => index >= from && index < to).sort((x, y) => x[0] - y[0]);
  // read_swap_cache_async: a page that gets no memory is passed over (shmem_swapin_range goes on)
  for (const [index, slot] of entries) if (!swap.cache.has(slot)) shmemReadSlot(ctx, f, index, slot);
  ctx.env.lru?.fbatches.drain(); // madvise_willneed: lru_add_drain after shmem_swapin_range
}

/**
 * A VMA drops its reference to a shmem object; the last one frees the
 * object's pages.
 * Linux: mm/shmem.c shmem_evict_inode (shmem_truncate_range)
 */
export function shmemPut(ctx: MmContext, obj: ShmemObject): void {
  if (--obj.refs > 0) {
    obj.shmClose?.(); // a SysV shm VMA closing: shm_close (ipc/shm.c)
    return;
  }
  // shmem_undo_range's folio_batch_release: lru_add_drain, then the pages go
  if (obj.pages.size > 0) ctx.env.lru?.fbatches.drain();
  for (const start of [...obj.folios.keys()]) shmemObjFolioGone(ctx, obj, start); // truncate_inode_folio: whole
  for (const pfn of obj.pages.values()) putPage(ctx, pfn);
  obj.pages.clear();
  // shmem_undo_range: the swap entries go too (shmem_free_swap)
  for (const index of [...obj.swapped.keys()]) shmemFreeSwap(ctx, obj, index);
  // shmem_evict_inode: shmem_unacct_size
  ctx.settings.shmemCommitted -= obj.acctPages;
  obj.acctPages = 0;
}

/**
 * shmem_get_folio for an index whose page is in swap: from the swap cache
 * (a minor fault) or read from the device with its neighbours (major). The
 * frame (-1 without memory) and whether I/O was needed; null when the
 * owner has no swap entry there.
 * Linux: mm/shmem.c shmem_get_folio_gfp, shmem_swapin_folio
 */
export function shmemSwapinIndex(
  ctx: MmContext,
  owner: ShmemOwner,
  index: number,
): { pfn: number; major: boolean } | null {
  const slot = owner.swapped.get(index);
  if (slot === undefined) return null;
  const major = !ctx.env.swap!.cache.has(slot);
  return { pfn: shmemSwapin(ctx, owner, index, slot), major };
}

/**
 * shmem_fault + finish_fault: find the page at this offset in the shmem
 * object, allocating a zeroed one if it has none (a read allocates too:
 * shared memory has no zero-page shortcut), and map it; a shared writable
 * mapping maps it writable at once. `freshTable`: the fault found the PMD
 * none (its PTE table is this fault's, vmf->prealloc_pte): a PMD-size folio
 * may then be mapped by the PMD instead.
 * Linux: mm/shmem.c shmem_fault (shmem_get_folio), mm/memory.c finish_fault
 */
export function shmemFault(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pa: number,
  write: boolean,
  freshTable = false,
): VmFault {
  const env = ctx.env;
  const obj = vma.shmem!;
  const index = vma.vmPgoff + (vpn - vma.vmStart);
  // a page of a PMD-size folio the object has: filemap_map_pmd (read) or finish_fault maps it
  // by one PMD where it may (do_set_pmd, only on a PMD the fault found none; mm/shmem_anon_huge.ts)
  if (
    freshTable &&
    obj.folios.size > 0 &&
    obj.pages.has(index) &&
    shmemObjMapPmd(ctx, mm, vma, vpn, index, write)
  )
    return VmFault.OK;
  if (!write) {
    // do_read_fault: fault-around first (shmem's vm_ops have map_pages); it maps the page
    // itself when the object has it
    shmemFaultAround(ctx, mm, vma, vpn);
    const now = env.pgtable.get(env.phys, pa);
    if (!env.pgtable.none(now.hi, now.lo)) return VmFault.OK;
  }
  const pgoff = index;
  let pfn = obj.pages.get(pgoff);
  let major = false;
  if (pfn === undefined) {
    // shmem_swapin_folio: a page read ahead into the swap cache is found there (a minor fault);
    // otherwise PGMAJFAULT and shmem_swapin_cluster reads it with its neighbours
    const got = shmemSwapinIndex(ctx, obj, pgoff);
    if (got !== null) {
      if (got.major) ctx.pgmajfault++; // shmem_swapin_folio with a fault_type: PGMAJFAULT before the read
      if (got.pfn < 0) return VmFault.OOM;
      major = got.major;
      pfn = got.pfn;
    } else {
      // shmem_get_folio_gfp: a PMD-size folio where shmem_allowable_huge_orders grants one, mapped
      // by a PMD where the VMA allows it (finish_fault: do_set_pmd)
      const huge = shmemObjAllocHuge(ctx, mm, obj, vma, vpn, pgoff);
      if (huge >= 0 && freshTable && shmemObjMapPmd(ctx, mm, vma, vpn, pgoff, write)) return VmFault.OK;
      if (huge >= 0) return shmemFinishFault(ctx, mm, vma, vpn, pa, huge, write) ? VmFault.OK : VmFault.OOM;
      const p = env.buddy.alloc(0, Gfp.HIGHUSER_MOVABLE, PageKind.PageCache);
      if (p < 0) return VmFault.OOM;
      // shmem_alloc_and_add_folio: mem_cgroup_charge(folio, fault_mm, gfp) with the mapping's gfp;
      // refused (-ENOMEM), the folio is put back: VM_FAULT_OOM
      const charge = env.pageCache.memcgCharge;
      if (charge !== null && !charge(1, Gfp.HIGHUSER_MOVABLE)) {
        env.pages.refcount[p] = 0;
        env.buddy.free(p, 0);
        return VmFault.OOM;
      }
      env.phys.zeroFrame(pfnUnchecked(p));
      // shmem_alloc_and_add_folio: a shmem folio is swap-backed (__folio_set_swapbacked) and
      // joins the anon LRU (folio_add_lru; page_is_file_lru is false for it)
      env.pages.flags[p] |= PageFlag.SwapBacked;
      obj.pages.set(pgoff, p);
      env.lru?.addShmem(p, obj, pgoff);
      pfn = p;
    }
  }
  if (!shmemFinishFault(ctx, mm, vma, vpn, pa, pfn, write)) return VmFault.OOM;
  return major ? VmFault.MAJOR : VmFault.OK;
}

/**
 * finish_fault for page `pfn` of the shmem object at vpn (its PTE at `pa`, none): the page
 * mapped; for shared anonymous memory (vma_is_anon_shmem, not a SysV segment) a page of a large
 * folio maps its whole folio by PTEs where the folio lies inside the VMA and the page table and
 * all its PTEs are none (set_pte_range of nr_pages; a write maps each writable and dirty);
 * then do_shared_fault's fault_dirty_shared_page dirties the folio (folio_mark_dirty). False
 * when a page table could not be had.
 * Linux: mm/memory.c finish_fault, set_pte_range, do_shared_fault
 */
function shmemFinishFault(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pa: number,
  pfn: number,
  write: boolean,
): boolean {
  const env = ctx.env;
  const obj = vma.shmem!;
  const index = vma.vmPgoff + (vpn - vma.vmStart);
  const start = obj.folios.size > 0 ? shmemObjFolioStart(obj, index, env.pageCache.pmdOrder) : -1;
  const dirty = write && (vma.vmFlags & VmFlag.WRITE) !== 0;
  if (start >= 0 && !obj.sysv) {
    const nr = 2 ** obj.folios.get(start)!;
    const first = vpn - (index - start);
    const ptrs = env.pgtable.ptrsPerTable;
    const fits =
      first >= vma.vmStart &&
      first + nr <= vma.vmEnd &&
      Math.floor(first / ptrs) === Math.floor((first + nr - 1) / ptrs);
    const pas: number[] = [];
    for (let v = first; fits && v < first + nr; v++) {
      const p = ptePa(ctx, mm, v, true);
      if (p < 0) return false;
      const e = env.pgtable.get(env.phys, p);
      if (!env.pgtable.none(e.hi, e.lo)) break; // !pte_range_none: needs_fallback, one page
      pas.push(p);
    }
    if (fits && pas.length === nr) {
      const head = obj.pages.get(start)!;
      if (dirty) for (let i = 0; i < nr; i++) env.pages.flags[head + i] |= PageFlag.Dirty;
      for (let i = 0; i < nr; i++) mapShmemPage(ctx, mm, vma, pas[i], head + i, write);
      return true;
    }
  }
  // do_shared_fault -> fault_dirty_shared_page: a write fault dirties the folio (folio_mark_dirty)
  if (dirty) {
    if (start >= 0) {
      const head = obj.pages.get(start)!;
      for (let i = 0; i < 2 ** obj.folios.get(start)!; i++) env.pages.flags[head + i] |= PageFlag.Dirty;
    } else env.pages.flags[pfn] |= PageFlag.Dirty;
  }
  mapShmemPage(ctx, mm, vma, pa, pfn, write);
  return true;
}

/**
 * shmem_swapin_folio: the page of a swapped-out offset, from the swap cache
 * or read from the device with its neighbours (shmem_swapin_cluster), goes
 * back into its owner (object or tmpfs file): it leaves the swap cache
 * (delete_from_swap_cache), the owner's swap entry is freed (swap_free_nr)
 * and the page is dirty, its only copy now. The swap cache's reference
 * becomes the owner's. Returns
 * the frame, or -1 without memory.
 * Linux: mm/shmem.c shmem_swapin_folio
 */
function shmemSwapin(ctx: MmContext, owner: ShmemOwner, index: number, slot: number): number {
  const env = ctx.env;
  const swap = env.swap!;
  let pfn = swap.cache.at(slot);
  // swap_cache_get_folio(swap, NULL, 0): with no VMA a readahead hit counts in the global
  // swapin_readahead_hits that size the next cluster window
  if (pfn >= 0) {
    if (swap.cacheHit(env.pages.flags, pfn)) swap.raHits++;
  } else {
    pfn = shmemSwapinCluster(ctx, owner, index, slot);
    if (pfn < 0) return -1;
    env.lru?.pinned.delete(pfn);
  }
  swap.removeFromCache(pfn);
  owner.swapped.delete(index);
  swap.shmemSlots.delete(slot);
  // shmem_recalc_inode(inode, 0, -nr): the page left swap for the page cache, so it stays
  // charged (resident now); pages reclaim dropped clean before are uncharged here
  if (!(owner instanceof ShmemObject)) env.pageCache.shmemRecalc(owner);
  swap.put(slot);
  env.pages.flags[pfn] |= PageFlag.Dirty;
  shmemPages(owner).set(index, pfn);
  return pfn;
}

/**
 * __read_swap_cache_async + swap_read_folio for a shmem slot: a new
 * swap-backed page holding the slot's contents, in the swap cache (its one
 * reference) and on the anon LRU, not yet in its owner. Returns the frame,
 * or -1 without memory.
 * Linux: mm/swap_state.c __read_swap_cache_async, mm/page_io.c swap_read_folio
 */
function shmemReadSlot(ctx: MmContext, owner: ShmemOwner, index: number, slot: number): number {
  const env = ctx.env;
  const swap = env.swap!;
  const p = env.buddy.alloc(0, Gfp.HIGHUSER_MOVABLE, PageKind.PageCache);
  if (p < 0) return -1;
  // mem_cgroup_swapin_charge_folio with the mapping's gfp: refused, the folio is put back
  const charge = env.pageCache.memcgCharge;
  if (charge !== null && !charge(1, Gfp.HIGHUSER_MOVABLE)) {
    env.pages.refcount[p] = 0;
    env.buddy.free(p, 0);
    return -1;
  }
  env.phys.loadFrame(swap.contents, slot, pfnUnchecked(p));
  const shadow = swap.addToCache(slot, p); // for workingset_refault
  swap.pswpin++;
  env.pages.flags[p] |= PageFlag.SwapBacked;
  env.lru?.addShmem(p, owner, index, shadow);
  return p;
}

/**
 * __read_swap_cache_async for a slot an anonymous swap PTE names, read by
 * swap_cluster_readahead for someone else's fault: a swap-backed page in the
 * swap cache with no anon_vma yet (the fault that maps it gives it one,
 * folio_add_anon_rmap), on the anon LRU, where reclaim finds it unmapped and
 * clean and frees it. Returns the frame, or -1 without memory.
 * Linux: mm/swap_state.c __read_swap_cache_async
 */
function anonReadSlot(ctx: MmContext, slot: number): number {
  const swap = ctx.env.swap!;
  const pfn = allocUserPage(ctx);
  if (pfn < 0) return -1;
  ctx.env.phys.loadFrame(swap.contents, slot, pfnUnchecked(pfn));
  const shadow = swap.addToCache(slot, pfn); // for workingset_refault
  swap.orphans.add(pfn);
  ctx.env.pages.refcount[pfn] = 1;
  ctx.env.lru?.addAnon(pfn, -1, 0, 0, shadow);
  swap.pswpin++;
  return pfn;
}

/**
 * shmem_swapin_cluster -> swap_cluster_readahead: the page of `slot` comes in with the other
 * slots in use of the aligned cluster of swapin_nr_pages slots around it, read in slot order into
 * the swap cache, whoever owns them: this or another shmem object or tmpfs file (the page waits
 * for its owner's fault, a minor one), or an anonymous swap PTE of any process (the page waits,
 * with no anon_vma, for the fault of a PTE naming the slot); slot 0, the header, and slots past
 * the area's end are left out. The others are marked readahead (swap_ra). The window is
 * __swapin_nr_pages of the global readahead state (swapin_nr_pages: the hits since the last
 * window, taken and zeroed, the offset of the last fault that found none, the last window), at
 * most 2^page_cluster; 1: the page alone ("skip"). A page whose allocation fails is passed over;
 * the fault's page, once read, is held (vmlab's reads complete at once: the folio lock of Linux's
 * read keeps reclaim from it) until the caller lets go. vmlab's swap device is not
 * SWP_SYNCHRONOUS_IO, so readahead is never bypassed. Returns the page (held), or -1.
 * Linux: mm/shmem.c shmem_swapin_cluster, mm/swap_state.c swap_cluster_readahead, swapin_nr_pages
 */
function shmemSwapinCluster(ctx: MmContext, owner: ShmemOwner, index: number, slot: number): number {
  const swap = ctx.env.swap!;
  const lru = ctx.env.lru;
  let pages = 1;
  const maxPages = 1 << ctx.settings.pageCluster;
  if (maxPages > 1) {
    // swapin_nr_pages: atomic_xchg(&swapin_readahead_hits, 0)
    const hits = swap.raHits;
    swap.raHits = 0;
    pages = swapinNrPages(swap.raPrevOffset, slot, hits, maxPages, swap.raLastPages);
    if (hits === 0) swap.raPrevOffset = slot;
    swap.raLastPages = pages;
  }
  if (pages > 1) {
    const start = Math.max(1, slot - (slot % pages)); // the first page is the swap header
    const end = Math.min(slot - (slot % pages) + pages, swap.nrSlots);
    for (let s = start; s < end; s++) {
      // __read_swap_cache_async: swapcache_prepare fails on a free slot or one already cached
      if (swap.map[s] === 0 || !swap.holds(s) || swap.cache.has(s)) continue;
      const sh = s === slot ? { owner, index } : swap.shmemSlots.get(s);
      const p =
        sh === undefined ? anonReadSlot(ctx, s) : shmemReadSlot(ctx, sh.owner as ShmemOwner, sh.index, s);
      if (p < 0) continue; // no folio: the cluster goes on
      if (s === slot) lru?.pinned.add(p);
      else {
        ctx.env.pages.flags[p] |= PageFlag.Readahead; // folio_set_readahead, count_vm_event(SWAP_RA)
        swap.readahead++;
      }
    }
    lru?.fbatches.drain(); // swap_cluster_readahead: "Push any new pages onto the LRU now"
  }
  // skip: the fault's page, read in the loop (or now)
  let pfn = swap.cache.at(slot);
  if (pfn < 0) {
    pfn = shmemReadSlot(ctx, owner, index, slot);
    if (pfn >= 0) lru?.pinned.add(pfn);
  }
  return pfn;
}

/** finish_fault / set_pte_range for a shmem page: writable at once where the VMA is (no write-notify). */
function mapShmemPage(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  pa: number,
  pfn: number,
  dirty: boolean,
  prefault = false,
): void {
  ctx.env.pages.refcount[pfn]++;
  ctx.env.pages.mapcount[pfn]++;
  if (vmaMlocks(vma.vmFlags)) ctx.env.lru?.fbatches.mlock.mlockFolio(pfn); // folio_add_file_rmap_ptes: mlock_vma_folio
  mm.rssShmem++;
  let e = userPte(ctx, pfn, vma.vmFlags, (vma.vmFlags & VmFlag.WRITE) !== 0, dirty, false);
  // set_pte_range: a prefaulted page old where arch_wants_old_prefaulted_pte (arm64 with hardware AF)
  if (prefault && ctx.env.pgtable.oldPrefaultedPte) e = ctx.env.pgtable.modify(e.hi, e.lo, 0, PteFlag.YOUNG);
  setPteAt(ctx, pa, e.hi, e.lo);
}

/**
 * do_fault_around for shared anonymous memory: on a read fault, the pages
 * the shmem object already has within the aligned fault_around window (16
 * pages by default), inside the VMA and the page table, are mapped too:
 * shmem_anon_vm_ops.map_pages is filemap_map_pages, as for a file. No page
 * is allocated and no extra fault counted.
 * Linux: mm/memory.c do_fault_around, mm/filemap.c filemap_map_pages (mm/shmem.c shmem_anon_vm_ops)
 */
function shmemFaultAround(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number): void {
  const n = ctx.settings.faultAroundPages;
  if (n <= 1) return;
  const pt = ctx.env.pgtable;
  const obj = vma.shmem!;
  const ptrs = pt.ptrsPerTable;
  // do_fault_around: from the aligned start (or the VMA's), for n pages, inside the table
  const start = Math.max(vma.vmStart, vpn - (vpn % n), vpn - (vpn % ptrs));
  const end = Math.min(vma.vmEnd, start + n, vpn - (vpn % ptrs) + ptrs);
  for (let v = start; v < end; v++) {
    const pfn = obj.pages.get(vma.vmPgoff + (v - vma.vmStart));
    if (pfn === undefined) continue;
    const pa = ptePa(ctx, mm, v, true);
    if (pa < 0) continue;
    const e = pt.get(ctx.env.phys, pa);
    if (!pt.none(e.hi, e.lo)) continue;
    mapShmemPage(ctx, mm, vma, pa, pfn, false, v !== vpn);
  }
}

/**
 * The frames of the shmem objects mapped by these address spaces, and of
 * `more` (SysV shm segments, attached or not).
 */
export function shmemFrames(mms: MmStruct[], more: Iterable<ShmemObject> = []): number[] {
  const objs = new Set<ShmemObject>(more);
  for (const mm of mms) for (const v of mm.vmas) if (v.shmem) objs.add(v.shmem);
  const out: number[] = [];
  for (const o of objs) out.push(...o.pages.values());
  return out;
}
