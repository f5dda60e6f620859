import { pfnUnchecked } from "../../base/units.ts";
import type { FileObject } from "../fs/file.ts";
import { deferredSplitShrinker, splitForReclaim, splitHugePage } from "./deferred_split.ts";
import { discardLazyfree, newAnonList } from "./lazyfree.ts";
import { folioEvictable } from "./mlock_fbatch.ts";
import { LruLists, ZONE_MOVABLE } from "./mm_inline.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { DirtyFolio, fileFolioDirty, ReclaimWriteback, writebackDirtyInodes } from "./page_writeback.ts";
import { PfnSet } from "./pfnset.ts";
import {
  folioReferenced,
  type RmapPages,
  reuseOnlyMapping,
  rmapBatchDone,
  rmapWalk,
  tryToUnmapAnon,
} from "./rmap.ts";
import { shmemPages } from "./shmem.ts";
import { shmemSbShrink } from "./shmem_shrink.ts";
import { doShrinkSlab, type Shrinker } from "./shrinker.ts";
import { cullUnevictable, folioMarkAccessed, LruAddBatches, lazyfreeable, MoveOp } from "./swap.ts";
import { tryToUnmapFlush, tryToUnmapFlushDirty } from "./tlbbatch.ts";
import { type ShmemObject, VmFlag } from "./vma.ts";
import { shrinkAnonSmall } from "./vmscan_anon.ts";
import {
  balancePgdat,
  doTryToFreePages,
  LruvecCost,
  newScanControl,
  type ScanControl,
  type ShrinkNode,
  SWAP_CLUSTER_MAX,
} from "./vmscan_balance.ts";
import type { VmscanEnv } from "./vmscan_env.ts";
import { dropFile, shmemWriteout } from "./vmscan_evict.ts";
import { isolateSkip, mustSkip, perPageFolioPages, skipped } from "./vmscan_isolate.ts";
import * as dmaPin from "./vmscan_pinned.ts";
import { shrinkOther } from "./vmscan_policies.ts";
import {
  countScanned,
  countStolen,
  newReclaimStats,
  type ReclaimContext,
  Reclaimer,
  type ReclaimStats,
} from "./vmscan_stat.ts";
import { Refault, Workingset } from "./workingset.ts";

export { SWAP_CLUSTER_MAX } from "./vmscan_balance.ts";
export { RECLAIM_POLICIES, type ReclaimPolicy, type VmscanEnv } from "./vmscan_env.ts";

/** The LRU lists of the node (include/linux/mmzone.h enum lru_list; mlock_fbatch.ts moves pages to and from LRU_UNEVICTABLE). */
export const enum Lru {
  None = 0,
  InactiveAnon = 1,
  ActiveAnon = 2,
  InactiveFile = 3,
  ActiveFile = 4,
  Unevictable = 5,
}

export const LRU_NAMES = ["", "inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable"];

/** PAGEVEC_SIZE: the folios shrink_folio_list frees at a time (free_folios), each time after try_to_unmap_flush */
const PAGEVEC_SIZE = 31;

/**
 * Page reclaim (mm/vmscan.c) over Linux's split LRU: new anonymous and file
 * pages enter the inactive lists, through the running CPU's LRU add batch
 * (swap.ts) that each shrink empties first; shrink_inactive_list takes pages from the
 * tail, reads and clears their accessed bits through the reverse map
 * (folio_referenced, with a TLB flush per young PTE), promotes referenced
 * pages (anonymous: at once; file: on a second reference, or if mapped more
 * than once or executable) and reclaims the rest: anonymous pages to swap
 * (try_to_unmap puts a swap entry in every PTE), clean file pages dropped,
 * dirty ones left to the flusher (page_writeback.ts). shrink_active_list moves pages from the active tail to
 * the inactive list (clearing their accessed bits), keeping referenced
 * executable file pages active. vmscan_balance.ts divides the work between anon
 * and file (get_scan_count: by swappiness and each side's recent cost, lru_note_cost)
 * and walks the priorities (shrink_lruvec, do_try_to_free_pages, balance_pgdat).
 *
 * A transparent huge page is one entry (a folio of HPAGE_PMD_NR pages); reclaim
 * swaps it, or an mTHP folio, out whole (vmscan_swapout.ts), or splits it first.
 *
 * MADV_FREE'd anonymous pages sit on the inactive file list (lru_lazyfree)
 * and are discarded, not swapped, while clean (markLazyfree, discardLazyfree).
 *
 * Shmem pages (shared anonymous memory and tmpfs files) are swap-backed:
 * they sit on the anon lists and go to swap through shmemWriteout.
 *
 * Mlocked pages (PG_mlocked) sit on the unevictable list, which no scan
 * looks at (mlock_fbatch.ts moves them there and back); one found on the
 * other lists, or mapped by a VM_LOCKED VMA, is culled to it (swap.ts
 * cullUnevictable). Kernel pages are never on any list.
 */
