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
  if (pfn >= 0) {
    // swap_cache_get_folio: a readahead hit, and the VMA's readahead state (swap_readahead_info)
    // takes this address, with one hit more when readahead had read the page
    const hit = swap.cacheHit(pages.flags, pfn);
    vma.swapRaVpn = vma.vmStart + off;
    if (hit && vma.swapRaHits < SWAP_RA_HITS_MAX) vma.swapRaHits++;
  }
  let major = false;
  // a page shmem's swap_cluster_readahead read for this slot has no anon_vma yet:
  // folio_add_anon_rmap_ptes -> __folio_set_anon gives it this VMA's (the root of its chain)
  if (pfn >= 0 && swap.orphans.delete(pfn))
    env.lru?.setAnonRmap(pfn, vma.vmPgoff + off, vma.avc.length > 0 ? vma.avc[0] : vma.anonVma); // linearIndex
  if (pfn < 0) {
    // swapin_readahead: the page comes in swap_vma_readahead's window (or alone)
    pfn = swapVmaReadahead(ctx, mm, vma, off, slot, pmdAt);
    if (pfn >= 0) env.lru?.pinned.delete(pfn);
    if (pfn < 0) return VmFault.OOM;
    major = true; // "Had to read the page from swap area: Major fault"
    ctx.pgmajfault++; // count_vm_event(PGMAJFAULT)
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
    // read_swap_cache_async: a page that gets no memory is passed over (swapin_walk_pmd_entry goes on)
    if (swapInToCache(ctx, vma, v - vma.vmStart, slot) >= 0) n++;
  }
  ctx.env.lru?.fbatches.drain(); // madvise_willneed: "Push any new pages onto the LRU now"
  return n;
}

/** 2^20 pages: 4 GiB, at or below which the user address space is a 32-bit kernel's */
const TWO20 = 1048576;
/** 2^19 pages: 2 GiB, the first address a 32-bit long holds as negative */
const TWO19 = 524288;
/** SWAP_RA_ORDER_CEILING (64-bit): swap_vma_readahead's window is at most 2^5 pages */
const SWAP_RA_ORDER_CEILING = 5;
/** SWAP_RA_HITS_MAX: the readahead hits a VMA's swap_readahead_info counts, at most (PAGE_SHIFT / 2 bits) */
const SWAP_RA_HITS_MAX = 63;

/**
 * __swapin_nr_pages: the next readahead window, in pages, from the readahead hits since the last
 * window (`hits`), the page offsets of the last fault and this one, the most pages and the last
 * window: hits + 2 rounded up to a power of two from 4; with no hits, 2 when the fault is next to
 * the last one, else 1 (no readahead); never below half the last window ("Don't shrink readahead
 * too fast"). Linux: mm/swap_state.c __swapin_nr_pages
 */
export function swapinNrPages(
  prevOffset: number,
  offset: number,
  hits: number,
  maxPages: number,
  prevWin: number,
): number {
  let pages = hits + 2;
  if (pages === 2) {
    if (offset !== prevOffset + 1 && offset !== prevOffset - 1) pages = 1;
  } else {
    let roundup = 4;
    while (roundup < pages) roundup <<= 1;
    pages = roundup;
  }
  if (pages > maxPages) pages = maxPages;
  const lastRa = prevWin >>> 1;
  if (pages < lastRa) pages = lastRa;
  return pages;
}

/** swapVmaRaWin's window: its first page and the page after its last */
let raStart = 0;
let raEnd = 0;

/**
 * swap_vma_ra_win: the readahead window of a major fault at `vpn`, from the VMA's readahead state
 * (the last fault's page, window and hits since: swap_readahead_info, which this sets to the fault,
 * the new window and no hits). Up to 2^min(page_cluster, SWAP_RA_ORDER_CEILING) pages: after the
 * fault when it follows the last one, before it when it precedes it, else around it; inside the
 * VMA and the 2 MiB (the PTE table) of the fault. Returns the window's pages (1: none, and the
 * state is left as it was when page_cluster allows no window); sets raStart and raEnd.
 * Linux: mm/swap_state.c swap_vma_ra_win
 */
