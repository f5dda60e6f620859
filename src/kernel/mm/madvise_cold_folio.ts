/**
 * madvise_cold_or_pageout_pte_range's large folio of a tmpfs file mapped by
 * PTEs (a huge= folio on a mapping not PMD-aligned to the file, or past a
 * split PMD): madvise_folio_pte_batch counts the PTEs from the current one
 * that map the folio's next pages, up to the range's end or the page table's
 * (walk_pmd_range: pmd_addr_end); fewer than the
 * folio's pages (the range starts or ends inside it) and the folio is split
 * (split_folio: unmap_folio takes every mapping of it, and a file folio is
 * not mapped again, so the walk, back at the same PTE, finds it none), unless
 * it is mapped elsewhere too (folio_likely_mapped_shared: the batch skipped).
 * Mapped whole from here, it is deactivated (MADV_COLD) or reclaimed
 * (MADV_PAGEOUT) whole when only this mapping maps it (folio_mapcount ==
 * folio_nr_pages).
 * Linux: mm/madvise.c madvise_cold_or_pageout_pte_range, madvise_folio_pte_batch
 */
import { PteFlag } from "./arch.ts";
import type { MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import type { MmuGather } from "./mmu_gather.ts";
import { ptepModify, readPte } from "./pgtable.ts";
import type { Vma } from "./vma.ts";

/** What the walk does at a PTE that maps a page of a large tmpfs folio. */
export interface ColdFolio {
  /** the folio's first frame and pages, when the PTEs from here map it whole; -1: not so */
  head: number;
  nr: number;
  /** PTEs the walk steps over after this one (the batch), 0 to go on at the next */
  skip: number;
}

/**
 * The large tmpfs folio the PTE at `vpn` (page `pfn`) maps: null when it is
 * not one (an order-0 page, a disk file's or shared anonymous memory's folio,
 * anonymous memory: the caller's own paths). Otherwise split here when the
 * range [vpn, end) maps it in part and only this mapping maps it (`head` -1,
 * `skip` 0: the PTE is none now); skipped when mapped elsewhere too (`head`
 * -1, `skip` the batch); or to be taken whole (`head`, `nr`, `skip` nr - 1).
 */
export function coldTmpfsFolio(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pfn: number,
  end: number,
): ColdFolio | null {
  const f = vma.file;
  if (f === null || f.fs !== "tmpfs" || f.folios.size === 0) return null;
  const pc = ctx.env.pageCache;
  const index = vma.vmPgoff + (vpn - vma.vmStart);
  const start = pc.folioStart(f, index);
  const order = f.folios.get(start) ?? 0;
  if (order === 0) return null;
  const nr = 2 ** order;
  const head = f.cache.get(start)!;
  if (pfn !== head + (index - start)) return null;
  // madvise_folio_pte_batch: the PTEs mapping the folio's next pages, up to the range's end
  // clamped to this page table's (walk_pmd_range passes pmd_addr_end as the pte_range's end)
  const pt = ctx.env.pgtable;
  const stop = Math.min(end, pmdAddrEnd(ctx, vpn));
  let batch = 1;
  while (batch < nr && vpn + batch < stop && pfn + batch < head + nr) {
    const pte = readPte(ctx, mm, vpn + batch);
    if (pte === null || !pt.present(pte.hi, pte.lo) || pt.pfn(pte.hi, pte.lo, 0) !== pfn + batch) break;
    batch++;
  }
  if (batch === nr) return { head, nr, skip: nr - 1 };
  // folio_likely_mapped_shared: mapped elsewhere too, the batch left
  if (folioLikelyMappedShared(ctx, head, nr)) return { head: -1, nr, skip: batch - 1 };
  // split_folio (mm/shmem_shrink.ts shmemSplitFileFolio: unmap_folio, __split_huge_page)
  if (pc.shmemSplit === null || pc.shmemSplit(f, index) === 0) return { head: -1, nr, skip: batch - 1 };
  return { head: -1, nr, skip: 0 };
}

/**
 * folio_likely_mapped_shared of a large folio of `nr` pages from `head`: its folio_mapcount (the
 * pages' mapcounts summed; a PMD mapping counts on each page here, the entire mapcount's share)
 * more than its pages, or else, when it is more than one, a guess from the first page alone
 * (mapped more than once). A page other than the first mapped twice is not seen.
 * Linux: include/linux/mm.h folio_likely_mapped_shared
 */
export function folioLikelyMappedShared(ctx: MmContext, head: number, nr: number): boolean {
  const mapcount = ctx.env.pages.mapcount;
  let sum = 0;
  for (let i = 0; i < nr; i++) sum += mapcount[head + i];
  if (sum <= 1) return false; // "A single mapping implies mapped exclusively"
  if (sum > nr) return true; // folio_entire_mapcount(folio) || mapcount > folio_nr_pages(folio)
  return mapcount[head] > 1; // "Let's guess based on the first subpage"
}

/** pmd_addr_end in pages: the first page past the page table that maps `vpn` */
export function pmdAddrEnd(ctx: MmContext, vpn: number): number {
  const n = ctx.env.pgtable.hpagePmdNr;
  return vpn - (vpn % n) + n;
}

/**
 * MADV_COLD's clear_young_dirty_ptes(CYDP_CLEAR_YOUNG) of the `nr` PTEs from `first` that map
 * one large folio, each young one made old and queued for the flush (tlb_remove_tlb_entries).
 * Linux: mm/madvise.c madvise_cold_or_pageout_pte_range, mm/memory.c clear_young_dirty_ptes
 */
export function clearYoungPtes(
  ctx: MmContext,
  mm: MmStruct,
  tlb: MmuGather,
  first: number,
  nr: number,
): void {
  const pt = ctx.env.pgtable;
  for (let i = 0; i < nr; i++) {
    const p = readPte(ctx, mm, first + i);
    if (p === null || !pt.young(p.hi, p.lo)) continue;
    const e = pt.modify(p.hi, p.lo, 0, PteFlag.YOUNG);
    ptepModify(ctx, tlb, p.pa, first + i, 0, e.hi, e.lo);
    tlb.flushRange(first + i, 1);
  }
}
