/**
 * Page-table isolation (Linux: arch/x86/mm/pti.c, arch/x86/entry/calling.h).
 *
 * With PTI each mm has two top-level tables in one order-1 allocation: the
 * kernel PGD (all of the kernel, and the user half) and, 4 KiB above it,
 * the user PGD (the same user half, and of the kernel only what entry and
 * exit need: the entry text and the cpu_entry_area). User code runs on the
 * user PGD; every kernel entry switches CR3 to the kernel PGD and every
 * return to user switches back (see X86Tlb.enterKernel / exitToUser).
 */
import { assert } from "../../../base/assert.ts";
import { type Pfn, pfnAdd, type Vpn } from "../../../base/units.ts";
import { Mapper } from "../../../hw/arch/x86_64/Mapper.ts";
import { Pte, PteHi } from "../../../hw/arch/x86_64/pte.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";

/** The user PGD lives at the kernel PGD + PAGE_SIZE (kernel_to_user_pgdp). */
export const PTI_USER_PGD_OFFSET = 4096;

/**
 * __pti_set_user_pgtbl: a write of a user-half entry into a kernel PGD is
 * mirrored into the user PGD unchanged; the kernel's own copy gets NX, so
 * that the kernel can never execute user memory, even without SMEP.
 * Kernel-half entries are not mirrored (the user PGD has its own). Returns
 * the high half for the kernel copy.
 */
export function ptiSetUserPgtbl(phys: PhysMem, entryPa: number, hi: number, lo: number): number {
  const index = (entryPa % 4096) / 8;
  if (index >= 256) return hi;
  phys.write64(entryPa + PTI_USER_PGD_OFFSET, hi >>> 0, lo >>> 0);
  if ((lo & (Pte.P | Pte.US)) === (Pte.P | Pte.US)) return (hi | PteHi.XD) >>> 0;
  return hi;
}

/** clone_pgd_range with PTI: the kernel halves of both PGDs come from init_mm's pair. */
export function ptiClonePgdPair(phys: PhysMem, fromPfn: number, toPfn: number): void {
  for (let i = 256; i < 512; i++) {
    for (const off of [0, PTI_USER_PGD_OFFSET]) {
      const src = fromPfn * 4096 + off + i * 8;
      phys.write64(toPfn * 4096 + off + i * 8, phys.read32(src + 4), phys.read32(src));
    }
  }
}

/** CPU_ENTRY_AREA_BASE (Documentation/arch/x86/x86_64/mm.rst): its own 512 GiB slot. */
export const CPU_ENTRY_AREA_BASE = 0xfffffe0000000000n;
/** Pages of struct cpu_entry_area vmlab maps per CPU: the GDT (read-only), the entry stack, the TSS. */
export const CEA_PAGES_PER_CPU = 3;
/** __entry_text_start: entry_SYSCALL_64 and the other entry points (in the kernel text's 2 MiB page). */
export const ENTRY_TEXT_START = 0xffffffff811e0000n;

/**
 * pti_init's clones into init_mm's user PGD (the page after the kernel
 * PGD), which every new user PGD then copies (clone_pgd_range):
 * - pti_clone_entry_text: the PMD that maps the entry text is copied into
 *   new PUD/PMD tables of the user PGD, and made global in both copies
 *   (it is mapped the same way in every address space);
 * - pti_clone_user_shared: the cpu_entry_area's 512 GiB slot is shared
 *   (the same table below it in both PGDs).
 * Nothing else of the kernel is reachable from the user PGD.
 */
export function ptiInitUserPgd(boot: Mapper, kernelRoot: Pfn, entryVpn: Vpn, ceaVpn: Vpn): void {
  const phys = boot.phys;
  const userRoot = pfnAdd(kernelRoot, 1);
  const pmd = boot.entryAt(kernelRoot, entryVpn, 1);
  assert(
    pmd !== null && (pmd.lo & Pte.P) !== 0 && (pmd.lo & Pte.PS) !== 0,
    "pti: the entry text is not a 2M page",
  );
  const lo = (pmd.lo | Pte.G) >>> 0;
  phys.write64(pmd.entryPa, pmd.hi, lo);
  const userPmdTable = boot.ensureTable(userRoot, entryVpn, 1);
  assert(userPmdTable >= 0, "pti: no memory for the user PGD's tables");
  phys.write64(userPmdTable * 4096 + Mapper.index(entryVpn, 1) * 8, pmd.hi, lo);
  const slot = boot.entryAt(kernelRoot, ceaVpn, 3);
  assert(slot !== null && (slot.lo & Pte.P) !== 0, "pti: the cpu_entry_area is not mapped");
  const userTable = boot.ensureTable(userRoot, ceaVpn, 3);
  phys.write64(userTable * 4096 + Mapper.index(ceaVpn, 3) * 8, slot.hi, slot.lo);
}
