/**
 * Swapping in: the fault on a swap PTE, the swap cache it reads into, and
 * swap readahead. Linux: mm/swap_state.c (the swap cache, swapin_readahead,
 * swap_vma_readahead), mm/memory.c (do_swap_page), mm/madvise.c
 * (force_swapin_readahead for MADV_WILLNEED). The swap area is in
 * mm/swapfile.ts, the swap PTE's encoding is the architecture's
 * (`ctx.env.pgtable`: mkSwap, isSwap, swapOffset); swapping out is page
 * reclaim's (mm/vmscan.ts).
 */
import { ModelBug } from "../../base/assert.ts";
import { pfnUnchecked } from "../../base/units.ts";
import { Gfp } from "./gfp.ts";
import { HeldWords } from "./heldwords.ts";
import { type MmContext, VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { doWpPage } from "./memory.ts";
import { vmaMlocks } from "./mlock_fbatch.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { entryRead, pteOffset, ptePa, readEntry, readPte, setPteAt } from "./pgtable.ts";
import { type Vma, VmFlag } from "./vma.ts";

/** doSwapPage's new PTE (pfn_pte of the swapped-in folio), made into this record: no object per fault. */
const swapPte = { hi: 0, lo: 0 };

/**
 * do_swap_page: the page of a swap PTE comes back from the swap cache (a
 * minor fault) or from the device (a major fault; the page enters the swap
 * cache). The PTE's exclusive marker says the page was this PTE's alone
 * when it went out (vmlab's swap-ins always go through the swap cache:
 * no SWP_SYNCHRONOUS_IO path). The slot is freed (swap_free) and, when no
 * other swap PTE names it, the page leaves the swap cache if swap is more
 * than half full, the VMA is locked, or a write finds no other reference
 * (should_try_to_free_swap, folio_free_swap). Then a page that is exclusive,
 * or whose only reference is now this mapping's, is mapped exclusive
 * (PageAnonExclusive) and, in a writable VMA, writable even on a read fault
 * (clean then; dirty on a write). A write to a page others still share goes
 * on to do_wp_page. `pmdAt` is the address of the PMD entry above the PTE
 * (vmf->pmd: the readahead re-reads it there; -1: found again by a walk).
 * The swap PTE's halves (hi, lo) may come as int32 or uint32 numbers: only swapOffset and
 * swapExclusive read them, bit operations on every architecture.
 * Linux: mm/memory.c do_swap_page (should_try_to_free_swap)
 */
export function doSwapPage(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn: number,
  pa: number,
  write: boolean,
  hi: number,
  lo: number,
  pmdAt = -1,
): VmFault {
  return doSwapPageAt(ctx, mm, vma, vpn - vma.vmStart, pa, write, hi, lo, pmdAt);
}

/**
 * doSwapPage of the page at `off` pages into the VMA (its vpn less vm_start): a small integer,
 * where an x86-64 user vpn, at or above 2^31, is a new heap number at every call the engine does
 * not inline (do_swap_page's, swapReadahead's: about three per swap fault of bench:reclaim).
 */
export function doSwapPageAt(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  off: number,
  pa: number,
  write: boolean,
  hi: number,
  lo: number,
  pmdAt: number,
): VmFault {
  const env = ctx.env;
  const swap = env.swap!;
  const pages = env.pages;
  const slot = env.pgtable.swapOffset(hi, lo);
  mm.anonVmaPrepare(vma);
  let pfn = swap.cache.at(slot);
  if (pfn >= 0) swap.cacheHit(pages.flags, pfn);
  let major = false;
  // a page shmem's swap_cluster_readahead read for this slot has no anon_vma yet:
  // folio_add_anon_rmap_ptes -> __folio_set_anon gives it this VMA's (the root of its chain)
  if (pfn >= 0 && swap.orphans.delete(pfn))
    env.lru?.setAnonRmap(pfn, vma.vmPgoff + off, vma.avc.length > 0 ? vma.avc[0] : vma.anonVma); // linearIndex
  if (pfn < 0) {
    pfn = swapInToCache(ctx, vma, off, slot);
    if (pfn < 0) return VmFault.OOM;
    major = true; // "Had to read the page from swap area: Major fault"
    ctx.pgmajfault++; // count_vm_event(PGMAJFAULT)
    // swapin_readahead reads the window before the page is mapped, holding a reference on
    // the faulting folio: reclaim, run by the readahead's allocations, cannot take it back
    // (folio_ref_freeze fails) and the fault makes progress
    env.lru?.pinned.add(pfn);
    swapReadahead(ctx, mm, vma, off, pmdAt);
    env.lru?.pinned.delete(pfn);
  }
  // a write to a swap-cache folio not on a list: lru_add_drain, so that this CPU's batch does not
  // count as another user (do_swap_page)
  if (write && env.lru !== null && !env.lru.fbatches.testLru(pfn)) env.lru.fbatches.drain();
  // the fault's reference (swap_cache_get_folio), which becomes the mapping's
  pages.refcount[pfn]++;
  const exclusive = env.pgtable.swapExclusive(hi, lo);
  // swap_free_nr; should_try_to_free_swap: swap full, VM_LOCKED, or a write with only the swap
  // cache's reference besides ours; folio_free_swap then needs no other swap PTE on the slot
  swap.map[slot]--;
  mm.swapEnts--;
  const tryFree = swap.full || (vma.vmFlags & VmFlag.LOCKED) !== 0 || (write && pages.refcount[pfn] === 2);
  if (tryFree && swap.map[slot] === 0) {
    swap.removeFromCache(pfn);
    pages.refcount[pfn]--;
    pages.flags[pfn] |= PageFlag.Dirty; // folio_free_swap: folio_set_dirty (its only copy now)
  }
  mm.rssAnon++;
  pages.mapcount[pfn]++;
  if (vmaMlocks(vma.vmFlags)) env.lru?.fbatches.mlock.mlockFolio(pfn); // folio_add_anon_rmap_ptes: mlock_vma_folio
  let writable = false;
  if (exclusive || pages.refcount[pfn] === 1) {
    writable = (vma.vmFlags & VmFlag.WRITE) !== 0;
    pages.flags[pfn] |= PageFlag.AnonExclusive; // RMAP_EXCLUSIVE
  }
  // the PTE made into a record (mkUserInto): mkUser's new entry object, and its XD half boxed, per fault
  const e = env.pgtable.mkUserInto(swapPte, pfn, 0, vma.vmFlags, writable, write && writable, false);
  const eHi = e.hi;
  const eLo = e.lo;
  setSwapInPte(ctx, pa, eHi | 0, eLo | 0); // int32 halves: no heap number for a half at or above 2^31
  if (write && !writable) {
    // FAULT_FLAG_WRITE still set: do_wp_page copies (or reuses) the page
    const again = doWpPage(ctx, mm, vma, vma.vmStart + off, pa, eHi, eLo);
    if (again !== VmFault.OK) return again;
  }
  return major ? VmFault.MAJOR : VmFault.OK;
}

/** the leaf tables' own words doSwapPageAt stores its PTEs into (one frame, kept while unchanged) */
const pteTableWords = new HeldWords();

/**
 * do_swap_page's set_pte_at of the page's new PTE (hi, lo) at `pa`, where the swap entry was: as
 * setPteAt (the old entry must not be present), stored straight into the table's own words when
 * Pgtable.set would store just that (8-byte entries, set is PhysMem.write64, no arm64 contiguous
 * hint, nothing observing stores, the table materialised in RAM): no look-up of the table's frame
 * for the check and another for the store, the pages of one table coming one after another.
 */
function setSwapInPte(ctx: MmContext, pa: number, hi: number, lo: number): void {
  const env = ctx.env;
  const pt = env.pgtable;
  const phys = env.phys;
  const frame = Math.floor(pa / 4096);
  if (pt.setIsStore && pt.entryBytes === 8 && pt.contpte == null && frame < phys.nrFrames) {
    const words = phys.snoop === null && phys.watch === null ? pteTableWords.get(phys, frame) : null;
    if (words !== null) {
      const w = (pa - frame * 4096) >>> 2;
      if (pt.accessible(words[w + 1], words[w])) throw setPteBug(pa);
      words[w] = lo;
      words[w + 1] = hi;
      return;
    }
  }
  setPteAt(ctx, pa, hi, lo);
}

/** setSwapInPte's broken invariant (setPteAt's message), made only then */
function setPteBug(pa: number): ModelBug {
  return new ModelBug(
    `set_pte_at at 0x${pa.toString(16)}: the old entry is present (use a gather or ptep_clear_flush)`,
  );
}

/**
 * swap_read_folio into the swap cache: a new page for the slot's contents,
 * holding only the swap cache's reference (a mapping adds its own). Returns
 * the frame, or -1 without memory. `off` is the page's offset in the VMA (its vpn less vm_start:
 * a small integer, where an x86-64 vpn above 2^31 is a heap number at every call).
 * Linux: mm/swap_state.c __read_swap_cache_async, mm/page_io.c swap_read_folio
 */
function swapInToCache(ctx: MmContext, vma: Vma, off: number, slot: number): number {
  const swap = ctx.env.swap!;
  // folio_alloc_mpol(GFP_HIGHUSER_MOVABLE): no __GFP_ZERO (swap_read_folio fills the whole page),
  // so no clear_user_highpage and, on 32-bit highmem, no kmap_local_page for one
  if (ctx.env.chargeUserPage !== undefined && !ctx.env.chargeUserPage()) return -1; // mem_cgroup_swapin_charge_folio
  const pfn = ctx.env.buddy.alloc(0, Gfp.HIGHUSER_MOVABLE, PageKind.UserAnon);
  if (pfn < 0) return -1;
  if (!swap.holds(slot)) throw new ModelBug(`swap slot ${slot} holds no page`); // message made only then
  ctx.env.phys.loadFrame(swap.contents, slot, pfnUnchecked(pfn));
  const shadow = swap.addToCache(slot, pfn); // the shadow reclaim left there, for workingset_refault
  ctx.env.pages.refcount[pfn] = 1;
  // folio_add_lru (the LRU add batch's reference on top of the swap cache's); a page others may
  // share (the slot was copied by fork) takes the oldest anon_vma of the VMA's chain, its root, to
  // which every VMA that may map it is linked (__folio_set_anon)
  const anonVma = vma.avc.length > 0 ? vma.avc[0] : vma.anonVma;
  ctx.env.lru?.addAnon(pfn, vma.vmPgoff + off, anonVma, 0, shadow); // linearIndex
  swap.pswpin++;
  return pfn;
}

/**
 * MADV_WILLNEED on anonymous memory (madvise_willneed ->
 * force_swapin_readahead): the swapped pages of the range are read into
 * the swap cache, not mapped. Returns pages read.
 * Linux: mm/madvise.c force_swapin_readahead
 */
export function willneedSwap(ctx: MmContext, mm: MmStruct, start: number, end: number): number {
  const swap = ctx.env.swap;
  if (swap === null) return 0;
  const pt = ctx.env.pgtable;
  let n = 0;
  for (let v = start; v < end; v++) {
    const vma = mm.vmaAt(v);
    const pte = vma === null ? null : readPte(ctx, mm, v);
    if (vma === null || pte === null || !pt.isSwap(pte.hi, pte.lo)) continue;
    const slot = pt.swapOffset(pte.hi, pte.lo);
    if (swap.cache.has(slot)) continue;
    if (swapInToCache(ctx, vma, v - vma.vmStart, slot) < 0) break;
    n++;
  }
  ctx.env.lru?.fbatches.drain(); // madvise_willneed: "Push any new pages onto the LRU now"
  return n;
}

/**
 * Swap readahead around a major swap fault (swap_vma_readahead, simplified
 * to its first window): the other swap entries in the aligned block of
 * 2^page_cluster PTEs within the VMA are read into the swap cache, not
 * mapped; faulting on one later is a minor fault. The window's PTEs are read
 * from the one table the fault's PMD entry points to (pte_offset_map of
 * vmf->pmd), mapped again after each read, whose allocation may have run
 * reclaim: the PMD entry is read again at its address, never found by a
 * walk from the top (the faulting mm keeps its upper tables throughout the
 * fault). The block never leaves that table (2^page_cluster <= 512 <=
 * PTRS_PER_PTE, aligned); a window that did, or a fault that came without
 * its PMD's address, falls back to finding each PTE from the top.
 * Linux: mm/swap_state.c swap_vma_readahead
 */
function swapReadahead(ctx: MmContext, mm: MmStruct, vma: Vma, off: number, pmdAt: number): void {
  const n = 1 << ctx.settings.pageCluster;
  if (n <= 1) return;
  const vpn = vma.vmStart + off; // the fault's page (`off` pages into the VMA: doSwapPageAt)
  const swap = ctx.env.swap!;
  const pt = ctx.env.pgtable;
  // the window's and the table's first pages: vpn's remainders by powers of two from its low 32
  // bits (no division)
  const low = vpn | 0;
  const winFirst = vpn - (low & (n - 1));
  const start = Math.max(vma.vmStart, winFirst);
  const end = Math.min(vma.vmEnd, winFirst + n);
  const ptrs = pt.ptrsPerTable;
  const tableFirst = vpn - (low & (ptrs - 1));
  const oneTable = pmdAt >= 0 && start >= tableFirst && end <= tableFirst + ptrs;
  const phys = ctx.env.phys;
  // 8-byte entries in frames of RAM: the table's entries are read from its frame's words, looked
  // up once each time the table is mapped (readEntry written out here, no call per neighbour)
  const direct = oneTable && pt.entryBytes === 8;
  let pte0 = -1; // the PTE of the table's first page while the table is mapped (-1: pte_unmap'd)
  let words: Uint32Array | null = null; // the mapped table's frame words (direct; null: all zeros)
  let wordsFrame = -1; // their frame (-1: none; the table outside RAM: readEntry)
  for (let v = start; v < end; v++) {
    if (v === vpn) continue;
    let pa: number;
    if (oneTable) {
      if (pte0 < 0) {
        // pte_offset_map(vmf->pmd, addr): the PMD entry as it is now (-1: no table any more), both
        // halves from one look-up of its table's frame
        readEntry(ctx, pmdAt);
        pte0 = pteOffset(ctx, entryRead.hi, entryRead.lo, tableFirst);
        if (pte0 < 0) continue; // as the walk from the top would find: no table for any of them
        const frame = Math.floor(pte0 / 4096);
        wordsFrame = direct && frame < phys.nrFrames ? frame : -1;
        // a scratch copy for a frame held compactly: nothing else reads a frame until the
        // table is unmapped (pte0 = -1) before the next swap-in
        if (wordsFrame >= 0) {
          const own = pteTableWords.get(phys, wordsFrame); // the table's own words (kept while unchanged)
          words = own !== null ? own : phys.frameWords(pfnUnchecked(wordsFrame));
        }
      }
      pa = pte0 + (v - tableFirst) * pt.entryBytes;
    } else pa = ptePa(ctx, mm, v, false); // the PTE as numbers: no object per neighbour
    if (pa < 0) continue;
    let hi: number;
    let lo: number;
    if (oneTable && wordsFrame >= 0) {
      const w = (pa - wordsFrame * 4096) >>> 2;
      lo = words === null ? 0 : words[w];
      hi = words === null ? 0 : words[w + 1];
    } else {
      readEntry(ctx, pa); // both halves from one look-up of the table's frame
      hi = entryRead.hi;
      lo = entryRead.lo;
    }
    if (!pt.isSwap(hi, lo)) continue;
    const slot = pt.swapOffset(hi, lo);
    if (swap.cache.has(slot)) continue;
    pte0 = -1; // pte_unmap before __read_swap_cache_async, whose allocation may reclaim
    const p = swapInToCache(ctx, vma, v - vma.vmStart, slot);
    if (p < 0) break;
    ctx.env.pages.flags[p] |= PageFlag.Readahead; // folio_set_readahead, count_vm_event(SWAP_RA)
    swap.readahead++;
  }
  // swap_vma_readahead's lru_add_drain (the faulting page, read in its loop, goes too; without a
  // window, win == 1, it skips the drain and the page waits in the batch)
  ctx.env.lru?.fbatches.drain();
}
