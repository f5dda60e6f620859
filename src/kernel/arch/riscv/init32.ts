/**
 * The RV32 part of boot (Linux v6.12 arch/riscv/mm/init.c under
 * CONFIG_32BIT: setup_vm's memory_limit, setup_bootmem,
 * create_linear_mapping_page_table, best_map_size, pgtable_cache_init),
 * swapper_pg_dir for Sv32 in RAM before the buddy allocator exists.
 *
 * - setup_vm sets memory_limit = KERN_VIRT_SIZE (1 GiB) and setup_bootmem
 *   enforces it (memblock_enforce_memory_limit), then reserves what would
 *   map above -PAGE_SIZE ("This memory belongs to high memory, which is not
 *   supported"): RISC-V has no HIGHMEM, so RAM from 1 GiB - 4 KiB on is
 *   never given to the buddy allocator. Linux prints no line for either.
 * - The kernel runs from the linear map (KERNEL_LINK_ADDR = PAGE_OFFSET):
 *   no separate kernel mapping (setup_vm_final's create_kernel_page_table is
 *   64-bit only). STRICT_KERNEL_RWX: the text PAGE_KERNEL_READ_EXEC
 *   (pgprot_from_va), rodata read-only after mark_rodata_ro, the rest
 *   PAGE_KERNEL; elsewhere 4 MiB PGD leaves where aligned (best_map_size:
 *   PMD_SIZE is PGDIR_SIZE with the PMD folded).
 * - FLATMEM: mem_map comes from memblock in lowmem (no vmemmap mapping).
 * - The fixmap's PTE table (fixmap_pte, under FIXADDR_START's PGD entry).
 * - pgtable_cache_init's preallocate_pgd_pages_range allocates nothing:
 *   p4d/pud/pmd_alloc are folded into the PGD. A vmalloc PGD entry made
 *   after a process's pgd_alloc reaches its PGD through vmalloc_fault
 *   (arch/riscv/mm/fault.c, !CONFIG_64BIT).
 *
 * vmlab's RAM starts at physical 0 with the image at 16 MiB; Linux's rv32
 * makes PAGE_OFFSET the image's physical address (va_pa_offset =
 * PAGE_OFFSET - kernel_map.phys_addr, the image at DRAM's start). vmlab
 * maps PAGE_OFFSET to physical 0 instead (phys_ram_base 0, as its RV64
 * model), so the 16 MiB under the image are lowmem too.
 */
import { assert } from "../../../base/assert.ts";
import { type Pfn, pfnUnchecked, toPfn, vpnUnchecked } from "../../../base/units.ts";
import { type RiscvMapFlags, RiscvMapper } from "../../../hw/arch/riscv/Mapper.ts";
import type { Machine } from "../../../hw/machine/Machine.ts";
import type { FrameAllocator } from "../../../hw/mmu/Mapper.ts";
import type { ArchMemoryMap } from "../../core/core.ts";
import type { Memblock } from "../../core/memblock.ts";
import type { Vaddr } from "../../core/vaddr.ts";
import type { ZoneLayout } from "../../mm/buddy.ts";
import { type PageDescTable, PageKind } from "../../mm/PageDesc.ts";
import { IMAGE_END_PFN, IMAGE_START_PFN, KERNEL_RODATA, KERNEL_TEXT, PAGE_KERNEL } from "./init.ts";
import { KERN_VIRT_SIZE_32, type RiscvLayoutConsts } from "./layout.ts";

/** sizeof(struct page) on RV32 with CONFIG_MEMCG (defconfig): 36 bytes */
export const STRUCT_PAGE_SIZE_32 = 36;
/** memory_limit = KERN_VIRT_SIZE: the frames of RAM setup_bootmem keeps */
export const MEMORY_LIMIT_PFNS_32 = Number(KERN_VIRT_SIZE_32) / 4096;

/**
 * max_low_pfn: RAM up to the 1 GiB memory_limit, less the page reserved
 * under -PAGE_SIZE (__va_to_pa_nodebug(-PAGE_SIZE) = 1 GiB - 4 KiB here):
 * the frames the buddy allocator may get.
 */
export function lowmemEndPfn32(nrFrames: number): number {
  return Math.min(nrFrames, MEMORY_LIMIT_PFNS_32 - 1);
}

