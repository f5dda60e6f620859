/**
 * __va and __pa over x86-64's direct map of all physical memory
 * (arch/x86/include/asm/page.h, page_64.h: PAGE_OFFSET = page_offset_base).
 */
import type { Layout } from "../../core/layout.ts";

/** The direct-map address of a physical address (__va). */
export function directVa(layout: Layout, pa: number): bigint {
  return layout.directMap + BigInt(pa);
}

/** Physical address of a direct-map address (__pa), or -1. */
export function directPa(layout: Layout, va: bigint, ramBytes: number): number {
  const off = va - layout.directMap;
  if (off < 0n || off >= BigInt(ramBytes)) return -1;
  return Number(off);
}