export class Vmscan extends LruLists implements RmapPages, ShrinkNode {
  /** the linear page index of an LRU page (page->index), for the reverse map */
  readonly index: Float64Array;
  /** the anon_vma of an anonymous LRU page (folio->mapping), for the reverse map */
  readonly anonVma: Int32Array;
  /** PG_referenced */
  readonly referenced: Uint8Array;
  /** the file of a page-cache page on the LRU, or the shmem object of a shmem page */
  readonly owner: (FileObject | ShmemObject | undefined)[] = [];
  /** pages a fault is working on (a COW source, the page being read); reclaim leaves them alone */
  readonly pinned: PfnSet;
  /** the per-CPU batches new pages wait in before they join the lists (mm/swap.c cpu_fbatches.lru_add) */
  readonly fbatches: LruAddBatches;
  /** /proc/vmstat's reclaim events (vmscan_stat.ts) */
  readonly stats: ReclaimStats = newReclaimStats();
  /** the reclaim under way: kswapd, direct or a memory cgroup's (core/reclaim.ts sets it) */
  readonly reclaimCtx: ReclaimContext = {
    reclaimer: Reclaimer.Direct,
    mayWritepage: true,
    cgroup: false,
    cgroupReclaims: 0,
    memcgFailcnt: 0,
    memcgOomKills: 0,
  };

  /** reclaim_pages (MADV_PAGEOUT) is under way: shrink_folio_list's ignore_references (mm/shmem_swapout.ts) */
  ignoreReferences = false;

  /** pgdat->kswapd_failures (vmscan_balance.ts): at MAX_RECLAIM_RETRIES kswapd is no longer woken */
  kswapdFailures = 0;
  /** the lruvec's reclaim costs and refault snapshot (lru_note_cost, snapshot_refaults) */
  readonly cost = new LruvecCost();
  /** PAGE_SHIFT (inactive_is_low's GiB) */
  readonly pageShift = 12;

  /** the node lruvec's nonresident clock and refault counters (mm/workingset.c) */
  readonly workingset: Workingset;

  /** dirty page-cache folios left to the flusher (page_writeback.ts; null: reclaim writes them, env.noWritepage false) */
  readonly writeback: ReclaimWriteback | null;

  /** the thp-deferred_split shrinker (null: no queue; undefined: not looked up yet) */
  private splitShrinker: Shrinker | null | undefined;

  /** folios the list being shrunk has freed since its last flush (shrink_folio_list's free_folios) */
  private freeBatch = 0;

  /** mglru: the oldest and youngest generation numbers (a page's list is its generation mod 4, plus 1) */
  minSeq = 0;
  maxSeq = 0;
  /** clock: the hand (a pfn) */
  hand = 0;
  /** random: the generator's state */
  rngState: number;

  /**
   * sc->reclaim_idx of the reclaim under way: the highest zone whose pages it may take
   * (isolate_lru_folios skips the others); ZONE_MOVABLE, every zone, outside direct reclaim and kswapd
   */
  reclaimIdx = ZONE_MOVABLE;
  /** PGSCAN_SKIP by zone (vmscan_isolate.ts) */
  readonly pgskip = new Float64Array(4);

  constructor(
    readonly env: VmscanEnv,
    nrFrames: number,
  ) {
    super(nrFrames, env.userMm.env.pgtable.hpagePmdNr, env.zoneEndPfns);
    this.rngState = env.seed >>> 0 || 1;
    this.writeback =
      env.noWritepage === true ? new ReclaimWriteback(() => writebackDirtyInodes(env.userMm)) : null;
    this.index = new Float64Array(nrFrames);
    this.anonVma = new Int32Array(nrFrames);
    this.pinned = new PfnSet(nrFrames);
    this.referenced = new Uint8Array(nrFrames);
    this.fbatches = new LruAddBatches(this, env.nrCpus ?? 1, nrFrames);
    this.workingset = new Workingset(
      env.longBits ?? 64,
      env.nodesShift ?? 0,
      env.totalRamPages ?? (() => nrFrames),
    );
    const size = this.size;
    this.workingset.nodes.lruPages = () => size[1] + size[2] + size[3] + size[4] + size[5];
    this.workingset.nodes.slabPages = () => env.slabPages?.() ?? 0;
  }

  // ---- the lists ----

  /** Takes pfn off the lists for good (its page is freed or no longer reclaimable), clearing its flags. */
  del(pfn: number): void {
    if (this.lru[pfn] === Lru.None) return;
    this.unlink(pfn);
    this.referenced[pfn] = 0;
    this.large[pfn] = 0;
  }

  /** A new anonymous page at linear index `index` of anon_vma `anonVma` (folio_add_lru_vma: new pages start inactive). */
  addAnon(pfn: number, index: number, anonVma: number, vmFlags = 0, shadow = 0): void {
    this.index[pfn] = index;
    this.anonVma[pfn] = anonVma;
    this.referenced[pfn] = 0;
    const anon: Lru = newAnonList(this.env.pages, pfn, vmFlags, Lru.InactiveAnon); // droppable.ts: maybe file
    const list = shadow === 0 ? this.entryList(anon) : this.refaultList(pfn, anon, shadow);
    this.fbatches.addVma(pfn, false, list, vmFlags);
  }