/**
 * zone_sizes_init on RV32: ZONE_NORMAL alone, to max_low_pfn. arch/riscv/Kconfig selects
 * ZONE_DMA32 `if 64BIT` and never ZONE_DMA, so the two lower zones do not exist at all.
 */
export function zones32(nrFrames: number): ZoneLayout {
  const end = lowmemEndPfn32(nrFrames);
  return {
    names: ["DMA", "DMA32", "Normal"],
    endPfns: [0, 0, end],
    normal: 2,
    highmem: 2,
    dma32: false,
    unconfigured: [0, 1],
  };
}

/** PAGE_KERNEL_READ (rodata after mark_rodata_ro) */
const PAGE_KERNEL_READ: RiscvMapFlags = { nx: true, global: true, accessed: true, dirty: true };
/** PAGE_KERNEL_READ_EXEC (text, pgprot_from_va) */
const PAGE_KERNEL_READ_EXEC: RiscvMapFlags = { global: true, accessed: true, dirty: true };

/**
 * setup_bootmem + setup_vm_final + paging_init for Sv32: the memory limit,
 * swapper_pg_dir's linear map, mem_map, the fixmap's table. Returns the
 * memory map and mem_map's first frame.
 */
export function setupVm32(
  machine: Machine,
  pages: PageDescTable,
  memblock: Memblock,
  va: Vaddr,
  consts: RiscvLayoutConsts,
): ArchMemoryMap & { memMapPfn: number } {
  const nrFrames = machine.phys.nrFrames;
  // ---- setup_bootmem: memblock_enforce_memory_limit(memory_limit), memblock_reserve(-PAGE_SIZE's PA..) ----
  const mapped = Math.min(nrFrames, MEMORY_LIMIT_PFNS_32);
  memblock.enforceMemoryLimit(lowmemEndPfn32(nrFrames));
  const tables: FrameAllocator = { allocFrame: () => memblock.alloc(1, 1, PageKind.PageTable) };
  const boot = new RiscvMapper(machine.phys, tables, 2);
  const rootPfn: Pfn = toPfn(boot.newRoot());
  pages.setKind(IMAGE_START_PFN, IMAGE_END_PFN - IMAGE_START_PFN, PageKind.KernelImage);

  // ---- create_linear_mapping_page_table: memblock's memory (the reserved top page too) ----
  const linearVpn = va.vpn(consts.pageOffset);
  const textEnd = IMAGE_START_PFN + KERNEL_TEXT / 4096;
  const rodataEnd = textEnd + KERNEL_RODATA / 4096;
  const ranges: [number, number, RiscvMapFlags][] = [
    [0, Math.min(IMAGE_START_PFN, mapped), PAGE_KERNEL],
    [IMAGE_START_PFN, textEnd, PAGE_KERNEL_READ_EXEC],
    [textEnd, rodataEnd, PAGE_KERNEL_READ],
    [rodataEnd, mapped, PAGE_KERNEL],
  ];
  for (const [start, end, flags] of ranges) {
    let pfn = start;
    while (pfn < end) {
      // best_map_size: a 4 MiB PGD leaf where both addresses are aligned and the range holds it
      const size = pfn % 1024 === 0 && end - pfn >= 1024 ? 1 : 0;
      const r = boot.map(rootPfn, vpnUnchecked(linearVpn + pfn), pfnUnchecked(pfn), size, flags);
      assert(r.ok, "boot: linear map");
      pfn += size === 1 ? 1024 : 1;
    }
  }
  // ---- mem_map (FLATMEM): struct page for every frame of lowmem, from memblock ----
  const memmapPages = Math.ceil((lowmemEndPfn32(nrFrames) * STRUCT_PAGE_SIZE_32) / 4096);
  const memMapPfn = memblock.alloc(memmapPages, 1, PageKind.Memmap);
  // ---- the fixmap's page table (fixmap_pte) ----
  assert(boot.ensureTable(rootPfn, va.vpn(consts.fixaddrStart), 0) >= 0, "boot: fixmap");
  return {
    rootPfn,
    pageKernel: PAGE_KERNEL,
    vmallocStartVpn: va.vpn(consts.vmallocStart),
    vmallocEndVpn: va.vpn(consts.vmallocEnd - 1n) + 1,
    memMapPfn,
  };
}
