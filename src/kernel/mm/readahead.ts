/**
 * File readahead: the open file's readahead state (struct file_ra_state,
 * kept on the struct file, fs/open.ts OpenFile: each open(2) has its own,
 * fork and mmap share it),
 * the on-demand window (page_cache_sync_ra on a cache miss,
 * page_cache_async_ra on a folio marked PG_readahead), and the readers of
 * a window: page_cache_ra_order (large folios), do_page_cache_ra /
 * page_cache_ra_unbounded (4K folios) and force_page_cache_ra
 * (POSIX_FADV_WILLNEED, FMODE_RANDOM reads).
 *
 * PG_readahead is PG_reclaim in Linux (include/linux/page-flags.h: the same
 * bit, "PG_readahead = PG_reclaim"); vmlab marks it with PageFlag.Reclaim
 * too, so a page lru_deactivate_file gave PG_reclaim looks marked to a
 * reader, as in Linux.
 *
 * Linux: mm/readahead.c (6.12, whose page_cache_sync_ra and
 * page_cache_async_ra already hold the former ondemand_readahead; the
 * host's 6.18 keeps this logic for 4K folios), mm/filemap.c
 * page_cache_prev_miss, page_cache_next_miss
 */
import type { FileObject } from "../fs/file.ts";
import type { OpenFile } from "../fs/open.ts";
import type { MmContext } from "./internal.ts";
import { PageFlag } from "./PageDesc.ts";
import { RA_GFP } from "./pagecache.ts";

/** The PG_readahead bit (PG_reclaim's). Linux: include/linux/page-flags.h PG_readahead */
export const PG_READAHEAD = PageFlag.Reclaim;

/**
 * The backing device's bdi->io_pages: its max_sectors_kb in pages, the
 * block layer's default cap BLK_DEF_MAX_SECTORS_CAP (2560 sectors, 1280
 * KiB). Linux: include/linux/blkdev.h BLK_DEF_MAX_SECTORS_CAP, block/blk-settings.c blk_apply_bdi_limits
 */
export const BDI_IO_PAGES = 320;

/** file->f_ra.ra_pages: what posix_fadvise set, else the backing device's (`readahead=`). */
export function raPagesOf(ctx: MmContext, file: OpenFile): number {
  return file.raPages ?? ctx.settings.readaheadPages;
}

/** Is the folio holding cached page `index` marked PG_readahead (on its head)? */
export function folioTestReadahead(ctx: MmContext, f: FileObject, index: number): boolean {
  const pc = ctx.env.pageCache;
  const head = pc.find(f, pc.folioStart(f, index));
  return head >= 0 && (ctx.env.pages.flags[head] & PG_READAHEAD) !== 0;
}

/** The order of the cached folio holding page `index` (0 for a 4K folio). */
function folioOrderAt(ctx: MmContext, f: FileObject, index: number): number {
  const pc = ctx.env.pageCache;
  return Math.log2(pc.folioPages(f, pc.folioStart(f, index)));
}

/**
 * page_cache_ra_unbounded over [index, index + nrToRead): each page not
 * cached gets a new 4K folio (the mapping's minimum order, 0 for ext4)
 * read from the disk; the one `nrToRead - lookaheadSize` pages in is
 * marked PG_readahead (if it is read now: a cached page is not marked).
 * Stops when memory runs out. Returns the pages read.
 * Linux: mm/readahead.c page_cache_ra_unbounded
 */
function pageCacheRaUnbounded(
  ctx: MmContext,
  f: FileObject,
  index: number,
  nrToRead: number,
  lookaheadSize: number,
): number {
  const pc = ctx.env.pageCache;
  const mark = nrToRead - lookaheadSize;
  let read = 0;
  let batch = 0; // the first page of the batch not yet submitted (read_pages)
  let i = 0;
  for (; i < nrToRead; i++) {
    if (pc.find(f, index + i) >= 0) {
      // already present: read_pages of the batch so far
      readPages(ctx, f, index + batch, index + i);
      batch = i + 1;
      continue;
    }
    const pfn = pc.readSmall(f, index + i, true, RA_GFP);
    if (pfn < 0) break; // filemap_alloc_folio failed, or filemap_add_folio's charge (-ENOMEM)
    ctx.env.lru?.pinned.add(pfn); // locked (filemap_add_folio) until read_pages' I/O ends
    if (i === mark) ctx.env.pages.flags[pfn] |= PG_READAHEAD;
    read++;
  }
  readPages(ctx, f, index + batch, index + i);
  return read;
}

