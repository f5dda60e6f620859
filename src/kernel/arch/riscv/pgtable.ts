/**
 * RISC-V page-table entries as generic mm sees them (kernel/mm/arch.ts
 * Pgtable), Sv39/Sv48/Sv57 with 4 KiB pages (Linux v6.12
 * arch/riscv/include/asm/pgtable-bits.h, pgtable.h, pgtable-64.h,
 * pgalloc.h; arch/riscv/mm/init.c protection_map).
 *
 * A PTE is the hardware's (hw/arch/riscv/format.ts): V R W X U G A D, the
 * two RSW bits, the PPN from bit 10. Linux's names: _PAGE_PRESENT = V,
 * _PAGE_READ/WRITE/EXEC, _PAGE_USER, _PAGE_GLOBAL, _PAGE_ACCESSED,
 * _PAGE_DIRTY; _PAGE_SPECIAL is RSW bit 8 (_PAGE_SOFT), _PAGE_DEVMAP bit 9.
 *
 * - _PAGE_PROT_NONE is _PAGE_GLOBAL: a PROT_NONE user page is G | R with V
 *   clear; the hardware ignores an invalid PTE, and Linux reads G there as
 *   "present but inaccessible" (user pages are never global).
 * - pte_present = V | _PAGE_PROT_NONE; pte_protnone = G without V.
 * - A table entry (_PAGE_TABLE) is V alone with R = W = X = 0; a leaf at any
 *   level has one of R, W, X (_PAGE_LEAF): pmd_leaf for a huge PMD.
 * - No hardware A/D (Svade): PAGE_* carry _PAGE_ACCESSED, a write fault
 *   sets _PAGE_DIRTY; a store to a clean page faults and pte_mkdirty fixes it.
 * - The swap entry (v6.12): bit 0 (V), bits 1-3 (_PAGE_LEAF) and bit 5
 *   (_PAGE_PROT_NONE) zero, bit 6 the exclusive marker, bits 7-11 the type,
 *   bits 12-63 the offset ("bits 12 to XLEN-1": 12-31 on RV32, so at most
 *   2^20 pages of swap).
 *
 * RV32 (pgtable-32.h, asm-generic/pgtable-nopmd.h): 2 levels (PGD, PTE) of
 * 1024 4-byte entries, the same bits in one word (_PAGE_PFN_MASK 31:10),
 * no _PAGE_NOCACHE/_PAGE_IO (no Svpbmt), no NAPOT; the PMD folded into the
 * PGD, so a huge PMD is a 4 MiB PGD leaf (HugeTLB only: THP is 64BIT-only,
 * HAVE_ARCH_TRANSPARENT_HUGEPAGE if 64BIT; no ARCH_WANT_HUGE_PMD_SHARE).
 */
import { type Pfn, pfnUnchecked } from "../../../base/units.ts";
import type { FrameAllocator, PageTableMapper } from "../../../hw/mmu/Mapper.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";
import { type Entry, type HugetlbCont, type Pgtable, PteFlag } from "../../mm/arch.ts";

/** pgtable-bits.h, as PTE bits of the low word. */
export const enum PageBit {
  /** V */
  PRESENT = 1 << 0,
  READ = 1 << 1,
  WRITE = 1 << 2,
  EXEC = 1 << 3,
  USER = 1 << 4,
  GLOBAL = 1 << 5,
  ACCESSED = 1 << 6,
  DIRTY = 1 << 7,
  /** _PAGE_SPECIAL = _PAGE_SOFT's first bit (RSW bit 8) */
  SPECIAL = 1 << 8,
  /** _PAGE_DEVMAP (RSW bit 9) */
  DEVMAP = 1 << 9,
  /** _PAGE_PROT_NONE = _PAGE_GLOBAL (only when V is clear) */
  PROT_NONE = GLOBAL,
  /** _PAGE_LEAF = R | W | X */
  LEAF = READ | WRITE | EXEC,
  /** _PAGE_TABLE = _PAGE_PRESENT */
  TABLE = PRESENT,
  /** _PAGE_SWP_EXCLUSIVE = _PAGE_ACCESSED (bit 6, swap entries only) */
  SWP_EXCLUSIVE = ACCESSED,
}

