/**
 * The node's deferred split queue of anonymous THPs (struct deferred_split)
 * and the calls that queue a folio: a new THP at its fault, a THP an unmap
 * leaves partially mapped. The shrinker that empties it is in
 * mm/deferred_split.ts. A leaf module (no kernel imports but the page
 * descriptors): the fault and zap paths reach it through MmEnv.deferredSplit.
 * Linux: include/linux/mmzone.h struct deferred_split; mm/huge_memory.c
 * deferred_split_folio, __folio_unqueue_deferred_split; mm/rmap.c __folio_remove_rmap
 */
import { type PageDescTable, PageKind } from "./PageDesc.ts";

/** The counters deferred_split_folio bumps (ThpStats' field). */
interface DeferredSplitStats {
  thp_deferred_split_page: number;
}

/** An mTHP order's counters deferred_split_folio changes (mm/mthp.ts MthpStats). */
interface MthpQueueStats {
  split_deferred: number;
  nr_anon_partially_mapped: number;
}

/**
 * struct deferred_split: the queued folios (their first frames) in queue
 * order, each with its PG_partially_mapped; and the shrinker's nr_deferred
 * (the scan work do_shrink_slab carried over).
 * Linux: include/linux/mmzone.h struct deferred_split
 */
export class DeferredSplitQueue {
  /** split_queue: folio head -> folio_test_partially_mapped, in list order */
  readonly queue = new Map<number, boolean>();
  /** the mTHP stat nr_anon_partially_mapped (PMD order): queued folios partially mapped */
  nrPartiallyMapped = 0;
  /** shrinker->nr_deferred */
  nrDeferred = 0;
  /** the queued mTHP folios (below the PMD order): head -> their order's counters (mm/mthp.ts) */
  readonly mthpQueued = new Map<number, MthpQueueStats>();

  /** ds_queue->split_queue_len */
  get splitQueueLen(): number {
    return this.queue.size;
  }

  /**
   * deferred_split_folio: queues the folio (at the tail) unless it is
   * queued; partiallyMapped sets PG_partially_mapped and counts
   * THP_DEFERRED_SPLIT_PAGE the first time. A fault's folio (not partially
   * mapped) is queued only while shrink_underused (`underusedOn`) is on.
   * vmlab's THPs never enter the swap cache whole (no THP swap-out), so
   * folio_test_swapcache never refuses.
   * Linux: mm/huge_memory.c deferred_split_folio
   */
  deferredSplitFolio(
    head: number,
    partiallyMapped: boolean,
    stats: DeferredSplitStats,
    underusedOn: boolean,
  ): void {
    if (!partiallyMapped && !underusedOn) return;
    const was = this.queue.get(head);
    if (partiallyMapped) {
      if (was !== true) {
        stats.thp_deferred_split_page++;
        this.nrPartiallyMapped++;
        this.queue.set(head, true); // a queued folio keeps its place (Map.set of a key it has)
      }
    } else if (was === undefined) this.queue.set(head, false);
  }

  /**
   * deferred_split_folio(folio, true) of an mTHP folio (order 2 .. PMD - 1):
   * PG_partially_mapped set, split_deferred counted and
   * nr_anon_partially_mapped raised for its order the first time
   * (THP_DEFERRED_SPLIT_PAGE only counts PMD-size folios); queued at the tail.
   * Linux: mm/huge_memory.c deferred_split_folio
   */
  deferredSplitMthp(head: number, order: number, stats: MthpQueueStats): void {
    if (order <= 1 || this.queue.get(head) === true) return;
    stats.split_deferred++;
    stats.nr_anon_partially_mapped++;
    this.mthpQueued.set(head, stats);
    this.queue.set(head, true);
  }

  /**
   * __folio_remove_rmap's check, after an unmap that took the last mapping
   * of some of the whole THP's pages (`head`, `nr` pages): when a page of the
   * folio is still mapped, the folio is partially mapped and queued
   * (deferred_split_folio(folio, true)). vmlab counts every mapping in each
   * page's mapcount, PMD mappings included, so "some page still mapped" is
   * Linux's "nr && atomic_read(mapped)" (PTE level) and "nr <
   * nr_pmdmapped" (PMD level).
   * Linux: mm/rmap.c __folio_remove_rmap
   */
  unmappedSome(pages: PageDescTable, head: number, nr: number, stats: DeferredSplitStats): void {
    if (!(pages.priv[head] > 0) || pages.kind[head] !== PageKind.UserAnon) return;
    if (this.queue.get(head) === true) return;
    const mapcount = pages.mapcount;
    for (let i = 0; i < nr; i++)
      if (mapcount[head + i] > 0) {
        this.deferredSplitFolio(head, true, stats, true);
        return;
      }
  }

  /**
   * __folio_unqueue_deferred_split: the folio leaves the queue, its
   * PG_partially_mapped cleared. Returns whether it was queued.
   * Linux: mm/huge_memory.c __folio_unqueue_deferred_split
   */
  unqueue(head: number): boolean {
    const partially = this.queue.get(head);
    if (partially === undefined) return false;
    const mthp = this.mthpQueued.get(head);
    if (mthp !== undefined) {
      mthp.nr_anon_partially_mapped--;
      this.mthpQueued.delete(head);
    } else if (partially) this.nrPartiallyMapped--;
    this.queue.delete(head);
    return true;
  }
}
