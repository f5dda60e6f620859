/**
 * fallocate(2)'s page-cache side: allocating a tmpfs range (shmem_fallocate
 * without FALLOC_FL_PUNCH_HOLE) and punching holes in a tmpfs file, a
 * shared anonymous mapping's shmem object (MADV_REMOVE) or a disk file's
 * page cache. A hole punch unmaps the whole pages of the range from every
 * mapping (unmap_mapping_range with even_cows=0: a private mapping's COW
 * copies stay), drops their pages and swap entries, and zeroes the partial
 * pages at either end in place (they stay mapped; ext4's partial blocks are
 * its own: falloc_ext4.ts ext4ZeroPartialBlocks). The hole reads as zeros
 * from then on: vmlab keeps a zeroed "stored" copy of each page of it
 * (FileObject.written with a zero disk page), as ext4 frees its blocks and
 * tmpfs leaves an empty xarray slot.
 * Linux: mm/shmem.c shmem_fallocate, shmem_truncate_range, shmem_undo_range;
 * mm/truncate.c truncate_pagecache_range, truncate_inode_pages_range;
 * mm/memory.c unmap_mapping_range
 */
import type { FileObject } from "../fs/file.ts";
import { countFolioSplit, unmapFilePmds } from "./huge_memory.ts";
import { Errno, type MmContext } from "./internal.ts";
import { iMmap } from "./MmStruct.ts";
import { putPage, rssAdd } from "./memory.ts";
import { PageFlag } from "./PageDesc.ts";
import { ptepClearFlush, readPte } from "./pgtable.ts";
import { type ShmemOwner, shmemFreeSwap, shmemPages, shmemSwapinIndex } from "./shmem.ts";
import { shmemObjUndoFolios, shmemObjUnmapPmds } from "./shmem_anon_huge.ts";
import { shmemAllocPage } from "./shmem_huge.ts";
import { ShmemObject, VmFlag } from "./vma.ts";

/** fallocate's mode bits. Linux: include/uapi/linux/falloc.h */
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;
export const FALLOC_FL_UNSHARE_RANGE = 0x40;
/** Linux 6.17+ (the 6.18 host), not 6.12 */
export const FALLOC_FL_WRITE_ZEROES = 0x80;

/**
 * unmap_mapping_range(mapping, from << PAGE_SHIFT, (to - from) << PAGE_SHIFT,
 * even_cows=0): every PTE of every VMA of the owner's i_mmap that maps one
 * of the owner's pages [from, to) is cleared with its flush (a dirty PTE
 * dirties the page, a VM_LOCKED VMA munlocks it); a private mapping's
 * anonymous copies and their swap entries stay (zap_present_ptes skips an
 * anonymous folio when !should_zap_cows). A PMD-mapped disk folio in the
 * range is split off its PMDs first.
 * Linux: mm/memory.c unmap_mapping_range, unmap_mapping_pages, zap_page_range_single
 */
export function unmapMappingPages(ctx: MmContext, owner: ShmemOwner, from: number, to: number): void {
  const pt = ctx.env.pgtable;
  const pages = ctx.env.pages;
  const cache = shmemPages(owner);
  if (owner.folios.size > 0)
    for (const [start, order] of [...owner.folios])
      if (start >= to || start + 2 ** order <= from) continue;
      else if (owner instanceof ShmemObject)
        shmemObjUnmapPmds(ctx, owner, start); // mm/shmem_anon_huge.ts
      else unmapFilePmds(ctx, owner, start);
  for (const [v, mm] of [...iMmap(owner)]) {
    const lo = Math.max(from, v.vmPgoff);
    const hi = Math.min(to, v.vmPgoff + (v.vmEnd - v.vmStart));
    if (lo >= hi) continue;
    ctx.env.lru?.fbatches.drain(); // zap_page_range_single: lru_add_drain
    mm.updateHiwaterRss(); // zap_page_range_single: update_hiwater_rss
    for (let index = lo; index < hi; index++) {
      const pfn = cache.get(index);
      if (pfn === undefined) continue;
      const vpn = v.vmStart + (index - v.vmPgoff);
      const pte = readPte(ctx, mm, vpn);
      if (pte === null || !pt.present(pte.hi, pte.lo) || pt.pfn(pte.hi, pte.lo, 0) !== pfn) continue;
      if (pt.dirty(pte.hi, pte.lo)) {
        if (owner instanceof ShmemObject || owner.fs === "tmpfs") pages.flags[pfn] |= PageFlag.Dirty;
        else owner.dirty.add(index);
      }
      ptepClearFlush(ctx, mm, pte.pa, vpn, 0);
      if (v.vmFlags & VmFlag.LOCKED) ctx.env.lru?.fbatches.mlock.munlockFolio(pfn); // munlock_vma_folio
      rssAdd(ctx, mm, v, pfn, -1);
      pages.mapcount[pfn]--;
      pages.refcount[pfn]--;
    }
  }
}

