/**
 * arm64's contiguous PTEs for large folios (CONFIG_ARM64_CONTPTE, Linux
 * 6.9+; as v6.12's arch/arm64/mm/contpte.c and the wrappers of
 * arch/arm64/include/asm/pgtable.h): 16 PTEs of a 64K-aligned block that map
 * 16 consecutive frames of one folio with the same attributes carry PTE_CONT
 * (bit 52), and a TLB may hold the block as one entry (Arm ARM D8.6.1).
 * Generic mm never sees the bit: it is set by set_ptes of a whole block
 * (contpte_set_ptes) or by folding (contpte_try_fold when the block's last
 * PTE is set), and every change of one PTE of a folded block unfolds it
 * first (contpte_try_unfold). Folding and unfolding are contpte_convert:
 * break-before-make, all 16 cleared, the range's TLB entries flushed
 * (__flush_tlb_range, last level), then all 16 written with the access and
 * dirty state ORed over them. The host (6.18) keeps this design
 * (contpte_convert there may skip the flush with BBML2, which vmlab's
 * cores lack).
 *
 * vmlab folds the PTEs of anonymous mTHP folios (mm/mthp.ts: the only
 * large folios of order >= 4 that PTEs map here outside a PMD THP); a
 * PTE-mapped PMD THP and page-cache large folios are not folded.
 */

import { type ContPte, type ContPteEnv, type Entry, TlbFlush } from "../../mm/arch.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { PteHi, PteLo } from "./pgtable.ts";

/** CONT_PTES with 4K pages */
export const CONT_PTES = 16;
const TWO20 = 1048576;

/** pte_pfn */
function pfnOf(hi: number, lo: number): number {
  return (hi & PteHi.ADDR_HI) * TWO20 + ((lo & PteLo.ADDR_LO) >>> 12);
}

/** pte_dirty: PTE_DIRTY, or PTE_WRITE without PTE_RDONLY */
function dirtyOf(hi: number, lo: number): boolean {
  return (hi & PteHi.DIRTY) !== 0 || ((hi & PteHi.DBM) !== 0 && (lo & PteLo.RDONLY) === 0);
}

/** The contpte hooks of an arm64 mm (Pgtable.contpte). */
export class Arm64ContPte implements ContPte {
  readonly nr = CONT_PTES;
  /** blocks folded and unfolded (contpte_convert with and without PTE_CONT): for tests and views */
  folds = 0;
  unfolds = 0;

  /** pte_cont */
  isCont(hi: number, _lo: number): boolean {
    return (hi & PteHi.CONT) !== 0;
  }

  /** pte_mkcont */
  mkCont(e: Entry): Entry {
    e.hi = (e.hi | PteHi.CONT) >>> 0;
    return e;
  }

  /** contpte_try_unfold: pte_valid_cont, then __contpte_try_unfold (contpte_convert without PTE_CONT) */
  tryUnfold(env: ContPteEnv, mm: MmStruct, pa: number, vpn: number): void {
    const phys = env.phys;
    if ((phys.read32(pa + 4) & PteHi.CONT) === 0 || (phys.read32(pa) & PteLo.VALID) === 0) return;
    this.convert(env, mm, pa, vpn, false);
  }

