/**
 * The buddy allocator's consistency check: every listed block a PG_buddy head of its order, inside
 * its zone, on the list of its pageblocks' migrate type; links, counts and the free frames agree.
 * Linux's equivalents are VM_BUG_ON/VM_WARN checks scattered through mm/page_alloc.c
 * (__add_to_free_list's type warning, bad_range, the free counts).
 */
import { MAX_ORDER, MIGRATE_TYPES } from "./migratetype.ts";
import type { Zone } from "./mmzone.ts";
import { type PageDescTable, PageFlag, PageKind } from "./PageDesc.ts";

/** The buddy allocator as the check reads it (BuddyAllocator is one). */
export interface CheckedBuddy {
  readonly zones: readonly Zone[];
  readonly pages: PageDescTable;
  readonly pbOrder: number;
  readonly blockMt: Uint8Array;
  readonly pcp: { zoneCount(zoneId: number): number; check(): string[] } | null;
}

/** Checks the free lists against struct page; returns the problems found (empty when fine). */
export function checkBuddy(b: CheckedBuddy): string[] {
  const problems: string[] = [];
  const p = b.pages;
  for (const z of b.zones) {
    let free = 0;
    const freeByMt = new Array<number>(MIGRATE_TYPES).fill(0);
    for (let order = 0; order <= MAX_ORDER; order++) {
      let n = 0;
      for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
        const li = order * MIGRATE_TYPES + mt;
        let prev = -1;
        let len = 0;
        for (let pfn = z.head[li]; pfn !== -1; pfn = p.next[pfn]) {
          if (p.prev[pfn] !== prev)
            problems.push(`buddy ${z.name} order ${order}: broken back link at pfn ${pfn}`);
          if (!(p.flags[pfn] & PageFlag.Buddy) || p.order[pfn] !== order)
            problems.push(`buddy ${z.name}: pfn ${pfn} listed at order ${order} but not marked so`);
          if (pfn % (1 << order) !== 0)
            problems.push(`buddy ${z.name}: pfn ${pfn} misaligned for order ${order}`);
          if (pfn < z.startPfn || pfn + (1 << order) > z.endPfn)
            problems.push(`buddy ${z.name}: block ${pfn}/${order} outside the zone`);
          for (let i = pfn; i < pfn + (1 << order); i++)
            if (p.kind[i] !== PageKind.Free)
              problems.push(`buddy: pfn ${i} in a free block but kind ${p.kind[i]}`);
          // __add_to_free_list's VM_WARN: a free block is on its pageblocks' type's list
          for (let blk = pfn >> b.pbOrder; blk <= (pfn + (1 << order) - 1) >> b.pbOrder; blk++)
            if (b.blockMt[blk] !== mt)
              problems.push(
                `buddy ${z.name}: block ${pfn}/${order} on the ${mt} list, pageblock ${blk} of type ${b.blockMt[blk]}`,
              );
          prev = pfn;
          len++;
          if (len > p.nrFrames) {
            problems.push(`buddy ${z.name} order ${order}: list loops`);
            break;
          }
        }
        if (z.tail[li] !== prev)
          problems.push(`buddy ${z.name} order ${order} type ${mt}: tail is ${z.tail[li]}, last is ${prev}`);
        n += len;
        freeByMt[mt] += len * (1 << order);
      }
      if (n !== z.nrFree[order])
        problems.push(`buddy ${z.name} order ${order}: ${n} blocks listed, nr_free ${z.nrFree[order]}`);
      free += n * (1 << order);
    }
    if (free !== z.freePages)
      problems.push(`buddy ${z.name}: ${free} pages listed, free_pages ${z.freePages}`);
    for (let mt = 0; mt < MIGRATE_TYPES; mt++)
      if (freeByMt[mt] !== z.nrFreeMt[mt])
        problems.push(
          `buddy ${z.name}: ${freeByMt[mt]} pages listed of type ${mt}, counted ${z.nrFreeMt[mt]}`,
        );
    let freeKind = 0;
    for (let i = z.startPfn; i < z.endPfn; i++) if (p.kind[i] === PageKind.Free) freeKind++;
    const onPcp = b.pcp?.zoneCount(z.id) ?? 0;
    if (freeKind !== z.freePages + onPcp)
      problems.push(
        `buddy ${z.name}: ${freeKind} frames of kind free, free_pages ${z.freePages} + ${onPcp} on pcp lists`,
      );
  }
  if (b.pcp !== null) problems.push(...b.pcp.check());
  return problems;
}
