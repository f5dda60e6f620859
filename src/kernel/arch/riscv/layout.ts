/**
 * The RISC-V kernel's virtual layout for Sv39, Sv48 and Sv57, 4 KiB pages,
 * KASAN off, no KASLR (Linux v6.12 arch/riscv/include/asm/page.h
 * PAGE_OFFSET_L3/L4/L5, pgtable.h KERN_VIRT_SIZE, VMALLOC_*, VMEMMAP_*,
 * PCI_IO_*, FIXADDR_*, MODULES_*, KERNEL_LINK_ADDR, TASK_SIZE_64;
 * processor.h DEFAULT_MAP_WINDOW; Documentation/arch/riscv/vm-layout.rst),
 * and __va/__pa over the linear map.
 *
 * One satp root translates both halves: the user half [0, TASK_SIZE) is
 * the process's own, the kernel half (from -2^(VA_BITS-1)) is swapper_pg_dir's
 * entries copied into every PGD (pgd_alloc -> sync_kernel_mappings).
 *
 * Sv39 (PGDIR_SIZE 1G):
 *   TASK_SIZE      = PGDIR_SIZE * PTRS_PER_PGD / 2   0000004000000000 (256 GB)
 *   fixmap         = FIXADDR_TOP - FIXADDR_SIZE      ffffffc4fea00000 (6 MB)
 *   PCI io         = PCI_IO_END - 16M                ffffffc4ff000000 (16 MB)
 *   VMEMMAP_START  = VMALLOC_START - 2^VMEMMAP_SHIFT ffffffc500000000 (4 GB)
 *   VMALLOC_START  = PAGE_OFFSET - KERN_VIRT_SIZE/2  ffffffc600000000 (64 GB)
 *   PAGE_OFFSET    = PAGE_OFFSET_L3                  ffffffd600000000 (128 GB)
 *   MODULES_VADDR  = PFN_ALIGN(_end) - 2G            ffffffff00600000
 *   KERNEL_LINK_ADDR = -2G                           ffffffff80000000
 * Sv48 and Sv57 scale the first five with PGDIR_SIZE (512G, 256T) and
 * VA_BITS; modules and the kernel are where Sv39 has them.
 *
 * vm-layout.rst draws the modules from ffffffff00000000; the kernel, built
 * from pgtable.h, puts MODULES_VADDR 2G below the image's end (here a 6 MiB
 * image: ffffffff00600000), which is what is followed here.
 */
import type { Layout } from "../../core/layout.ts";

const SZ_2M = 2n << 20n;
const SZ_16M = 16n << 20n;
const SZ_2G = 2n << 30n;
/** -x as an unsigned 64-bit value */
const neg = (x: bigint) => (1n << 64n) - x;

/** The paging modes the kernel runs in (satp.MODE). */
export type RiscvVaBits = 39 | 48 | 57;

/** PAGE_OFFSET_L3, _L4, _L5 (page.h): the start of the linear map */
const PAGE_OFFSETS: Record<RiscvVaBits, bigint> = {
  39: 0xffff_ffd6_0000_0000n,
  48: 0xffff_af80_0000_0000n,
  57: 0xff60_0000_0000_0000n,
};

/** KERNEL_LINK_ADDR = ADDRESS_SPACE_END - SZ_2G + 1: the image's link address, in every mode */
export const KERNEL_LINK_ADDR = neg(SZ_2G);
/** STRUCT_PAGE_MAX_SHIFT: log2(sizeof(struct page)) = 6 */
const STRUCT_PAGE_MAX_SHIFT = 6n;

/** Every address the layout of one mode fixes. */
export interface RiscvLayoutConsts {
  vaBits: RiscvVaBits;
  /** PGDIR_SIZE: what one top-level entry maps */
  pgdirSize: bigint;
  /** TASK_SIZE_64 = PGDIR_SIZE * PTRS_PER_PGD / 2 */
  taskSize: bigint;
  /** DEFAULT_MAP_WINDOW: mmap's limit without a hint above it, and STACK_TOP */
  mapWindow: bigint;
  pageOffset: bigint;
  /** KERN_VIRT_SIZE = PTRS_PER_PGD / 2 * PGDIR_SIZE / 2: the linear map's size */
  kernVirtSize: bigint;
  vmallocStart: bigint;
  vmallocEnd: bigint;
  vmemmapStart: bigint;
  vmemmapEnd: bigint;
  pciIoStart: bigint;
  pciIoEnd: bigint;
  fixaddrStart: bigint;
  fixaddrTop: bigint;
  modulesVaddr: bigint;
  modulesEnd: bigint;
}

