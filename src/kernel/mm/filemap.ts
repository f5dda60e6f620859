/**
 * File mappings: the fault of a mapped file's page through the page cache
 * (read-around on a miss, fault-around on a hit, private copies, write-notify
 * on shared mappings), and msync. Linux: mm/filemap.c (filemap_fault,
 * do_sync_mmap_readahead, filemap_map_pages), mm/memory.c (do_read_fault,
 * do_cow_fault, do_shared_fault, do_fault_around, finish_fault),
 * mm/msync.c, mm/rmap.c (folio_mkclean).
 */

import type { FileObject } from "../fs/file.ts";
import { OpenFile } from "../fs/open.ts";
import { PteFlag } from "./arch.ts";
import { Gfp } from "./gfp.ts";
import { doSetPmd, filePmdSuitable } from "./huge_memory.ts";
import { Errno, linearIndex, type MmContext, VmFault } from "./internal.ts";
import { iMmap, type MmStruct } from "./MmStruct.ts";
import { allocUserPage, copyFrame, doWpPage, putPage, rssAdd } from "./memory.ts";
import { vmaMlocks } from "./mlock_fbatch.ts";
import { PageFlag } from "./PageDesc.ts";
import {
  emptyPmdForSetPmd,
  pmdOf,
  ptePa,
  ptepClearFlush,
  ptepSetAccessFlags,
  readPte,
  setPteAt,
  userPte,
} from "./pgtable.ts";
import {
  folioTestReadahead,
  pageCacheAsyncRa,
  pageCacheRaOrder,
  pageCacheSyncRa,
  raPagesOf,
} from "./readahead.ts";
import { shmemSwapinIndex } from "./shmem.ts";
import { shmemAllocPage, shmemVmaSuitable } from "./shmem_huge.ts";
import { thpVmFlags, type Vma, VmFlag } from "./vma.ts";

/**
 * May a file page be mapped writable before it is written? Not for private (COW) or disk-backed shared mappings (write-notify).
 * Linux: mm/mmap.c vma_wants_writenotify
 */
function fileWritableAtOnce(vma: Vma): boolean {
  return (
    (vma.vmFlags & (VmFlag.SHARED | VmFlag.WRITE)) === (VmFlag.SHARED | VmFlag.WRITE) &&
    vma.file !== null &&
    vma.file.fs === "tmpfs"
  );
}

/** MMAP_LOTSAMISS: read-around stops once mmap_miss passes it. Linux: mm/filemap.c */
const MMAP_LOTSAMISS = 100;

/**
 * do_async_mmap_readahead on a fault that found page `index` cached: none
 * under MADV_RANDOM or without readahead; else one less mmap_miss, and a
 * folio marked PG_readahead starts the async window (page_cache_async_ra,
 * ra_pages asked for). Linux: mm/filemap.c do_async_mmap_readahead
 */
function doAsyncMmapReadahead(ctx: MmContext, vma: Vma, f: FileObject, index: number): void {
  const file = vmFileOf(vma);
  const ra = raPagesOf(ctx, file);
  if (vma.vmFlags & VmFlag.RAND_READ || ra === 0) return;
  if (file.ra.mmapMiss > 0) file.ra.mmapMiss--;
  if (folioTestReadahead(ctx, f, index)) pageCacheAsyncRa(ctx, file, index, ra);
}

/**
 * vma->vm_file: the struct file mmap was given (fs/open.ts), whose f_ra the
 * read-around uses; a VMA made without one (the windows profile's section
 * views) gets one of its own here.
 */
export function vmFileOf(vma: Vma): OpenFile {
  vma.vmFile ??= new OpenFile(vma.file!, true);
  return vma.vmFile;
}

/**
 * do_sync_mmap_readahead on a fault that missed page `index` of a disk
 * file of 4K folios: nothing under MADV_RANDOM or without readahead;
 * under MADV_SEQUENTIAL page_cache_sync_ra of ra_pages; else, unless the
 * VMA's struct file's faults have missed more than MMAP_LOTSAMISS times more than
 * they hit (mmap_miss, counted up to 10x that), read-around: ra_pages
 * pages from half of them before the page, the last quarter async (its
 * first page marked PG_readahead), read in page order.
 * Linux: mm/filemap.c do_sync_mmap_readahead (6.18: ra->order 0)
 */
