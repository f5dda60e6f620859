import { pfnUnchecked } from "../../base/units.ts";
import type { PhysMem } from "../../hw/PhysMem.ts";
import { FileObject, type ShmemSbInfo, type WritebackAcct } from "../fs/file.ts";
import type { BuddyAllocator, FreeError } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { type PageDescTable, PageFlag, PageKind } from "./PageDesc.ts";
import type { PfnSetLike } from "./pfnset.ts";
import { type ShmemSb, shmemAllocPage, shmemShrinklistAdd } from "./shmem_huge.ts";

/**
 * readahead_gfp_mask: the mapping's gfp (GFP_HIGHUSER_MOVABLE) with __GFP_NORETRY | __GFP_NOWARN,
 * which readahead allocates and charges its folios with (page_cache_ra_unbounded, ra_alloc_folio):
 * a folio the memory limit refuses after one reclaim round (and one more after drain_all_stock)
 * is not added and the readahead stops there, no OOM kill.
 * Linux: include/linux/pagemap.h readahead_gfp_mask
 */
export const RA_GFP = Gfp.HIGHUSER_MOVABLE | Gfp.NORETRY | Gfp.NOWARN;

/**
 * The page cache of all files (mm/filemap.c): finds pages, reads them from
 * "disk" (counting I/O), and keeps per-page state in struct page (kind
 * PageCache; the cache holds one reference).
 */
export class PageCache {
  readonly files = new Map<string, FileObject>();
  /** /proc/vmstat pgpgin/pgpgout in pages, and major faults' reads */
  pagesIn = 0;
  pagesOut = 0;
  /** NR_DIRTIED: disk-file pages that became dirty (fs/file.ts DirtyPages) */
  readonly acct: WritebackAcct = { dirtied: 0, nrDirty: 0, dirtyInodes: new Set() };
  /** balance_dirty_pages' state (page_writeback.ts DirtyThrottle; null: no dirty limits, the Windows profile) */
  dirtyThrottle: { serve(): void; readonly pending: boolean } | null = null;
  /** the LRU lists: disk-file pages join them when read, leave them when evicted */
  lru: {
    /** folio_add_lru of a new page-cache page; `shadow`: the shadow it replaced (workingset_refault) */
    addFile(pfn: number, f: FileObject, index: number, shadow: number): void;
    addShmem(pfn: number, f: FileObject, index: number, shadow?: number): void;
    del(pfn: number): void;
    readonly pinned: PfnSetLike;
    /** the per-CPU LRU add batches (mm/swap.ts): a large folio moves the batch at once */
    readonly fbatches: {
      drain(): void;
      moveLocalAdd(): void;
      readonly mlock: { freeing(pfn: number): void };
    };
  } | null = null;

  constructor(
    readonly phys: PhysMem,
    readonly pages: PageDescTable,
    readonly buddy: BuddyAllocator,
  ) {}

  /** the shadow_nodes list (mm/workingset.ts ShadowNodes; boot wires it): workingset_update_node */
  shadowNodes: { updateFile(f: FileObject, index: number): void } | null = null;

  /** a write(2)'s page is being added (FGP_WRITE -> __GFP_WRITE: filemap_add_folio skips workingset_refault) */
  private gfpWrite = false;

  /** the large page-cache folios by frame: head pfn -> order (the frames are accounted one by one, as THPs are) */
  readonly largeHeads = new Map<number, number>();

  /**
   * vm_committed_as for tmpfs pages (boot wires it; null: no accounting): a
   * tmpfs or memfd inode is VM_NORESERVE (shmem_get_inode(..., VM_NORESERVE);
   * memfd_create's shmem_file_setup(..., VM_NORESERVE)), so each page is
   * charged as it joins the inode (`pages` > 0: __vm_enough_memory for the
   * current task's mm, false when it refuses: -ENOSPC) and given back when
   * it leaves both the page cache and swap (`pages` < 0).
   * Linux: mm/shmem.c shmem_acct_blocks, shmem_inode_acct_blocks, shmem_unacct_blocks
   */
  shmemAcct: ((pages: number) => boolean) | null = null;

