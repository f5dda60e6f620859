/**
 * The page allocator alone, for exercises (analysis/exercise/buddy.ts): a
 * buddy allocator over `frames` frames, all free, with no per-CPU lists, no
 * migrate types and no watermarks to keep: buddy.ts's own __rmqueue_smallest,
 * expand and __free_one_page, as a textbook's buddy system. Front ends reach
 * it through the kernel's facade (Kernel.ts).
 */
import { BuddyAllocator, MAX_ORDER } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { PageDescTable, PageKind } from "./PageDesc.ts";

export class BareBuddy {
  private readonly pages: PageDescTable;
  private readonly b: BuddyAllocator;

  constructor(readonly frames: number) {
    this.pages = new PageDescTable(frames);
    this.b = new BuddyAllocator(this.pages, frames);
    this.b.freeBootRange(0, frames); // memblock_free_all: maximal aligned blocks
  }

  /** A block of 2^order frames: its first pfn, or -1 when none is free. */
  alloc(order: number): number {
    if (order > MAX_ORDER) return -1;
    return this.b.alloc(order, Gfp.NOWAIT, PageKind.KernelPages);
  }

  /** Frees the block alloc gave at pfn; returns its order. */
  free(pfn: number): number {
    const order = this.pages.order[pfn];
    const err = this.b.free(pfn, order);
    if (err !== null) throw new Error(`BareBuddy.free(${pfn}): ${err}`);
    return order;
  }

  /** The free blocks of each order 0..MAX_ORDER, each list from its head. */
  freeLists(): number[][] {
    const z = this.b.zones[0];
    const out: number[][] = [];
    for (let o = 0; o <= MAX_ORDER; o++) {
      const blocks: number[] = [];
      for (let mt = 0; mt < 5; mt++)
        for (let pfn = z.head[o * 5 + mt]; pfn !== -1; pfn = this.pages.next[pfn]) blocks.push(pfn);
      out.push(blocks);
    }
    return out;
  }
}
