/**
 * The architecture's huge_pte helpers, as mm/hugetlb.ts calls them, for
 * every HugeTLB size: a huge page mapped by one entry (a PMD or PUD leaf:
 * HState.ncontig = 1) goes to the generic entry operations of pgtable.ts;
 * one mapped by a run of 16 contiguous entries (arm64's CONT_PTE_SIZE 64K
 * and CONT_PMD_SIZE 32M with PTE_CONT; RISC-V's 64K Svnapot PTEs) is
 * handled entry by entry as the architecture's hugetlbpage.c does, with
 * break-before-make: a present run is never rewritten in place, it is
 * cleared whole and flushed (flush_tlb_range over the run, stride
 * PAGE_SIZE: TLB_FLUSH_VMA(mm, 0) is no VM_HUGETLB VMA) before its new
 * entries are written ("Misprogramming of the Contiguous bit", Arm ARM
 * D8.6.1; the Svnapot chapter's "the OS generally should first mark all of
 * the PTEs invalid, then issue SFENCE.VMA instruction(s) covering all 4 KiB
 * regions within the range"). The accessed and dirty state of a run is
 * that of any of its entries (the hardware sets AF / D in the entry it
 * walked only). The raw entry writes skip arm64's contpte hooks, as
 * hugetlbpage.c's __set_ptes and __ptep_get_and_clear do.
 * Linux: arch/arm64/mm/hugetlbpage.c (num_contig_ptes, huge_ptep_get,
 * get_clear_contig, get_clear_contig_flush, clear_flush, set_huge_pte_at,
 * huge_ptep_get_and_clear, huge_ptep_set_access_flags,
 * huge_ptep_set_wrprotect, huge_ptep_clear_flush,
 * huge_ptep_modify_prot_start/commit); arch/riscv/mm/hugetlbpage.c (the same
 * names under CONFIG_RISCV_ISA_SVNAPOT)
 */
import { type Entry, PteFlag, TlbFlush } from "./arch.ts";
import type { HState } from "./hugetlb_vma.ts";
import type { MmContext, TlbGather } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { ptepClearFlush, ptepGetAndClear, ptepSetAccessFlags, setPteAt } from "./pgtable.ts";

/** arch_make_huge_pte: entry 0 of a run marked (pte_mkcont / pmd_mkcont, pte_mknapot); others as they are. */
export function archMakeHugePte(ctx: MmContext, h: HState, e: Entry): Entry {
  const c = ctx.env.pgtable.hugetlbCont;
  return h.ncontig === 1 || c == null ? e : c.contEntry(e.hi, e.lo, h.level, 0);
}

/**
 * huge_ptep_get: the run's first entry, dirty and young when any entry of
 * a present run is.
 */
export function hugePtepGet(ctx: MmContext, h: HState, pa: number): Entry {
  const pt = ctx.env.pgtable;
  const phys = ctx.env.phys;
  const e = pt.get(phys, pa);
  if (h.ncontig === 1 || !pt.present(e.hi, e.lo) || !pt.hugetlbCont?.isCont(e.hi, e.lo)) return e;
  return gather(ctx, h, pa, e, false);
}

/** The entries after the first folded into it: dirty and young when any is (and cleared when `clear`). */
function gather(ctx: MmContext, h: HState, pa: number, first: Entry, clear: boolean): Entry {
  const pt = ctx.env.pgtable;
  const phys = ctx.env.phys;
  const present = pt.present(first.hi, first.lo);
  let set = 0;
  for (let i = 1; i < h.ncontig; i++) {
    const x = pt.get(phys, pa + i * pt.entryBytes);
    if (clear) pt.set(phys, pa + i * pt.entryBytes, 0, 0);
    if (!present) continue;
    if (pt.dirty(x.hi, x.lo)) set |= PteFlag.DIRTY;
    if (pt.young(x.hi, x.lo)) set |= PteFlag.YOUNG;
  }
  return set === 0 ? first : pt.modify(first.hi, first.lo, set, 0);
}