  /**
   * shmem_unused_huge_shrink(sbinfo, NULL, pages) of `f`'s superblock (boot wires
   * mm/shmem_shrink.ts shmemUnusedHugeFree; null: none): shmem_alloc_and_add_folio's attempt
   * to make room when shmem_inode_acct_blocks refuses a charge.
   */
  shmemUnusedHuge: ((f: FileObject, pages: number) => void) | null = null;

  /**
   * split_folio of the large folio of tmpfs file f holding page `index`, its pages past
   * i_size dropped (boot wires mm/shmem_shrink.ts shmemSplitFileFolio): returns its order, 0
   * if none. Null: splitFolio's, which drops nothing.
   */
  shmemSplit: ((f: FileObject, index: number) => number) | null = null;

  /**
   * shmem_inode_acct_blocks of `pages` new pages of tmpfs file `f`, as shmem_alloc_and_add_folio
   * asks: refused (-ENOSPC), "Try to reclaim some space by splitting a few large folios beyond
   * i_size on the filesystem" (shmem_unused_huge_shrink, whose splits uncharge the pages they
   * drop: shmem_uncharge -> shmem_recalc_inode), "And do a shmem_recalc_inode() to account for
   * freed pages" (freed = pages + alloced - swapped - nrpages: the pages reclaim dropped clean
   * since the last recalc, uncharged), then once more. False: refused again.
   * Linux: mm/shmem.c shmem_alloc_and_add_folio, shmem_inode_acct_blocks
   */
  shmemAcctBlocks(f: FileObject, pages: number): boolean {
    if (this.shmemInodeAcct(f, pages)) return true;
    this.shmemUnusedHuge?.(f, pages);
    this.shmemRecalc(f);
    return this.shmemInodeAcct(f, pages);
  }

  /**
   * shmem_inode_acct_blocks (`pages` > 0) and shmem_inode_unacct_blocks (< 0) of tmpfs file `f`:
   * vm_committed_as first (shmem_acct_blocks, the inode being VM_NORESERVE), then the mount's
   * size= (sbinfo->max_blocks: percpu_counter_limited_add of used_blocks, refused when the sum
   * would pass it, and the commit given back: shmem_unacct_blocks). False: -ENOSPC.
   * Linux: mm/shmem.c shmem_inode_acct_blocks, shmem_inode_unacct_blocks
   */
  shmemInodeAcct(f: FileObject, pages: number): boolean {
    const acct = this.shmemAcct;
    if (pages > 0) {
      if (acct !== null && !acct(pages)) return false;
      if (f.maxBlocks > 0) {
        if (f.usedBlocks + pages > f.maxBlocks) {
          acct?.(-pages); // unacct: shmem_unacct_blocks
          return false;
        }
        f.usedBlocks += pages;
      }
      return true;
    }
    if (f.maxBlocks > 0) f.usedBlocks += pages; // percpu_counter_sub(&sbinfo->used_blocks, pages)
    acct?.(pages);
    return true;
  }

  /**
   * mem_cgroup_charge(folio, NULL, gfp) of a new page-cache folio of `nr` pages (boot wires
   * memcontrol.ts chargeFolio, try_charge_memcg; null: no memory limit): filemap_add_folio charges
   * each folio it adds before it joins the cache, shmem_alloc_and_add_folio each shmem folio. A
   * charge refused (-ENOMEM) gives the folio back (folio_put) and nothing is added.
   * Linux: mm/filemap.c filemap_add_folio, mm/shmem.c shmem_alloc_and_add_folio
   */
  memcgCharge: ((nr: number, gfp: number) => boolean) | null = null;
  /** the last tmpfs page asked for was refused its charge (-ENOSPC, not -ENOMEM): read and cleared by takeNospc */
  private nospc = false;

