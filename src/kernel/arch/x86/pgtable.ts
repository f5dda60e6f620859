/**
 * x86-64 address helpers of the kernel (arch/x86/include/asm/page.h,
 * pgtable.h): __va and __pa over the direct map, a software walk of init_mm
 * (lookup_address), and the user PGD of a PTI pair (kernel_to_user_pgdp).
 */
import type { KernelCore } from "../../core.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";

/** The direct-map address of a physical address (__va). */
export function directVa(k: KernelCore, pa: number): bigint {
  return k.layout.directMap + BigInt(pa);
}

/** Physical address of a direct-map address (__pa), or -1. */
export function directPa(k: KernelCore, va: bigint): number {
  const off = va - k.layout.directMap;
  if (off < 0n || off >= BigInt(k.machine.phys.sizeBytes)) return -1;
  return Number(off);
}

/** The frame a kernel virtual address maps to in init_mm (software walk), or -1. */
export function kernelPfn(k: KernelCore, va: bigint): number {
  if (!k.va.isCanonical(va)) return -1;
  const vpn = k.va.vpn(va);
  const e = k.mapper.lookup(k.rootPfn, vpn);
  if (e === null) return -1;
  const base = ((e.hi & 0x3fff) * 4294967296 + ((e.lo & 0xfffff000) >>> 0)) / 4096;
  const span = [1, 512, 262144][e.level];
  const largeBase = e.level > 0 ? base - (base % span) : base;
  return largeBase + (vpn % span);
}

/** The PGD user code runs on: under PTI the second page of the pair, else the only one. */
export function userPgdPfn(k: KernelCore, mm: MmStruct): number {
  return k.config.pti ? mm.pgdPfn + 1 : mm.pgdPfn;
}
