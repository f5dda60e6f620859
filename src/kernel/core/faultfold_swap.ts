/**
 * The fold's swap PTEs (faultfold.ts): a not-present fault of a user load or store at a PTE that
 * holds a swap entry, in a private anonymous writable VMA, resolved by do_swap_page as
 * handle_pte_fault dispatches it (mm/fault.ts handleMmFault: the PMD points to a table, the PTE is
 * not none, not a guard marker, a swap entry). do_swap_page is the page-by-page path's own
 * (mm/swap_state.ts doSwapPage): the swap-cache hit (a minor fault) or the read from the device
 * and swap_vma_readahead's window (a major fault), the slot's swap_free and, when vm_swap_full or
 * the VMA is locked, folio_free_swap, the workingset refault, the mapping. A store is folded only
 * when the swap PTE carries the exclusive marker (the page was this PTE's alone when it went
 * out): do_swap_page maps it writable and dirty at once (RMAP_EXCLUSIVE), never reaching
 * do_wp_page, whose copy flushes a TLB entry; any other store goes to the architecture's handler.
 *
 * In a batch (RunFaultFold.runFaultRun) a fault is taken only when no allocation of it can enter
 * the slow path (kswapd's wakeup, which reclaims at once in vmlab, unmapping pages and flushing
 * TLB entries; direct reclaim; the OOM killer): a swap-cache hit allocates nothing, and a read
 * from the device allocates the page and at most 2^min(page_cluster, 5) - 1 more for the
 * readahead window (Buddy.order0FastSureN for all of them). Linux: mm/memory.c do_swap_page,
 * mm/swap_state.c swapin_readahead, swap_vma_readahead.
 */
import type { MmContext } from "../mm/internal.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { pmdPa } from "../mm/pgtable.ts";
import { doSwapPageAt } from "../mm/swap_state.ts";
import type { Vma } from "../mm/vma.ts";

/**
 * Whether the PTE (hi, lo) is a swap entry the fold takes for a load (`write` false) or a store:
 * not a guard marker (handle_pte_marker), a swap entry (is_swap_pte), and for a store the
 * exclusive marker (pte_swp_exclusive: do_swap_page maps the page writable, no do_wp_page).
 */
export function swapFoldable(ctx: MmContext, write: boolean, hi: number, lo: number): boolean {
  const pt = ctx.env.pgtable;
  if (pt.isGuard(hi, lo) || !pt.isSwap(hi, lo)) return false;
  return !write || pt.swapExclusive(hi, lo);
}

/**
 * The most order-0 allocations do_swap_page makes for the swap PTE (hi, lo): none when the slot's
 * page is in the swap cache (swap_cache_get_folio), else the page read from the device and the
 * rest of swap_vma_readahead's window of at most 2^min(page_cluster, 5) PTEs (each read only if it
 * is a swap entry whose slot is not cached yet: at most that many).
 */
export function swapFaultAllocs(ctx: MmContext, hi: number, lo: number): number {
  const slot = ctx.env.pgtable.swapOffset(hi, lo);
  if (ctx.env.swap!.cache.at(slot) >= 0) return 0;
  // swap_vma_ra_win's window, the fault's page among them: at most 2^min(page_cluster, SWAP_RA_ORDER_CEILING)
  return 1 << Math.min(ctx.settings.pageCluster, 5);
}

/**
 * do_swap_page for the fault at the page `off` pages into the VMA (its vpn less vm_start: a small
 * integer, where an x86-64 user vpn is a heap number at every call the engine does not inline)
 * whose PTE at `pa` holds (hi, lo), as handle_pte_fault calls it: with the PMD entry's address
 * (vmf->pmd, which the readahead maps its window's table from), found by the descent only when
 * the slot misses the swap cache (a hit never reads it).
 */
export function foldSwapPage(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  off: number,
  pa: number,
  write: boolean,
  hi: number,
  lo: number,
): number {
  const slot = ctx.env.pgtable.swapOffset(hi, lo);
  const pmdAt = ctx.env.swap!.cache.at(slot) >= 0 ? -1 : pmdPa(ctx, mm, vma.vmStart + off);
  // the halves as int32 (do_swap_page reads only swp_offset and pte_swp_exclusive of them, bit
  // operations on every architecture): most swap entries' low half is at or above 2^31 (x86's
  // inverted offset), a new heap number per swap fault if passed unsigned
  return doSwapPageAt(ctx, mm, vma, off, pa, write, hi | 0, lo | 0, pmdAt);
}
