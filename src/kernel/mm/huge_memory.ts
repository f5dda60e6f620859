/**
 * Transparent huge pages for anonymous memory, and PMD mappings of PMD-size
 * page-cache folios. Linux: mm/huge_memory.c (which VMAs may have them, the
 * huge fault, the huge zero page, the write fault on a huge PMD, splitting a
 * huge PMD into a page table, or for a file clearing it), mm/memory.c
 * do_set_pmd.
 *
 * Modelling choice (docs/processes.md): the 512 frames of a huge page are
 * accounted one by one (refcount and mapcount each), so splitting and
 * partial freeing need no compound-page bookkeeping. A split PMD leaves the
 * folio whole until split_folio (mm/deferred_split.ts).
 */
import { ModelBug } from "../../base/assert.ts";
import { pfnUnchecked, vpnUnchecked } from "../../base/units.ts";
import type { FileObject } from "../fs/file.ts";
import { PteFlag, TlbFlush } from "./arch.ts";
import { freeThpBlock, thpFolioInit } from "./folio_put.ts";
import { Gfp } from "./gfp.ts";
import { linearIndex, type MmContext, VmFault } from "./internal.ts";
import { khugepagedEnterVma } from "./khugepaged_slots.ts";
import { iMmap, type MmStruct } from "./MmStruct.ts";
import { pmdThpMode } from "./mthp_state.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import {
  hugePmd,
  isHugePmd,
  levelSpan,
  mapper,
  pgtableTransHugeDeposit,
  pgtableTransHugeWithdraw,
  pmdOf,
  pteAllocOne,
  pteFreeOne,
  ptepClearFlush,
  ptepSetAccessFlags,
  setPteAt,
} from "./pgtable.ts";
import { thpVmFlags, type Vma, VmFlag } from "./vma.ts";

/**
 * May this anonymous fault be served by a huge page? (thp_vma_allowable_order)
 * A private anonymous VMA, THP enabled for it (always, or madvise with
 * MADV_HUGEPAGE: the PMD size's own hugepages-<size>kB/enabled, or the
 * top-level one where that is inherit), not MADV_NOHUGEPAGE nor the mm's MMF_DISABLE_THP
 * (vma_thp_disabled: prctl PR_SET_THP_DISABLE), and the aligned 2 MiB around vpn inside the VMA.
 * Linux: mm/huge_memory.c __thp_vma_allowable_orders
 */
export function hugeEligible(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number): boolean {
  // hugepages-<PMD size>kB/enabled (mm/mthp.ts): inherit (its default) takes the top-level enabled
  const mode = pmdThpMode(ctx.env.mthp, ctx.settings.thp);
  if (
    mode === "never" ||
    mm.disableThp ||
    vma.shmem !== null ||
    vma.file !== null ||
    vma.vmFlags & (VmFlag.SHARED | VmFlag.NOHUGEPAGE | VmFlag.HUGETLB)
  )
    return false;
  if (mode === "madvise" && !(vma.vmFlags & VmFlag.HUGEPAGE)) return false;
  const nr = ctx.env.pgtable.hpagePmdNr;
  const haddr = vpn - (vpn % nr);
  return haddr >= vma.vmStart && haddr + nr <= vma.vmEnd;
}

/** The buddy order of a huge page (HPAGE_PMD_ORDER: 9 on x86-64). Linux: include/linux/huge_mm.h */
function hpagePmdOrder(ctx: MmContext): number {
  return 31 - Math.clz32(ctx.env.pgtable.hpagePmdNr);
}

/**
 * The huge zero page, allocated (and zeroed) on first use; -1 when no
 * order-9 block can be had.
 * Linux: mm/huge_memory.c get_huge_zero_page
 */
function getHugeZeroPage(ctx: MmContext): number {
  if (ctx.hugeZeroPfn < 0) {
    const env = ctx.env;
    const z = env.buddy.alloc(hpagePmdOrder(ctx), Gfp.KERNEL | Gfp.NOWARN, PageKind.KernelPages);
    if (z >= 0) {
      for (let i = 0; i < env.pgtable.hpagePmdNr; i++) env.phys.zeroFrame(pfnUnchecked(z + i));
      ctx.hugeZeroPfn = z;
      ctx.thpStats.thp_zero_page_alloc++;
    }
  }
  return ctx.hugeZeroPfn;
}

