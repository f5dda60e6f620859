/**
 * The arm64 kernel's virtual layout for 48-bit VAs and 4 KiB pages, KASAN
 * off, no KASLR (Linux v6.12 arch/arm64/include/asm/memory.h, pgtable.h
 * VMALLOC_START/END, fixmap.h), and __va/__pa over the linear map.
 *
 * TTBR0_EL1 translates [0, 2^48): the user half, a process's own tables.
 * TTBR1_EL1 translates [2^64 - 2^48, 2^64): the kernel half, swapper_pg_dir.
 *
 *   PAGE_OFFSET   = -(1 << 48)          ffff000000000000  linear map (128 TB)
 *   PAGE_END      = -(1 << 47)          ffff800000000000  = MODULES_VADDR
 *   MODULES_END   = MODULES_VADDR + 2G  ffff800080000000  = KIMAGE_VADDR = VMALLOC_START
 *   VMALLOC_END   = VMEMMAP_START - 8M  fffffdffbf800000
 *   VMEMMAP_START = VMEMMAP_END - 2T    fffffdffc0000000  (PAGE_END - PAGE_OFFSET) / 4K * sizeof(struct page)
 *   VMEMMAP_END   = -1G                 ffffffffc0000000
 *   PCI_IO_START  = VMEMMAP_END + 8M    ffffffffc0800000  (16 MB)
 *   FIXADDR_TOP   = -8M                 ffffffffff800000  (fixmap slots below it)
 *
 * v6.12's Documentation/arch/arm64/memory.rst still shows the layout before
 * v6.9 moved vmemmap to the top (vmemmap at fffffc0000000000, PCI I/O at
 * fffffbfffe800000, fixmap below it); memory.h, which the kernel is built
 * from, is followed here. The linear map, modules and the start of vmalloc
 * agree in both.
 */
import type { Layout } from "../../core/layout.ts";

const SZ_8M = 8n << 20n;
const SZ_16M = 16n << 20n;
const SZ_1G = 1n << 30n;
const SZ_2G = 2n << 30n;
/** -x as an unsigned 64-bit value */
const neg = (x: bigint) => (1n << 64n) - x;

/** VA_BITS (CONFIG_ARM64_VA_BITS_48) */
export const VA_BITS = 48;
/** TASK_SIZE_64: the end of TTBR0's range */
export const TASK_SIZE = 1n << 48n;
/** PAGE_OFFSET = _PAGE_OFFSET(VA_BITS): the start of the linear map */
export const PAGE_OFFSET = neg(1n << 48n);
/** PAGE_END = _PAGE_END(VA_BITS_MIN) (KASAN off): the end of the linear map */
export const PAGE_END = neg(1n << 47n);
/** MODULES_VADDR, MODULES_END (MODULES_VSIZE = 2G) */
export const MODULES_VADDR = PAGE_END;
export const MODULES_END = MODULES_VADDR + SZ_2G;
/** KIMAGE_VADDR: the kernel image's link address (KASLR off) */
export const KIMAGE_VADDR = MODULES_END;
/** sizeof(struct page) */
const STRUCT_PAGE_SIZE = 64n;
/** VMEMMAP_END, VMEMMAP_SIZE, VMEMMAP_START */
export const VMEMMAP_END = neg(SZ_1G);
export const VMEMMAP_SIZE = ((PAGE_END - PAGE_OFFSET) >> 12n) * STRUCT_PAGE_SIZE;
export const VMEMMAP_START = VMEMMAP_END - VMEMMAP_SIZE;
/** VMALLOC_START (MODULES_END), VMALLOC_END (VA_BITS == VA_BITS_MIN: VMEMMAP_START - SZ_8M) */
export const VMALLOC_START = MODULES_END;
export const VMALLOC_END = VMEMMAP_START - SZ_8M;
/** PCI_IO_START, PCI_IO_END (PCI_IO_SIZE = 16M) */
export const PCI_IO_START = VMEMMAP_END + SZ_8M;
export const PCI_IO_END = PCI_IO_START + SZ_16M;
/** FIXADDR_TOP = -SZ_8M */
export const FIXADDR_TOP = neg(SZ_8M);
/**
 * TRAMP_VALIAS = __fix_to_virt(FIX_ENTRY_TRAMP_TEXT1): fixmap slot 524
 * (FIX_HOLE 0, FIX_FDT_END 1, FIX_FDT 514, EARLYCON 515, TEXT_POKE0 516,
 * the four GHES/SDEI slots 517-520, FIX_ENTRY_TRAMP_TEXT4..1 521-524), where
 * KPTI's trampoline vectors are mapped, in tramp_pg_dir as in swapper_pg_dir.
 */
