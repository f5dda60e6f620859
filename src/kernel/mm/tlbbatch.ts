/**
 * Reclaim's batched TLB flush (TTU_BATCH_FLUSH): shrink_folio_list unmaps
 * its pages with try_to_unmap(folio, TTU_BATCH_FLUSH); where the
 * architecture allows (arch_tlbbatch_should_defer), try_to_unmap_one clears
 * each PTE without a flush (ptep_get_and_clear) and records what is owed
 * (set_tlb_ubc_flush_pending); the flush comes once, later:
 * try_to_unmap_flush_dirty before a page whose deferred PTE was dirty is
 * written out, try_to_unmap_flush before the unmapped pages are freed and
 * at the end of the list. An mm that had flushes deferred is marked
 * (mm->tlb_flush_batched), and the next mprotect, munmap, mremap or
 * madvise of one of its page tables calls flush_tlb_batched_pending, which
 * flushes it again (arch_flush_tlb_batched_pending) unless that was done.
 *
 * The batch is the reclaiming task's (current->tlb_ubc); vmlab reclaims on
 * one task at a time and every shrink flushes its batch before it returns,
 * so one batch per kernel (MmEnv.tlbUbc) holds what each task's would.
 * Linux: mm/rmap.c try_to_unmap_flush, try_to_unmap_flush_dirty,
 * set_tlb_ubc_flush_pending, should_defer_flush, flush_tlb_batched_pending;
 * include/linux/mm_types_task.h struct tlbflush_unmap_batch
 */
import type { ArchTlbBatch, Pgtable } from "./arch.ts";
import type { MmStruct } from "./MmStruct.ts";

/** TLB_FLUSH_BATCH_FLUSHED_SHIFT: mm->tlb_flush_batched's flushed count starts at bit 16 */
const FLUSHED_SHIFT = 16;
/** TLB_FLUSH_BATCH_PENDING_MASK */
const PENDING_MASK = (1 << (FLUSHED_SHIFT - 1)) - 1;
/** TLB_FLUSH_BATCH_PENDING_LARGE: past it the counts restart at pending 1, flushed 0 */
const PENDING_LARGE = PENDING_MASK >> 1;

/** struct tlbflush_unmap_batch (current->tlb_ubc): the architecture's part and the generic flags. */
export class TlbUnmapBatch {
  /** flush_required: a PTE was cleared and its flush deferred */
  flushRequired = false;
  /** writable: a deferred PTE was dirty (a CPU may still write the page through its TLB) */
  writable = false;
  /** arch_tlbbatch_flush calls that found work (try_to_unmap_flush with flush_required) */
  flushes = 0;
  /** PTEs whose flush was deferred (set_tlb_ubc_flush_pending calls that added one) */
  deferred = 0;

  constructor(readonly arch: ArchTlbBatch) {}
}

/**
 * set_tlb_ubc_flush_pending: the PTE (hi, lo) of mm at `vpn`, just cleared
 * without a flush, joins the batch: nothing if it was not accessible (no
 * TLB can hold it); else the architecture records it
 * (arch_tlbbatch_add_pending), the batch owes a flush, mm counts one more
 * pending batch, and a dirty PTE makes the batch writable.
 */
export function setTlbUbcFlushPending(
  ubc: TlbUnmapBatch,
  pt: Pgtable,
  mm: MmStruct,
  vpn: number,
  hi: number,
  lo: number,
): void {
  if (!pt.accessible(hi, lo)) return;
  ubc.arch.addPending(mm, vpn);
  ubc.flushRequired = true;
  ubc.deferred++;
  const batch = mm.tlbFlushBatched;
  mm.tlbFlushBatched = (batch & PENDING_MASK) > PENDING_LARGE ? 1 : batch + 1;
  if (pt.dirty(hi, lo)) ubc.writable = true;
}

/** try_to_unmap_flush: the batch's flush, if it owes one (arch_tlbbatch_flush). */
export function tryToUnmapFlush(ubc: TlbUnmapBatch | undefined): void {
  if (ubc === undefined || !ubc.flushRequired) return;
  ubc.arch.flush();
  ubc.flushes++;
  ubc.flushRequired = false;
  ubc.writable = false;
}

/** try_to_unmap_flush_dirty: the batch's flush if a deferred PTE was dirty (before a page's I/O starts). */
export function tryToUnmapFlushDirty(ubc: TlbUnmapBatch | undefined): void {
  if (ubc?.writable) tryToUnmapFlush(ubc);
}

/**
 * flush_tlb_batched_pending: at a page table of mm that mprotect, munmap,
 * mremap or madvise is about to change, flush mm
 * (arch_flush_tlb_batched_pending) if a batch deferred a flush of it since
 * the last time, and record that it is done.
 */
export function flushTlbBatchedPending(ubc: TlbUnmapBatch | undefined, mm: MmStruct): void {
  const batch = mm.tlbFlushBatched;
  const pending = batch & PENDING_MASK;
  if (pending === batch >>> FLUSHED_SHIFT) return;
  ubc?.arch.flushBatchedPending(mm);
  mm.tlbFlushBatched = pending | (pending << FLUSHED_SHIFT);
}
