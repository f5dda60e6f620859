/**
 * Page-table isolation on 32-bit x86 with PAE (Linux 4.19 and later:
 * arch/x86/mm/pti.c built with CONFIG_X86_32, arch/x86/entry/entry_32.S,
 * arch/x86/mm/pgtable.c). What differs from x86-64 (pti.ts):
 *
 * - The PGD is a PAE PDPT of four entries, and the whole kernel lies under
 *   PDPTE 3. Cloning that entry would map all of the kernel into the user
 *   tables, so every mm gets its own kernel PMD (SHARED_KERNEL_PMD is
 *   !X86_FEATURE_PTI): pgd_alloc copies swapper_pg_dir's kernel PMD into a
 *   page of its own, and arch_sync_kernel_mappings must copy each new
 *   vmalloc PDE into every PGD on pgd_list (ARCH_PAGE_TABLE_SYNC_MASK =
 *   PGTBL_PMD_MODIFIED), or vmalloc_fault before 5.8.
 * - The user PDPT, 4 KiB above the kernel's (PGD_ALLOCATION_ORDER 1,
 *   swapper_pg_dir's PTI_USER_PGD_FILL), points PDPTEs 0..2 at the same
 *   user PMDs and PDPTE 3 at a PMD of its own (PREALLOCATED_USER_PMDS),
 *   a copy of init_mm's: what pti_init cloned into it.
 * - pti_clone_user_shared clones the cpu_entry_area at the PMD level
 *   (PTI_CLONE_PMD: the same page tables below both PMDs); the entry text
 *   is cloned at the PTE level (PTI_LEVEL_KERNEL_IMAGE = PTI_CLONE_PTE:
 *   the 32-bit image is mapped with 4K pages), each PTE made global in both
 *   tables.
 * - No PCIDs: SWITCH_TO_KERNEL_CR3 and SWITCH_TO_USER_CR3 clear and set
 *   bit 12 of CR3 (PTI_SWITCH_MASK) with a plain MOV to CR3, which drops
 *   every non-global TLB entry, the user's and (the kernel being
 *   non-global under PTI) the kernel's, and reloads the PDPTE registers.
 */
import { assert } from "../../../base/assert.ts";
import { type Pfn, pfnUnchecked, vpnUnchecked } from "../../../base/units.ts";
import type { I386Mapper } from "../../../hw/arch/i386/Mapper.ts";
import { Pte } from "../../../hw/arch/i386/pte.ts";
import type { MapFlags } from "../../../hw/mmu/Mapper.ts";
import type { Memblock } from "../../core/memblock.ts";
import { PageKind } from "../../mm/PageDesc.ts";
import type { Layout32 } from "./layout_32.ts";

/** __entry_text_start on vmlab's 32-bit image (the text at 0xc1000000, as ENTRY_TEXT_START on x86-64's) */
export const ENTRY_TEXT_START_32 = 0xc11e_0000;
/** __entry_text_end - __entry_text_start in pages (entry_32.S's code) */
export const ENTRY_TEXT_PAGES_32 = 2;
/** The cpu_entry_area's per-CPU pages (struct cpu_entry_area on 32-bit), by offset: what each maps, or null for a guard page */
export const CEA_32_PAGES: readonly (string | null)[] = [
  "gdt",
  null, // guard_entry_stack: the GDT is writable on 32-bit, so it cannot serve as the guard
  "entry_stack_page",
  null, // guard_doublefault_stack
  "doublefault_stack",
  "tss",
  "tss",
  "tss",
];
/** _KERNPG_TABLE: P RW A D, what pti_user_pagetable_walk_* put in the entries they create */
const KERNPG_TABLE = Pte.P | Pte.RW | Pte.A | Pte.D;

/**
 * setup_cpu_entry_areas: the read-only IDT at CPU_ENTRY_AREA_RO_IDT, then
 * for each CPU its GDT, entry stack, #DF stack and TSS, all writable on
 * 32-bit (a task gate's switch writes the GDT and the TSS) and global
 * (cea_set_pte sets _PAGE_GLOBAL: the area is mapped alike in every
 * address space). Frames from memblock, as the per-CPU storage they alias.
 */
export function setupCpuEntryAreas32(
  boot: I386Mapper,
  rootPfn: Pfn,
  layout: Layout32,
  cpus: number,
  memblock: Memblock,
  pageKernel: MapFlags,
): void {
  const kernelRw: MapFlags = { ...pageKernel, global: true };
  const kernelRo: MapFlags = { ...kernelRw, writable: false };
  const base = layout.ceaBase / 4096;
  const idt = memblock.alloc(1, 1, PageKind.KernelPages);
  assert(boot.map(rootPfn, vpnUnchecked(base), idt, 0, kernelRo).ok, "boot: cea idt");
  for (let c = 0; c < cpus; c++) {
    const vpn0 = base + 1 + c * CEA_32_PAGES.length;
    for (let i = 0; i < CEA_32_PAGES.length; i++) {
      if (CEA_32_PAGES[i] === null) continue;
      const frame = memblock.alloc(1, 1, PageKind.KernelPages);
      assert(boot.map(rootPfn, vpnUnchecked(vpn0 + i), frame, 0, kernelRw).ok, "boot: cea");
    }
  }
}

