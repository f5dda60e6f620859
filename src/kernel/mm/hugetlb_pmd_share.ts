/**
 * HugeTLB PMD sharing (CONFIG_HUGETLB_PMD_PAGE_TABLE_SHARING): processes that map the same
 * hugetlbfs file (a SysV SHM_HUGETLB segment, a MAP_SHARED|MAP_HUGETLB mapping they inherited or
 * a memfd) with 2 MiB pages over a whole PUD_SIZE-aligned 1 GiB range share one PMD table there:
 * the second process's fault finds the first's table through the file's i_mmap and points its
 * own PUD entry at it (huge_pmd_share), so a huge page one of them faults in is mapped in all of
 * them at once, counted once in the folio's mapcount, and each mm counts the table in its page
 * tables (mm_inc_nr_pmds: VmPTE). ptdesc->pt_share_count counts the other sharers. Every path
 * that changes the mappings of one mm under a shared table drops the mm's PUD entry instead
 * (huge_pmd_unshare: the zap of munmap, MADV_DONTNEED and exit, mprotect, mremap, a VMA split off
 * a 1 GiB boundary), leaving the table and its entries to the others, and flushes the 1 GiB.
 *
 * Architectures: x86-64, arm64 with 4K pages and 64-bit RISC-V select ARCH_WANT_HUGE_PMD_SHARE
 * (Pgtable.hugePmdShare). i386 does not share in practice: without PAE there is no PMD level
 * (no SPLIT_PMD_PTLOCKS), and with PAE the user PMDs come with the PGD (preallocate_pmds), so
 * huge_pte_alloc never finds the PUD (a PDPTE) none.
 *
 * The share count lives in the table page's `priv` slot (PageDescTable; -1 as the page allocator
 * leaves it reads as 0), as pt_share_count lives in its struct ptdesc. Linux 6.12's
 * hugetlb_pmd_shared, which smaps_hugetlb_range asks, still tests page_count of the table (the
 * 6.12.y backport of "independent PMD page table shared count" left it): always 1 now, so smaps
 * reports a huge page behind a shared table as Private_Hugetlb when its folio is mapped once,
 * and so does vmlab (view/mm.ts).
 *
 * Linux: mm/hugetlb.c want_pmd_share, page_table_shareable, huge_pmd_share, huge_pmd_unshare,
 * adjust_range_if_pmd_sharing_possible, hugetlb_unshare_pmds, hugetlb_vm_op_split;
 * include/linux/mm.h ptdesc_pmd_pts_inc/dec/count
 */
import { assert } from "../../base/assert.ts";
import { vpnUnchecked } from "../../base/units.ts";
import { TlbFlush } from "./arch.ts";
import { hstateVma } from "./hugetlb_pool.ts";
import type { MmContext } from "./internal.ts";
import { iMmap, type MmStruct } from "./MmStruct.ts";
import type { PageDescTable } from "./PageDesc.ts";
import { levelSpan, mapper, pmdPa, upperTablesChanged } from "./pgtable.ts";
import { type Vma, VmFlag } from "./vma.ts";

/** ptdesc_pmd_pts_count: how many mms besides one point at this PMD table. */
export function ptdescPmdPtsCount(pages: PageDescTable, table: number): number {
  const n = pages.priv[table];
  return Math.max(n, 0);
}

/** VM_LOCKED_MASK: page_table_shareable lets a locked and an unlocked VMA share */
const VM_LOCKED_MASK = VmFlag.LOCKED | VmFlag.LOCKONFAULT;

/** PUD_SIZE in pages, and the PUD level */
function pudSpan(ctx: MmContext): number {
  return levelSpan(ctx, ctx.env.pgtable.pmdLevel + 1);
}

/** range_in_vma(vma, start, end) for [start, start + PUD_SIZE) */
function pudInVma(ctx: MmContext, vma: Vma, vpn: number): boolean {
  const span = pudSpan(ctx);
  const start = vpn - (vpn % span);
  return vma.vmStart <= start && start + span <= vma.vmEnd;
}

/**
 * want_pmd_share: a VM_MAYSHARE HugeTLB VMA of PMD-size pages (every such VMA has its vma_lock:
 * hugetlb_vma_lock_alloc) that covers the whole PUD_SIZE range around vpn.
 * Linux: mm/hugetlb.c want_pmd_share
 */
