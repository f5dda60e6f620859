/**
 * The dispatch of a user page fault to its path. Linux: mm/memory.c
 * handle_mm_fault, __handle_mm_fault (the PMD level: transparent huge
 * pages) and handle_pte_fault (no PTE: anonymous, shmem or file; a swap
 * entry; a write to a read-only PTE: do_wp_page; else a spurious fault).
 * It sits above the paths it dispatches to (mm/memory.ts, mm/huge_memory.ts,
 * mm/shmem.ts, mm/swap_state.ts, mm/filemap.ts); the VM_FAULT_* results
 * (VmFault) are in mm/internal.ts, below all of them.
 */
import { Pte } from "../../hw/arch/x86_64/pte.ts";
import { filemapFault } from "./filemap.ts";
import { hugeEligible, hugeFault, hugeWp } from "./huge_memory.ts";
import { type MmContext, VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { doAnonymousPage, doWpPage } from "./memory.ts";
import { isHugePmd, PTE_GUARD, pmdOf, ptePa } from "./pgtable.ts";
import { shmemFault } from "./shmem.ts";
import { doSwapPage } from "./swap_state.ts";
import { isSwapPte } from "./swapfile.ts";
import { type Vma, VmFlag } from "./vma.ts";

/**
 * handle_mm_fault for an anonymous VMA: allocate the page tables, then
 * handle_pte_fault. On entry the caller has checked the VMA allows the
 * access (access_error). On return the PTE allows the access, or a
 * VmFault error bit is set.
 * Linux: mm/memory.c handle_mm_fault, __handle_mm_fault, handle_pte_fault
 */
export function handleMmFault(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number, write: boolean): VmFault {
  // __handle_mm_fault: the PMD level first (transparent huge pages)
  const pmd = pmdOf(ctx, mm, vpn);
  if (pmd !== null && isHugePmd(pmd.lo)) {
    if (!(pmd.lo & Pte.P)) return VmFault.SIGSEGV;
    if (write && !(pmd.lo & Pte.RW)) {
      const r = hugeWp(ctx, mm, vma, vpn, pmd);
      if (r !== null) return r;
    } else {
      const young = (pmd.lo | Pte.A | (write ? Pte.D : 0)) >>> 0;
      if (young !== pmd.lo) ctx.env.phys.write32(pmd.pa, young);
      return VmFault.OK;
    }
  } else if ((pmd === null || (pmd.lo === 0 && pmd.hi === 0)) && hugeEligible(ctx, vma, vpn)) {
    const r = hugeFault(ctx, mm, vma, vpn, write);
    if (r !== null) return r;
  }
  const pa = ptePa(ctx, mm, vpn, true);
  if (pa < 0) return VmFault.OOM;
  const phys = ctx.env.phys;
  const lo = phys.read32(pa);
  const hi = phys.read32(pa + 4);
  if (vma.vmFlags & VmFlag.PFNMAP && lo === 0 && hi === 0) return VmFault.SIGBUS; // no ->fault: VM_FAULT_SIGBUS
  if (vma.file && !(lo === PTE_GUARD && hi === 0) && !isSwapPte(hi, lo))
    return filemapFault(ctx, mm, vma, vpn, pa, write, hi, lo);
  if (lo === 0 && hi === 0)
    return vma.shmem
      ? shmemFault(ctx, mm, vma, vpn, pa, write)
      : doAnonymousPage(ctx, mm, vma, vpn, pa, write);
  if (lo === PTE_GUARD && hi === 0) return VmFault.SIGSEGV; // a guard marker (handle_pte_marker)
  if (isSwapPte(hi, lo)) return doSwapPage(ctx, mm, vma, vpn, pa, write, hi, lo);
  if (!(lo & Pte.P)) return VmFault.SIGSEGV; // PROT_NONE in an accessible VMA cannot happen
  if (write && !(lo & Pte.RW)) return doWpPage(ctx, mm, vma, vpn, pa, hi, lo);
  // spurious: the PTE already allows it (a stale TLB entry); make it young/dirty
  const young = (lo | Pte.A | (write ? Pte.D : 0)) >>> 0;
  if (young !== lo) phys.write32(pa, young);
  return VmFault.OK;
}