/** _PAGE_BASE: present, accessed, user */
const PAGE_BASE = PageBit.PRESENT | PageBit.ACCESSED | PageBit.USER;
/** PAGE_NONE = _PAGE_PROT_NONE | _PAGE_READ */
export const PAGE_NONE = PageBit.PROT_NONE | PageBit.READ;
export const PAGE_READ = PAGE_BASE | PageBit.READ;
export const PAGE_WRITE = PAGE_BASE | PageBit.READ | PageBit.WRITE;
/** execute-only: X without R is a valid RISC-V leaf */
export const PAGE_EXEC = PAGE_BASE | PageBit.EXEC;
export const PAGE_READ_EXEC = PAGE_BASE | PageBit.READ | PageBit.EXEC;
export const PAGE_WRITE_EXEC = PAGE_BASE | PageBit.READ | PageBit.EXEC | PageBit.WRITE;
/** _PAGE_KERNEL: R W present accessed dirty global (no U: SUM gates nothing here) */
export const PAGE_KERNEL =
  PageBit.READ | PageBit.WRITE | PageBit.PRESENT | PageBit.ACCESSED | PageBit.DIRTY | PageBit.GLOBAL;

/**
 * protection_map[VM_READ|VM_WRITE|VM_EXEC|VM_SHARED] (arch/riscv/mm/init.c):
 * PAGE_COPY = PAGE_READ (private writable mappings are read-only until
 * copy-on-write), PAGE_SHARED = PAGE_WRITE.
 */
export const PROTECTION_MAP: readonly number[] = [
  PAGE_NONE, // VM_NONE
  PAGE_READ, // VM_READ
  PAGE_READ, // VM_WRITE (PAGE_COPY)
  PAGE_READ, // VM_WRITE | VM_READ
  PAGE_EXEC, // VM_EXEC
  PAGE_READ_EXEC, // VM_EXEC | VM_READ
  PAGE_READ_EXEC, // VM_EXEC | VM_WRITE (PAGE_COPY_EXEC)
  PAGE_READ_EXEC, // VM_EXEC | VM_WRITE | VM_READ
  PAGE_NONE, // VM_SHARED
  PAGE_READ, // VM_SHARED | VM_READ
  PAGE_WRITE, // VM_SHARED | VM_WRITE (PAGE_SHARED)
  PAGE_WRITE, // VM_SHARED | VM_WRITE | VM_READ
  PAGE_EXEC, // VM_SHARED | VM_EXEC
  PAGE_READ_EXEC, // VM_SHARED | VM_EXEC | VM_READ
  PAGE_WRITE_EXEC, // VM_SHARED | VM_EXEC | VM_WRITE (PAGE_SHARED_EXEC)
  PAGE_WRITE_EXEC, // VM_SHARED | VM_EXEC | VM_WRITE | VM_READ
];

// ---- the swap entry (pgtable.h) ----

/** __SWP_TYPE_SHIFT, __SWP_TYPE_BITS: the type in bits 11:7 */
export const SWP_TYPE_SHIFT = 7;
export const SWP_TYPE_BITS = 5;
/** __SWP_OFFSET_SHIFT = __SWP_TYPE_BITS + __SWP_TYPE_SHIFT: the offset from bit 12 */
export const SWP_OFFSET_SHIFT = 12;
/** SWP_PTE_MARKER = 2^5 - 1 (include/linux/swap.h); PTE_MARKER_GUARD (swapops.h, v6.13) */
export const SWP_PTE_MARKER = (1 << SWP_TYPE_BITS) - 1;
export const PTE_MARKER_GUARD = 1 << 2;

const TWO20 = 1048576;
const TWO22 = 4194304;
const TYPE_FIELD = ((1 << SWP_TYPE_BITS) - 1) << SWP_TYPE_SHIFT;
/** what is zero in every swap entry: _PAGE_PRESENT, _PAGE_LEAF, _PAGE_PROT_NONE */
const NOT_SWAP = PageBit.PRESENT | PageBit.LEAF | PageBit.PROT_NONE;

/** The high word of __swp_entry(type, offset) as a PTE: offset bits 51:20 in PTE bits 63:32. */
export function swpEntryHi(_type: number, offset: number): number {
  return offset < TWO20 ? 0 : Math.floor(offset / TWO20) >>> 0;
}

/** The low word of the same PTE: type << 7 | offset bits 19:0 << 12. */
export function swpEntryLo(type: number, offset: number): number {
  return ((offset % TWO20) * 4096 + (type << SWP_TYPE_SHIFT)) >>> 0;
}