  /**
   * Huge tmpfs (mm/shmem_huge.ts): /sys/kernel/mm/transparent_hugepage/shmem_enabled
   * (shmem_huge, SHMEM_HUGE_*; never by default), the huge= of shm_mnt, the
   * mount of memfds (shmem_enabled_store sets it to any value but deny and
   * force), and the counters THP_FILE_ALLOC, THP_FILE_FALLBACK and
   * THP_FILE_FALLBACK_CHARGE (the memory limit refusing a huge folio's charge).
   * Linux: mm/shmem.c shmem_huge, shmem_enabled_store
   */
  readonly shmemThp = {
    huge: 0,
    shmMntHuge: 0,
    stats: { thp_file_alloc: 0, thp_file_fallback: 0, thp_file_fallback_charge: 0 },
    /**
     * hugepages-<size>kB/shmem_enabled by order (huge_shmem_orders_always, _inherit, _within_size,
     * _madvise; mm/shmem_anon_huge.ts): an order not here is never, the PMD order inherit
     */
    sizes: new Map<number, string>(),
    /** hugepages-<size>kB/stats/shmem_alloc, shmem_fallback, shmem_fallback_charge by order */
    sizeStats: new Map<
      number,
      { shmem_alloc: number; shmem_fallback: number; shmem_fallback_charge: number }
    >(),
    /** the tmpfs superblocks' shrinklists (mm/shmem_shrink.ts): shm_mnt's (null) first */
    sbs: new Map<FileObject | null, ShmemSb>([[null, { inodes: [], nrDeferred: 0 }]]),
  };

  /** the tmpfs mounts files name (`file fs=tmpfs mount=NAME`), by name: their superblocks */
  readonly tmpfsMounts = new Map<string, ShmemSbInfo>();

  /** HPAGE_PMD_ORDER: pageblock_order is HUGETLB_PAGE_ORDER, the PMD order, on every architecture vmlab has */
  get pmdOrder(): number {
    return this.buddy.pbOrder;
  }

  /** Was the last failed tmpfs page refused its charge (shmem_inode_acct_blocks: -ENOSPC)? Clears it. */
  takeNospc(): boolean {
    const n = this.nospc;
    this.nospc = false;
    return n;
  }

  create(
    name: string,
    sizeBytes: number,
    fs: "disk" | "tmpfs",
    cached: boolean,
    folioOrder = 0,
    shmemHuge: number | null = null,
    sbinfo: ShmemSbInfo | null = null,
  ): FileObject | null {
    const f = new FileObject(name, sizeBytes, fs, (fs === "disk" ? 1048577 : 3) + this.files.size);
    f.acct = this.acct;
    f.folioOrder = folioOrder;
    f.shmemHuge = sbinfo !== null ? sbinfo.huge : shmemHuge;
    f.sbinfo = sbinfo;
    this.files.set(name, f);
    // a new tmpfs mount: its superblock's shrinker registered now (alloc_super's shrinker_alloc,
    // sget_fc's shrinker_register: list_add_tail), so the shrinkers run in mount order
    // (shrink_slab walks shrinker_list), keyed by its first file; memfds are on shm_mnt's,
    // registered at boot
    if (fs === "tmpfs" && f.shmemHuge !== null && (sbinfo === null || sbinfo.key === null)) {
      if (sbinfo !== null) sbinfo.key = f;
      this.shmemThp.sbs.set(f, { inodes: [], nrDeferred: 0 });
    }
    if (cached || fs === "tmpfs") {
      // as after write(2) of the whole file and fsync: ext4's write_begin asks for folios of the
      // write's length (fgf_set_order), tiled as readahead tiles a window from 0; shmem_write_begin
      // a huge folio where the mount's huge= grants one (mm/shmem_huge.ts)
      if (folioOrder > 0) {
        if (!this.readahead(f, 0, f.nrPages, false, -1, Gfp.HIGHUSER_MOVABLE)) return null;
      } else if (fs === "tmpfs") {
        for (let i = 0; i < f.nrPages; i++)
          if (shmemAllocPage(this, f, i, sizeBytes, -1, true) < 0) return null;
        // shmem_get_folio_gfp(SGP_WRITE) allocated each huge folio while i_size was still the
        // write's start (shmem_write_end grows it after the copy): the folio past i_size then,
        // the inode joined the shrinklist
        if (f.folios.size > 0) shmemShrinklistAdd(this, f, Number.POSITIVE_INFINITY);
      } else for (let i = 0; i < f.nrPages; i++) if (this.readPage(f, i, false) < 0) return null;
      // a tmpfs file's contents were written (shmem_write_end: folio_mark_dirty): reclaim must
      // write them to swap, not drop them
      if (fs === "tmpfs") for (const pfn of f.cache.values()) this.pages.flags[pfn] |= PageFlag.Dirty;
    }
    return f;
  }