/**
 * read_pages: the batch of new folios over pages [from, to) of f submitted and read (at once in
 * vmlab), each unlocked: until then reclaim, the memory limit's charge of the next folio
 * included, leaves them (shrink_folio_list: folio_trylock fails).
 * Linux: mm/readahead.c read_pages
 */
function readPages(ctx: MmContext, f: FileObject, from: number, to: number): void {
  const pinned = ctx.env.lru?.pinned;
  if (pinned === undefined) return;
  for (let j = from; j < to; j++) {
    const pfn = f.cache.get(j);
    if (pfn !== undefined) pinned.delete(pfn);
  }
}

/**
 * do_page_cache_ra: the window clipped to the page holding the file's last
 * byte, then page_cache_ra_unbounded. Linux: mm/readahead.c do_page_cache_ra
 */
function doPageCacheRa(
  ctx: MmContext,
  f: FileObject,
  index: number,
  nrToRead: number,
  lookaheadSize: number,
): number {
  if (f.sizeBytes === 0) return 0;
  const endIndex = Math.floor((f.sizeBytes - 1) / 4096);
  if (index > endIndex) return 0;
  const nr = nrToRead > endIndex - index ? endIndex - index + 1 : nrToRead;
  return pageCacheRaUnbounded(ctx, f, index, nr, lookaheadSize);
}

/**
 * force_page_cache_ra for POSIX_FADV_WILLNEED (and reads of an
 * FMODE_RANDOM file): at most max(io_pages, ra_pages) pages from `index`
 * (the request past the readahead window is cut to the device's optimal
 * I/O size), clipped to the file's last page, are read in chunks of 2 MiB
 * (do_page_cache_ra, no PG_readahead mark); page_cache_ra_unbounded skips
 * what is cached and allocates folios of the mapping's minimum order (0 for
 * ext4: 4K folios, even in a file with `folio=`). Nothing is mapped.
 * Returns the pages read; stops when memory runs out.
 * Linux: mm/readahead.c force_page_cache_ra, do_page_cache_ra, page_cache_ra_unbounded
 */
export function forcePageCacheRa(ctx: MmContext, file: OpenFile, index: number, nrToRead: number): number {
  const f = file.inode;
  let nr = Math.min(nrToRead, Math.max(BDI_IO_PAGES, raPagesOf(ctx, file)));
  let read = 0;
  for (let at = index; nr > 0; ) {
    const chunk = Math.min(512, nr);
    read += doPageCacheRa(ctx, f, at, chunk, 0);
    at += chunk;
    nr -= chunk;
  }
  return read;
}

/**
 * page_cache_ra_order as the host's 6.18 has it (6.16's "readahead tweaks
 * for larger folios"): where the mapping has large folios (`folio=`: vmlab
 * takes the file's folio order as mapping_max_folio_order, the host's ext4
 * gives regular files large folios from 6.16 on), the window
 * [ra.start, ra.start + ra.size) is read in folios of ra.order (capped by
 * the maximum and by the window: ilog2(size)), smaller where the index is
 * not aligned or the folio would pass the window's end (or EOF); the folio
 * holding the page size - async_size in (rounded down to the folio) is
 * marked PG_readahead. A folio that finds a page cached (-EEXIST), or no
 * memory, ends that; the rest of the window is read by do_page_cache_ra in
 * 4K folios, as is the whole window of a mapping without large folios
 * (ra.order 0). 6.12 differs: it took the order as an argument and added 2
 * itself, also for a sync window.
 * Linux: mm/readahead.c page_cache_ra_order, ra_alloc_folio
 */