function swapVmaRaWin(ctx: MmContext, vma: Vma, vpn: number): number {
  const maxWin = 1 << Math.min(ctx.settings.pageCluster, SWAP_RA_ORDER_CEILING);
  if (maxWin === 1) return 1;
  const prev = vma.swapRaVpn;
  const win = swapinNrPages(prev, vpn, vma.swapRaHits, maxWin, vma.swapRaWin);
  vma.swapRaVpn = vpn;
  vma.swapRaWin = win;
  vma.swapRaHits = 0;
  if (win === 1) return 1;
  let left: number;
  if (vpn === prev + 1) left = vpn;
  else if (prev === vpn + 1) left = vpn - win + 1;
  else left = vpn - ((win - 1) >>> 1);
  const right = left + win;
  // faddr & PMD_MASK: the table's first page (a PMD's reach is one PTE table's, 1024 pages on
  // two-level i386), from vpn's low 32 bits (no division)
  const ptrs = ctx.env.pgtable.ptrsPerTable;
  const pmdFirst = vpn - ((vpn | 0) & (ptrs - 1));
  // `if ((long)left < 0) left = 0`: below 0, and on 32-bit x86 (BITS_PER_LONG 32) from 2 GiB up, where
  // the window then starts at vm_start or the table's start however far below the fault that is
  if (left < 0 || (ctx.env.taskSizeVpn <= TWO20 && left >= TWO19)) left = 0;
  raStart = Math.max(left, vma.vmStart, pmdFirst);
  raEnd = Math.min(right, vma.vmEnd, pmdFirst + ptrs);
  return win;
}

/**
 * swapin_readahead with VMA readahead (swap_vma_readahead): the page of the fault at `off` pages
 * into the VMA comes in with the other swapped pages of its window (swapVmaRaWin), read in
 * address order into the swap cache, not mapped; the others are marked readahead (a later fault
 * on one is a minor fault and a hit), counted in swap_ra. Without a window the page alone is read
 * ("skip"). The window's PTEs are read from the one table the fault's PMD entry points to
 * (pte_offset_map of vmf->pmd), mapped again after each read, whose allocation may have run
 * reclaim: the PMD entry is read again at its address, never found by a walk from the top (the
 * faulting mm keeps its upper tables throughout the fault); a fault that came without its PMD's
 * address finds each PTE from the top. A page whose allocation fails is passed over (the window
 * goes on); the fault's page, once read, is held (vmlab's reads complete at once: the folio lock
 * Linux's read holds keeps reclaim from taking it back) until the caller maps it. Returns the
 * fault's page (held), or -1 without memory for it.
 * Linux: mm/swap_state.c swapin_readahead, swap_vma_readahead
 */
function swapVmaReadahead(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  off: number,
  slot: number,
  pmdAt: number,
): number {
  const vpn = vma.vmStart + off; // the fault's page (`off` pages into the VMA: doSwapPageAt)
  const swap = ctx.env.swap!;
  const lru = ctx.env.lru;
  if (swapVmaRaWin(ctx, vma, vpn) === 1) {
    // skip: the fault's page alone (__read_swap_cache_async)
    const p = swapInToCache(ctx, vma, off, slot);
    if (p >= 0) lru?.pinned.add(p);
    return p;
  }
  const start = raStart;
  const end = raEnd;
  const pt = ctx.env.pgtable;
  const ptrs = pt.ptrsPerTable;
  const tableFirst = vpn - ((vpn | 0) & (ptrs - 1));
  const oneTable = pmdAt >= 0;
  const phys = ctx.env.phys;
  // 8-byte entries in frames of RAM: the table's entries are read from its frame's words, looked
  // up once each time the table is mapped (readEntry written out here, no call per neighbour)
  const direct = oneTable && pt.entryBytes === 8;
  let pte0 = -1; // the PTE of the table's first page while the table is mapped (-1: pte_unmap'd)
  let words: Uint32Array | null = null; // the mapped table's frame words (direct; null: all zeros)
  let wordsFrame = -1; // their frame (-1: none; the table outside RAM: readEntry)
  for (let v = start; v < end; v++) {
    let pa: number;
    if (oneTable) {
      if (pte0 < 0) {
        // pte_offset_map(vmf->pmd, addr): the PMD entry as it is now (-1: no table any more), both
        // halves from one look-up of its table's frame
        readEntry(ctx, pmdAt);
        pte0 = pteOffset(ctx, entryRead.hi, entryRead.lo, tableFirst);
        if (pte0 < 0) break; // no table: the loop's pte_offset_map fails
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
    const s = pt.swapOffset(hi, lo);
    if (swap.cache.has(s)) continue; // __read_swap_cache_async finds it: nothing allocated
    pte0 = -1; // pte_unmap before __read_swap_cache_async, whose allocation may reclaim
    const p = swapInToCache(ctx, vma, v - vma.vmStart, s);
    if (p < 0) continue; // no folio: the window goes on
    if (v === vpn) lru?.pinned.add(p);
    else {
      ctx.env.pages.flags[p] |= PageFlag.Readahead; // folio_set_readahead, count_vm_event(SWAP_RA)
      swap.readahead++;
    }
  }
  // lru_add_drain: "Push any new pages onto the LRU now"
  lru?.fbatches.drain();
  // skip: the fault's page, read in the loop (or now, when the loop passed it over)
  let pfn = swap.cache.at(slot);
  if (pfn < 0) {
    pfn = swapInToCache(ctx, vma, off, slot);
    if (pfn >= 0) lru?.pinned.add(pfn);
  }
  return pfn;
}