  /**
   * The first page index of the folio holding cached page `index` of f (index
   * itself for a 4K folio). Folios are aligned to their size in the file.
   */
  folioStart(f: FileObject, index: number): number {
    if (f.folios.size === 0) return index;
    const max = f.fs === "tmpfs" ? this.pmdOrder : f.folioOrder; // tmpfs: huge folios (shmem_huge.ts)
    for (let o = 1; o <= max; o++) {
      const s = index - (index % 2 ** o);
      const ord = f.folios.get(s);
      if (ord !== undefined && s + 2 ** ord > index) return s;
    }
    return index;
  }

  /** Pages in the folio that starts at `start` (1 for a 4K folio). */
  folioPages(f: FileObject, start: number): number {
    const ord = f.folios.get(start);
    return ord === undefined ? 1 : 2 ** ord;
  }

  /** The head frame of the large page-cache folio holding `pfn`, or -1 (a 4K folio, or not page cache). */
  largeHeadOf(pfn: number): number {
    if (this.largeHeads.size === 0) return -1;
    for (let o = 1; o <= 10; o++) {
      const h = pfn - (pfn % 2 ** o);
      const ord = this.largeHeads.get(h);
      if (ord !== undefined && h + 2 ** ord > pfn) return h;
    }
    return -1;
  }

  /**
   * Readahead of pages [from, to) of f (clipped to the file) in folios of the
   * file's order, as page_cache_ra_order tiles a window: a folio is aligned to
   * its size in the file (smaller at an unaligned index) and never reaches
   * past the window's last page; a range part of which is cached already
   * (filemap_add_folio: -EEXIST) is read page by page, skipping what is there
   * (the order-0 fallback, page_cache_ra_unbounded). The folio holding
   * `first` (if >= 0) is read first and held while the rest are read, as the
   * fault holds its folio. Returns false when memory ran out.
   * `gfp` is the memory limit's charge's (readahead_gfp_mask, __GFP_NORETRY: a folio it cannot
   * charge is not added, no OOM kill; a write's write_begin charges with the mapping's gfp).
   * Linux: mm/readahead.c page_cache_ra_order, ra_alloc_folio
   */
  readahead(f: FileObject, from: number, to: number, io: boolean, first: number, gfp = RA_GFP): boolean {
    const limit = Math.min(to, f.nrPages) - 1;
    const pieces: number[] = []; // start, order pairs
    for (let index = Math.max(0, from); index <= limit; ) {
      let order = f.folioOrder;
      // align with smaller folios if needed
      if (index % 2 ** order !== 0) order = Math.log2(index & -index);
      // don't allocate pages past the window's end (or EOF)
      while (order > 0 && index + 2 ** order - 1 > limit) order--;
      pieces.push(index, order);
      index += 2 ** order;
    }
    let held = -1;
    if (first >= 0)
      for (let i = 0; i < pieces.length; i += 2)
        if (pieces[i] <= first && first < pieces[i] + 2 ** pieces[i + 1]) {
          if (this.addFolio(f, pieces[i], pieces[i + 1], io, gfp) < 0) return false;
          held = f.cache.get(first)!;
          this.lru?.pinned.add(held);
          pieces[i + 1] = -1;
        }
    let ok = true;
    for (let i = 0; i < pieces.length && ok; i += 2)
      if (pieces[i + 1] >= 0) ok = this.addFolio(f, pieces[i], pieces[i + 1], io, gfp) >= 0;
    if (held >= 0) this.lru?.pinned.delete(held);
    return first >= 0 ? held >= 0 : ok;
  }