/**
 * The bytes [from, to) of page `index` of f read as zeros from now on where
 * nothing is cached: the page's stored copy (the disk's, or for tmpfs the
 * copy vmlab keeps of a hole) is made, from the file's contents, and zeroed there.
 */
export function zeroStored(f: FileObject, index: number, from: number, to: number): void {
  const disk = f.disk;
  if (!f.written.has(index)) {
    if (from === 0 && to === 4096) disk.fill(index, 0, 0);
    else
      for (let w = 0; w < 1024; w++) {
        let word = 0;
        for (let b = 3; b >= 0; b--) word = (word << 8) | f.storedByte(index * 4096 + w * 4 + b);
        disk.writeWord(index, w, word >>> 0);
      }
    f.written.add(index);
  }
  if (from === 0 && to === 4096) disk.fill(index, 0, 0);
  else for (let off = from; off < to; off++) disk.writeByte(index, off, 0);
}

/** The bytes [from, to) of the cached page pfn zeroed in place (folio_zero_range). */
export function zeroCached(ctx: MmContext, pfn: number, from: number, to: number): void {
  const phys = ctx.env.phys;
  ctx.env.cache.flushDcachePage(pfn); // a page users map may hold their writes in other lines
  for (let off = from; off < to; off++) phys.write8(pfn * 4096 + off, 0);
}

/**
 * A page of the owner leaves it (truncate_inode_folio: filemap_remove_folio,
 * folio_put): a tmpfs or disk page through the page cache (uncharged by
 * shmem_recalc_inode for tmpfs), a shared anonymous object's page dropped
 * (its charge is the object's, shmem_acct_size, kept).
 */
function dropPage(ctx: MmContext, owner: ShmemOwner, index: number): void {
  if (owner instanceof ShmemObject) {
    const pfn = owner.pages.get(index)!;
    owner.pages.delete(index);
    putPage(ctx, pfn);
    return;
  }
  owner.dirty.delete(index);
  if (owner.folios.size > 0) ctx.env.pageCache.splitFolio(owner, index);
  const ok = ctx.env.pageCache.evict(owner, index, 0);
  if (!ok) throw new Error(`punch hole: page ${index} of ${owner.name} is still mapped`);
}

/**
 * A hole punched in the bytes [lstart, lend] (inclusive) of a shmem owner
 * (tmpfs file, memfd, shared anonymous object) or a disk file's page cache:
 * the whole pages of the range unmapped (even_cows=0) and dropped, their
 * swap entries freed (shmem_free_swap; shmem_recalc_inode uncharges a tmpfs
 * file's pages), the partial pages at either end zeroed in place (a
 * partial shmem page in swap is read back first: shmem_get_partial_folio).
 * `unmapped`: the caller unmapped the whole pages already (shmem_fallocate
 * unmaps before shmem_truncate_range; the pages unmap again anyway, as
 * truncate_cleanup_folio does for a page mapped since).
 * Linux: mm/shmem.c shmem_fallocate (PUNCH_HOLE), shmem_truncate_range,
 * shmem_undo_range; mm/truncate.c truncate_pagecache_range
 */