function doSyncMmapReadahead(ctx: MmContext, vma: Vma, index: number): void {
  const file = vmFileOf(vma);
  const raPages = raPagesOf(ctx, file);
  if (vma.vmFlags & VmFlag.RAND_READ || raPages === 0) return;
  if (vma.vmFlags & VmFlag.SEQ_READ) {
    pageCacheSyncRa(ctx, file, index, raPages);
    return;
  }
  const ra = file.ra;
  if (ra.mmapMiss < MMAP_LOTSAMISS * 10) ra.mmapMiss++;
  if (ra.mmapMiss > MMAP_LOTSAMISS) return;
  ra.start = Math.max(0, index - Math.floor(raPages / 2));
  ra.size = raPages;
  ra.asyncSize = Math.floor(raPages / 4);
  ra.order = 0;
  pageCacheRaOrder(ctx, file);
}

/**
 * A page of the file from the page cache (filemap_fault): a hit may start
 * async readahead (do_async_mmap_readahead); a miss reads it from disk, a
 * major fault, with the read-around of do_sync_mmap_readahead first (a
 * file of large folios: `readaheadPages`, or what posix_fadvise set,
 * centred on it, in the file's folios, the faulting folio first), then the
 * page alone if the window did not bring it (__filemap_get_folio with
 * FGP_CREAT). Returns the frame and whether I/O was needed, or null.
 * Linux: mm/filemap.c filemap_fault, do_sync_mmap_readahead, do_async_mmap_readahead
 */
function filePage(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  index: number,
): { pfn: number; major: boolean } | null {
  const f = vma.file!;
  const pc = ctx.env.pageCache;
  const have = pc.find(f, index);
  if (have >= 0) {
    if (f.fs === "disk") {
      // filemap_fault holds a reference on the folio it found while the async readahead allocates
      // (reclaim then cannot free it: __remove_mapping's refcount freeze fails)
      const pinned = ctx.env.lru?.pinned;
      const pin = pinned !== undefined && !pinned.has(have);
      if (pin) pinned.add(have);
      doAsyncMmapReadahead(ctx, vma, f, index);
      if (pin) pinned.delete(have);
    }
    return { pfn: have, major: false };
  }
  if (f.fs === "tmpfs") {
    // shmem_get_folio: a page reclaim wrote to swap comes back from it (shmem_swapin_folio: a
    // major fault unless read ahead into the swap cache)
    const swapped = shmemSwapinIndex(ctx, f, index);
    if (swapped !== null) {
      if (swapped.major) ctx.pgmajfault++; // shmem_swapin_folio: PGMAJFAULT before the read
      return swapped.pfn < 0 ? null : swapped;
    }
    // a page a truncate took away (the file grown again) comes back zeroed, no I/O; shmem_fault's
    // shmem_get_folio: a huge folio where the policy and the VMA allow it (mm/shmem_huge.ts)
    const vpn = vma.vmStart + (index - vma.vmPgoff);
    const suitable = shmemVmaSuitable(ctx.env.pgtable.hpagePmdNr, vpn, vma);
    const pfn = shmemAllocPage(pc, f, index, 0, thpVmFlags(mm, vma.vmFlags), suitable);
    return pfn < 0 ? null : { pfn, major: false };
  }
  if (f.folioOrder === 0) {
    doSyncMmapReadahead(ctx, vma, index);
    ctx.pgmajfault++; // filemap_fault: no folio, count_vm_event(PGMAJFAULT), then the read
    const pfn = pc.readPage(f, index, true);
    return pfn < 0 ? null : { pfn, major: true };
  }
  let from = index;
  let to = index + 1;
  if (!(vma.vmFlags & VmFlag.RAND_READ)) {
    const ra = raPagesOf(ctx, vmFileOf(vma)); // file->f_ra.ra_pages (POSIX_FADV_SEQUENTIAL doubles it)
    if (vma.vmFlags & VmFlag.SEQ_READ) to = index + ra;
    else {
      from = Math.max(0, index - Math.floor(ra / 2));
      to = from + ra;
    }
    to = Math.min(to, f.nrPages);
  }
  // page_cache_ra_order: the window in folios of the file's order, the faulting folio first
  ctx.pgmajfault++; // filemap_fault: count_vm_event(PGMAJFAULT)
  // do_sync_mmap_readahead's folios are charged with readahead_gfp_mask (no OOM kill); the page
  // it did not bring is __filemap_get_folio(FGP_CREAT) with vmf->gfp_mask: a 4K folio charged
  // fully (try_charge_memcg's retries and mem_cgroup_oom; refused, VM_FAULT_OOM)
  if (!pc.readahead(f, from, to, true, index) && pc.find(f, index) < 0) {
    const pfn = pc.readSmall(f, index, true);
    return pfn < 0 ? null : { pfn, major: true };
  }
  return { pfn: pc.find(f, index), major: true };
}