  /**
   * A folio of 2^order pages from page `start` (aligned), filled from the file
   * (filemap_add_folio + read_folio). Where a page of the range is cached
   * already, or no free block of the order is left, the range is read page
   * by page instead, as when the memory limit refuses the folio's charge
   * (`gfp`: readahead_gfp_mask's by default). Returns the head frame (or a
   * frame of the range), or -1 when no memory could be had.
   * Linux: mm/readahead.c ra_alloc_folio, mm/filemap.c filemap_add_folio
   */
  addFolio(f: FileObject, start: number, order: number, io: boolean, gfp = RA_GFP): number {
    const nr = 2 ** order;
    let clash = order === 0;
    for (let i = start; i < start + nr && !clash; i++) clash = f.cache.has(i);
    // readahead_gfp_mask (__GFP_NORETRY: no OOM kill for it); no block of that order (ra_alloc_folio
    // fails): the range goes in 4K pages
    // (page_cache_ra_order's fallback to do_page_cache_ra)
    let head = clash
      ? -1
      : this.buddy.alloc(order, Gfp.HIGHUSER_MOVABLE | Gfp.NORETRY | Gfp.NOWARN, PageKind.PageCache);
    // filemap_add_folio: mem_cgroup_charge of the whole folio; refused, the folio is put back
    if (head >= 0 && this.memcgCharge !== null && !this.memcgCharge(nr, gfp)) {
      this.putNew(head, order);
      head = -1;
    }
    if (head < 0) {
      let pfn = -1;
      for (let i = start; i < start + nr; i++) {
        pfn = f.cache.get(i) ?? this.readSmall(f, i, io, gfp);
        if (pfn < 0) return -1;
      }
      return pfn;
    }
    for (let i = 0; i < nr; i++) {
      // each frame accounted by itself (huge_memory.ts does the same for THPs): a split needs no bookkeeping
      this.pages.order[head + i] = 0;
      this.pages.flags[head + i] = 0;
      this.fill(f, start + i, head + i, io);
    }
    // folio_add_lru of a large folio: folio_batch_move_lru at once, the whole batch with it (vmlab
    // batches the folio's pages one by one, then empties the batch: the lists end the same)
    this.lru?.fbatches.moveLocalAdd();
    this.pages.flags[head] |= PageFlag.Head;
    f.folios.set(start, order);
    this.largeHeads.set(head, order);
    return head;
  }

  /**
   * shmem_alloc_and_add_folio of a huge folio: 2^order pages of tmpfs file f
   * from page `start` (aligned, none of them in the file), allocated with
   * `gfp`, charged whole (shmem_inode_acct_blocks), each page filled (the
   * file's contents, zeros past i_size), swap-backed and on the anon LRU as a
   * 4K page would be. Returns the head frame, -1 when no block of the order
   * could be had, -2 when the charge was refused (-ENOSPC: the block freed),
   * -3 when the memory limit refused it (mem_cgroup_charge with the huge gfp:
   * the block freed, THP_FILE_FALLBACK_CHARGE).
   * Linux: mm/shmem.c shmem_alloc_and_add_folio
   */
  addShmemFolio(f: FileObject, start: number, order: number, gfp: number): number {
    const head = this.buddy.alloc(order, gfp, PageKind.PageCache);
    if (head < 0) return -1;
    const nr = 2 ** order;
    // mem_cgroup_charge(folio, fault_mm, gfp & GFP_RECLAIM_MASK) before the inode's block charge
    if (this.memcgCharge !== null && !this.memcgCharge(nr, gfp)) {
      this.putNew(head, order);
      return -3;
    }
    if (!this.shmemAcctBlocks(f, nr)) {
      const err = this.buddy.free(head, order); // filemap_remove_folio, folio_put
      if (err !== null) throw new Error(`page cache: ${err}`);
      return -2;
    }
    for (let i = 0; i < nr; i++) {
      this.pages.order[head + i] = 0;
      this.pages.flags[head + i] = 0;
      this.fill(f, start + i, head + i, false);
    }
    this.lru?.fbatches.moveLocalAdd(); // folio_add_lru of a large folio
    this.pages.flags[head] |= PageFlag.Head;
    f.folios.set(start, order);
    this.largeHeads.set(head, order);
    return head;
  }