/** __swp_entry(type, offset) as a PTE: type << 7 | offset << 12. */
export function swpEntryPte(type: number, offset: number): Entry {
  return { hi: swpEntryHi(type, offset), lo: swpEntryLo(type, offset) };
}

/** __swp_type */
export function swpType(_hi: number, lo: number): number {
  return (lo & TYPE_FIELD) >>> SWP_TYPE_SHIFT;
}

/** __swp_offset */
export function swpOffset(hi: number, lo: number): number {
  return (hi >>> 0) * TWO20 + (lo >>> SWP_OFFSET_SHIFT);
}

/** __page_val_to_pfn: the PPN (bits 53:10) */
export function pteToPfn(hi: number, lo: number): number {
  return (hi & 0x3fffff) * TWO22 + (lo >>> 10);
}

/** pfn << _PAGE_PFN_SHIFT | prot, as halves. */
export function pfnPte(pfn: number, prot: number): Entry {
  return { hi: Math.floor(pfn / TWO22) >>> 0, lo: ((pfn % TWO22) * 1024 + (prot & 0x3ff)) >>> 0 };
}

/** _PAGE_NAPOT: bit 63, the high half's bit 31 */
const NAPOT_HI = 0x80000000;

/**
 * Svnapot's HugeTLB size (CONFIG_RISCV_ISA_SVNAPOT with has_svnapot():
 * napot_hugetlbpages_init, for_each_napot_order: NAPOT_CONT64KB_ORDER only):
 * 16 PTEs, each pte_mknapot(pte, 4) of the folio's first frame: PPN[3:0]
 * = 1000 and N (bit 63), the same entry 16 times (set_huge_pte_at).
 * Linux: arch/riscv/mm/hugetlbpage.c, arch/riscv/include/asm/pgtable.h pte_mknapot
 */
export const RISCV_HUGETLB_NAPOT: HugetlbCont = {
  sizes: [{ nrPages: 16, level: 0 }],
  contEntry(hi: number, lo: number, _level: number, _i: number): Entry {
    // napot_mask clears PPN[3:0]; napot_bit sets PPN[3] (PTE bit 13); then _PAGE_NAPOT
    return { hi: (hi | NAPOT_HI) >>> 0, lo: ((lo & ~(15 << 10)) | (8 << 10)) >>> 0 };
  },
  isCont: (hi: number, _lo: number) => (hi & NAPOT_HI) !== 0,
  napot: true,
};

/** A software walker/builder of RISC-V tables over a PhysMem (the hardware side supplies it). */
export type MapperFactory = (phys: PhysMem, alloc: FrameAllocator) => PageTableMapper;

/**
 * The Pgtable of RISC-V Linux: 3 (Sv39), 4 (Sv48) or 5 (Sv57) levels of 512
 * 8-byte entries. Linux folds what the mode lacks into the PGD at run time
 * (pgtable_l4_enabled, pgtable_l5_enabled): Sv39 has PGD, PMD, PTE; Sv48
 * adds the PUD; Sv57 the P4D.
 */
