/**
 * 32-bit x86 page-table entries as generic mm sees them (kernel/mm/arch.ts
 * Pgtable): 2-level paging (pgtable-2level.h: 4-byte entries, 1024 per
 * table, the PMD, PUD and P4D folded into the PGD) and PAE 3-level paging
 * (pgtable-3level.h: 8-byte entries, 512 per table, a 4-entry PDPT as the
 * PGD with the PUD and P4D folded into it, NX in bit 63).
 * Linux: arch/x86/include/asm/pgtable_32.h, pgtable-2level.h,
 * pgtable-3level.h, arch/x86/mm/pgtable.c (pgd_alloc, pgd_ctor,
 * preallocate_pmds, SHARED_KERNEL_PMD).
 *
 * Software bits as on x86-64: _PAGE_SPECIAL (bit 9), _PAGE_PROTNONE (bit 8
 * with P = 0).
 *
 * Swap entries (swp_entry_to_pte(swp_entry(0, offset))):
 * - 2-level (pgtable-2level.h __swp_entry): type in bits 5..1, offset in
 *   bits 31..9, not inverted (no L1TF mitigation without PAE: a 32-bit PTE
 *   has no bits to spare). A PTE marker is a swap entry of the last type
 *   (SWP_PTE_MARKER = 31 with 5 type bits), so the guard marker is
 *   swp_entry(31, PTE_MARKER_GUARD = 4).
 * - PAE (pgtable-3level.h __swp_pteval_entry): as x86-64, the offset
 *   inverted in bits 58..9 (L1TF), the type in bits 63..59.
 */
import { type Pfn, pfnUnchecked } from "../../../base/units.ts";
import { I386Mapper } from "../../../hw/arch/i386/Mapper.ts";
import { Pte, PteHi } from "../../../hw/arch/i386/pte.ts";
import type { FrameAllocator, PageTableMapper } from "../../../hw/mmu/Mapper.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";
import { type Entry, type Pgtable, PteFlag } from "../../mm/arch.ts";
import { VmFlag } from "../../mm/vma.ts";
import {
  isSwapPte,
  PAGE_SWP_EXCLUSIVE,
  PTE_GUARD,
  PTE_PROTNONE,
  PTE_SPECIAL,
  swapPteHi,
  swapPteLo,
  swapSlot,
} from "./pgtable.ts";

/** MAXPHYADDR of the 32-bit kernel's machine (PAE's 36 bits: 64 GiB) */
export const MAXPHYADDR_32 = 36;
/** KERNEL_PGD_BOUNDARY: pgd_index(PAGE_OFFSET): 768 of 1024 (2-level), 3 of 4 (PAE) */
export const KERNEL_PGD_BOUNDARY_2LEVEL = 768;
export const KERNEL_PGD_BOUNDARY_PAE = 3;
/** PAE: the high half's address bits (36-bit physical addresses) */
const HI_ADDR_PAE = 0xf;
const TWO32 = 4294967296;

/** The table a PAE PDPTE at `pa` points to (its frame). */
export function pdpteTable(phys: PhysMem, pa: number): number {
  return (phys.read32(pa + 4) & HI_ADDR_PAE) * 1048576 + ((phys.read32(pa) & Pte.ADDR_LO_MASK) >>> 0) / 4096;
}

/** memcpy of a whole table page (pgd_prepopulate_pmd's sizeof(pmd_t) * PTRS_PER_PMD). */
function copyTable(phys: PhysMem, fromPfn: number, toPfn: number): void {
  phys.copyFrame(pfnUnchecked(toPfn), pfnUnchecked(fromPfn));
}

