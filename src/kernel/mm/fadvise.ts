/**
 * posix_fadvise(2) and drop_caches: advice about a file's page cache.
 * POSIX_FADV_NORMAL / RANDOM / SEQUENTIAL set the open file's readahead
 * (f_ra.ra_pages, FMODE_RANDOM), WILLNEED reads a range in
 * (force_page_cache_ra), DONTNEED starts writeback of the range and drops
 * its clean, unused pages (mapping_try_invalidate), deactivating those that
 * stay (the lru_deactivate_file batch), NOREUSE sets FMODE_NOREUSE.
 * drop_caches 1 invalidates every file's pages (invalidate_mapping_pages).
 * Linux: mm/fadvise.c generic_fadvise, fs/drop_caches.c
 */
import type { FileObject } from "../fs/file.ts";
import type { OpenFile } from "../fs/open.ts";
import { filemapFdatawriteRange, folioEndWriteback, forcePageCacheRa } from "./filemap.ts";
import { Errno, type MmContext } from "./internal.ts";
import { invalidateMappingPages, mappingTryInvalidate } from "./truncate.ts";

/** POSIX_FADV_* (include/uapi/linux/fadvise.h; 6 and 7 on s390x, 4 and 5 elsewhere). */
export const enum Fadv {
  NORMAL = 0,
  RANDOM = 1,
  SEQUENTIAL = 2,
  WILLNEED = 3,
  DONTNEED = 4,
  NOREUSE = 5,
}

/** The advice by its name (POSIX_FADV_ in lower case). */
export const FADVISE_ADVICE: Readonly<Record<string, Fadv>> = {
  normal: Fadv.NORMAL,
  random: Fadv.RANDOM,
  sequential: Fadv.SEQUENTIAL,
  willneed: Fadv.WILLNEED,
  dontneed: Fadv.DONTNEED,
  noreuse: Fadv.NOREUSE,
};

const LLONG_MAX = (1n << 63n) - 1n;

/**
 * generic_fadvise on the struct file `file` (the advice's readahead
 * settings are that open file's, not the inode's: another process's open of
 * the file keeps its own): 0 or -errno (EINVAL for a negative
 * length or an unknown advice). A tmpfs file's backing device is
 * noop_backing_dev_info (shmem sets up no bdi), so every valid advice is
 * accepted and ignored there. `len` 0 means to the end of the file
 * (endbyte LLONG_MAX). A negative offset makes page indices past any file:
 * WILLNEED and DONTNEED then do nothing.
 * Linux: mm/fadvise.c generic_fadvise
 */
export function genericFadvise(
  ctx: MmContext,
  file: OpenFile,
  offset: bigint,
  len: bigint,
  advice: number,
): number {
  const f = file.inode;
  if (len < 0n) return -Errno.EINVAL;
  if (advice < Fadv.NORMAL || advice > Fadv.NOREUSE || !Number.isInteger(advice)) return -Errno.EINVAL;
  if (f.fs === "tmpfs") return 0; // bdi == &noop_backing_dev_info: no bad return value, but ignore advice
  const end = offset + len;
  const endbyte = len === 0n || end > LLONG_MAX ? LLONG_MAX : end - 1n; // inclusive
  switch (advice) {
    case Fadv.NORMAL:
      file.raPages = null; // bdi->ra_pages
      file.fmodeRandom = false;
      file.fmodeNoreuse = false;
      break;
    case Fadv.RANDOM:
      file.fmodeRandom = true;
      break;
    case Fadv.SEQUENTIAL:
      file.raPages = ctx.settings.readaheadPages * 2;
      file.fmodeRandom = false;
      break;
    case Fadv.WILLNEED: {
      if (offset < 0n) break;
      // first and last PARTIAL page
      const start = offset >> 12n;
      const nr = (endbyte >> 12n) - start + 1n;
      if (start < BigInt(f.nrPages)) forcePageCacheRa(ctx, file, Number(start), Number(nr));
      break;
    }
    case Fadv.NOREUSE:
      file.fmodeNoreuse = true;
      break;
    case Fadv.DONTNEED:
      if (offset >= 0n) fadviseDontneed(ctx, f, offset, endbyte);
      break;
  }
  return 0;
}

