/**
 * ftruncate's page-cache side: the file's size changes first
 * (truncate_setsize: i_size_write), then every mapping of the part past the
 * new end is zapped, private COW copies included (unmap_mapping_range with
 * even_cows), the cached pages past it leave the page cache, and the tail
 * of the page that holds the new end is zeroed (truncate_inode_partial_folio,
 * folio_zero_range), and for a disk file ext4_block_truncate_page zeroes it
 * again through the page cache, reading it in if it is not cached and
 * dirtying it (a shrink, or a size unchanged; the grow's zeroing of the old
 * EOF block is left out: vmlab has no block map to tell a hole, which Linux
 * leaves alone, from a block). An access past the
 * new end then faults to SIGBUS (filemapFault's i_size check); growing the
 * file adds zeros.
 * Linux: mm/truncate.c truncate_setsize, truncate_pagecache,
 * truncate_inode_pages_range; mm/memory.c unmap_mapping_range
 */
import { assert } from "../../base/assert.ts";
import type { FileObject } from "../fs/file.ts";
import { zeroCached, zeroStored } from "./falloc.ts";
import { countFolioSplit, unmapFilePmds } from "./huge_memory.ts";
import { Errno, type MmContext } from "./internal.ts";
import { iMmap } from "./MmStruct.ts";
import { rssAdd, zapRange } from "./memory.ts";
import { MmuGather } from "./mmu_gather.ts";
import { PageFlag } from "./PageDesc.ts";
import { ptepClearFlush, readPte } from "./pgtable.ts";
import { shmemTruncateSwap } from "./shmem.ts";
import { FOLIO_BATCH_SIZE } from "./swap.ts";

/**
 * unmap_mapping_range(mapping, holebegin, 0, even_cows=1): every PTE of
 * every VMA of `f` from page index `fromIndex` on is cleared (file pages and
 * the anonymous copies private mappings made of them), with the flushes.
 * Linux: mm/memory.c unmap_mapping_range (unmap_mapping_range_tree, zap_page_range_single)
 */
export function unmapMappingRange(ctx: MmContext, f: FileObject, fromIndex: number): void {
  // unmap_mapping_range_tree: the VMAs of the file's i_mmap, each zapped with its own gather
  for (const [v, mm] of [...iMmap(f)]) {
    const a = Math.max(v.vmStart, v.vmStart + (fromIndex - v.vmPgoff));
    if (a >= v.vmEnd) continue;
    ctx.env.lru?.fbatches.drain(); // zap_page_range_single: lru_add_drain
    const tlb = new MmuGather(ctx, mm);
    mm.updateHiwaterRss(); // zap_page_range_single: update_hiwater_rss
    zapRange(ctx, tlb, mm, a, v.vmEnd); // zap_page_range_single
    tlb.finish();
  }
}

/**
 * try_to_unmap of the page-cache pages [from, to) of f: every PTE that maps
 * one of them is cleared with its flush; a private mapping's anonymous
 * copies stay. A dirty PTE dirties the page (folio_mark_dirty).
 * Linux: mm/huge_memory.c unmap_folio (try_to_unmap)
 */
function unmapCachePages(ctx: MmContext, f: FileObject, from: number, to: number): void {
  const pt = ctx.env.pgtable;
  const pages = ctx.env.pages;
  // the folio's rmap walk: the file's i_mmap
  for (const [v, mm] of iMmap(f)) {
    for (let index = Math.max(from, v.vmPgoff); index < Math.min(to, v.vmPgoff + v.pages); index++) {
      const vpn = v.vmStart + (index - v.vmPgoff);
      const pfn = f.cache.get(index)!;
      const pte = readPte(ctx, mm, vpn);
      if (pte === null || !pt.present(pte.hi, pte.lo) || pt.pfn(pte.hi, pte.lo, 0) !== pfn) continue;
      if (pt.dirty(pte.hi, pte.lo)) f.dirty.add(index);
      mm.updateHiwaterRss(); // try_to_unmap_one: update_hiwater_rss
      ptepClearFlush(ctx, mm, pte.pa, vpn, 0);
      rssAdd(ctx, mm, v, pfn, -1);
      pages.mapcount[pfn]--;
      pages.refcount[pfn]--;
    }
  }
}

/**
 * truncate_setsize + truncate_pagecache for a size change of `f` to
 * `newSize` bytes (0 .. 1 TiB, checked by the caller).
 */
