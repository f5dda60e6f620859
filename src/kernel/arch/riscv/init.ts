/**
 * The RISC-V part of boot (arch/riscv/mm/init.c setup_vm, setup_vm_final,
 * create_kernel_page_table, create_linear_mapping_page_table,
 * best_map_size, vmemmap_populate, preallocate_pgd_pages_range;
 * arch/riscv/kernel/head.S relocate_enable_mmu): where the kernel image
 * sits, swapper_pg_dir built in RAM before the buddy allocator exists, and
 * each hart's satp.
 *
 * Not modelled: trampoline_pg_dir and early_pg_dir (the two-step switch
 * from the boot tables), the FDT mapping, KASLR, XIP, set_memory_* splits
 * of the linear map, Svpbmt/Svnapot mappings.
 */
import { assert } from "../../../base/assert.ts";
import { type Pfn, pfnUnchecked, toPfn, vpnAdd, vpnUnchecked } from "../../../base/units.ts";
import type { RiscvCpu } from "../../../hw/arch/riscv/Cpu.ts";
import { type RiscvMapFlags, RiscvMapper } from "../../../hw/arch/riscv/Mapper.ts";
import type { Machine } from "../../../hw/machine/Machine.ts";
import type { FrameAllocator } from "../../../hw/mmu/Mapper.ts";
import type { ArchMemoryMap } from "../../core/core.ts";
import type { Layout } from "../../core/layout.ts";
import type { Memblock } from "../../core/memblock.ts";
import type { Vaddr } from "../../core/vaddr.ts";
import { type PageDescTable, PageKind } from "../../mm/PageDesc.ts";
import type { RiscvLayoutConsts } from "./layout.ts";

/** Where the image is loaded in physical memory (vmlab: 16 MiB, PMD-aligned as the boot protocol asks on RV64). */
export const KERNEL_PHYS_START = 16 << 20;
/** Kernel image sections (bytes): text (RX), rodata (R), data+bss (RW). */
export const KERNEL_TEXT = 2 << 20;
export const KERNEL_RODATA = 2 << 20;
export const KERNEL_DATA = 2 << 20;
export const IMAGE_BYTES = KERNEL_TEXT + KERNEL_RODATA + KERNEL_DATA;
export const IMAGE_START_PFN = KERNEL_PHYS_START / 4096;
export const IMAGE_END_PFN = IMAGE_START_PFN + IMAGE_BYTES / 4096;
/** RISC-V reserves no low memory of its own (the SBI firmware sits below the kernel: vmlab gives it nothing) */
export const LOW_RESERVED_PFNS = 0;
/** empty_zero_page: a page of the image's bss (vmlab: its last page) */
export const EMPTY_ZERO_PAGE_PFN = IMAGE_END_PFN - 1;
/** sizeof(struct page) */
const STRUCT_PAGE_SIZE = 64;

/** PAGE_KERNEL: R W, accessed, dirty, global, not executable, no U */
export const PAGE_KERNEL: RiscvMapFlags = {
  writable: true,
  nx: true,
  global: true,
  accessed: true,
  dirty: true,
};
/** PAGE_KERNEL_READ (rodata and the linear alias of the image's text and rodata) */
const PAGE_KERNEL_READ: RiscvMapFlags = { nx: true, global: true, accessed: true, dirty: true };
/** PAGE_KERNEL_READ_EXEC (text) */
const PAGE_KERNEL_READ_EXEC: RiscvMapFlags = { global: true, accessed: true, dirty: true };

/** The leaf sizes best_map_size may pick, as levels: P4D (Sv57), PUD, PMD, PAGE */
function bestMapSize(pfn: number, vpn: number, pages: number, levels: number): number {
  for (let size = Math.min(levels - 2, 3); size > 0; size--) {
    const span = 512 ** size;
    if (pfn % span === 0 && vpn % span === 0 && pages >= span) return size;
  }
  return 0;
}

/**
 * setup_vm + setup_vm_final + paging_init: swapper_pg_dir with
 * - create_linear_mapping_page_table: all RAM at PAGE_OFFSET, each range in
 *   the largest pages best_map_size allows (PUD, PMD, then 4K), PAGE_KERNEL;
 *   under STRICT_KERNEL_RWX the image's text and rodata are their own
 *   ranges, read-only in the linear map (pgprot_from_va);
 * - create_kernel_page_table: the image at KERNEL_LINK_ADDR in PMD pages,
 *   text RX, rodata R, data RW (after mark_rodata_ro);
 * - vmemmap_populate (vmemmap_populate_hugepages): struct page in PMDs;
 * - the fixmap's tables (fixmap_pte);
 * - preallocate_pgd_pages_range for vmalloc and modules: one table below
 *   each of their PGD entries, so that sync_kernel_mappings' copy at
 *   pgd_alloc stays complete (no vmalloc_fault on 64-bit).
 */
