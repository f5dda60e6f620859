/**
 * MAP_DROPPABLE (Linux 6.11; as 6.12.19 has it): private anonymous memory the kernel may zero
 * under memory pressure, swap or no swap. What is here:
 *
 * - do_mmap's MAP_DROPPABLE case (mm/mmap.c): the map type 0x08 (MAP_SHARED 0x01 | MAP_PRIVATE
 *   0x02 | MAP_DROPPABLE 0x08 are one MAP_TYPE value: with a file, or combined with another
 *   type, -EINVAL); on a 32-bit kernel VM_DROPPABLE is VM_NONE and the answer is -ENOTSUPP (524,
 *   the kernel-internal errno); MAP_LOCKED or MAP_HUGETLB: -EINVAL (a MAP_HUGETLB mapping is a
 *   hugetlbfs file by then: the file case's -EINVAL); the VMA gets VM_DROPPABLE, VM_NORESERVE
 *   (whatever vm.overcommit_memory: no commit charge), VM_WIPEONFORK and VM_DONTDUMP.
 * - folio_add_new_anon_rmap (mm/rmap.c): a new anonymous folio of a VM_DROPPABLE VMA is never
 *   made swap-backed (vmlab: PageFlag.Lazyfree, as an MADV_FREE'd one), so folio_add_lru puts it
 *   on the inactive file list (folio_lru_list: !folio_test_swapbacked).
 * - shrink_folio_list (mm/vmscan.c) with try_to_unmap_one (mm/rmap.c): see droppedDirty.
 *
 * The rest is where it happens: madvise.ts (MADV_KEEPONFORK, MADV_DODUMP: -EINVAL), mlock.ts
 * (mlock_fixup leaves VM_DROPPABLE alone), rmap.ts tryToUnmapLazyfree (discarded even dirty),
 * userMm.ts (handle_mm_fault's is_droppable), view/mm.ts (smaps' "dp").
 */
