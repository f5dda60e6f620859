/**
 * Shared anonymous memory: the shmem object behind a MAP_SHARED |
 * MAP_ANONYMOUS mapping and its fault path. Linux: mm/shmem.c
 * (shmem_zero_setup, shmem_fault, the object's pages freed with its last
 * reference).
 */
import { pfnUnchecked } from "../../base/units.ts";
import { Gfp } from "./gfp.ts";
import { type MmContext, VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { putPage } from "./memory.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { ptePa, setPteAt, userPte } from "./pgtable.ts";
import { ShmemObject, type Vma, VmFlag } from "./vma.ts";

/**
 * A shared anonymous mapping is backed by a new shmem object, which the VMA
 * holds the first reference to.
 * Linux: mm/shmem.c shmem_zero_setup
 */
export function shmemZeroSetup(vma: Vma): void {
  vma.shmem = new ShmemObject();
  vma.shmem.refs = 1;
}

/**
 * A VMA drops its reference to a shmem object; the last one frees the
 * object's pages.
 * Linux: mm/shmem.c shmem_evict_inode (shmem_truncate_range)
 */
export function shmemPut(ctx: MmContext, obj: ShmemObject): void {
  if (--obj.refs > 0) return;
  for (const pfn of obj.pages.values()) putPage(ctx, pfn);
  obj.pages.clear();
  // shmem_undo_range: the swap entries go too (shmem_free_swap)
  // (free_swap_and_cache: a page read ahead into the swap cache for the slot goes with it)
  const swap = ctx.env.swap!;
  for (const slot of obj.swapped.values()) {
    const pfn = swap.cache.get(slot);
    if (pfn !== undefined) {
      swap.removeFromCache(pfn);
      putPage(ctx, pfn);
    }
    swap.put(slot);
  }
  obj.swapped.clear();
}

/**
 * shmem_fault + finish_fault: find the page at this offset in the shmem
 * object, allocating a zeroed one if it has none (a read allocates too:
 * shared memory has no zero-page shortcut), and map it; a shared writable
 * mapping maps it writable at once.
 * Linux: mm/shmem.c shmem_fault (shmem_get_folio), mm/memory.c finish_fault
 */
export function shmemFault(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pa: number,
  write: boolean,
): VmFault {
  const env = ctx.env;
  const obj = vma.shmem!;
  if (!write) {
    // do_read_fault: fault-around first (shmem's vm_ops have map_pages); it maps the page
    // itself when the object has it
    shmemFaultAround(ctx, mm, vma, vpn);
    const now = env.pgtable.get(env.phys, pa);
    if (!env.pgtable.none(now.hi, now.lo)) return VmFault.OK;
  }
  const pgoff = vma.vmPgoff + (vpn - vma.vmStart);
  let pfn = obj.pages.get(pgoff);
  let major = false;
  if (pfn === undefined) {
    const slot = obj.swapped.get(pgoff);
    if (slot !== undefined) {
      // shmem_swapin_folio: a page read ahead into the swap cache is found there (a minor fault);
      // otherwise PGMAJFAULT and shmem_swapin_cluster reads it with its neighbours
      major = !env.swap!.cache.has(slot);
      pfn = shmemSwapin(ctx, obj, pgoff, slot);
      if (pfn < 0) return VmFault.OOM;
    } else {
      const p = env.buddy.alloc(0, Gfp.HIGHUSER, PageKind.PageCache);
      if (p < 0) return VmFault.OOM;
      env.phys.zeroFrame(pfnUnchecked(p));
      // shmem_alloc_and_add_folio: a shmem folio is swap-backed (__folio_set_swapbacked) and
      // joins the anon LRU (folio_add_lru; page_is_file_lru is false for it)
      env.pages.flags[p] |= PageFlag.SwapBacked;
      obj.pages.set(pgoff, p);
      env.lru?.addShmem(p, obj, pgoff);
      pfn = p;
    }
  }
  // do_shared_fault -> fault_dirty_shared_page: a write fault dirties the folio (folio_mark_dirty)
  if (write && vma.vmFlags & VmFlag.WRITE) env.pages.flags[pfn] |= PageFlag.Dirty;
  mapShmemPage(ctx, mm, vma, pa, pfn, write);
  return major ? VmFault.MAJOR : VmFault.OK;
}

/**
 * shmem_swapin_folio: the page of a swapped-out offset, from the swap cache
 * or read from the device with its neighbours (shmem_swapin_cluster), goes
 * back into the object: it leaves the swap cache (delete_from_swap_cache),
 * the object's swap entry is freed (swap_free_nr) and the page is dirty, its
 * only copy now. The swap cache's reference becomes the object's. Returns
 * the frame, or -1 without memory.
 * Linux: mm/shmem.c shmem_swapin_folio
 */
function shmemSwapin(ctx: MmContext, obj: ShmemObject, pgoff: number, slot: number): number {
  const env = ctx.env;
  const swap = env.swap!;
  let pfn = swap.cache.get(slot) ?? -1;
  if (pfn < 0) {
    pfn = shmemReadSlot(ctx, obj, pgoff, slot);
    if (pfn < 0) return -1;
    // the faulting folio is held while the readahead allocates: reclaim cannot take it back
    env.lru?.pinned.add(pfn);
    shmemSwapinCluster(ctx, obj, slot);
    env.lru?.pinned.delete(pfn);
  }
  swap.removeFromCache(pfn);
  obj.swapped.delete(pgoff);
  swap.put(slot);
  env.pages.flags[pfn] |= PageFlag.Dirty;
  obj.pages.set(pgoff, pfn);
  return pfn;
}

/**
 * __read_swap_cache_async + swap_read_folio for a shmem slot: a new
 * swap-backed page holding the slot's contents, in the swap cache (its one
 * reference) and on the anon LRU, not yet in the object. Returns the frame,
 * or -1 without memory.
 * Linux: mm/swap_state.c __read_swap_cache_async, mm/page_io.c swap_read_folio
 */
function shmemReadSlot(ctx: MmContext, obj: ShmemObject, pgoff: number, slot: number): number {
  const env = ctx.env;
  const swap = env.swap!;
  const p = env.buddy.alloc(0, Gfp.HIGHUSER, PageKind.PageCache);
  if (p < 0) return -1;
  env.phys.loadFrame(swap.contents, slot, pfnUnchecked(p));
  swap.addToCache(slot, p);
  swap.pswpin++;
  env.pages.flags[p] |= PageFlag.SwapBacked;
  env.lru?.addShmem(p, obj, pgoff);
  return p;
}

/**
 * Swap cluster readahead around a shmem swap-in (swap_cluster_readahead,
 * taken at its full window as vmlab's anonymous readahead is): the other
 * slots of the aligned block of 2^page_cluster slots around the target are
 * read into the swap cache, not into the object; a later fault on one finds
 * it there (a minor fault). Linux reads every slot of the block in use;
 * vmlab reads those this object holds, as a swap-cache page in vmlab needs
 * an owner for reclaim to find (an anonymous one its anon_vma). vmlab's
 * swap device is not SWP_SYNCHRONOUS_IO, so readahead is never skipped.
 * Linux: mm/shmem.c shmem_swapin_cluster, mm/swap_state.c swap_cluster_readahead
 */
function shmemSwapinCluster(ctx: MmContext, obj: ShmemObject, slot: number): void {
  const n = 1 << ctx.settings.pageCluster;
  if (n <= 1) return;
  const swap = ctx.env.swap!;
  const start = slot - (slot % n);
  const end = start + n;
  for (const [pgoff, s] of obj.swapped) {
    if (s < start || s >= end || s === slot || swap.cache.has(s)) continue;
    if (shmemReadSlot(ctx, obj, pgoff, s) < 0) return;
    swap.readahead++;
  }
}

/** finish_fault / set_pte_range for a shmem page: writable at once where the VMA is (no write-notify). */
function mapShmemPage(ctx: MmContext, mm: MmStruct, vma: Vma, pa: number, pfn: number, dirty: boolean): void {
  ctx.env.pages.refcount[pfn]++;
  ctx.env.pages.mapcount[pfn]++;
  mm.rssShmem++;
  const e = userPte(ctx, pfn, vma.vmFlags, (vma.vmFlags & VmFlag.WRITE) !== 0, dirty, false);
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
    mapShmemPage(ctx, mm, vma, pa, pfn, false);
  }
}

/**
 * The frames of the shmem objects mapped by these address spaces.
 */
export function shmemFrames(mms: MmStruct[]): number[] {
  const objs = new Set<ShmemObject>();
  for (const mm of mms) for (const v of mm.vmas) if (v.shmem) objs.add(v.shmem);
  const out: number[] = [];
  for (const o of objs) out.push(...o.pages.values());
  return out;
}
