/**
 * memblock (mm/memblock.c): the boot-time allocator, before the buddy
 * allocator exists. It hands out frames right after the kernel image (boot
 * page tables, the memmap, PTI's cpu_entry_area), marking each with its
 * kind; memblock_free_all later gives every frame it did not hand out to
 * the buddy allocator.
 */
import { InputError } from "../../base/errors.ts";
import { type Pfn, pfnUnchecked } from "../../base/units.ts";
import type { PhysMem } from "../../hw/PhysMem.ts";
import type { BuddyAllocator } from "../mm/buddy.ts";
import type { PageDescTable, PageKind } from "../mm/PageDesc.ts";

export class Memblock {
  /** the first frame not handed out yet */
  next: number;
  /** the [start, end) frame ranges handed out */
  readonly used: [number, number][] = [];
  /** the end of memory memblock knows (lowered by enforceMemoryLimit); frames above stay Reserved */
  end: number;

  constructor(
    private readonly phys: PhysMem,
    private readonly pages: PageDescTable,
    /** where allocations start: the first frame after the kernel image */
    readonly start: number,
  ) {
    this.next = start;
    this.end = phys.nrFrames;
  }

  /**
   * memblock_enforce_memory_limit (with memblock_reserve of a top range, as
   * RV32's setup_bootmem reserves what would map above -PAGE_SIZE): memory
   * from `endPfn` on is dropped, never given to the buddy allocator.
   */
  enforceMemoryLimit(endPfn: number): void {
    this.end = Math.min(this.end, endPfn);
  }

  /** memblock_alloc: `count` zeroed frames of `kind`, aligned to `align` frames. */
  alloc(count: number, align: number, kind: PageKind): Pfn {
    this.next = Math.ceil(this.next / align) * align;
    if (this.next + count > this.end)
      throw new InputError(`ram=${this.phys.sizeBytes} is too small for the kernel's boot allocations`);
    const pfn = pfnUnchecked(this.next); // below nrFrames
    this.next += count;
    this.used.push([pfn, pfn + count]);
    this.pages.setKind(pfn, count, kind);
    this.phys.zeroFrame(pfn);
    return pfn;
  }

  /** frames handed out */
  get frames(): number {
    return this.used.reduce((n, [a, b]) => n + b - a, 0);
  }

  /**
   * memblock_free_all: every frame after the image that memblock did not
   * hand out (alignment gaps included) goes to the buddy allocator.
   */
  freeAll(buddy: BuddyAllocator): void {
    let gap = this.start;
    for (const [a, b] of this.used.sort((x, y) => x[0] - y[0])) {
      if (a > gap) buddy.freeBootRange(gap, a);
      gap = Math.max(gap, b);
    }
    buddy.freeBootRange(this.next, this.end);
  }
}
