/**
 * The TLB flush that page-table changes owe, and the pages that must wait
 * for it. Linux: mm/mmu_gather.c and include/asm-generic/tlb.h (struct
 * mmu_gather: tlb_gather_mmu, tlb_gather_mmu_fullmm, tlb_flush_pte_range,
 * tlb_flush_pmd_range, __tlb_remove_page, tlb_flush_mmu, tlb_finish_mmu).
 *
 * Every change of an entry that a TLB may hold goes through one of the
 * helpers in mm/pgtable.ts, which asks the architecture whether the change
 * needs a flush (pte_needs_flush) and, if so, adds the page to a gather's
 * range. A change that needs a flush and has no gather is a broken
 * invariant (it throws); a gather opened and never finished leaves
 * `mm.tlbFlushPending` above zero, which the invariant checker reports;
 * and a flush the architecture's TLB code drops shows up as a stale TLB use
 * in the coherence checker. Pages unmapped under a gather are freed only
 * after its flush, so no CPU can reach a reused frame through a stale
 * entry.
 *
 * The gather's range is what Linux's is: from the first to the last page
 * whose entry needed a flush (tlb->start, tlb->end), not the range the
 * system call named; a fullmm gather (exit, fork's write-protection)
 * flushes the whole mm.
 */
import { assert } from "../../base/assert.ts";
import { TlbFlush } from "./arch.ts";
import type { MmContext, TlbGather } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { putPage } from "./memory.ts";
import { levelSpan } from "./pgtable.ts";

export class MmuGather implements TlbGather {
  /** first page owed a flush (tlb->start); Infinity while none is */
  start = Number.POSITIVE_INFINITY;
  /** one past the last page owed a flush (tlb->end) */
  end = 0;
  /** flushes issued by this gather (tlb_flush_mmu_tlbonly calls that flushed) */
  flushes = 0;
  /** pages to free after the flush (__tlb_remove_page's batch) */
  private readonly batch: number[] = [];
  /** page-table pages to free after the flush (tlb_remove_table's batch) */
  private readonly tables: number[] = [];
  /** tlb->freed_tables: a page table was unlinked, so the flush is not of leaves only */
  freedTables = false;
  /**
   * tlb->cleared_ptes, cleared_pmds, cleared_puds, cleared_p4ds: bit L set when an entry at
   * level L (0: a PTE) was cleared or changed since the last flush
   */
  cleared = 0;
  private finished = false;

  /**
   * tlb_gather_mmu (fullmm: tlb_gather_mmu_fullmm, which exit_mmap uses; vmlab's fork uses it
   * too for dup_mmap's flush_tlb_mm of the parent)
   */
  constructor(
    private readonly ctx: MmContext,
    readonly mm: MmStruct,
    readonly fullmm = false,
  ) {
    mm.tlbFlushPending++; // inc_tlb_flush_pending
  }

  /** Is a flush owed? */
  get pending(): boolean {
    return this.end > 0;
  }

  /**
   * tlb_start_vma: a VMA's tables are about to change (unmap_single_vma,
   * change_protection_range). Unless the whole mm goes (fullmm), its user
   * pages leave the data cache first: flush_cache_range(vma, vm_start, vm_end).
   */
  startVma(startVpn: number, endVpn: number): void {
    if (!this.fullmm) this.ctx.env.cache.flushCacheRange(this.mm, startVpn, endVpn - startVpn);
  }

  /**
   * tlb_flush_pte_range / tlb_flush_pmd_range / tlb_flush_pud_range: pages [vpn, vpn+nr) need a
   * flush, from an entry at `level` (__tlb_adjust_range, and tlb->cleared_* of the level).
   */
  flushRange(vpn: number, nr: number, level = 0): void {
    assert(!this.finished, "mmu_gather: a change after tlb_finish_mmu");
    if (vpn < this.start) this.start = vpn;
    if (vpn + nr > this.end) this.end = vpn + nr;
    this.cleared |= 1 << level;
  }

  /**
   * tlb_get_unmap_shift as pages: the span of the lowest level cleared (a PTE's page when any PTE
   * was, a PMD's when only huge PMDs were), what one invalidation of the flush covers.
   */
  stride(): number {
    const c = this.cleared;
    return c === 0 ? 1 : levelSpan(this.ctx, 31 - Math.clz32(c & -c));
  }

  /** __tlb_remove_page: drop a reference to pfn once the flush is done. */
  removePage(pfn: number): void {
    assert(!this.finished, "mmu_gather: a page removed after tlb_finish_mmu");
    this.batch.push(pfn);
  }

  /**
   * pte_free_tlb / pmd_free_tlb / pud_free_tlb: the table at `vpn` is
   * unlinked from its entry at `level` (a PMD's for pte_free_tlb); it is freed
   * after the flush, which must now drop walk-cache entries too
   * (tlb->freed_tables, and the range grows by the page at `vpn`:
   * tlb_flush_pmd_range(tlb, address, PAGE_SIZE), pmd_free_tlb's
   * tlb_flush_pud_range).
   */
  removeTable(pfn: number, vpn: number, level = this.ctx.env.pgtable.pmdLevel): void {
    assert(!this.finished, "mmu_gather: a table removed after tlb_finish_mmu");
    this.freedTables = true;
    this.flushRange(vpn, 1, level);
    this.tables.push(pfn);
  }

  /**
   * tlb_flush_mmu_tlbonly: the owed flush now, if any (fullmm: the whole mm; on arm64 only when
   * a table was freed: Pgtable.fullmmFlushesWalkCacheOnly).
   */
  flushTlbOnly(): void {
    if (!this.pending) return;
    // tlb_flush: last_level = !tlb->freed_tables, the stride tlb_get_unmap_shift's
    const kind = this.freedTables ? TlbFlush.Tables : TlbFlush.Leaves;
    const stride = this.stride();
    const env = this.ctx.env;
    if (!this.fullmm) env.flushTlbMmRange(this.mm, this.start, this.end - this.start, kind, stride);
    else if (this.freedTables || !env.pgtable.fullmmFlushesWalkCacheOnly)
      env.flushTlbMmRange(this.mm, 0, env.taskSizeVpn, kind, stride);
    // else arm64: only leaves of a dying mm changed, and its ASID is not reused before a rollover
    else this.flushes--;
    this.flushes++;
    // __tlb_reset_range
    this.freedTables = false;
    this.cleared = 0;
    this.start = Number.POSITIVE_INFINITY;
    this.end = 0;
  }

  /** tlb_flush_mmu: the flush, then the batched pages freed (tlb_batch_pages_flush). */
  flushMmu(): void {
    this.flushTlbOnly();
    // free_pages_and_swap_cache: lru_add_drain first, so that pages of this CPU's LRU add batch go
    if (this.batch.length > 0) this.ctx.env.lru?.fbatches.drain();
    for (const pfn of this.batch) putPage(this.ctx, pfn);
    this.batch.length = 0;
    // tlb_table_flush: the page tables, no walk can reach them now
    for (const pfn of this.tables) this.ctx.env.buddy.free(pfn, 0);
    this.tables.length = 0;
  }

  /** tlb_finish_mmu: flush and free what is owed; the gather is closed. */
  finish(): void {
    assert(!this.finished, "mmu_gather: tlb_finish_mmu twice");
    this.flushMmu();
    this.finished = true;
    this.mm.tlbFlushPending--; // dec_tlb_flush_pending
  }
}
