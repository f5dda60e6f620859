/**
 * Dirty page-cache pages under reclaim, and the flusher that cleans them (Linux 6.12).
 *
 * ext4 has ->writepages and no ->writepage (since Linux 6.3), so reclaim
 * never writes a dirty ext4 folio itself. shrink_folio_list, having unmapped
 * it (try_to_unmap moves a dirty PTE's bit to the folio), finds it dirty and
 * activates it with PG_reclaim, counted in NR_VMSCAN_IMMEDIATE ("Immediately
 * reclaim when written back"), unless kswapd meets a folio it marked so with
 * the node flagged PGDAT_DIRTY: then pageout finds no writepage
 * (PAGE_ACTIVATE: activated, not counted), or keep_locked when the folio was
 * only referenced by read(2) (FOLIOREF_RECLAIM_CLEAN: back on the inactive
 * list). When every folio a shrink_inactive_list batch took was dirty and not
 * under writeback, it wakes the flusher threads (WB_REASON_VMSCAN), whose
 * work (wb_check_start_all) writes every dirty page: the dirty inodes in the
 * order they became dirty (b_dirty by dirtied_when), each inode's pages in
 * index order (writeback_iter, range cyclic from writeback_index, which a
 * pass to the end leaves at 0). Each page is cleaned first
 * (folio_clear_dirty_for_io: folio_mkclean write-protects and cleans every
 * shared PTE mapping it) and written; when its writeback ends, a folio with
 * PG_reclaim loses it and is rotated to the tail of its inactive list
 * (folio_rotate_reclaimable -> the lru_move_tail batch: pgrotated), where
 * the next scan frees it.
 *
 * vmlab's modelling: the flusher runs at once when woken and its writes end
 * at once, as vmlab runs kswapd inside the allocation that wakes it; it
 * writes each inode whole (Linux's writeback_chunk_size, at least 4 MiB a
 * turn, the rest requeued, changes only the order between inodes holding
 * more than a chunk each). Background and periodic writeback
 * (dirty_background_ratio, dirty_expire_centisecs) need a clock vmlab does
 * not have: dirty pages stay dirty until msync, fsync, POSIX_FADV_DONTNEED
 * or reclaim's wakeup. Only the `linux` reclaim policy works this way; the
 * others write a dirty page from reclaim (as a filesystem with ->writepage).
 *
 * sync(2) and fsync(2) write the same way (syncFs, fileFsync).
 *
 * Linux: mm/vmscan.c shrink_folio_list, pageout, shrink_inactive_list, shrink_node;
 * fs/fs-writeback.c wakeup_flusher_threads, wb_start_writeback, wb_check_start_all,
 * writeback_sb_inodes; mm/page-writeback.c writeback_iter, folio_clear_dirty_for_io;
 * mm/filemap.c folio_end_writeback; mm/swap.c folio_rotate_reclaimable, lru_move_tail
 */
import type { FileObject } from "../fs/file.ts";
import { filemapFdatawriteRange, folioEndWriteback } from "./filemap.ts";
import type { MmContext } from "./internal.ts";
import { PageFlag } from "./PageDesc.ts";
import type { PageCache } from "./pagecache.ts";

/** Is the page-cache folio holding `index` of disk file `f` dirty (any of its pages)? */
export function fileFolioDirty(pc: PageCache, f: FileObject, index: number): boolean {
  if (f.fs !== "disk" || f.dirty.size === 0) return false;
  if (f.folios.size === 0) return f.dirty.has(index);
  const start = pc.folioStart(f, index);
  for (let i = start, end = start + pc.folioPages(f, start); i < end; i++) if (f.dirty.has(i)) return true;
  return false;
}

/** What shrink_folio_list does with a dirty disk-file folio it unmapped (dropFile's answer). */
export const enum DirtyFolio {
  /** activate_locked: onto the active list, PG_reclaim set (the flusher's end of writeback rotates it back) */
  Activate = -2,
  /** keep_locked: back on the inactive list it came from */
  Keep = -1,
}

/**
 * Reclaim's side of dirty page-cache folios: shrink_inactive_list's
 * nr_taken / nr_unqueued_dirty for the batch under way, shrink_node's sums
 * for kswapd's PGDAT_DIRTY, NR_VMSCAN_IMMEDIATE, and the flusher's wakeups.
 */
