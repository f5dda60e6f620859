/**
 * Contiguous ranges larger than the buddy allocator's largest block
 * (MAX_PAGE_ORDER): HugeTLB's gigantic pages (1 GiB) come from here.
 * Linux: mm/page_alloc.c alloc_contig_pages (pfn_range_valid_contig,
 * alloc_contig_range), free_contig_range; mm/hugetlb.c
 * alloc_gigantic_folio (folio_alloc_gigantic), hugetlb_free_folio.
 *
 * alloc_contig_pages tries every `nrPages`-aligned range of each zone the
 * allocation may use (highest first, as for_each_zone_zonelist_nodemask
 * walks GFP_HIGHUSER's zonelist), from the zone's start up. A range is a
 * candidate when none of its frames is reserved (firmware, the kernel
 * image, the memmap: PageReserved) or HugeTLB (PageHuge)
 * (pfn_range_valid_contig); the per-CPU lists are drained
 * (alloc_contig_range's drain_all_pages) and the range is taken when all
 * of its frames are free in the buddy lists. Linux would then also
 * migrate the movable pages in the way (user pages on the LRU, page cache)
 * and fail on unmovable ones (page tables, slab, kernel pages:
 * has_unmovable_pages): vmlab's page migration (migrate.ts) serves
 * compaction only, so any allocated frame in a range fails it (a fragmented
 * machine's 1 GiB allocation fails where Linux might have succeeded by
 * migration; never the reverse).
 */
import { type BuddyAllocator, MAX_ORDER } from "./buddy.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";

/** Can no allocation's range include this frame (PageReserved, PageHuge)? */
function notContig(kind: number): boolean {
  return (
    kind === PageKind.Reserved ||
    kind === PageKind.KernelImage ||
    kind === PageKind.Memmap ||
    kind === PageKind.Hugetlb
  );
}

/**
 * alloc_contig_pages: `nrPages` (a power of two above 2^MAX_ORDER)
 * contiguous, aligned frames, of kind `kind`, unreferenced (the folio's
 * head has order log2(nrPages)); -1 when no range is wholly free.
 */
export function allocContigPages(buddy: BuddyAllocator, nrPages: number, kind: PageKind): number {
  const p = buddy.pages;
  const block = 1 << MAX_ORDER;
  let drained = false;
  for (let id = buddy.zones.length - 1; id >= 0; id--) {
    const z = buddy.zones[id];
    if (z.managed === 0) continue;
    for (
      let start = Math.ceil(z.startPfn / nrPages) * nrPages;
      start + nrPages <= z.endPfn;
      start += nrPages
    ) {
      let valid = true;
      for (let i = start; i < start + nrPages && valid; i++) if (notContig(p.kind[i])) valid = false;
      if (!valid) continue;
      if (!drained && buddy.pcp !== null) buddy.pcp.drainAllPages();
      drained = true;
      let free = true;
      for (let b = start; b < start + nrPages && free; b += block)
        if ((p.flags[b] & PageFlag.Buddy) === 0 || p.order[b] !== MAX_ORDER) free = false;
      if (!free) continue;
      for (let b = start; b < start + nrPages; b += block) buddy.takeFreeBlock(b, MAX_ORDER);
      for (let i = start; i < start + nrPages; i++) {
        p.kind[i] = kind;
        p.refcount[i] = 0;
        p.mapcount[i] = 0;
        p.flags[i] = 0;
        p.priv[i] = -1;
        p.order[i] = -1;
      }
      p.order[start] = 31 - Math.clz32(nrPages);
      return start;
    }
  }
  return -1;
}

/**
 * free_contig_range of a gigantic folio (folio_put: __free_pages_ok, whose
 * split_large_buddy frees it in MAX_PAGE_ORDER blocks).
 */
export function freeContigRange(buddy: BuddyAllocator, start: number, nrPages: number): void {
  const p = buddy.pages;
  for (let i = start; i < start + nrPages; i++) {
    p.kind[i] = PageKind.Free;
    p.refcount[i] = 0;
    p.mapcount[i] = 0;
    p.flags[i] = 0;
    p.priv[i] = -1;
    p.order[i] = -1;
  }
  for (let b = start; b < start + nrPages; b += 1 << MAX_ORDER) buddy.freeFreshBlock(b, MAX_ORDER);
}
