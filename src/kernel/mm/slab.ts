import { assert } from "../../base/assert.ts";
import type { BuddyAllocator } from "./buddy.ts";
import { MAX_ORDER } from "./buddy.ts";
import { Gfp } from "./gfp.ts";
import { type PageDescTable, PageKind } from "./PageDesc.ts";

/** kmalloc size classes (Linux: kmalloc_info[], with KMALLOC_MIN_SIZE 8). */
export const KMALLOC_SIZES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192] as const;
/** Largest size served from a cache; above it kmalloc goes to the page allocator. */
export const KMALLOC_MAX_CACHE_SIZE = 8192;
/** What kmalloc(0) returns: a non-NULL pointer that faults when used (include/linux/slab.h). */
export const ZERO_SIZE_PTR = 16n;
/** SLUB's slub_max_order default. */
const SLUB_MAX_ORDER = 3;
const MAX_OBJS_PER_PAGE = 32767;

/** One slab: a buddy block carved into objects. */
interface Slab {
  pfn: number;
  inuse: number;
  /** free object indices, LIFO (SLUB's freelist: the last freed is the next allocated) */
  free: number[];
  /** allocated[i] = 1 when object i is in use (for double-free detection) */
  allocated: Uint8Array;
}

/**
 * A slab cache (Linux: struct kmem_cache, mm/slub.c). Objects come from
 * slabs of 2^order pages; the current slab serves allocations until full,
 * then a partial slab, then a new one. An empty slab goes back to the page
 * allocator once the cache keeps `minPartial` partial slabs.
 *
 * Not modelled: per-CPU slabs and partial lists (one CPU's view),
 * freelist randomisation, debug red zones.
 */
export class KmemCache {
  readonly order: number;
  readonly objsPerSlab: number;
  readonly minPartial: number;
  /** head pfn -> slab */
  readonly slabs = new Map<number, Slab>();
  current: Slab | null = null;
  readonly partial: Slab[] = [];
  activeObjs = 0;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly objSize: number,
    nrCpus: number,
  ) {
    this.order = calculateOrder(objSize, nrCpus);
    this.objsPerSlab = Math.floor((4096 * 2 ** this.order) / objSize);
    this.minPartial = Math.max(5, Math.min(10, Math.floor(Math.log2(objSize) / 2)));
  }

  get numSlabs(): number {
    return this.slabs.size;
  }

  get numObjs(): number {
    return this.slabs.size * this.objsPerSlab;
  }
}

/** SLUB's calc_slab_order: the smallest order whose leftover is at most 1/fract of the slab. */
function calcSlabOrder(size: number, minOrder: number, maxOrder: number, fract: number): number {
  let order = minOrder;
  for (; order <= maxOrder; order++) {
    const slabSize = 4096 * 2 ** order;
    if (slabSize % size <= slabSize / fract) break;
  }
  return order;
}

function getOrder(size: number): number {
  let order = 0;
  while (4096 * 2 ** order < size) order++;
  return order;
}

/**
 * SLUB's calculate_order (mm/slub.c): wants at least 4 * (fls(nr_cpus) + 1)
 * objects per slab, at most slub_max_order, with little waste.
 */
export function calculateOrder(size: number, nrCpus: number): number {
  const fls = 32 - Math.clz32(nrCpus);
  let minObjects = 4 * (fls + 1);
  const maxObjects = Math.max(Math.floor((4096 * 2 ** SLUB_MAX_ORDER) / size), 1);
  minObjects = Math.min(minObjects, maxObjects);
  const minOrder = getOrder(minObjects * size);
  if (Math.floor((4096 * 2 ** minOrder) / size) > MAX_OBJS_PER_PAGE)
    return getOrder(size * MAX_OBJS_PER_PAGE) - 1;
  for (let fraction = 16; fraction > 1; fraction /= 2) {
    const order = calcSlabOrder(size, minOrder, SLUB_MAX_ORDER, fraction);
    if (order <= SLUB_MAX_ORDER) return order;
  }
  return getOrder(size);
}

/** Index of the kmalloc cache for a size (kmalloc_index): the smallest class that holds it. */
export function kmallocIndex(size: number): number {
  for (let i = 0; i < KMALLOC_SIZES.length; i++) if (size <= KMALLOC_SIZES[i]) return i;
  return -1;
}

export type SlabFreeError = "not-slab" | "misaligned" | "double-free";

/**
 * The kmalloc caches and their slabs. Addresses here are physical (pa);
 * the kernel turns them into direct-map virtual addresses.
 */
export class SlabAllocator {
  readonly caches: KmemCache[];

  constructor(
    readonly buddy: BuddyAllocator,
    readonly pages: PageDescTable,
    nrCpus: number,
  ) {
    this.caches = KMALLOC_SIZES.map((size, i) => new KmemCache(i, kmallocName(size), size, nrCpus));
  }

  /** Allocates one object; returns its physical address, or -1 when no slab could be had. */
  alloc(cache: KmemCache, gfp: number): number {
    let slab = cache.current;
    if (slab === null || slab.free.length === 0) {
      slab = cache.partial.shift() ?? this.newSlab(cache, gfp);
      if (slab === null) return -1;
      cache.current = slab;
    }
    const idx = slab.free.pop()!;
    slab.allocated[idx] = 1;
    slab.inuse++;
    cache.activeObjs++;
    return slab.pfn * 4096 + idx * cache.objSize;
  }

