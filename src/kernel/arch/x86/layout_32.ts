/**
 * The 32-bit x86 kernel's virtual layout: the 3G/1G split, lowmem, the
 * vmalloc area, PKMAP, the LDT remap, the cpu_entry_area and the fixmap.
 * Linux: arch/x86/include/asm/page_32_types.h (PAGE_OFFSET, TASK_SIZE,
 * __VMALLOC_RESERVE), pgtable_32_areas.h (VMALLOC_OFFSET, VMALLOC_START,
 * PKMAP_BASE, VMALLOC_END, MAXMEM), fixmap.h (enum fixed_addresses, the
 * FIX_KMAP slots of kmap_local), arch/x86/mm/init_32.c
 * (find_low_pfn_range: max_low_pfn, high_memory).
 *
 * Config assumed (a distribution's i386 kernel): CONFIG_HIGHMEM4G (or
 * HIGHMEM64G with PAE), CONFIG_VMSPLIT_3G, CONFIG_NR_CPUS 8 (64 for a
 * machine with more CPUs), X86_LOCAL_APIC, X86_IO_APIC (MAX_IO_APICS 128),
 * no KASLR.
 */
import type { Layout } from "../../core/layout.ts";

/** PAGE_OFFSET (CONFIG_PAGE_OFFSET with VMSPLIT_3G): the kernel's first address, and __PAGE_OFFSET of __va. */
export const PAGE_OFFSET_32 = 0xc000_0000;
/** TASK_SIZE = PAGE_OFFSET: user space is the low 3 GiB; STACK_TOP = TASK_SIZE. */
export const TASK_SIZE_32 = PAGE_OFFSET_32;
/** VMALLOC_OFFSET: the 8 MiB hole between the end of lowmem and the vmalloc area (catches overruns). */
export const VMALLOC_OFFSET = 8 << 20;
/** __VMALLOC_RESERVE: the least vmalloc space lowmem leaves (128 MiB, vmalloc= changes it). */
export const VMALLOC_RESERVE = 128 << 20;
/** FIXADDR_TOP (__FIXADDR_TOP = -PAGE_SIZE without a hypervisor reserving the top). */
export const FIXADDR_TOP_32 = 0xffff_f000;
/** KM_MAX_IDX (asm-generic/kmap_size.h): kmap_local slots per CPU. */
export const KM_MAX_IDX = 16;
/** MAX_IO_APICS on 32-bit */
const MAX_IO_APICS = 128;
/** NR_FIX_BTMAPS * FIX_BTMAPS_SLOTS: early_ioremap's boot-time slots (reused after boot) */
const TOTAL_FIX_BTMAPS = 64 * 8;
/** sizeof(struct cpu_entry_area) in pages on 32-bit (GDT, entry stack, TSS with its I/O bitmap, the #DF stack) */
const CEA_PAGES_PER_CPU = 8;

/** The 32-bit layout: Linux's Layout, and the values of the areas that are 32-bit's own. */
export interface Layout32 extends Layout {
  pae: boolean;
  /** CONFIG_NR_CPUS the layout was computed for */
  nrCpus: number;
  /** max_low_pfn: the first frame with no direct-map address (ZONE_HIGHMEM starts here) */
  maxLowPfn: number;
  /** max_pfn */
  maxPfn: number;
  /** high_memory: __va(max_low_pfn << PAGE_SHIFT), the end of lowmem's mapping */
  highMemory: number;
  vmallocStart32: number;
  vmallocEnd32: number;
  /** MAXMEM: the most lowmem the direct map holds (VMALLOC_END - PAGE_OFFSET - __VMALLOC_RESERVE) */
  maxmem: number;
  /** PKMAP_BASE, LAST_PKMAP (1024; 512 with PAE: one page table's PTEs) */
  pkmapBase: number;
  lastPkmap: number;
  /** LDT_BASE_ADDR (the PTI LDT remap's PMD), CPU_ENTRY_AREA_BASE */
  ldtBase: number;
  ceaBase: number;
  /** enum fixed_addresses: FIX_KMAP_BEGIN, and the number of slots (__end_of_fixed_addresses) */
  fixKmapBegin: number;
  fixKmapEnd: number;
  endOfFixedAddresses: number;
  /** FIXADDR_TOT_START: the lowest fixmap address (the boot-time slots included) */
  fixaddrTotStart: number;
}

