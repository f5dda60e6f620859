/**
 * The demand-zero fault of a run of user writes, as handle_mm_fault resolves it when the
 * address's leaf table is present: the PTE found from the table the run's last fault used
 * (handle_mm_fault's descent once per table) and its none test (anonFaultPte); core/faultfold.ts
 * then calls do_anonymous_page (mm/memory.ts doAnonymousPage) itself for that PTE.
 * Linux: mm/memory.c handle_mm_fault -> __handle_mm_fault (pmd_offset, pmdp_get; a PMD that
 * points to a table: no THP path) -> handle_pte_fault (pte_offset_map, ptep_get, pte_none ->
 * do_pte_missing -> do_anonymous_page: alloc_anon_folio's order-0 folio from the pcp lists or
 * the buddy, clear_user_highpage, folio_add_new_anon_rmap, folio_add_lru_vma, set_pte_at,
 * update_mmu_cache). A single fault is resolved by the same doAnonymousPage the page-by-page
 * path calls; a batch of them under one leaf table (core/faultfold.ts RunFaultFold.runFaultRun) by
 * doAnonymousRun below, which makes each page's steps in the same order on the same pages (the
 * allocations by BuddyAllocator.allocRun0): every pfn, clear, LRU batch, counter and PTE byte as
 * the faults one by one leave them (faultfold.test.ts's batch twins, alloc_run.test.ts).
 *
 * What it skips is the descent from the PGD to the PMD and the PMD's read when the fault is
 * under the table the previous one used (nothing between the two faults can change a table
 * above the PTEs: core/faultfold.ts drops the table when an allocation entered the slow path,
 * which may reclaim, or when a fault went to the architecture's handler).
 */