/**
 * vmf_error for a page filePage could not have: -ENOSPC (a tmpfs page
 * refused its charge, shmem_inode_acct_blocks) is SIGBUS, -ENOMEM is OOM.
 * Linux: include/linux/mm.h vmf_error; mm/shmem.c shmem_fault
 */
function vmfError(ctx: MmContext): VmFault {
  return ctx.env.pageCache.takeNospc() ? VmFault.SIGBUS : VmFault.OOM;
}

/** Is the PTE at pa empty (pte_none)? */
function pteNoneAt(ctx: MmContext, pa: number): boolean {
  const e = ctx.env.pgtable.get(ctx.env.phys, pa);
  return ctx.env.pgtable.none(e.hi, e.lo);
}

/**
 * Maps a page-cache page at pa for this VMA (finish_fault / do_set_pte).
 * Linux: mm/memory.c finish_fault, set_pte_range
 */
function mapFilePage(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  pa: number,
  pfn: number,
  writable: boolean,
  dirty: boolean,
  prefault = false,
): void {
  const env = ctx.env;
  env.pages.refcount[pfn]++;
  env.pages.mapcount[pfn]++;
  if (vmaMlocks(vma.vmFlags)) env.lru?.fbatches.mlock.mlockFolio(pfn); // folio_add_file_rmap_ptes: mlock_vma_folio
  rssAdd(ctx, mm, vma, pfn, 1);
  let e = userPte(ctx, pfn, vma.vmFlags, writable, dirty, false);
  // set_pte_range: a prefaulted page old where arch_wants_old_prefaulted_pte
  if (prefault && env.pgtable.oldPrefaultedPte) e = env.pgtable.modify(e.hi, e.lo, 0, PteFlag.YOUNG);
  setPteAt(ctx, pa, e.hi, e.lo);
}

/**
 * do_fault_around + filemap_map_pages: on a read fault, map the pages of the
 * file already in the page cache within the fault-around window
 * (fault_around_bytes, 16 pages by default: from the aligned start, or the
 * VMA's start, for 16 pages, inside the page table and the VMA), never past
 * the last page of the file. A large folio is mapped whole where it lies in
 * the VMA and in one page table (filemap_map_folio_range), unless the first
 * folio of the window reaches the end of the file (can_map_large: SIGBUS
 * semantics); then neither is the page table installed, so on a fault
 * that found no page table nothing is mapped around. No I/O, no extra
 * fault counted. `freshTable`: the fault found no page table (pmd_none).
 * Linux: mm/memory.c do_fault_around, mm/filemap.c filemap_map_pages,
 * filemap_map_pmd, filemap_map_folio_range (6.18; measured on this machine's
 * 6.18 kernel by test/differential/probe_folio.c)
 */
function faultAround(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number, freshTable: boolean): boolean {
  const n = ctx.settings.faultAroundPages;
  if (n <= 1) return false;
  const f = vma.file!;
  const pc = ctx.env.pageCache;
  const ptrs = ctx.env.pgtable.ptrsPerTable;
  const tableStart = vpn - (vpn % ptrs);
  const start = Math.max(vma.vmStart, vpn - (vpn % n), tableStart);
  const end = Math.min(vma.vmEnd, start + n, tableStart + ptrs);
  const fileEnd = f.nrPages - 1;
  const toIndex = (v: number) => vma.vmPgoff + (v - vma.vmStart);
  // next_uptodate_folio: the first cached page of the window (a folio marked PG_readahead is
  // skipped: the fault on it is to start the async window)
  const skip = (index: number) => pc.find(f, index) < 0 || folioTestReadahead(ctx, f, index);
  let v = start;
  while (v < end && toIndex(v) <= fileEnd && skip(toIndex(v))) v++;
  if (v >= end || toIndex(v) > fileEnd) return false;
  const first = pc.folioStart(f, toIndex(v));
  const canMapLarge = f.fs === "tmpfs" || fileEnd >= first + pc.folioPages(f, first);
  if (freshTable && !canMapLarge) return false; // filemap_map_pmd (and its pmd_install) skipped
  // filemap_map_pmd: a PMD-size folio on an empty PMD is mapped by the PMD (do_set_pmd)
  if (freshTable && mapFolioPmd(ctx, mm, vma, vpn, first, false)) return true;
  let mmapMiss = 0; // the pages mapped around (filemap_map_order0_folio: none is PG_workingset)
  for (; v < end; v++) {
    const index = toIndex(v);
    if (index > fileEnd) break;
    if (skip(index)) continue;
    const fs = pc.folioStart(f, index);
    const nr = pc.folioPages(f, fs);
    const fv = vma.vmStart + (fs - vma.vmPgoff); // where the folio's first page would be mapped
    if (
      nr > 1 &&
      canMapLarge &&
      fv >= vma.vmStart &&
      fv + nr <= vma.vmEnd &&
      Math.floor(fv / ptrs) === Math.floor((fv + nr - 1) / ptrs)
    ) {
      // the whole folio, its pages before and after the window too (one set_pte_range: prefault
      // unless it holds the faulting page)
      const prefault = vpn < fv || vpn >= fv + nr;
      for (let i = 0; i < nr; i++) mapCachedPage(ctx, mm, vma, fv + i, f, fs + i, prefault);
      mmapMiss += nr;
      v = fv + nr - 1;
    } else {
      mapCachedPage(ctx, mm, vma, v, f, index, v !== vpn);
      mmapMiss++;
    }
  }
  // filemap_map_pages: the hits taken off the file's mmap_miss
  if (f.fs === "disk") {
    const ra = vmFileOf(vma).ra;
    ra.mmapMiss = Math.max(0, ra.mmapMiss - mmapMiss);
  }
  return false;
}

