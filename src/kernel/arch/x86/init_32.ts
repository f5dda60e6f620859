/**
 * The 32-bit x86 part of boot (arch/x86/kernel/setup.c, head_32.S,
 * arch/x86/mm/init_32.c): swapper_pg_dir, lowmem's direct map
 * (kernel_physical_mapping_init), the page tables of the PKMAP area
 * (permanent_kmaps_init) and of the fixmap (early_ioremap_page_table_range_init,
 * page_table_range_init), FLATMEM's mem_map in lowmem, and the CPUs'
 * paging registers. Highmem frames (max_low_pfn and up) are not mapped:
 * they get a kernel address only through kmap (highmem_32.ts).
 */
import { assert } from "../../../base/assert.ts";
import { type Pfn, pfnUnchecked, toPfn, vpnUnchecked } from "../../../base/units.ts";
import { I386Cpu } from "../../../hw/arch/i386/Cpu.ts";
import { I386Mapper } from "../../../hw/arch/i386/Mapper.ts";
import type { Machine } from "../../../hw/machine/Machine.ts";
import type { FrameAllocator, MapFlags } from "../../../hw/mmu/Mapper.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { ArchMemoryMap } from "../../core/core.ts";
import type { Memblock } from "../../core/memblock.ts";
import { type PageDescTable, PageKind } from "../../mm/PageDesc.ts";
import {
  IMAGE_END_PFN,
  IMAGE_START_PFN,
  KERNEL_DATA,
  KERNEL_RODATA,
  KERNEL_TEXT,
  LOW_RESERVED_PFNS,
} from "./init.ts";
import type { Layout32 } from "./layout_32.ts";
import { MAXPHYADDR_32 } from "./pgtable_32.ts";
import { ptiInit32, setupCpuEntryAreas32 } from "./pti_32.ts";

/** sizeof(struct page) on 32-bit */
export const STRUCT_PAGE_SIZE_32 = 32;

/** A 32-bit x86 CPU of the kernel's machine. */
export function i386Cpu(cpu: Mmu): I386Cpu {
  assert(cpu instanceof I386Cpu, "i386: the machine's CPU is not a 32-bit x86 CPU");
  return cpu;
}

export function i386Cpus(machine: Machine): I386Cpu[] {
  return machine.cpus.map(i386Cpu);
}

/** PAGE_KERNEL (NX only where the CPU has it: PAE with EFER.NXE; the mapper ignores nx without PAE) */
export const PAGE_KERNEL_32: MapFlags = {
  writable: true,
  nx: true,
  global: true,
  accessed: true,
  dirty: true,
};
const PAGE_KERNEL_RO: MapFlags = { nx: true, global: true, accessed: true, dirty: true };
const PAGE_KERNEL_RX: MapFlags = { global: true, accessed: true, dirty: true };

/**
 * swapper_pg_dir and the kernel's tables, from memblock. Lowmem is mapped
 * at PAGE_OFFSET + phys with large pages (4 MiB, PAE 2 MiB: PSE is on),
 * except the large pages holding the image, which are split into 4K pages
 * so that text is RX, rodata RO and data RW (mark_rodata_ro's end state).
 * PAE: the PDPT's four PMDs come with it (the fourth is the kernel PMD
 * that every process's PDPTE 3 shares).
 */