export function wantPmdShare(ctx: MmContext, vma: Vma, vpn: number): boolean {
  if (!ctx.env.pgtable.hugePmdShare || vma.htlb === null) return false;
  // huge_pte_alloc asks want_pmd_share for PMD_SIZE only (not a contiguous run of PMDs: arm64 CONT_PMD_SIZE)
  const h = hstateVma(vma);
  if (!(vma.vmFlags & VmFlag.MAYSHARE) || h.level !== ctx.env.pgtable.pmdLevel || h.ncontig !== 1)
    return false;
  return pudInVma(ctx, vma, vpn);
}

/**
 * page_table_shareable: where svma maps the file's page `idx` (saddr), if its table there could
 * serve vma at vpn: the same index in the PMD table, the same flags but VM_LOCKED, and svma
 * covering the whole PUD_SIZE range; -1 otherwise.
 * Linux: mm/hugetlb.c page_table_shareable
 */
function pageTableShareable(ctx: MmContext, svma: Vma, vma: Vma, vpn: number, idx: number): number {
  const saddr = idx - svma.vmPgoff + svma.vmStart;
  const perPmd = ctx.env.pgtable.hpagePmdNr;
  const ptrs = ctx.env.pgtable.ptrsPerTable;
  if (Math.floor(vpn / perPmd) % ptrs !== Math.floor(saddr / perPmd) % ptrs) return -1;
  if ((vma.vmFlags & ~VM_LOCKED_MASK) !== (svma.vmFlags & ~VM_LOCKED_MASK)) return -1;
  if (!pudInVma(ctx, svma, saddr) || !(svma.vmFlags & VmFlag.MAYSHARE)) return -1;
  return saddr;
}

/** The address of mm's PUD entry for vpn (-1: no table above it), and its level. */
function pudPa(ctx: MmContext, mm: MmStruct, vpn: number): number {
  return mapper(ctx, mm).entryPaAt(mm.pgdPfn, vpnUnchecked(vpn), ctx.env.pgtable.pmdLevel + 1);
}

/** set_pud / pud_clear (set_pgd where the PUD is folded into the top level: Sv39, arm64 39-bit VA) */
function setPud(ctx: MmContext, pa: number, hi: number, lo: number): void {
  const pt = ctx.env.pgtable;
  if (pt.pmdLevel + 1 === pt.levels - 1) pt.setTop(ctx.env.phys, pa, hi, lo);
  else pt.set(ctx.env.phys, pa, hi, lo);
  upperTablesChanged();
}

/**
 * huge_pmd_share, before huge_pte_alloc's pmd_alloc: the file's other VMAs (i_mmap, in the order
 * they were linked) are searched for one whose mm has a PMD table at the same place
 * (hugetlb_walk); the first found is shared: its count goes up and mm's PUD entry at `pudEntry`,
 * none, points at it (pud_populate, mm_inc_nr_pmds). True when it did.
 * Linux: mm/hugetlb.c huge_pmd_share
 */
export function hugePmdShare(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number, pudEntry: number): boolean {
  const pt = ctx.env.pgtable;
  const idx = vpn - vma.vmStart + vma.vmPgoff;
  for (const [svma, smm] of iMmap(vma.htlb!.file)) {
    if (svma === vma) continue; // (the same mm mapping the file twice may share with itself)
    if (svma.vmPgoff > idx || idx >= svma.vmPgoff + (svma.vmEnd - svma.vmStart)) continue; // the tree's [idx, idx]
    const saddr = pageTableShareable(ctx, svma, vma, vpn, idx);
    if (saddr < 0) continue;
    const spte = pmdPa(ctx, smm, saddr - (saddr % pt.hpagePmdNr));
    if (spte < 0) continue;
    const table = Math.floor(spte / 4096);
    const pages = ctx.env.pages;
    pages.priv[table] = ptdescPmdPtsCount(pages, table) + 1; // ptdesc_pmd_pts_inc
    const e = pt.mkTable(table, true);
    setPud(ctx, pudEntry, e.hi, e.lo);
    mm.ptPages++; // mm_inc_nr_pmds
    return true;
  }
  return false;
}