/**
 * do_set_pmd from filemap_map_pmd or finish_fault: when the fault found no
 * page table (`freshTable`) and the cached folio holding page index `first`
 * is PMD-size and may be mapped whole here (filePmdSuitable), it is mapped
 * by one PMD. The PTE table fault.ts installed for this fault is still
 * empty: it is freed as Linux frees the fault's unused preallocated table
 * (vmf->prealloc_pte), leaving the PMD empty for do_set_pmd. A write maps
 * it writable and dirty, and dirties all its pages. True when mapped.
 * Linux: mm/filemap.c filemap_map_pmd, mm/memory.c finish_fault, do_set_pmd
 */
function mapFolioPmd(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  first: number,
  write: boolean,
): boolean {
  const f = vma.file!;
  const pc = ctx.env.pageCache;
  const start = pc.folioStart(f, first);
  const nr = pc.folioPages(f, start);
  if (nr === 1 || !filePmdSuitable(ctx, mm, vma, vpn, start, nr)) return false;
  const pmdPa = emptyPmdForSetPmd(ctx, mm, vpn - (vpn % nr));
  if (pmdPa < 0) return false;
  if (write && vma.vmFlags & VmFlag.SHARED) for (let i = 0; i < nr; i++) f.dirty.add(start + i);
  doSetPmd(ctx, mm, vma, pmdPa, pc.find(f, start), write);
  return true;
}

/** One page of the file at vpn, if its PTE is empty (filemap_map_folio_range's pte_none check). */
function mapCachedPage(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  f: FileObject,
  index: number,
  prefault: boolean,
): void {
  const pfn = ctx.env.pageCache.find(f, index);
  if (pfn < 0) return;
  const pa = ptePa(ctx, mm, vpn, true);
  if (pa < 0 || !pteNoneAt(ctx, pa)) return;
  mapFilePage(ctx, mm, vma, pa, pfn, fileWritableAtOnce(vma), false, prefault);
}

/**
 * The fault path of a file mapping: beyond the end of the file, SIGBUS; a
 * read maps the cached page (fault-around first), a write to a private
 * mapping copies it into an anonymous page (do_cow_fault), a write to a
 * shared mapping dirties the page cache page (do_shared_fault,
 * page_mkwrite). Major when the page had to be read.
 * Linux: mm/memory.c do_fault (do_read_fault, do_cow_fault, do_shared_fault), wp_page_shared
 */