export class ReclaimWriteback {
  /** the batch under way (one shrink_inactive_list of the file list): pages taken, dirty and not under writeback among them */
  private taken = 0;
  private unqueued = 0;
  /** shrink_node's sc->nr.file_taken and sc->nr.unqueued_dirty (one pass) */
  private nodeFileTaken = 0;
  private nodeUnqueued = 0;
  /** PGDAT_DIRTY: kswapd found its last pass's file pages all dirty; it may "write" them (pageout) */
  pgdatDirty = false;
  /** /proc/vmstat nr_vmscan_immediate_reclaim */
  immediate = 0;
  /** the folio being reclaimed had PG_referenced and no young PTE (FOLIOREF_RECLAIM_CLEAN; shrinkInactive sets it) */
  referencedClean = false;
  /** wakeup_flusher_threads(WB_REASON_VMSCAN) calls that found dirty pages, and the pages the flusher wrote */
  flusherRuns = 0;
  flusherPages = 0;

  /** `flush`: the flusher's pass over every dirty page (writebackDirtyInodes); the pages written */
  constructor(private readonly flush: () => number) {}

  /** isolate_lru_folios took a folio of nrPages from the inactive file list; `dirty`: folio_check_dirty_writeback's dirty && !writeback */
  taken1(nrPages: number, dirty: boolean): void {
    this.taken += nrPages;
    if (dirty) this.unqueued += nrPages;
  }

  /**
   * The end of one shrink_inactive_list batch (after move_folios_to_lru): "If dirty folios are
   * scanned that are not queued for IO, it implies that flushers are not doing their job" -
   * stat.nr_unqueued_dirty == nr_taken wakes them. A batch of the anon list takes nothing here.
   */
  endBatch(): void {
    const taken = this.taken;
    if (taken === 0) return;
    const unqueued = this.unqueued;
    this.taken = 0;
    this.unqueued = 0;
    this.nodeFileTaken += taken;
    this.nodeUnqueued += unqueued;
    if (unqueued !== taken) return;
    const n = this.flush();
    if (n > 0) this.flusherRuns++;
    this.flusherPages += n;
  }

  /** shrink_node's start: sc->nr zeroed */
  startNode(): void {
    this.nodeFileTaken = 0;
    this.nodeUnqueued = 0;
  }

  /** shrink_node's end, for kswapd: "Allow kswapd to start writing pages during reclaim" (0 == 0 counts, as in Linux) */
  endNode(kswapd: boolean): void {
    if (kswapd && this.nodeUnqueued === this.nodeFileTaken) this.pgdatDirty = true;
  }

  /**
   * shrink_folio_list's folio_test_dirty branch for a page-cache folio of a disk file (unmapped
   * already): what becomes of it. `kswapd`: current_is_kswapd(); `referencedClean`:
   * folio_check_references gave FOLIOREF_RECLAIM_CLEAN (PG_referenced, no young PTE).
   */
  dirtyFolio(flags: Uint16Array, pfn: number, kswapd: boolean, referencedClean: boolean): DirtyFolio {
    if (!kswapd || !(flags[pfn] & PageFlag.Reclaim) || !this.pgdatDirty) {
      this.immediate++;
      flags[pfn] |= PageFlag.Reclaim; // folio_set_reclaim
      return DirtyFolio.Activate;
    }
    // pageout would write it, but ext4 has no writepage: PAGE_ACTIVATE (after the checks before it)
    return referencedClean ? DirtyFolio.Keep : DirtyFolio.Activate;
  }
}

/**
 * The flusher's pass woken by reclaim (wb_check_start_all: nr_pages = every dirty page,
 * WB_SYNC_NONE), and sync(2)'s (ksys_sync: wakeup_flusher_threads(WB_REASON_SYNC), then
 * sync_inodes_sb waiting on each): each dirty inode in dirtied order, its dirty pages in index
 * order, cleaned, written and their writeback ended (PG_reclaim folios rotated to their
 * inactive tail). Returns the pages written.
 */
export function writebackDirtyInodes(ctx: MmContext): number {
  const inodes = ctx.env.pageCache.acct.dirtyInodes;
  if (inodes.size === 0) return 0;
  let written = 0;
  for (const f of [...inodes]) {
    const pfns = filemapFdatawriteRange(ctx, f, 0, f.nrPages);
    folioEndWriteback(ctx, pfns);
    written += pfns.length;
  }
  return written;
}

/**
 * fsync(2)/fdatasync(2) of a disk file: file_write_and_wait_range over the whole file, every
 * dirty page cleaned, written and waited for (PG_reclaim folios rotated as their writeback ends);
 * a tmpfs file has nothing to write (shmem's noop_fsync). Returns the pages written.
 * Linux: fs/sync.c vfs_fsync_range, mm/filemap.c file_write_and_wait_range, fs/ext4/fsync.c
 */
export function fileFsync(ctx: MmContext, f: FileObject): number {
  if (f.fs !== "disk") return 0;
  const pfns = filemapFdatawriteRange(ctx, f, 0, f.nrPages);
  folioEndWriteback(ctx, pfns);
  return pfns.length;
}