/**
 * huge_pmd_unshare: when the PMD table holding the entry at `ptep` (mm's, for vpn) is shared,
 * mm's PUD entry is cleared (the table and its entries stay the others'), the count goes down
 * (ptdesc_pmd_pts_dec, mm_dec_nr_pmds), and it returns true: the caller flushes the PUD_SIZE
 * range and goes on past it. False for a table mm alone uses, or a 1 GiB VMA.
 * Linux: mm/hugetlb.c huge_pmd_unshare
 */
export function hugePmdUnshare(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number, ptep: number): boolean {
  const pt = ctx.env.pgtable;
  if (!pt.hugePmdShare || hstateVma(vma).level !== pt.pmdLevel) return false;
  const pages = ctx.env.pages;
  const table = Math.floor(ptep / 4096);
  const n = ptdescPmdPtsCount(pages, table);
  if (n === 0) return false;
  const pud = pudPa(ctx, mm, vpn);
  assert(pud >= 0, "huge_pmd_unshare: no PUD entry above a PMD table");
  setPud(ctx, pud, 0, 0); // pud_clear
  pages.priv[table] = n - 1; // ptdesc_pmd_pts_dec
  mm.ptPages--; // mm_dec_nr_pmds
  return true;
}

/** The first page of the PUD_SIZE range around vpn, and PUD_SIZE (pages). */
export function pudRange(ctx: MmContext, vpn: number): [number, number] {
  const span = pudSpan(ctx);
  return [vpn - (vpn % span), span];
}

/**
 * hugetlb_unshare_pmds: every shared PMD table of mm in [start, end) (PUD_SIZE-aligned) let go,
 * then one flush of the range (flush_hugetlb_tlb_range).
 * Linux: mm/hugetlb.c hugetlb_unshare_pmds
 */
export function hugetlbUnsharePmds(ctx: MmContext, mm: MmStruct, vma: Vma, start: number, end: number): void {
  if (!(vma.vmFlags & VmFlag.MAYSHARE) || start >= end) return;
  const span = pudSpan(ctx);
  for (let vpn = start; vpn < end; vpn += span) {
    const ptep = pmdPa(ctx, mm, vpn);
    if (ptep >= 0) hugePmdUnshare(ctx, mm, vma, vpn, ptep);
  }
  // flush_hugetlb_tlb_range: the stride of the VMA's huge page (PMD sharing is for PMD-size pages)
  ctx.env.flushTlbMmRange(mm, start, end - start, TlbFlush.Pmd, ctx.env.pgtable.hpagePmdNr);
}

/**
 * hugetlb_vm_op_split's unshare: a split at vpn off a PUD_SIZE boundary ends PMD sharing in the
 * 1 GiB around it (both pieces lose the alignment sharing needs), when the VMA covers it all.
 * Linux: mm/hugetlb.c hugetlb_vm_op_split
 */
export function hugetlbSplitUnshare(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number): void {
  if (!ctx.env.pgtable.hugePmdShare) return;
  const [floor, span] = pudRange(ctx, vpn);
  if (floor === vpn) return;
  if (floor >= vma.vmStart && floor + span <= vma.vmEnd)
    hugetlbUnsharePmds(ctx, mm, vma, floor, floor + span);
}

/**
 * adjust_range_if_pmd_sharing_possible: a range that may reach a shared table widened to the
 * PUD_SIZE boundaries around it (a flush must cover what an unshare took away).
 * Linux: mm/hugetlb.c adjust_range_if_pmd_sharing_possible
 */
export function adjustRangeIfPmdSharingPossible(
  ctx: MmContext,
  vma: Vma,
  start: number,
  end: number,
): [number, number] {
  if (!ctx.env.pgtable.hugePmdShare) return [start, end];
  const span = pudSpan(ctx);
  const vStart = Math.ceil(vma.vmStart / span) * span;
  const vEnd = Math.floor(vma.vmEnd / span) * span;
  if (!(vma.vmFlags & VmFlag.MAYSHARE) || !(vEnd > vStart) || end <= vStart || start >= vEnd)
    return [start, end];
  return [start > vStart ? start - (start % span) : start, end < vEnd ? Math.ceil(end / span) * span : end];
}
