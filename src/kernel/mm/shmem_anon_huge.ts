/**
 * Huge pages for the shmem objects of shm_mnt that are not files: shared
 * anonymous memory (MAP_SHARED | MAP_ANONYMOUS, /dev/zero) and SysV shm
 * segments. shmem_allowable_huge_orders decides, from the top-level
 * shmem_enabled (shm_mnt's huge=, deny, force) and, for shared anonymous
 * memory (vma_is_anon_shmem), the per-size
 * /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/shmem_enabled
 * (huge_shmem_orders_always / _inherit / _within_size / _madvise; the PMD
 * size inherit at boot, the others never): folios of the PMD order and, for
 * shared anonymous memory, of the smaller sizes (mTHP, Linux 6.11+), which a
 * fault maps whole by PTEs (finish_fault's set_pte_range). A PMD-size folio is mapped by
 * one PMD where the VMA allows it (do_set_pmd from finish_fault or
 * filemap_map_pages), written to swap whole by reclaim (mm/shmem_swapout.ts)
 * or split (shmem_writepage without CONFIG_THP_SWAP), split where a hole is
 * punched in part of it.
 * Linux 6.12: mm/shmem.c shmem_allowable_huge_orders, shmem_suitable_orders,
 * shmem_alloc_and_add_folio, shmem_get_folio_gfp, thpsize_shmem_enabled_store;
 * mm/memory.c do_set_pmd, finish_fault
 */
import { pfnUnchecked } from "../../base/units.ts";
import { Gfp } from "./gfp.ts";
import { countFolioSplit, doSetPmd, isFilePmd, splitPmd } from "./huge_memory.ts";
import type { MmContext } from "./internal.ts";
import { iMmap, type MmStruct } from "./MmStruct.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { emptyPmdForSetPmd, isHugePmd, pmdOf } from "./pgtable.ts";
import {
  ShmemHuge,
  type ShmemHugeCache,
  shmemObjAllowableOrders,
  shmemSizeMode,
  shmemSizeStats,
  shmemVmaSuitable,
} from "./shmem_huge.ts";
import { type ShmemObject, thpVmFlags, type Vma, VmFlag } from "./vma.ts";

/** hugepages-<size>kB/shmem_enabled's words. Linux: mm/shmem.c thpsize_shmem_enabled_store */
export const SHMEM_SIZE_MODES = ["always", "inherit", "within_size", "advise", "never"] as const;

/**
 * thpsize_shmem_enabled_store: a write of `mode` to
 * hugepages-<kb>kB/shmem_enabled, whose directory exists for the orders of
 * THP_ORDERS_ALL_FILE_DEFAULT (1 to HPAGE_PMD_ORDER: 8K to 2M on x86-64):
 * another size is refused ("size"); a word not among always, inherit,
 * within_size, advise, never is -EINVAL ("mode"), as is inherit for a size
 * below the PMD's while shmem_enabled is force. Null when written.
 * Linux: mm/shmem.c thpsize_shmem_enabled_store; mm/huge_memory.c hugepage_init_sysfs
 */
export function shmemSizeStore(pc: ShmemHugeCache, kb: number, mode: string): "size" | "mode" | null {
  const pages = kb / 4;
  const order = Math.log2(pages);
  if (!Number.isInteger(pages) || !Number.isInteger(order) || order < 1 || order > pc.pmdOrder) return "size";
  if (!(SHMEM_SIZE_MODES as readonly string[]).includes(mode)) return "mode";
  // "Do not override huge allocation policy with non-PMD sized mTHP"
  if (mode === "inherit" && order !== pc.pmdOrder && pc.shmemThp.huge === ShmemHuge.force) return "mode";
  pc.shmemThp.sizes.set(order, mode);
  return null;
}

/**
 * shmem_enabled_store's check: force is refused (-EINVAL) while
 * huge_shmem_orders_inherit is not the PMD order alone ("Do not override
 * huge allocation policy with non-PMD sized mTHP").
 */