  /**
   * allocate_slab: the cache's order first, without retries or warnings; on
   * failure the smallest order that holds one object (SLUB's fallback).
   */
  private newSlab(cache: KmemCache, gfp: number): Slab | null {
    let order = cache.order;
    let pfn = this.buddy.alloc(order, (gfp | Gfp.NOWARN | Gfp.NORETRY) & ~Gfp.DIRECT_RECLAIM, PageKind.Slab);
    if (pfn < 0) {
      order = getOrder(cache.objSize);
      pfn = this.buddy.alloc(order, gfp, PageKind.Slab);
      if (pfn < 0) return null;
    }
    const objs = Math.floor((4096 * 2 ** order) / cache.objSize);
    for (let i = pfn; i < pfn + 2 ** order; i++) this.pages.priv[i] = cache.id;
    const free: number[] = [];
    for (let i = objs - 1; i >= 0; i--) free.push(i); // object 0 is handed out first
    const slab: Slab = { pfn, inuse: 0, free, allocated: new Uint8Array(objs) };
    cache.slabs.set(pfn, slab);
    return slab;
  }

  /** The cache and slab owning a slab page, or null. */
  private slabOf(pfn: number): { cache: KmemCache; slab: Slab } | null {
    if (this.pages.kind[pfn] !== PageKind.Slab) return null;
    const cache = this.caches[this.pages.priv[pfn]];
    if (!cache) return null;
    // the slab's head: walk down to an aligned head that the cache knows
    for (let order = 0; order <= MAX_ORDER; order++) {
      const head = pfn - (pfn % 2 ** order);
      const slab = cache.slabs.get(head);
      if (slab && pfn < head + 2 ** this.pages.order[head]) return { cache, slab };
    }
    return null;
  }

  /** Frees the object at physical address pa. */
  free(pa: number): SlabFreeError | null {
    const pfn = Math.floor(pa / 4096);
    const found = this.slabOf(pfn);
    if (found === null) return "not-slab";
    const { cache, slab } = found;
    const off = pa - slab.pfn * 4096;
    if (off % cache.objSize !== 0) return "misaligned";
    const idx = off / cache.objSize;
    if (slab.allocated[idx] === 0) return "double-free";
    slab.allocated[idx] = 0;
    slab.free.push(idx);
    slab.inuse--;
    cache.activeObjs--;
    if (slab !== cache.current) {
      const wasFull = slab.inuse + 1 === slab.allocated.length;
      if (wasFull) cache.partial.push(slab);
      if (slab.inuse === 0 && cache.partial.length > cache.minPartial) {
        cache.partial.splice(cache.partial.indexOf(slab), 1);
        this.discard(cache, slab);
      }
    }
    return null;
  }

  private discard(cache: KmemCache, slab: Slab): void {
    cache.slabs.delete(slab.pfn);
    const err = this.buddy.free(slab.pfn, this.pages.order[slab.pfn]);
    assert(err === null, `discard_slab: ${err}`);
  }

  /** The object size of the slab object containing pa, or -1. */
  objectSize(pa: number): number {
    const found = this.slabOf(Math.floor(pa / 4096));
    return found ? found.cache.objSize : -1;
  }

  /** Pages held by all slabs. */
  slabPages(): number {
    let n = 0;
    for (const c of this.caches) for (const s of c.slabs.values()) n += 2 ** this.pages.order[s.pfn];
    return n;
  }

  /** /proc/slabinfo (version 2.1) lines for the kmalloc caches, largest first as Linux lists them. */
  slabinfo(): string[] {
    const lines = [
      "slabinfo - version: 2.1",
      "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>",
    ];
    for (const c of [...this.caches].reverse()) {
      lines.push(
        `${c.name.padEnd(17)} ${String(c.activeObjs).padStart(6)} ${String(c.numObjs).padStart(6)} ${String(c.objSize).padStart(6)} ${String(c.objsPerSlab).padStart(4)} ${String(2 ** c.order).padStart(4)} : tunables ${"0".padStart(4)} ${"0".padStart(4)} ${"0".padStart(4)} : slabdata ${String(c.numSlabs).padStart(6)} ${String(c.numSlabs).padStart(6)} ${"0".padStart(6)}`,
      );
    }
    return lines;
  }

  /** Every Slab page belongs to a slab of the cache its priv names; counts agree. */
  check(): string[] {
    const problems: string[] = [];
    let pagesInSlabs = 0;
    for (const c of this.caches) {
      let active = 0;
      for (const [pfn, s] of c.slabs) {
        const order = this.pages.order[pfn];
        pagesInSlabs += 2 ** order;
        for (let i = pfn; i < pfn + 2 ** order; i++) {
          if (this.pages.kind[i] !== PageKind.Slab || this.pages.priv[i] !== c.id)
            problems.push(`slab ${c.name}: pfn ${i} not marked as its slab page`);
        }
        let inuse = 0;
        for (const a of s.allocated) inuse += a;
        if (inuse !== s.inuse)
          problems.push(`slab ${c.name} at pfn ${pfn}: inuse ${s.inuse}, ${inuse} objects marked`);
        if (s.inuse + s.free.length !== s.allocated.length)
          problems.push(`slab ${c.name} at pfn ${pfn}: free list and inuse disagree`);
        active += inuse;
      }
      if (active !== c.activeObjs)
        problems.push(`slab ${c.name}: active_objs ${c.activeObjs}, counted ${active}`);
    }
    let slabKind = 0;
    for (let i = 0; i < this.pages.nrFrames; i++) if (this.pages.kind[i] === PageKind.Slab) slabKind++;
    if (slabKind !== pagesInSlabs)
      problems.push(`slab: ${slabKind} frames of kind slab, ${pagesInSlabs} in slabs`);
    return problems;
  }
}

function kmallocName(size: number): string {
  return size >= 1024 ? `kmalloc-${size / 1024}k` : `kmalloc-${size}`;
}