export function pageCacheRaOrder(ctx: MmContext, file: OpenFile): void {
  const f = file.inode;
  const ra = file.ra;
  const start = ra.start;
  let index = start;
  if (f.folioOrder === 0) ra.order = 0;
  else {
    const pc = ctx.env.pageCache;
    const flags = ctx.env.pages.flags;
    const limit = Math.min(Math.floor((f.sizeBytes - 1) / 4096), start + ra.size - 1);
    const mark = start + ra.size - ra.asyncSize;
    const newOrder = Math.min(f.folioOrder, ra.order, Math.floor(Math.log2(Math.max(1, ra.size))));
    ra.order = newOrder;
    let err = false;
    while (index <= limit) {
      let order = newOrder;
      if (index % 2 ** order !== 0) order = Math.log2(index & -index); // align with smaller folios
      while (order > 0 && index + 2 ** order - 1 > limit) order--; // not past the window (or EOF)
      const nr = 2 ** order;
      let clash = false;
      for (let i = index; i < index + nr && !clash; i++) clash = f.cache.has(i);
      const head = clash
        ? -1
        : order === 0
          ? pc.readSmall(f, index, true, RA_GFP)
          : pc.addFolio(f, index, order, true, RA_GFP);
      if (head < 0) {
        err = true; // filemap_add_folio: -EEXIST, or -ENOMEM
        break;
      }
      for (let j = index; j < index + nr; j++) {
        const p = pc.find(f, j);
        if (p >= 0) ctx.env.lru?.pinned.add(p); // locked until read_pages
      }
      if (index === mark - (mark % nr)) flags[pc.find(f, index)] |= PG_READAHEAD;
      index += nr;
    }
    readPages(ctx, f, start, index); // read_pages(ractl)
    if (!err) return;
  }
  // the fallback (with what ->readahead left of the window)
  if (ra.size > index - start) doPageCacheRa(ctx, f, index, ra.size - (index - start), ra.asyncSize);
}

/**
 * get_init_ra_size: the first window of a sequential stream, from the
 * request (rounded up to a power of two): x4 when small, x2 when medium,
 * else the maximum. Linux: mm/readahead.c get_init_ra_size
 */
export function getInitRaSize(size: number, max: number): number {
  let newsize = 1;
  while (newsize < size) newsize *= 2;
  if (newsize <= max / 32) return newsize * 4;
  if (newsize <= max / 4) return newsize * 2;
  return max;
}

/** get_next_ra_size: the next window, x4 while small, then x2, up to the maximum. Linux: mm/readahead.c get_next_ra_size */
export function getNextRaSize(cur: number, max: number): number {
  if (cur < max / 16) return 4 * cur;
  if (cur <= max / 2) return 2 * cur;
  return max;
}

/**
 * ractl_max_pages: ra_pages, or up to the device's io_pages for a request
 * larger than the window. Linux: mm/readahead.c ractl_max_pages
 */
function ractlMaxPages(raPages: number, reqSize: number): number {
  if (reqSize > raPages && BDI_IO_PAGES > raPages) return Math.min(reqSize, BDI_IO_PAGES);
  return raPages;
}

/**
 * page_cache_prev_miss: scanning back from `index` for at most `maxScan`
 * pages, the first one not cached; -1 (ULONG_MAX) when the scan went past
 * page 0; the last page scanned when none was missing.
 * Linux: mm/filemap.c page_cache_prev_miss
 */
function pageCachePrevMiss(f: FileObject, index: number, maxScan: number): number {
  let at = index;
  for (let n = maxScan; n > 0; n--) {
    if (at < 0 || !f.cache.has(at)) return at;
    if (n > 1) at--;
  }
  return at;
}

/**
 * page_cache_next_miss: scanning on from `index` for at most `maxScan`
 * pages, the first one not cached, else index + maxScan.
 * Linux: mm/filemap.c page_cache_next_miss
 */
function pageCacheNextMiss(f: FileObject, index: number, maxScan: number): number {
  for (let i = 0; i < maxScan; i++) if (!f.cache.has(index + i)) return index + i;
  return index + maxScan;
}

/**
 * page_cache_sync_ra on a cache miss at page `index` of a read wanting
 * `reqCount` pages: a file with FMODE_RANDOM (POSIX_FADV_RANDOM), or with
 * no readahead (ra_pages 0, then one page), reads just the request
 * (force_page_cache_ra). At the start of the file, for a request larger
 * than the window, or where the read follows the previous one (prev_pos's
 * page or the next), a new window starts at index: get_init_ra_size of the
 * request, its pages past the request the async part. Otherwise the pages
 * cached right before index tell: no more than the request, a small random
 * read, read as is without touching the state; more, a stream: a window of
 * that history plus the request (twice the history when it reaches page 0),
 * async part 1. Linux: mm/readahead.c page_cache_sync_ra
 */