/** 2-level: the swap type's bits (5..1) and where the offset starts (bit 9, _PAGE_BIT_PROTNONE + 1). */
const SWP_TYPE_SHIFT_2L = 1;
const SWP_OFFSET_SHIFT_2L = 9;
/** SWP_PTE_MARKER with 5 type bits, and PTE_MARKER_GUARD */
const SWP_PTE_MARKER = 31;
const PTE_MARKER_GUARD = 4;
/** the 2-level guard marker: swp_entry(SWP_PTE_MARKER, PTE_MARKER_GUARD) */
export const GUARD_2LEVEL =
  ((SWP_PTE_MARKER << SWP_TYPE_SHIFT_2L) | (PTE_MARKER_GUARD << SWP_OFFSET_SHIFT_2L)) >>> 0;

/** 2-level: is_swap_pte of a swap entry of area 0 (not a marker). */
export function isSwapPte2(lo: number): boolean {
  return (lo & (Pte.P | PTE_PROTNONE)) === 0 && lo !== 0 && ((lo >>> SWP_TYPE_SHIFT_2L) & 31) === 0;
}

/** 2-level __swp_offset */
export function swapSlot2(lo: number): number {
  return lo >>> SWP_OFFSET_SHIFT_2L;
}

/** 2-level __swp_entry(0, offset) (a 4-byte PTE: the low word alone): offsets up to 2^23 - 1 */
export function swapPte2(offset: number): number {
  return (offset * 512) >>> 0;
}

function bits(f: number): number {
  return (f & PteFlag.YOUNG ? Pte.A : 0) | (f & PteFlag.DIRTY ? Pte.D : 0) | (f & PteFlag.WRITE ? Pte.RW : 0);
}

export class I386Pgtable implements Pgtable {
  readonly levels: number;
  readonly ptrsPerTable: number;
  readonly entryBytes: number;
  /** PAE's 8-byte entries are stored with write64 (2-level's 4-byte ones with write32) */
  readonly setIsStore: boolean;
  readonly pmdLevel = 1;
  readonly hpagePmdNr: number;
  /** pfn_pte: the frame at bit 12 (2-level and PAE alike below 2^20 frames: mkUserInto) */
  readonly userPfnShift = 12;
  /** TASK_SIZE as a vpn: the PGD entries above it are the kernel's */
  readonly userPgtablesCeiling = 0xc0000;
  /** arch/x86/Kconfig selects MMU_GATHER_MERGE_VMAS */
  readonly mmuGatherMergeVmas = true;
  readonly kernelRootVpn = 0;
  readonly accessFlagsFlush = false;
  /** ptep_clear_flush_young clears A without a flush: arch/x86/mm/pgtable.c serves i386 and PAE too */
  readonly clearYoungFlush = false;
  readonly levelNames: readonly string[];
  readonly guard: Entry;
  /**
   * PAE: the PDPT and its three user PMDs in one order-2 block (pgd_alloc with preallocate_pmds);
   * PAE with PTI: the kernel and user PDPTs as one 8 KiB pair (PGD_ALLOCATION_ORDER 1), the five
   * PMDs allocated apart (pgdAllocTables)
   */
  readonly pgdOrder: number;
  readonly pgdBlockPmds: number;
  /** the PGD block's pages charged as kernel memory (GFP_PGTABLE_USER pages; mm/arch.ts) */
  readonly pgdAccountPages: number;
  readonly preallocatedPmds: boolean;
  /** page-table isolation (PAE only): SHARED_KERNEL_PMD is false, each PGD has its own kernel PMD */
  readonly pti: boolean;
  /**
   * x86 selects ARCH_WANT_HUGE_PMD_SHARE, but without PAE there is no PMD level (no
   * SPLIT_PMD_PTLOCKS), and with PAE the user PMDs are preallocated with the PGD: huge_pte_alloc
   * never finds the PUD (a PDPTE) none, so nothing is ever shared (mm/hugetlb_pmd_share.ts)
   */
  readonly hugePmdShare = false;