  /** addAnon of pages pfns[0..n) at indexes index, index + step, ... (no shadow; a VMA that does not mlock) */
  addAnonRun(pfns: Float64Array, n: number, index: number, step: number, anonVma: number): void {
    for (let i = 0; i < n; i++) {
      const pfn = pfns[i];
      this.index[pfn] = index + i * step;
      this.anonVma[pfn] = anonVma;
      this.referenced[pfn] = 0;
    }
    this.fbatches.addRun(pfns, n, this.entryList(Lru.InactiveAnon));
  }

  /** A new transparent huge page: one folio of HPAGE_PMD_NR pages from `head`, at linear index `index`. */
  addAnonHuge(head: number, index: number, anonVma: number, vmFlags = 0): void {
    if (this.lru[head] !== Lru.None) this.del(head);
    this.index[head] = index;
    this.anonVma[head] = anonVma;
    this.referenced[head] = 0;
    this.large[head] = 1;
    const list: Lru = newAnonList(this.env.pages, head, vmFlags, Lru.InactiveAnon, this.hpageNr);
    this.fbatches.addVma(head, true, this.entryList(list), vmFlags);
  }

  /**
   * split_folio (__split_huge_page): the huge page's HPAGE_PMD_NR pages become one
   * LRU entry each, in the head's place on its list (the head, then the
   * pieces toward the tail), each with its linear index and the head's
   * PG_referenced. Pieces already freed are left out.
   */
  splitFolio(head: number): void {
    if (!this.large[head]) return;
    const list = this.lru[head] === Lru.None ? this.entryList(Lru.InactiveAnon) : (this.lru[head] as Lru);
    const after = this.lru[head] === Lru.None ? -1 : this.next[head];
    if (this.lru[head] !== Lru.None) this.unlink(head);
    this.large[head] = 0;
    const pages = this.env.pages;
    let at = after;
    for (let i = this.hpageNr - 1; i >= 0; i--) {
      const pfn = head + i;
      if (i > 0) {
        if (pages.kind[pfn] !== PageKind.UserAnon || pages.refcount[pfn] === 0 || this.lru[pfn] !== Lru.None)
          continue;
        this.index[pfn] = this.index[head] + i;
        this.anonVma[pfn] = this.anonVma[head];
        this.referenced[pfn] = this.referenced[head];
        pages.flags[pfn] |= pages.flags[head] & PageFlag.Mlocked; // __split_huge_page_tail
        this.fbatches.mlock.mlockCount[pfn] = 0;
      }
      this.insertBefore(pfn, list, at);
      at = pfn;
    }
  }

  /** split_folio of a whole anonymous THP, its PMDs split first (mm/deferred_split.ts). */
  splitHugePage(head: number): boolean {
    return splitHugePage(this, head);
  }

  /** The list a new page joins under the policy. */
  private entryList(linux: Lru): Lru {
    const p = this.env.policy;
    if (p === "linux") return linux;
    if (p === "mglru") return ((this.maxSeq % 4) + 1) as Lru;
    return Lru.InactiveAnon; // one queue
  }

  /**
   * Exact LRU: the simulator saw an access to pfn at page vpn (Kernel.userAccess
   * calls this under policy=lru); a page of a huge page moves its folio.
   */
  touch(pfn: number, vpn: number): void {
    // the unevictable list is never rotated (folio_mark_accessed: "no effect")
    const page = this.lru[pfn] !== Lru.None;
    const head = page ? pfn : pfn - (vpn % this.hpageNr);
    if (
      head >= 0 &&
      (page || this.large[head]) &&
      this.lru[head] !== Lru.None &&
      this.lru[head] !== Lru.Unevictable
    )
      this.add(head, Lru.InactiveAnon);
  }

  /** folio_mark_accessed (mm/swap.c, swap.ts folioMarkAccessed), as GUP's FOLL_TOUCH calls it. */
  markAccessed(pfn: number): void {
    folioMarkAccessed(this, pfn);
  }

  /** A new page-cache page of a disk file. */
  addFile(pfn: number, f: FileObject, index: number, shadow = 0): void {
    this.index[pfn] = index;
    this.owner[pfn] = f;
    this.referenced[pfn] = 0;
    this.fbatches.add(
      pfn,
      false,
      shadow === 0 ? this.entryList(Lru.InactiveFile) : this.refaultList(pfn, Lru.InactiveFile, shadow),
    );
  }

  /**
   * A new page of a shmem object: swap-backed, so it joins the inactive anon
   * list (folio_add_lru; page_is_file_lru is false for it).
   * Linux: mm/shmem.c shmem_alloc_and_add_folio, mm/swap.c folio_add_lru
   */
  addShmem(pfn: number, obj: ShmemObject | FileObject, index: number, shadow = 0): void {
    this.index[pfn] = index;
    this.owner[pfn] = obj;
    this.referenced[pfn] = 0;
    this.fbatches.add(
      pfn,
      false,
      shadow === 0 ? this.entryList(Lru.InactiveAnon) : this.refaultList(pfn, Lru.InactiveAnon, shadow),
    );
  }

