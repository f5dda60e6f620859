/**
 * Transparent huge pages for anonymous memory. Linux: mm/huge_memory.c
 * (which VMAs may have them, the huge fault, the huge zero page, the write
 * fault on a huge PMD, splitting a huge PMD into a page table).
 *
 * Modelling choice (docs/processes.md): the 512 frames of a huge page are
 * accounted one by one (refcount and mapcount each), so splitting and
 * partial freeing need no compound-page bookkeeping.
 */
import { Pte, PteHi } from "../../hw/arch/x86_64/pte.ts";
import { Gfp } from "./gfp.ts";
import { linearIndex, type MmContext, VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { PageKind } from "./PageDesc.ts";
import { hugePmd, isHugePmd, mapper, PTE_PROTNONE, PTE_SPECIAL, pmdOf, pmdPfn } from "./pgtable.ts";
import { type Vma, VmFlag } from "./vma.ts";

/**
 * May this anonymous fault be served by a huge page? (thp_vma_allowable_order)
 * A private anonymous VMA, THP enabled for it (always, or madvise with
 * MADV_HUGEPAGE), not MADV_NOHUGEPAGE, and the aligned 2 MiB around vpn
 * inside the VMA.
 * Linux: mm/huge_memory.c __thp_vma_allowable_orders
 */
export function hugeEligible(ctx: MmContext, vma: Vma, vpn: number): boolean {
  const mode = ctx.settings.thp;
  if (
    mode === "never" ||
    vma.shmem !== null ||
    vma.file !== null ||
    vma.vmFlags & (VmFlag.SHARED | VmFlag.NOHUGEPAGE)
  )
    return false;
  if (mode === "madvise" && !(vma.vmFlags & VmFlag.HUGEPAGE)) return false;
  const haddr = vpn - (vpn % 512);
  return haddr >= vma.vmStart && haddr + 512 <= vma.vmEnd;
}

/**
 * The huge zero page, allocated (and zeroed) on first use; -1 when no
 * order-9 block can be had.
 * Linux: mm/huge_memory.c get_huge_zero_page
 */
function getHugeZeroPage(ctx: MmContext): number {
  if (ctx.hugeZeroPfn < 0) {
    const env = ctx.env;
    const z = env.buddy.alloc(9, Gfp.KERNEL | Gfp.NOWARN, PageKind.KernelPages);
    if (z >= 0) {
      for (let i = 0; i < 512; i++) env.phys.zeroFrame(z + i);
      ctx.hugeZeroPfn = z;
      ctx.thpStats.thp_zero_page_alloc++;
    }
  }
  return ctx.hugeZeroPfn;
}

/**
 * do_huge_pmd_anonymous_page: a read maps the huge zero page (allocated
 * once, on first use) read-only; a write gets a zeroed 2 MiB page, mapped
 * writable and dirty by one PMD. If no order-9 block is free the fault
 * falls back to 4K pages (thp_fault_fallback). Returns null to fall back.
 * Linux: mm/huge_memory.c do_huge_pmd_anonymous_page
 */
export function hugeFault(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  write: boolean,
): VmFault | null {
  const env = ctx.env;
  const haddr = vpn - (vpn % 512);
  const pd = mapper(ctx, mm).ensureTable(mm.pgdPfn, haddr, 1, true);
  if (pd < 0) return VmFault.OOM;
  const pmdPa = pd * 4096 + (Math.floor(haddr / 512) % 512) * 8;
  if (!write && ctx.settings.thpZeroPage) {
    const zero = getHugeZeroPage(ctx);
    if (zero >= 0) {
      const e = hugePmd(zero, vma.vmFlags, false, false, true);
      env.phys.write64(pmdPa, e.hi, e.lo);
      return VmFault.OK;
    }
  }
  // mem_cgroup_charge of the folio: over the limit after one reclaim attempt, fall back
  if (env.chargeHugePage && !env.chargeHugePage()) {
    ctx.thpStats.thp_fault_fallback++;
    ctx.thpStats.thp_fault_fallback_charge++;
    return null;
  }
  const pfn = allocHuge(ctx, vma);
  if (pfn < 0) {
    ctx.thpStats.thp_fault_fallback++;
    return null;
  }
  if (vma.anonVma === 0) vma.anonVma = mm.newAnonVma();
  for (let i = 0; i < 512; i++) env.pages.mapcount[pfn + i] = 1;
  mm.rssAnon += 512;
  const e = hugePmd(pfn, vma.vmFlags, (vma.vmFlags & VmFlag.WRITE) !== 0, true, false);
  env.phys.write64(pmdPa, e.hi, e.lo);
  env.lru?.addAnonHuge(pfn, linearIndex(vma, haddr));
  ctx.thpStats.thp_fault_alloc++;
  return VmFault.OK;
}

/**
 * A zeroed 2 MiB page for anonymous memory (vma_alloc_folio, order 9). Its
 * 512 frames are accounted one by one (each refcount 1) so that splitting
 * the PMD and freeing parts need no compound-page bookkeeping; the buddy
 * allocator merges them back when the last is freed. No direct reclaim
 * unless the VMA asked for huge pages (defrag=madvise).
 * Linux: mm/huge_memory.c vma_alloc_anon_folio_pmd, vma_thp_gfp_mask
 */
function allocHuge(ctx: MmContext, vma: Vma): number {
  const env = ctx.env;
  const gfp = vma.vmFlags & VmFlag.HUGEPAGE ? Gfp.KERNEL | Gfp.NOWARN | Gfp.NORETRY : Gfp.NOWAIT | Gfp.NOWARN;
  const pfn = env.buddy.alloc(9, gfp, PageKind.UserAnon);
  if (pfn < 0) return -1;
  for (let i = 0; i < 512; i++) {
    env.phys.zeroFrame(pfn + i);
    env.pages.order[pfn + i] = 0;
    env.pages.refcount[pfn + i] = 1;
    env.pages.flags[pfn + i] = 0;
  }
  return pfn;
}

/**
 * __split_huge_pmd: replace a huge PMD by a page table of 512 PTEs mapping
 * the same frames with the same rights (the huge zero page becomes 512
 * mappings of the 4K zero page), then flush the 2 MiB range.
 * Linux: mm/huge_memory.c __split_huge_pmd
 */
export function splitPmd(ctx: MmContext, mm: MmStruct, vpn: number): boolean {
  const haddr = vpn - (vpn % 512);
  const pmd = pmdOf(ctx, mm, haddr);
  if (pmd === null || !isHugePmd(pmd.lo)) return true;
  const env = ctx.env;
  const pt = mapper(ctx, mm).alloc.allocFrame();
  if (pt < 0) return false;
  env.phys.zeroFrame(pt);
  const base = pmdPfn(pmd.hi, pmd.lo);
  const special = (pmd.lo & PTE_SPECIAL) !== 0;
  // each PTE inherits the PMD's own bits (not the VMA's: during mprotect the
  // VMA at haddr may already have its new rights while the rest of the huge
  // page belongs to a neighbour); the 2 MiB-only bits (PS, PAT at bit 12) go
  const keepLo =
    (pmd.lo & (Pte.P | Pte.RW | Pte.US | Pte.PWT | Pte.PCD | Pte.A | Pte.D | PTE_PROTNONE)) >>> 0;
  const keepHi = pmd.hi & PteHi.XD;
  for (let i = 0; i < 512; i++) {
    const pfn = special ? env.zeroPfn : base + i;
    const lo =
      ((pfn % 1048576) * 4096 + (special ? (keepLo & ~(Pte.RW | Pte.D)) | PTE_SPECIAL : keepLo)) >>> 0;
    const hi = (Math.floor(pfn / 1048576) | keepHi) >>> 0;
    env.phys.write64(pt * 4096 + i * 8, hi, lo);
  }
  env.phys.write64(
    pmd.pa,
    Math.floor(pt / 1048576),
    ((pt % 1048576) * 4096 + (Pte.P | Pte.RW | Pte.US | Pte.A | Pte.D)) >>> 0,
  );
  env.flushTlbMmRange(mm, haddr, 512);
  ctx.thpStats.thp_split_pmd++;
  // the folio is split at once (Linux leaves it whole, PTE-mapped, on the deferred split
  // queue until reclaim or the deferred-split shrinker splits it): its pages join the LRU
  if (!special) env.lru?.splitFolio(base);
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
  for (let h = start - (start % 512); h < end; h += 512) {
    if (partialOnly && h >= start && h + 512 <= end) continue;
    const pmd = pmdOf(ctx, mm, h);
    if (pmd !== null && isHugePmd(pmd.lo)) splitPmd(ctx, mm, h);
  }
}

/**
 * do_huge_pmd_wp_page: a write to a read-only huge PMD. The huge zero page
 * is replaced by a new huge page (or split if none can be had); a huge page
 * this process has alone is made writable in place; a shared one (after
 * fork) is split, and the 4K copy-on-write path copies just the written
 * page. Returns null when the caller must go on at 4K (after a split).
 * Linux: mm/huge_memory.c do_huge_pmd_wp_page
 */
export function hugeWp(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pmd: { pa: number; hi: number; lo: number },
): VmFault | null {
  const env = ctx.env;
  const haddr = vpn - (vpn % 512);
  const base = pmdPfn(pmd.hi, pmd.lo);
  if (pmd.lo & PTE_SPECIAL) {
    const pfn = env.chargeHugePage && !env.chargeHugePage() ? -1 : allocHuge(ctx, vma);
    if (pfn < 0) {
      splitPmd(ctx, mm, haddr);
      return null;
    }
    if (vma.anonVma === 0) vma.anonVma = mm.newAnonVma();
    for (let i = 0; i < 512; i++) env.pages.mapcount[pfn + i] = 1;
    mm.rssAnon += 512;
    env.phys.write64(pmd.pa, 0, 0);
    env.flushTlbMmRange(mm, haddr, 512);
    const e = hugePmd(pfn, vma.vmFlags, true, true, false);
    env.phys.write64(pmd.pa, e.hi, e.lo);
    env.lru?.addAnonHuge(pfn, linearIndex(vma, haddr));
    ctx.thpStats.thp_fault_alloc++;
    return VmFault.OK;
  }
  let exclusive = true;
  for (let i = 0; i < 512 && exclusive; i++)
    exclusive = env.pages.mapcount[base + i] === 1 && env.pages.refcount[base + i] === 1;
  if (exclusive) {
    env.phys.write32(pmd.pa, (pmd.lo | Pte.RW | Pte.D | Pte.A) >>> 0);
    return VmFault.OK;
  }
  splitPmd(ctx, mm, haddr);
  return null;
}