/** The CPU_ENTRY_AREA pages setupCpuEntryAreas32 laid out for `cpus` CPUs (the RO IDT, then the per-CPU areas). */
export function ceaPages32(cpus: number): number {
  return 1 + cpus * CEA_32_PAGES.length;
}

/**
 * pti_user_pagetable_walk_pmd on PAE: the user PDPT's entry for `vpn`
 * (init_mm's: swapper_pg_dir + 4 KiB), a new zeroed PMD put there with
 * _KERNPG_TABLE when none (set_pud). Such a PDPTE has reserved bits set
 * (RW, A, D): harmless, since init_mm's user PDPT is never loaded into CR3;
 * every mm's copy of it is made by pud_populate, P alone. Returns the PMD.
 */
function userPmd(boot: I386Mapper, userPdpt: Pfn, vpn: number, allocTable: () => number): number {
  const phys = boot.phys;
  const pa = userPdpt * 4096 + ((vpn >>> 18) & 3) * 8;
  if ((phys.read32(pa) & Pte.P) === 0) {
    const pmd = allocTable();
    phys.write64(pa, Math.floor(pmd / 1048576), ((pmd % 1048576) * 4096 + KERNPG_TABLE) >>> 0);
  }
  return (phys.read32(pa + 4) & 0xf) * 1048576 + ((phys.read32(pa) & Pte.ADDR_LO_MASK) >>> 0) / 4096;
}

/**
 * pti_init on 32-bit PAE, into init_mm's user PDPT (`rootPfn` + 1):
 * - pti_clone_user_shared: pti_clone_pgtable(CPU_ENTRY_AREA_BASE, +
 *   CPU_ENTRY_AREA_PAGES pages, PTI_CLONE_PMD): each PMD entry covering the
 *   area is set _PAGE_GLOBAL in swapper_pg_dir's kernel PMD and copied into
 *   the user PMD, so both share the cpu_entry_area's page table (the bit is
 *   ignored in a PDE that points to a table);
 * - pti_clone_entry_text: pti_clone_pgtable(__entry_text_start,
 *   __entry_text_end, PTI_CLONE_PTE): each PTE set _PAGE_GLOBAL in the
 *   kernel's table, and copied into a page table of the user PMD's own
 *   (pti_user_pagetable_walk_pte).
 * With pti=on (PTI_FORCE_ON) pti_kernel_image_global_ok is false, so
 * pti_finalize's pti_clone_kernel_text maps nothing more: the rest of the
 * kernel, its text included, stays out of the user tables and non-global.
 */
export function ptiInit32(boot: I386Mapper, rootPfn: Pfn, layout: Layout32, cpus: number): void {
  const phys = boot.phys;
  const userPdpt = pfnUnchecked(rootPfn + 1);
  const alloc = () => {
    const t = boot.alloc.allocFrame(0); // __get_free_page: no pagetable ctor, whatever the level
    assert(t >= 0, "pti: no memory for the user page tables");
    phys.zeroFrame(pfnUnchecked(t));
    return t;
  };
  // ---- pti_clone_user_shared: the cpu_entry_area, PMD by PMD ----
  const ceaStart = layout.ceaBase / 4096;
  const ceaEnd = ceaStart + ceaPages32(cpus);
  for (let v = ceaStart; v < ceaEnd; v += 512 - (v % 512)) {
    const pmd = boot.entryAt(rootPfn, vpnUnchecked(v), 1);
    assert(pmd !== null && (pmd.lo & Pte.P) !== 0, "pti: the cpu_entry_area has no PMD");
    const lo = (pmd.lo | Pte.G) >>> 0;
    phys.write64(pmd.entryPa, pmd.hi, lo);
    const target = userPmd(boot, userPdpt, v, alloc);
    phys.write64(target * 4096 + ((v >>> 9) & 511) * 8, pmd.hi, lo);
  }
  // ---- pti_clone_entry_text: PTE by PTE ----
  const entry = ENTRY_TEXT_START_32 / 4096;
  for (let v = entry; v < entry + ENTRY_TEXT_PAGES_32; v++) {
    const pte = boot.entryAt(rootPfn, vpnUnchecked(v), 0);
    assert(pte !== null && (pte.lo & Pte.P) !== 0, "pti: the entry text is not mapped with 4K pages");
    const lo = (pte.lo | Pte.G) >>> 0;
    phys.write64(pte.entryPa, pte.hi, lo);
    const pmd = userPmd(boot, userPdpt, v, alloc);
    const pdePa = pmd * 4096 + ((v >>> 9) & 511) * 8;
    if ((phys.read32(pdePa) & Pte.P) === 0) {
      const pt = alloc();
      phys.write64(pdePa, Math.floor(pt / 1048576), ((pt % 1048576) * 4096 + KERNPG_TABLE) >>> 0);
    }
    const pt =
      (phys.read32(pdePa + 4) & 0xf) * 1048576 + ((phys.read32(pdePa) & Pte.ADDR_LO_MASK) >>> 0) / 4096;
    phys.write64(pt * 4096 + (v & 511) * 8, pte.hi, lo);
  }
}
