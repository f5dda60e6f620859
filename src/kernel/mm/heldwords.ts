/**
 * The last page-table frame's own words a reverse-map look-up asked for (rmapFind: the PMD
 * table's, and the PTE table's), kept while the frame store says no page changed its slot
 * (PageStore.gen): reclaim goes down the LRU list page after page, and the pages of one leaf
 * table come one after another, so the same two frames are asked for hundreds of times in a row.
 * A hit is a compare of three numbers, where PageStore.heldWords is a chunk look-up, a slot and
 * the slot's words: loads that depend on one another (and miss the CPU's caches, as the
 * per-frame arrays reclaim reads in between evict them). The answer is PageStore.heldWords's:
 * the frame's own words when it is materialised, null when it is held compactly (the caller
 * then reads it as before). A host shortcut: no figure depends on it.
 */
import type { PageStore } from "../../hw/PageStore.ts";
import type { PhysMem } from "../../hw/PhysMem.ts";

export class HeldWords {
  private store: PageStore | null = null;
  private gen = -1;
  private frame = -1;
  private words: Uint32Array | null = null;

  /** PageStore.heldWords(frame) of phys's store (frame < phys.nrFrames): its own words, or null. */
  get(phys: PhysMem, frame: number): Uint32Array | null {
    const store = phys.store;
    if (frame === this.frame && store.gen === this.gen && store === this.store) return this.words;
    return this.miss(store, frame);
  }

  private miss(store: PageStore, frame: number): Uint32Array | null {
    const words = store.heldWords(frame);
    this.store = store;
    this.gen = store.gen;
    this.frame = frame;
    this.words = words;
    return words;
  }
}
