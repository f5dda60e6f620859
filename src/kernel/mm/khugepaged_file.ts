/**
 * Collapsing shmem into PMD-size folios: khugepaged's scan of a shmem VMA
 * and MADV_COLLAPSE on one (a tmpfs file or memfd, shared anonymous memory,
 * a SysV segment: the VMAs whose vm_file is a shmem file). Unlike the
 * anonymous collapse (mm/khugepaged.ts) this works on the inode's page
 * cache, not on one page table: the 512 offsets from an aligned `start`
 * become one new folio in the owner (the object's pages, the tmpfs file's
 * cache), every mapping of the old pages is unmapped, the empty PTE tables
 * of the other mappings are retracted so that their next fault maps the
 * folio by a PMD, and MADV_COLLAPSE maps it by a PMD in the caller's mm at
 * once. Holes are filled with zeros (shmem: nr_none charged to the inode),
 * swapped-out pages read back first.
 *
 * What vmlab leaves out: fallocated, not yet written pages (!uptodate:
 * vmlab has none apart from holes), READ_ONLY_THP_FOR_FS (a disk file's
 * VMA is not eligible), userfaultfd (SCAN_PTE_UFFD_WP and the MODE_MISSING
 * rollback), memory-failure in the copy (SCAN_COPY_MC), NUMA (one node) and
 * races: nothing runs while the mmap_lock is dropped, so the re-check of the
 * holes (SCAN_PAGE_FILLED) and of truncation always passes. try_to_unmap's
 * TLB flushes are made at each PTE, not batched (TTU_BATCH_FLUSH).
 * Linux 6.12: mm/khugepaged.c hpage_collapse_scan_file, collapse_file,
 * retract_page_tables, collapse_pte_mapped_thp, set_huge_pmd
 */
import { pfnUnchecked } from "../../base/units.ts";
import { TlbFlush } from "./arch.ts";
import { Gfp } from "./gfp.ts";
import { doSetPmd } from "./huge_memory.ts";
import { linearIndex, type MmContext } from "./internal.ts";
import { findPmd, Scan } from "./khugepaged_result.ts";
import { collapseAllowable, maxPtesNone } from "./khugepaged_slots.ts";
import { iMmap, type MmStruct } from "./MmStruct.ts";
import { copyFrame, freeUnmapped, rssAdd } from "./memory.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { emptyPmdForSetPmd, pmdOf, pteFreeOne, ptepClearFlush, readPte } from "./pgtable.ts";
import { type ShmemOwner, shmemPages, shmemSwapinIndex } from "./shmem.ts";
import { shmemObjFolioGone } from "./shmem_anon_huge.ts";
import { ShmemObject, type Vma, VmFlag } from "./vma.ts";

/** The shmem inode a VMA maps: its shmem object, or its tmpfs file. */
export function shmemOwnerOf(vma: Vma): ShmemOwner {
  return vma.shmem ?? vma.file!;
}

/**
 * is_refcount_suitable for a page-cache page: the page cache's reference
 * and one per mapping, nothing more (no GUP pin, no fault holding it).
 * Linux: mm/khugepaged.c is_refcount_suitable
 */
function refcountSuitable(ctx: MmContext, pfn: number): boolean {
  if (ctx.env.lru?.pinned.has(pfn)) return false;
  return ctx.env.pages.refcount[pfn] === ctx.env.pages.mapcount[pfn] + 1;
}

/**
 * hpage_collapse_scan_file: the 512 offsets of `owner` from the aligned
 * `start` (mapped at `addr` in mm): swap entries counted (khugepaged: past
 * max_ptes_swap, SCAN_EXCEED_SWAP_PTE), a PMD-size folio already at `start`
 * (SCAN_PTE_MAPPED_HUGEPAGE: the caller maps it), a page off the LRU
 * (SCAN_PAGE_LRU) or held beyond its mappings (SCAN_PAGE_COUNT) ends the
 * scan; khugepaged wants at least HPAGE_PMD_NR - max_ptes_none pages
 * present (SCAN_EXCEED_NONE_PTE), MADV_COLLAPSE any number. Then
 * collapse_file. No referenced-page check (nobody transfers pte_young to
 * the folio, as the kernel's comment says).
 * Linux: mm/khugepaged.c hpage_collapse_scan_file
 */
