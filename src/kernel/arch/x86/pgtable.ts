/**
 * x86-64 page-table entries as generic mm sees them (kernel/mm/arch.ts
 * Pgtable). Linux: arch/x86/include/asm/pgtable.h, pgtable_types.h,
 * pgtable_64.h (the swap entry), arch/x86/mm/pgtable.c (pgd_alloc) and
 * pti.c (the PGD pair).
 *
 * Software bits Linux uses in a PTE (pgtable_types.h):
 *   bit 9  _PAGE_SPECIAL   no struct page refcounted (zero page, remap_pfn_range)
 *   bit 8  _PAGE_PROTNONE  with P = 0: a PROT_NONE page that keeps its frame (bit 8 is G when P = 1)
 *   bit 10 a guard marker  with P = 0 and nothing else (vmlab's encoding of PTE_MARKER_GUARD)
 * A swap entry is a non-present PTE whose offset is stored inverted in bits
 * 9..58 (the L1TF mitigation: a non-present PTE never points at real memory).
 */
import { type Pfn, pfnUnchecked } from "../../../base/units.ts";
import { Mapper } from "../../../hw/arch/x86_64/Mapper.ts";
import { Pte, PteHi } from "../../../hw/arch/x86_64/pte.ts";
import type { FrameAllocator, PageTableMapper } from "../../../hw/mmu/Mapper.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";
import { type Entry, type Pgtable, PteFlag } from "../../mm/arch.ts";
import { VmFlag, vmaPkey } from "../../mm/vma.ts";
import { ptiClonePgdPair, ptiSetUserPgtbl } from "./pti.ts";

/** _PAGE_SPECIAL (software bit 9). */
export const PTE_SPECIAL = 1 << 9;
/** _PAGE_PROTNONE (bit 8 with P = 0). */
export const PTE_PROTNONE = 1 << 8;
/** vmlab's guard marker: software bit 10, P = 0, nothing else. */
export const PTE_GUARD = 1 << 10;

/** MAXPHYADDR of the kernel's machine. */
export const KERNEL_MAXPHYADDR = 46;
/** reservedMasks(KERNEL_MAXPHYADDR).hiAddrMask (address bits 45..32 in the high half), as a literal constant (pgtable.test.ts checks) */
export const HI_ADDR = (1 << (KERNEL_MAXPHYADDR - 32)) - 1;
const TWO32 = 4294967296;

/** PteFlag bits as x86 PTE bits (the same at every level). */
function bits(f: number): number {
  return (f & PteFlag.YOUNG ? Pte.A : 0) | (f & PteFlag.DIRTY ? Pte.D : 0) | (f & PteFlag.WRITE ? Pte.RW : 0);
}

/**
 * Is this a swap entry? P = 0, PROTNONE = 0, the high half non-zero (the
 * inverted offset sets it). Linux: include/linux/swapops.h is_swap_pte
 */
export function isSwapPte(hi: number, lo: number): boolean {
  return (lo & (Pte.P | PTE_PROTNONE)) === 0 && hi !== 0;
}

/** 2^50 - 1: the offset field, bits 58..9 (SWP_OFFSET_FIRST_BIT = 9 to 63 - SWP_TYPE_BITS). */
const SWP_OFFSET_ONES = 1125899906842623;
/** 2^23: the offset's bits in the low word (bits 31..9) */
const TWO23 = 8388608;

/**
 * The offset (slot) of a swap entry: the 50-bit field in bits 58..9, inverted back.
 * Linux: arch/x86/include/asm/pgtable_64.h __swp_offset (pgtable-3level.h __pteval_swp_offset)
 */
export function swapSlot(hi: number, lo: number): number {
  const inv = ((lo >>> 9) & 0x7fffff) | ((hi & 0x1ff) << 23);
  // an offset below 2^32: bits 58..41 all ones (inverted zeros), the answer in 32 bits
  if ((hi & 0x7fffe00) === 0x7fffe00) return ~inv >>> 0;
  return SWP_OFFSET_ONES - ((hi & 0x7ffffff) * TWO23 + ((lo >>> 9) & 0x7fffff));
}

/**
 * _PAGE_SWP_EXCLUSIVE = _PAGE_PSE (bit 7): the exclusive marker of a swap
 * PTE, outside the type and offset fields (pgtable_64.h; the same bit in
 * pgtable-2level.h and pgtable-3level.h).
 */