/** The layout constants of a mode, for a kernel image of `imageBytes`. */
export function riscvLayoutConsts(vaBits: RiscvVaBits, imageBytes: number): RiscvLayoutConsts {
  const levels = BigInt((vaBits - 12) / 9);
  const pgdirSize = 1n << (12n + 9n * (levels - 1n));
  const taskSize = (pgdirSize * 512n) / 2n;
  const pageOffset = PAGE_OFFSETS[vaBits];
  const kernVirtSize = (256n * pgdirSize) / 2n;
  const vmallocEnd = pageOffset;
  const vmallocStart = pageOffset - kernVirtSize / 2n;
  // VMEMMAP_SHIFT = VA_BITS - PAGE_SHIFT - 1 + STRUCT_PAGE_MAX_SHIFT
  const vmemmapSize = 1n << (BigInt(vaBits) - 12n - 1n + STRUCT_PAGE_MAX_SHIFT);
  const vmemmapEnd = vmallocStart;
  const vmemmapStart = vmallocStart - vmemmapSize;
  const pciIoEnd = vmemmapStart;
  const pciIoStart = pciIoEnd - SZ_16M;
  const fixaddrTop = pciIoStart;
  // FIXADDR_SIZE = PMD_SIZE + FIX_FDT_SIZE (MAX_FDT_SIZE = PMD_SIZE, + SZ_2M)
  const fixaddrStart = fixaddrTop - (SZ_2M + SZ_2M + SZ_2M);
  // PFN_ALIGN(_end) - SZ_2G .. PFN_ALIGN(_start)
  const end = KERNEL_LINK_ADDR + BigInt(Math.ceil(imageBytes / 4096) * 4096);
  return {
    vaBits,
    pgdirSize,
    taskSize,
    // MMAP_VA_BITS_64 = min(VA_BITS, 48): DEFAULT_MAP_WINDOW = 1 << (MMAP_VA_BITS - 1)
    mapWindow: 1n << BigInt(Math.min(vaBits, 48) - 1),
    pageOffset,
    kernVirtSize,
    vmallocStart,
    vmallocEnd,
    vmemmapStart,
    vmemmapEnd,
    pciIoStart,
    pciIoEnd,
    fixaddrStart,
    fixaddrTop,
    modulesVaddr: end - SZ_2G,
    modulesEnd: KERNEL_LINK_ADDR,
  };
}

/** The Layout `show layout` prints and the kernel uses. */
export function riscvLayout(vaBits: RiscvVaBits, imageBytes: number): Layout {
  const c = riscvLayoutConsts(vaBits, imageBytes);
  return {
    profile: `linux riscv64 (Sv${vaBits}, ${(vaBits - 12) / 9}-level)`,
    levels: (vaBits - 12) / 9,
    userEnd: c.taskSize,
    // TASK_SIZE. Linux's Sv57 starts the stack and mmap at DEFAULT_MAP_WINDOW (2^47) unless mmap is
    // given a higher hint; vmlab's generic mm has one TASK_SIZE for both, as for x86_64-la57
    taskSize: c.taskSize,
    directMap: c.pageOffset,
    vmallocStart: c.vmallocStart,
    vmallocEnd: c.vmallocEnd,
    vmemmap: c.vmemmapStart,
    kernelMap: KERNEL_LINK_ADDR,
    modulesStart: c.modulesVaddr,
    modulesEnd: c.modulesEnd,
    fixaddrTop: c.fixaddrTop,
    // ELF_ET_DYN_BASE = DEFAULT_MAP_WINDOW / 3 * 2, page-aligned (ELF_PAGESTART), and vmlab's 5-page PIE image
    brkStart: (((c.mapWindow / 3n) * 2n) & ~0xfffn) + 0x5000n,
    regions: [
      { name: "user", start: 0n, end: c.taskSize, what: "user-space virtual memory, different per mm" },
      { name: "fixmap", start: c.fixaddrStart, end: c.fixaddrTop, what: "compile-time fixed mappings" },
      { name: "PCI io", start: c.pciIoStart, end: c.pciIoEnd, what: "PCI I/O space" },
      { name: "vmemmap", start: c.vmemmapStart, end: c.vmemmapEnd, what: "struct page array" },
      { name: "vmalloc", start: c.vmallocStart, end: c.vmallocEnd, what: "vmalloc/ioremap space" },
      {
        name: "direct map",
        start: c.pageOffset,
        end: c.pageOffset + c.kernVirtSize,
        what: "direct mapping of all physical memory (PAGE_OFFSET)",
      },
      {
        name: "modules",
        start: c.modulesVaddr,
        end: c.modulesEnd,
        what: "modules, BPF (2G below the image's end)",
      },
      {
        name: "kernel",
        start: KERNEL_LINK_ADDR,
        end: 1n << 64n,
        what: "the kernel image (KERNEL_LINK_ADDR)",
      },
    ],
  };
}

/** __va: the linear-map address of a physical address (phys_ram_base is 0 in vmlab). */
export function directVa(layout: Layout, pa: number): bigint {
  return layout.directMap + BigInt(pa);
}

/** __pa of a linear-map address, or -1 (outside the linear map, or beyond RAM). */
export function directPa(layout: Layout, va: bigint, ramBytes: number): number {
  const off = va - layout.directMap;
  if (off < 0n || off >= BigInt(ramBytes)) return -1;
  return Number(off);
}
