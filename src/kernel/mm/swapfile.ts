/**
 * The swap area. Linux: mm/swapfile.c (the swap area and its swap_map),
 * mm/swap_state.c (the swap cache). How a swap entry is stored in a PTE is
 * the architecture's (mm/arch.ts Pgtable: mkSwap, isSwap, swapOffset, as
 * `ctx.env.pgtable`). The fault paths that swap in are in mm/swap_state.ts.
 */
import { ModelBug } from "../../base/assert.ts";
import { PageStore } from "../../hw/PageStore.ts";
import { PageFlag } from "./PageDesc.ts";
import { PfnSet } from "./pfnset.ts";

/**
 * One direction of the swap cache (slot -> pfn, or pfn -> slot) as a typed
 * array indexed by its key (-1: none), with a Map's `get`/`has`/`size`: both
 * keys are bounded (a slot by the area, a pfn by the machine's frames), and a
 * Map's `set`/`delete` allocated on every page swapped out and in (the
 * largest allocators of a reclaim run; issue #20). Linux keeps the cache in
 * the swap address space's XArray (mm/swap_state.c) and the slot in
 * folio->swap.
 */
export class SwapCacheIndex {
  private readonly vals: Int32Array;
  /** keys that have a value (SwapCached, in pages) */
  size = 0;

  constructor(nrKeys: number) {
    this.vals = new Int32Array(nrKeys).fill(-1);
  }

  /** The value of `key`, or -1 when it has none (a key outside the array has none). */
  at(key: number): number {
    return key >= 0 && key < this.vals.length ? this.vals[key] : -1;
  }

  /** The value of `key`, or undefined when it has none (as Map.get). */
  get(key: number): number | undefined {
    const v = this.at(key);
    return v < 0 ? undefined : v;
  }

  has(key: number): boolean {
    return this.at(key) >= 0;
  }

  /** Sets `key`'s value (a value >= 0, a key within the array). */
  set(key: number, value: number): void {
    if (this.vals[key] < 0) this.size++;
    this.vals[key] = value;
  }

  /** Removes `key`'s value; returns whether it had one. */
  delete(key: number): boolean {
    if (this.at(key) < 0) return false;
    this.vals[key] = -1;
    this.size--;
    return true;
  }

  /** [key, value] pairs in key order (for the invariant checks, not a hot path). */
  *[Symbol.iterator](): IterableIterator<[number, number]> {
    const vals = this.vals;
    for (let k = 0; k < vals.length; k++) if (vals[k] >= 0) yield [k, vals[k]];
  }
}

/** SWAP_MAP_MAX: the largest count swap_map's own byte holds (include/linux/swap.h) */
export const SWAP_MAP_MAX = 0x3e;
/** SWAP_CONT_MAX: the largest digit a continuation page's byte holds */
const SWAP_CONT_MAX = 0x7f;

/**
 * The continuation pages a count of `n` needs: swap_map's byte is the lowest digit (0 to
 * SWAP_MAP_MAX), each continuation page's byte the next (0 to SWAP_CONT_MAX): 0 up to 62, 1 up
 * to 62 + 63 * 127, and so on. Linux: mm/swapfile.c swap_count_continued ("how you add 1 to 999")
 */
function swapContLevels(n: number): number {
  let levels = 0;
  let max = SWAP_MAP_MAX;
  for (let radix = SWAP_MAP_MAX + 1; n > max; radix *= SWAP_CONT_MAX + 1) {
    max += radix * SWAP_CONT_MAX;
    levels++;
  }
  return levels;
}

/**
 * A swap area (mm/swapfile.c): slot 0 holds the swap header, slots 1..n-1
 * hold pages. `map` is swap_map: how many swap PTEs refer to each slot. The
 * swap cache (mm/swap_state.c) maps a slot to the frame that holds its page
 * while both exist: after a swap-in that kept the slot, or for a page of a
 * slot still referenced by other PTEs.
 *
 * vmlab has one swap area: type 0; a swap PTE holds swp_entry(0, slot).
 */
export class SwapArea {
  readonly map: Uint16Array;
  /**
   * What the device holds in each slot, kept as compactly as the page
   * allows (a page of one repeated value costs no 4 KiB: zram's ZRAM_SAME).
   */
  readonly contents: PageStore;
  /** 1 where the slot holds a written page (swap_writepage ran, the slot is not freed yet) */
  private readonly written: Uint8Array;
  /** the swap cache: slot -> pfn, and back (pfn -> slot: folio->swap) */
  readonly cache: SwapCacheIndex;
  readonly slotOf: SwapCacheIndex;
  /** slots in use (a PTE refers to them, or their page is in the swap cache) */
  used = 0;
  /** /proc/vmstat pswpin, pswpout */
  pswpin = 0;
  pswpout = 0;
  /** pages read by swap readahead (vmstat swap_ra) */
  readahead = 0;
  /** faults that found a page swap readahead had read (vmstat swap_ra_hit) */
  readaheadHits = 0;
  /**
   * swap_cluster_readahead's global state (swapin_nr_pages): swapin_readahead_hits (readahead hits
   * of faults with no VMA, shmem's; 4 at boot: ATOMIC_INIT(4)), the offset of the last swap-in that
   * came with no hits (prev_offset), and the last window (last_readahead_pages)
   */
  raHits = 4;
  raPrevOffset = 0;
  raLastPages = 0;