  /**
   * split_folio to order 0: the large folio holding page `index` of f (if
   * any) becomes 4K folios, its pages staying in the cache as they were.
   * Returns the folio's order (0: none split); a caller that splits as Linux
   * does (not evict's page-by-page freeing) counts THP_SPLIT_PAGE for the PMD order.
   * Linux: mm/huge_memory.c split_huge_page_to_list_to_order
   */
  splitFolio(f: FileObject, index: number): number {
    const start = this.folioStart(f, index);
    const order = f.folios.get(start) ?? 0;
    if (!f.folios.delete(start)) return 0;
    const head = f.cache.get(start)!;
    this.largeHeads.delete(head);
    this.pages.flags[head] &= ~PageFlag.Head;
    return order;
  }

  /** The cached page at index, or -1. */
  find(f: FileObject, index: number): number {
    return f.cache.get(index) ?? -1;
  }

  /**
   * Brings page `index` into the cache: a new frame filled with the file's
   * contents (bytes past EOF are zero). `io` counts it as read from disk.
   * Returns the frame, or -1 when no memory could be had.
   */
  readPage(f: FileObject, index: number, io: boolean, write = false): number {
    const have = f.cache.get(index);
    if (have !== undefined) return have;
    // shmem_write_begin -> shmem_get_folio(SGP_WRITE): a huge folio where the policy grants it
    if (write && f.fs === "tmpfs") return shmemAllocPage(this, f, index, f.sizeBytes, -1, true);
    // a write(2)'s write_begin (FGP_WRITE: __GFP_WRITE): no refault, the shadow dropped
    this.gfpWrite = write;
    let pfn: number;
    if (f.folioOrder > 0 && index < f.nrPages) {
      // the folio of the file's tiling that holds index (its aligned block, clipped to EOF)
      const block = 2 ** f.folioOrder;
      const b = index - (index % block);
      // (charged with the mapping's gfp: __filemap_get_folio with FGP_CREAT, the caller's page)
      pfn = this.readahead(f, b, b + block, io, index, Gfp.HIGHUSER_MOVABLE) ? f.cache.get(index)! : -1;
    } else pfn = this.readSmall(f, index, io);
    this.gfpWrite = false;
    return pfn;
  }

  /**
   * A 4K folio for page `index` (not cached), or -1: allocated, then charged to the memory limit
   * with `gfp` (filemap_add_folio's mem_cgroup_charge: readahead's readahead_gfp_mask, the
   * fault's or write's mapping gfp, read(2)'s filemap_create_folio GFP_KERNEL; a tmpfs page's
   * shmem_alloc_and_add_folio the mapping's), a refused charge putting the folio back. The folio
   * is allocated with the same gfp's __GFP_NORETRY | __GFP_NOWARN (filemap_alloc_folio(gfp_mask):
   * readahead's allocation gives up after one round of direct reclaim, no OOM kill, as its charge does).
   * Linux: mm/readahead.c page_cache_ra_unbounded (filemap_alloc_folio with readahead_gfp_mask)
   */
  readSmall(f: FileObject, index: number, io: boolean, gfp: number = Gfp.HIGHUSER_MOVABLE): number {
    this.nospc = false;
    const pfn = this.buddy.alloc(
      0,
      Gfp.HIGHUSER_MOVABLE | (gfp & (Gfp.NORETRY | Gfp.NOWARN)),
      PageKind.PageCache,
    );
    if (pfn < 0) return -1;
    if (this.memcgCharge !== null && !this.memcgCharge(1, gfp)) {
      this.putNew(pfn, 0);
      return -1;
    }
    // shmem_alloc_and_add_folio: the folio allocated, shmem_inode_acct_blocks charges it, or
    // -ENOSPC and the folio goes back
    if (f.fs === "tmpfs" && !this.shmemAcctBlocks(f, 1)) {
      this.nospc = true;
      this.pages.refcount[pfn] = 0;
      const err = this.buddy.free(pfn, 0);
      if (err !== null) throw new Error(`page cache: ${err}`);
      return -1;
    }
    this.fill(f, index, pfn, io);
    return pfn;
  }