export const TRAMP_VALIAS = FIXADDR_TOP - 524n * 4096n;
/**
 * __end_of_fixed_addresses for defconfig (fixmap.h): FIX_HOLE, the FDT
 * window (1 + DIV_ROUND_UP(MAX_FDT_SIZE = 2M, 4K) + 1), EARLYCON, TEXT_POKE0,
 * 4 GHES/SDEI slots, 4 KPTI trampoline slots (RELOCATABLE), then 7 x 64
 * early_ioremap slots and FIX_PTE..FIX_PGD: 978 pages.
 */
export const NR_FIXMAP_PAGES = 525 + 7 * 64 + 5;
/** FIXADDR_TOT_START */
export const FIXADDR_TOT_START = FIXADDR_TOP - BigInt(NR_FIXMAP_PAGES) * 4096n;

/** arm64, 4K pages, 48-bit VAs (Linux defaults, no KASLR, no KASAN). */
export const ARM64_LAYOUT: Layout = {
  profile: "linux arm64 (4K pages, 48-bit VAs)",
  levels: 4,
  userEnd: TASK_SIZE,
  // STACK_TOP = STACK_TOP_MAX = TASK_SIZE_64: no guard page below TTBR1's range
  taskSize: TASK_SIZE,
  directMap: PAGE_OFFSET,
  vmallocStart: VMALLOC_START,
  vmallocEnd: VMALLOC_END,
  vmemmap: VMEMMAP_START,
  kernelMap: KIMAGE_VADDR,
  modulesStart: MODULES_VADDR,
  modulesEnd: MODULES_END,
  fixaddrTop: FIXADDR_TOP,
  regions: [
    { name: "user", start: 0n, end: TASK_SIZE, what: "user-space virtual memory, TTBR0 (the mm's own PGD)" },
    {
      name: "linear map",
      start: PAGE_OFFSET,
      end: PAGE_END,
      what: "all physical memory (PAGE_OFFSET); TTBR1, swapper_pg_dir",
    },
    { name: "modules", start: MODULES_VADDR, end: MODULES_END, what: "module mapping space" },
    {
      name: "vmalloc",
      start: VMALLOC_START,
      end: VMALLOC_END,
      what: "vmalloc/ioremap space; the kernel image sits at its start (KIMAGE_VADDR)",
    },
    {
      name: "vmemmap",
      start: VMEMMAP_START,
      end: VMEMMAP_END,
      what: "struct page array of the linear map's range",
    },
    { name: "PCI I/O", start: PCI_IO_START, end: PCI_IO_END, what: "PCI I/O space" },
    {
      name: "fixmap",
      start: FIXADDR_TOT_START,
      end: FIXADDR_TOP,
      what: "compile-time fixed mappings (FIXADDR_TOP grows down)",
    },
  ],
};

/**
 * __va / __phys_to_virt: the linear-map address of a physical address,
 * (pa - PHYS_OFFSET) | PAGE_OFFSET. PHYS_OFFSET is memstart_addr, the
 * (aligned) start of RAM; vmlab's RAM starts at 0.
 */
export function directVa(layout: Layout, pa: number, physOffset = 0): bigint {
  return layout.directMap + BigInt(pa - physOffset);
}

/**
 * __pa / __lm_to_phys of a linear-map address, or -1 (outside the linear
 * map, or beyond RAM). Kernel-image addresses go through __pa_symbol instead.
 */
export function directPa(layout: Layout, va: bigint, ramBytes: number, physOffset = 0): number {
  const off = va - layout.directMap;
  if (off < 0n || va >= PAGE_END || off >= BigInt(ramBytes)) return -1;
  return Number(off) + physOffset;
}

/** kimage_voffset: KIMAGE_VADDR minus where the image was loaded. */
export function kimageVoffset(imagePhysStart: number): bigint {
  return KIMAGE_VADDR - BigInt(imagePhysStart);
}

/** __pa_symbol / __kimg_to_phys: the physical address of a kernel-image address. */
export function paSymbol(va: bigint, imagePhysStart: number): number {
  return Number(va - kimageVoffset(imagePhysStart));
}
