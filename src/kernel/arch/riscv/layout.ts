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
 *
 * RV32, Sv32 (CONFIG_32BIT: pgtable-32.h PGDIR_SHIFT 22, PTRS_PER_PGD 1024;
 * Kconfig PAGE_OFFSET 0xc0000000; VA_BITS_SV32 32; FLATMEM, so the vmemmap
 * range is reserved but unused):
 *   TASK_SIZE      = FIXADDR_START                     9c800000 (2.3 GB)
 *   fixmap         = FIXADDR_TOP - (PGDIR_SIZE + FIX_FDT_SIZE)  9c800000 (8 MB)
 *   PCI io         = PCI_IO_END - 16M                  9d000000 (16 MB)
 *   VMEMMAP_START  = VMALLOC_START - 2^(32-12-1+6)     9e000000 (32 MB)
 *   VMALLOC_START  = PAGE_OFFSET - KERN_VIRT_SIZE/2    a0000000 (512 MB)
 *   MODULES_VADDR  = VMALLOC_START, MODULES_END = VMALLOC_END
 *   PAGE_OFFSET    = KERNEL_LINK_ADDR                  c0000000 (1 GB, KERN_VIRT_SIZE)
 * KERN_VIRT_SIZE = (PTRS_PER_PGD / 2 * PGDIR_SIZE) / 2 = 1 GiB is also
 * setup_vm's memory_limit: RAM above 1 GiB is dropped (no HIGHMEM on RISC-V).
 * STRUCT_PAGE_MAX_SHIFT is 6 there too: a 32-bit struct page with memcg_data
 * (defconfig's CONFIG_MEMCG) is 36 bytes.
 */
import type { Layout } from "../../core/layout.ts";

const SZ_2M = 2n << 20n;
const SZ_16M = 16n << 20n;
const SZ_2G = 2n << 30n;
/** -x as an unsigned 64-bit value */
const neg = (x: bigint) => (1n << 64n) - x;

/** The paging modes the kernel runs in (satp.MODE); 32 is RV32's Sv32. */
export type RiscvVaBits = 32 | 39 | 48 | 57;

/** CONFIG_PAGE_OFFSET's default for 32BIT (arch/riscv/Kconfig) */
export const PAGE_OFFSET_32 = 0xc000_0000n;
/** KERN_VIRT_SIZE on RV32: (1024 / 2 * 4M) / 2 = 1 GiB, and setup_vm's memory_limit */
export const KERN_VIRT_SIZE_32 = 1n << 30n;

/** PAGE_OFFSET_L3, _L4, _L5 (page.h): the start of the linear map */
const PAGE_OFFSETS: Record<RiscvVaBits, bigint> = {
  32: PAGE_OFFSET_32,
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
  if (vaBits === 32) return riscv32LayoutConsts();
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

/** pgtable.h's layout under CONFIG_32BIT (the figure above). */
export function riscv32LayoutConsts(): RiscvLayoutConsts {
  const pgdirSize = 1n << 22n;
  const pageOffset = PAGE_OFFSET_32;
  const kernVirtSize = ((1024n / 2n) * pgdirSize) / 2n;
  const vmallocEnd = pageOffset;
  const vmallocStart = pageOffset - kernVirtSize / 2n;
  const vmemmapEnd = vmallocStart;
  const vmemmapStart = vmallocStart - (1n << (32n - 12n - 1n + STRUCT_PAGE_MAX_SHIFT));
  const pciIoEnd = vmemmapStart;
  const pciIoStart = pciIoEnd - SZ_16M;
  const fixaddrTop = pciIoStart;
  // FIXADDR_SIZE = PGDIR_SIZE + FIX_FDT_SIZE (MAX_FDT_SIZE = PGDIR_SIZE: the FDT in its own PGD entry)
  const fixaddrStart = fixaddrTop - 2n * pgdirSize;
  return {
    vaBits: 32,
    pgdirSize,
    // TASK_SIZE = FIXADDR_START; DEFAULT_MAP_WINDOW = TASK_SIZE (processor.h)
    taskSize: fixaddrStart,
    mapWindow: fixaddrStart,
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
    modulesVaddr: vmallocStart,
    modulesEnd: vmallocEnd,
  };
}

/** RV32's Layout: the kernel image in the linear map (KERNEL_LINK_ADDR = PAGE_OFFSET), 2 levels. */
function riscv32Layout(): Layout {
  const c = riscv32LayoutConsts();
  return {
    profile: "linux riscv32 (Sv32, 2-level)",
    levels: 2,
    userEnd: c.taskSize,
    taskSize: c.taskSize,
    directMap: c.pageOffset,
    vmallocStart: c.vmallocStart,
    vmallocEnd: c.vmallocEnd,
    vmemmap: c.vmemmapStart,
    kernelMap: c.pageOffset,
    modulesStart: c.modulesVaddr,
    modulesEnd: c.modulesEnd,
    fixaddrTop: c.fixaddrTop,
    // ELF_ET_DYN_BASE = DEFAULT_MAP_WINDOW / 3 * 2, page-aligned, and vmlab's 5-page PIE image
    brkStart: (((c.mapWindow / 3n) * 2n) & ~0xfffn) + 0x5000n,
    regions: [
      { name: "user", start: 0n, end: c.taskSize, what: "user-space virtual memory, different per mm" },
      { name: "fixmap", start: c.fixaddrStart, end: c.fixaddrTop, what: "compile-time fixed mappings" },
      { name: "PCI io", start: c.pciIoStart, end: c.pciIoEnd, what: "PCI I/O space" },
      {
        name: "vmemmap",
        start: c.vmemmapStart,
        end: c.vmemmapEnd,
        what: "reserved (FLATMEM: mem_map is in lowmem)",
      },
      {
        name: "vmalloc",
        start: c.vmallocStart,
        end: c.vmallocEnd,
        what: "vmalloc/ioremap space, modules and BPF (MODULES_VADDR = VMALLOC_START)",
      },
      {
        name: "direct map",
        start: c.pageOffset,
        end: c.pageOffset + c.kernVirtSize,
        what: "lowmem: the first 1 GiB of RAM, the kernel image in it (PAGE_OFFSET = KERNEL_LINK_ADDR)",
      },
    ],
  };
}

/** The Layout `show layout` prints and the kernel uses. */
export function riscvLayout(vaBits: RiscvVaBits, imageBytes: number): Layout {
  if (vaBits === 32) return riscv32Layout();
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