  /** folio_put of a new folio nothing holds yet (its charge refused): back to the buddy allocator. */
  private putNew(head: number, order: number): void {
    this.pages.refcount[head] = 0;
    const err = this.buddy.free(head, order);
    if (err !== null) throw new Error(`page cache: ${err}`);
  }

  /**
   * shmem_recalc_inode for tmpfs file `f`: the pages reclaim dropped clean
   * since the last recalc (alloced - swapped - nrpages > 0) are uncharged
   * now (shmem_inode_unacct_blocks -> shmem_unacct_blocks: vm_unacct_memory,
   * a tmpfs or memfd inode being VM_NORESERVE). Until then Committed_AS
   * keeps them. Linux 6.12 calls it (and this machine's 6.18 as well: its
   * fstat after MADV_PAGEOUT of a read-faulted memfd gives the 16 MiB back,
   * not the MADV_PAGEOUT, test/differential/memfdrecalc) from shmem_getattr
   * (stat), shmem_alloc_and_add_folio (a new page of the inode),
   * shmem_writeout of a page to swap, shmem_swapin_folio and the end of
   * shmem_undo_range (truncation, hole punch, eviction); vmlab calls this at
   * each (also shmem_charge's, collapse_file's charge of the holes it fills:
   * mm/khugepaged_file.ts; not shmem_uncharge's, its rollback, which vmlab
   * never reaches).
   * Linux: mm/shmem.c shmem_recalc_inode, shmem_inode_unacct_blocks
   */
  shmemRecalc(f: FileObject): void {
    if (f.unrecalced === 0) return;
    this.shmemInodeAcct(f, -f.unrecalced);
    f.unrecalced = 0;
  }

  /** A new frame of page `index` of f: its contents, the cache's reference, the LRU, the I/O count. */
  private fill(f: FileObject, index: number, pfn: number, io: boolean): void {
    const base = index * 4096;
    this.phys.frameWillBeWritten(pfnUnchecked(pfn));
    if (f.written.has(index)) {
      // the disk's copy, compact if it is (bytes past EOF were zeroed when it was written)
      f.disk.copyTo(index, this.phys.store, pfn);
    } else {
      this.fillFromName(f, pfn, base);
    }
    this.pages.refcount[pfn] = 1; // the page cache's own reference
    f.cache.set(index, pfn);
    // __filemap_add_folio: the shadow reclaim left at the index (if any) is replaced, and
    // filemap_add_folio has workingset_refault judge it unless the folio is for a write
    let shadow = 0;
    if (f.shadows.size > 0) {
      shadow = f.shadows.get(index) ?? 0;
      f.shadows.delete(index);
      this.shadowNodes?.updateFile(f, index); // a folio in the node: off the shadow_nodes list
      if (this.gfpWrite) shadow = 0;
    }
    if (f.fs === "disk") this.lru?.addFile(pfn, f, index, shadow);
    else {
      // a tmpfs page is a shmem folio: swap-backed, on the anon LRU (shmem_alloc_and_add_folio)
      this.pages.flags[pfn] |= PageFlag.SwapBacked;
      this.lru?.addShmem(pfn, f, index);
      this.shmemRecalc(f); // shmem_alloc_and_add_folio: shmem_recalc_inode(inode, pages, 0)
    }
    if (io) {
      f.pagesRead++;
      this.pagesIn++;
    }
  }

  /** A page never written back: the file's deterministic contents (zeros past EOF), word by word. */
  private fillFromName(f: FileObject, pfn: number, base: number): void {
    const w = this.phys.frameWordsForWrite(pfnUnchecked(pfn));
    for (let i = 0; i < 1024; i++) {
      let word = 0;
      for (let b = 3; b >= 0; b--) {
        const off = base + i * 4 + b;
        word = (word << 8) | (off < f.sizeBytes ? f.storedByte(off) : 0);
      }
      w[i] = word >>> 0;
    }
  }

