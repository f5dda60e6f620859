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
 * writes each inode whole from its writeback_index (Linux's
 * writeback_chunk_size, at least 4 MiB a turn, the rest requeued, changes
 * only the order between inodes holding more than a chunk each). Only the
 * `linux` reclaim policy works this way; the others write a dirty page from
 * reclaim (as a filesystem with ->writepage).
 *
 * Dirty limits (DirtyThrottle below, every Linux machine): balance_dirty_pages
 * and the background flusher it starts, in chunks. Periodic writeback
 * (dirty_expire_centisecs) needs a clock vmlab does not have.
 *
 * sync(2) and fsync(2) write the same way (syncFs, fileFsync).
 *
 * Linux: mm/vmscan.c shrink_folio_list, pageout, shrink_inactive_list, shrink_node;
 * fs/fs-writeback.c wakeup_flusher_threads, wb_start_writeback, wb_check_start_all,
 * wb_check_background_flush, wb_writeback, writeback_sb_inodes; mm/page-writeback.c
 * balance_dirty_pages, writeback_iter, folio_clear_dirty_for_io;
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
  /** a dirty droppable folio: activate_locked, then freed at the putback (mm/droppable.ts droppedDirty) */
  Dropped = -3,
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
 * inactive tail). Each inode's pass starts at its writeback_index (range cyclic, not wrapping:
 * 0 unless a background pass stopped inside it), the pages below it on a later pass. Returns
 * the pages written.
 */
