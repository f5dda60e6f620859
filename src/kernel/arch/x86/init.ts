/**
 * The x86-64 part of boot (arch/x86/kernel/setup.c, arch/x86/mm/init.c,
 * init_64.c, pti.c): where the kernel image sits, the kernel's page tables
 * built in RAM before the buddy allocator exists (init_mem_mapping's direct
 * map, the image mapping, vmemmap, the preallocated vmalloc tables, the
 * fixmap table, PTI's cpu_entry_area), and the CPUs' paging registers.
 */

import { assert } from "../../../base/assert.ts";
import { type Pfn, pfnAdd, pfnUnchecked, toPfn, vpnAdd, vpnUnchecked } from "../../../base/units.ts";
import { type FrameAllocator, type MapFlags, Mapper } from "../../../hw/arch/x86_64/Mapper.ts";
import type { Machine } from "../../../hw/machine/Machine.ts";
import type { ArchMemoryMap } from "../../core/core.ts";
import type { Layout } from "../../core/layout.ts";
import type { Memblock } from "../../core/memblock.ts";
import type { Vaddr } from "../../core/vaddr.ts";
import { type PageDescTable, PageKind } from "../../mm/PageDesc.ts";
import { x86Cpus } from "./cpu.ts";
import { INIT_PKRU_VALUE } from "./pkeys.ts";
import { CEA_PAGES_PER_CPU, CPU_ENTRY_AREA_BASE, ENTRY_TEXT_START, ptiInitUserPgd } from "./pti.ts";

/** Where the kernel image sits in physical memory: CONFIG_PHYSICAL_START (16 MiB). */
export const KERNEL_PHYS_START = 16 << 20;
/** Kernel image sections (bytes): text (read-only, executable), rodata (read-only, NX), data+bss (NX). */
export const KERNEL_TEXT = 2 << 20;
export const KERNEL_RODATA = 2 << 20;
export const KERNEL_DATA = 2 << 20;
/** The image's first frame and the first frame after it (where memblock allocates). */
export const IMAGE_START_PFN = KERNEL_PHYS_START / 4096;
export const IMAGE_END_PFN = IMAGE_START_PFN + (KERNEL_TEXT + KERNEL_RODATA + KERNEL_DATA) / 4096;
/** x86 keeps the first MiB (BIOS, real-mode trampoline) out of the allocators. */
export const LOW_RESERVED_PFNS = 256;
/** empty_zero_page: the last page of the image's bss */
export const EMPTY_ZERO_PAGE_PFN = IMAGE_END_PFN - 1;
/** sizeof(struct page) */
const STRUCT_PAGE_SIZE = 64;

/** PAGE_KERNEL: present, writable, accessed, dirty, global, NX. */
const PAGE_KERNEL: MapFlags = { writable: true, nx: true, global: true, accessed: true, dirty: true };
const PAGE_KERNEL_RO: MapFlags = { nx: true, global: true, accessed: true, dirty: true };
const PAGE_KERNEL_RX: MapFlags = { global: true, accessed: true, dirty: true };

/**
 * The kernel's page tables, in frames from memblock (Linux: the early page
 * tables of setup_arch, init_mem_mapping, paging_init, pti_init): the
 * direct map with 4K pages for the first 2 MiB, then 2M pages, 1G from
 * 1 GiB; the image at __START_KERNEL_map + phys with 2M pages, text RX,
 * rodata RO, data RW; vmemmap in 2M blocks; the vmalloc area's tables below
 * the top level; the fixmap's page table; with PTI the cpu_entry_area and
 * the user PGD's kernel part.
 */