  /**
   * swap_cache_get_folio's readahead accounting, for the page a fault found in the swap cache:
   * one that readahead read (PG_readahead) is a hit, and the flag is cleared so that it counts once.
   * Returns whether it was a hit.
   * Linux: mm/swap_state.c swap_cache_get_folio (folio_test_clear_readahead, SWAP_RA_HIT)
   */
  cacheHit(flags: Uint16Array, pfn: number): boolean {
    if ((flags[pfn] & PageFlag.Readahead) === 0) return false;
    flags[pfn] &= ~PageFlag.Readahead;
    this.readaheadHits++;
    return true;
  }
  /**
   * The holder of each slot a shmem page went to (a shared anonymous
   * mapping's object or a tmpfs file, both a shmem inode in Linux) and the
   * page's index there: swap_cluster_readahead reads a slot whoever owns it,
   * and a page read for a shmem slot must join its owner's LRU accounting.
   * Slots in use that are not here belong to anonymous memory (swap PTEs).
   */
  readonly shmemSlots = new Map<
    number,
    { readonly owner: { readonly swapped: Map<number, number> }; readonly index: number }
  >();
  /**
   * Swap-cache pages read ahead for an anonymous slot by
   * swap_cluster_readahead, which knows nothing of who maps it: no anon_vma
   * yet (folio->mapping is NULL until do_swap_page's folio_add_anon_rmap).
   */
  readonly orphans: PfnSet;
  /** where the next slot search starts (scan_swap_map_slots' cluster_next, simplified to a cursor) */
  private cursor = 1;
  /**
   * The swap clusters (struct swap_cluster_info, SWAPFILE_CLUSTER slots
   * each: HPAGE_PMD_NR under CONFIG_THP_SWAP): the slots in use in each
   * (ci->count; the header slot and the slots past the area's end count as
   * used, as setup_clusters marks them), and the order the cluster serves
   * while it is not free (ci->order). mm/swap_cluster.ts allocates large
   * entries from them.
   */
  readonly clusterCount: Uint16Array;
  readonly clusterOrder: Uint8Array;
  /** the per-order current cluster's next offset (6.12 percpu_cluster->next[order], one CPU; 0: none) */
  readonly clusterNext: Int32Array;
  /**
   * Can the device take large entries (a folio swapped out whole)? 6.12's
   * scan_swap_map_slots gives order > 0 only to a block device with clusters
   * (SWP_BLKDEV, cluster_info: a non-rotational one, SWP_SOLIDSTATE): true for
   * vmlab's device; false models a swap file, or a rotating disk, where every
   * large folio is split first (the host's swap file on its virtio disk does
   * this under 6.18: test/differential/mthpswap.test.ts).
   */
  largeEntries = true;
  /**
   * CONFIG_THP_SWAP (mm/Kconfig: 64BIT and ARCH_WANTS_THP_SWAP: x86-64, arm64 with
   * 4K pages, RISC-V): folio_alloc_swap asks get_swap_pages for a large folio's
   * entry at all. False on a 32-bit kernel (i386, PAE): every large folio gets
   * none and is split first (thp_swpout_fallback).
   */
  thpSwap = true;

  /** log2 of clusterPages: a slot's cluster is slot >>> clusterShift (no integer division a slot) */
  private readonly clusterShift: number;