  /**
   * contpte_try_fold, then __contpte_try_fold: the block's last PTE (virtual
   * and physical index 15), valid, not contiguous, not special; the folio
   * covers the whole block; the 16 PTEs, made old and clean, are
   * pfn_pte(block + i, prot) of one prot.
   */
  tryFold(env: ContPteEnv, mm: MmStruct, pa: number, vpn: number): void {
    if (vpn % CONT_PTES !== CONT_PTES - 1) return;
    const phys = env.phys;
    const lo = phys.read32(pa);
    const hi = phys.read32(pa + 4);
    const pfn = pfnOf(hi, lo);
    if (pfn % CONT_PTES !== CONT_PTES - 1) return;
    if ((lo & PteLo.VALID) === 0 || (hi & (PteHi.CONT | PteHi.SPECIAL)) !== 0) return;
    // the folio: a live mTHP folio (page_folio; folio_nr_pages)
    const m = env.mthp;
    if (m === undefined || m.liveOrders === 0) return;
    const head = m.headOf(pfn);
    if (head < 0) return;
    const folioStart = vpn - (pfn - head);
    const folioEnd = folioStart + 2 ** (m.heads.get(head) ?? 0);
    const contStart = vpn - (CONT_PTES - 1);
    if (folioStart > contStart || folioEnd < contStart + CONT_PTES) return;
    // pte_mkold(pte_mkclean(pte)): AF and PTE_DIRTY cleared, PTE_RDONLY set
    const first = pa - (CONT_PTES - 1) * 8;
    const baseHi = hi & ~(PteHi.DIRTY | PteHi.ADDR_HI);
    const baseLo = (lo | PteLo.RDONLY) & ~(PteLo.AF | PteLo.ADDR_LO);
    for (let i = 0; i < CONT_PTES; i++) {
      const l = phys.read32(first + i * 8);
      const h = phys.read32(first + i * 8 + 4);
      if ((h & ~(PteHi.DIRTY | PteHi.ADDR_HI)) !== baseHi) return;
      if (((l | PteLo.RDONLY) & ~(PteLo.AF | PteLo.ADDR_LO)) !== baseLo) return;
      if (pfnOf(h, l) !== pfn - (CONT_PTES - 1) + i) return;
    }
    this.convert(env, mm, pa, vpn, true);
  }

  /**
   * contpte_try_unfold_partial at the ends of [vpn, end) (clear_full_ptes,
   * get_and_clear_full_ptes of zap_pte_range's batches): a block the range
   * covers whole is cleared as it is (its PTEs all go; the gather flushes).
   */
  unfoldPartial(env: ContPteEnv, mm: MmStruct, tablePfn: number, vpn: number, end: number): void {
    if (end <= vpn) return;
    if (vpn % CONT_PTES !== 0 || end < vpn + CONT_PTES)
      this.tryUnfold(env, mm, tablePfn * 4096 + (vpn % 512) * 8, vpn);
    if (end % CONT_PTES !== 0) this.tryUnfold(env, mm, tablePfn * 4096 + ((end - 1) % 512) * 8, end - 1);
  }

  /**
   * set_ptes with nr = 1 (set_pte_at): pte_mknoncont of the new value,
   * contpte_try_unfold of the old, __set_ptes, then contpte_try_fold (when
   * the caller names the mm; without it, as for a PTE no fold can start
   * from, the bit is only dropped).
   */
  setPte(env: ContPteEnv, mm: MmStruct | null, pa: number, vpn: number, hi: number, lo: number): void {
    if (mm !== null) this.tryUnfold(env, mm, pa, vpn);
    env.phys.write64(pa, (hi & ~PteHi.CONT) >>> 0, lo >>> 0);
    if (mm !== null) this.tryFold(env, mm, pa, vpn);
  }

  /**
   * contpte_ptep_test_and_clear_young (the accessed flags of the 16 tested
   * and cleared, young if any was), with contpte_ptep_clear_flush_young's
   * flush of the block's range (__flush_tlb_range_nosync, last level) when
   * `flush` and young.
   */
  clearYoung(env: ContPteEnv, mm: MmStruct, pa: number, vpn: number, flush: boolean): boolean {
    const phys = env.phys;
    const first = pa - (vpn % CONT_PTES) * 8;
    let young = false;
    for (let i = 0; i < CONT_PTES; i++) {
      const lo = phys.read32(first + i * 8);
      if ((lo & PteLo.AF) === 0) continue;
      young = true;
      phys.write32(first + i * 8, (lo & ~PteLo.AF) >>> 0);
    }
    if (young && flush) env.flushTlbMmRange(mm, vpn - (vpn % CONT_PTES), CONT_PTES, TlbFlush.Leaves);
    return young;
  }