/**
 * do_huge_pmd_anonymous_page: a read maps the huge zero page (allocated
 * once, on first use) read-only; a write gets a zeroed 2 MiB page, mapped
 * writable and dirty by one PMD. Either way the PMD deposits a PTE table
 * allocated now (pte_alloc_one, counted in the mm's page tables), which a
 * split will use. If no order-9 block is free the fault falls back to 4K
 * pages (thp_fault_fallback). Returns null to fall back.
 * Linux: mm/huge_memory.c do_huge_pmd_anonymous_page, __do_huge_pmd_anonymous_page, set_huge_zero_folio
 */
export function hugeFault(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  write: boolean,
): VmFault | null {
  const env = ctx.env;
  const pt = env.pgtable;
  const nr = pt.hpagePmdNr;
  const haddr = vpn - (vpn % nr);
  const pd = mapper(ctx, mm).ensureTable(mm.pgdPfn, vpnUnchecked(haddr), pt.pmdLevel, true);
  if (pd < 0) return VmFault.OOM;
  const pmdPa =
    pd * 4096 + (Math.floor(haddr / levelSpan(ctx, pt.pmdLevel)) % pt.ptrsPerTable) * pt.entryBytes;
  mm.anonVmaPrepare(vma); // vmf_anon_prepare, before either path
  khugepagedEnterVma(ctx, mm, vma);
  if (!write && ctx.settings.thpZeroPage) {
    const table = pteAllocOne(ctx, mm, true);
    if (table < 0) return VmFault.OOM;
    const zero = getHugeZeroPage(ctx);
    if (zero < 0) {
      pteFreeOne(ctx, mm, table);
      ctx.thpStats.thp_fault_fallback++;
      return null;
    }
    pgtableTransHugeDeposit(mm, pmdPa, table);
    const e = hugePmd(ctx, zero, vma.vmFlags, false, false, true);
    setPteAt(ctx, pmdPa, e.hi, e.lo);
    return VmFault.OK;
  }
  // mem_cgroup_charge of the folio with vma_thp_gfp_mask's gfp: over the limit, fall back
  if (env.chargeHugePage && !env.chargeHugePage(env.pgtable.hpagePmdNr, thpGfp(vma))) {
    ctx.thpStats.thp_fault_fallback++;
    ctx.thpStats.thp_fault_fallback_charge++;
    return null;
  }
  const pfn = allocHuge(ctx, vma);
  if (pfn < 0) {
    ctx.thpStats.thp_fault_fallback++;
    return null;
  }
  const table = pteAllocOne(ctx, mm, true);
  if (table < 0) {
    // folio_put: the new folio goes back whole (free_unref_page of order HPAGE_PMD_ORDER: the THP pcp list)
    const err = freeThpBlock(env, pfn);
    if (err !== null) throw new ModelBug(`hugeFault: ${err}`);
    return VmFault.OOM;
  }
  mapNewHuge(ctx, pfn);
  mm.rssAnon += nr;
  pgtableTransHugeDeposit(mm, pmdPa, table);
  const e = hugePmd(ctx, pfn, vma.vmFlags, (vma.vmFlags & VmFlag.WRITE) !== 0, true, false);
  setPteAt(ctx, pmdPa, e.hi, e.lo);
  env.lru?.addAnonHuge(pfn, linearIndex(vma, haddr), vma.anonVma, vma.vmFlags); // folio_add_lru_vma
  queueNewThp(ctx, pfn); // 6.12: every new anonymous THP, for the underused-THP shrinker
  ctx.thpStats.thp_fault_alloc++;
  return VmFault.OK;
}

/** deferred_split_folio(folio, false) of a new anonymous THP (Linux 6.12 __do_huge_pmd_anonymous_page). */
export function queueNewThp(ctx: MmContext, head: number): void {
  ctx.env.deferredSplit?.deferredSplitFolio(
    head,
    false,
    ctx.thpStats,
    ctx.settings.thpShrinkUnderused ?? true,
  );
}