  /**
   * The list a new page read back where reclaim left `shadow` (0: none) joins: workingset_refault
   * before folio_add_lru may make it active (and PG_workingset). Linux: mm/workingset.c
   */
  private refaultList(pfn: number, inactive: Lru, shadow: number): Lru {
    if (this.env.policy !== "linux") return this.entryList(inactive);
    const r = this.workingset.refault(
      shadow,
      inactive === Lru.InactiveFile,
      1,
      this.size,
      this.env.swap?.freePages ?? 0,
    );
    if (r === Refault.Restore) {
      this.env.pages.flags[pfn] |= PageFlag.Workingset;
      this.cost.note(inactive === Lru.InactiveFile, 1, 0, this.size); // lru_note_cost_refault
    }
    return r === Refault.Inactive ? inactive : ((inactive + 1) as Lru);
  }

  /**
   * workingset_eviction for a folio of nr pages at pfn leaving memory now: its shadow (0 under
   * the other policies, which keep none), the clock advanced.
   */
  evictShadow(pfn: number, nr: number): number {
    if (this.env.policy !== "linux") return 0;
    return this.workingset.eviction((this.env.pages.flags[pfn] & PageFlag.Workingset) !== 0, nr);
  }

  /** __folio_set_anon for a swap-cache page read ahead with no anon_vma (swap_cluster_readahead): it has one now. */
  setAnonRmap(pfn: number, index: number, anonVma: number): void {
    this.index[pfn] = index;
    this.anonVma[pfn] = anonVma;
  }

  /** Is the page still an anonymous, page-cache or shmem page (pages freed elsewhere are dropped lazily)? */
  valid(pfn: number, _list?: Lru): boolean {
    const kind = this.env.pages.kind[pfn];
    if (kind === PageKind.UserAnon) return true;
    const f = this.owner[pfn];
    if (kind !== PageKind.PageCache || f === undefined) return false;
    if (shmemPages(f).get(this.index[pfn]) === pfn) return true;
    // a shmem page read ahead into the swap cache, not yet back in its object or tmpfs file
    const slot = this.env.swap?.slotOf.get(pfn);
    return slot !== undefined && f.swapped.get(this.index[pfn]) === slot;
  }

  /** A page of a disk file whose folio is dirty (folio_check_dirty_writeback's dirty; none under writeback here). */
  private fileDirty(pfn: number): boolean {
    const f = this.owner[pfn];
    return f !== undefined && "fs" in f && fileFolioDirty(this.env.pageCache, f, this.index[pfn]);
  }

  // ---- shrinking ----

  /**
   * shrink_active_list: pages from the active tail, up to nr pages scanned, go to the inactive
   * list; referenced executable file pages rotate (and lru_note_cost counts them).
   */
  shrinkActive(list: Lru, nr: number): void {
    const inactive = list === Lru.ActiveAnon ? Lru.InactiveAnon : Lru.InactiveFile;
    let rotated = 0;
    // a reclaim limited to lower zones: the folios of the zones above moved to the head first
    let left = mustSkip(this, list) ? isolateSkip(this, list, nr) : -1;
    if (left >= 0) this.stats.pgrefill += skipped.pages;
    for (let scanned = 0; scanned < nr; ) {
      const pfn = this.tail[list];
      if (pfn < 0) break;
      if (!this.valid(pfn, list)) {
        this.del(pfn); // freed elsewhere: vmlab drops it lazily, Linux's list no longer has it
        continue;
      }
      if (left === 0) break;
      left--;
      const nrPages = this.large[pfn] ? this.hpageNr : 1; // folio_nr_pages: the counters count pages
      scanned += nrPages; // isolate_lru_folios: nr_to_scan counts pages
      this.stats.pgrefill += nrPages;
      if (this.fbatches.rotateQueued(pfn, list)) continue;
      // !folio_evictable (PG_mlocked), or a VM_LOCKED mapping found (mlock_vma_folio): put back, unevictable
      const r = folioEvictable(this, pfn) ? folioReferenced(this, pfn) : null;
      if (r === null || r.locked) {
        cullUnevictable(this, pfn, r !== null);
        continue;
      }
      if (r.young > 0 && r.exec && list === Lru.ActiveFile) {
        this.activate(pfn, list, nrPages); // referenced executable file pages stay active
        rotated += nrPages;
        continue;
      }
      this.env.pages.flags[pfn] |= PageFlag.Workingset; // folio_set_workingset: it was active
      this.add(pfn, inactive);
      this.stats.pgdeactivate += nrPages;
    }
    if (rotated > 0) this.cost.note(list === Lru.ActiveFile, 0, rotated, this.size);
  }