  constructor(
    readonly pae: boolean,
    pti = false,
  ) {
    this.pti = pae && pti;
    this.levels = pae ? 3 : 2;
    this.ptrsPerTable = pae ? 512 : 1024;
    this.entryBytes = pae ? 8 : 4;
    this.setIsStore = pae;
    this.hpagePmdNr = pae ? 512 : 1024;
    // folded levels answer the level they fold into: the PMD is the PGD (2-level), the PUD the PGD (PAE)
    this.levelNames = pae ? ["PTE", "PMD", "PGD"] : ["PTE", "PGD"];
    this.guard = pae ? { hi: 0, lo: PTE_GUARD } : { hi: 0, lo: GUARD_2LEVEL };
    this.pgdOrder = this.pti ? 1 : pae ? 2 : 0;
    this.pgdBlockPmds = pae && !this.pti ? 3 : 0;
    // _pgd_alloc: pages from __get_free_pages(GFP_PGTABLE_USER, PGD_ALLOCATION_ORDER) (2-level;
    // PAE with PTI, !SHARED_KERNEL_PMD), charged to the memory cgroup; PAE without PTI takes its
    // 32-byte PDPT from the pgd_cache slab (kmem_cache_alloc: a slab object's charge, not
    // modelled), the PMDs of its block charged apart (preallocate_pmds)
    this.pgdAccountPages = pae && !this.pti ? 0 : 1 << this.pgdOrder;
    this.preallocatedPmds = pae;
  }

  none(hi: number, lo: number): boolean {
    return lo === 0 && hi === 0;
  }

  /** pte_needs_flush, as on x86-64 (pte_flags_need_flush); NX only with PAE. */
  needsFlush(oldHi: number, oldLo: number, newHi: number, newLo: number, level: number): boolean {
    if ((oldLo & Pte.P) === 0) return false;
    if (this.pfn(oldHi, oldLo, level) !== this.pfn(newHi, newLo, level)) return true;
    const diffLo = oldLo ^ newLo;
    if (diffLo & oldLo & (Pte.D | Pte.P)) return true;
    const onChangeLo = Pte.RW | Pte.US | Pte.PWT | Pte.PCD | Pte.PS | Pte.G | Pte.PAT_LARGE;
    return (diffLo & onChangeLo) !== 0 || ((oldHi ^ newHi) & PteHi.XD) !== 0;
  }

  present(_hi: number, lo: number): boolean {
    return (lo & (Pte.P | PTE_PROTNONE)) !== 0;
  }

  accessible(_hi: number, lo: number): boolean {
    return (lo & Pte.P) !== 0;
  }

  protnone(_hi: number, lo: number): boolean {
    return (lo & (Pte.P | PTE_PROTNONE)) === PTE_PROTNONE;
  }

  write(_hi: number, lo: number): boolean {
    return (lo & Pte.RW) !== 0;
  }

  dirty(_hi: number, lo: number): boolean {
    return (lo & Pte.D) !== 0;
  }

  young(_hi: number, lo: number): boolean {
    return (lo & Pte.A) !== 0;
  }

  special(_hi: number, lo: number): boolean {
    return (lo & PTE_SPECIAL) !== 0;
  }

  leaf(_hi: number, lo: number, level: number): boolean {
    if (level === 0) return (lo & (Pte.P | PTE_PROTNONE)) !== 0;
    if (this.pae && level === 2) return false; // a PDPTE never maps a page
    return (lo & Pte.PS) !== 0 && (lo & (Pte.P | PTE_PROTNONE)) !== 0;
  }

  table(_hi: number, lo: number, level: number): boolean {
    if (this.pae && level === 2) return (lo & Pte.P) !== 0;
    return level > 0 && (lo & Pte.P) !== 0 && (lo & Pte.PS) === 0;
  }

  /** pte_pfn / pmd_pfn; a 4 MiB PDE (2-level) keeps PA bits 35..32 in bits 16..13 (PSE-36). */
  pfn(hi: number, lo: number, level: number): number {
    const large = level === 1 && (lo & Pte.PS) !== 0;
    if (!this.pae) {
      if (large) return ((lo >>> 13) & 0xf) * 1048576 + ((lo & 0xffc00000) >>> 12);
      return (lo & Pte.ADDR_LO_MASK) >>> 12;
    }
    const addrLo = large ? (lo & Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE) >>> 0 : (lo & Pte.ADDR_LO_MASK) >>> 0;
    return ((hi & HI_ADDR_PAE) * TWO32 + addrLo) / 4096;
  }