export function filemapFault(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pa: number,
  write: boolean,
  hi: number,
  lo: number,
  freshTable = false,
): VmFault {
  const f = vma.file!;
  const index = vma.vmPgoff + (vpn - vma.vmStart);
  const env = ctx.env;
  const pt = env.pgtable;
  if (index >= f.nrPages) {
    // filemap_fault's `index >= max_idx`: VM_FAULT_SIGBUS; a read of a none PTE gets there after
    // do_read_fault's fault-around, which maps the window's cached pages up to file_end (a PMD
    // it maps covers the fault: VM_FAULT_NOPAGE, the access retried)
    if (!write && pt.none(hi, lo) && faultAround(ctx, mm, vma, vpn, freshTable)) return VmFault.OK;
    return VmFault.SIGBUS;
  }
  const shared = (vma.vmFlags & VmFlag.SHARED) !== 0;
  if (!pt.none(hi, lo)) {
    if (!pt.accessible(hi, lo)) return VmFault.SIGSEGV;
    if (write && !pt.write(hi, lo)) {
      if (shared) {
        // wp_page_shared + page_mkwrite: the page becomes dirty, the PTE writable; then
        // fault_dirty_shared_page (ctx.faultDirtyShared)
        f.dirty.add(index);
        if (f.fs === "disk") ctx.faultDirtyShared = true;
        env.cache.flushCachePage(mm, vpn, pt.pfn(hi, lo, 0)); // wp_page_reuse: flush_cache_page
        const e = pt.modify(hi, lo, PteFlag.WRITE | PteFlag.DIRTY | PteFlag.YOUNG, 0);
        ptepSetAccessFlags(ctx, mm, vpn, pa, { hi, lo }, e, true);
        ctx.pgreuse++; // wp_page_shared ends in wp_page_reuse: count_vm_event(PGREUSE)
        return VmFault.OK;
      }
      return doWpPage(ctx, mm, vma, vpn, pa, hi, lo);
    }
    const young = pt.modify(hi, lo, PteFlag.YOUNG | (write ? PteFlag.DIRTY : 0), 0);
    if (young.hi !== hi || young.lo !== lo) ptepSetAccessFlags(ctx, mm, vpn, pa, { hi, lo }, young, write);
    return VmFault.OK;
  }
  if (!write) {
    // do_read_fault: fault-around first; it maps the page itself when it is cached
    if (faultAround(ctx, mm, vma, vpn, freshTable)) return VmFault.OK;
    if (!pteNoneAt(ctx, pa)) return VmFault.OK;
    const got = filePage(ctx, mm, vma, index);
    if (got === null) return vmfError(ctx);
    const res = got.major ? VmFault.MAJOR : VmFault.OK;
    if (got.major) {
      // filemap_fault dropped mmap_lock for the read and returned VM_FAULT_RETRY; the retry
      // (FAULT_FLAG_TRIED, still counted as one major fault) maps around what is now cached
      if (faultAround(ctx, mm, vma, vpn, freshTable)) return res;
      if (!pteNoneAt(ctx, pa)) return VmFault.MAJOR;
    }
    // finish_fault: a PMD-size folio on an empty PMD is mapped by the PMD (do_set_pmd)
    if (freshTable && mapFolioPmd(ctx, mm, vma, vpn, index, false)) return res;
    mapFilePage(ctx, mm, vma, pa, got.pfn, fileWritableAtOnce(vma), false);
    return res;
  }
  if (!shared) return doCowFault(ctx, mm, vma, vpn, pa, index);
  const got = filePage(ctx, mm, vma, index);
  if (got === null) return vmfError(ctx);
  // do_shared_fault -> finish_fault: do_set_pmd maps a PMD-size folio writable and dirty; then
  // fault_dirty_shared_page (ctx.faultDirtyShared)
  if (f.fs === "disk") ctx.faultDirtyShared = true;
  if (freshTable && mapFolioPmd(ctx, mm, vma, vpn, index, true))
    return got.major ? VmFault.MAJOR : VmFault.OK;
  f.dirty.add(index);
  mapFilePage(ctx, mm, vma, pa, got.pfn, true, true);
  return got.major ? VmFault.MAJOR : VmFault.OK;
}

/**
 * do_cow_fault: a write to a private file mapping with no PTE. The copy's page is allocated and
 * charged first (vmf_anon_prepare, folio_prealloc: not yet on the LRU, so reclaim during the
 * read cannot see it), then the file page is found or read (__do_fault: filemap_fault, PGMAJFAULT),
 * copied (copy_mc_user_highpage) and the copy mapped writable and dirty (finish_fault ->
 * set_pte_range: folio_add_new_anon_rmap, folio_add_lru_vma). No page for the copy: VM_FAULT_OOM
 * before any read; the read failing: the copy freed (folio_put).
 * Linux: mm/memory.c do_cow_fault, finish_fault, set_pte_range
 */
function doCowFault(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number, pa: number, index: number): VmFault {
  const env = ctx.env;
  mm.anonVmaPrepare(vma);
  const pfn = allocUserPage(ctx); // folio_prealloc: zeroed, charged, on no list yet
  if (pfn < 0) return VmFault.OOM;
  const got = filePage(ctx, mm, vma, index);
  if (got === null) {
    putPage(ctx, pfn); // uncharge_out: folio_put
    return vmfError(ctx);
  }
  env.cache.copyUserHighpage(mm, vpn, got.pfn); // copy_mc_user_highpage: the arch's copy_user_highpage
  copyFrame(env.phys, got.pfn, pfn);
  env.pages.mapcount[pfn] = 1;
  env.pages.flags[pfn] |= PageFlag.AnonExclusive; // folio_add_new_anon_rmap(RMAP_EXCLUSIVE)
  env.lru?.addAnon(pfn, linearIndex(vma, vpn), vma.anonVma, vma.vmFlags); // folio_add_lru_vma
  mm.rssAnon++;
  // set_pte_range: maybe_mkwrite(pte_mkdirty()), read-only in a VMA without VM_WRITE (FOLL_FORCE)
  const e = userPte(ctx, pfn, vma.vmFlags, (vma.vmFlags & VmFlag.WRITE) !== 0, true, false);
  setPteAt(ctx, pa, e.hi, e.lo);
  return got.major ? VmFault.MAJOR : VmFault.OK;
}