  /**
   * shrink_inactive_list + shrink_folio_list: pages from the inactive tail, up to nr pages
   * scanned (shrink_lruvec asks for SWAP_CLUSTER_MAX at most: one folio list); returns pages
   * reclaimed. The scanned pages count in sc.nrScanned; lru_note_cost charges the list's side
   * with the pages written (pageout) and those scanned but not reclaimed.
   */
  shrinkInactive(list: Lru, nr: number, sc: ScanControl | null): number {
    this.reclaimCtx.mayWritepage = sc === null || sc.mayWritepage;
    const anon = list === Lru.InactiveAnon;
    const active = anon ? Lru.ActiveAnon : Lru.ActiveFile;
    let reclaimed = 0;
    let taken = 0;
    let scanned = 0;
    const pageouts = this.stats.nr_vmscan_write;
    const pages = this.env.pages;
    const kind = pages.kind;
    const slotOf = this.env.swap === null ? null : this.env.swap.slotOf; // folio_test_swapcache
    // a reclaim limited to lower zones (isolate_lru_folios' skips): the skipped pages count as
    // scanned (nr_scanned) but not toward nr; `left` folios are then taken from the tail
    let left = -1;
    let skippedPages = 0;
    if (mustSkip(this, list)) {
      left = isolateSkip(this, list, nr);
      skippedPages = skipped.pages;
      countScanned(this.stats, this.reclaimCtx, skippedPages, !anon);
    }
    while (scanned < nr) {
      const pfn = this.tail[list];
      if (pfn < 0) break;
      if (kind[pfn] !== PageKind.UserAnon && !this.valid(pfn, list)) {
        this.del(pfn);
        continue;
      }
      if (left === 0) break;
      left--;
      // one folio list holds SWAP_CLUSTER_MAX folios (a caller asking for more gets several)
      if (taken++ === SWAP_CLUSTER_MAX) {
        this.endFolioList();
        taken = 1;
      }
      const nrPages = this.large[pfn] ? this.hpageNr : 1; // isolate_lru_folios' nr_scanned: pages
      scanned += nrPages; // counted in pgscan after the loop, as isolate_lru_folios' caller does
      if (this.fbatches.rotateQueued(pfn, list)) continue;
      // the common case (an order-0 anonymous page mapped once) in one function (vmscan_anon.ts)
      const fast = anon && kind[pfn] === PageKind.UserAnon ? shrinkAnonSmall(this, pfn, list, active) : -1;
      if (fast > 0) {
        reclaimed += fast;
        this.freed();
      }
      if (fast >= 0) continue;
      // shrink_folio_list: !folio_evictable, or folio_check_references finding VM_LOCKED (as above)
      const r = folioEvictable(this, pfn) ? folioReferenced(this, pfn) : null;
      if (!anon && this.writeback !== null) this.writeback.taken1(nrPages, r !== null && this.fileDirty(pfn));
      if (r === null || r.locked) {
        cullUnevictable(this, pfn, r !== null);
        continue;
      }
      // pinned (a fault holds it), or mapped somewhere the reverse map cannot see: leave it (a lazyfree
      // page is on the file list: an anonymous page's references); FOLL_PIN's: vmscan_pinned.ts heldRefs
      const anonPage = kind[pfn] === PageKind.UserAnon;
      const dma = anonPage ? dmaPin.pinnedAnonRefs(this, pfn) : -1;
      const held = dmaPin.heldRefs(this, pfn, dma, r.found);
      const expectRefs = r.found + (anonPage ? +(slotOf !== null && slotOf.at(pfn) >= 0) : 1) + held;
      if (this.pinned.has(pfn) || r.found !== pages.mapcount[pfn] || pages.refcount[pfn] !== expectRefs) {
        this.activate(pfn, active, nrPages);
        continue;
      }
      // folio_check_references: PG_referenced is read and cleared (folio_test_clear_referenced)
      const referencedBefore = this.referenced[pfn] !== 0;
      this.referenced[pfn] = 0;
      if (r.young > 0) {
        // referenced through a page table: marked, and spared for another trip around the
        // inactive list; activated if it was marked already, mapped young more than once, or an
        // executable file page (anonymous pages too need the second reference since Linux 5.9)
        this.referenced[pfn] = 1;
        if (referencedBefore || r.young > 1 || (r.exec && !anon))
          this.activateLocked(pfn, active, nrPages, true);
        else this.add(pfn, list);
        continue;
      }
      // maybe DMA-pinned: keep_locked before add_to_swap, or try_to_unmap refused (activate_locked)
      if (dma >= 0) {
        dmaPin.shrinkPinnedAnon(this, pfn, list, active, nrPages);
        continue;
      }
      // nothing changes a page table between folio_referenced and try_to_unmap of a small page
      if (!this.large[pfn]) reuseOnlyMapping(pfn);
      if (this.writeback !== null) this.writeback.referencedClean = referencedBefore && !anon;
      const folioNr = perPageFolioPages(this, pfn); // a folio on the lists page by page, gone whole:
      const lazyThp = this.large[pfn] === 1 && (pages.flags[pfn] & PageFlag.Lazyfree) !== 0;
      const got = this.tryReclaim(pfn, anon); // all its pages scanned (isolate_lru_folios' nr_pages)
      if (got > 1) scanned += folioNr - 1;
      if (this.writeback !== null) this.writeback.referencedClean = false;
      reuseOnlyMapping(-1);
      if (got > 0) {
        reclaimed += got;
        this.freed();
      }
      // keep_locked: a dirty file folio kswapd leaves where it was (page_writeback.ts)
      else if (got === DirtyFolio.Keep) this.add(pfn, list);
      // activate_locked onto the list of what it now is (a redirtied or pinned lazyfree page: anon; a THP split
      // meanwhile: one page, each if try_to_unmap split its PMD); a droppable gone; dirty file: vmscan_evict.ts
      else if (got !== DirtyFolio.Dropped) {
        const list = anonPage && !(pages.flags[pfn] & PageFlag.Lazyfree) ? Lru.ActiveAnon : active;
        for (let i = 0, n = lazyThp && !this.large[pfn] ? this.hpageNr : 1; i < n; i++)
          this.activateLocked(pfn + i, list, this.large[pfn] ? this.hpageNr : 1, got !== DirtyFolio.Activate);
      }
    }
    this.endFolioList();
    // __count_vm_events(PGSCAN_KSWAPD + reclaimer_offset(), nr_scanned), PGSCAN_ANON + file: once
    if (scanned > 0) countScanned(this.stats, this.reclaimCtx, scanned, !anon);
    if (sc !== null) sc.nrScanned += scanned + skippedPages;
    // nr_taken == 0 returns before lru_note_cost
    if (scanned > 0)
      this.cost.note(
        !anon,
        this.stats.nr_vmscan_write - pageouts,
        Math.max(0, scanned + skippedPages - reclaimed),
        this.size,
      );
    return reclaimed;
  }