  isSwap(hi: number, lo: number): boolean {
    return this.pae ? isSwapPte(hi, lo) : isSwapPte2(lo);
  }

  swapOffset(hi: number, lo: number): number {
    return this.pae ? swapSlot(hi, lo) : swapSlot2(lo);
  }

  /** PAE: __swp_pteval_entry's high word (x86-64's); 2-level: 0 */
  mkSwapHi(offset: number, _exclusive: boolean): number {
    return this.pae ? swapPteHi(offset) : 0;
  }

  /** the low word, with _PAGE_SWP_EXCLUSIVE (bit 7) when `exclusive` (pte_swp_mkexclusive) */
  mkSwapLo(offset: number, exclusive: boolean): number {
    const lo = this.pae ? swapPteLo(offset) : swapPte2(offset);
    return exclusive ? (lo | PAGE_SWP_EXCLUSIVE) >>> 0 : lo;
  }

  /** set_pte_at of swp_entry_to_pte(swp_entry(0, offset)), pte_swp_mkexclusive when `exclusive` */
  setSwap(phys: PhysMem, pa: number, offset: number, exclusive: boolean): void {
    this.set(phys, pa, this.mkSwapHi(offset, exclusive), this.mkSwapLo(offset, exclusive));
  }

  /** pte_swp_exclusive: _PAGE_SWP_EXCLUSIVE = _PAGE_PSE (bit 7) in both pgtable-2level.h and pgtable-3level.h */
  swapExclusive(_hi: number, lo: number): boolean {
    return (lo & PAGE_SWP_EXCLUSIVE) !== 0;
  }

  swapClearExclusive(hi: number, lo: number): Entry {
    return { hi, lo: (lo & ~PAGE_SWP_EXCLUSIVE) >>> 0 };
  }

  isGuard(hi: number, lo: number): boolean {
    return hi === 0 && lo === this.guard.lo;
  }

  /** vm_get_page_prot, then pte_mkwrite/mkdirty/mkspecial; NX (bit 63) only with PAE (__supported_pte_mask) */
  mkUser(
    pfn: number,
    level: number,
    vmFlags: number,
    writable: boolean,
    dirty: boolean,
    special: boolean,
  ): Entry {
    return this.mkUserInto({ hi: 0, lo: 0 }, pfn, level, vmFlags, writable, dirty, special);
  }