export function setupVm(
  machine: Machine,
  pages: PageDescTable,
  memblock: Memblock,
  va: Vaddr,
  layout: Layout,
  consts: RiscvLayoutConsts,
  levels: 3 | 4 | 5,
): ArchMemoryMap {
  const nrFrames = machine.phys.nrFrames;
  const tables: FrameAllocator = { allocFrame: () => memblock.alloc(1, 1, PageKind.PageTable) };
  const boot = new RiscvMapper(machine.phys, tables, levels);
  const rootPfn: Pfn = toPfn(boot.newRoot());
  pages.setKind(IMAGE_START_PFN, IMAGE_END_PFN - IMAGE_START_PFN, PageKind.KernelImage);

  // ---- create_linear_mapping_page_table ----
  const linearVpn = va.vpn(layout.directMap);
  const textEnd = IMAGE_START_PFN + KERNEL_TEXT / 4096;
  const rodataEnd = textEnd + KERNEL_RODATA / 4096;
  const ranges: [number, number, RiscvMapFlags][] = [
    [0, Math.min(IMAGE_START_PFN, nrFrames), PAGE_KERNEL],
    [IMAGE_START_PFN, textEnd, PAGE_KERNEL_READ],
    [textEnd, rodataEnd, PAGE_KERNEL_READ],
    [rodataEnd, nrFrames, PAGE_KERNEL],
  ];
  for (const [start, end, flags] of ranges) {
    let pfn = start;
    while (pfn < end) {
      const vpn = linearVpn + pfn;
      const size = bestMapSize(pfn, vpn, end - pfn, levels);
      const r = boot.map(rootPfn, vpnUnchecked(vpn), pfnUnchecked(pfn), size, flags);
      assert(r.ok, "boot: linear map");
      pfn += 512 ** size;
    }
  }
  // ---- create_kernel_page_table: the image at KERNEL_LINK_ADDR, PMD pages ----
  const imageVpn = va.vpn(layout.kernelMap);
  const sections: [number, RiscvMapFlags][] = [
    [KERNEL_TEXT, PAGE_KERNEL_READ_EXEC],
    [KERNEL_RODATA, PAGE_KERNEL_READ],
    [KERNEL_DATA, PAGE_KERNEL],
  ];
  let at = IMAGE_START_PFN;
  for (const [bytes, flags] of sections) {
    for (let p = at; p < at + bytes / 4096; p += 512) {
      const r = boot.map(rootPfn, vpnAdd(imageVpn, p - IMAGE_START_PFN), pfnUnchecked(p), 1, flags);
      assert(r.ok, "boot: kernel image");
    }
    at += bytes / 4096;
  }
  // ---- vmemmap_populate: the struct page array in PMD pages ----
  const memmapPages = Math.ceil((nrFrames * STRUCT_PAGE_SIZE) / 4096);
  const vmemmapVpn = va.vpn(layout.vmemmap);
  for (let off = 0; off < memmapPages; off += 512) {
    const block = memblock.alloc(512, 512, PageKind.Memmap);
    assert(boot.map(rootPfn, vpnAdd(vmemmapVpn, off), block, 1, PAGE_KERNEL).ok, "boot: vmemmap");
  }
  // ---- the fixmap's page table (fixmap_pte), no slot mapped while idle ----
  assert(boot.ensureTable(rootPfn, va.vpn(consts.fixaddrStart), 0) >= 0, "boot: fixmap");
  // ---- preallocate_pgd_pages_range(VMALLOC_START, VMALLOC_END) and the modules' ----
  const topSpan = 512 ** (levels - 1);
  const prealloc = (start: bigint, end: bigint) => {
    const s = va.vpn(start);
    const e = va.vpn(end - 1n) + 1;
    for (let v = s - (s % topSpan); v < e; v += topSpan)
      assert(boot.ensureTable(rootPfn, vpnUnchecked(v), levels - 2) >= 0, "boot: preallocate");
  };
  prealloc(consts.vmallocStart, consts.vmallocEnd);
  prealloc(consts.modulesVaddr, consts.modulesEnd);
  return {
    rootPfn,
    pageKernel: PAGE_KERNEL,
    vmallocStartVpn: va.vpn(consts.vmallocStart),
    vmallocEndVpn: va.vpn(consts.vmallocEnd - 1n) + 1,
  };
}

/**
 * Each hart's switch to swapper_pg_dir (setup_vm_final's csr_write(satp),
 * relocate_enable_mmu on secondaries): satp = MODE | ASID 0 | the PGD's
 * PPN; sstatus.SUM clear (the kernel runs with it clear outside the uaccess
 * routines). The TLBs are empty: the fence Linux issues changes nothing.
 */
export function cpuInit(cpus: readonly RiscvCpu[], rootPfn: number): void {
  for (const cpu of cpus) {
    assert(cpu.loadSatp(cpu.maxMode, 0, rootPfn * 4096), "boot: satp");
    cpu.setSum(false);
    cpu.setMxr(false);
  }
}