/** get_clear_contig: every entry of the run cleared, without a flush; the first, gathered. */
function getClearContig(ctx: MmContext, h: HState, pa: number): Entry {
  const pt = ctx.env.pgtable;
  const first = pt.get(ctx.env.phys, pa);
  pt.set(ctx.env.phys, pa, 0, 0);
  return gather(ctx, h, pa, first, true);
}

/** flush_tlb_range(TLB_FLUSH_VMA(mm, 0), addr, addr + pgsize * ncontig): stride PAGE_SIZE, level unknown. */
function flushRun(ctx: MmContext, mm: MmStruct, h: HState, haddr: number): void {
  ctx.env.flushTlbMmRange(mm, haddr, h.nrPages, TlbFlush.Range, 1);
}

/** get_clear_contig_flush: the run cleared, then flushed (RISC-V: only when it was not none). */
function getClearContigFlush(ctx: MmContext, mm: MmStruct, h: HState, haddr: number, pa: number): Entry {
  const pt = ctx.env.pgtable;
  const e = getClearContig(ctx, h, pa);
  if (!pt.hugetlbCont!.napot || !pt.none(e.hi, e.lo)) flushRun(ctx, mm, h, haddr);
  return e;
}

/** Writes the run for entry 0 = (hi, lo): each entry as the architecture makes it (set_huge_pte_at's loop). */
function writeRun(ctx: MmContext, h: HState, pa: number, hi: number, lo: number): void {
  const pt = ctx.env.pgtable;
  const c = pt.hugetlbCont!;
  for (let i = 0; i < h.ncontig; i++) {
    const x = c.contEntry(hi, lo, h.level, i);
    pt.set(ctx.env.phys, pa + i * pt.entryBytes, x.hi, x.lo);
  }
}

/**
 * set_huge_pte_at: a present run is written after clear_flush (the old
 * entries cleared, whatever they were, and the range flushed: a fault's
 * new mapping flushes too); an entry that maps nothing (none, a marker)
 * is written into every slot of the run.
 */
export function setHugePteAt(
  ctx: MmContext,
  mm: MmStruct,
  h: HState,
  haddr: number,
  pa: number,
  hi: number,
  lo: number,
): void {
  if (h.ncontig === 1) {
    setPteAt(ctx, pa, hi, lo);
    return;
  }
  const pt = ctx.env.pgtable;
  if (!pt.present(hi, lo)) {
    for (let i = 0; i < h.ncontig; i++) pt.set(ctx.env.phys, pa + i * pt.entryBytes, hi, lo);
    return;
  }
  // clear_flush
  for (let i = 0; i < h.ncontig; i++) pt.set(ctx.env.phys, pa + i * pt.entryBytes, 0, 0);
  flushRun(ctx, mm, h, haddr);
  writeRun(ctx, h, pa, hi, lo);
}

/** huge_ptep_get_and_clear under a gather (__unmap_hugepage_range: tlb_remove_huge_tlb_entry's range). */
export function hugePtepGetAndClear(
  ctx: MmContext,
  tlb: TlbGather,
  h: HState,
  pa: number,
  haddr: number,
): Entry {
  if (h.ncontig === 1) return ptepGetAndClear(ctx, tlb, pa, haddr, h.level);
  const pt = ctx.env.pgtable;
  const e = getClearContig(ctx, h, pa);
  // tlb_flush_pte_range (64K) or tlb_flush_pmd_range (32M) of the huge page
  if (pt.present(e.hi, e.lo)) tlb.flushRange(haddr, h.nrPages, h.level);
  return e;
}

/** huge_ptep_clear_flush: the run cleared and flushed at once (hugetlb_wp's copy, unmap_ref_private). */
export function hugePtepClearFlush(
  ctx: MmContext,
  mm: MmStruct,
  h: HState,
  pa: number,
  haddr: number,
): Entry {
  if (h.ncontig === 1) return ptepClearFlush(ctx, mm, pa, haddr, h.level);
  return getClearContigFlush(ctx, mm, h, haddr, pa);
}