/**
 * folio_add_new_anon_rmap(RMAP_EXCLUSIVE) of a new huge page mapped by one
 * PMD: every base page mapped once and exclusive (PageAnonExclusive).
 * Linux: mm/rmap.c folio_add_new_anon_rmap
 */
export function mapNewHuge(ctx: MmContext, pfn: number): void {
  const pages = ctx.env.pages;
  for (let i = 0; i < ctx.env.pgtable.hpagePmdNr; i++) {
    pages.mapcount[pfn + i] = 1;
    pages.flags[pfn + i] |= PageFlag.AnonExclusive;
  }
}

/**
 * A zeroed 2 MiB page for anonymous memory (vma_alloc_folio, order 9). Its
 * 512 frames are accounted one by one (each refcount 1) so that splitting
 * the PMD and freeing parts need no compound-page bookkeeping; until it is
 * split it is one folio, freed as one order-9 block when the last of its
 * pages is let go (folio_put.ts). No direct reclaim unless the VMA asked for
 * huge pages, and no kswapd wake-up either way (defrag=madvise: GFP_TRANSHUGE_LIGHT).
 * Linux: mm/huge_memory.c vma_alloc_anon_folio_pmd, vma_thp_gfp_mask
 */
function allocHuge(ctx: MmContext, vma: Vma): number {
  return allocThpFolio(ctx, thpGfp(vma));
}

/**
 * vma_thp_gfp_mask with defrag=madvise: direct reclaim for a VMA that asked (GFP_TRANSHUGE: a
 * costly order, one round, no OOM kill), neither reclaim nor a kswapd wake-up for the others
 * (GFP_TRANSHUGE_LIGHT). The allocation and its memory cgroup charge use it.
 * Linux: mm/huge_memory.c vma_thp_gfp_mask
 */
function thpGfp(vma: Vma): number {
  return Gfp.TRANSHUGE_LIGHT | (vma.vmFlags & VmFlag.HUGEPAGE ? Gfp.DIRECT_RECLAIM : 0);
}

/**
 * A zeroed PMD-order anonymous folio allocated with `gfp` (allocHuge's, and
 * khugepaged's collapse target: mm/khugepaged.ts), its frames accounted one
 * by one; -1 when no block can be had.
 * Linux: mm/page_alloc.c __folio_alloc (HPAGE_PMD_ORDER)
 */
export function allocThpFolio(ctx: MmContext, gfp: number): number {
  const env = ctx.env;
  const pfn = env.buddy.alloc(hpagePmdOrder(ctx), gfp, PageKind.UserAnon);
  if (pfn < 0) return -1;
  for (let i = 0; i < env.pgtable.hpagePmdNr; i++) {
    env.phys.zeroFrame(pfnUnchecked(pfn + i));
    env.pages.order[pfn + i] = 0;
    env.pages.refcount[pfn + i] = 1;
    env.pages.flags[pfn + i] = 0;
  }
  thpFolioInit(env.pages, pfn, env.pgtable.hpagePmdNr);
  return pfn;
}

/**
 * split_huge_page_to_list_to_order's counters for a large folio of `order`
 * split to order 0: THP_SPLIT_PAGE for the PMD order, the size's
 * hugepages-<size>kB/stats/split for any (MTHP_STAT_SPLIT).
 * Linux: mm/huge_memory.c split_huge_page_to_list_to_order
 */
export function countFolioSplit(ctx: MmContext, order: number): void {
  if (order <= 0) return;
  if (order === hpagePmdOrder(ctx)) ctx.thpStats.thp_split_page++;
  const st = ctx.env.mthp?.stats[order];
  if (st !== undefined) st.split++;
}

/**
 * __split_huge_pmd: replace a huge PMD by a page table of 512 PTEs mapping
 * the same frames with the same rights (the huge zero page becomes 512
 * mappings of the 4K zero page), then flush the 2 MiB range. The table is
 * the one the PMD deposited (pgtable_trans_huge_withdraw): no allocation,
 * the mm's page-table count unchanged. Always succeeds (true).
 * Linux: mm/huge_memory.c __split_huge_pmd, __split_huge_pmd_locked, __split_huge_zero_page_pmd
 */