export function shmemForceAllowed(pc: ShmemHugeCache): boolean {
  if (shmemSizeMode(pc, pc.pmdOrder) !== "inherit") return false;
  for (const [o, m] of pc.shmemThp.sizes) if (o !== pc.pmdOrder && m === "inherit") return false;
  return true;
}

/**
 * shmem_get_folio_gfp's allocation for shmem object `obj`, which lacks page
 * `index` (not resident, not in swap), faulted at `vpn` of `vma`: a large
 * folio of the highest order shmem_allowable_huge_orders grants
 * (shmemObjAllowableOrders: the PMD order and, for shared anonymous memory,
 * the smaller sizes of hugepages-<size>kB/shmem_enabled) that
 * shmem_suitable_orders keeps: thp_vma_suitable_orders (the VMA's start and
 * offset agree modulo the folio's size and the aligned block lies inside the
 * VMA), then from the highest order down, the orders whose aligned block
 * holds a page or swap entry of the object (xa_find) dropped until one holds
 * none. shmem_alloc_and_add_folio tries those orders from the highest
 * (vma_thp_gfp_mask: direct reclaim only with MADV_HUGEPAGE, defrag=madvise),
 * each failure counted in the size's shmem_fallback (and THP_FILE_FALLBACK
 * for the PMD order). The memory limit refusing the folio's charge ends the
 * huge attempt (THP_FILE_FALLBACK_CHARGE, shmem_fallback_charge). The folio, from `index` rounded down, is zeroed,
 * swap-backed and on the anon LRU page by page, the object holding one
 * reference of each page; the size's shmem_alloc counts it (THP_FILE_ALLOC
 * too for the PMD order). Returns the frame of `index`, or -1 (none: the
 * caller allocates a 4K page).
 * Linux: mm/shmem.c shmem_get_folio_gfp, shmem_alloc_and_add_folio, shmem_suitable_orders
 */
export function shmemObjAllocHuge(
  ctx: MmContext,
  mm: MmStruct,
  obj: ShmemObject,
  vma: Vma,
  vpn: number,
  index: number,
): number {
  const env = ctx.env;
  const pc = env.pageCache;
  let orders = shmemObjAllowableOrders(pc, obj, index, thpVmFlags(mm, vma.vmFlags));
  if (orders === 0) return -1;
  // shmem_suitable_orders: thp_vma_suitable_orders, then the conflicts from the highest order
  for (let o = pc.pmdOrder; o >= 1; o--)
    if (orders & (1 << o) && !shmemVmaSuitable(2 ** o, vpn, vma)) orders &= ~(1 << o);
  for (let o = pc.pmdOrder; o >= 1; o--) {
    if (!(orders & (1 << o))) continue;
    const nr = 2 ** o;
    const start = index - (index % nr);
    let clash = false;
    for (let i = start; i < start + nr && !clash; i++) clash = obj.pages.has(i) || obj.swapped.has(i);
    if (!clash) break;
    orders &= ~(1 << o);
  }
  const gfp = Gfp.TRANSHUGE_LIGHT | (vma.vmFlags & VmFlag.HUGEPAGE ? Gfp.DIRECT_RECLAIM : 0);
  for (let order = pc.pmdOrder; order >= 1; order--) {
    if (!(orders & (1 << order))) continue;
    const nr = 2 ** order;
    const start = index - (index % nr);
    const head = env.buddy.alloc(order, gfp, PageKind.PageCache);
    if (head < 0) {
      if (order === pc.pmdOrder) pc.shmemThp.stats.thp_file_fallback++; // count_vm_event(THP_FILE_FALLBACK)
      shmemSizeStats(pc, order).shmem_fallback++; // count_mthp_stat(order, MTHP_STAT_SHMEM_FALLBACK)
      continue;
    }
    // mem_cgroup_charge(folio, fault_mm, gfp): refused, shmem_alloc_and_add_folio gives up the
    // huge orders (THP_FILE_FALLBACK and _CHARGE for the PMD size, the order's shmem_fallback and
    // shmem_fallback_charge) and shmem_get_folio_gfp falls back to a 4K page
    if (pc.memcgCharge !== null && !pc.memcgCharge(nr, gfp)) {
      env.buddy.free(head, order);
      if (order === pc.pmdOrder) {
        pc.shmemThp.stats.thp_file_fallback++;
        pc.shmemThp.stats.thp_file_fallback_charge++;
      }
      const st = shmemSizeStats(pc, order);
      st.shmem_fallback++;
      st.shmem_fallback_charge++;
      return -1;
    }
    const pages = env.pages;
    for (let i = 0; i < nr; i++) {
      const p = head + i;
      pages.order[p] = 0; // vmlab's pages of a folio carry order 0 while in use
      pages.flags[p] = PageFlag.SwapBacked; // __folio_set_swapbacked
      pages.refcount[p] = 1; // the object's (the page cache's) reference
      env.phys.zeroFrame(pfnUnchecked(p)); // clear_highpage of each page (shmem_get_folio_gfp)
      obj.pages.set(start + i, p);
      env.lru?.addShmem(p, obj, start + i);
    }
    env.lru?.fbatches.moveLocalAdd(); // folio_add_lru of a large folio
    pages.flags[head] |= PageFlag.Head;
    obj.folios.set(start, order);
    // folio_test_pmd_mappable: count_vm_event(THP_FILE_ALLOC); count_mthp_stat(MTHP_STAT_SHMEM_ALLOC)
    if (order === pc.pmdOrder) pc.shmemThp.stats.thp_file_alloc++;
    shmemSizeStats(pc, order).shmem_alloc++;
    return head + (index - start);
  }
  return -1;
}