  /** shrink_slab: every shrinker in registration order (shm_mnt's superblock, thp-deferred_split, mm-shadow
   * under the linux policy, the tmpfs mounts': mm/shmem_shrink.ts); returns what they freed. */
  shrinkSlab(priority: number): number {
    if (this.splitShrinker === undefined) this.splitShrinker = deferredSplitShrinker(this);
    let freed = shmemSbShrink(this, true, priority, this.stats);
    if (this.splitShrinker !== null) freed += doShrinkSlab(this.splitShrinker, priority, this.stats);
    if (this.env.policy === "linux") freed += doShrinkSlab(this.workingset.nodes, priority, this.stats);
    return freed + shmemSbShrink(this, false, priority, this.stats);
  }

  /**
   * shrink_folio_list's activate_locked: a folio it keeps goes to the active list, counted in
   * pgactivate (unless `count` is false: counted already).
   */
  activateLocked(pfn: number, active: Lru, nrPages: number, count: boolean): void {
    dmaPin.activateLockedFreeSwap(this.env, pfn);
    if (count) this.stats.pgactivate += nrPages; // stat->nr_activate, count_vm_events(PGACTIVATE)
    this.activate(pfn, active, nrPages);
  }

  /**
   * A folio put back on an active list (move_folios_to_lru), which ages the lruvec's
   * nonresident clock (workingset_age_nonresident) by its pages.
   */
  private activate(pfn: number, active: Lru, nrPages: number): void {
    this.add(pfn, active);
    this.workingset.ageNonresident(nrPages);
  }

  /**
   * A folio of the list being shrunk was freed: it joins free_folios, and
   * when that batch is full (PAGEVEC_SIZE) shrink_folio_list flushes the
   * deferred TLB flushes before freeing it (try_to_unmap_flush,
   * free_unref_folios). vmlab frees each page as it goes and flushes at the
   * same count: no CPU runs in between, so none can use a stale entry.
   */
  freed(): void {
    if (++this.freeBatch < PAGEVEC_SIZE) return;
    this.freeBatch = 0;
    tryToUnmapFlush(this.env.userMm.env.tlbUbc);
  }

  /** The end of shrink_folio_list: try_to_unmap_flush, before free_unref_folios frees the rest. */
  endFolioList(): void {
    this.freeBatch = 0;
    rmapBatchDone(); // the walks' records let go of this machine (rmap.ts)
    tryToUnmapFlush(this.env.userMm.env.tlbUbc);
    this.writeback?.endBatch(); // shrink_inactive_list's end: wakeup_flusher_threads when all it took was dirty
  }

  /**
   * The end of shrink_folio_list for a page that may go: a lazy-free page
   * is discarded (discardLazyfree); otherwise a huge page is split first
   * (splitForSwap), then the page is swapped out or dropped from the page
   * cache. The pages that went (counted in pgsteal; a lazy-free huge page
   * goes whole), 0 if none.
   */
  tryReclaim(pfn: number, anon: boolean): number {
    const swap = this.env.swap;
    let nr = 1;
    if (this.env.pages.flags[pfn] & PageFlag.Lazyfree) {
      nr = discardLazyfree(this, pfn); // 0: kept; DirtyFolio.Dropped: a dirty droppable one, freed
      if (nr <= 0) return nr;
    } else {
      if (this.large[pfn] && (swap === null || swap.freePages === 0)) return 0;
      // a page of a whole THP: the folio is split first; the page may go with it (zero-filled)
      const s = anon ? splitForReclaim(this, pfn) : 0; // n > 0: n pages went (a whole mTHP: vmscan_swapout.ts)
      if (s > 0) countStolen(this.stats, this.reclaimCtx, s, !anon);
      if (s !== 0) return Math.max(s, 0);
      if (anon) {
        // a shmem page: a huge folio may go whole (mm/shmem_swapout.ts)
        nr = this.env.pages.kind[pfn] === PageKind.PageCache ? shmemWriteout(this, pfn) : +this.swapOut(pfn);
        if (nr <= 0) return 0;
      } else {
        nr = dropFile(this, pfn); // a large page-cache folio goes whole
        if (nr <= 0) return nr; // 0, or a dirty folio left to the flusher (DirtyFolio)
      }
    }
    countStolen(this.stats, this.reclaimCtx, nr, !anon);
    return nr;
  }