export function truncateSetsize(ctx: MmContext, f: FileObject, newSize: number): void {
  const oldSize = f.sizeBytes;
  f.setSize(newSize); // i_size_write
  // ext4_setattr calls ext4_truncate "even if i_size didn't change": the tail of the block
  // holding i_size zeroed through the page cache (ext4_block_truncate_page)
  if (newSize === oldSize && f.fs === "disk" && newSize % 4096 !== 0)
    ext4BlockZeroPageRange(ctx, f, newSize, 4096 - (newSize % 4096));
  if (newSize >= oldSize) return; // the pages between the old and the new end read as zeros
  const holeIndex = Math.ceil(newSize / 4096);
  // shmem_truncate_range -> shmem_undo_range: a fallocend past the new end comes down to it
  if (f.fs === "tmpfs" && f.fallocend > holeIndex) f.fallocend = holeIndex;
  if (f.swapped.size > 0) shmemTruncateSwap(ctx, f, holeIndex, newSize % 4096 !== 0);
  truncatePagecache(ctx, f, holeIndex);
  for (const index of [...f.written]) if (index >= holeIndex) f.written.delete(index);
  // the page holding the new end: its tail past the end is zeroed, in the cache and on disk
  const tail = newSize % 4096;
  if (tail !== 0) {
    const index = holeIndex - 1;
    const pfn = f.cache.get(index);
    if (pfn !== undefined) {
      const phys = ctx.env.phys;
      for (let off = tail; off < 4096; off++) phys.write8(pfn * 4096 + off, 0);
    }
    // ext4_truncate -> ext4_block_truncate_page: the block's tail zeroed through the page cache
    // (the page read in if need be, dirty); the disk's copy waits for writeback. Should the page
    // not be had (-ENOMEM, which ext4_truncate ignores), vmlab zeroes the disk's tail so that
    // the file still reads as Linux's would after its next successful writeback.
    if (f.fs === "disk" && ext4BlockZeroPageRange(ctx, f, newSize, 4096 - tail) === 0) return;
    if (f.written.has(index)) f.zeroDiskTail(index, tail);
  }
}

/**
 * ext4_block_zero_page_range: the bytes [from, from + length) of one block
 * of f (length clipped to the block's end) zeroed through the page cache:
 * __ext4_block_zero_page_range takes the folio with FGP_CREAT | FGP_ACCESSED
 * (a page not cached is added and its block read: ext4_read_bh_lock),
 * zeroes the bytes (folio_zero_range) and dirties it (mark_buffer_dirty;
 * data=ordered adds the range to the transaction, ext4_jbd2_inode_add_write,
 * whose commit writes it back like any writeback). The disk keeps its old
 * bytes until then. vmlab has no block map, so every block is taken as
 * mapped (Linux leaves a hole's block alone: buffer not mapped, "nothing to
 * do"). A block past EOF (ZERO_RANGE with KEEP_SIZE) is zeroed on disk
 * instead: vmlab's page cache holds no page past EOF (Linux's does, dirty).
 * Returns 0 or -ENOMEM.
 * Linux: fs/ext4/inode.c ext4_block_zero_page_range, __ext4_block_zero_page_range
 */
export function ext4BlockZeroPageRange(ctx: MmContext, f: FileObject, from: number, length: number): number {
  const off = from % 4096;
  const n = Math.min(length, 4096 - off);
  const index = Math.floor(from / 4096);
  if (index >= f.nrPages) {
    zeroStored(f, index, off, off + n);
    return 0;
  }
  const pfn = ctx.env.pageCache.readPage(f, index, true); // __filemap_get_folio(FGP_CREAT), the block read
  if (pfn < 0) return -Errno.ENOMEM;
  ctx.env.lru?.markAccessed(pfn); // FGP_ACCESSED
  zeroCached(ctx, pfn, off, off + n); // folio_zero_range
  f.dirty.add(index); // mark_buffer_dirty -> __folio_mark_dirty
  return 0;
}

/**
 * truncate_pagecache(inode, holeIndex pages) without the size change (also
 * ext4_collapse_range's and ext4_insert_range's): every mapping of the file
 * from page `holeIndex` on is zapped, private COW copies included
 * (unmap_mapping_range with even_cows), a large folio across it is split,
 * and the cached pages from it on leave the page cache, dirty or not
 * (truncate_inode_pages). The disk's blocks are the caller's business.
 * Linux: mm/truncate.c truncate_pagecache, truncate_inode_pages_range
 */
export function truncatePagecache(ctx: MmContext, f: FileObject, holeIndex: number): void {
  unmapMappingRange(ctx, f, holeIndex);
  const cache = ctx.env.pageCache;
  // truncate_inode_partial_folio: a large folio holding the new end is split to order 0, which
  // unmaps it first (unmap_folio; remap_page puts back only anonymous pages): its pages before the
  // end lose their PTEs too, and are faulted in again
  if (f.folios.size > 0 && holeIndex > 0 && f.cache.has(holeIndex - 1)) {
    const start = cache.folioStart(f, holeIndex - 1);
    if (start + cache.folioPages(f, start) > holeIndex) {
      unmapFilePmds(ctx, f, start);
      unmapCachePages(ctx, f, start, holeIndex);
      countFolioSplit(ctx, cache.splitFolio(f, start)); // THP_SPLIT_PAGE, stats/split
    }
  }
  // truncate_inode_pages_range: the cached pages past the end go (written back or not), a large
  // folio wholly past the end as one block of its order (folio_batch_release: free_unref_folios)
  const gone = [...f.cache.keys()].filter((i) => i >= holeIndex).sort((x, y) => x - y);
  const folioOrder = new Map<number, number>();
  for (const [start, order] of f.folios)
    if (start >= holeIndex) for (let i = start; i < start + 2 ** order; i++) folioOrder.set(i, order);
  for (const index of gone) {
    f.dirty.delete(index);
    const ok = cache.evict(f, index, folioOrder.get(index) ?? 0);
    assert(ok, `truncate: page ${index} of ${f.name} is still mapped`);
  }
  // folio_batch_release (__folio_batch_release): lru_add_drain, so that pages of this CPU's LRU
  // add batch are freed now, not when it next fills
  if (gone.length > 0) ctx.env.lru?.fbatches.drain();
  // and the shadow entries past the end (truncate_folio_batch_exceptionals)
  for (const index of [...f.shadows.keys()])
    if (index >= holeIndex) {
      f.shadows.delete(index);
      cache.shadowNodes?.updateFile(f, index);
    }
  // shmem_undo_range ends with shmem_recalc_inode: pages reclaim dropped clean are uncharged too
  if (f.fs === "tmpfs") cache.shmemRecalc(f);
}

