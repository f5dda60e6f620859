import type { BuddyAllocator } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { PageKind } from "./PageDesc.ts";

/** One vmalloc area: `nrPages` mapped pages, then one unmapped guard page. */
export interface VmArea {
  /** first page (vpn of the truncated address) */
  startVpn: number;
  nrPages: number;
  /** backing frames, one per page, in address order */
  pfns: number[];
}

/** What vmalloc needs from the kernel: mapping kernel PTEs and flushing TLBs on every CPU. */
export interface VmallocOps {
  /** map one 4K page in the kernel's page tables with PAGE_KERNEL; false if a table page could not be had */
  mapKernelPage(vpn: number, pfn: number): boolean;
  /** clear one kernel PTE (no flush) */
  unmapKernelPage(vpn: number): void;
  /** flush_tlb_kernel_range on every CPU */
  flushKernelRange(startVpn: number, nrPages: number): void;
}

/**
 * vmalloc: virtually contiguous, physically scattered kernel memory (Linux:
 * mm/vmalloc.c). The KVA allocator (alloc_vmap_area) hands out the lowest
 * free range in [VMALLOC_START, VMALLOC_END) that fits size plus a guard
 * page; each page is a separate order-0 allocation mapped with PAGE_KERNEL.
 *
 * vfree unmaps the PTEs and frees the pages at once, but, like Linux, flushes
 * TLBs lazily: the freed range stays reserved ("lazy") until
 * `lazyMaxPages` pages have piled up (lazy_max_pages = fls(cpus) * 32 MiB),
 * then one flush_tlb_kernel_range covers them all and the ranges become
 * reusable. So stale TLB entries for a freed area can exist, but nobody can
 * get that address again before the flush. `lazy: false` flushes at every vfree.
 */
export class Vmalloc {
  /** live areas and lazily freed ones, by start address */
  readonly busy: VmArea[] = [];
  readonly lazyAreas: VmArea[] = [];
  lazyPages = 0;
  purges = 0;

  constructor(
    readonly buddy: BuddyAllocator,
    readonly ops: VmallocOps,
    readonly startVpn: number,
    readonly endVpn: number,
    readonly lazyMaxPages: number,
    readonly lazy = true,
  ) {}

  /** Pages in live areas (VmallocUsed). */
  usedPages(): number {
    let n = 0;
    for (const a of this.busy) n += a.nrPages;
    return n;
  }

  /** Lowest start vpn where nrPages + 1 guard page fit between busy or lazy ranges; -1 if none. */
  private findRange(nrPages: number): number {
    const all = [...this.busy, ...this.lazyAreas].sort((a, b) => a.startVpn - b.startVpn);
    let candidate = this.startVpn;
    for (const a of all) {
      if (candidate + nrPages + 1 <= a.startVpn) break;
      candidate = Math.max(candidate, a.startVpn + a.nrPages + 1);
    }
    return candidate + nrPages + 1 <= this.endVpn ? candidate : -1;
  }

  /**
   * __vmalloc_node_range: reserve KVA, allocate each page, map it. Returns
   * the area, or an error (nothing stays allocated or mapped on failure).
   */
  alloc(sizeBytes: number, totalPages: number): VmArea | "zero-size" | "too-large" | "no-kva" | "no-memory" {
    if (sizeBytes <= 0) return "zero-size";
    const nrPages = Math.ceil(sizeBytes / 4096);
    if (nrPages > totalPages) return "too-large";
    let start = this.findRange(nrPages);
    if (start < 0 && this.lazyAreas.length > 0) {
      this.purge();
      start = this.findRange(nrPages);
    }
    if (start < 0) return "no-kva";
    const area: VmArea = { startVpn: start, nrPages, pfns: [] };
    // mm/vmalloc.c __vmalloc_area_node(): every page first (vm_area_alloc_pages), then the
    // mapping (vmap_pages_range), whose page tables come after the pages from the buddy allocator
    for (let i = 0; i < nrPages; i++) {
      const pfn = this.buddy.alloc(0, Gfp.KERNEL, PageKind.Vmalloc);
      if (pfn < 0) {
        for (const p of area.pfns) this.buddy.free(p, 0);
        area.pfns = [];
        return "no-memory";
      }
      area.pfns.push(pfn);
    }
    for (let i = 0; i < nrPages; i++)
      if (!this.ops.mapKernelPage(start + i, area.pfns[i])) {
        // the pages mapped so far are unmapped and every page freed (__vunmap_range_noflush, fail:)
        for (const p of area.pfns.slice(i)) this.buddy.free(p, 0);
        area.pfns.length = i;
        this.release(area);
        return "no-memory";
      }
    this.insertSorted(this.busy, area);
    return area;
  }

  /**
   * KVA only: a range of nrPages (and a guard page) held as a busy area
   * with no pages of its own, for a kernel that maps it itself (profile=
   * windows: the paged and nonpaged pools). -1 when no range fits.
   */
  reserve(nrPages: number): number {
    const start = this.findRange(nrPages);
    if (start >= 0) this.insertSorted(this.busy, { startVpn: start, nrPages, pfns: [] });
    return start;
  }

  private insertSorted(list: VmArea[], area: VmArea): void {
    let i = list.length;
    while (i > 0 && list[i - 1].startVpn > area.startVpn) i--;
    list.splice(i, 0, area);
  }

  /** Unmaps and frees an area's pages (no flush). */
  private release(area: VmArea): void {
    for (let i = 0; i < area.pfns.length; i++) {
      this.ops.unmapKernelPage(area.startVpn + i);
      this.buddy.free(area.pfns[i], 0);
    }
    area.pfns = [];
  }

  /** The live area that starts at vpn, or null. */
  areaAt(vpn: number): VmArea | null {
    return this.busy.find((a) => a.startVpn === vpn) ?? null;
  }

  /** The live area whose pages (or guard page) contain vpn. */
  areaContaining(vpn: number): VmArea | null {
    return this.busy.find((a) => vpn >= a.startVpn && vpn <= a.startVpn + a.nrPages) ?? null;
  }

  /** vfree: the area must start at vpn. */
  free(vpn: number): "not-vmalloc" | null {
    const i = this.busy.findIndex((a) => a.startVpn === vpn);
    if (i < 0) return "not-vmalloc";
    const area = this.busy[i];
    this.busy.splice(i, 1);
    const n = area.nrPages;
    this.release(area);
    if (!this.lazy) {
      this.ops.flushKernelRange(area.startVpn, n);
      return null;
    }
    area.nrPages = n; // keeps its KVA (and guard) reserved until purged
    this.lazyAreas.push(area);
    this.lazyPages += n;
    if (this.lazyPages > this.lazyMaxPages) this.purge();
    return null;
  }

  /** __purge_vmap_area_lazy: one flush over the span of all lazy areas, then their KVA is free. */
  purge(): void {
    if (this.lazyAreas.length === 0) return;
    let lo = Number.POSITIVE_INFINITY;
    let hi = 0;
    for (const a of this.lazyAreas) {
      lo = Math.min(lo, a.startVpn);
      hi = Math.max(hi, a.startVpn + a.nrPages);
    }
    this.ops.flushKernelRange(lo, hi - lo);
    this.lazyAreas.length = 0;
    this.lazyPages = 0;
    this.purges++;
  }
}
