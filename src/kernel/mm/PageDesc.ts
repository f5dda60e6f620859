import { assert } from "../../base/assert.ts";

/**
 * What a frame is used for. Every frame is exactly one of these (the
 * invariant checker verifies it). Linux has no single field for this; it is
 * spread over page flags (PG_buddy, PG_slab, PG_reserved, PG_anon via
 * page->mapping) and page types; vmlab keeps it explicit.
 */
export const enum PageKind {
  /** in the buddy allocator's free lists (Linux: PageBuddy) */
  Free = 0,
  /** never given to the buddy allocator: firmware, the first 1 MiB, holes (PG_reserved) */
  Reserved = 1,
  /** the kernel image: text, rodata, data, bss */
  KernelImage = 2,
  /** a page-table page (PageTable) */
  PageTable = 3,
  /** part of a slab (PageSlab) */
  Slab = 4,
  /** a large kmalloc straight from the buddy allocator */
  KmallocLarge = 5,
  /** backing a vmalloc area */
  Vmalloc = 6,
  /** alloc_pages by kernel code */
  KernelPages = 7,
  /** the memmap: struct page storage mapped at vmemmap */
  Memmap = 8,
  /** anonymous user memory */
  UserAnon = 9,
  /** page cache */
  PageCache = 10,
  /**
   * a frame of a HugeTLB folio, in the pool (free or in use): never on an
   * LRU, never swapped or reclaimed (mm/hugetlb.ts; Linux: folio_test_hugetlb)
   */
  Hugetlb = 11,
}

export const PAGE_KIND_NAMES = [
  "free",
  "reserved",
  "kernel-image",
  "page-table",
  "slab",
  "kmalloc-large",
  "vmalloc",
  "kernel-pages",
  "memmap",
  "user",
  "page-cache",
  "hugetlb",
] as const;

/** Page flags (a subset of Linux's PG_* bits). */
export const enum PageFlag {
  /** head of a free buddy block (PG_buddy / PageBuddy) */
  Buddy = 1 << 0,
  /** first page of a multi-page allocation (PG_head) */
  Head = 1 << 1,
  /** on an LRU list (PG_lru) */
  Lru = 1 << 2,
  Active = 1 << 3,
  Referenced = 1 << 4,
  Dirty = 1 << 5,
  Locked = 1 << 6,
  Mlocked = 1 << 7,
  SwapBacked = 1 << 8,
  Reclaim = 1 << 9,
  /** MADV_FREE'd: may be dropped instead of swapped while clean (Linux: !PageSwapBacked on an anon folio) */
  Lazyfree = 1 << 10,
  /**
   * PageAnonExclusive (PG_anon_exclusive, which reuses PG_mappedtodisk on
   * anonymous pages): this anonymous page is mapped by exactly one PTE (or
   * huge PMD) and nobody else may map it without first clearing the flag,
   * so a write fault may reuse it and mprotect may make it writable without
   * looking at reference counts. Set when the page is mapped new (a new
   * anonymous page, a COW copy, an exclusive swap-in) or reused by a write
   * fault; cleared by fork (folio_try_dup_anon_rmap) and by try_to_unmap to
   * swap, which moves it into the swap PTE's exclusive marker
   * (folio_try_share_anon_rmap, pte_swp_mkexclusive). vmlab keeps it on
   * every base page of a PMD-mapped huge page (Linux: on the head only;
   * __split_huge_pmd_locked then gives it to each PTE-mapped subpage).
   * Linux: include/linux/page-flags.h PageAnonExclusive
   */
  AnonExclusive = 1 << 11,
  /**
   * vmlab's: a page of a PMD-mapped page-cache folio whose PMD a reverse-map
   * walk for another of its pages found young (and cleared). Linux keeps the
   * folio as one LRU entry and folio_referenced looks at its one accessed bit
   * once; vmlab's LRU holds the folio's pages one by one, so each page takes
   * that reference once (folioReferenced), as the one folio would.
   */
  PmdYoung = 1 << 12,
  /**
   * PG_writeback: the folio's contents are being written to its file
   * (__filemap_fdatawrite_range with WB_SYNC_NONE started the I/O). vmlab
   * writes the bytes at once; the flag lasts until the system call that
   * started the I/O returns (folio_end_writeback, mm/fadvise.ts). Reclaim's
   * own writeback ends at once and never sets it.
   * Linux: include/linux/page-flags.h PG_writeback
   */
  Writeback = 1 << 13,
  /**
   * PG_readahead: a page swap readahead read for a neighbour of the faulting one
   * (swap_vma_readahead, swap_cluster_readahead: folio_set_readahead); the first fault that
   * finds it in the swap cache clears it and counts a hit (swap_cache_get_folio: SWAP_RA_HIT).
   * Linux keeps it in PG_reclaim's bit; vmlab in a bit of its own.
   * Linux: include/linux/page-flags.h PG_readahead
   */
  Readahead = 1 << 14,
  /**
   * PG_workingset: the folio was on an active list (shrink_active_list deactivating it:
   * folio_set_workingset), or refaulted with a shadow that says it had been
   * (workingset_refault); its shadow keeps the bit when it is evicted (workingset.ts).
   * Linux: include/linux/page-flags.h PG_workingset
   */
  Workingset = 1 << 15,
}

/**
 * `struct page` for every frame, as parallel typed arrays indexed by pfn
 * (Linux: include/linux/mm_types.h struct page; the arrays stand for the
 * vmemmap array). Host cost: 22 bytes per frame.
 *
 *   kind[pfn]      PageKind
 *   flags[pfn]     PageFlag bits
 *   order[pfn]     buddy order of a free block's head, or of an allocation's head; -1 otherwise
 *   zone[pfn]      zone index
 *   refcount[pfn]  _refcount
 *   mapcount[pfn]  _mapcount + 1 (0 = not mapped by user page tables)
 *   next/prev[pfn] list links (buddy free lists, LRU); -1 = none
 *   priv[pfn]      private: slab cache id, owner id, ...
 */
export class PageDescTable {
  readonly kind: Uint8Array;
  readonly flags: Uint16Array;
  readonly order: Int8Array;
  readonly zone: Uint8Array;
  readonly refcount: Int32Array;
  readonly mapcount: Int32Array;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly priv: Int32Array;

  constructor(readonly nrFrames: number) {
    assert(nrFrames < 2 ** 31, "PageDescTable: too many frames");
    this.kind = new Uint8Array(nrFrames).fill(PageKind.Reserved);
    this.flags = new Uint16Array(nrFrames);
    this.order = new Int8Array(nrFrames).fill(-1);
    this.zone = new Uint8Array(nrFrames);
    this.refcount = new Int32Array(nrFrames);
    this.mapcount = new Int32Array(nrFrames);
    this.next = new Int32Array(nrFrames).fill(-1);
    this.prev = new Int32Array(nrFrames).fill(-1);
    this.priv = new Int32Array(nrFrames).fill(-1);
  }

  /** Marks `count` frames from pfn as allocated for `kind` (refcount 1 on each). */
  setKind(pfn: number, count: number, kind: PageKind): void {
    for (let i = pfn; i < pfn + count; i++) {
      this.kind[i] = kind;
      this.refcount[i] = 1;
    }
  }

  /** Frames of each kind. */
  countByKind(): number[] {
    const counts = new Array(PAGE_KIND_NAMES.length).fill(0);
    for (let i = 0; i < this.nrFrames; i++) counts[this.kind[i]]++;
    return counts;
  }
}