export function initMemMapping(
  machine: Machine,
  pages: PageDescTable,
  memblock: Memblock,
  va: Vaddr,
  layout: Layout,
  levels: 4 | 5,
  pti: boolean,
): ArchMemoryMap {
  const nrFrames = machine.phys.nrFrames;
  const bootTables: FrameAllocator = { allocFrame: () => memblock.alloc(1, 1, PageKind.PageTable) };
  const boot = new Mapper(machine.phys, levels, 46, bootTables);
  // init_top_pgt; with PTI an 8 KiB-aligned pair whose second page is the user PGD
  let rootPfn: Pfn;
  if (pti) {
    rootPfn = memblock.alloc(2, 2, PageKind.PageTable);
    machine.phys.zeroFrame(pfnAdd(rootPfn, 1));
  } else rootPfn = toPfn(boot.newRoot()); // memblock throws rather than run out
  // with PTI the kernel is mostly non-global (__default_kernel_pte_mask &= ~_PAGE_GLOBAL)
  const kf = (f: MapFlags): MapFlags => (pti ? { ...f, global: false } : f);
  pages.setKind(0, LOW_RESERVED_PFNS, PageKind.Reserved);
  pages.setKind(IMAGE_START_PFN, IMAGE_END_PFN - IMAGE_START_PFN, PageKind.KernelImage);

  // ---- the direct map (init_mem_mapping): 4K for the first 2 MiB, then 2M pages, 1G from 1 GiB ----
  const directVpn = va.vpn(layout.directMap);
  let pfn = 0;
  while (pfn < nrFrames) {
    let size = 0;
    if (pfn >= 262144 && pfn % 262144 === 0 && pfn + 262144 <= nrFrames) size = 2;
    else if (pfn >= 512 && pfn % 512 === 0 && pfn + 512 <= nrFrames) size = 1;
    const r = boot.map(rootPfn, vpnAdd(directVpn, pfn), pfnUnchecked(pfn), size, kf(PAGE_KERNEL));
    assert(r.ok, "boot: direct map");
    pfn += [1, 512, 262144][size];
  }
  // ---- the kernel image at __START_KERNEL_map + phys, 2M pages ----
  const kernelMapVpn = va.vpn(layout.kernelMap);
  const sections: [number, MapFlags][] = [
    [KERNEL_TEXT, kf(PAGE_KERNEL_RX)],
    [KERNEL_RODATA, kf(PAGE_KERNEL_RO)],
    [KERNEL_DATA, kf(PAGE_KERNEL)],
  ];
  let at = IMAGE_START_PFN;
  for (const [bytes, flags] of sections) {
    for (let p = at; p < at + bytes / 4096; p += 512) {
      assert(boot.map(rootPfn, vpnAdd(kernelMapVpn, p), pfnUnchecked(p), 1, flags).ok, "boot: kernel image");
    }
    at += bytes / 4096;
  }
  // ---- vmemmap: the struct page array, in 2M blocks (vmemmap_populate_hugepages) ----
  const memmapPages = Math.ceil((nrFrames * STRUCT_PAGE_SIZE) / 4096);
  const vmemmapVpn = va.vpn(layout.vmemmap);
  for (let off = 0; off < memmapPages; off += 512) {
    const block = memblock.alloc(512, 512, PageKind.Memmap);
    assert(boot.map(rootPfn, vpnAdd(vmemmapVpn, off), block, 1, kf(PAGE_KERNEL)).ok, "boot: vmemmap");
  }
  // ---- vmalloc: the tables below the top level are preallocated (preallocate_vmalloc_pages) ----
  const vmStart = va.vpn(layout.vmallocStart);
  const vmEnd = va.vpn(layout.vmallocEnd - 1n) + 1;
  const topSpan = 512 ** (levels - 1);
  for (let v: number = vmStart; v < vmEnd; v += topSpan)
    assert(boot.ensureTable(rootPfn, vpnUnchecked(v), levels - 2) >= 0, "boot: vmalloc");
  // ---- fixmap: its page table (level1_fixmap_pgt), no slot mapped while idle ----
  assert(boot.ensureTable(rootPfn, va.vpn(layout.fixaddrTop - 4096n), 0) >= 0, "boot: fixmap");
  if (pti) {
    // ---- PTI: the cpu_entry_area (per CPU: GDT, entry stack, TSS), then the user PGD's kernel part ----
    const ceaVpn = va.vpn(CPU_ENTRY_AREA_BASE);
    for (let c = 0; c < machine.cpus.length; c++) {
      const frames = memblock.alloc(CEA_PAGES_PER_CPU, 1, PageKind.KernelPages);
      for (let i = 0; i < CEA_PAGES_PER_CPU; i++) {
        const flags = i === 0 ? PAGE_KERNEL_RO : PAGE_KERNEL; // the GDT is mapped read-only
        const vpn = vpnAdd(ceaVpn, c * CEA_PAGES_PER_CPU + i);
        assert(boot.map(rootPfn, vpn, pfnAdd(frames, i), 0, flags).ok, "boot: cea");
      }
    }
    ptiInitUserPgd(boot, rootPfn, va.vpn(ENTRY_TEXT_START), ceaVpn);
  }
  return { rootPfn, pageKernel: kf(PAGE_KERNEL), vmallocStartVpn: vmStart, vmallocEndVpn: vmEnd };
}

/**
 * Each CPU's paging on (EFER.NXE, CR0.WP, CR4.PGE/PCIDE/SMEP/SMAP) with
 * CR3 = init_mm's PGD; with protection keys, CR4.PKE and PKRU =
 * init_pkru_value (arch/x86/kernel/cpu/common.c setup_pku:
 * cr4_set_bits(X86_CR4_PKE), pkru_write_default).
 */
export function cpuInit(
  machine: Machine,
  rootPfn: number,
  cfg: { pcid: boolean; smep: boolean; smap: boolean; pku: boolean },
): void {
  for (const cpu of x86Cpus(machine)) {
    cpu.setNxe(true);
    cpu.setWp(true);
    cpu.movToCr4({ pge: true, pcide: cfg.pcid, smep: cfg.smep, smap: cfg.smap, pke: cfg.pku });
    if (cfg.pku) cpu.wrpkru(INIT_PKRU_VALUE);
    cpu.loadCr3(rootPfn * 4096, 0, false);
  }
}