export function pageCacheSyncRa(ctx: MmContext, file: OpenFile, index: number, reqCount: number): void {
  const f = file.inode;
  const ra = file.ra;
  const raPages = raPagesOf(ctx, file);
  let forced = file.fmodeRandom;
  let req = reqCount;
  if (raPages === 0) {
    req = 1;
    forced = true;
  }
  if (forced) {
    forcePageCacheRa(ctx, file, index, req);
    return;
  }
  const maxPages = ractlMaxPages(raPages, req);
  // (unsigned long long)ra->prev_pos >> PAGE_SHIFT: -1 is past every index
  const prevIndex = ra.prevPos < 0 ? Number.MAX_SAFE_INTEGER : Math.floor(ra.prevPos / 4096);
  const d = index - prevIndex;
  if (index === 0 || req > maxPages || d === 0 || d === 1) {
    ra.start = index;
    ra.size = getInitRaSize(req, maxPages);
    ra.asyncSize = ra.size > req ? ra.size - req : ra.size >> 1;
  } else {
    const miss = pageCachePrevMiss(f, index - 1, maxPages);
    let contig = index - miss - 1;
    if (contig <= req) {
      doPageCacheRa(ctx, f, index, req, 0); // standalone, small random read
      return;
    }
    if (miss === -1) contig *= 2; // cached from the beginning: a long-run stream
    ra.start = index;
    ra.size = Math.min(contig + req, maxPages);
    ra.asyncSize = 1;
  }
  ra.order = 0;
  pageCacheRaOrder(ctx, file);
}

/**
 * page_cache_async_ra on reaching the cached page `index` whose folio is
 * marked PG_readahead (not under writeback: the bit is PG_reclaim's then):
 * the mark is cleared; at the expected page (the window's
 * start + size - async_size, rounded down to the folio) the next window
 * follows the last, get_next_ra_size larger, all of it async; elsewhere
 * (interleaved streams) the cached run after index sizes it. Then (6.16
 * on, the host's 6.18; not 6.12) ra.order grows by 2 and the window is cut
 * to end on a boundary of that order ("terminate async readahead on
 * natural boundary"), all of it async.
 * Linux: mm/readahead.c page_cache_async_ra
 */
export function pageCacheAsyncRa(ctx: MmContext, file: OpenFile, index: number, reqCount: number): void {
  const f = file.inode;
  const ra = file.ra;
  const raPages = raPagesOf(ctx, file);
  if (raPages === 0) return;
  const pc = ctx.env.pageCache;
  const head = pc.find(f, pc.folioStart(f, index));
  const flags = ctx.env.pages.flags;
  if (head < 0 || flags[head] & PageFlag.Writeback) return;
  flags[head] &= ~PG_READAHEAD;
  const maxPages = ractlMaxPages(raPages, reqCount);
  const nr = 2 ** folioOrderAt(ctx, f, index);
  const expected = ra.start + ra.size - ra.asyncSize;
  if (index === expected - (expected % nr)) {
    ra.start += ra.size;
    ra.size = Math.max(ra.size, getNextRaSize(ra.size, maxPages));
  } else {
    const start = pageCacheNextMiss(f, index + 1, maxPages);
    if (start === 0 || start - index > maxPages) return;
    ra.start = start;
    ra.size = getNextRaSize(start - index + reqCount, maxPages);
  }
  // 6.16 on: the folios grow by two orders, and the window ends on a boundary of that order
  // (of the largest power of two dividing max_pages, if smaller)
  ra.order += 2;
  const align = 2 ** Math.min(ra.order, Math.log2(maxPages & -maxPages));
  const end = ra.start + ra.size;
  const alignedEnd = end - (end % align);
  if (alignedEnd > ra.start) ra.size -= end - alignedEnd;
  ra.asyncSize = ra.size;
  pageCacheRaOrder(ctx, file);
}