export const PAGE_SWP_EXCLUSIVE = 1 << 7;

/**
 * The high word of the swap entry of slot `offset` (0 <= offset < 2^50) in area 0: the
 * inverted offset's bits 49..23 in PTE bits 58..32, the type (0) in bits 63..59.
 * Linux: arch/x86/include/asm/pgtable_64.h __swp_entry, swp_entry_to_pte
 * (pgtable-3level.h __swp_pteval_entry for PAE, the same bits)
 */
export function swapPteHi(offset: number): number {
  // below 2^32: bits above 31 of ~offset are all ones
  if (offset <= 0xffffffff) return (((~offset >>> 23) & 0x1ff) | (0x3ffff << 9)) >>> 0;
  return Math.floor((SWP_OFFSET_ONES - offset) / TWO23);
}

/** The low word of the same entry: the inverted offset's bits 22..0 in PTE bits 31..9. */
export function swapPteLo(offset: number): number {
  if (offset <= 0xffffffff) return ((~offset & 0x7fffff) << 9) >>> 0;
  return ((SWP_OFFSET_ONES - offset) % TWO23) * 512;
}

export class X86Pgtable implements Pgtable {
  readonly ptrsPerTable = 512;
  readonly entryBytes = 8;
  readonly setIsStore: boolean = true;
  readonly pmdLevel = 1;
  readonly hpagePmdNr = 512;
  /** pfn_pte: the frame at bit 12 (mkUserInto: pfn % 2^20 * 4096 in the low half, pfn / 2^20 in the high) */
  readonly userPfnShift = 12;
  readonly userPgtablesCeiling: number;
  /** arch/x86/Kconfig selects MMU_GATHER_MERGE_VMAS */
  readonly mmuGatherMergeVmas = true;
  /** one root (CR3) for both halves: the kernel half is copied into every PGD */
  readonly kernelRootVpn = 0;
  /** a #PF drops the faulting translation: ptep_set_access_flags needs no flush */
  readonly accessFlagsFlush = false;
  /**
   * ptep_clear_flush_young is ptep_test_and_clear_young alone: "clearing
   * the accessed bit without a TLB flush doesn't cause data corruption"
   * (arch/x86/mm/pgtable.c ptep_clear_flush_young)
   */
  readonly clearYoungFlush = false;
  readonly levelNames: readonly string[];
  readonly guard: Entry = { hi: 0, lo: PTE_GUARD };
  readonly pgdOrder: number;
  /**
   * arch/x86/mm/pgtable.c _pgd_alloc: __get_free_pages(GFP_PGTABLE_USER, PGD_ALLOCATION_ORDER),
   * charged whole to the memory cgroup (Linux's order is 1 whenever the kernel is built with
   * MITIGATION_PAGE_TABLE_ISOLATION; vmlab's block is the pair only with pti=on)
   */
  readonly pgdAccountPages: number;
  /** arch/x86/Kconfig: ARCH_WANT_HUGE_PMD_SHARE; x86-64 has split PMD locks */
  readonly hugePmdShare = true;

  constructor(
    readonly levels: 4 | 5,
    /** page-table isolation: every PGD an order-1 pair, user-half writes mirrored */
    readonly pti: boolean,
    /**
     * X86_FEATURE_GBPAGES (CPUID 0x80000001 EDX bit 26, /proc/cpuinfo's
     * pdpe1gb): 1 GiB HugeTLB pages (arch_hugetlb_valid_size). Every
     * x86-64 CPU model vmlab has, as this machine's, has it.
     */
    readonly hugetlbPud = true,
  ) {
    this.userPgtablesCeiling = 256 * 512 ** (levels - 1);
    this.levelNames = levels === 5 ? ["PTE", "PMD", "PUD", "P4D", "PGD"] : ["PTE", "PMD", "PUD", "PGD"];
    this.pgdOrder = pti ? 1 : 0;
    this.pgdAccountPages = 1 << this.pgdOrder;
  }

  none(hi: number, lo: number): boolean {
    return lo === 0 && hi === 0;
  }