/** The first page offset of the large folio of `obj` holding page `index`, or -1. */
export function shmemObjFolioStart(obj: ShmemObject, index: number, pmdOrder: number): number {
  if (obj.folios.size === 0) return -1;
  for (let o = 1; o <= pmdOrder; o++) {
    const s = index - (index % 2 ** o);
    const ord = obj.folios.get(s);
    if (ord !== undefined && s + 2 ** ord > index) return s;
  }
  return -1;
}

/**
 * do_set_pmd from finish_fault or filemap_map_pages (filemap_map_pmd) for a
 * shmem object: where page `index` is in a PMD-size folio that may be mapped
 * whole at vpn (thp_vma_suitable_order, vma_thp_disabled: not MADV_NOHUGEPAGE nor MMF_DISABLE_THP) and the PMD is
 * empty (or holds the table this fault made, still empty: freed as the
 * fault's unused vmf->prealloc_pte; the caller knows the fault found the PMD
 * none), the folio is mapped by one PMD,
 * writable and dirty on a write (do_shared_fault's fault_dirty_shared_page).
 * True when mapped.
 * Linux: mm/memory.c do_set_pmd, finish_fault; mm/filemap.c filemap_map_pmd
 */
export function shmemObjMapPmd(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  index: number,
  write: boolean,
): boolean {
  const obj = vma.shmem!;
  const pc = ctx.env.pageCache;
  const nr = 2 ** pc.pmdOrder;
  const start = shmemObjFolioStart(obj, index, pc.pmdOrder);
  if (start < 0 || obj.folios.get(start) !== pc.pmdOrder || thpVmFlags(mm, vma.vmFlags) & VmFlag.NOHUGEPAGE)
    return false;
  if (!shmemVmaSuitable(nr, vpn, vma) || vma.vmPgoff + (vpn - (vpn % nr) - vma.vmStart) !== start)
    return false;
  const pmdPa = emptyPmdForSetPmd(ctx, mm, vpn - (vpn % nr));
  if (pmdPa < 0) return false;
  doSetPmd(ctx, mm, vma, pmdPa, obj.pages.get(start)!, write);
  return true;
}