export function punchHole(ctx: MmContext, owner: ShmemOwner, lstart: number, lend: number): void {
  const start = Math.ceil(lstart / 4096);
  const end = Math.floor((lend + 1) / 4096);
  const shmem = owner instanceof ShmemObject || owner.fs === "tmpfs";
  // shmem_undo_range: a fallocend inside the hole comes down to its start
  if (!(owner instanceof ShmemObject) && owner.fallocend > start && owner.fallocend <= end)
    owner.fallocend = start;
  // shmem_fallocate / truncate_pagecache_range: unmap_mapping_range of the whole pages
  if (end > start) unmapMappingPages(ctx, owner, start, end);
  // a shared anonymous or SysV object's large folios: gone whole, or split (mm/shmem_anon_huge.ts);
  // a file's: the folio holding the first or last byte's page and not wholly inside is split
  // (truncate_inode_partial_folio: split_folio, THP_SPLIT_PAGE for the PMD order)
  if (owner instanceof ShmemObject) {
    if (owner.folios.size > 0) shmemObjUndoFolios(ctx, owner, lstart, lend);
  } else if (owner.folios.size > 0) {
    const pc = ctx.env.pageCache;
    for (const [s, order] of [...owner.folios]) {
      const e = s + 2 ** order;
      if (e <= Math.floor(lstart / 4096) || s > Math.floor(lend / 4096)) continue;
      if (s * 4096 >= lstart && e * 4096 - 1 <= lend) continue; // truncate_inode_folio: whole
      // truncate_inode_partial_folio: split_folio (its pages past i_size dropped: shmemSplitFileFolio)
      if (owner.fs === "tmpfs" && pc.shmemSplit !== null) pc.shmemSplit(owner, s);
      else countFolioSplit(ctx, pc.splitFolio(owner, s));
    }
  }
  const cache = shmemPages(owner);
  // shmem_undo_range's first pass: the whole pages and swap entries of [start, end)
  const gone = [...cache.keys()].filter((i) => i >= start && i < end).sort((x, y) => x - y);
  for (const index of gone) dropPage(ctx, owner, index);
  if (gone.length > 0) ctx.env.lru?.fbatches.drain(); // folio_batch_release: lru_add_drain
  // truncate_inode_pages_range: the range's shadow entries go too (truncate_folio_batch_exceptionals)
  if (!(owner instanceof ShmemObject) && owner.shadows.size > 0)
    for (const index of [...owner.shadows.keys()])
      if (index >= start && index < end) {
        owner.shadows.delete(index);
        ctx.env.pageCache.shadowNodes?.updateFile(owner, index);
      }
  if (owner.swapped.size > 0)
    for (const index of [...owner.swapped.keys()].sort((x, y) => x - y))
      if (index >= start && index < end) shmemFreeSwap(ctx, owner, index);
  // shmem_undo_range's shmem_recalc_inode: pages reclaim dropped clean are uncharged too
  if (!(owner instanceof ShmemObject) && shmem) ctx.env.pageCache.shmemRecalc(owner);
  // the partial pages: zeroed in place (truncate_inode_partial_folio: folio_zero_range)
  const first = Math.floor(lstart / 4096);
  const last = Math.floor(lend / 4096);
  const partial = (index: number, from: number, to: number) => {
    if (from === 0 && to === 4096) return;
    if (shmem && owner.swapped.has(index)) shmemSwapinIndex(ctx, owner, index); // shmem_get_partial_folio
    const pfn = cache.get(index);
    if (pfn !== undefined) {
      zeroCached(ctx, pfn, from, to);
      if (shmem) ctx.env.pages.flags[pfn] |= PageFlag.Dirty; // folio_mark_dirty
    }
    // a disk file's blocks (ext4_punch_hole zeroes the partial blocks on disk too)
    if (!(owner instanceof ShmemObject) && (pfn === undefined || !shmem)) zeroStored(owner, index, from, to);
  };
  if (first === last) partial(first, lstart % 4096, (lend % 4096) + 1);
  else {
    partial(first, lstart % 4096, 4096);
    partial(last, 0, (lend % 4096) + 1);
  }
  // the hole reads as zeros (ext4 freed its blocks; shmem's xarray slots are empty)
  // (the pages that would read something else: below i_size and the least size the file ever
  // had, or written back)
  if (!(owner instanceof ShmemObject))
    for (let i = start; i < Math.min(end, owner.zeroPagesFrom); i++) zeroStored(owner, i, 0, 4096);
  if (!(owner instanceof ShmemObject))
    for (const i of owner.written) if (i >= start && i < end) zeroStored(owner, i, 0, 4096);
}

