/**
 * fork and a HugeTLB folio that may be DMA-pinned: copy_hugetlb_page_range's early COW. An
 * anonymous folio of a private (COW) mapping that is exclusive and maybe pinned
 * (hugetlb_try_dup_anon_rmap: folio_needs_cow_for_dma, -EBUSY) is not shared with the child: the
 * child gets a new folio allocated without a reservation (alloc_hugetlb_folio(dst_vma, addr, 1):
 * the child's VMA owns none), the contents copied (copy_user_large_folio), mapped writable,
 * dirty and young (hugetlb_install_folio: make_huge_pte(vma, page, 1)), exclusive
 * (hugetlb_add_new_anon_rmap), counted in the child's HugetlbPages (hugetlb_count_add); the
 * parent's entry is left writable, its folio exclusive. No folio to be had: the fork fails.
 * Linux: mm/hugetlb.c copy_hugetlb_page_range, hugetlb_install_folio, copy_user_large_folio;
 * include/linux/rmap.h hugetlb_try_dup_anon_rmap; include/linux/mm.h folio_needs_cow_for_dma.
 * And the other side of a fork's sharing: unmap_ref_private, when the owner's COW finds no folio.
 */
import { pfnUnchecked, vpnUnchecked } from "../../base/units.ts";
import { archMakeHugePte, hugePtepClearFlush, setHugePteAt } from "./hugetlb_cont.ts";
import { hugetlbFolioPut } from "./hugetlb_pool.ts";
import type { HState } from "./hugetlb_vma.ts";
import type { MmContext } from "./internal.ts";
import { iMmap, type MmStruct } from "./MmStruct.ts";
import { PageFlag } from "./PageDesc.ts";
import { mapper, pmdPa } from "./pgtable.ts";
import { type Vma, VmFlag } from "./vma.ts";

/**
 * hugetlb_try_dup_anon_rmap's refusal: the parent's folio `head` (of a COW mapping with
 * `vmFlags`) is anonymous and exclusive, its mm has pinned (MMF_HAS_PINNED) and its _pincount
 * is not 0 (folio_maybe_dma_pinned of a large folio).
 */
export function hugetlbNeedsCowForDma(
  ctx: MmContext,
  h: HState,
  parent: MmStruct,
  vmFlags: number,
  head: number,
): boolean {
  if ((vmFlags & (VmFlag.SHARED | VmFlag.MAYWRITE)) !== VmFlag.MAYWRITE) return false; // is_cow_mapping
  if (!parent.hasPinned || !h.anon.has(head)) return false;
  if (!(ctx.env.pages.flags[head] & PageFlag.AnonExclusive)) return false;
  return (ctx.pincount?.get(head) ?? 0) > 0;
}

/** copy_user_large_folio: the huge folio `from` copied into `to`, page by page. */
export function copyUserLargeFolio(ctx: MmContext, h: HState, from: number, to: number): void {
  const phys = ctx.env.phys;
  for (let i = 0; i < h.nrPages; i++) {
    phys.frameWillBeRead(pfnUnchecked(from + i));
    if (phys.store.isZero(from + i)) phys.zeroFrame(pfnUnchecked(to + i));
    else {
      phys.frameWillBeWritten(pfnUnchecked(to + i));
      phys.store.copyTo(from + i, phys.store, to + i);
    }
  }
}

/**
 * The child's own copy of the pinned folio `old` at `haddr`, its entry at `cpa`; `alloc` is
 * alloc_hugetlb_folio for the child's VMA without its reserve. False: no folio (its ERR_PTR(-ENOSPC), fork's error).
 */
export function hugetlbCopyPinned(
  ctx: MmContext,
  h: HState,
  child: MmStruct,
  vma: Vma,
  haddr: number,
  cpa: number,
  old: number,
  alloc: () => number,
): boolean {
  const copy = alloc();
  if (copy < 0) return false;
  copyUserLargeFolio(ctx, h, old, copy);
  const pages = ctx.env.pages;
  h.anon.add(copy); // hugetlb_add_new_anon_rmap
  pages.flags[copy] |= PageFlag.AnonExclusive;
  pages.mapcount[copy] = 1;
  // make_huge_pte(vma, page, 1): huge_pte_mkwrite(huge_pte_mkdirty()), pte_mkyoung, arch_make_huge_pte
  const e = archMakeHugePte(ctx, h, ctx.env.pgtable.mkUser(copy, h.level, vma.vmFlags, true, true, false));
  setHugePteAt(ctx, child, h, haddr, cpa, e.hi, e.lo);
  child.hugetlbUsage += h.nrPages; // hugetlb_count_add
  return true;
}

/**
 * huge_pte_offset: the address of the entry mapping the huge page at
 * `haddr` at `level`, or -1 when no table covers it (no allocation).
 * Linux: mm/hugetlb.c huge_pte_offset
 */
export function hugePteOffset(ctx: MmContext, mm: MmStruct, haddr: number, level: number): number {
  if (level === ctx.env.pgtable.pmdLevel) return pmdPa(ctx, mm, haddr);
  return mapper(ctx, mm).entryPaAt(mm.pgdPfn, vpnUnchecked(haddr), level);
}

/**
 * unmap_ref_private: the owner's COW could not get a folio. Every other
 * private VMA of the file that maps index `idx` and owns no reservation (a
 * forked child's) has its entry for the owner's folio cleared and flushed,
 * and is marked HPAGE_RESV_UNMAPPED.
 * Linux: mm/hugetlb.c unmap_ref_private (unmap_hugepage_range with ref_page)
 */
export function unmapRefPrivate(ctx: MmContext, h: HState, vma: Vma, head: number, idx: number): void {
  const pt = ctx.env.pgtable;
  for (const [v, m] of iMmap(vma.htlb!.file)) {
    if (v === vma || v.vmFlags & VmFlag.MAYSHARE || v.htlb === null || v.htlb.resv !== null) continue;
    const haddr = idx * h.nrPages - v.vmPgoff + v.vmStart;
    if (haddr < v.vmStart || haddr >= v.vmEnd) continue;
    const pa = hugePteOffset(ctx, m, haddr, h.level);
    if (pa < 0) continue;
    const e = pt.get(ctx.env.phys, pa);
    if (!pt.present(e.hi, e.lo) || pt.pfn(e.hi, e.lo, h.level) !== head) continue;
    hugePtepClearFlush(ctx, m, h, pa, haddr);
    m.hugetlbUsage -= h.nrPages; // (unmap_hugepage_range's) hugetlb_count_sub
    v.htlb.unmapped = true;
    ctx.env.pages.mapcount[head]--;
    hugetlbFolioPut(ctx, head);
  }
}