export class RiscvPgtable implements Pgtable {
  readonly dataNonExec = true; // asm/page.h: VM_DATA_DEFAULT_FLAGS VM_DATA_FLAGS_NON_EXEC
  /** PTRS_PER_PTE: 512 (RV64), 1024 (RV32: 4-byte pte_t) */
  readonly ptrsPerTable: number;
  readonly entryBytes: number;
  readonly setIsStore = true;
  readonly pmdLevel = 1;
  /** the PMD's pages: 512, or RV32's 1024 (HPAGE_SHIFT = PMD_SHIFT = PGDIR_SHIFT 22: 4 MiB HugeTLB pages) */
  readonly hpagePmdNr: number;
  /** 1 GiB HugeTLB pages at the PUD level (arch_hugetlb_valid_size: PUD_SIZE, `IS_ENABLED(CONFIG_64BIT)` only) */
  readonly hugetlbPud: boolean;
  /** RV32: pgtable-32.h */
  readonly rv32: boolean;
  /** USER_PTRS_PER_PGD = TASK_SIZE / PGDIR_SIZE: 256 (RV64), 626 (RV32: 0x9c800000 / 4M) */
  readonly userPtrsPerPgd: number;
  /** USER_PTRS_PER_PGD (TASK_SIZE / PGDIR_SIZE = 256) entries of the PGD: the user half */
  readonly userPgtablesCeiling: number;
  /** one root (satp) for both halves: the kernel half is copied into every PGD (like x86-64, unlike arm64) */
  readonly kernelRootVpn = 0;
  /**
   * ptep_set_access_flags changes the entry only; update_mmu_cache's local
   * sfence.vma at the end of every handled fault (arch/riscv fault.ts)
   * drops the faulting hart's stale copy, so generic mm issues no flush.
   */
  readonly accessFlagsFlush = false;
  /** the generic pmdp_invalidate_ad: pmdp_invalidate, with flush_pmd_tlb_range */
  readonly pmdpInvalidateAdFlushes = true;
  /**
   * ptep_clear_flush_young is ptep_test_and_clear_young alone, x86's
   * reasoning borrowed (arch/riscv/include/asm/pgtable.h); the PMD's
   * pmdp_clear_flush_young is the generic one, which flushes
   */
  readonly clearYoungFlush = false;
  readonly levelNames: readonly string[];
  /** make_pte_marker(PTE_MARKER_GUARD): swp_entry(SWP_PTE_MARKER, PTE_MARKER_GUARD) */
  readonly guard: Entry = swpEntryPte(SWP_PTE_MARKER, PTE_MARKER_GUARD);
  /** pgd_alloc: one page, __get_free_page(GFP_KERNEL): not charged to the memory cgroup (no pgdAccountPages) */
  readonly pgdOrder = 0;
  /** arch/riscv/Kconfig: ARCH_WANT_HUGE_PMD_SHARE if 64BIT */
  readonly hugePmdShare: boolean;
  /** has_svnapot(): the 64K NAPOT HugeTLB size, or null (the machine's `svnapot` key) */
  readonly hugetlbCont: HugetlbCont | null;

  constructor(
    readonly levels: 2 | 3 | 4 | 5,
    private readonly mapperFactory: MapperFactory,
    svnapot = false,
  ) {
    const rv32 = levels === 2;
    this.rv32 = rv32;
    this.ptrsPerTable = rv32 ? 1024 : 512;
    this.entryBytes = rv32 ? 4 : 8;
    this.hpagePmdNr = rv32 ? 1024 : 512;
    this.hugetlbPud = !rv32;
    this.hugePmdShare = !rv32;
    this.hugetlbCont = svnapot && !rv32 ? RISCV_HUGETLB_NAPOT : null;
    this.userPtrsPerPgd = rv32 ? 626 : 256;
    this.userPgtablesCeiling = this.userPtrsPerPgd * this.ptrsPerTable ** (levels - 1);
    this.levelNames = rv32
      ? ["PTE", "PGD"]
      : levels === 3
        ? ["PTE", "PMD", "PGD"]
        : levels === 4
          ? ["PTE", "PMD", "PUD", "PGD"]
          : ["PTE", "PMD", "PUD", "P4D", "PGD"];
  }

  /**
   * RISC-V has no pte_needs_flush: asm-generic's default, a flush for every
   * change of an entry a hart may cache, i.e. one with V set (a PROT_NONE
   * entry is invalid to the hardware and never cached).
   */
  needsFlush(_oldHi: number, oldLo: number, _newHi: number, _newLo: number, _level: number): boolean {
    return (oldLo & PageBit.PRESENT) !== 0;
  }

  /** pte_none */
  none(hi: number, lo: number): boolean {
    return lo === 0 && hi === 0;
  }

  /** pte_present: _PAGE_PRESENT | _PAGE_PROT_NONE */
  present(_hi: number, lo: number): boolean {
    return (lo & (PageBit.PRESENT | PageBit.PROT_NONE)) !== 0;
  }

  /** pte_accessible without a pending flush: _PAGE_PRESENT */
  accessible(_hi: number, lo: number): boolean {
    return (lo & PageBit.PRESENT) !== 0;
  }

  /** pte_protnone: (pte & (_PAGE_PRESENT | _PAGE_PROT_NONE)) == _PAGE_PROT_NONE */
  protnone(_hi: number, lo: number): boolean {
    return (lo & (PageBit.PRESENT | PageBit.PROT_NONE)) === PageBit.PROT_NONE;
  }

  /** pte_write */
  write(_hi: number, lo: number): boolean {
    return (lo & PageBit.WRITE) !== 0;
  }

  /** pte_dirty */
  dirty(_hi: number, lo: number): boolean {
    return (lo & PageBit.DIRTY) !== 0;
  }

  /** pte_young */
  young(_hi: number, lo: number): boolean {
    return (lo & PageBit.ACCESSED) !== 0;
  }

