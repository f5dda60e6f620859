/**
 * The kernel's allocation API: kmalloc and kfree (mm/slab_common.c, over
 * the SLUB caches of mm/slab.ts or, above 8 KiB, pages), vmalloc and vfree
 * (mm/vmalloc.c), alloc_pages and free_pages (mm/page_alloc.c). Addresses
 * are the direct map's (or vmalloc's); failures are 0n (NULL), and a bad
 * free returns what was wrong with it.
 */
import { InputError } from "../../base/errors.ts";
import { MAX_ORDER } from "../mm/buddy.ts";
import { PageKind } from "../mm/PageDesc.ts";
import { KMALLOC_MAX_CACHE_SIZE, kmallocIndex, ZERO_SIZE_PTR } from "../mm/slab.ts";
import type { KernelCore } from "./core.ts";
import { px } from "./vaddr.ts";

/**
 * kmalloc: a slab object for sizes up to 8 KiB, physically contiguous pages
 * beyond (kmalloc_large). Returns the direct-map address, ZERO_SIZE_PTR
 * for size 0, or 0n (NULL) when no memory could be had.
 */
export function kmalloc(k: KernelCore, size: number, gfp: number): bigint {
  if (!Number.isSafeInteger(size) || size < 0)
    throw new InputError(`kmalloc: size must be a non-negative integer, not ${size}`);
  if (size === 0) return ZERO_SIZE_PTR;
  if (size > KMALLOC_MAX_CACHE_SIZE) {
    let order = 0;
    while (4096 * 2 ** order < size) order++;
    if (order > MAX_ORDER) {
      k.log.push(`WARNING: kmalloc of ${size} bytes exceeds MAX_PAGE_ORDER (${MAX_ORDER})`);
      return 0n;
    }
    const pfn = k.buddy.alloc(order, gfp, PageKind.KmallocLarge);
    return pfn < 0 ? 0n : k.arch.directVa(pfn * 4096);
  }
  const pa = k.slab.alloc(k.slab.caches[kmallocIndex(size)], gfp);
  return pa < 0 ? 0n : k.arch.directVa(pa);
}

/** kfree. Returns null, or what was wrong with the pointer (Linux would BUG or corrupt memory). */
export function kfree(k: KernelCore, va: bigint): string | null {
  if (va === 0n || va === ZERO_SIZE_PTR) return null;
  const pa = k.arch.directPa(va, k.machine.phys.sizeBytes);
  if (pa < 0) return `kfree: 0x${px(va)} is not a kmalloc address (not in the direct map)`;
  const pfn = Math.floor(pa / 4096);
  const kind = k.pages.kind[pfn];
  if (kind === PageKind.KmallocLarge) {
    if (pa % 4096 !== 0 || k.pages.order[pfn] < 0)
      return `kfree: 0x${px(va)} is inside a large kmalloc, not its start`;
    const err = k.buddy.free(pfn, k.pages.order[pfn]);
    return err === null ? null : `kfree: ${err}`;
  }
  if (kind !== PageKind.Slab) {
    return kind === PageKind.Free
      ? `kfree: double free or invalid free of 0x${px(va)} (the page is free)`
      : `kfree: 0x${px(va)} was not allocated by kmalloc (page is ${kindName(kind)})`;
  }
  const err = k.slab.free(pa);
  if (err === "double-free") return `kfree: double free of 0x${px(va)}`;
  if (err === "misaligned") return `kfree: 0x${px(va)} is not the start of an object`;
  return err === null ? null : `kfree: ${err}`;
}

/** vmalloc: returns the area's address, or 0n. */
export function vmalloc(k: KernelCore, size: number): bigint {
  if (!Number.isSafeInteger(size) || size < 0)
    throw new InputError(`vmalloc: size must be a non-negative integer, not ${size}`);
  const r = k.vm.alloc(size, k.buddy.managedPages());
  if (typeof r === "string") {
    if (r !== "zero-size")
      k.log.push(
        `vmalloc error: size ${size}, ${r === "too-large" ? "exceeds total pages" : r === "no-kva" ? "vmalloc space exhausted" : "failed to allocate pages"}`,
      );
    return 0n;
  }
  return k.va.canonical(r.startVpn);
}

/** vfree: null, or what was wrong with the address. */
export function vfree(k: KernelCore, va: bigint): string | null {
  if (va === 0n) return null;
  if (!k.va.isCanonical(va) || k.va.offset(va) !== 0) return `vfree: 0x${px(va)} is not a vmalloc address`;
  const err = k.vm.free(k.va.vpn(va));
  return err === null ? null : `vfree: 0x${px(va)} is not the start of a vmalloc area`;
}

/** alloc_pages + page_address: 2^order contiguous frames, as a direct-map address; 0n on failure. */
export function allocPages(k: KernelCore, order: number, gfp: number): bigint {
  if (!Number.isInteger(order) || order < 0 || order > MAX_ORDER) {
    throw new InputError(`alloc_pages: order must be 0..${MAX_ORDER}, not ${order}`);
  }
  const pfn = k.buddy.alloc(order, gfp, PageKind.KernelPages);
  return pfn < 0 ? 0n : k.arch.directVa(pfn * 4096);
}

/** free_pages: null, or what was wrong with the address. */
export function freePages(k: KernelCore, va: bigint, order: number): string | null {
  const pa = k.arch.directPa(va, k.machine.phys.sizeBytes);
  if (pa < 0 || pa % 4096 !== 0) return `free_pages: 0x${px(va)} is not a page address in the direct map`;
  const pfn = pa / 4096;
  if (k.pages.kind[pfn] !== PageKind.KernelPages && k.pages.kind[pfn] !== PageKind.Free) {
    return `free_pages: 0x${px(va)} was not allocated by alloc_pages (page is ${kindName(k.pages.kind[pfn])})`;
  }
  const err = k.buddy.free(pfn, order);
  if (err === null) return null;
  return err === "not-allocated"
    ? `free_pages: double free of 0x${px(va)}`
    : `free_pages: ${err} (order ${order})`;
}

/** A frame kind's name, as messages print it. */
export function kindName(kind: PageKind): string {
  return (
    [
      "free",
      "reserved",
      "kernel image",
      "page table",
      "slab",
      "kmalloc-large",
      "vmalloc",
      "kernel pages",
      "memmap",
      "user",
      "page cache",
    ][kind] ?? `kind ${kind}`
  );
}

/**
 * The frame a kernel virtual address maps to in init_mm (a software walk:
 * lookup_address), or -1.
 */
export function kernelPfn(k: KernelCore, va: bigint): number {
  if (!k.va.isCanonical(va)) return -1;
  const vpn = k.va.vpn(va);
  const e = k.mapper.lookup(k.rootPfn, vpn);
  if (e === null) return -1;
  const pt = k.arch.pgtable;
  const span = pt.ptrsPerTable ** e.level;
  const base = pt.pfn(e.hi, e.lo, e.level);
  return base - (base % span) + (vpn % span);
}
