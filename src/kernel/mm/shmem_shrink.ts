/**
 * The huge tmpfs folios past i_size that memory pressure splits: a tmpfs
 * superblock's shrinklist (shmem_get_folio_gfp puts an inode on it when it
 * allocates a large folio that reaches past i_size) and the superblock's
 * shrinker (super_cache_count / super_cache_scan, which hand the
 * filesystem's part to shmem_unused_huge_count / shmem_unused_huge_scan),
 * which splits the folio holding i_size and so frees its pages past it.
 * vmlab's tmpfs files are each on a mount of their own (docs/files.md), so
 * each has its own superblock and shrinker; memfds share shm_mnt's, whose
 * shrinker shmem_init registered at boot, before every other (the tmpfs
 * mounts' come after the built-in ones). A superblock's dentry and inode
 * LRUs hold nothing here (a tmpfs dentry is pinned, its inode in use), so
 * its count is the shrinklist's length.
 * Linux 6.12: mm/shmem.c shmem_unused_huge_shrink, shmem_unused_huge_scan,
 * shmem_unused_huge_count, shmem_get_folio_gfp; fs/super.c super_cache_scan, super_cache_count
 */
import type { FileObject } from "../fs/file.ts";
import { tryToUnmapShmem } from "./rmap.ts";
import type { ShmemSb } from "./shmem_huge.ts";
import { type ShmemEvict, shmemSplitFolio } from "./shmem_swapout.ts";
import { doShrinkSlab, SHRINK_STOP } from "./shrinker.ts";
import { tryToUnmapFlush } from "./tlbbatch.ts";

/** DEFAULT_SEEKS, and the batch alloc_super gives a superblock's shrinker */
const SB_SEEKS = 2;
const SB_BATCH = 1024;

/**
 * shrink_slab's call of the tmpfs superblocks' shrinkers (do_shrink_slab
 * each): shm_mnt's (`shmMnt`: the first registered) or the tmpfs mounts'.
 * Returns what they freed (the folios split).
 * Linux: mm/shrinker.c shrink_slab, do_shrink_slab
 */
export function shmemSbShrink(
  v: ShmemEvict,
  shmMnt: boolean,
  priority: number,
  stats: { slabs_scanned: number },
): number {
  let freed = 0;
  for (const [key, sb] of v.env.pageCache.shmemThp.sbs) {
    if ((key === null) !== shmMnt) continue;
    // shmem_evict_inode took an evicted memfd off the list (list_del_init)
    if (sb.inodes.length > 0 && sb.inodes.some((f) => f.evicted))
      sb.inodes.splice(0, sb.inodes.length, ...sb.inodes.filter((f) => !f.evicted));
    // super_cache_count: nothing cached, SHRINK_EMPTY (do_shrink_slab leaves nr_deferred alone)
    if (sb.inodes.length === 0) continue;
    freed += doShrinkSlab(
      {
        count: () => sb.inodes.length, // shmem_unused_huge_count; vfs_pressure_ratio at 100
        scan: (nr) => superCacheScan(v, sb, nr),
        seeks: SB_SEEKS,
        batch: SB_BATCH,
        get nrDeferred() {
          return sb.nrDeferred;
        },
        set nrDeferred(n: number) {
          sb.nrDeferred = n;
        },
      },
      priority,
      stats,
    );
  }
  return freed;
}

/**
 * super_cache_scan of `nr`: the scan proportioned between the dentries, the
 * inodes (none: prune_dcache_sb and prune_icache_sb free nothing) and the
 * filesystem's objects (mult_frac(nr, fs_objects, total_objects), total
 * counting one more), which shmem_unused_huge_scan gets plus one.
 * Linux: fs/super.c super_cache_scan; mm/shmem.c shmem_unused_huge_scan
 */
function superCacheScan(v: ShmemEvict, sb: ShmemSb, nr: number): number {
  const fsObjects = sb.inodes.length;
  const share = Math.floor((nr * fsObjects) / (fsObjects + 1));
  if (share === 0) return 0;
  if (sb.inodes.length === 0) return SHRINK_STOP;
  return unusedHugeShrink(v, sb, share + 1, 0);
}

/**
 * shmem_alloc_and_add_folio's shmem_unused_huge_shrink(sbinfo, NULL, pages):
 * shmem_inode_acct_blocks refused `pages` new pages of `f` (-ENOSPC), so the
 * large folios past i_size on f's superblock (shm_mnt's for a memfd, f's own
 * mount for a tmpfs file) are split, a batch of 128 inodes, until the pages
 * they dropped reach `pages` (their blocks uncharged by the split:
 * shmem_uncharge). vmlab's new folio is not in the cache yet (Linux's is, so
 * its recalc counts it back: "not quite balanced"); the recalc of f that
 * PageCache.shmemAcctBlocks runs after this comes to the same.
 * Linux: mm/shmem.c shmem_alloc_and_add_folio, shmem_unused_huge_shrink
 */
export function shmemUnusedHugeFree(v: ShmemEvict, f: FileObject, pages: number): void {
  const sb = v.env.pageCache.shmemThp.sbs.get(f.shmemHuge === null ? null : (f.sbinfo?.key ?? f));
  if (sb === undefined || sb.inodes.length === 0) return; // list_empty: SHRINK_STOP
  unusedHugeShrink(v, sb, 128, pages);
}

