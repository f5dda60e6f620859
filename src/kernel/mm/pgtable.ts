/**
 * A user address space's page tables as the mm code reads and builds them:
 * finding the PTE or the PMD of a page, allocating tables (charged to the
 * mm), decoding an entry's frame, and making a user entry for a frame under
 * a VMA's rights. Linux: include/linux/pgtable.h, arch/x86/include/asm/
 * pgtable.h and pgtable_types.h (the software bits), mm/memory.c
 * (__pte_alloc), mm/mmap.c (vm_get_page_prot).
 *
 * The PTE bits are manipulated here exactly as before the split; a later
 * step moves them behind an architecture interface.
 */
import { type FrameAllocator, leafEntry, Mapper } from "../../hw/arch/x86_64/Mapper.ts";
import { Pte } from "../../hw/arch/x86_64/pte.ts";
import { ptiSetUserPgtbl } from "../arch/x86/pti.ts";
import { Gfp } from "./gfp.ts";
import type { MmContext } from "./internal.ts";
import type { MmStruct } from "./MmStruct.ts";
import { PageKind } from "./PageDesc.ts";
import { VmFlag } from "./vma.ts";

/** _PAGE_SPECIAL (software bit 9): a PTE with no struct page behind it, as the zero page's. */
export const PTE_SPECIAL = 1 << 9;
/** _PAGE_PROTNONE: a PROT_NONE page keeps its frame with P = 0 and bit 8 set. */
export const PTE_PROTNONE = 1 << 8;
/**
 * A guard marker (MADV_GUARD_INSTALL, Linux 6.13 PTE_MARKER_GUARD): a
 * non-present PTE that makes any access SIGSEGV. Encoded here with software
 * bit 10 and P = 0.
 */
export const PTE_GUARD = 1 << 10;

export const TWO32 = 4294967296;

/**
 * The mapper that edits mm's page tables, charging new table pages to it.
 * Linux: mm/memory.c __pte_alloc, __pmd_alloc (mm_inc_nr_ptes)
 */
export function mapper(ctx: MmContext, mm: MmStruct): Mapper {
  const env = ctx.env;
  const alloc: FrameAllocator = {
    allocFrame: () => {
      const t = env.buddy.alloc(0, Gfp.KERNEL, PageKind.PageTable);
      if (t >= 0) {
        mm.ptPages++;
        env.countPageTables(1);
      }
      return t;
    },
  };
  const m = new Mapper(env.phys, env.levels, 46, alloc);
  if (env.pti) m.onSetTop = (pa, hi, lo) => ptiSetUserPgtbl(env.phys, pa, hi, lo);
  return m;
}

/**
 * First vpn of the kernel half: page tables below it are the process's own.
 * Linux: include/linux/pgtable.h USER_PGTABLES_CEILING
 */
export function userHalfEnd(ctx: MmContext): number {
  return 256 * 512 ** (ctx.env.levels - 1);
}

/**
 * Physical address of the PTE for vpn, allocating tables if asked; -1 if absent (or out of memory).
 * Linux: include/linux/mm.h pte_alloc_map, include/linux/pgtable.h pte_offset_map
 */
export function ptePa(ctx: MmContext, mm: MmStruct, vpn: number, alloc: boolean): number {
  const m = mapper(ctx, mm);
  const pt = alloc ? m.ensureTable(mm.pgdPfn, vpn, 0, true) : tableIfPresent(m, mm.pgdPfn, vpn);
  return pt < 0 ? -1 : pt * 4096 + (vpn % 512) * 8;
}

/**
 * The PTE for vpn as halves, or null when no page table covers it.
 * Linux: include/linux/pgtable.h ptep_get
 */
export function readPte(
  ctx: MmContext,
  mm: MmStruct,
  vpn: number,
): { pa: number; hi: number; lo: number } | null {
  const pa = ptePa(ctx, mm, vpn, false);
  if (pa < 0) return null;
  return { pa, hi: ctx.env.phys.read32(pa + 4), lo: ctx.env.phys.read32(pa) };
}

/** Frame of a PTE's page. Linux: arch/x86/include/asm/pgtable.h pte_pfn */
export function ptePfn(hi: number, lo: number): number {
  return ((hi & 0x3fff) * TWO32 + ((lo & Pte.ADDR_LO_MASK) >>> 0)) / 4096;
}