  /**
   * contpte_ptep_set_access_flags: if the write permission stays, every
   * PTE of the block gains the access flags of `next` (__ptep_set_access_flags
   * without its flush) and the block's range is flushed when `dirty`; else
   * the block is unfolded and the one PTE set as __ptep_set_access_flags does.
   */
  setAccessFlags(env: ContPteEnv, mm: MmStruct, pa: number, vpn: number, next: Entry, dirty: boolean): void {
    const phys = env.phys;
    const hi = phys.read32(pa + 4);
    if (((hi ^ next.hi) & PteHi.DBM) !== 0) {
      this.convert(env, mm, pa, vpn, false);
      phys.write64(pa, (next.hi & ~PteHi.CONT) >>> 0, next.lo >>> 0);
      if (dirty) env.flushTlbMmRange(mm, vpn, 1, TlbFlush.Page);
      return;
    }
    // __ptep_set_access_flags: pte_val(entry) &= PTE_RDONLY | PTE_AF | PTE_WRITE | PTE_DIRTY, then
    // the old value with PTE_RDONLY inverted, ORed with the entry's, inverted back
    const eHi = next.hi & (PteHi.DBM | PteHi.DIRTY);
    const eLo = next.lo & (PteLo.RDONLY | PteLo.AF);
    const first = pa - (vpn % CONT_PTES) * 8;
    for (let i = 0; i < CONT_PTES; i++) {
      const l = phys.read32(first + i * 8);
      const h = phys.read32(first + i * 8 + 4);
      const nl = (((l ^ PteLo.RDONLY) | eLo) ^ PteLo.RDONLY) >>> 0;
      const nh = (h | eHi) >>> 0;
      if (nl !== l || nh !== h) phys.write64(first + i * 8, nh, nl);
    }
    if (dirty) env.flushTlbMmRange(mm, vpn - (vpn % CONT_PTES), CONT_PTES, TlbFlush.Leaves);
  }

  /**
   * contpte_convert: break-before-make over the block of the PTE at pa. Each
   * PTE cleared (__ptep_get_and_clear), its dirty and young ORed into the
   * template (the PTE at pa, at the block's first frame), the range flushed
   * (__flush_tlb_range, stride PAGE_SIZE, last level, level 3), then the 16
   * written from the template, with PTE_CONT when folding.
   */
  private convert(env: ContPteEnv, mm: MmStruct, pa: number, vpn: number, cont: boolean): void {
    const phys = env.phys;
    const first = pa - (vpn % CONT_PTES) * 8;
    let lo = phys.read32(pa);
    let hi = phys.read32(pa + 4);
    let young = false;
    let dirty = false;
    for (let i = 0; i < CONT_PTES; i++) {
      const l = phys.read32(first + i * 8);
      const h = phys.read32(first + i * 8 + 4);
      if (dirtyOf(h, l)) dirty = true;
      if ((l & PteLo.AF) !== 0) young = true;
      phys.write64(first + i * 8, 0, 0);
    }
    env.flushTlbMmRange(mm, vpn - (vpn % CONT_PTES), CONT_PTES, TlbFlush.Leaves);
    const pfn = pfnOf(hi, lo);
    const base = pfn - (pfn % CONT_PTES);
    hi = ((hi & ~(PteHi.ADDR_HI | PteHi.CONT)) | (cont ? PteHi.CONT : 0) | Math.floor(base / TWO20)) >>> 0;
    lo = ((lo & ~PteLo.ADDR_LO) + (base % TWO20) * 4096) >>> 0;
    if (dirty) {
      // pte_mkdirty
      hi = (hi | PteHi.DIRTY) >>> 0;
      if ((hi & PteHi.DBM) !== 0) lo = (lo & ~PteLo.RDONLY) >>> 0;
    }
    if (young) lo = (lo | PteLo.AF) >>> 0; // pte_mkyoung
    // the block's frames are 16-aligned: adding i * 4096 carries into no other bit
    for (let i = 0; i < CONT_PTES; i++) phys.write64(first + i * 8, hi, (lo + i * 4096) >>> 0);
    if (cont) this.folds++;
    else this.unfolds++;
  }
}