/**
 * shmem_fallocate's allocation (mode 0 or FALLOC_FL_KEEP_SIZE) of the bytes
 * [offset, offset + len) of tmpfs file f, already checked (sizes, seals):
 * every page of the range the file lacks is allocated (shmem_get_folio
 * SGP_FALLOC: charged by shmem_inode_acct_blocks, zeroed, on the anon LRU,
 * dirty so that reclaim swaps it rather than drop it); a page in swap is
 * read back. A range of more pages than the mount's size= (max_blocks) is
 * -ENOSPC at once. The first failure (-ENOSPC: the commit limit refused the
 * charge through __vm_enough_memory, or the mount's size= did; -ENOMEM) undoes the pages this call added
 * (shmem_undo_range(unfalloc): the !uptodate folios), not those swapped
 * in, and i_size stays. Without KEEP_SIZE, i_size grows to offset + len.
 * Returns 0 or -errno.
 * Linux: mm/shmem.c shmem_fallocate, shmem_get_folio_gfp (SGP_FALLOC), shmem_undo_range
 */
export function shmemFallocAlloc(
  ctx: MmContext,
  f: FileObject,
  offset: number,
  len: number,
  keepSize: boolean,
): number {
  const pc = ctx.env.pageCache;
  const start = Math.floor(offset / 4096);
  const end = Math.ceil((offset + len) / 4096);
  // "Try to avoid a swapstorm if len is impossible to satisfy": more pages than the mount's size=
  if (f.maxBlocks > 0 && end - start > f.maxBlocks) return -Errno.ENOSPC;
  const added: number[] = [];
  // "info->fallocend is only relevant when huge pages might be involved: to prevent
  // split_huge_page() freeing fallocated pages when FALLOC_FL_KEEP_SIZE committed beyond i_size"
  const undoFallocend = f.fallocend;
  if (f.fallocend < end) f.fallocend = end;
  for (let index = start; index < end; ) {
    // index = folio_next_index(folio): a large folio's pages all done at once
    const next = (i: number) => {
      const s = f.folios.size > 0 ? pc.folioStart(f, i) : i;
      return s + pc.folioPages(f, s);
    };
    if (f.cache.has(index)) {
      const stop = next(index);
      for (let i = index; i < stop; i++) ctx.env.pages.flags[f.cache.get(i)!] |= PageFlag.Dirty; // folio_mark_dirty
      index = stop;
      continue;
    }
    let pfn = -1;
    let err = -Errno.ENOMEM;
    if (f.swapped.has(index)) pfn = shmemSwapinIndex(ctx, f, index)!.pfn;
    else {
      // shmem_get_folio(inode, index, offset + len, SGP_FALLOC): a huge folio where the mount's
      // huge= (or shmem_enabled's deny, force) grants one, with no VMA (mm/shmem_huge.ts), else 4K
      const had = f.folios.size;
      pfn = shmemAllocPage(pc, f, index, offset + len, -1, true);
      if (pfn < 0 && pc.takeNospc()) err = -Errno.ENOSPC;
      // a new folio reads as zeros: past i_size, in a hole (its zeroed stored copy) or a memfd
      if (pfn >= 0) {
        const s = f.folios.size > had ? pc.folioStart(f, index) : index;
        for (let i = s; i < next(index); i++) added.push(i);
      }
    }
    if (pfn < 0) {
      // shmem_undo_range(inode, start, index - 1, unfalloc=true): the folios this call added go
      // (a large one whole, even where the range covers part of it)
      for (const i of added) pc.evict(f, i, 0);
      if (added.length > 0) ctx.env.lru?.fbatches.drain(); // folio_batch_release
      f.fallocend = undoFallocend;
      return err;
    }
    const first = f.folios.size > 0 ? pc.folioStart(f, index) : index;
    const stop = next(index);
    for (let i = first; i < stop; i++) ctx.env.pages.flags[f.cache.get(i)!] |= PageFlag.Dirty; // folio_mark_dirty
    index = stop;
  }
  if (!keepSize && offset + len > f.sizeBytes) f.setSize(offset + len); // i_size_write
  return 0;
}