export function scanFile(ctx: MmContext, owner: ShmemOwner, start: number, isKhugepaged: boolean): Scan {
  const env = ctx.env;
  const pc = env.pageCache;
  const nr = env.pgtable.hpagePmdNr;
  const resident = shmemPages(owner);
  let present = 0;
  let swap = 0;
  for (let index = start; index < start + nr; index++) {
    if (owner.swapped.has(index)) {
      swap++;
      if (isKhugepaged && swap > (ctx.khugepaged?.maxPtesSwap ?? nr / 8)) {
        ctx.thpStats.thp_scan_exceed_swap_pte++;
        return Scan.EXCEED_SWAP_PTE;
      }
      continue;
    }
    const pfn = resident.get(index);
    if (pfn === undefined) continue;
    if (index === start && owner.folios.get(start) === pc.pmdOrder) return Scan.PTE_MAPPED_HUGEPAGE;
    if (env.lru !== null && !env.lru.fbatches.testLru(pfn)) return Scan.PAGE_LRU;
    if (!refcountSuitable(ctx, pfn)) return Scan.PAGE_COUNT;
    present++;
  }
  if (isKhugepaged && present < nr - maxPtesNone(ctx)) {
    ctx.thpStats.thp_scan_exceed_none_pte++;
    return Scan.EXCEED_NONE_PTE;
  }
  return collapseFile(ctx, owner, start, isKhugepaged);
}

/**
 * try_to_unmap(folio, TTU_IGNORE_MLOCK | TTU_BATCH_FLUSH) of page `pfn` at
 * offset `index` of `owner`: every PTE of the owner's i_mmap that maps it
 * cleared and flushed, a dirty one dirtying the page (folio_mark_dirty), a
 * VM_LOCKED VMA's munlocked; RSS, mapcount and refcount fall with each. (A
 * private mapping's anonymous copy is another page: it stays.)
 * Linux: mm/rmap.c try_to_unmap, try_to_unmap_one
 */
function tryToUnmapPage(ctx: MmContext, owner: ShmemOwner, index: number, pfn: number): void {
  const pt = ctx.env.pgtable;
  const pages = ctx.env.pages;
  for (const [v, mm] of [...iMmap(owner)]) {
    if (index < v.vmPgoff || index >= v.vmPgoff + (v.vmEnd - v.vmStart)) continue;
    const vpn = v.vmStart + (index - v.vmPgoff);
    const pte = readPte(ctx, mm, vpn);
    if (pte === null || !pt.present(pte.hi, pte.lo) || pt.pfn(pte.hi, pte.lo, 0) !== pfn) continue;
    if (pt.dirty(pte.hi, pte.lo)) pages.flags[pfn] |= PageFlag.Dirty;
    ptepClearFlush(ctx, mm, pte.pa, vpn, 0);
    if (v.vmFlags & VmFlag.LOCKED) ctx.env.lru?.fbatches.mlock.munlockFolio(pfn);
    rssAdd(ctx, mm, v, pfn, -1);
    pages.mapcount[pfn]--;
    pages.refcount[pfn]--;
  }
}

/**
 * shmem_charge: the `pages` holes a collapse fills charged to the inode
 * (shmem_inode_acct_blocks: a tmpfs file or memfd charges block by block;
 * a shared anonymous or SysV object was charged whole at its setup,
 * shmem_acct_size), then shmem_recalc_inode. False: -ENOSPC.
 * Linux: mm/shmem.c shmem_charge
 */
function shmemCharge(ctx: MmContext, owner: ShmemOwner, pages: number): boolean {
  if (owner instanceof ShmemObject) return true;
  const pc = ctx.env.pageCache;
  if (!pc.shmemInodeAcct(owner, pages)) return false;
  pc.shmemRecalc(owner);
  return true;
}

/**
 * collapse_file for a shmem inode: a PMD-size folio is allocated and
 * charged (alloc_charge_folio: GFP_TRANSHUGE, THP_COLLAPSE_ALLOC or
 * THP_COLLAPSE_ALLOC_FAILED, the memory cgroup's charge), then each offset
 * from `start` in turn: a hole counted (nr_none; none at all from `start`
 * on: SCAN_TRUNCATED), a swap entry read back (shmem_get_folio SGP_NOALLOC:
 * shmem_swapin_folio, then lru_add_drain; no memory: SCAN_FAIL), a locked
 * page SCAN_PAGE_LOCK, the PMD-size folio already there
 * SCAN_PTE_MAPPED_HUGEPAGE, a page off the LRU SCAN_DEL_PAGE_LRU; each page
 * is unmapped everywhere (try_to_unmap) and must then be held by its owner
 * alone (SCAN_PAGE_COUNT; it stays unmapped: a fault maps it again). The
 * holes are charged (shmem_charge; refused: SCAN_FAIL). The new folio gets
 * the pages' contents and zeros for the holes, is dirty, swap-backed, on the
 * LRU, and replaces them in the owner (one multi-index entry: ShmemHugePages
 * grows by 512, Shmem by nr_none); the old pages are freed, the empty PTE
 * tables of the mappings retracted (retract_page_tables). MADV_COLLAPSE
 * gets SCAN_PTE_MAPPED_HUGEPAGE back (its caller maps the folio),
 * khugepaged SCAN_SUCCEED. On a failure the new folio goes back.
 * Linux: mm/khugepaged.c collapse_file, alloc_charge_folio
 */