/** The PT frame covering vpn, if every level down to it is present (no allocation). */
export function tableIfPresent(m: Mapper, root: number, vpn: number): number {
  const e = m.entryAt(root, vpn, 1);
  if (e === null || !(e.lo & Pte.P) || e.lo & Pte.PS) return -1;
  return ptePfn(e.hi, e.lo);
}

/**
 * The PMD entry for vpn: its physical address and halves, or null when no PD covers it.
 * Linux: include/linux/pgtable.h pmd_offset
 */
export function pmdOf(
  ctx: MmContext,
  mm: MmStruct,
  vpn: number,
): { pa: number; hi: number; lo: number } | null {
  const e = mapper(ctx, mm).entryAt(mm.pgdPfn, vpn, 1);
  return e === null ? null : { pa: e.entryPa, hi: e.hi, lo: e.lo };
}

/**
 * Is this PMD entry a huge (2 MiB) mapping, present or PROT_NONE?
 * Linux: arch/x86/include/asm/pgtable.h pmd_trans_huge
 */
export function isHugePmd(lo: number): boolean {
  return (lo & Pte.PS) !== 0 && (lo & (Pte.P | PTE_PROTNONE)) !== 0;
}

/** First frame of a huge PMD's 2 MiB page. Linux: arch/x86/include/asm/pgtable.h pmd_pfn */
export function pmdPfn(hi: number, lo: number): number {
  return ((hi & 0x3fff) * TWO32 + ((lo & Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE) >>> 0)) / 4096;
}

/**
 * The entry that maps vpn: a PTE (level 0) or a huge PMD (level 1), with
 * the frame of vpn itself. Null when no table covers it.
 */
export function leafFor(
  ctx: MmContext,
  mm: MmStruct,
  vpn: number,
): { level: 0 | 1; pa: number; hi: number; lo: number; pfn: number } | null {
  const pmd = pmdOf(ctx, mm, vpn);
  if (pmd !== null && isHugePmd(pmd.lo)) {
    return {
      level: 1,
      pa: pmd.pa,
      hi: pmd.hi,
      lo: pmd.lo,
      pfn: pmdPfn(pmd.hi, pmd.lo) + (vpn % 512),
    };
  }
  const pte = readPte(ctx, mm, vpn);
  if (pte === null) return null;
  return { level: 0, pa: pte.pa, hi: pte.hi, lo: pte.lo, pfn: ptePfn(pte.hi, pte.lo) };
}

/**
 * A user leaf entry (PTE at level 0, huge PMD at level 1): accessed, user, NX unless VM_EXEC; PAGE_NONE without rights.
 * Linux: mm/mmap.c vm_get_page_prot, arch/x86/include/asm/pgtable.h pfn_pte
 */
export function userLeaf(
  pfn: number,
  level: 0 | 1,
  vmFlags: number,
  writable: boolean,
  dirty: boolean,
  special: boolean,
): { hi: number; lo: number } {
  const e = leafEntry(pfn, level, {
    user: true,
    writable,
    nx: !(vmFlags & VmFlag.EXEC),
    accessed: true,
    dirty,
  });
  let lo = e.lo;
  if (special) lo = (lo | PTE_SPECIAL) >>> 0;
  if (!(vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))) lo = ((lo & ~Pte.P) | PTE_PROTNONE) >>> 0; // PAGE_NONE
  return { hi: e.hi, lo };
}

/**
 * A user PTE for a frame under the VMA's rights (vm_get_page_prot, then mkwrite/mkdirty as asked).
 * Linux: include/linux/mm.h mk_pte, maybe_mkwrite
 */
export function userPte(
  pfn: number,
  vmFlags: number,
  writable: boolean,
  dirty: boolean,
  special: boolean,
): { hi: number; lo: number } {
  return userLeaf(pfn, 0, vmFlags, writable, dirty, special);
}

/**
 * A huge PMD entry for the 512 frames from pfn (pfn_pmd + pmd_mkhuge), with the VMA's rights.
 * Linux: arch/x86/include/asm/pgtable.h pfn_pmd, pmd_mkhuge
 */
export function hugePmd(
  pfn: number,
  vmFlags: number,
  writable: boolean,
  dirty: boolean,
  special: boolean,
): { hi: number; lo: number } {
  return userLeaf(pfn, 1, vmFlags, writable, dirty, special);
}