  /**
   * reclaim_pages (MADV_PAGEOUT): reclaims one page (a whole mTHP: its folio) now, young or not, with the
   * checks and the swap-out or eviction of shrink_folio_list; returns the pages that went. `index` is its
   * linear index (given to pages never on the lists). The caller ends the list (endFolioList).
   */
  reclaimPage(pfn: number, index: number, anonVma = 0): number {
    // in a batch: folio_isolate_lru fails; PG_mlocked: !folio_evictable, put back (activate_locked)
    if (!this.valid(pfn) || this.fbatches.inBatch(pfn) || !folioEvictable(this, pfn)) return 0;
    const pages = this.env.pages;
    const anon = pages.kind[pfn] === PageKind.UserAnon;
    const lazy = anon && (pages.flags[pfn] & PageFlag.Lazyfree) !== 0;
    const lazyThp = lazy && this.large[pfn] === 1; // PMD-mapped: not split here (TTU_SPLIT_HUGE_PMD)
    if (anon) {
      if (!this.large[pfn]) {
        this.index[pfn] = index;
        if (anonVma !== 0) this.anonVma[pfn] = anonVma;
      }
      // maybe DMA-pinned: keep_locked before add_to_swap (and a split), or try_to_unmap refused
      if (!lazy && dmaPin.pinnedAnonRefs(this, pfn) >= 0)
        return dmaPin.pageoutPinnedAnon(this, pfn, Lru.InactiveAnon, Lru.ActiveAnon);
      // no swap: a whole (m)THP fails add_to_swap, split (swpout_fallback); lazyfree ones never reach add_to_swap
      const s = lazy ? 0 : splitForReclaim(this, pfn, true); // a whole mTHP may go whole (s pages), else split first
      if (s !== 0) return Math.max(s, 0);
      // no swap: add_to_swap fails (after the pin check, before try_to_unmap): activate_locked_split
      if (this.env.swap === null && !lazy) return this.addToSwapFailed(pfn);
    }
    let found = 0;
    let locked = false;
    rmapWalk(this, pfn, (_mm, v) => {
      found++;
      if (v.vmFlags & VmFlag.LOCKED) locked = true;
    });
    const held = lazy ? dmaPin.heldRefs(this, pfn, -1, found) : 0; // a pinned lazyfree page's
    const expectRefs = found + (anon ? (this.env.swap?.slotOf.has(pfn) ? 1 : 0) : 1) + held;
    if (this.pinned.has(pfn) || locked || found !== pages.mapcount[pfn] || pages.refcount[pfn] !== expectRefs)
      return 0;
    // reclaim_folio_list(..., ignore_references=true): a shmem folio taken whole ignores its references
    this.ignoreReferences = true;
    const n = lazy ? discardLazyfree(this, pfn) : anon ? +this.swapOut(pfn) : dropFile(this, pfn);
    this.ignoreReferences = false;
    if (lazy && n === 0) return dmaPin.pageoutLazyfreeKept(this, pfn, Lru.ActiveAnon, lazyThp); // redirtied, pinned
    // no free swap slot: add_to_swap failed, activate_locked_split
    if (anon && !lazy && n === 0 && pages.kind[pfn] === PageKind.UserAnon) return this.addToSwapFailed(pfn);
    // left to the flusher, PG_active: reclaim_folio_list's folio_putback_lru (the LRU add batch)
    if (n === DirtyFolio.Activate) this.putbackActive(pfn);
    if (n > 0) this.freed();
    return n > 0 ? 1 : 0;
  }

  /** folio_putback_lru of an isolated folio: off its list, into the running CPU's LRU add batch (PG_active: `lru`). */
  putbackActive(pfn: number, lru: number = Lru.ActiveFile): void {
    this.unlink(pfn);
    this.fbatches.add(pfn, false, lru);
  }

  /**
   * reclaim_pages' anonymous page add_to_swap could not give a slot (no swap, or none free):
   * activate_locked_split, PG_active, pgactivate (shrink_folio_list's count_vm_events, whatever the
   * stat); reclaim_folio_list's folio_putback_lru (the LRU add batch, then Active(anon)). It stays
   * mapped; 0 pages reclaimed. Linux: mm/vmscan.c shrink_folio_list, reclaim_folio_list
   */
  private addToSwapFailed(pfn: number): number {
    if (this.pinned.has(pfn)) return 0; // locked by a fault: folio_trylock fails (keep)
    this.stats.pgactivate++;
    this.putbackActive(pfn, Lru.ActiveAnon);
    return 0;
  }