function collapseFile(ctx: MmContext, owner: ShmemOwner, start: number, isKhugepaged: boolean): Scan {
  const env = ctx.env;
  const pc = env.pageCache;
  const pages = env.pages;
  const order = pc.pmdOrder;
  const nr = 2 ** order;
  const resident = shmemPages(owner);
  // alloc_charge_folio: GFP_TRANSHUGE (khugepaged's defrag default, and MADV_COLLAPSE)
  const gfp = Gfp.DIRECT_RECLAIM | Gfp.IO | Gfp.FS | Gfp.HIGHMEM | Gfp.MOVABLE | Gfp.NOWARN | Gfp.NORETRY;
  const head = env.buddy.alloc(order, gfp, PageKind.PageCache);
  if (head < 0) {
    ctx.thpStats.thp_collapse_alloc_failed++;
    return Scan.ALLOC_HUGE_PAGE_FAIL;
  }
  ctx.thpStats.thp_collapse_alloc++;
  const putNew = (r: Scan): Scan => {
    const err = env.buddy.free(head, order); // folio_put(new_folio): never used
    if (err !== null) throw new Error(`collapse_file: ${err}`);
    return r;
  };
  // mem_cgroup_charge(folio, mm, GFP_TRANSHUGE): vmlab's __GFP_NORETRY is the allocation's only
  if (env.chargeHugePage && !env.chargeHugePage(nr, gfp & ~Gfp.NORETRY))
    return putNew(Scan.CGROUP_CHARGE_FAIL);
  const old = oldPages;
  old.fill(-1, 0, nr);
  let nrNone = 0;
  for (let index = start; index < start + nr; index++) {
    let pfn = resident.get(index);
    if (pfn === undefined && !owner.swapped.has(index)) {
      // "Stop if extent has been truncated or hole-punched, and is now completely empty"
      if (index === start && !anyEntry(owner, start, start + nr)) return putNew(Scan.TRUNCATED);
      nrNone++;
      continue;
    }
    if (pfn === undefined) {
      // a swap entry: shmem_get_folio(SGP_NOALLOC) swaps it in, then lru_add_drain
      const got = shmemSwapinIndex(ctx, owner, index);
      if (got === null || got.pfn < 0) return putNew(Scan.FAIL);
      pfn = got.pfn;
      env.lru?.fbatches.drain();
    } else if (pages.flags[pfn] & PageFlag.Locked) return putNew(Scan.PAGE_LOCK); // folio_trylock
    // "If file was truncated then extended, or hole-punched, ... a THP might be there already"
    if (index === start && owner.folios.get(start) === order) return putNew(Scan.PTE_MAPPED_HUGEPAGE);
    if (env.lru !== null && !env.lru.fbatches.testLru(pfn)) return putNew(Scan.DEL_PAGE_LRU); // folio_isolate_lru
    if (pages.mapcount[pfn] > 0) tryToUnmapPage(ctx, owner, index, pfn); // folio_mapped: try_to_unmap
    // folio_ref_count != 2 + folio_nr_pages: someone else holds it (the mappings are gone)
    if (!refcountSuitable(ctx, pfn) || pages.mapcount[pfn] !== 0) return putNew(Scan.PAGE_COUNT);
    old[index - start] = pfn;
  }
  if (nrNone > 0 && !shmemCharge(ctx, owner, nrNone)) return putNew(Scan.FAIL);
  // the copy: each old page's contents (copy_mc_highpage), zeros for the holes (clear_highpage)
  for (let i = 0; i < nr; i++) {
    if (old[i] >= 0) copyFrame(env.phys, old[i], head + i);
    else env.phys.zeroFrame(pfnUnchecked(head + i));
  }
  // the old folios' marks go (a large folio below the PMD order is replaced whole)
  if (owner.folios.size > 0)
    for (const [s, o] of [...owner.folios])
      if (s >= start && s + 2 ** o <= start + nr) {
        if (owner instanceof ShmemObject) shmemObjFolioGone(ctx, owner, s);
        else {
          const h = owner.cache.get(s)!;
          owner.folios.delete(s);
          pc.largeHeads.delete(h);
          pages.flags[h] &= ~PageFlag.Head;
        }
      }
  // NR_SHMEM_THPS, folio_mark_uptodate, folio_ref_add(HPAGE_PMD_NR - 1) (the page cache's, one a
  // page here), folio_mark_dirty, folio_add_lru, and the multi-index xas_store
  for (let i = 0; i < nr; i++) {
    const p = head + i;
    pages.order[p] = 0; // vmlab's pages of a folio carry order 0 while in use
    pages.flags[p] = PageFlag.SwapBacked | PageFlag.Dirty;
    pages.refcount[p] = 1;
    resident.set(start + i, p);
    env.lru?.addShmem(p, owner, start + i);
  }
  env.lru?.fbatches.moveLocalAdd(); // folio_add_lru of a large folio
  pages.flags[head] |= PageFlag.Head;
  owner.folios.set(start, order);
  if (!(owner instanceof ShmemObject)) pc.largeHeads.set(head, order);
  retractPageTables(ctx, owner, start);
  // the old folios freed: off the LRU (they were isolated), folio_put_refs of the cache's
  // reference and the collapse's
  for (let i = 0; i < nr; i++) {
    const p = old[i];
    if (p < 0) continue;
    env.lru?.del(p);
    pages.flags[p] &= ~(PageFlag.SwapBacked | PageFlag.Dirty | PageFlag.Head);
    pages.refcount[p] = 0;
    if (pages.flags[p] & PageFlag.Mlocked) env.lru?.fbatches.mlock.freeing(p); // free_pages_prepare
    freeUnmapped(ctx, p);
  }
  return isKhugepaged ? Scan.SUCCEED : Scan.PTE_MAPPED_HUGEPAGE;
}