export function writebackDirtyInodes(ctx: MmContext): number {
  const inodes = ctx.env.pageCache.acct.dirtyInodes;
  let written = 0;
  while (inodes.size > 0) {
    let progress = 0;
    for (const f of [...inodes]) {
      const pfns = writeChunk(ctx, f, Number.POSITIVE_INFINITY);
      folioEndWriteback(ctx, pfns);
      progress += pfns.length;
      // still dirty below the writeback_index it started from (a background pass left it there):
      // redirty_tail, written on the next pass
      if (f.dirty.size > 0) {
        inodes.delete(f);
        inodes.add(f);
      }
    }
    written += progress;
    if (progress === 0) break;
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

/**
 * The dirty-memory knobs of /proc/sys/vm: dirty_background_ratio and dirty_ratio (percent of
 * dirtyable memory), or dirty_background_bytes and dirty_bytes (0: the ratio applies). Writing
 * a ratio zeroes its bytes and the other way round, as Linux's handlers do.
 * Linux: mm/page-writeback.c dirty_background_ratio_handler, dirty_ratio_handler, dirty_bytes_handler
 */
export interface DirtySysctls {
  dirty_background_ratio: number;
  dirty_background_bytes: number;
  dirty_ratio: number;
  dirty_bytes: number;
}

/** The knobs, in the order a write applies them. */
export const DIRTY_KEYS = [
  "dirty_background_ratio",
  "dirty_background_bytes",
  "dirty_ratio",
  "dirty_bytes",
] as const;

/** dirty_bytes_min: dirty_bytes below two pages is refused (-EINVAL). */
export const DIRTY_BYTES_MIN = 2 * 4096;

/** The task fields balance_dirty_pages keeps (task_struct's nr_dirtied, nr_dirtied_pause). */
export interface DirtyingTask {
  /** pages the task dirtied since it was last balanced */
  nrDirtied: number;
  /** how many it may dirty before the next balance_dirty_pages (fork: 128 KiB of pages, 32) */
  nrDirtiedPause: number;
}

/** copy_process's nr_dirtied_pause: 128 >> (PAGE_SHIFT - 10) */
export const NR_DIRTIED_PAUSE_INIT = 32;
/** fs/fs-writeback.c MIN_WRITEBACK_PAGES: 4 MiB of pages, the least a writeback chunk holds */
const MIN_WRITEBACK_PAGES = 1024;
/** include/linux/writeback.h DIRTY_SCOPE */
const DIRTY_SCOPE = 8;
/** mm/backing-dev.c INIT_BW: a device's write bandwidth until it is measured, 100 MiB/s in pages */
const INIT_BW = 25600;

/** The global domain's limits: thresh (dirty throttling) and bg_thresh (background writeback), in pages. */
export interface DirtyLimits {
  /** global_dirtyable_memory() */
  avail: number;
  thresh: number;
  bgThresh: number;
}

/**
 * What the limits read of the machine: NR_FREE_PAGES, totalreserve_pages, the file LRU lists'
 * pages (NR_INACTIVE_FILE + NR_ACTIVE_FILE), and highmem_dirtyable_memory's sum over the
 * highmem zone (its free pages above the high watermark and its file LRU pages; 0 without one).
 */
export interface DirtyableSource {
  freePages(): number;
  totalreservePages(): number;
  fileLruPages(): number;
  highmemDirtyable(): number;
}

/**
 * balance_dirty_pages and the background flusher (Linux 6.12 mm/page-writeback.c,
 * fs/fs-writeback.c), for disk files (tmpfs has no writeback: BDI_CAP_WRITEBACK unset).
 *
 * A task that dirties page-cache pages (write(2): generic_perform_write after each page; a write
 * fault on a shared file mapping: fault_dirty_shared_page) calls balance_dirty_pages_ratelimited,
 * which enters balance_dirty_pages once the task has dirtied nr_dirtied_pause pages (32 after
 * fork), or once its CPU has seen ratelimit_pages dirtied. There the global limits are computed
 * from dirtyable memory (global_dirtyable_memory: free pages less totalreserve_pages, plus the
 * file LRU pages, less highmem's share: vm_highmem_is_dirtyable is 0): bg_thresh =
 * dirty_background_ratio% (or dirty_background_bytes), thresh = dirty_ratio% (or dirty_bytes),
 * bg_thresh halved to thresh / 2 when not below it. NR_FILE_DIRTY above bg_thresh starts
 * background writeback (wb_start_background_writeback). At or below the freerun ceiling,
 * (thresh + bg_thresh) / 2, the task runs free: nr_dirtied = 0 and nr_dirtied_pause =
 * dirty_poll_interval (2^(ilog2(thresh - dirty) / 2), 1 at or above thresh). Above it the task
 * would sleep (the pause, counted in `throttled`) and look again.
 *
 * vmlab's modelling: vmlab has no clock, so the flusher runs as soon as the dirtier's page is
 * done (serve: before the next fault, at a write(2)'s next page, at the end of the access or
 * system call) and its writes end at once; the pause takes no time. The device's bandwidth keeps its initial estimate
 * (INIT_BW) and global_wb_domain.dirty_limit its value from boot or the last dirty_ratio/
 * dirty_bytes write (writeback_set_ratelimit): both move only with time in Linux. No task is a
 * real-time one (their limits are lifted by a quarter), and there is no memcg domain. Periodic
 * writeback (dirty_expire_centisecs) needs the clock: not modelled.
 */
export class DirtyThrottle {
  readonly sysctls: DirtySysctls = {
    dirty_background_ratio: 10,
    dirty_background_bytes: 0,
    dirty_ratio: 20,
    dirty_bytes: 0,
  };
  /** ratelimit_pages: a CPU's dirtied pages that force a balance_dirty_pages (writeback_set_ratelimit) */
  ratelimitPages = 16;
  /** global_wb_domain.dirty_limit (writeback_set_ratelimit; updated only with time in Linux) */
  dirtyLimit = 0;
  /** wb->dirty_exceeded: set where balance_dirty_pages finds the wb over its limits, lowering the ratelimit */
  dirtyExceeded = false;
  /** per-CPU bdp_ratelimits (pages dirtied on the CPU since a balance) and dirty_throttle_leaks (exited tasks' nr_dirtied) */
  readonly bdpRatelimits: number[];
  readonly leaks: number[];
  /** balance_dirty_pages calls; background writebacks started, and the pages they wrote; pauses a dirtier would take */
  balanceCalls = 0;
  /** background writeback queued (wb_start_background_writeback), not yet run (serve); read by the fault fold */
  pending = false;
  backgroundRuns = 0;
  backgroundPages = 0;
  throttled = 0;

  /**
   * `nrDirty`: NR_FILE_DIRTY; `writeback(chunk, over)`: the flusher's background work
   * (backgroundWriteback) writing `chunk` pages of an inode a pass while `over()` holds.
   */
  constructor(
    private readonly src: DirtyableSource,
    private readonly nrDirty: () => number,
    private readonly writeback: (chunk: number, over: () => boolean) => number,
    nrCpus: number,
  ) {
    this.bdpRatelimits = new Array(nrCpus).fill(0);
    this.leaks = new Array(nrCpus).fill(0);
  }

  /** global_dirtyable_memory: the pages that may hold dirty page cache (never 0). */
  dirtyable(): number {
    const s = this.src;
    let x = s.freePages();
    x -= Math.min(x, s.totalreservePages());
    x += s.fileLruPages();
    x -= Math.min(s.highmemDirtyable(), x); // highmem_dirtyable_memory(x): at most x
    return x + 1;
  }

  /** global_dirty_limits -> domain_dirty_limits for the global domain (no real-time task). */
  limits(): DirtyLimits {
    const avail = this.dirtyable();
    const c = this.sysctls;
    // the ratios per PAGE_SIZE for precision: (ratio * PAGE_SIZE) / 100, then * avail / PAGE_SIZE
    const ratio = Math.floor((c.dirty_ratio * 4096) / 100);
    const bgRatio = Math.floor((c.dirty_background_ratio * 4096) / 100);
    let thresh = c.dirty_bytes ? Math.ceil(c.dirty_bytes / 4096) : Math.floor((ratio * avail) / 4096);
    let bgThresh = c.dirty_background_bytes
      ? Math.ceil(c.dirty_background_bytes / 4096)
      : Math.floor((bgRatio * avail) / 4096);
    thresh = Math.min(thresh, 0xffffffff);
    if (bgThresh >= thresh) bgThresh = Math.floor(thresh / 2);
    return { avail, thresh, bgThresh };
  }

  /** writeback_set_ratelimit: at boot, and when dirty_ratio or dirty_bytes changes. */
  setRatelimit(): void {
    const { thresh } = this.limits();
    this.dirtyLimit = thresh;
    this.ratelimitPages = Math.max(16, Math.floor(thresh / (this.bdpRatelimits.length * 32)));
  }

  /**
   * Writes the knobs given, in DIRTY_KEYS' order, as /proc/sys/vm's handlers do: a ratio 0..100,
   * dirty_background_bytes at least 1, dirty_bytes at least DIRTY_BYTES_MIN (else -EINVAL, that
   * knob and those after it unwritten); bytes above 2^32 - 1 pages -ERANGE. Returns 0 or -errno.
   */
  write(w: Partial<DirtySysctls>): number {
    const c = this.sysctls;
    for (const key of DIRTY_KEYS) {
      const v = w[key];
      if (v === undefined) continue;
      const ratio = key === "dirty_background_ratio" || key === "dirty_ratio";
      const min = key === "dirty_bytes" ? DIRTY_BYTES_MIN : ratio ? 0 : 1;
      if (!Number.isSafeInteger(v) || v < min || (ratio && v > 100)) return -22;
      if (!ratio && Math.ceil(v / 4096) > 0xffffffff) return -34;
      const old = c[key];
      c[key] = v;
      if (key === "dirty_background_ratio") c.dirty_background_bytes = 0;
      else if (key === "dirty_background_bytes") c.dirty_background_ratio = 0;
      else if (v !== old) {
        this.setRatelimit();
        if (key === "dirty_ratio") c.dirty_bytes = 0;
        else c.dirty_ratio = 0;
      }
    }
    return 0;
  }

  /** writeback_chunk_size for WB_SYNC_NONE: min(bandwidth / 2, dirty_limit / DIRTY_SCOPE) rounded up to whole 4 MiB. */
  chunkSize(): number {
    const pages = Math.min(INIT_BW / 2, Math.floor(this.dirtyLimit / DIRTY_SCOPE));
    return Math.floor((pages + MIN_WRITEBACK_PAGES) / MIN_WRITEBACK_PAGES) * MIN_WRITEBACK_PAGES;
  }

  /** folio_account_dirtied's share: `nr` pages the task dirtied on `cpu`. */
  accountDirtied(task: DirtyingTask, cpu: number, nr: number): void {
    task.nrDirtied += nr;
    this.bdpRatelimits[cpu] += nr;
  }

  /** do_exit: the task's nr_dirtied not yet balanced goes to its CPU's dirty_throttle_leaks. */
  exitTask(task: DirtyingTask, cpu: number): void {
    if (task.nrDirtied) this.leaks[cpu] += task.nrDirtied;
  }

  /** balance_dirty_pages_ratelimited_flags (Linux 6.12), for a disk file's mapping, on `cpu`. */
  ratelimited(task: DirtyingTask, cpu: number): void {
    let ratelimit = task.nrDirtiedPause;
    if (this.dirtyExceeded) ratelimit = Math.min(ratelimit, 8); // 32 >> (PAGE_SHIFT - 10)
    const bdp = this.bdpRatelimits;
    if (task.nrDirtied >= ratelimit) bdp[cpu] = 0;
    else if (bdp[cpu] >= this.ratelimitPages) {
      bdp[cpu] = 0;
      ratelimit = 0;
    }
    // the pages exited tasks dirtied: charged to whoever dirties next on the CPU
    if (this.leaks[cpu] > 0 && task.nrDirtied < ratelimit) {
      const n = Math.min(this.leaks[cpu], ratelimit - task.nrDirtied);
      this.leaks[cpu] -= n;
      task.nrDirtied += n;
    }
    if (task.nrDirtied >= ratelimit) this.balance(task);
  }

  /**
   * wb_over_bg_thresh: NR_FILE_DIRTY above bg_thresh. One wb holds every dirty page, and its share
   * of the threshold is the whole (its fraction of the domain's writeout completions; before the
   * first completion Linux reads it as 0, which no pass here sees: writes end at once).
   */
  overBgThresh(): boolean {
    return this.nrDirty() > this.limits().bgThresh;
  }

  /**
   * balance_dirty_pages (Linux 6.12) for the global domain: NR_FILE_DIRTY above bg_thresh starts
   * background writeback (queued: serve runs it); at or below the freerun ceiling the task runs
   * free (nr_dirtied 0, nr_dirtied_pause the poll interval). Above it Linux sets
   * wb->dirty_exceeded (dirty above thresh), pauses the task and returns: here the pause takes
   * no time (counted in `throttled`).
   */
  balance(task: DirtyingTask): void {
    this.balanceCalls++;
    // NR_WRITEBACK adds nothing: writes end at once
    const dirty = this.nrDirty();
    const { thresh, bgThresh } = this.limits();
    const freerun = dirty <= Math.floor((thresh + bgThresh) / 2);
    if (dirty > bgThresh) this.pending = true;
    task.nrDirtied = 0;
    task.nrDirtiedPause = dirtyPollInterval(dirty, thresh);
    if (freerun) return;
    this.dirtyExceeded = dirty > thresh;
    this.throttled++;
  }

  /**
   * The flusher's turn: the background writeback balance_dirty_pages queued, run now. The kernel
   * calls it where the dirtier's work is done, as the flusher would have run beside it: before
   * the next fault, at each page boundary of a write(2), at the end of a user access or system
   * call. (Run inside the fault that queued it, it would clean the page the fault just made
   * dirty before the store that faulted lands.)
   */
  serve(): void {
    if (!this.pending) return;
    this.pending = false;
    this.startBackground();
  }

  /** wb_start_background_writeback, the flusher's wb_check_background_flush run at once. */
  private startBackground(): void {
    if (!this.overBgThresh()) return;
    this.backgroundRuns++;
    this.backgroundPages += this.writeback(this.chunkSize(), () => this.overBgThresh());
  }
}

/** dirty_poll_interval: 2^(ilog2(thresh - dirty) / 2) pages before the next look, 1 at or above thresh. */
export function dirtyPollInterval(dirty: number, thresh: number): number {
  if (thresh <= dirty) return 1;
  return 2 ** (Math.floor(Math.log2(thresh - dirty)) >> 1);
}

/**
 * The flusher's background work (wb_check_background_flush -> wb_writeback with for_background,
 * WB_SYNC_NONE, range_cyclic; no time passes, so writeback_sb_inodes never bails out for time):
 * while `over()` holds, a pass over the dirty inodes in the order the flusher takes them (b_io:
 * the inodes requeued to b_more_io first, then b_dirty oldest first) writes up to `chunk` pages
 * of each, in index order from its writeback_index; an inode that used its whole chunk stays
 * ahead (requeue_io), one still dirty below its writeback_index goes behind the rest
 * (redirty_tail), a clean one leaves the list. Returns the pages written.
 * Linux: fs/fs-writeback.c wb_writeback, writeback_sb_inodes, requeue_inode; mm/page-writeback.c writeback_iter
 */
export function backgroundWriteback(ctx: MmContext, chunk: number, over: () => boolean): number {
  const inodes = ctx.env.pageCache.acct.dirtyInodes;
  let written = 0;
  while (inodes.size > 0 && over()) {
    let progress = 0;
    for (const f of [...inodes]) {
      const pfns = writeChunk(ctx, f, chunk);
      folioEndWriteback(ctx, pfns);
      progress += pfns.length;
      if (f.dirty.size > 0 && pfns.length < chunk) {
        inodes.delete(f); // redirty_tail: behind the inodes dirtied before now
        inodes.add(f);
      }
    }
    written += progress;
    if (progress === 0) break;
  }
  return written;
}

/**
 * writeback_iter's range-cyclic pass over one inode for a chunk: its dirty pages from
 * writeback_index in index order, `chunk` at most; writeback_index moves past the last one
 * written, or back to 0 when the pass reached the end (it does not wrap). The frames written.
 */
function writeChunk(ctx: MmContext, f: FileObject, chunk: number): number[] {
  const from = f.writebackIndex;
  const todo = [...f.dirty].filter((i) => i >= from).sort((x, y) => x - y);
  const take = todo.slice(0, chunk);
  const pfns = take.length === 0 ? [] : filemapFdatawriteRange(ctx, f, take[0], take[take.length - 1]);
  f.writebackIndex = todo.length > chunk ? take[take.length - 1] + 1 : 0;
  return pfns;
}