  /**
   * arch/x86/include/asm/tlbflush.h pte_needs_flush (pte_flags_need_flush
   * with ignore_access): a non-present old entry was never cached; a new
   * frame always needs a flush; of the flags, clearing D or P does, any
   * change of RW, US, PWT, PCD, PSE, G, PAT, the protection key or NX does,
   * and A and the software bits (11..9, 58..52) never do.
   */
  needsFlush(oldHi: number, oldLo: number, newHi: number, newLo: number, level: number): boolean {
    if ((oldLo & Pte.P) === 0) return false;
    if (this.pfn(oldHi, oldLo, level) !== this.pfn(newHi, newLo, level)) return true;
    const diffLo = oldLo ^ newLo;
    const diffHi = oldHi ^ newHi;
    if (diffLo & oldLo & (Pte.D | Pte.P)) return true;
    const onChangeLo = Pte.RW | Pte.US | Pte.PWT | Pte.PCD | Pte.PS | Pte.G | Pte.PAT_LARGE;
    return (diffLo & onChangeLo) !== 0 || (diffHi & (PteHi.PKEY_MASK | PteHi.XD)) !== 0;
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
    return (lo & Pte.PS) !== 0 && (lo & (Pte.P | PTE_PROTNONE)) !== 0;
  }

  table(_hi: number, lo: number, level: number): boolean {
    return level > 0 && (lo & Pte.P) !== 0 && (lo & Pte.PS) === 0;
  }

  /** pte_pfn / pmd_pfn: address bits 45..12 (a large leaf's bit 12 is PAT) as integer operations, no division */
  pfn(hi: number, lo: number, level: number): number {
    // (lo & ADDR_LO_MASK) / 4096 is lo >>> 12; PAT_LARGE is bit 12, the result's bit 0
    const addrLo = level > 0 && (lo & Pte.PS) !== 0 ? (lo >>> 12) & ~1 : lo >>> 12;
    return (hi & HI_ADDR) * 1048576 + addrLo;
  }

  isSwap(hi: number, lo: number): boolean {
    return isSwapPte(hi, lo);
  }

  swapOffset(hi: number, lo: number): number {
    return swapSlot(hi, lo);
  }

  /** swapPteHi, with an offset below 2^32 (every swap area vmlab makes) computed here: no call */
  mkSwapHi(offset: number, _exclusive: boolean): number {
    if (offset <= 0xffffffff) return (((~offset >>> 23) & 0x1ff) | (0x3ffff << 9)) >>> 0;
    return swapPteHi(offset);
  }

  /** swapPteLo, and pte_swp_mkexclusive: bit 7 */
  mkSwapLo(offset: number, exclusive: boolean): number {
    const lo = offset <= 0xffffffff ? (~offset & 0x7fffff) << 9 : swapPteLo(offset);
    return (exclusive ? lo | PAGE_SWP_EXCLUSIVE : lo) >>> 0;
  }

  /** set_pte_at of swp_entry_to_pte(swp_entry(0, offset)), pte_swp_mkexclusive when `exclusive` */
  setSwap(phys: PhysMem, pa: number, offset: number, exclusive: boolean): void {
    // int32 halves into set (which takes them `>>> 0`): a low half at or above 2^31, as most
    // swap entries' are, passed unsigned would be a new heap number per page swapped out
    this.set(phys, pa, this.mkSwapHi(offset, exclusive) | 0, this.mkSwapLo(offset, exclusive) | 0);
  }

  swapExclusive(_hi: number, lo: number): boolean {
    return (lo & PAGE_SWP_EXCLUSIVE) !== 0;
  }

  swapClearExclusive(hi: number, lo: number): Entry {
    return { hi, lo: (lo & ~PAGE_SWP_EXCLUSIVE) >>> 0 };
  }

  isGuard(hi: number, lo: number): boolean {
    return lo === PTE_GUARD && hi === 0;
  }