  /** MADV_FREE: folio_mark_lazyfree, queued for lru_lazyfree (swap.ts). Linux: mm/swap.c folio_mark_lazyfree */
  markLazyfree(pfn: number): boolean {
    if (!lazyfreeable(this, pfn)) return false;
    this.fbatches.addAndMove(pfn, MoveOp.Lazyfree);
    return true;
  }

  /** add_to_swap + try_to_unmap + pageout for an anonymous page; false without a free slot. */
  private swapOut(pfn: number): boolean {
    if (this.env.pages.kind[pfn] === PageKind.PageCache) return shmemWriteout(this, pfn) > 0;
    const swap = this.env.swap;
    if (swap === null) return false;
    const phys = this.env.phys;
    const pages = this.env.pages;
    let slot = swap.slotOf.at(pfn);
    const cached = slot >= 0;
    // a swap-cache page is written again only if dirty: its PTE's bit or PG_dirty (GUP's set_page_dirty)
    let dirty = !cached || (pages.flags[pfn] & PageFlag.Dirty) !== 0;
    if (!cached) {
      slot = swap.allocSlot();
      if (slot < 0) return false;
    }
    if (tryToUnmapAnon(this, pfn, swap, slot)) dirty = true;
    if (dirty) {
      tryToUnmapFlushDirty(this.env.userMm.env.tlbUbc); // no write through a stale TLB entry once I/O starts
      phys.saveFrame(pfnUnchecked(pfn), swap.contents, slot);
      swap.wrotePage(slot);
      this.stats.nr_vmscan_write++; // pageout
    }
    // __remove_mapping: __delete_from_swap_cache leaves the shadow (workingset_eviction) at the slot
    const shadow = this.evictShadow(pfn, 1);
    if (cached) {
      swap.removeFromCache(pfn);
      pages.refcount[pfn]--;
    }
    swap.setShadow(slot, shadow);
    this.del(pfn);
    this.env.userMm.freeUnmapped(pfn);
    return true;
  }

  // ---- what vmscan_balance.ts's shrink_lruvec, shrink_node and balance_pgdat read ----

  activations(file: boolean): number {
    const w = this.workingset.stats;
    return file ? w.workingset_activate_file : w.workingset_activate_anon;
  }

  swappiness(): number {
    return this.env.swappiness();
  }

  freeSwapPages(): number {
    return this.env.swap === null ? 0 : this.env.swap.freePages;
  }

  hasSwap(): boolean {
    return this.env.swap !== null && this.env.swap.totalPages > 0;
  }

  freeAndHighWmark(): [number, number] | null {
    return this.env.freeAndHighWmark?.() ?? null;
  }

  /** lru_add_drain, as shrink_inactive_list and shrink_active_list begin (vmlab: once a reclaim) */
  drainBatches(): void {
    this.fbatches.drain();
  }

  /**
   * try_to_free_pages (or, in a cgroup's reclaim, try_to_free_mem_cgroup_pages, whose
   * reclaim_idx is ZONE_MOVABLE; try_to_free_pages' is gfp_zone(gfp_mask)): at least
   * max(nrToReclaim, SWAP_CLUSTER_MAX) pages reclaimed if it can be done (do_try_to_free_pages;
   * whole folio lists, so often more); returns pages reclaimed. The other policies take their
   * victims one by one, nrToReclaim of them.
   */
  tryToFreePages(nrToReclaim: number, reclaimIdx = ZONE_MOVABLE): number {
    if (this.env.policy !== "linux") {
      this.fbatches.drain();
      return shrinkOther(this, nrToReclaim);
    }
    const sc = newScanControl(
      Math.max(SWAP_CLUSTER_MAX, nrToReclaim),
      this.reclaimCtx.reclaimer === Reclaimer.Kswapd,
      this.reclaimCtx.cgroup,
      reclaimIdx,
    );
    this.reclaimIdx = reclaimIdx;
    const n = doTryToFreePages(this, sc);
    this.reclaimIdx = ZONE_MOVABLE;
    return n;
  }

  /**
   * kswapd's balance_pgdat, until `balanced()` (pgdat_balanced), each pass asking for `target()`
   * pages (kswapd_shrink_node's high watermarks), its reclaim_idx the wakers' highest_zoneidx;
   * the other policies reclaim `want` pages.
   */
  balancePgdat(
    order: number,
    balanced: (order: number) => boolean,
    target: () => number,
    want: number,
    boost = 0,
    highestZone = ZONE_MOVABLE,
  ): number {
    if (this.env.policy !== "linux") return this.tryToFreePages(want);
    const sc = newScanControl(0, true, false, highestZone);
    sc.order = order;
    this.reclaimIdx = highestZone;
    const n = balancePgdat(this, sc, balanced, target, boost);
    this.reclaimIdx = ZONE_MOVABLE;
    return n;
  }
}
