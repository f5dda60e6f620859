/**
 * The dispatch of a user page fault to its path. Linux: mm/memory.c
 * handle_mm_fault (a VM_HUGETLB VMA: hugetlb_fault, mm/hugetlb.ts),
 * __handle_mm_fault (the PMD level: transparent huge
 * pages) and handle_pte_fault (no PTE: anonymous, shmem or file; a swap
 * entry; a write to a read-only PTE: do_wp_page; else a spurious fault).
 * It sits above the paths it dispatches to (mm/memory.ts, mm/huge_memory.ts,
 * mm/shmem.ts, mm/swap_state.ts, mm/filemap.ts); the VM_FAULT_* results
 * (VmFault) are in mm/internal.ts, below all of them.
 */
import { PteFlag } from "./arch.ts";
import { filemapFault } from "./filemap.ts";
import { hugeEligible, hugeFault, hugeWp } from "./huge_memory.ts";
import { hugetlbFault } from "./hugetlb.ts";
import { type MmContext, VmFault } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { doAnonymousPage, doWpPage } from "./memory.ts";
import {
  entryRead,
  isHugePmd,
  PteRef,
  pmdOf,
  pmdPa,
  pteFreeOne,
  pteOffset,
  ptePa,
  ptepSetAccessFlags,
  readEntry,
} from "./pgtable.ts";
import { shmemFault } from "./shmem.ts";
import { doSwapPage } from "./swap_state.ts";
import { type Vma, VmFlag } from "./vma.ts";

/**
 * handle_mm_fault for an anonymous VMA: allocate the page tables, then
 * handle_pte_fault. On entry the caller has checked the VMA allows the
 * access (access_error). On return the PTE allows the access, or a
 * VmFault error bit is set.
 * Linux: mm/memory.c handle_mm_fault, __handle_mm_fault, handle_pte_fault
 */
export function handleMmFault(ctx: MmContext, mm: MmStruct, vma: Vma, vpn: number, write: boolean): VmFault {
  if (vma.vmFlags & VmFlag.HUGETLB) return hugetlbFault(ctx, mm, vma, vpn, write); // is_vm_hugetlb_page
  const pt = ctx.env.pgtable;
  // __handle_mm_fault: the PMD level first (transparent huge pages); its entry as numbers
  // (pmd_offset, pmdp_get), an object only for the huge paths that keep it
  const pmdAt = pmdPa(ctx, mm, vpn);
  if (pmdAt >= 0) readEntry(ctx, pmdAt); // both halves from one look-up of the table's frame
  const pmdHi = pmdAt < 0 ? 0 : entryRead.hi;
  const pmdLo = pmdAt < 0 ? 0 : entryRead.lo;
  if (pmdAt >= 0 && isHugePmd(ctx, pmdHi, pmdLo)) {
    if (!pt.accessible(pmdHi, pmdLo)) return VmFault.SIGSEGV;
    const pmd = new PteRef(pmdAt, pmdHi, pmdLo);
    if (write && !pt.write(pmdHi, pmdLo)) {
      const r = hugeWp(ctx, mm, vma, vpn, pmd);
      if (r !== null) return r;
    } else {
      const young = pt.modify(pmdHi, pmdLo, PteFlag.YOUNG | (write ? PteFlag.DIRTY : 0), 0);
      if (young.lo !== pmdLo || young.hi !== pmdHi)
        ptepSetAccessFlags(ctx, mm, vpn, pmdAt, pmd, young, write);
      return VmFault.OK;
    }
  } else if ((pmdAt < 0 || pt.none(pmdHi, pmdLo)) && hugeEligible(ctx, mm, vma, vpn)) {
    const r = hugeFault(ctx, mm, vma, vpn, write);
    if (r !== null) return r;
  }
  // pte_alloc: a PMD that already points to a table gives the PTE at once (pte_offset_map)
  let pa = pmdAt >= 0 ? pteOffset(ctx, pmdHi, pmdLo, vpn) : -1;
  if (pa < 0) pa = ptePa(ctx, mm, vpn, true);
  if (pa < 0) return VmFault.OOM;
  readEntry(ctx, pa);
  const hi = entryRead.hi;
  const lo = entryRead.lo;
  if (vma.vmFlags & VmFlag.PFNMAP && pt.none(hi, lo)) {
    // do_fault without ->fault: pte_offset_map_lock of a none PMD is NULL, VM_FAULT_SIGBUS (no table)
    if (pmdAt < 0 || pt.none(pmdHi, pmdLo)) freeUnusedTable(ctx, mm, vpn);
    return VmFault.SIGBUS;
  }
  if (vma.file && !pt.isGuard(hi, lo) && !pt.isSwap(hi, lo)) {
    const fresh = pmdAt < 0 || pt.none(pmdHi, pmdLo);
    const r = filemapFault(ctx, mm, vma, vpn, pa, write, hi, lo, fresh);
    if (fresh && r & (VmFault.SIGBUS | VmFault.OOM)) freeUnusedTable(ctx, mm, vpn);
    return r;
  }
  if (pt.none(hi, lo))
    return vma.shmem
      ? shmemFault(ctx, mm, vma, vpn, pa, write, pmdAt < 0 || pt.none(pmdHi, pmdLo))
      : doAnonymousPage(ctx, mm, vma, vpn, pa, write);
  if (pt.isGuard(hi, lo)) return VmFault.SIGSEGV; // a guard marker (handle_pte_marker)
  if (pt.isSwap(hi, lo)) return doSwapPage(ctx, mm, vma, vpn, pa, write, hi, lo, pmdAt);
  if (!pt.accessible(hi, lo)) return VmFault.SIGSEGV; // PROT_NONE in an accessible VMA cannot happen
  if (write && !pt.write(hi, lo)) return doWpPage(ctx, mm, vma, vpn, pa, hi, lo);
  // spurious: the PTE already allows it (a stale TLB entry); make it young/dirty
  const young = pt.modify(hi, lo, PteFlag.YOUNG | (write ? PteFlag.DIRTY : 0), 0);
  if (young.lo !== lo || young.hi !== hi) ptepSetAccessFlags(ctx, mm, vpn, pa, { hi, lo }, young, write);
  return VmFault.OK;
}

/**
 * do_fault's pte_free(vmf->prealloc_pte): a file fault that found the PMD none allocates its PTE
 * table only as vmf->prealloc_pte (do_fault_around, __do_fault), installed when a page is mapped
 * (filemap_map_pages, finish_fault: pmd_install); a fault that ends in an error having mapped
 * nothing frees it. vmlab's descent allocated the table before the fault: it is taken off the
 * PMD again and freed when every entry is still none. No walk has cached the PMD's entry (the
 * fault walked it none).
 * Linux: mm/memory.c do_fault, do_fault_around, __do_fault
 */
function freeUnusedTable(ctx: MmContext, mm: MmStruct, vpn: number): void {
  const pt = ctx.env.pgtable;
  const pmd = pmdOf(ctx, mm, vpn);
  if (pmd === null || !pt.table(pmd.hi, pmd.lo, 1)) return;
  const table = pt.pfn(pmd.hi, pmd.lo, 1);
  for (let i = 0; i < pt.ptrsPerTable; i++) {
    const e = pt.get(ctx.env.phys, table * 4096 + i * pt.entryBytes);
    if (!pt.none(e.hi, e.lo)) return;
  }
  if (pt.pmdLevel === pt.levels - 1) pt.setTop(ctx.env.phys, pmd.pa, 0, 0);
  else pt.set(ctx.env.phys, pmd.pa, 0, 0);
  pteFreeOne(ctx, mm, table);
}
