/**
 * The arm64 part of boot (arch/arm64/kernel/setup.c setup_arch,
 * arch/arm64/mm/mmu.c paging_init, map_mem, map_kernel; proc.S
 * __cpu_setup): where the kernel image sits, swapper_pg_dir built in RAM
 * before the buddy allocator exists (the linear map of RAM, the kernel
 * image, vmemmap), and each CPU's TCR_EL1, TTBR1_EL1 and PSTATE.PAN.
 *
 * Not modelled yet: the fixmap and its early tables, KASLR, the
 * trampoline tables of KPTI, the idmap (TTBR0 during boot).
 */
import { assert } from "../../../base/assert.ts";
import { type Pfn, pfnUnchecked, toPfn, vpnAdd, vpnUnchecked } from "../../../base/units.ts";
import type { Arm64Cpu } from "../../../hw/arch/arm64/Cpu.ts";
import { type Arm64MapFlags, Arm64Mapper } from "../../../hw/arch/arm64/Mapper.ts";
import type { Machine } from "../../../hw/machine/Machine.ts";
import type { FrameAllocator } from "../../../hw/mmu/Mapper.ts";
import type { ArchMemoryMap } from "../../core/core.ts";
import type { Layout } from "../../core/layout.ts";
import type { Memblock } from "../../core/memblock.ts";
import type { Vaddr } from "../../core/vaddr.ts";
import { type PageDescTable, PageKind } from "../../mm/PageDesc.ts";
import { TRAMP_VALIAS } from "./layout.ts";

/** Where the image is loaded in physical memory (vmlab: 16 MiB, 2 MiB-aligned as the boot protocol asks). */
export const KERNEL_PHYS_START = 16 << 20;
/** Kernel image sections (bytes): text (RX), rodata (RO, XN), data+bss (RW, XN). */
export const KERNEL_TEXT = 2 << 20;
export const KERNEL_RODATA = 2 << 20;
export const KERNEL_DATA = 2 << 20;
export const IMAGE_START_PFN = KERNEL_PHYS_START / 4096;
export const IMAGE_END_PFN = IMAGE_START_PFN + (KERNEL_TEXT + KERNEL_RODATA + KERNEL_DATA) / 4096;
/** arm64 reserves no low memory of its own (no BIOS area): RAM from PHYS_OFFSET is all usable. */
export const LOW_RESERVED_PFNS = 0;
/** empty_zero_page: a page of the image's bss (vmlab: its last page) */
export const EMPTY_ZERO_PAGE_PFN = IMAGE_END_PFN - 1;
/** reserved_pg_dir: the zeroed table TTBR0 points to while no user mm is loaded (the page before) */
export const RESERVED_PG_DIR_PFN = IMAGE_END_PFN - 2;
/** sizeof(struct page) */
const STRUCT_PAGE_SIZE = 64;

/** PAGE_KERNEL (PROT_NORMAL): AF, SH inner, nG = 0, PXN, UXN, writable (DBM) and dirty (AP[2] = 0). */
const PAGE_KERNEL_PROT: Arm64MapFlags = {
  writable: true,
  nx: true,
  global: true,
  accessed: true,
  dirty: true,
  dbm: true,
};
/** PAGE_KERNEL_RO and PAGE_KERNEL_ROX (text: executable at EL1, never at EL0) */
const PAGE_KERNEL_RO_PROT: Arm64MapFlags = { nx: true, global: true, accessed: true };
const PAGE_KERNEL_ROX_PROT: Arm64MapFlags = { global: true, accessed: true };

/** The boot mapper of TTBR1's range: 48-bit VAs, tables from memblock. */
export function bootMapper(machine: Machine, memblock: Memblock): Arm64Mapper {
  const tables: FrameAllocator = { allocFrame: () => memblock.alloc(1, 1, PageKind.PageTable) };
  // __create_pgd_mapping's and map_range's tables: UXNTable (PXNTable too with NO_EXEC_MAPPINGS)
  return new Arm64Mapper(machine.phys, tables, 48, 48, true);
}

/**
 * paging_init: swapper_pg_dir with the linear map of all RAM in 4K pages
 * (rodata_full, the default since CONFIG_RODATA_FULL_DEFAULT_ENABLED:
 * map_mem passes NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS so that
 * set_memory_* can change single pages; the image's text and rodata
 * read-only there, as mark_linear_text_alias_ro leaves them), the kernel image at KIMAGE_VADDR
 * in 2M blocks (map_kernel: text ROX, rodata RO, data RW), and vmemmap in
 * 2M blocks (vmemmap_populate). The vmalloc area starts after the image
 * (vm_area_add_early reserves the image's part of it).
 */