export function splitPmd(ctx: MmContext, mm: MmStruct, vpn: number): boolean {
  const env = ctx.env;
  const pt = env.pgtable;
  const nr = pt.hpagePmdNr;
  const haddr = vpn - (vpn % nr);
  const pmd = pmdOf(ctx, mm, haddr);
  if (pmd === null || !isHugePmd(ctx, pmd.hi, pmd.lo)) return true;
  if (isFilePmd(ctx, pmd.hi, pmd.lo)) {
    zapFilePmd(ctx, mm, haddr, pmd);
    ctx.thpStats.thp_split_pmd++;
    return true;
  }
  // __split_huge_pmd_locked: the table the PMD deposited at fault time, so a split needs no memory
  const table = pgtableTransHugeWithdraw(mm, pmd.pa);
  const base = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
  const special = pt.special(pmd.hi, pmd.lo);
  // each PTE inherits the PMD's own rights and state (pt.splitPte), not the VMA's: during
  // mprotect the VMA at haddr may already have its new rights while the rest of the huge
  // page belongs to a neighbour
  for (let i = 0; i < nr; i++) {
    const e = pt.splitPte(pmd.hi, pmd.lo, special ? env.zeroPfn : base + i, special);
    pt.set(env.phys, table * 4096 + i * pt.entryBytes, e.hi, e.lo); // a table no walk reaches yet
  }
  // pmdp_invalidate: the huge entry goes and is flushed (flush_pmd_tlb_range, always), then
  // pmd_populate points the PMD at the new table
  pt.set(env.phys, pmd.pa, 0, 0);
  env.flushTlbMmRange(mm, haddr, nr, TlbFlush.Pmd);
  const t = pt.mkTable(table, true);
  setPteAt(ctx, pmd.pa, t.hi, t.lo);
  ctx.thpStats.thp_split_pmd++;
  // the folio stays whole, now mapped by PTEs: an unmap that leaves part of it mapped queues it
  // for the deferred split (mm/deferred_split.ts), which frees the pages unmapped. vmlab's LRU
  // holds a PTE-mapped folio's pages one by one: its entry is split here (not counted: no
  // split_folio happened)
  if (!special) env.lru?.splitFolio(base);
  return true;
}

/**
 * move_huge_pmd (mremap): a huge PMD moves whole to an empty destination
 * entry: the huge page stays huge, nothing is copied or faulted. The old
 * entry is cleared (pmdp_huge_get_and_clear) and, if it was present,
 * flushed at once over its 2 MiB (flush_pmd_tlb_range); its deposited
 * table moves with it when the destination is in another PMD table
 * (pmd_move_must_withdraw: split PMD locks). False when the destination
 * entry is not empty (the caller then splits).
 * Linux: mm/huge_memory.c move_huge_pmd
 */
export function moveHugePmd(
  ctx: MmContext,
  mm: MmStruct,
  oldAddr: number,
  oldPmd: { pa: number; hi: number; lo: number },
  newPmdPa: number,
): boolean {
  const env = ctx.env;
  const pt = env.pgtable;
  const dst = pt.get(env.phys, newPmdPa);
  if (!pt.none(dst.hi, dst.lo)) return false;
  const top = pt.pmdLevel === pt.levels - 1; // a PMD folded into the PGD (2-level paging)
  if (top) pt.setTop(env.phys, oldPmd.pa, 0, 0);
  else pt.set(env.phys, oldPmd.pa, 0, 0);
  // pmd_move_must_withdraw: another PMD table, and an anonymous huge page (a page-cache folio's PMD deposits nothing)
  if (Math.floor(oldPmd.pa / 4096) !== Math.floor(newPmdPa / 4096) && !isFilePmd(ctx, oldPmd.hi, oldPmd.lo))
    pgtableTransHugeDeposit(mm, newPmdPa, pgtableTransHugeWithdraw(mm, oldPmd.pa));
  if (top) pt.setTop(env.phys, newPmdPa, oldPmd.hi, oldPmd.lo);
  else setPteAt(ctx, newPmdPa, oldPmd.hi, oldPmd.lo); // set_pmd_at
  if (pt.present(oldPmd.hi, oldPmd.lo))
    env.flushTlbMmRange(mm, oldAddr - (oldAddr % pt.hpagePmdNr), pt.hpagePmdNr, TlbFlush.Pmd);
  return true;
}