/**
 * shmem_unused_huge_shrink(sbinfo, sc, 0): up to `batch` inodes from the
 * head of the shrinklist (each moved to the head of a local list, so taken
 * in reverse; an evicted one just leaves); for each, the folio holding
 * i_size (once the splits dropped `nrToFree` pages, when it is not 0: back
 * to the head of the list): none, not large, or nothing to gain (shmem_fallocend at or below
 * its start, or at or past its end): the inode leaves the list; locked (a
 * fault holds it) or not splittable (a reference besides the cache's and
 * the mappings': THP_SPLIT_PAGE_FAILED): back to the head of the list;
 * else split_folio: unmap_folio (try_to_unmap of the folio,
 * TTU_SPLIT_HUGE_PMD, a flush; a file folio is not mapped again), the split
 * dropping its pages past the end (mm/shmem_swapout.ts shmemSplitFolio),
 * and the inode leaves the list. Returns the folios split.
 * Linux: mm/shmem.c shmem_unused_huge_shrink; mm/huge_memory.c split_folio, unmap_folio, can_split_folio
 */
function unusedHugeShrink(v: ShmemEvict, sb: ShmemSb, batch: number, nrToFree: number): number {
  const list: FileObject[] = [];
  for (let n = 0; n < batch && sb.inodes.length > 0; n++) {
    const f = sb.inodes.shift()!;
    if (!f.evicted) list.unshift(f); // igrab; list_move to the local list's head
  }
  const pc = v.env.pageCache;
  const pages = v.env.pages;
  let split = 0;
  let freed = 0;
  for (const f of list) {
    // "if (nr_to_free && freed >= nr_to_free) goto move_back"
    if (nrToFree > 0 && freed >= nrToFree) {
      sb.inodes.unshift(f);
      continue;
    }
    const iSize = f.sizeBytes;
    const pfn = f.cache.get(Math.floor(iSize / 4096)); // filemap_get_entry(mapping, i_size / PAGE_SIZE)
    if (pfn === undefined) continue; // none, or a swap entry: drop
    const start = pc.folioStart(f, Math.floor(iSize / 4096));
    const order = f.folios.get(start) ?? 0;
    if (order === 0) continue; // "No large folio at the end of the file: nothing to split"
    const nr = 2 ** order;
    const end = Math.max(Math.ceil(iSize / 4096), f.fallocend); // shmem_fallocend
    if (end <= start || end >= start + nr) continue; // "Check if there is anything to gain from splitting"
    const head = f.cache.get(start)!;
    // folio_trylock: a fault holds it; can_split_folio: only the cache's reference and the mappings'
    let ok = !v.pinned.has(head);
    for (let i = 0; i < nr && ok; i++) ok = pages.refcount[head + i] === pages.mapcount[head + i] + 1;
    if (!ok) {
      if (!v.pinned.has(head)) countSplitFailed(v, order);
      sb.inodes.unshift(f); // move_back: the shrinklist's head
      continue;
    }
    unmapFolio(v, head, nr);
    shmemSplitFolio(v, f, start, order, end);
    freed += start + nr - end; // next - end
    split++;
  }
  return split;
}

/** unmap_folio of a file folio: try_to_unmap of its pages (TTU_SPLIT_HUGE_PMD, TTU_BATCH_FLUSH), try_to_unmap_flush */
function unmapFolio(v: ShmemEvict, head: number, nr: number): void {
  for (let i = 0; i < nr; i++) tryToUnmapShmem(v, head + i);
  tryToUnmapFlush(v.env.userMm.env.tlbUbc);
}

/**
 * split_folio of the large folio of tmpfs file `f` holding page `index`, as
 * madvise_cold_or_pageout_pte_range (MADV_PAGEOUT or MADV_COLD over part of
 * its PMD: mm/madvise.ts splitFilePmdFolio) and truncate_inode_partial_folio (a
 * hole punched in part of it)
 * ask: unmap_folio (every mapping of it; a file folio is not mapped again),
 * then __split_huge_page, which drops its pages at or past `end`
 * (shmem_fallocend(DIV_ROUND_UP(i_size)), as split_huge_page_to_list_to_order
 * computes it) and uncharges them (shmem_uncharge): mm/shmem_swapout.ts
 * shmemSplitFolio, which counts THP_SPLIT_PAGE and the size's split.
 * Returns the folio's order (0: none).
 * Linux: mm/huge_memory.c split_folio, split_huge_page_to_list_to_order, unmap_folio, __split_huge_page
 */
export function shmemSplitFileFolio(v: ShmemEvict, f: FileObject, index: number): number {
  const pc = v.env.pageCache;
  const start = pc.folioStart(f, index);
  const order = f.folios.get(start) ?? 0;
  if (order === 0) return 0;
  unmapFolio(v, f.cache.get(start)!, 2 ** order);
  shmemSplitFolio(v, f, start, order, Math.max(Math.ceil(f.sizeBytes / 4096), f.fallocend));
  return order;
}

/** split_huge_page_to_list_to_order's -EAGAIN: THP_SPLIT_PAGE_FAILED (PMD order), the size's split_failed. */
function countSplitFailed(v: ShmemEvict, order: number): void {
  const um = v.env.userMm;
  if (order === v.env.pageCache.pmdOrder) um.thpStats.thp_split_page_failed++;
  const st = um.env.mthp?.stats[order];
  if (st !== undefined) st.split_failed++;
}