export function pagingInit(
  machine: Machine,
  pages: PageDescTable,
  memblock: Memblock,
  va: Vaddr,
  layout: Layout,
  kpti = false,
): ArchMemoryMap & { trampPfn: number } {
  const nrFrames = machine.phys.nrFrames;
  // PTE_MAYBE_NG: under KPTI (arm64_use_ng_mappings) the kernel's own entries are nG too,
  // tagged with the kernel ASID, so that none survives into EL0's user ASID
  const g = (f: Arm64MapFlags): Arm64MapFlags => (kpti ? { ...f, global: false } : f);
  const PAGE_KERNEL = g(PAGE_KERNEL_PROT);
  const PAGE_KERNEL_RO = g(PAGE_KERNEL_RO_PROT);
  const PAGE_KERNEL_ROX = g(PAGE_KERNEL_ROX_PROT);
  const boot = bootMapper(machine, memblock);
  const rootPfn: Pfn = toPfn(boot.newRoot());
  pages.setKind(IMAGE_START_PFN, IMAGE_END_PFN - IMAGE_START_PFN, PageKind.KernelImage);

  // ---- map_mem: the linear map, page by page; NO_EXEC_MAPPINGS: its tables PXNTable too. The
  // linear alias of [_stext, __init_begin), text and rodata, ends read-only:
  // mark_linear_text_alias_ro (smp_cpus_done) remaps it PAGE_KERNEL_RO ----
  const linearVpn = va.vpn(layout.directMap);
  const linear: Arm64MapFlags = { ...PAGE_KERNEL, noExecTables: true };
  const linearRo: Arm64MapFlags = { ...PAGE_KERNEL_RO, noExecTables: true };
  const textAliasEnd = IMAGE_START_PFN + (KERNEL_TEXT + KERNEL_RODATA) / 4096;
  for (let pfn = 0; pfn < nrFrames; pfn++) {
    const ro = pfn >= IMAGE_START_PFN && pfn < textAliasEnd;
    const r = boot.map(rootPfn, vpnAdd(linearVpn, pfn), pfnUnchecked(pfn), 0, ro ? linearRo : linear);
    assert(r.ok, "boot: linear map");
  }
  // ---- map_kernel: the image at KIMAGE_VADDR, 2M blocks ----
  const imageVpn = va.vpn(layout.kernelMap);
  const sections: [number, Arm64MapFlags][] = [
    [KERNEL_TEXT, PAGE_KERNEL_ROX],
    [KERNEL_RODATA, PAGE_KERNEL_RO],
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
  // ---- vmemmap_populate: the struct page array in 2M blocks ----
  const memmapPages = Math.ceil((nrFrames * STRUCT_PAGE_SIZE) / 4096);
  const vmemmapVpn = va.vpn(layout.vmemmap);
  for (let off = 0; off < memmapPages; off += 512) {
    const block = memblock.alloc(512, 512, PageKind.Memmap);
    assert(boot.map(rootPfn, vpnAdd(vmemmapVpn, off), block, 1, PAGE_KERNEL).ok, "boot: vmemmap");
  }
  // ---- the vmalloc area: after the image (and a guard page), up to VMALLOC_END ----
  const imagePages = IMAGE_END_PFN - IMAGE_START_PFN;
  const vmStart = imageVpn + imagePages + 1;
  const vmEnd = va.vpn(layout.vmallocEnd - 1n) + 1;
  // ---- map_entry_trampoline (KPTI): tramp_pg_dir maps the trampoline text alone, at TRAMP_VALIAS ----
  let trampPfn = -1;
  if (kpti) {
    const tramp = toPfn(boot.newRoot());
    trampPfn = tramp;
    const text = pfnUnchecked(IMAGE_START_PFN);
    const at = vpnUnchecked(va.vpn(TRAMP_VALIAS));
    assert(boot.map(tramp, at, text, 0, PAGE_KERNEL_ROX).ok, "boot: tramp_pg_dir");
    assert(boot.map(rootPfn, at, text, 0, PAGE_KERNEL_ROX).ok, "boot: the trampoline alias");
  }
  return { rootPfn, pageKernel: PAGE_KERNEL, vmallocStartVpn: vmStart, vmallocEndVpn: vmEnd, trampPfn };
}

/**
 * __cpu_setup and the rest of each CPU's bring-up: TCR_EL1 with T0SZ =
 * T1SZ = 16 (48-bit VAs), 16-bit ASIDs, HA and HD (hardware Access flag
 * and dirty state, as Linux sets them when the CPU has them: HA in
 * __cpu_setup when ID_AA64MMFR1_EL1.HAFDBS is not 0, HD by the ARM64_HW_DBM
 * capability's cpu_enable_hw_dbm when it is 2 and the CPU's DBM is not
 * broken; `hafdbs`), IPS from the
 * PA range; TTBR1_EL1 = swapper_pg_dir; TTBR0_EL1 = the reserved empty
 * table (here: zero with ASID 0, with EPD0 off: init_mm has no user half,
 * so any user address faults); PSTATE.PAN on (CONFIG_ARM64_PAN); SCTLR_EL1.EPAN
 * with FEAT_PAN3 (`epan`).
 */
export function cpuInit(
  cpus: readonly Arm64Cpu[],
  rootPfn: number,
  reservedPgPfn: number,
  pan: boolean,
  asidBits: 8 | 16,
  hafdbs: "dbm" | "af" | "off" = "dbm",
  epan = false,
): void {
  for (const cpu of cpus) {
    // TCR_EL1.AS: 16-bit ASIDs where the CPU has them (__cpu_setup: tcr_set_asid_bits... ID_AA64MMFR0_EL1.ASIDBits)
    cpu.setTcr({
      t0sz: 16,
      t1sz: 16,
      ha: hafdbs !== "off",
      hd: hafdbs === "dbm",
      as: asidBits === 16,
      // the ASID lives in TTBR1_EL1 (TCR_A1 in __cpu_setup): cpu_do_switch_mm writes it there
      a1: true,
      ips: 5,
      tbi0: true,
      tbi1: false,
    });
    cpu.loadTtbr1(rootPfn * 4096);
    cpu.loadTtbr0(reservedPgPfn * 4096, 0);
    cpu.setPan(pan);
    // ARM64_HAS_EPAN (ID_AA64MMFR1_EL1.PAN >= 3): cpu_enable_epan sets SCTLR_EL1.EPAN
    cpu.setEpan(epan);
  }
}
