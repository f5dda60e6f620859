/**
 * The free of a user folio whose last reference went: an order-0 folio goes
 * back at once; a whole (unsplit) anonymous THP goes back as one block of
 * HPAGE_PMD_ORDER when the last of its pages is let go.
 * Linux: mm/swap.c folio_put, __folio_put, folios_put_refs; mm/page_alloc.c
 * free_unref_page(&folio->page, folio_order(folio)) and free_unref_folios,
 * which put the order-9 block on the THP pcp list (free_unref_page_commit,
 * pcp->count += 512) and spill it by nr_pcp_free.
 *
 * Modelling choice (huge_memory.ts): vmlab accounts a THP's 512 pages one by
 * one (a refcount and a mapcount each), where Linux has one folio refcount.
 * The folio's pages reach refcount 0 one after the other (the zap's batch puts
 * them in a row; an LRU add batch's reference may hold the head longer); the
 * folio is freed when the last one does, as Linux frees it when its one
 * refcount reaches 0. Until then a page at refcount 0 stays allocated (kind
 * UserAnon), as a tail page of a Linux folio does. The pages of the folio not
 * yet put are counted in the head's struct page `priv` (unused for user pages:
 * -1), set by the THP allocation (thpFolioInit) and cleared by the split
 * (thpFolioSplit), after which every page is an order-0 folio of its own.
 */
import type { BuddyAllocator, FreeError } from "./buddy.ts";
import { type MthpState, mthpFreePage } from "./mthp_state.ts";
import { type PageDescTable, PageKind } from "./PageDesc.ts";

/** What the free needs: the allocator (and its struct pages), HPAGE_PMD_NR. */
export interface FolioPutEnv {
  readonly buddy: BuddyAllocator;
  readonly pgtable: { readonly hpagePmdNr: number };
  /** the deferred split queue a folio freed whole leaves (mm/deferred_split.ts) */
  readonly deferredSplit?: { unqueue(head: number): boolean };
  /** the live mTHP folios (mm/mthp.ts): freed whole with their last page */
  readonly mthp?: MthpState;
  /** KSM (mm/ksm_state.ts): a freed KSM page's stable node goes stale */
  readonly ksm?: { freed(pfn: number): void };
}

/** A new anonymous THP of `nr` pages from `head`: one folio until it is split. */
export function thpFolioInit(pages: PageDescTable, head: number, nr: number): void {
  pages.priv[head] = nr;
}

/**
 * split_folio (__split_huge_page) of an anonymous THP: each page an order-0
 * folio from now on, freed by itself when its references go. A page already
 * at refcount 0 (its folio waited for another page) is freed now, as
 * __split_huge_page frees the tails nobody holds (free_unref_folios of the
 * split's folio list).
 */
export function thpFolioSplit(env: FolioPutEnv, head: number): void {
  const pages = env.buddy.pages;
  if (pages.kind[head] !== PageKind.UserAnon || !(pages.priv[head] > 0)) return;
  pages.priv[head] = -1;
  const nr = env.pgtable.hpagePmdNr;
  for (let i = 0; i < nr; i++) {
    const pfn = head + i;
    if (pages.refcount[pfn] === 0 && pages.kind[pfn] === PageKind.UserAnon) freeOrder0(env, pfn);
  }
}

/** Is `pfn` a page of a whole anonymous THP (not split), whose folio some page still holds? */
export function inWholeThp(env: FolioPutEnv, pfn: number): boolean {
  const pages = env.buddy.pages;
  const head = pfn - (pfn % env.pgtable.hpagePmdNr);
  return pages.kind[head] === PageKind.UserAnon && pages.priv[head] > 0;
}

/**
 * A user page's refcount reached 0: free it (free_unref_page, order 0), or,
 * for a page of a whole THP, count it put and free the folio with its last
 * page: free_unref_page(head, HPAGE_PMD_ORDER), onto the running CPU's THP
 * pcp list. Returns the allocator's error, if any.
 * Linux: mm/swap.c __folio_put; mm/page_alloc.c free_unref_page, free_unref_folios
 */
export function freeUserPage(env: FolioPutEnv, pfn: number): FreeError | null {
  const pages = env.buddy.pages;
  env.ksm?.freed(pfn); // __folio_put: a KSM folio's mapping (its stable node) is gone with it
  if (env.mthp !== undefined && env.mthp.liveOrders !== 0) {
    const r = mthpFreePage(env, pfn); // a page of an mTHP folio (mm/mthp.ts)
    if (r !== undefined) return r;
  }
  const head = pfn - (pfn & (env.pgtable.hpagePmdNr - 1)); // HPAGE_PMD_NR: a power of two
  if (
    // priv first: -1 on the head of nearly every aligned block (a slab's cache id elsewhere)
    pages.priv[head] > 0 &&
    pages.kind[head] === PageKind.UserAnon &&
    pages.kind[pfn] === PageKind.UserAnon
  ) {
    if (--pages.priv[head] > 0) return null;
    pages.priv[head] = -1;
    // free_pages_prepare -> folio_undo_large_rmappable: __folio_unqueue_deferred_split
    env.deferredSplit?.unqueue(head);
    return freeThpBlock(env, head);
  }
  return freeOrder0(env, pfn);
}

/** The folio's block back whole (folio_order = HPAGE_PMD_ORDER; vmlab's pages carry order 0 while in use). */
export function freeThpBlock(env: FolioPutEnv, head: number): FreeError | null {
  const order = 31 - Math.clz32(env.pgtable.hpagePmdNr);
  env.buddy.pages.order[head] = order;
  return env.buddy.free(head, order);
}

function freeOrder0(env: FolioPutEnv, pfn: number): FreeError | null {
  return env.buddy.free(pfn, 0);
}

/**
 * try_to_unmap_one's MADV_FREE check and __discard_anon_folio_pmd_locked's `ref_count != map_count
 * + 1`: a reference on a page of the folio (`nr` pages from `pfn`) beyond its mappings' (vmlab
 * takes no isolation reference, and counts a THP's references page by page), a FOLL_PIN's or a
 * FOLL_GET's. Linux: mm/rmap.c try_to_unmap_one; mm/huge_memory.c __discard_anon_folio_pmd_locked
 */
export function extraFolioRefs(pages: PageDescTable, pfn: number, nr: number): boolean {
  for (let i = 0; i < nr; i++) if (pages.refcount[pfn + i] !== pages.mapcount[pfn + i]) return true;
  return false;
}