/** PAGEVEC_SIZE: the folios one filemap_get_pages gathers. Linux: include/linux/pagevec.h */
const PAGEVEC_SIZE = 31;

/**
 * filemap_get_read_batch: the first pages of the cached folios from page
 * `index` on, in a row, up to page `max` (or PAGEVEC_SIZE folios), ending
 * after a folio marked PG_readahead. Linux: mm/filemap.c filemap_get_read_batch
 */
function filemapGetReadBatch(
  ctx: MmContext,
  f: FileObject,
  index: number,
  max: number,
  batch: number[],
): void {
  const pc = ctx.env.pageCache;
  batch.length = 0;
  for (let i = index; i <= max && batch.length < PAGEVEC_SIZE && pc.find(f, i) >= 0; ) {
    const start = pc.folioStart(f, i);
    batch.push(start);
    if (folioTestReadahead(ctx, f, start)) break;
    i = start + pc.folioPages(f, start);
  }
}

/**
 * filemap_get_pages for a read of `count` bytes at `pos`: the cached
 * folios there; none, page_cache_sync_ra reads them (its window), and if
 * even then none (no memory for the window), one 4K folio
 * (filemap_create_folio). The last folio of the batch marked PG_readahead
 * starts the async window (filemap_readahead). False when no memory.
 * Linux: mm/filemap.c filemap_get_pages, filemap_readahead, filemap_create_folio
 */
function filemapGetPages(
  ctx: MmContext,
  file: OpenFile,
  pos: number,
  count: number,
  batch: number[],
): boolean {
  const f = file.inode;
  const index = Math.floor(pos / 4096);
  const lastIndex = Math.ceil((pos + count) / 4096); // the page past the read's end
  filemapGetReadBatch(ctx, f, index, lastIndex - 1, batch);
  if (batch.length === 0) {
    pageCacheSyncRa(ctx, file, index, lastIndex - index);
    filemapGetReadBatch(ctx, f, index, lastIndex - 1, batch);
  }
  if (batch.length === 0) {
    // filemap_create_folio: filemap_add_folio with mapping_gfp_constraint(mapping, GFP_KERNEL),
    // a full charge (reclaim, retries, mem_cgroup_oom); refused: -ENOMEM
    if (ctx.env.pageCache.readSmall(f, index, true, Gfp.KERNEL) < 0) return false;
    batch.push(index);
    return true;
  }
  const last = batch[batch.length - 1];
  if (folioTestReadahead(ctx, f, last)) pageCacheAsyncRa(ctx, file, last, lastIndex - last);
  return true;
}

/** folio_get / folio_put of a batch's folio from page `start`: its frames held from reclaim or let go. */
function pinFolio(
  ctx: MmContext,
  f: FileObject,
  start: number,
  pinned: { add(pfn: number): void; delete(pfn: number): void },
  hold: boolean,
): void {
  const pc = ctx.env.pageCache;
  const nr = pc.folioPages(f, start);
  for (let i = start; i < start + nr; i++) {
    const pfn = pc.find(f, i);
    if (pfn < 0) continue;
    if (hold) pinned.add(pfn);
    else pinned.delete(pfn);
  }
}

/**
 * folio_mark_accessed of the cached folio from page `start`: each of its
 * pages (vmlab's LRU holds a page-cache folio page by page), as the LRU's
 * folio_mark_accessed takes it (mm/swap.ts folioMarkAccessed: PG_referenced
 * first, then activation through the lru_activate batch).
 * Linux: mm/swap.c folio_mark_accessed
 */
function markFolioAccessed(ctx: MmContext, f: FileObject, start: number): void {
  const lru = ctx.env.lru;
  if (lru === null) return;
  const pc = ctx.env.pageCache;
  const nr = pc.folioPages(f, start);
  for (let i = start; i < start + nr; i++) {
    const pfn = pc.find(f, i);
    if (pfn >= 0) lru.markAccessed(pfn);
  }
}