/** The old pages of the collapse under way, by offset from its start (-1: a hole). */
const oldPages = new Float64Array(1 << 10);

/** xas_next_entry over [from, to): any page or swap entry of the owner there. */
function anyEntry(owner: ShmemOwner, from: number, to: number): boolean {
  const resident = shmemPages(owner);
  for (let i = from; i < to; i++) if (resident.has(i) || owner.swapped.has(i)) return true;
  return false;
}

/**
 * pmdp_collapse_flush, then pte_free_defer and mm_dec_nr_ptes: the PMD at
 * haddr that points to PTE table `table` is cleared, the 2 MiB range flushed
 * from every TLB, the table freed.
 * Linux: mm/pgtable-generic.c pmdp_collapse_flush; mm/khugepaged.c retract_page_tables
 */
function removePteTable(ctx: MmContext, mm: MmStruct, haddr: number): void {
  const env = ctx.env;
  const pt = env.pgtable;
  const pmd = pmdOf(ctx, mm, haddr)!;
  const table = pt.pfn(pmd.hi, pmd.lo, 1);
  if (pt.pmdLevel === pt.levels - 1) pt.setTop(env.phys, pmd.pa, 0, 0);
  else pt.set(env.phys, pmd.pa, 0, 0);
  env.flushTlbMmRange(mm, haddr, pt.hpagePmdNr, TlbFlush.Range);
  pteFreeOne(ctx, mm, table);
}

/** Every PTE of `table` none. */
function tableEmpty(ctx: MmContext, table: number): boolean {
  const pt = ctx.env.pgtable;
  for (let i = 0; i < pt.ptrsPerTable; i++) {
    const e = pt.get(ctx.env.phys, table * 4096 + i * pt.entryBytes);
    if (!pt.none(e.hi, e.lo)) return false;
  }
  return true;
}

/**
 * retract_page_tables: each VMA of the owner's i_mmap that covers `pgoff`,
 * has no anon_vma (a private mapping written to is left alone: its PMD
 * mapping would soon be split), maps the offset at a PMD-aligned address
 * with the whole PMD inside it, and has a PTE table there (emptied by the
 * collapse's try_to_unmap) loses that table: its next fault maps the new
 * folio by a PMD (do_set_pmd). vmlab also keeps a table that is not empty
 * (a guard marker, which 6.12 does not have).
 * Linux: mm/khugepaged.c retract_page_tables
 */
function retractPageTables(ctx: MmContext, owner: ShmemOwner, pgoff: number): void {
  const pt = ctx.env.pgtable;
  const nr = pt.hpagePmdNr;
  for (const [v, mm] of [...iMmap(owner)]) {
    if (pgoff < v.vmPgoff || pgoff >= v.vmPgoff + (v.vmEnd - v.vmStart)) continue;
    if (v.anonVma !== 0) continue;
    const addr = v.vmStart + (pgoff - v.vmPgoff);
    if (addr % nr !== 0 || v.vmEnd < addr + nr) continue;
    if (findPmd(ctx, mm, addr) !== Scan.SUCCEED || mm.dead) continue;
    const pmd = pmdOf(ctx, mm, addr)!;
    if (!tableEmpty(ctx, pt.pfn(pmd.hi, pmd.lo, 1))) continue;
    removePteTable(ctx, mm, addr);
  }
}