  /** pte_special (of a present entry: in a swap entry or marker bit 8 is the swap type's) */
  special(_hi: number, lo: number): boolean {
    return (lo & (PageBit.PRESENT | PageBit.PROT_NONE)) !== 0 && (lo & PageBit.SPECIAL) !== 0;
  }

  /** level 0: pte_present; above: pmd_leaf (present and one of R, W, X) */
  leaf(hi: number, lo: number, level: number): boolean {
    if (!this.present(hi, lo)) return false;
    return level === 0 || (lo & PageBit.LEAF) !== 0;
  }

  /** above level 0: a pointer to the next table (V with R = W = X = 0) */
  table(_hi: number, lo: number, level: number): boolean {
    return level > 0 && (lo & (PageBit.PRESENT | PageBit.LEAF)) === PageBit.PRESENT;
  }

  /** pte_pfn; a huge leaf is pmd_pfn / pud_pfn (masked to its size); a table entry, its table's frame */
  pfn(hi: number, lo: number, level: number): number {
    const pfn = pteToPfn(hi, lo);
    // a NAPOT PTE (pte_napot, with has_svnapot): res & (res - 1), the 64K block's first frame
    if (level === 0 && (hi & NAPOT_HI) !== 0 && this.hugetlbCont !== null) return pfn - (pfn % 16);
    if (level === 0 || (lo & PageBit.LEAF) === 0) return pfn;
    const span = this.ptrsPerTable ** level;
    return pfn - (pfn % span);
  }

  /** is_swap_pte of vmlab's one swap area: not none, not present, type 0 */
  isSwap(hi: number, lo: number): boolean {
    return (lo !== 0 || hi !== 0) && (lo & NOT_SWAP) === 0 && swpType(hi, lo) === 0;
  }

  swapOffset(hi: number, lo: number): number {
    return swpOffset(hi, lo);
  }

  /** swp_entry_to_pte(swp_entry(0, offset)): the high word (_PAGE_SWP_EXCLUSIVE is in the low one) */
  mkSwapHi(offset: number, _exclusive: boolean): number {
    return swpEntryHi(0, offset);
  }

  /** swp_entry_to_pte(swp_entry(0, offset)), pte_swp_mkexclusive when `exclusive`: the low word */
  mkSwapLo(offset: number, exclusive: boolean): number {
    const lo = swpEntryLo(0, offset);
    return exclusive ? (lo | PageBit.SWP_EXCLUSIVE) >>> 0 : lo;
  }

  /** set_pte_at of swp_entry_to_pte(swp_entry(0, offset)), pte_swp_mkexclusive when `exclusive` */
  setSwap(phys: PhysMem, pa: number, offset: number, exclusive: boolean): void {
    this.set(phys, pa, this.mkSwapHi(offset, exclusive), this.mkSwapLo(offset, exclusive));
  }

  /** pte_swp_exclusive: _PAGE_SWP_EXCLUSIVE (bit 6) */
  swapExclusive(_hi: number, lo: number): boolean {
    return (lo & PageBit.SWP_EXCLUSIVE) !== 0;
  }

  /** pte_swp_clear_exclusive */
  swapClearExclusive(hi: number, lo: number): Entry {
    return { hi, lo: (lo & ~PageBit.SWP_EXCLUSIVE) >>> 0 };
  }

  /** is_guard_swp_entry: a PTE marker (type SWP_PTE_MARKER) with PTE_MARKER_GUARD */
  isGuard(hi: number, lo: number): boolean {
    return (
      (lo & NOT_SWAP) === 0 &&
      swpType(hi, lo) === SWP_PTE_MARKER &&
      (swpOffset(hi, lo) & PTE_MARKER_GUARD) !== 0
    );
  }

  /**
   * pfn_pte(pfn, vm_get_page_prot(vmFlags)) (pmd_mkhuge changes nothing:
   * a leaf is a leaf at any level); then maybe_mkwrite, pte_mkdirty,
   * pte_mkspecial. A VMA not `writable` here (write-notify) gets its
   * protection without _PAGE_WRITE.
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

  /** pfn_pte: the PPN at bit 10 (mkUserInto) */
  readonly userPfnShift = 10;