/**
 * Splits every huge PMD overlapping [start, end); with `partialOnly`, only those not wholly inside.
 * Linux: mm/huge_memory.c split_huge_pmd_address, vma_adjust_trans_huge
 */
export function splitRange(
  ctx: MmContext,
  mm: MmStruct,
  start: number,
  end: number,
  partialOnly = false,
): void {
  const nr = ctx.env.pgtable.hpagePmdNr;
  for (let h = start - (start % nr); h < end; h += nr) {
    if (partialOnly && h >= start && h + nr <= end) continue;
    const pmd = pmdOf(ctx, mm, h);
    if (pmd !== null && isHugePmd(ctx, pmd.hi, pmd.lo)) splitPmd(ctx, mm, h);
  }
}

/**
 * do_huge_pmd_wp_page: a write to a read-only huge PMD. The huge zero page
 * is replaced by a new huge page (Linux 6.13+ do_huge_zero_wp_pmd, as the
 * 6.18 development machine does: thp_fault_alloc, no split), or split if none
 * can be had (its VM_FAULT_FALLBACK; 6.12 always split); a huge page
 * this process has alone is made writable in place; a shared one (after
 * fork) is split, and the 4K copy-on-write path copies just the written
 * page. Returns null when the caller must go on at 4K (after a split).
 * Linux: mm/huge_memory.c do_huge_pmd_wp_page, do_huge_zero_wp_pmd (6.13)
 */
export function hugeWp(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pmd: { pa: number; hi: number; lo: number },
): VmFault | null {
  const env = ctx.env;
  const pt = env.pgtable;
  const nr = pt.hpagePmdNr;
  const haddr = vpn - (vpn % nr);
  const base = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
  if (isFilePmd(ctx, pmd.hi, pmd.lo)) return fileHugeWp(ctx, mm, vma, haddr, pmd);
  if (pt.special(pmd.hi, pmd.lo)) {
    const pfn = env.chargeHugePage && !env.chargeHugePage(nr, thpGfp(vma)) ? -1 : allocHuge(ctx, vma);
    if (pfn < 0) {
      splitPmd(ctx, mm, haddr);
      return null;
    }
    mm.anonVmaPrepare(vma);
    mapNewHuge(ctx, pfn);
    mm.rssAnon += nr;
    ptepClearFlush(ctx, mm, pmd.pa, haddr, pt.pmdLevel); // pmdp_huge_clear_flush
    const e = hugePmd(ctx, pfn, vma.vmFlags, true, true, false);
    setPteAt(ctx, pmd.pa, e.hi, e.lo);
    env.lru?.addAnonHuge(pfn, linearIndex(vma, haddr), vma.anonVma, vma.vmFlags); // folio_add_lru_vma
    queueNewThp(ctx, pfn);
    ctx.thpStats.thp_fault_alloc++;
    return VmFault.OK;
  }
  // PageAnonExclusive: reuse; otherwise reuse when the folio's only reference is this PMD's
  // (folio_ref_count == 1), setting the flag
  let exclusive = (env.pages.flags[base] & PageFlag.AnonExclusive) !== 0;
  if (!exclusive) {
    exclusive = true;
    for (let i = 0; i < nr && exclusive; i++)
      exclusive = env.pages.mapcount[base + i] === 1 && env.pages.refcount[base + i] === 1;
    if (exclusive) for (let i = 0; i < nr; i++) env.pages.flags[base + i] |= PageFlag.AnonExclusive;
  }
  if (exclusive) {
    // maybe_pmd_mkwrite(pmd_mkdirty()): writable only in a VM_WRITE VMA (a FOLL_FORCE write: not)
    const w = vma.vmFlags & VmFlag.WRITE ? PteFlag.WRITE : 0;
    const e = pt.modify(pmd.hi, pmd.lo, w | PteFlag.DIRTY | PteFlag.YOUNG, 0);
    ptepSetAccessFlags(ctx, mm, haddr, pmd.pa, pmd, e, true);
    return VmFault.OK;
  }
  splitPmd(ctx, mm, haddr);
  return null;
}