  /** Writes back a dirty page (writepage): the disk now holds its bytes; the page is clean. */
  writeback(f: FileObject, index: number): void {
    const pfn = f.cache.get(index);
    if (pfn === undefined || !f.dirty.has(index)) return;
    const disk = f.disk;
    this.phys.store.copyTo(pfn, disk, index);
    // the part of the last page past EOF is not the file's: zeroed (Linux: block_write_full_page)
    for (let off = Math.max(0, f.sizeBytes - index * 4096); off < 4096; off++) {
      const w = disk.readWord(index, off >>> 2);
      disk.writeWord(index, off >>> 2, (w & ~(0xff << ((off & 3) * 8))) >>> 0);
    }
    f.written.add(index);
    f.dirty.delete(index);
    f.pagesWritten++;
    this.pagesOut++;
  }

  /**
   * Removes a clean, unmapped page from the cache and frees it (the end of
   * shrink_folio_list for a file page: __remove_mapping). Returns whether it
   * was evicted. `folioOrder`: the order of the folio reclaim takes whole
   * (dropFile evicts its pages in a row): the folio is freed as one block of
   * that order when its last page is evicted, as free_unref_folios frees it
   * (the running CPU's pcp list of that order for orders up to 3 and the THP
   * order, free_one_page to the buddy lists for the others); its pages
   * evicted before stay allocated until then, counted down in the head's
   * `priv` (as folio_put.ts counts a THP's).
   * Linux: mm/vmscan.c shrink_folio_list, __remove_mapping; mm/page_alloc.c free_unref_folios
   */
  evict(f: FileObject, index: number, folioOrder = 0): boolean {
    const pfn = f.cache.get(index);
    if (pfn === undefined || f.dirty.has(index) || this.pages.mapcount[pfn] !== 0) return false;
    // vmlab frees a large folio page by page: the first page freed ends the folio (reclaim frees
    // all its pages together, truncate has split it already)
    if (f.folios.size > 0) this.splitFolio(f, index);
    f.cache.delete(index);
    if (f.shadows.size > 0) this.shadowNodes?.updateFile(f, index); // the node may hold only shadows now
    // shmem_recalc_inode: a tmpfs page gone from the cache (not to swap) is uncharged
    if (f.fs === "tmpfs") this.shmemInodeAcct(f, -1);
    this.lru?.del(pfn);
    if (--this.pages.refcount[pfn] === 0) this.lru?.fbatches.mlock.freeing(pfn); // free_pages_prepare: a page still PG_mlocked
    const err =
      folioOrder > 0
        ? this.putFolioPage(pfn, folioOrder)
        : this.pages.refcount[pfn] === 0
          ? this.buddy.free(pfn, 0)
          : null;
    if (err !== null) throw new Error(`page cache evict: ${err}`);
    return true;
  }

  /**
   * One page of a folio of `order` evicted whole: with its last page, the folio's block goes
   * whole when no page of it is held elsewhere; otherwise (a reference vmlab holds per page,
   * as an LRU batch's) the pages nobody holds go one by one and the others when let go.
   */
  private putFolioPage(pfn: number, order: number): FreeError | null {
    const p = this.pages;
    const head = pfn - (pfn % (1 << order));
    if (!(p.priv[head] > 0)) p.priv[head] = 1 << order;
    if (--p.priv[head] > 0) return null;
    p.priv[head] = -1;
    const end = head + (1 << order);
    let held = false;
    for (let i = head; i < end && !held; i++) held = p.refcount[i] !== 0;
    if (!held) {
      p.order[head] = order;
      return this.buddy.free(head, order);
    }
    for (let i = head; i < end; i++)
      if (p.refcount[i] === 0 && p.kind[i] === PageKind.PageCache) {
        const err = this.buddy.free(i, 0);
        if (err !== null) return err;
      }
    return null;
  }

  cachedPages(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.cache.size;
    return n;
  }

  dirtyPages(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.dirty.size;
    return n;
  }
}