/**
 * huge_ptep_set_access_flags: the run takes `next`'s accessed, dirty and
 * write state. arm64 breaks and remakes it only when the write permission
 * of its first entry, or the dirty or young state of any entry, differs
 * (__cont_access_flags_changed); RISC-V always does for a NAPOT run.
 */
export function hugePtepSetAccessFlags(
  ctx: MmContext,
  mm: MmStruct,
  h: HState,
  haddr: number,
  pa: number,
  old: Entry,
  next: Entry,
  dirty: boolean,
): void {
  if (h.ncontig === 1) {
    ptepSetAccessFlags(ctx, mm, haddr, pa, old, next, dirty);
    return;
  }
  const pt = ctx.env.pgtable;
  const phys = ctx.env.phys;
  if (!pt.hugetlbCont!.napot) {
    // __cont_access_flags_changed
    const first = pt.get(phys, pa);
    let changed = pt.write(next.hi, next.lo) !== pt.write(first.hi, first.lo);
    for (let i = 0; i < h.ncontig && !changed; i++) {
      const x = pt.get(phys, pa + i * pt.entryBytes);
      changed =
        pt.dirty(next.hi, next.lo) !== pt.dirty(x.hi, x.lo) ||
        pt.young(next.hi, next.lo) !== pt.young(x.hi, x.lo);
    }
    if (!changed) return;
  }
  const o = getClearContigFlush(ctx, mm, h, haddr, pa);
  const set = (pt.dirty(o.hi, o.lo) ? PteFlag.DIRTY : 0) | (pt.young(o.hi, o.lo) ? PteFlag.YOUNG : 0);
  const n = set === 0 ? next : pt.modify(next.hi, next.lo, set, 0);
  writeRun(ctx, h, pa, n.hi, n.lo);
}

/**
 * huge_ptep_set_wrprotect (fork's copy of a COW mapping): a run is broken
 * and flushed at once, then remade read-only; a single entry is
 * write-protected under the gather (its flush at the end of dup_mmap).
 */
export function hugePtepSetWrprotect(
  ctx: MmContext,
  mm: MmStruct,
  h: HState,
  haddr: number,
  pa: number,
  modifyOne: (e: Entry) => void,
): void {
  const pt = ctx.env.pgtable;
  if (h.ncontig === 1) {
    const e = pt.get(ctx.env.phys, pa);
    if (pt.write(e.hi, e.lo)) modifyOne(pt.modify(e.hi, e.lo, 0, PteFlag.WRITE));
    return;
  }
  const e = getClearContigFlush(ctx, mm, h, haddr, pa);
  const w = pt.modify(e.hi, e.lo, 0, PteFlag.WRITE);
  writeRun(ctx, h, pa, w.hi, w.lo);
}

/**
 * huge_ptep_modify_prot_start and _commit of a run (hugetlb_change_protection):
 * get_and_clear without a flush, then set_huge_pte_at of the new entry
 * (its clear_flush flushes the run), whether or not anything changed.
 */
export function hugeModifyProtRun(
  ctx: MmContext,
  mm: MmStruct,
  h: HState,
  haddr: number,
  pa: number,
  make: (old: Entry) => Entry,
): void {
  const old = getClearContig(ctx, h, pa);
  const n = make(old);
  setHugePteAt(ctx, mm, h, haddr, pa, n.hi, n.lo);
}

/** huge_ptep_get_and_clear outside a gather (move_hugetlb_page_tables: the caller flushes the old range). */
export function hugePtepGetAndClearNoFlush(ctx: MmContext, h: HState, pa: number): Entry {
  const pt = ctx.env.pgtable;
  if (h.ncontig !== 1) return getClearContig(ctx, h, pa);
  const e = pt.get(ctx.env.phys, pa);
  pt.set(ctx.env.phys, pa, 0, 0);
  return e;
}