// ---- PMD-mapped page-cache folios ----

/** Does this huge PMD map a page-cache folio (a file's, not an anonymous huge page or the huge zero page)? */
export function isFilePmd(ctx: MmContext, hi: number, lo: number): boolean {
  const pt = ctx.env.pgtable;
  return !pt.special(hi, lo) && ctx.env.pages.kind[pt.pfn(hi, lo, pt.pmdLevel)] === PageKind.PageCache;
}

/**
 * May the PMD-size folio of `f` that starts at page index `start` be mapped
 * by one PMD at vpn's 2 MiB block in this VMA? thp_vma_suitable_order: the
 * VMA's start and offset agree modulo the PMD size and the block lies inside
 * the VMA; vma_thp_disabled: not MADV_NOHUGEPAGE nor MMF_DISABLE_THP; and the folio is of
 * HPAGE_PMD_ORDER and is the one the block maps.
 * Linux: mm/memory.c do_set_pmd, include/linux/huge_mm.h thp_vma_suitable_order
 */
export function filePmdSuitable(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  start: number,
  nrPages: number,
): boolean {
  const nr = ctx.env.pgtable.hpagePmdNr;
  if (nrPages !== nr || thpVmFlags(mm, vma.vmFlags) & VmFlag.NOHUGEPAGE) return false;
  if ((vma.vmStart - vma.vmPgoff) % nr !== 0) return false;
  const haddr = vpn - (vpn % nr);
  return haddr >= vma.vmStart && haddr + nr <= vma.vmEnd && vma.vmPgoff + (haddr - vma.vmStart) === start;
}

/**
 * do_set_pmd: a PMD-size page-cache folio, whose first frame is `head`,
 * mapped by one huge PMD (writable and dirty on a write fault where the
 * VMA allows it): every page gains a reference and a mapping
 * (folio_add_file_rmap_pmd), RSS grows by HPAGE_PMD_NR (file), and
 * THP_FILE_MAPPED counts it. No page table is deposited: only architectures
 * that need one (ppc64, arch_needs_pgtable_deposit) do, not x86, arm64 or
 * RISC-V. The PMD entry must be empty; `pmdPa` is its address.
 * Linux: mm/memory.c do_set_pmd
 */
export function doSetPmd(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  pmdPa: number,
  head: number,
  write: boolean,
): void {
  const env = ctx.env;
  const nr = env.pgtable.hpagePmdNr;
  for (let i = 0; i < nr; i++) {
    env.pages.refcount[head + i]++;
    env.pages.mapcount[head + i]++;
  }
  const w = write && (vma.vmFlags & VmFlag.WRITE) !== 0;
  // add_mm_counter(mm_counter_file): MM_SHMEMPAGES for a tmpfs folio or a shmem object's
  // (swap-backed: mm/shmem_anon_huge.ts), else MM_FILEPAGES
  if (vma.file?.fs === "tmpfs" || vma.shmem !== null) {
    mm.rssShmem += nr;
    // do_shared_fault's fault_dirty_shared_page: the shmem folio dirty whole (folio_mark_dirty)
    if (w && vma.vmFlags & VmFlag.SHARED)
      for (let i = 0; i < nr; i++) env.pages.flags[head + i] |= PageFlag.Dirty;
  } else mm.rssFile += nr;
  const e = hugePmd(ctx, head, vma.vmFlags, w, w, false);
  setPteAt(ctx, pmdPa, e.hi, e.lo);
  ctx.thpStats.thp_file_mapped++;
}

/**
 * __split_huge_pmd_locked for a file VMA: a page-cache folio's PMD is not
 * replaced by a page table but cleared and flushed (pmdp_huge_clear_flush;
 * the pages fault back in by PTEs or a PMD), a dirty PMD dirtying the file's
 * pages (folio_mark_dirty); its references, mappings and RSS go
 * (folio_remove_rmap_pmd).
 * Linux: mm/huge_memory.c __split_huge_pmd_locked (the !vma_is_anonymous branch)
 */