/** __fix_to_virt: fixmap slot idx counts down from FIXADDR_TOP. */
export function fixToVirt(idx: number): number {
  return FIXADDR_TOP_32 - idx * 4096;
}

/** PKMAP_ADDR(nr): kmap()'s permanent slot nr. */
export function pkmapAddr(l: Layout32, nr: number): number {
  return l.pkmapBase + nr * 4096;
}

/**
 * The layout for a machine of `ramBytes` with `cpus` CPUs, 32-bit paging or
 * PAE (PMD_SIZE 4 MiB or 2 MiB: the alignment of the areas below the fixmap).
 */
export function i386Layout(pae: boolean, ramBytes: number, cpus: number): Layout32 {
  const nrCpus = cpus <= 8 ? 8 : 64;
  const pmdSize = pae ? 2 << 20 : 4 << 20;
  const pmdMask = (a: number) => a - (a % pmdSize);
  // enum fixed_addresses (fixmap.h, CONFIG_X86_32)
  const FIX_HOLE = 0;
  const FIX_APIC_BASE = FIX_HOLE + 1;
  const FIX_IO_APIC_BASE_0 = FIX_APIC_BASE + 1;
  const fixKmapBegin = FIX_IO_APIC_BASE_0 + MAX_IO_APICS;
  const fixKmapEnd = fixKmapBegin + KM_MAX_IDX * nrCpus - 1;
  const FIX_TEXT_POKE1 = fixKmapEnd + 1;
  const FIX_TEXT_POKE0 = FIX_TEXT_POKE1 + 1;
  const endPermanent = FIX_TEXT_POKE0 + 1;
  // FIX_BTMAP_END: the boot-time slots must not cross a page table (PTRS_PER_PTE)
  const ptrs = pae ? 512 : 1024;
  const crosses =
    Math.floor(endPermanent / ptrs) !== Math.floor((endPermanent + TOTAL_FIX_BTMAPS - 1) / ptrs);
  const btmapEnd = crosses
    ? endPermanent + TOTAL_FIX_BTMAPS - (endPermanent & (TOTAL_FIX_BTMAPS - 1))
    : endPermanent;
  const endOfFixedAddresses = btmapEnd + TOTAL_FIX_BTMAPS;
  const fixaddrTotStart = FIXADDR_TOP_32 - endOfFixedAddresses * 4096;
  // pgtable_32_areas.h
  const ceaPages = nrCpus * CEA_PAGES_PER_CPU;
  const ceaBase = pmdMask(fixaddrTotStart - 4096 * (ceaPages + 1));
  const ldtBase = pmdMask(ceaBase - 4096);
  const pkmapBase = pmdMask(ldtBase - 4096);
  const lastPkmap = pae ? 512 : 1024;
  const vmallocEnd = pkmapBase - 2 * 4096;
  const maxmem = vmallocEnd - PAGE_OFFSET_32 - VMALLOC_RESERVE;
  // find_low_pfn_range: lowmem is what MAXMEM holds; the rest is highmem
  const maxPfn = Math.floor(ramBytes / 4096);
  const maxLowPfn = Math.min(maxPfn, Math.floor(maxmem / 4096));
  const highMemory = PAGE_OFFSET_32 + maxLowPfn * 4096;
  const vmallocStart = highMemory + VMALLOC_OFFSET;
  const B = BigInt;
  const highmemBytes = (maxPfn - maxLowPfn) * 4096;
  return {
    profile: pae ? "linux i386 (PAE, 3-level, 3G/1G split)" : "linux i386 (2-level, 3G/1G split)",
    levels: pae ? 3 : 2,
    userEnd: B(TASK_SIZE_32),
    taskSize: B(TASK_SIZE_32),
    directMap: B(PAGE_OFFSET_32),
    vmallocStart: B(vmallocStart),
    vmallocEnd: B(vmallocEnd),
    // no vmemmap: FLATMEM's mem_map array lives in lowmem
    vmemmap: B(PAGE_OFFSET_32),
    // the image is part of lowmem (__START_KERNEL_map is PAGE_OFFSET); modules go in the vmalloc area
    kernelMap: B(PAGE_OFFSET_32),
    modulesStart: B(highMemory),
    modulesEnd: B(vmallocEnd),
    fixaddrTop: B(FIXADDR_TOP_32),
    // ELF_ET_DYN_BASE for ia32 (0x400000) plus a 16 KiB image
    pieBrkVpn: 0x404,
    regions: [
      {
        name: "user",
        start: 0n,
        end: B(TASK_SIZE_32),
        what: "user space, different per mm (TASK_SIZE = PAGE_OFFSET)",
      },
      {
        name: "lowmem",
        start: B(PAGE_OFFSET_32),
        end: B(highMemory),
        what: `the direct map of frames 0..max_low_pfn 0x${maxLowPfn.toString(16)} (kernel image at 0xc1000000)${highmemBytes > 0 ? `; ${Math.floor(highmemBytes / 2 ** 20)} MiB of highmem above it has no kernel address` : ""}`,
      },
      {
        name: "vmalloc",
        start: B(vmallocStart),
        end: B(vmallocEnd),
        what: "vmalloc/ioremap and modules (VMALLOC_START = high_memory + VMALLOC_OFFSET 8 MiB)",
      },
      {
        name: "pkmap",
        start: B(pkmapBase),
        end: B(pkmapBase + lastPkmap * 4096),
        what: `kmap()'s permanent slots (PKMAP_BASE, LAST_PKMAP ${lastPkmap})`,
      },
      {
        name: "ldt remap",
        start: B(ldtBase),
        end: B(ldtBase + pmdSize),
        what: "PTI's LDT mapping (LDT_BASE_ADDR)",
      },
      {
        name: "cpu_entry_area",
        start: B(ceaBase),
        end: B(ceaBase + ceaPages * 4096),
        what: "per-CPU GDT, TSS, entry stack (CPU_ENTRY_AREA_BASE)",
      },
      {
        name: "fixmap",
        start: B(fixaddrTotStart),
        end: B(FIXADDR_TOP_32 + 4096),
        what: `fixed mappings, slot i at FIXADDR_TOP - i pages; kmap_local's FIX_KMAP_BEGIN..END = ${fixKmapBegin}..${fixKmapEnd} (${KM_MAX_IDX} per CPU)`,
      },
    ],
    pae,
    nrCpus,
    maxLowPfn,
    maxPfn,
    highMemory,
    vmallocStart32: vmallocStart,
    vmallocEnd32: vmallocEnd,
    maxmem,
    pkmapBase,
    lastPkmap,
    ldtBase,
    ceaBase,
    fixKmapBegin,
    fixKmapEnd,
    endOfFixedAddresses,
    fixaddrTotStart,
  };
}

/** __va of a lowmem physical address; -1n for highmem (page_address of a highmem page is NULL unless kmapped). */
export function directVa32(l: Layout32, pa: number): bigint {
  return pa < 0 || pa >= l.maxLowPfn * 4096 ? -1n : BigInt(PAGE_OFFSET_32 + pa);
}

/** __pa of a lowmem address, or -1. */
export function directPa32(l: Layout32, va: bigint): number {
  if (va < BigInt(PAGE_OFFSET_32) || va >= BigInt(l.highMemory)) return -1;
  return Number(va) - PAGE_OFFSET_32;
}