/**
 * split_huge_page_to_list_to_order of the large folio of `obj` holding page
 * `index` (if any): unmap_folio first (every PMD mapping it, in every
 * address space of the object's i_mmap, cleared: __split_huge_pmd_locked for
 * a file VMA), then the folio becomes 4K folios, its pages staying in the
 * object as they were. THP_SPLIT_PAGE counts a PMD-size one, the size's
 * stats/split any.
 * Returns whether a folio was split.
 * Linux: mm/huge_memory.c split_huge_page_to_list_to_order, unmap_folio
 */
export function shmemObjSplit(ctx: MmContext, obj: ShmemObject, index: number): boolean {
  const pc = ctx.env.pageCache;
  const start = shmemObjFolioStart(obj, index, pc.pmdOrder);
  if (start < 0) return false;
  const order = obj.folios.get(start)!;
  shmemObjUnmapPmds(ctx, obj, start);
  shmemObjFolioGone(ctx, obj, start);
  // split_huge_page_to_list_to_order: THP_SPLIT_PAGE for the PMD order, the size's
  // hugepages-<size>kB/stats/split for any (count_mthp_stat(order, MTHP_STAT_SPLIT))
  countFolioSplit(ctx, order);
  return true;
}

/**
 * The PMDs that map the PMD-size folio of `obj` at page offset `start`, in
 * every address space of the object's i_mmap, cleared (unmap_folio, or
 * unmap_mapping_range's zap of them: __split_huge_pmd_locked for a file VMA).
 * Linux: mm/huge_memory.c unmap_folio, split_huge_pmd_address
 */
export function shmemObjUnmapPmds(ctx: MmContext, obj: ShmemObject, start: number): void {
  const nr = ctx.env.pgtable.hpagePmdNr;
  if (2 ** (obj.folios.get(start) ?? 0) !== nr) return;
  const pt = ctx.env.pgtable;
  for (const [v, mm] of [...iMmap(obj)]) {
    if (start < v.vmPgoff || start >= v.vmPgoff + v.pages) continue;
    const vpn = v.vmStart + (start - v.vmPgoff);
    if (vpn % nr !== 0) continue;
    const pmd = pmdOf(ctx, mm, vpn);
    if (pmd === null || !isHugePmd(ctx, pmd.hi, pmd.lo) || !isFilePmd(ctx, pmd.hi, pmd.lo)) continue;
    if (pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel) === obj.pages.get(start)) splitPmd(ctx, mm, vpn);
  }
}

/** The folio of `obj` at page offset `start` is a folio no more (split, or going whole): its mark gone. */
export function shmemObjFolioGone(ctx: MmContext, obj: ShmemObject, start: number): void {
  obj.folios.delete(start);
  const head = obj.pages.get(start);
  if (head !== undefined) ctx.env.pages.flags[head] &= ~PageFlag.Head;
}

/**
 * shmem_undo_range's large folios for a hole of the bytes [lstart, lend]
 * (inclusive) of shmem object `obj`, its PMDs already cleared (unmapMappingPages):
 * a folio wholly inside goes whole (find_lock_entries, truncate_inode_folio:
 * no split), the folio holding the first or the last byte's page otherwise is
 * split (truncate_inode_partial_folio: split_folio, THP_SPLIT_PAGE), its
 * pages in the hole then dropped one by one.
 * Linux: mm/shmem.c shmem_undo_range, mm/truncate.c truncate_inode_partial_folio
 */
export function shmemObjUndoFolios(ctx: MmContext, obj: ShmemObject, lstart: number, lend: number): void {
  if (obj.folios.size === 0) return;
  const first = Math.floor(lstart / 4096);
  const last = Math.floor(lend / 4096);
  for (const [s, order] of [...obj.folios]) {
    const e = s + 2 ** order; // exclusive
    if (e <= first || s > last) continue;
    if (s * 4096 >= lstart && e * 4096 - 1 <= lend) shmemObjFolioGone(ctx, obj, s);
    else shmemObjSplit(ctx, obj, s);
  }
}