  mkUserInto(
    out: Entry,
    pfn: number,
    _level: number,
    vmFlags: number,
    writable: boolean,
    dirty: boolean,
    special: boolean,
  ): Entry {
    let prot = PROTECTION_MAP[vmFlags & 0xf] & ~PageBit.WRITE;
    // W without R is reserved: every writable protection carries R
    if (writable && (prot & PageBit.READ) !== 0) prot |= PageBit.WRITE;
    if (dirty) prot |= PageBit.DIRTY;
    if (special) prot |= PageBit.SPECIAL;
    // pfn_pte (pfnPte) into `out`
    out.hi = Math.floor(pfn / TWO22) >>> 0;
    out.lo = ((pfn % TWO22) * 1024 + (prot & 0x3ff)) >>> 0;
    return out;
  }

  /**
   * pte_wrprotect, pte_mkclean, pte_mkold for `clear`, then pte_mkwrite,
   * pte_mkdirty, pte_mkyoung for `set`: each one bit (pgtable.h).
   */
  modify(hi: number, lo: number, set: number, clear: number): Entry {
    return this.modifyInto({ hi: 0, lo: 0 }, hi, lo, set, clear);
  }

  /** modify into `out` (no new object: the reclaim path's young-bit clears, one a page). */
  modifyInto(out: Entry, hi: number, lo: number, set: number, clear: number): Entry {
    if (clear & PteFlag.WRITE) lo &= ~PageBit.WRITE;
    if (clear & PteFlag.DIRTY) lo &= ~PageBit.DIRTY;
    if (clear & PteFlag.YOUNG) lo &= ~PageBit.ACCESSED;
    if (set & PteFlag.WRITE) lo |= PageBit.WRITE;
    if (set & PteFlag.DIRTY) lo |= PageBit.DIRTY;
    if (set & PteFlag.YOUNG) lo |= PageBit.ACCESSED;
    out.hi = hi >>> 0;
    out.lo = lo >>> 0;
    return out;
  }

  /**
   * A PTE of a split huge PMD: the PMD's bits with the frame replaced
   * (__split_huge_pmd_locked: pfn_pte with the PMD's pgprot); a special
   * (huge zero page) PMD splits into read-only, clean, special PTEs.
   */
  splitPte(_pmdHi: number, pmdLo: number, pfn: number, special: boolean): Entry {
    let prot = pmdLo & 0x3ff;
    if (special) prot = (prot & ~(PageBit.WRITE | PageBit.DIRTY)) | PageBit.SPECIAL;
    return pfnPte(pfn, prot);
  }

  /** pmd_populate / pud_populate / p4d_populate / pgd_populate: _PAGE_TABLE (V alone), user or kernel alike */
  mkTable(pfn: number, _user: boolean): Entry {
    return pfnPte(pfn, PageBit.TABLE);
  }

  /** ptep_get (RV32: one word) */
  get(phys: PhysMem, pa: number): Entry {
    return this.rv32 ? { hi: 0, lo: phys.read32(pa) } : { hi: phys.read32(pa + 4), lo: phys.read32(pa) };
  }

  /** set_pte / set_pmd (RV32: one word; nothing of RV32's fits in a high one) */
  set(phys: PhysMem, pa: number, hi: number, lo: number): void {
    if (this.rv32) phys.write32(pa, lo >>> 0);
    else phys.write64(pa, hi >>> 0, lo >>> 0);
  }

  /** set_pgd: no mirror (RISC-V Linux has no page-table isolation) */
  setTop(phys: PhysMem, pa: number, hi: number, lo: number): void {
    this.set(phys, pa, hi, lo);
  }

  mapper(phys: PhysMem, alloc: FrameAllocator): PageTableMapper {
    return this.mapperFactory(phys, alloc);
  }

  /**
   * pgd_alloc: a zeroed page whose upper half is sync_kernel_mappings'
   * copy of init_mm's (swapper_pg_dir) entries USER_PTRS_PER_PGD..511.
   * The kernel's tables below them are shared; boot preallocates the
   * vmalloc and modules ones so that no later entry needs copying.
   */
  pgdCtor(phys: PhysMem, kernelPgdPfn: number, pgdPfn: number): void {
    const eb = this.entryBytes;
    for (let i = this.userPtrsPerPgd; i < this.ptrsPerTable; i++) {
      const pa = kernelPgdPfn * 4096 + i * eb;
      const e = this.get(phys, pa);
      this.set(phys, pgdPfn * 4096 + i * eb, e.hi, e.lo);
    }
  }

  /** satp takes the mm's own PGD. */
  userPgd(pgdPfn: number): Pfn {
    return pfnUnchecked(pgdPfn);
  }
}