import { ModelBug } from "../../base/assert.ts";
import { pfnUnchecked } from "../../base/units.ts";
import { Gfp } from "./gfp.ts";
import { linearIndex, type MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { vmaMlocks } from "./mlock_fbatch.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { entryRead, isHugePmd, pmdPa, pteOffset, readEntry } from "./pgtable.ts";
import { type Vma, VmFlag, vmaDroppable } from "./vma.ts";

/** Under the tests (vitest sets VITEST), every PTE address from the kept table is checked against the descent. */
const VERIFY_TABLE =
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.VITEST !==
  undefined;

/**
 * The leaf table a run's last folded fault used: its key (vpn / PTRS_PER_PTE), its mm and the
 * physical address of its first entry. One per process: reset at each run and whenever a fault
 * of the run leaves the fold.
 */
export class AnonFaultTable {
  key = -1;
  base = 0;
  mm: MmStruct | null = null;
  reset(): void {
    this.key = -1;
    this.mm = null;
  }
}

/**
 * __handle_mm_fault's descent and handle_pte_fault's test, for a write to `vpn`: the address
 * of its PTE when the PMD points to a PTE table and the PTE is none (do_anonymous_page's case),
 * else -1. Reads only (the table kept in `t` aside): a caller may ask before the fault's entry.
 */
export function anonFaultPte(ctx: MmContext, t: AnonFaultTable, mm: MmStruct, vpn: number): number {
  const pt = ctx.env.pgtable;
  const per = pt.ptrsPerTable;
  const key = Math.floor(vpn / per);
  let pa: number;
  if (t.key === key && t.mm === mm) {
    pa = t.base + (vpn - key * per) * pt.entryBytes;
    if (VERIFY_TABLE && descend(ctx, mm, vpn) !== pa)
      throw new ModelBug(`anonFaultPte: kept table gives ${pa} for vpn ${vpn}, the descent another`);
  } else {
    pa = descend(ctx, mm, vpn);
    if (pa < 0) return -1;
    t.key = key;
    t.mm = mm;
    t.base = pa - (vpn - key * per) * pt.entryBytes;
  }
  readEntry(ctx, pa); // ptep_get
  return pt.none(entryRead.hi, entryRead.lo) ? pa : -1; // pte_none: do_pte_missing
}

/** __handle_mm_fault's descent: the PTE's address under a PMD that points to a table, else -1. */
function descend(ctx: MmContext, mm: MmStruct, vpn: number): number {
  const pmdAt = pmdPa(ctx, mm, vpn);
  if (pmdAt < 0) return -1;
  readEntry(ctx, pmdAt);
  const hi = entryRead.hi;
  const lo = entryRead.lo;
  if (isHugePmd(ctx, hi, lo)) return -1;
  return pteOffset(ctx, hi, lo, vpn);
}

/** A batch's pages (BuddyAllocator.allocRun0's), grown to the largest batch asked (a leaf table's pages at most) */
let runPfns = new Float64Array(512);
/** doAnonymousRun's PTE (Pgtable.mkUserInto), read at once */
const runPte = { hi: 0, lo: 0 };

/**
 * do_anonymous_page's write case for up to `max` pages vpn0, vpn0 + pages, ... of one leaf table,
 * their PTEs at pa0, pa0 + pages * entryBytes, ...: the faults one after the other as
 * mm/memory.ts doAnonymousPage resolves each (its order-0 case: no mTHP order configured, the
 * VMA's anon_vma made, no memory limit to charge, no kmap_local), and as far as each is the
 * allocator's fast case (BuddyAllocator.order0FastSure before each) and its PTE none (the first
 * page's: anonFaultPte's, found by the caller). In the order each fault makes them:
 * handle_pte_fault's ptep_get and pte_none of every page first (the faults before write only
 * their own PTEs), the allocations (alloc_anon_folio: BuddyAllocator.allocRun0, the same pages
 * in the same order, nothing between two of them touching the allocator: in chunks that end at
 * the LRU add that moves the CPU's batch, which may free a page), then for the chunk's pages
 * clear_user_highpage of each (PhysMem.zeroFrames), folio_add_lru_vma of each (LruLists.addAnonRun:
 * the per-CPU batch filled and moved at the same pages; nothing else reads what these write, and
 * the move comes at the chunk's last page), then per page folio_add_new_anon_rmap (mapcount,
 * PG_anon_exclusive) and set_pte_at (the none PTE already seen: set_pte_at's check; stored into
 * the table's words when it is held whole); the RSS counter added once. Returns the faults
 * resolved.
 * Linux: mm/memory.c do_anonymous_page, alloc_anon_folio; mm/rmap.c folio_add_new_anon_rmap;
 * mm/swap.c folio_add_lru_vma
 */
export function doAnonymousRun(
  ctx: MmContext,
  mm: MmStruct,
  vma: Vma,
  vpn0: number,
  pa0: number,
  pages: number,
  max: number,
): number {
  const env = ctx.env;
  const pt = env.pgtable;
  const stride = pages * pt.entryBytes;
  const phys = env.phys;
  let m = 1;
  const table = Math.floor(pa0 / 4096);
  const dw = stride >>> 2; // a PTE's step and the first PTE's word in the table's frame (8-byte entries)
  const w0 = (pa0 - table * 4096) >>> 2;
  if (pt.entryBytes === 8 && pt.ptrsPerTable === 512 && pa0 >= 0 && table < phys.nrFrames) {
    // ptep_get of each: readEntry's words of the one table frame, read once (nothing writes in between)
    const words = phys.frameWords(pfnUnchecked(table));
    let w = w0;
    for (; m < max; m++) {
      w += dw;
      if (words === null ? !pt.none(0, 0) : !pt.none(words[w + 1], words[w])) break; // pte_none
    }
  } else
    for (; m < max; m++) {
      readEntry(ctx, pa0 + m * stride); // ptep_get
      if (!pt.none(entryRead.hi, entryRead.lo)) break; // pte_none
    }
  if (runPfns.length < m) runPfns = new Float64Array(m);
  const pfns = runPfns;
  const desc = env.pages;
  const lru = env.lru;
  const cp = pt.contpte;
  const flags = vma.vmFlags;
  const writable = (flags & VmFlag.WRITE) !== 0;
  const anonVma = vma.anonVma;
  // the LRU add that fills the running CPU's batch moves it onto the lists, which may free a
  // folio whose last user went while it waited (folios_put): the allocations after it must see
  // that page free, as page by page they would. So the pages are allocated in chunks that end at
  // such an add (an mlocking VMA's mlock batch: one page at a time)
  const mlocks = vmaMlocks(flags);
  let index = linearIndex(vma, vpn0);
  let k = 0;
  const mapcount = desc.mapcount;
  const pflags = desc.flags;
  // set_pte_at's store straight into the table's words while the table is held whole (materialised)
  // and nothing observes stores: exactly PhysMem.write64's (pt.set: a 64-bit entry, one store, on
  // every architecture with 512 8-byte entries a table; arm64's contpte setPte with no mm: the
  // store of the entry without PTE_CONT, which mkUserInto never sets); else through pt.set
  const direct = pt.entryBytes === 8 && pt.ptrsPerTable === 512 && table < phys.nrFrames;
  let tw = direct ? phys.frameWordsToStore(pfnUnchecked(table)) : null;
  // the PTE's bits, the same for every page (the VMA's rights and protection key, writable, dirty):
  // mkUser of frame 0 once, each page's frame added (Pgtable.userPfnShift); a frame past that range
  // (or an architecture without it) made by mkUserInto
  const shift = pt.userPfnShift ?? 0;
  const pfnMul = shift > 0 ? 1 << shift : 0;
  const pfnEnd = shift > 0 ? 4294967296 / pfnMul : 0;
  const bits = pt.mkUserInto(runPte, 0, 0, flags, writable, true, false);
  const hi0 = bits.hi;
  const lo0 = bits.lo;
  while (k < m) {
    const want = lru === null ? m - k : mlocks ? 1 : Math.min(m - k, lru.fbatches.addRoom());
    const got = env.buddy.allocRun0(Gfp.HIGHUSER_MOVABLE, PageKind.UserAnon, pfns, want);
    phys.zeroFrames(pfns, got); // clear_user_highpage of each
    // folio_add_lru_vma of each (the batch moved at the chunk's last page at most: see above)
    if (lru !== null) {
      // page by page for an mlocking VMA, and a droppable one (its pages join the file list: droppable.ts)
      if (mlocks || vmaDroppable(flags))
        for (let i = 0; i < got; i++) lru.addAnon(pfns[i], index + i * pages, anonVma, flags);
      else lru.addAnonRun(pfns, got, index, pages, anonVma);
    }
    // each page's PTE at pa0 + (k + i) * stride, its word in the table frame w0 + (k + i) * dw (ints:
    // no physical address carried around the loop)
    for (let i = 0, w = w0 + k * dw; i < got; i++, w += dw) {
      const pfn = pfns[i];
      let hi = hi0;
      let lo = lo0 + pfn * pfnMul; // mk_pte (userPfnShift)
      if (!(pfn < pfnEnd)) {
        const e = pt.mkUserInto(runPte, pfn, 0, flags, writable, true, false);
        hi = e.hi;
        lo = e.lo;
      }
      mapcount[pfn] = 1;
      pflags[pfn] |= PageFlag.AnonExclusive; // folio_add_new_anon_rmap(RMAP_EXCLUSIVE)
      if (tw !== null && (cp == null || !cp.isCont(hi, lo))) {
        tw[w] = lo; // set_pte_at
        tw[w + 1] = hi;
      } else {
        const pa = pa0 + (k + i) * stride;
        if (cp != null)
          cp.setPte(env, null, pa, 0, hi, lo); // set_pte_at (pgtable.ts setPteAt)
        else pt.set(phys, pa, hi, lo);
        if (direct) tw = phys.frameWordsToStore(pfnUnchecked(table)); // materialised by now?
      }
    }
    index += got * pages;
    k += got;
    if (got < want) break; // the allocator's fast case no longer sure
  }
  mm.rssAnon += k;
  return k;
}