/**
 * collapse_pte_mapped_thp: the PMD-size folio of the page cache at `addr`
 * of mm mapped whole. The VMA must be a shmem one holding the PMD (else
 * SCAN_VMA_CHECK); one already PMD-mapped is SCAN_PMD_MAPPED. The sysfs
 * setting is not asked (the folio exists already), shmem's forced policy is
 * (thp_vma_allowable_order without TVA_ENFORCE_SYSFS). No page at the
 * offset: SCAN_PAGE_NULL; not a PMD-size folio: SCAN_PAGE_COMPOUND. A PTE
 * table there must map nothing but the folio's own pages at their places
 * (else SCAN_FAIL, a swap entry SCAN_PTE_NON_PRESENT); those PTEs are cleared
 * (their mappings, references and RSS gone), the table removed
 * (pmdp_collapse_flush), and with `installPmd` (MADV_COLLAPSE) the folio
 * mapped by one PMD, read-only until written (set_huge_pmd: do_set_pmd of
 * a fault without FAULT_FLAG_WRITE): SCAN_SUCCEED.
 * Linux: mm/khugepaged.c collapse_pte_mapped_thp, set_huge_pmd
 */
export function collapsePteMappedThp(ctx: MmContext, mm: MmStruct, addr: number, installPmd: boolean): Scan {
  const env = ctx.env;
  const pt = env.pgtable;
  const pages = env.pages;
  const nr = pt.hpagePmdNr;
  const haddr = addr - (addr % nr);
  const vma = mm.findVma(haddr);
  if (
    vma === null ||
    vma.vmStart > haddr ||
    (vma.shmem === null && vma.file === null) ||
    haddr + nr > vma.vmEnd
  )
    return Scan.VMA_CHECK;
  let result = findPmd(ctx, mm, haddr);
  if (result === Scan.PMD_MAPPED) return result;
  if (!collapseAllowable(ctx, mm, vma, false)) return Scan.VMA_CHECK;
  const owner = shmemOwnerOf(vma);
  const index = linearIndex(vma, haddr);
  const head = shmemPages(owner).get(index);
  if (head === undefined) return Scan.PAGE_NULL; // filemap_lock_folio
  if (owner.folios.get(index) !== env.pageCache.pmdOrder) return Scan.PAGE_COMPOUND;
  if (result === Scan.SUCCEED) {
    const pmd = pmdOf(ctx, mm, haddr)!;
    const table = pt.pfn(pmd.hi, pmd.lo, 1);
    // step 1: every mapped PTE to the right page of the folio
    for (let i = 0; i < nr; i++) {
      const e = pt.get(env.phys, table * 4096 + i * pt.entryBytes);
      if (pt.none(e.hi, e.lo)) continue;
      if (!pt.present(e.hi, e.lo)) return Scan.PTE_NON_PRESENT;
      if (pt.pfn(e.hi, e.lo, 0) !== head + i) return Scan.FAIL;
    }
    // step 2 and 3: the PTEs cleared (the flush is pmdp_collapse_flush's), their references
    // and the mm's counter dropped
    for (let i = 0; i < nr; i++) {
      const pa = table * 4096 + i * pt.entryBytes;
      const e = pt.get(env.phys, pa);
      if (pt.none(e.hi, e.lo)) continue;
      if (pt.dirty(e.hi, e.lo)) pages.flags[head + i] |= PageFlag.Dirty;
      pt.set(env.phys, pa, 0, 0); // ptep_clear
      if (vma.vmFlags & VmFlag.LOCKED) env.lru?.fbatches.mlock.munlockFolio(head + i);
      pages.mapcount[head + i]--; // folio_remove_rmap_pte
      pages.refcount[head + i]--; // folio_ref_sub
      rssAdd(ctx, mm, vma, head + i, -1);
    }
    // step 4: the empty table removed
    removePteTable(ctx, mm, haddr);
  } else if (result !== Scan.PMD_NONE) return result;
  // step 5: set_huge_pmd
  if (!installPmd) return Scan.SUCCEED;
  const pmdPa = emptyPmdForSetPmd(ctx, mm, haddr);
  if (pmdPa < 0) return Scan.FAIL;
  doSetPmd(ctx, mm, vma, pmdPa, head, false);
  result = Scan.SUCCEED;
  return result;
}