function zapFilePmd(
  ctx: MmContext,
  mm: MmStruct,
  haddr: number,
  pmd: { pa: number; hi: number; lo: number },
): void {
  const env = ctx.env;
  const pt = env.pgtable;
  const nr = pt.hpagePmdNr;
  const base = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
  const vma = mm.vmaAt(haddr);
  ptepClearFlush(ctx, mm, pmd.pa, haddr, pt.pmdLevel);
  const shmem = vma?.file?.fs === "tmpfs" || (vma !== null && vma.shmem !== null);
  if (pt.dirty(pmd.hi, pmd.lo) && vma !== null) {
    const start = vma.vmPgoff + (haddr - vma.vmStart);
    if (vma.file) for (let i = 0; i < nr; i++) vma.file.dirty.add(start + i);
    if (shmem) for (let i = 0; i < nr; i++) env.pages.flags[base + i] |= PageFlag.Dirty; // a shmem folio's own bit
  }
  for (let i = 0; i < nr; i++) {
    env.pages.mapcount[base + i]--;
    env.pages.refcount[base + i]--;
  }
  if (shmem) mm.rssShmem -= nr;
  else mm.rssFile -= nr;
}

/**
 * wp_huge_pmd for a page-cache folio: a write to a read-only file PMD.
 * ext4's vm_ops have no huge_fault, so the PMD is split (for a file: cleared)
 * and the fault goes on at the PTE level. In a shared mapping that is
 * do_shared_fault: page_mkwrite, then finish_fault finds the PMD empty and
 * maps the folio again by a PMD, writable and dirty (do_set_pmd), its pages
 * dirty; vmlab does that here in one step. In a private mapping the PTE
 * path copies the written page (do_cow_fault): null tells the caller so.
 * Linux: mm/memory.c wp_huge_pmd, do_shared_fault, finish_fault
 */
function fileHugeWp(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  haddr: number,
  pmd: { pa: number; hi: number; lo: number },
): VmFault | null {
  const pt = ctx.env.pgtable;
  const base = pt.pfn(pmd.hi, pmd.lo, pt.pmdLevel);
  zapFilePmd(ctx, mm, haddr, pmd);
  ctx.thpStats.thp_split_pmd++;
  if (!(vma.vmFlags & VmFlag.SHARED) || (vma.file === null && vma.shmem === null)) return null;
  const start = vma.vmPgoff + (haddr - vma.vmStart);
  if (vma.file !== null) for (let i = 0; i < pt.hpagePmdNr; i++) vma.file.dirty.add(start + i);
  if (vma.file?.fs === "disk") ctx.faultDirtyShared = true; // do_shared_fault's fault_dirty_shared_page
  doSetPmd(ctx, mm, vma, pmd.pa, base, true);
  return VmFault.OK;
}

/**
 * unmap_folio for a PMD-size page-cache folio (split_folio, truncate,
 * reclaim's TTU_SPLIT_HUGE_PMD): every PMD that maps the folio of `f` at
 * page index `start` is split, which for a file is cleared
 * (__split_huge_pmd_locked), in every address space (the file's i_mmap).
 * Linux: mm/huge_memory.c unmap_folio, split_huge_pmd_address
 */
export function unmapFilePmds(ctx: MmContext, f: FileObject, start: number): void {
  const nr = ctx.env.pgtable.hpagePmdNr;
  for (const [v, mm] of [...iMmap(f)]) {
    if (start < v.vmPgoff || start >= v.vmPgoff + v.pages) continue;
    const vpn = v.vmStart + (start - v.vmPgoff);
    if (vpn % nr !== 0) continue;
    const pmd = pmdOf(ctx, mm, vpn);
    if (pmd !== null && isHugePmd(ctx, pmd.hi, pmd.lo) && isFilePmd(ctx, pmd.hi, pmd.lo))
      splitPmd(ctx, mm, vpn);
  }
}