  /**
   * `nrFrames`: the machine's page frames (the pfns the swap cache may hold);
   * `clusterPages`: SWAPFILE_CLUSTER (the architecture's HPAGE_PMD_NR, a power of two)
   */
  constructor(
    readonly nrSlots: number,
    nrFrames: number,
    readonly clusterPages = 512,
  ) {
    this.clusterShift = 31 - Math.clz32(clusterPages);
    if (clusterPages !== 1 << this.clusterShift)
      throw new ModelBug(`SwapArea: clusters of ${clusterPages} slots (HPAGE_PMD_NR is a power of two)`);
    const nrClusters = Math.ceil(nrSlots / clusterPages);
    this.clusterCount = new Uint16Array(nrClusters);
    this.clusterOrder = new Uint8Array(nrClusters);
    this.clusterNext = new Int32Array(32);
    if (nrClusters > 0) {
      this.clusterCount[0]++; // the header (setup_clusters: inc_cluster_info_page of slot 0)
      this.clusterCount[nrClusters - 1] += nrClusters * clusterPages - nrSlots; // past the end
    }
    this.map = new Uint16Array(nrSlots);
    this.cache = new SwapCacheIndex(nrSlots);
    this.slotOf = new SwapCacheIndex(nrFrames);
    this.orphans = new PfnSet(nrFrames);
    this.contents = new PageStore(nrSlots, "the swap slots written so far");
    this.written = new Uint8Array(nrSlots);
    this.shadow = new Float64Array(nrSlots);
    this.nodeFolios = new Uint8Array(Math.ceil(nrSlots / 64));
    this.nodeShadows = new Uint8Array(Math.ceil(nrSlots / 64));
    this.nodeListed = new Uint8Array(Math.ceil(nrSlots / 64));
  }

  /**
   * The swap cache's shadow entries: slot -> the shadow reclaim left when the slot's page left
   * memory (__remove_mapping: workingset_eviction, __delete_from_swap_cache), 0 for none;
   * add_to_swap_cache takes it (addToCache), freeing the slot clears it
   * (clear_shadow_from_swap_cache).
   */
  readonly shadow: Float64Array;
  /** each 64-slot leaf node of the swap cache's xarray: its folios, its shadows, whether it is listed */
  private readonly nodeFolios: Uint8Array;
  private readonly nodeShadows: Uint8Array;
  private readonly nodeListed: Uint8Array;
  /** the shadow_nodes list (mm/workingset.ts ShadowNodes; boot wires it) */
  nodes: { listSwap(chunk: number, listed: boolean): void } | null = null;

  /**
   * workingset_update_node for the leaf node of `slot`: listed while it holds shadows and no
   * folio (the list is told only when that changes)
   */
  private updateNode(slot: number): void {
    const c = slot >>> 6;
    const listed = this.nodeShadows[c] > 0 && this.nodeFolios[c] === 0 ? 1 : 0;
    if (listed === this.nodeListed[c]) return;
    this.nodeListed[c] = listed;
    this.nodes?.listSwap(c, listed === 1);
  }

  /** xa_delete_node (the shadow node shrinker, which has taken it off the list): its shadows go. */
  dropNode(chunk: number): void {
    const end = Math.min((chunk + 1) * 64, this.nrSlots);
    for (let s = chunk * 64; s < end; s++) this.shadow[s] = 0;
    this.nodeShadows[chunk] = 0;
    this.nodeListed[chunk] = 0;
  }

  /** Is the slot free (swap_map 0: no PTE, no written page, not in the swap cache)? */
  isFree(slot: number): boolean {
    return this.map[slot] === 0 && this.written[slot] === 0 && !this.cache.has(slot);
  }

  /** Marks the free slots [slot, slot + nr) used, all in one cluster (cluster_alloc_range, swap_range_alloc). */
  takeRange(slot: number, nr: number, order: number): void {
    const c = slot >>> this.clusterShift;
    if (this.clusterCount[c] === 0) this.clusterOrder[c] = order; // ci->order
    this.clusterCount[c] += nr;
    this.used += nr;
  }

  /** Gives back a range takeRange took and nothing used (put_swap_folio of an entry no PTE names). */
  releaseRange(slot: number, nr: number): void {
    this.clusterCount[slot >>> this.clusterShift] -= nr;
    this.used -= nr;
  }

  /** Does the slot hold a page (written, not freed)? */
  holds(slot: number): boolean {
    return this.written[slot] === 1;
  }

  /** Pages the area can hold (the header slot excluded): SwapTotal. */
  get totalPages(): number {
    return Math.max(0, this.nrSlots - 1);
  }

  get freePages(): number {
    return this.totalPages - this.used;
  }

  /** vm_swap_full: more than half of swap in use. */
  get full(): boolean {
    return this.freePages * 2 < this.totalPages;
  }

  /**
   * A free slot (map 0, not cached), marked used; -1 when swap is full.
   * Linux: mm/swapfile.c scan_swap_map_slots
   */
  allocSlot(): number {
    const n = this.nrSlots;
    const map = this.map;
    const written = this.written;
    // from the cursor to the last slot, then from slot 1: n - 1 slots at most, no remainder per step
    let s = this.cursor;
    for (let i = 0; i < n - 1; i++) {
      if (map[s] === 0 && written[s] === 0 && !this.cache.has(s)) {
        this.cursor = s + 1 >= n ? 1 : s + 1;
        this.used++;
        const c = s >>> this.clusterShift;
        if (this.clusterCount[c]++ === 0) this.clusterOrder[c] = 0; // a free cluster now serves order 0
        return s;
      }
      s = s + 1 >= n ? 1 : s + 1;
    }
    return -1;
  }

