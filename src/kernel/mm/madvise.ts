/**
 * madvise: the advice that acts on pages. Linux: mm/madvise.c (do_madvise,
 * madvise_vma_behavior, madvise_dontneed_single_vma, madvise_free_pte_range,
 * madvise_cold_or_pageout_pte_range, madvise_guard_install/remove).
 */
import { Pte } from "../../hw/x86_64/pte.ts";
import { splitRange } from "./huge_memory.ts";
import { Errno, linearIndex, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { putPage, zapRange } from "./memory.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { PTE_GUARD, PTE_SPECIAL, ptePa, ptePfn, readPte } from "./pgtable.ts";

/**
 * MADV_PAGEOUT (madvise_cold_or_pageout_pte_range, then reclaim_pages):
 * pages in the range that only this mapping uses are reclaimed now.
 * Anonymous pages are written to swap (when there is swap) and their PTEs
 * become swap entries; page-cache pages of disk files are unmapped, written
 * back if dirty, and dropped from the cache. Shared pages (mapcount > 1),
 * shmem and tmpfs pages, and the zero page are left. Returns the number of
 * pages reclaimed.
 * Linux: mm/madvise.c madvise_cold_or_pageout_pte_range, mm/vmscan.c reclaim_pages
 */
export function pageout(ctx: MmContext, mm: MmStruct, start: number, end: number): number {
  const env = ctx.env;
  const pages = env.pages;
  // a huge page goes to swap in 4K pieces (no THP swap clusters: thp_swpout_fallback)
  if (env.swap !== null) splitRange(ctx, mm, start, end, false);
  let n = 0;
  for (let vpn = start; vpn < end; vpn++) {
    const vma = mm.vmaAt(vpn);
    if (vma === null || vma.shmem) continue;
    const pte = readPte(ctx, mm, vpn);
    if (pte === null || !(pte.lo & Pte.P) || pte.lo & PTE_SPECIAL) continue;
    const pfn = ptePfn(pte.hi, pte.lo);
    // "do not interfere with other mappings of this folio"
    if (pages.mapcount[pfn] !== 1) continue;
    if (env.lru?.reclaimPage(pfn, linearIndex(vma, vpn))) n++;
  }
  return n;
}

/**
 * MADV_DONTNEED (zap_page_range_single): drop the pages; the next touch
 * faults in zero-filled memory. The TLBs are flushed before the pages are
 * freed.
 * Linux: mm/madvise.c madvise_dontneed_single_vma (zap_page_range_single)
 */
export function dontneed(ctx: MmContext, mm: MmStruct, start: number, end: number): void {
  const toFree: number[] = [];
  for (const v of mm.vmas) {
    const a = Math.max(start, v.vmStart);
    const b = Math.min(end, v.vmEnd);
    if (a < b) zapRange(ctx, mm, a, b, toFree, true);
  }
  ctx.env.flushTlbMmRange(mm, start, end - start);
  for (const pfn of toFree) putPage(ctx, pfn);
}

/**
 * MADV_FREE (madvise_free_pte_range): private anonymous pages become
 * lazily freeable: their PTEs are made clean (and flushed) and the page
 * marked; under memory pressure such a page is dropped instead of swapped,
 * unless it was written again (the dirty bit is back).
 * Linux: mm/madvise.c madvise_free_pte_range
 */
export function lazyFree(ctx: MmContext, mm: MmStruct, start: number, end: number): void {
  splitRange(ctx, mm, start, end);
  const pages = ctx.env.pages;
  let changed = 0;
  for (let vpn = start; vpn < end; vpn++) {
    const pte = readPte(ctx, mm, vpn);
    if (pte === null || !(pte.lo & Pte.P) || pte.lo & PTE_SPECIAL) continue;
    const pfn = ptePfn(pte.hi, pte.lo);
    if (pages.kind[pfn] !== PageKind.UserAnon || pages.mapcount[pfn] !== 1) continue;
    pages.flags[pfn] |= PageFlag.Lazyfree;
    if (pte.lo & (Pte.D | Pte.A)) {
      ctx.env.phys.write32(pte.pa, (pte.lo & ~(Pte.D | Pte.A)) >>> 0);
      changed++;
    }
  }
  if (changed) ctx.env.flushTlbMmRange(mm, start, end - start);
}

/**
 * MADV_GUARD_INSTALL: zap the range and put a guard marker in every PTE.
 * Linux: mm/madvise.c madvise_guard_install
 */
export function guardInstall(ctx: MmContext, mm: MmStruct, start: number, end: number): number {
  const toFree: number[] = [];
  zapRange(ctx, mm, start, end, toFree, true);
  ctx.env.flushTlbMmRange(mm, start, end - start);
  for (const pfn of toFree) putPage(ctx, pfn);
  for (let vpn = start; vpn < end; vpn++) {
    const pa = ptePa(ctx, mm, vpn, true);
    if (pa < 0) return -Errno.ENOMEM;
    ctx.env.phys.write64(pa, 0, PTE_GUARD);
  }
  return 0;
}

/**
 * MADV_GUARD_REMOVE: clear the guard markers of the range (pages stay as they are).
 * Linux: mm/madvise.c madvise_guard_remove
 */
export function guardRemove(ctx: MmContext, mm: MmStruct, start: number, end: number): void {
  for (let vpn = start; vpn < end; vpn++) {
    const pte = readPte(ctx, mm, vpn);
    if (pte !== null && pte.lo === PTE_GUARD && pte.hi === 0) ctx.env.phys.write64(pte.pa, 0, 0);
  }
}