export function initMemMapping32(
  machine: Machine,
  pages: PageDescTable,
  memblock: Memblock,
  layout: Layout32,
  pti = false,
): ArchMemoryMap & { kernelPmdPfn: number; memMapPfn: number } {
  const pae = layout.pae;
  // PTI: swapper_pg_dir is 8 KiB-aligned with the user PDPT above it (head_32.S PGD_ALIGN, PTI_USER_PGD_FILL)
  let pair = pti ? memblock.alloc(2, 2, PageKind.PageTable) : -1;
  const bootTables: FrameAllocator = {
    allocFrame: () => {
      const f = pair;
      pair = -1;
      return f >= 0 ? pfnUnchecked(f) : memblock.alloc(1, 1, PageKind.PageTable);
    },
  };
  const boot = new I386Mapper(machine.phys, pae, bootTables, MAXPHYADDR_32);
  const rootPfn: Pfn = toPfn(boot.newRoot());
  if (pti) machine.phys.zeroFrame(pfnUnchecked(rootPfn + 1));
  // PTI: the kernel is mostly non-global (probe_page_size_mask: __default_kernel_pte_mask &= ~_PAGE_GLOBAL)
  const kf = (f: MapFlags): MapFlags => (pti ? { ...f, global: false } : f);
  // the PAE root's PMDs were allocated with it: memblock marked them page tables
  pages.setKind(0, LOW_RESERVED_PFNS, PageKind.Reserved);
  pages.setKind(IMAGE_START_PFN, IMAGE_END_PFN - IMAGE_START_PFN, PageKind.KernelImage);

  // ---- kernel_physical_mapping_init: lowmem, large pages where the image is not ----
  const large = pae ? 512 : 1024;
  const pageOffsetVpn = layout.directMap === 0n ? 0 : Number(layout.directMap / 4096n);
  const imageEnd = IMAGE_END_PFN;
  let pfn = 0;
  while (pfn < layout.maxLowPfn) {
    const blockHasImage = pfn < imageEnd && pfn + large > IMAGE_START_PFN;
    if (pfn % large === 0 && pfn + large <= layout.maxLowPfn && !blockHasImage) {
      const r = boot.map(
        rootPfn,
        vpnUnchecked(pageOffsetVpn + pfn),
        pfnUnchecked(pfn),
        1,
        kf(PAGE_KERNEL_32),
      );
      assert(r.ok, "boot: lowmem large page");
      pfn += large;
      continue;
    }
    let flags = PAGE_KERNEL_32;
    if (pfn >= IMAGE_START_PFN && pfn < IMAGE_START_PFN + KERNEL_TEXT / 4096) flags = PAGE_KERNEL_RX;
    else if (pfn >= IMAGE_START_PFN && pfn < IMAGE_START_PFN + (KERNEL_TEXT + KERNEL_RODATA) / 4096)
      flags = PAGE_KERNEL_RO;
    assert(
      boot.map(rootPfn, vpnUnchecked(pageOffsetVpn + pfn), pfnUnchecked(pfn), 0, kf(flags)).ok,
      "boot: lowmem",
    );
    pfn++;
  }
  void KERNEL_DATA;
  // ---- mem_map (FLATMEM): struct page for every frame, in lowmem from memblock ----
  const memmapPages = Math.ceil((machine.phys.nrFrames * STRUCT_PAGE_SIZE_32) / 4096);
  const memMapPfn = memblock.alloc(memmapPages, 1, PageKind.Memmap);
  // ---- permanent_kmaps_init: the PKMAP area's page table (pkmap_page_table) ----
  const pkmapVpn = layout.pkmapBase / 4096;
  for (let v = pkmapVpn; v < pkmapVpn + layout.lastPkmap; v += large)
    assert(boot.ensureTable(rootPfn, vpnUnchecked(v), 0) >= 0, "boot: pkmap");
  // ---- the fixmap's page tables (kmap_local's FIX_KMAP slots among them) ----
  for (let v = layout.fixaddrTotStart / 4096; v < 0x100000; v += large - (v % large))
    assert(boot.ensureTable(rootPfn, vpnUnchecked(v), 0) >= 0, "boot: fixmap");
  if (pti) {
    // ---- PTI: the cpu_entry_area (setup_cpu_entry_areas), then pti_init's clones into the user PDPT ----
    setupCpuEntryAreas32(boot, rootPfn, layout, machine.cpus.length, memblock, PAGE_KERNEL_32);
    ptiInit32(boot, rootPfn, layout, machine.cpus.length);
  }
  const kernelPmdPfn = pae ? boot.entryAt(rootPfn, vpnUnchecked(0xc0000), 2) : null;
  return {
    rootPfn,
    pageKernel: kf(PAGE_KERNEL_32),
    vmallocStartVpn: layout.vmallocStart32 / 4096,
    vmallocEndVpn: layout.vmallocEnd32 / 4096,
    memMapPfn,
    kernelPmdPfn: kernelPmdPfn === null ? -1 : Math.floor(((kernelPmdPfn.lo & 0xfffff000) >>> 0) / 4096),
  };
}

/** Each CPU's paging on: CR0.WP, CR4.PSE/PGE/SMEP/SMAP, EFER.NXE (PAE only: 32-bit paging has no XD bit), CR3 = swapper_pg_dir. */
export function cpuInit32(
  machine: Machine,
  rootPfn: number,
  cfg: { smep: boolean; smap: boolean },
  pae: boolean,
): void {
  for (const cpu of i386Cpus(machine)) {
    cpu.setNxe(pae);
    cpu.setWp(true);
    cpu.movToCr4({ pse: true, pge: true, smep: cfg.smep, smap: cfg.smap });
    assert(cpu.movToCr3(rootPfn * 4096) === 0, "boot: MOV to CR3");
  }
}