  mkUserInto(
    out: Entry,
    pfn: number,
    level: number,
    vmFlags: number,
    writable: boolean,
    dirty: boolean,
    special: boolean,
  ): Entry {
    // leafFlagBits(level, { user, writable, accessed, dirty }) written out: no flags object per fault
    let lo = Pte.P + Pte.US + Pte.A;
    if (writable) lo += Pte.RW;
    if (dirty) lo += Pte.D;
    if (level > 0) lo += Pte.PS;
    let hi = 0;
    if (this.pae) {
      lo += (pfn % 1048576) * 4096;
      hi = Math.floor(pfn / 1048576);
      if (!(vmFlags & VmFlag.EXEC)) hi = (hi | PteHi.XD) >>> 0;
    } else if (level > 0) lo += (pfn % 1048576) * 4096 + ((Math.floor(pfn / 1048576) & 0xf) << 13);
    else lo += pfn * 4096;
    lo >>>= 0;
    if (special) lo = (lo | PTE_SPECIAL) >>> 0;
    if (!(vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))) lo = ((lo & ~Pte.P) | PTE_PROTNONE) >>> 0; // PAGE_NONE
    out.hi = hi;
    out.lo = lo;
    return out;
  }

  modify(hi: number, lo: number, set: number, clear: number): Entry {
    return this.modifyInto({ hi: 0, lo: 0 }, hi, lo, set, clear);
  }

  /** modify into `out` (no new object: the reclaim path's young-bit clears, one a page). */
  modifyInto(out: Entry, hi: number, lo: number, set: number, clear: number): Entry {
    out.hi = hi;
    out.lo = ((lo & ~bits(clear)) | bits(set)) >>> 0;
    return out;
  }

  /** __split_huge_pmd_locked: each PTE keeps the PMD's rights and state; a special PMD splits into read-only zero-page PTEs. */
  splitPte(pmdHi: number, pmdLo: number, pfn: number, special: boolean): Entry {
    const keepLo =
      (pmdLo & (Pte.P | Pte.RW | Pte.US | Pte.PWT | Pte.PCD | Pte.A | Pte.D | PTE_PROTNONE)) >>> 0;
    const lo =
      ((pfn % 1048576) * 4096 + (special ? (keepLo & ~(Pte.RW | Pte.D)) | PTE_SPECIAL : keepLo)) >>> 0;
    return { hi: this.pae ? (Math.floor(pfn / 1048576) | (pmdHi & PteHi.XD)) >>> 0 : 0, lo };
  }

  /** pmd_populate: _PAGE_TABLE (P, RW, US, A, D), _KERNPG_TABLE without US. (A PDPTE is P alone: set by pgd_ctor.) */
  mkTable(pfn: number, user: boolean): Entry {
    const lo = ((pfn % 1048576) * 4096 + (Pte.P | Pte.RW | Pte.A | Pte.D | (user ? Pte.US : 0))) >>> 0;
    return { hi: this.pae ? Math.floor(pfn / 1048576) : 0, lo };
  }

  get(phys: PhysMem, pa: number): Entry {
    return this.pae ? { hi: phys.read32(pa + 4), lo: phys.read32(pa) } : { hi: 0, lo: phys.read32(pa) };
  }

  /** set_pte_at: 2-level one store; PAE set_pte writes the high half first, then the low (native_set_pte) */
  set(phys: PhysMem, pa: number, hi: number, lo: number): void {
    if (this.pae) phys.write64(pa, hi >>> 0, lo >>> 0);
    else phys.write32(pa, lo >>> 0);
  }

  /**
   * set_pgd / set_pud (PAE: native_set_pud). Under PTI a PDPTE of the user
   * half goes through pti_set_user_pgtbl too: the same value in the user
   * PDPT (kernel_to_user_pgdp: bit 12 set). No NX is added to the kernel's
   * copy: a PDPTE has no _PAGE_USER (nor an NX bit), so the condition of
   * __pti_set_user_pgtbl never holds on PAE.
   */
  setTop(phys: PhysMem, pa: number, hi: number, lo: number): void {
    this.set(phys, pa, hi, lo);
    if (this.pti && (pa % 4096) / 8 < KERNEL_PGD_BOUNDARY_PAE) this.set(phys, (pa | 4096) >>> 0, hi, lo);
  }

  mapper(phys: PhysMem, alloc: FrameAllocator): PageTableMapper {
    return new I386Mapper(phys, this.pae, alloc, MAXPHYADDR_32);
  }

  /**
   * pgd_ctor. 2-level: clone_pgd_range of the kernel's entries 768..1023.
   * PAE (pgd_prepopulate_pmd, SHARED_KERNEL_PMD): PDPTEs 0..2 point to the
   * mm's own PMDs (the three pages after the PDPT, zeroed), PDPTE 3 to the
   * kernel's one PMD, shared by every process: a new kernel PDE (vmalloc)
   * is seen by all at once.
   */
  pgdCtor(phys: PhysMem, kernelPgdPfn: number, pgdPfn: number): void {
    const k = kernelPgdPfn * 4096;
    const p = pgdPfn * 4096;
    // PAE with PTI: CONFIG_PGTABLE_LEVELS 3 and !SHARED_KERNEL_PMD: nothing to clone (pgdAllocTables)
    if (this.pti) return;
    if (!this.pae) {
      for (let i = KERNEL_PGD_BOUNDARY_2LEVEL; i < 1024; i++) phys.write32(p + i * 4, phys.read32(k + i * 4));
      return;
    }
    for (let i = 0; i < KERNEL_PGD_BOUNDARY_PAE; i++) {
      const pmd = pgdPfn + 1 + i;
      phys.write64(p + i * 8, Math.floor(pmd / 1048576), ((pmd % 1048576) * 4096 + Pte.P) >>> 0);
    }
    phys.write64(p + 24, phys.read32(k + 28), phys.read32(k + 24));
  }

  /**
   * pgd_alloc's PMDs under PTI (PAE): preallocate_pmds of PREALLOCATED_PMDS
   * (UNSHARED_PTRS_PER_PGD = 4: the three user PMDs and the mm's own copy
   * of the kernel PMD) and of PREALLOCATED_USER_PMDS (KERNEL_PGD_PTRS = 1:
   * the user PDPT's kernel PMD), each a page from `alloc`; then
   * pgd_prepopulate_pmd (PDPTEs 0..3, the kernel PMD a memcpy of
   * swapper_pg_dir's, PDPTEs 0..2 mirrored into the user PDPT by
   * pud_populate's set_pud) and pgd_prepopulate_user_pmd (user PDPTE 3, a
   * memcpy of init_mm's user kernel PMD: the entry text and the
   * cpu_entry_area). False when a page was missing (those taken are freed).
   */
  pgdAllocTables(
    phys: PhysMem,
    kernelPgdPfn: number,
    pgdPfn: number,
    alloc: () => number,
    free: (pfn: number) => void,
  ): boolean {
    if (!this.pti) return true;
    const pmds: number[] = [];
    for (let i = 0; i < 5; i++) {
      const pmd = alloc();
      if (pmd < 0) {
        for (const p of pmds) free(p);
        return false;
      }
      pmds.push(pmd);
    }
    const pgd = pgdPfn * 4096;
    for (let i = 0; i < 4; i++) {
      // pgd_page_vaddr(swapper_pg_dir[3]): the kernel PMD, copied whole
      if (i >= KERNEL_PGD_BOUNDARY_PAE)
        copyTable(phys, pdpteTable(phys, kernelPgdPfn * 4096 + i * 8), pmds[i]);
      this.setTop(
        phys,
        pgd + i * 8,
        Math.floor(pmds[i] / 1048576),
        ((pmds[i] % 1048576) * 4096 + Pte.P) >>> 0,
      ); // pud_populate
    }
    // kernel_to_user_pgdp(swapper_pg_dir)[3]: init_mm's user kernel PMD
    copyTable(phys, pdpteTable(phys, (kernelPgdPfn + 1) * 4096 + 24), pmds[4]);
    this.setTop(
      phys,
      pgd + 4096 + 24,
      Math.floor(pmds[4] / 1048576),
      ((pmds[4] % 1048576) * 4096 + Pte.P) >>> 0,
    );
    return true;
  }

  /** pgd_free's pgd_mop_up_pmds under PTI: PDPTEs 0..3 of the kernel PDPT and 3 of the user PDPT, cleared, their PMDs to `free`. */
  pgdFreeTables(phys: PhysMem, pgdPfn: number, free: (pfn: number) => void): void {
    if (!this.pti) return;
    for (const pa of [0, 8, 16, 24, 4096 + 24].map((o) => pgdPfn * 4096 + o)) {
      if ((phys.read32(pa) & Pte.P) === 0) continue;
      const pmd = pdpteTable(phys, pa);
      this.setTop(phys, pa, 0, 0); // pgd_clear (mirrored for the user half)
      free(pmd);
    }
  }

  /** The PGD user code runs on: under PTI the user PDPT, 4 KiB above the kernel's. */
  userPgd(pgdPfn: number): Pfn {
    return pfnUnchecked(this.pti ? pgdPfn + 1 : pgdPfn);
  }
}