/**
 * mapping_evict_folio: the folio of `nr` pages from page `start` of f leaves
 * the page cache and is freed if nobody uses it: not dirty, not under
 * writeback, and no reference but the cache's own and the caller's (a page
 * mapped, held by an LRU batch or by a fault has more: folio_ref_count >
 * folio_nr_pages + 1; vmlab counts references page by page). vmlab's tmpfs
 * pages are dirty from their creation (written, or zeros a fault made), so a
 * tmpfs folio always stays. Returns the pages removed (0 or nr).
 * Linux: mm/truncate.c mapping_evict_folio (remove_mapping, __remove_mapping)
 */
function mappingEvictFolio(ctx: MmContext, f: FileObject, start: number, nr: number): number {
  if (f.fs === "tmpfs") return 0;
  const pages = ctx.env.pages;
  for (let i = start; i < start + nr; i++) {
    const pfn = f.cache.get(i)!;
    if (f.dirty.has(i) || pages.flags[pfn] & (PageFlag.Dirty | PageFlag.Writeback)) return 0;
    if (pages.refcount[pfn] !== 1 || ctx.env.lru?.pinned.has(pfn)) return 0;
  }
  const order = 31 - Math.clz32(nr);
  for (let i = start; i < start + nr; i++)
    assert(ctx.env.pageCache.evict(f, i, order), `mapping_evict_folio: page ${i} of ${f.name}`);
  return nr;
}

/**
 * mapping_try_invalidate: every folio of f wholly inside pages [start, end]
 * (find_lock_entries: a large folio reaching outside, or one under writeback,
 * is not returned), in index order, is evicted if it can be
 * (mappingEvictFolio); one that cannot is a hint that it is no longer of
 * interest: deactivate_file_folio queues it in the lru_deactivate_file batch
 * (mm/swap.ts), and counts in `failed` (likely in the LRU add batch of a
 * remote CPU). Returns the pages evicted.
 * Linux: mm/truncate.c mapping_try_invalidate, mm/filemap.c find_lock_entries
 */
export function mappingTryInvalidate(
  ctx: MmContext,
  f: FileObject,
  start: number,
  end: number,
  failed: { n: number } | null,
): number {
  const pc = ctx.env.pageCache;
  const pages = ctx.env.pages;
  const indices = [...f.cache.keys()].filter((i) => i >= start && i <= end).sort((x, y) => x - y);
  let count = 0;
  let found = 0; // folios in find_lock_entries' folio_batch
  for (const index of indices) {
    if (!f.cache.has(index)) continue; // a large folio evicted with an earlier page
    const s = pc.folioStart(f, index);
    if (s !== index) continue; // a large folio's other pages: the folio was met at its first
    const nr = pc.folioPages(f, s);
    if (s + nr - 1 > end) continue; // omit a large folio that extends beyond the end
    if (pages.flags[f.cache.get(s)!] & PageFlag.Writeback) continue;
    const ret = mappingEvictFolio(ctx, f, s, nr);
    if (ret === 0) {
      // Invalidation is a hint that the folio is no longer of interest
      const pfns: number[] = [];
      for (let i = s; i < s + nr; i++) pfns.push(f.cache.get(i)!);
      ctx.env.lru?.fbatches.deactivateFile(pfns);
      if (failed) failed.n++;
    }
    count += ret;
    // folio_batch_release of a full batch (__folio_batch_release: lru_add_drain, once per batch)
    if (++found === FOLIO_BATCH_SIZE) {
      ctx.env.lru?.fbatches.drain();
      found = 0;
    }
  }
  if (found > 0) ctx.env.lru?.fbatches.drain();
  return count;
}

/**
 * invalidate_mapping_pages: the clean, unused pages of f in [start, end] go,
 * the others are deactivated. Returns the pages evicted.
 * Linux: mm/truncate.c invalidate_mapping_pages
 */
export function invalidateMappingPages(ctx: MmContext, f: FileObject, start: number, end: number): number {
  return mappingTryInvalidate(ctx, f, start, end, null);
}