/**
 * POSIX_FADV_DONTNEED: writeback of the byte range starts
 * (__filemap_fdatawrite_range, WB_SYNC_NONE: the written pages are under
 * writeback, and invalidation skips them, until the I/O ends: vmlab ends it
 * at lru_add_drain_all, or when the call returns); then the
 * first and last FULL page (a partial last page is kept, unless it is the
 * file's last) are invalidated after lru_add_drain; if some folio could not
 * go (likely in another CPU's LRU add batch), lru_add_drain_all and
 * invalidate_mapping_pages again.
 * Linux: mm/fadvise.c generic_fadvise (POSIX_FADV_DONTNEED)
 */
function fadviseDontneed(ctx: MmContext, f: FileObject, offset: bigint, endbyte: bigint): void {
  const last = Math.min(Number(endbyte >> 12n), f.nrPages); // past the last page: no page there anyway
  const writing =
    offset >> 12n < BigInt(f.nrPages) ? filemapFdatawriteRange(ctx, f, Number(offset >> 12n), last) : [];
  const startIndex = (offset + 4095n) >> 12n;
  let endIndex = endbyte >> 12n;
  let go = true;
  if ((endbyte & 4095n) !== 4095n && endbyte !== BigInt(f.sizeBytes) - 1n) {
    if (endIndex === 0n) go = false;
    else endIndex--;
  }
  if (go && endIndex >= startIndex && startIndex < BigInt(f.nrPages)) {
    const s = Number(startIndex);
    const e = Math.min(Number(endIndex), f.nrPages);
    const lru = ctx.env.lru;
    lru?.fbatches.drain(); // lru_add_drain
    const failed = { n: 0 };
    mappingTryInvalidate(ctx, f, s, e, failed);
    if (failed.n > 0) {
      lru?.fbatches.drainAll(); // lru_add_drain_all
      // it waits for work on every CPU: the writeback started above has ended by then (measured
      // by test/differential/probe_mincore.c: dirty pages go when a mapped page made this pass run)
      folioEndWriteback(ctx, writing);
      invalidateMappingPages(ctx, f, s, e);
    }
  }
  folioEndWriteback(ctx, writing);
}

/** /proc/vmstat's drop_caches events. Linux: include/linux/vm_event_item.h DROP_PAGECACHE, DROP_SLAB */
export interface DropCachesStats {
  drop_pagecache: number;
  drop_slab: number;
}

/**
 * A write of `mode` to /proc/sys/vm/drop_caches: bit 0 (1) drains every
 * CPU's LRU batches and invalidates every file's page cache
 * (invalidate_mapping_pages over the whole of each inode: clean unused
 * pages go, dirty, mapped or held ones are deactivated instead), bit 1 (2)
 * shrinks the slab caches (drop_slab: shrink_slab over every shrinker;
 * vmlab's kernel objects, kmalloc caches, have no shrinker, so nothing is
 * freed), each counted in vmstat. Returns the page-cache pages dropped.
 * Linux: fs/drop_caches.c drop_caches_sysctl_handler, drop_pagecache_sb; mm/vmscan.c drop_slab
 */
export function dropCaches(ctx: MmContext, mode: number, stats: DropCachesStats): number {
  let dropped = 0;
  if (mode & 1) {
    ctx.env.lru?.fbatches.drainAll();
    // iterate_supers: every inode with pages (the files in creation order)
    for (const f of ctx.env.pageCache.files.values())
      if (f.cache.size > 0) dropped += invalidateMappingPages(ctx, f, 0, Number.MAX_SAFE_INTEGER);
    stats.drop_pagecache++;
  }
  if (mode & 2) stats.drop_slab++;
  return dropped;
}