  /**
   * swap_writepage: the slot now holds the page, which the caller has
   * copied into `contents` (PhysMem.saveFrame).
   * Linux: mm/page_io.c swap_writepage
   */
  wrotePage(slot: number): void {
    this.written[slot] = 1;
    this.pswpout++;
  }

  /**
   * The swap count continuations: for each page of swap_map (4096 slots), the pages chained to
   * it (add_swap_count_continuation's list on the vmalloc page's lru), which hold the higher
   * digits of the counts past SWAP_MAP_MAX. Only swapoff frees them
   * (free_swap_count_continuations), and vmlab has no swapoff.
   */
  readonly contPages = new Map<number, number[]>();

  /**
   * swap_duplicate: one more PTE refers to the slot (fork). False, the count unchanged, when
   * the count is at its digits' limit and swap_map's page has no continuation page for the
   * next digit (__swap_duplicate's -ENOMEM: swap_count_continued found none); the caller adds
   * one (addContinuation) and tries again.
   * Linux: mm/swapfile.c swap_duplicate, __swap_duplicate, swap_count_continued
   */
  dup(slot: number): boolean {
    if (!(this.map[slot] > 0)) throw new ModelBug(`swap_duplicate of free slot ${slot}`); // message made only then
    const n = this.map[slot] + 1;
    if (n > SWAP_MAP_MAX && swapContLevels(n) > (this.contPages.get(slot >>> 12)?.length ?? 0)) return false;
    this.map[slot] = n;
    return true;
  }

  /** add_swap_count_continuation: page `pfn` is chained to the swap_map page of `slot`. */
  addContinuation(slot: number, pfn: number): void {
    const list = this.contPages.get(slot >>> 12);
    if (list === undefined) this.contPages.set(slot >>> 12, [pfn]);
    else list.push(pfn);
  }

  /** Is the slot still needed: referenced by a PTE, or holding a cached page? */
  private maybeFree(slot: number): void {
    if (this.map[slot] === 0 && !this.cache.has(slot)) this.freeSlot(slot);
  }

  /** A slot nothing refers to any more goes back to the free ones (swap_entry_range_free). */
  private freeSlot(slot: number): void {
    if (this.shadow[slot] !== 0) {
      // swap_range_free: clear_shadow_from_swap_cache
      this.shadow[slot] = 0;
      this.nodeShadows[slot >>> 6]--;
      this.updateNode(slot);
    }
    if (this.written[slot] === 1) {
      this.written[slot] = 0;
      this.contents.fill(slot, 0, 0); // the slot's host memory back (a discard)
    }
    this.used--;
    this.clusterCount[slot >>> this.clusterShift]--; // at 0 the cluster is free again (free_cluster)
  }

  /**
   * swap_free: one PTE fewer refers to the slot; frees it when nothing does.
   * Linux: mm/swapfile.c swap_free
   */
  put(slot: number): void {
    if (!(this.map[slot] > 0)) throw new ModelBug(`swap_free of free slot ${slot}`);
    this.map[slot]--;
    this.maybeFree(slot);
  }

  /**
   * Adds a page to the swap cache for slot; returns the shadow entry it
   * replaced (add_to_swap_cache's *shadowp: 0 for none).
   * Linux: mm/swap_state.c add_to_swap_cache
   */
  addToCache(slot: number, pfn: number): number {
    this.cache.set(slot, pfn);
    this.slotOf.set(pfn, slot);
    const shadow = this.shadow[slot];
    if (shadow !== 0) {
      this.shadow[slot] = 0;
      this.nodeShadows[slot >>> 6]--;
    }
    this.nodeFolios[slot >>> 6]++;
    this.updateNode(slot);
    return shadow;
  }

  /** __delete_from_swap_cache's shadow, left at a slot still in use (a freed slot keeps none). */
  setShadow(slot: number, shadow: number): void {
    if (shadow === 0 || !(this.map[slot] > 0 || this.cache.has(slot))) return;
    if (this.shadow[slot] === 0) this.nodeShadows[slot >>> 6]++;
    this.shadow[slot] = shadow;
    this.updateNode(slot);
  }

  /**
   * delete_from_swap_cache: the page leaves the swap cache; the slot is freed if no PTE needs it.
   * Linux: mm/swap_state.c delete_from_swap_cache
   */
  removeFromCache(pfn: number): void {
    const slot = this.slotOf.at(pfn);
    if (slot < 0) return;
    this.orphans.delete(pfn);
    this.slotOf.delete(pfn);
    this.cache.delete(slot);
    this.nodeFolios[slot >>> 6]--;
    this.updateNode(slot);
    // maybeFree, the slot known to be out of the cache now
    if (this.map[slot] === 0) this.freeSlot(slot);
  }
}