  /**
   * Linux: arch/x86/mm/pgprot.c vm_get_page_prot (protection_map, and the
   * VMA's protection key, VM_PKEY_BIT0..3, into PTE bits 59..62:
   * _PAGE_PKEY_BIT0..3), then pte_mkwrite/mkdirty/mkspecial
   */
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
    // pfn_pte / pfn_pmd: the frame and P, US, A (the bits leafEntry gives a user page, without its
    // flags object: this runs on every demand-zero fault), RW and D as asked, PS above the PTE level
    // pfn's low 20 bits by a mask (ToInt32 keeps them for any pfn): no float modulo a call
    let lo = (pfn & 0xfffff) * 4096 + (Pte.P | Pte.US | Pte.A);
    if (writable) lo += Pte.RW;
    if (dirty) lo += Pte.D;
    if (level > 0) lo += Pte.PS;
    if (special) lo = (lo | PTE_SPECIAL) >>> 0;
    if (!(vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))) lo = ((lo & ~Pte.P) | PTE_PROTNONE) >>> 0; // PAGE_NONE
    let hi = (pfn < TWO32 ? pfn >>> 20 : Math.floor(pfn / 1048576)) | (vmaPkey(vmFlags) << PteHi.PKEY_SHIFT);
    if (!(vmFlags & VmFlag.EXEC)) hi |= PteHi.XD;
    out.hi = hi >>> 0;
    out.lo = lo >>> 0;
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

  /**
   * Each PTE inherits the PMD's own bits, its protection key too (not the VMA's: during mprotect the
   * VMA may already have its new rights while the rest of the huge page
   * belongs to a neighbour); the 2 MiB-only bits (PS, PAT at bit 12) go. A
   * special (huge zero page) PMD splits into read-only, clean PTEs of the
   * zero page.
   */
  splitPte(pmdHi: number, pmdLo: number, pfn: number, special: boolean): Entry {
    const keepLo =
      (pmdLo & (Pte.P | Pte.RW | Pte.US | Pte.PWT | Pte.PCD | Pte.A | Pte.D | PTE_PROTNONE)) >>> 0;
    const lo =
      ((pfn % 1048576) * 4096 + (special ? (keepLo & ~(Pte.RW | Pte.D)) | PTE_SPECIAL : keepLo)) >>> 0;
    return { hi: (Math.floor(pfn / 1048576) | (pmdHi & (PteHi.XD | PteHi.PKEY_MASK))) >>> 0, lo };
  }

  /** _PAGE_TABLE (P, RW, US, A, D) for a user table; _KERNPG_TABLE without US */
  mkTable(pfn: number, user: boolean): Entry {
    const lo = ((pfn % 1048576) * 4096 + (Pte.P | Pte.RW | Pte.A | Pte.D | (user ? Pte.US : 0))) >>> 0;
    return { hi: Math.floor(pfn / 1048576), lo };
  }

  get(phys: PhysMem, pa: number): Entry {
    return { hi: phys.read32(pa + 4), lo: phys.read32(pa) };
  }

  set(phys: PhysMem, pa: number, hi: number, lo: number): void {
    // the halves as int32 bits (write64 stores the same 32 bits either way): a half at or above
    // 2^31 (the XD bit, a swap entry's inverted offset) as an unsigned number would be a new heap
    // number for the call on every PTE stored
    phys.write64(pa, hi | 0, lo | 0);
  }

  /** Under PTI a user-half PGD entry is mirrored into the user PGD (pti_set_user_pgtbl). */
  setTop(phys: PhysMem, pa: number, hi: number, lo: number): void {
    phys.write64(pa, (this.pti ? ptiSetUserPgtbl(phys, pa, hi, lo) : hi) >>> 0, lo >>> 0);
  }

  mapper(phys: PhysMem, alloc: FrameAllocator): PageTableMapper {
    const m = new Mapper(phys, this.levels, KERNEL_MAXPHYADDR, alloc);
    if (this.pti) m.onSetTop = (pa, hi, lo) => ptiSetUserPgtbl(phys, pa, hi, lo);
    return m;
  }

  /** clone_pgd_range of the kernel half (entries 256..511); with PTI, of both PGDs of the pair */
  pgdCtor(phys: PhysMem, kernelPgdPfn: number, pgdPfn: number): void {
    if (this.pti) {
      ptiClonePgdPair(phys, kernelPgdPfn, pgdPfn);
      return;
    }
    for (let i = 256; i < 512; i++) {
      const pa = kernelPgdPfn * 4096 + i * 8;
      phys.write64(pgdPfn * 4096 + i * 8, phys.read32(pa + 4), phys.read32(pa));
    }
  }

  userPgd(pgdPfn: number): Pfn {
    return pfnUnchecked(this.pti ? pgdPfn + 1 : pgdPfn);
  }
}