import { Errno, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { type PageDescTable, PageFlag } from "./PageDesc.ts";
import { pgtableTransHugeWithdraw, setPteAt } from "./pgtable.ts";
import { VM_DROPPABLE, VmFlag, vmaDroppable } from "./vma.ts";

/** The LRU list index of the inactive file list (vmscan.ts Lru.InactiveFile). */
const INACTIVE_FILE = 3;

/** What droppableRefused reads of mmap's arguments (mmap.ts MmapArgs). */
export interface DroppableMmapArgs {
  readonly shared: boolean;
  readonly locked: boolean;
  readonly hugetlb?: boolean;
  readonly file?: object | null;
  readonly device?: object | null;
  readonly shmem?: object | null;
  readonly hugetlbFile?: object | null;
}

/**
 * do_mmap's refusals of MAP_DROPPABLE, in its order: the file case's MAP_TYPE switch (a file, a
 * device, a SysV segment or MAP_HUGETLB's hugetlbfs file: -EINVAL); the anonymous case's (with
 * MAP_SHARED: MAP_TYPE 0x09, -EINVAL); VM_DROPPABLE == VM_NONE (a 32-bit kernel: -ENOTSUPP);
 * MAP_LOCKED | MAP_HUGETLB (-EINVAL). 0 when it may go on. CONFIG_64BIT is vmlab's user space
 * above 4 GiB (taskSizeVpn), as for CONFIG_THP_SWAP (swapfile.ts).
 * Linux 6.12: mm/mmap.c do_mmap
 */
export function droppableRefused(ctx: MmContext, a: DroppableMmapArgs): number {
  if (a.file || a.device || a.shmem || a.hugetlbFile || a.hugetlb) return -Errno.EINVAL;
  if (a.shared) return -Errno.EINVAL;
  if (ctx.env.taskSizeVpn <= 1 << 20) return -Errno.ENOTSUPP; // "if (VM_DROPPABLE == VM_NONE)"
  if (a.locked) return -Errno.EINVAL; // flags & (MAP_LOCKED | MAP_HUGETLB); not mlockall's def_flags
  return 0;
}

/** do_mmap's MAP_DROPPABLE flags below bit 32: VM_NORESERVE, VM_WIPEONFORK, VM_DONTDUMP (VM_DROPPABLE: withDroppable). */
export const DROPPABLE_LOW_FLAGS = VmFlag.NORESERVE | VmFlag.WIPEONFORK | VmFlag.DONTDUMP;

/** vm_flags |= VM_DROPPABLE (bit 40: added last, after every bitwise change of the low bits). */
export function withDroppable(vmFlags: number): number {
  return vmaDroppable(vmFlags) ? vmFlags : vmFlags + VM_DROPPABLE;
}

/**
 * The list a new anonymous folio of `nr` pages from `pfn` joins: a VM_DROPPABLE VMA's is not
 * swap-backed (folio_add_new_anon_rmap skips __folio_set_swapbacked; vmlab sets Lazyfree on
 * each page) and goes to the inactive file list; any other to `anonList`.
 * Linux: mm/rmap.c folio_add_new_anon_rmap, include/linux/mm_inline.h folio_lru_list
 */
export function newAnonList(
  pages: PageDescTable,
  pfn: number,
  vmFlags: number,
  anonList: number,
  nr = 1,
): number {
  if (vmFlags < VM_DROPPABLE || !vmaDroppable(vmFlags)) return anonList;
  for (let i = 0; i < nr; i++) pages.flags[pfn + i] |= PageFlag.Lazyfree;
  return INACTIVE_FILE;
}

/** What droppedDirty counts in (vmscan.ts Vmscan: its stats and ReclaimWriteback). */
export interface DroppedCounters {
  readonly stats: { pgactivate: number };
  readonly writeback: { immediate: number } | null;
}

/**
 * A droppable folio try_to_unmap_one discarded though its PTE was dirty ("Unlike MADV_FREE
 * mappings, VM_DROPPABLE ones can be dropped even if they've been dirtied"): the PTE's dirty
 * bit made it PG_dirty first (folio_mark_dirty), so shrink_folio_list, finding a dirty folio
 * that is not swap-backed (folio_is_file_lru), takes the "Immediately reclaim when written
 * back" branch: NR_VMSCAN_IMMEDIATE, PG_reclaim, activate_locked (PG_active, pgactivate). It
 * never reaches the lazyfree free (no PGLAZYFREED, not in nr_reclaimed nor pgsteal). But
 * try_to_unmap_one dropped every mapping's reference: only the isolation's is left, and the
 * putback (move_folios_to_lru's folio_put_testzero; MADV_PAGEOUT's folio_putback_lru, then
 * the LRU add batch's folios_put) frees it. So the page is freed, not leaked; vmlab frees it
 * here. kswapd with PG_reclaim already set and PGDAT_DIRTY would go on to pageout (no mapping:
 * PAGE_KEEP, keep_locked, freed at the putback the same way), but a droppable folio only gets
 * PG_reclaim here, where it is freed.
 * Linux 6.12: mm/vmscan.c shrink_folio_list, move_folios_to_lru; mm/rmap.c try_to_unmap_one
 */
export function droppedDirty(v: DroppedCounters, nr: number): void {
  if (v.writeback !== null) v.writeback.immediate += nr; // node_stat_mod_folio(NR_VMSCAN_IMMEDIATE)
  v.stats.pgactivate += nr; // stat->nr_activate, count_vm_events(PGACTIVATE)
}

/** How the reverse map clears one PTE (rmap.ts unmapPte: cleared, its TLB flush owed to the batch). */
export type UnmapPte = (mm: MmStruct, pa: number, vpn: number, hi: number, lo: number) => void;

/**
 * try_to_unmap_one on the huge PMD (hi, lo) at `pmdPa` mapping the droppable THP `head` at
 * `vpn` when the PMD or the folio is dirty: __discard_anon_folio_pmd_locked refuses it ("if
 * (folio_test_dirty(folio) || pmd_dirty(orig_pmd)) return false"), so shrink_folio_list's
 * TTU_SPLIT_HUGE_PMD has split_huge_pmd_locked put the table the PMD deposited in its place,
 * 512 PTEs with the PMD's rights, dirty (thp_split_pmd; the table stays: PageTables unchanged),
 * and the walk restarts on them: each is cleared (`unmap`) and discarded though dirty ("Unlike
 * MADV_FREE mappings, VM_DROPPABLE ones can be dropped even if they've been dirtied"):
 * MM_ANONPAGES, the page's mapcount and reference one less; the first discard leaves the
 * folio partially mapped (__folio_remove_rmap: deferred_split_folio(folio, true)). vmlab's
 * walk has cleared and flushed the PMD already, as pmdp_invalidate does.
 * Linux 6.12: mm/rmap.c try_to_unmap_one, mm/huge_memory.c __discard_anon_folio_pmd_locked,
 * __split_huge_pmd_locked
 */
export function droppableSplitPmd(
  ctx: MmContext,
  mm: MmStruct,
  pmdPa: number,
  vpn: number,
  hi: number,
  lo: number,
  head: number,
  unmap: UnmapPte,
): void {
  const env = ctx.env;
  const pt = env.pgtable;
  const nr = pt.hpagePmdNr;
  const pages = env.pages;
  const table = pgtableTransHugeWithdraw(mm, pmdPa);
  const his = new Float64Array(nr);
  const los = new Float64Array(nr);
  for (let i = 0; i < nr; i++) {
    const e = pt.splitPte(hi, lo, head + i, false);
    his[i] = e.hi;
    los[i] = e.lo;
    pt.set(env.phys, table * 4096 + i * pt.entryBytes, e.hi, e.lo); // a table no walk reaches yet
  }
  const t = pt.mkTable(table, true); // pmd_populate
  setPteAt(ctx, pmdPa, t.hi, t.lo);
  ctx.thpStats.thp_split_pmd++;
  for (let i = 0; i < nr; i++) {
    unmap(mm, table * 4096 + i * pt.entryBytes, vpn + i, his[i], los[i]);
    mm.rssAnon--; // dec_mm_counter(mm, MM_ANONPAGES), goto discard
    pages.mapcount[head + i]--; // folio_remove_rmap_pte
    pages.refcount[head + i]--; // folio_put
    if (i === 0) env.deferredSplit?.unmappedSome(pages, head, nr, ctx.thpStats);
  }
}