/**
 * filemap_read: read(2) of `count` bytes at file offset `pos` of a disk
 * file through the page cache, batch by batch (filemap_get_pages: readahead
 * as the open file's state says), each folio's part copied to the user
 * (`copy(pfn, pageOffset, bytes)`, one page at a time, returns the bytes
 * copied). Stops at EOF, or at a short copy (-EFAULT if nothing was read).
 * The folios read are marked accessed (folio_mark_accessed): the batch's
 * first unless the read begins in the folio where the last one ended
 * (pos_same_folio(ki_pos, last_pos - 1): a read re-reading one folio marks
 * it once), every later one it copies from. The host's 6.18 does the same
 * (test/differential/probe_openfile.c). FMODE_NOREUSE does not change it in
 * 6.12 (only vma_has_recency looks at it); assumed for 6.18, not measured.
 * The open file's prev_pos becomes the byte after the last one read.
 * Returns the bytes read, or -errno (EFAULT, ENOMEM).
 * Linux: mm/filemap.c filemap_read, pos_same_folio
 */
export function filemapRead(
  ctx: MmContext,
  file: OpenFile,
  pos: number,
  count: number,
  copy: (pfn: number, pageOffset: number, bytes: number) => number,
): number {
  if (count === 0) return 0;
  const f = file.inode;
  const pc = ctx.env.pageCache;
  const batch: number[] = [];
  let lastPos = file.ra.prevPos;
  let done = 0;
  let error = 0;
  let at = pos;
  do {
    const isize = f.sizeBytes;
    if (at >= isize) break;
    if (!filemapGetPages(ctx, file, at, count - done, batch)) {
      error = -Errno.ENOMEM;
      break;
    }
    const endOffset = Math.min(isize, pos + count);
    // the batch holds a reference on each folio while it is copied: reclaim (a fault in the user
    // buffer may run it) leaves them
    const pinned = ctx.env.lru?.pinned;
    if (pinned) for (const start of batch) pinFolio(ctx, f, start, pinned, true);
    // "When a read accesses the same folio several times, only mark it as accessed the first time"
    const firstSize = pc.folioPages(f, batch[0]) * 4096;
    if (Math.floor(at / firstSize) !== Math.floor((lastPos - 1) / firstSize))
      markFolioAccessed(ctx, f, batch[0]);
    for (let b = 0; b < batch.length; b++) {
      const start = batch[b];
      if (endOffset < start * 4096) break;
      if (b > 0) markFolioAccessed(ctx, f, start);
      const fsize = pc.folioPages(f, start) * 4096;
      const bytes = Math.min(endOffset - at, fsize - (at - start * 4096));
      // copy_folio_to_iter, a page at a time
      let copied = 0;
      while (copied < bytes) {
        const p = at + copied;
        const n = Math.min(bytes - copied, 4096 - (p % 4096));
        const got = copy(pc.find(f, Math.floor(p / 4096)), p % 4096, n);
        copied += got;
        if (got < n) break;
      }
      done += copied;
      at += copied;
      lastPos = at;
      if (copied < bytes) {
        error = -Errno.EFAULT;
        break;
      }
    }
    if (pinned) for (const start of batch) pinFolio(ctx, f, start, pinned, false);
  } while (done < count && at < f.sizeBytes && error === 0);
  file.ra.prevPos = lastPos;
  return done > 0 ? done : error;
}

/**
 * msync (MS_SYNC) on [start, end) of mm: for each shared mapping of a disk
 * file there, write back the file's dirty pages in that range
 * (vfs_fsync_range), and write-protect and clean every PTE that maps them
 * through the file's i_mmap (page_mkclean through the rmap), so
 * the next write faults and dirties the page again. Returns pages written.
 * Linux: mm/msync.c sys_msync (vfs_fsync_range)
 */
export function msync(ctx: MmContext, mm: MmStruct, start: number, end: number): number {
  const written: number[] = [];
  for (const v of mm.vmas) {
    const f = v.file;
    if (f?.fs !== "disk" || !(v.vmFlags & VmFlag.SHARED) || v.vmEnd <= start || v.vmStart >= end) continue;
    const first = v.vmPgoff + (Math.max(start, v.vmStart) - v.vmStart);
    const last = v.vmPgoff + (Math.min(end, v.vmEnd) - 1 - v.vmStart);
    written.push(...filemapFdatawriteRange(ctx, f, first, last));
  }
  folioEndWriteback(ctx, written); // file_write_and_wait_range waits for each
  return written.length;
}

/**
 * page_mkclean: every shared mapping of the file page loses write permission and its dirty bit.
 * Linux: mm/rmap.c folio_mkclean
 */
function pageMkclean(ctx: MmContext, f: FileObject, index: number): void {
  const pt = ctx.env.pgtable;
  // rmap_walk_file over the file's i_mmap; folio_mkclean's walk skips all but shared mappings
  for (const [v, m] of iMmap(f)) {
    if (!(v.vmFlags & VmFlag.SHARED)) continue;
    if (index < v.vmPgoff || index >= v.vmPgoff + v.pages) continue;
    const vpn = v.vmStart + (index - v.vmPgoff);
    const nr = pt.hpagePmdNr;
    const pmd = pmdOf(ctx, m, vpn - (vpn % nr));
    if (pmd !== null && pt.leaf(pmd.hi, pmd.lo, pt.pmdLevel)) {
      // page_vma_mkclean_one on a PMD-mapped folio: pmdp_invalidate, then pmd_wrprotect(pmd_mkclean)
      if (!pt.write(pmd.hi, pmd.lo) && !pt.dirty(pmd.hi, pmd.lo)) continue;
      const old = ptepClearFlush(ctx, m, pmd.pa, vpn - (vpn % nr), pt.pmdLevel);
      const e = pt.modify(old.hi, old.lo, 0, PteFlag.DIRTY | PteFlag.WRITE);
      setPteAt(ctx, pmd.pa, e.hi, e.lo);
      continue;
    }
    const pte = readPte(ctx, m, vpn);
    if (pte === null || !pt.accessible(pte.hi, pte.lo)) continue;
    if (!pt.write(pte.hi, pte.lo) && !pt.dirty(pte.hi, pte.lo)) continue;
    // page_vma_mkclean_one: ptep_clear_flush, then the clean read-only entry
    const old = ptepClearFlush(ctx, m, pte.pa, vpn, 0);
    const e = pt.modify(old.hi, old.lo, 0, PteFlag.DIRTY | PteFlag.WRITE);
    setPteAt(ctx, pte.pa, e.hi, e.lo);
  }
}

/**
 * __filemap_fdatawrite_range(WB_SYNC_NONE) over pages [first, last] of a
 * disk file: each dirty page is written (folio_clear_dirty_for_io, whose
 * folio_mkclean write-protects and cleans every shared PTE mapping it) and
 * is under writeback (PG_writeback) until the caller ends it
 * (folioEndWriteback). Returns the frames written. A tmpfs file has no
 * writeback (shmem's writepage is reclaim's).
 * Linux: mm/filemap.c __filemap_fdatawrite_range, mm/page-writeback.c write_cache_pages, folio_clear_dirty_for_io
 */
export function filemapFdatawriteRange(ctx: MmContext, f: FileObject, first: number, last: number): number[] {
  const written: number[] = [];
  if (f.fs !== "disk" || f.dirty.size === 0) return written;
  const dirty = [...f.dirty].filter((i) => i >= first && i <= last).sort((x, y) => x - y);
  for (const index of dirty) {
    const pfn = f.cache.get(index);
    if (pfn === undefined) continue;
    pageMkclean(ctx, f, index);
    ctx.env.pageCache.writeback(f, index);
    ctx.env.pages.flags[pfn] |= PageFlag.Writeback;
    written.push(pfn);
  }
  return written;
}

/**
 * folio_end_writeback of the frames filemapFdatawriteRange wrote: PG_writeback
 * cleared; one with PG_reclaim (reclaim met it dirty, or lru_deactivate_file
 * did) loses it and is rotated to the tail of its inactive list
 * (folio_rotate_reclaimable: not when dirty again or unevictable; the
 * lru_move_tail batch skips a folio another batch holds, as
 * folio_test_clear_lru fails: lru_deactivate_file's own, which POSIX_FADV_DONTNEED
 * queued again before its writeback ended).
 * Linux: mm/filemap.c folio_end_writeback, mm/swap.c folio_rotate_reclaimable
 */
export function folioEndWriteback(ctx: MmContext, pfns: readonly number[]): void {
  const flags = ctx.env.pages.flags;
  const lru = ctx.env.lru;
  for (const pfn of pfns) {
    if (!(flags[pfn] & PageFlag.Writeback)) continue;
    const reclaim = (flags[pfn] & PageFlag.Reclaim) !== 0;
    flags[pfn] &= ~(PageFlag.Writeback | PageFlag.Reclaim);
    if (reclaim) lru?.fbatches.rotateReclaimable(pfn);
  }
}

export { BDI_IO_PAGES, forcePageCacheRa } from "./readahead.ts";
