/**
 * arm64 page-table entries as generic mm sees them (kernel/mm/arch.ts
 * Pgtable), for 4 KiB pages, 48-bit VAs and 4 levels (CONFIG_ARM64_4K_PAGES,
 * CONFIG_ARM64_VA_BITS_48, CONFIG_PGTABLE_LEVELS=4, no LPA2, no 52-bit PA).
 *
 * Linux v6.12: arch/arm64/include/asm/pgtable-hwdef.h (hardware bits),
 * pgtable-prot.h (software bits, PAGE_*), pgtable.h (pte_* helpers, the swap
 * entry), pgalloc.h (pmd_populate, pud_populate), arch/arm64/mm/mmap.c
 * (protection_map, vm_get_page_prot), arch/arm64/mm/pgd.c (pgd_alloc). The
 * guard marker is v6.13's PTE_MARKER_GUARD (include/linux/swapops.h), the
 * one thing here newer than v6.12; arm64's swap encoding is the same there.
 *
 * A 64-bit descriptor, as (hi, lo) halves:
 *
 *   63  61 60  59  58  57  56  55  54  53  52  51  50 49      12 11 10  9 8  7  6  5 4 2 1 0
 *  +--+---+---+---+---+---+---+---+---+---+---+---+---+----------+--+--+----+--+--+--+---+-+-+
 *  |  |APT|UXT|PXT|UFW|DVM|SPC|DRT|UXN|PXN|CON|DBM|GP | OA[49:12]|nG|AF| SH |AP2|AP1|NS|Idx|T|V|
 *  +--+---+---+---+---+---+---+---+---+---+---+---+---+----------+--+--+----+--+--+--+---+-+-+
 *       table-only      software (55-58)    hardware                        RDONLY USER
 *
 * - hardware: V (PTE_VALID), T (PTE_TABLE_BIT: 1 = table at levels 0-2, page
 *   at level 3; 0 = block), AttrIndx, AP[1] = PTE_USER, AP[2] = PTE_RDONLY,
 *   SH = PTE_SHARED, AF = PTE_AF, nG = PTE_NG, GP (BTI), DBM = PTE_DBM,
 *   Contiguous, PXN, UXN; in table descriptors PXNTable (59), UXNTable (60),
 *   APTable (61-62).
 * - software: PTE_WRITE *is* PTE_DBM (bit 51); PTE_DIRTY 55, PTE_SPECIAL 56,
 *   PTE_DEVMAP 57, PTE_UFFD_WP 58; PTE_PRESENT_INVALID is PTE_NG (bit 11),
 *   meaningful only when PTE_VALID = 0 (v6.10+: it replaced PTE_PROT_NONE,
 *   bit 58, and PMD_PRESENT_INVALID, bit 59).
 *
 * Dirty and writable (pgtable.h's table, with PTE_WRITE == PTE_DBM):
 *
 *   Dirty  Writable | PTE_RDONLY  PTE_WRITE  PTE_DIRTY (sw)
 *     0      0      |   1           0          0
 *     0      1      |   1           1          0
 *     1      0      |   1           0          1
 *     1      1      |   0           1          x
 *
 * so pte_dirty = PTE_DIRTY || (PTE_WRITE && !PTE_RDONLY): a writable, clean
 * page is mapped read-only to the hardware, and either hardware DBM (TCR_EL1.HD)
 * or a permission fault and pte_mkdirty makes it writable.
 */
import { type Pfn, pfnUnchecked } from "../../../base/units.ts";
import type { FrameAllocator, PageTableMapper } from "../../../hw/mmu/Mapper.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";
import { type ContPte, type Entry, type HugetlbCont, type Pgtable, PteFlag } from "../../mm/arch.ts";

/** Descriptor bits 0..31 (the low half). Linux: pgtable-hwdef.h, pgtable-prot.h */
export const enum PteLo {
  /** bit 0: PTE_VALID (also PMD_TYPE_SECT, the type of a block) */
  VALID = 0x1,
  /** bit 1: PTE_TABLE_BIT / PMD_TABLE_BIT (1 at level 3: a page; at levels 0-2: a table) */
  TABLE_BIT = 0x2,
  /** bits 1:0 = 0b11: PTE_TYPE_PAGE = PMD_TYPE_TABLE = PUD_TYPE_TABLE */
  TYPE_PAGE = 0x3,
  /** bit 2: PTE_SWP_EXCLUSIVE (swap entries only) */
  SWP_EXCLUSIVE = 0x4,
  /** bits 4:2: PTE_ATTRINDX_MASK (MAIR index; MT_NORMAL = 0) */
  ATTRINDX_MASK = 0x1c,
  /** bit 6: PTE_USER, AP[1]: EL0 may access */
  USER = 0x40,
  /** bit 7: PTE_RDONLY, AP[2]: read-only at every EL */
  RDONLY = 0x80,
  /** bits 9:8: PTE_SHARED, SH = 0b11 (inner shareable) */
  SHARED = 0x300,
  /** bit 10: PTE_AF, the access flag */
  AF = 0x400,
  /** bit 11: PTE_NG, not global (ASID-tagged); with VALID = 0: PTE_PRESENT_INVALID */
  NG = 0x800,
  /** bits 31:12: the low part of the output address (PTE_ADDR_LOW) */
  ADDR_LO = 0xfffff000,
}

/** Descriptor bits 32..63 (the high half), as bit N - 32. */
export const enum PteHi {
  /** bits 49:32 of PTE_ADDR_LOW (bits 49:12 with the low half) */
  ADDR_HI = 0x3ffff,
  /** bit 50: PTE_GP (BTI guarded page) */
  GP = 1 << 18,
  /** bit 51: PTE_DBM, Dirty Bit Management; Linux's PTE_WRITE */
  DBM = 1 << 19,
  /** bit 52: PTE_CONT / PMD_SECT_CONT */
  CONT = 1 << 20,
  /** bit 53: PTE_PXN, privileged execute-never */
  PXN = 1 << 21,
  /** bit 54: PTE_UXN, unprivileged execute-never */
  UXN = 1 << 22,
  /** bit 55: PTE_DIRTY (software) */
  DIRTY = 1 << 23,
  /** bit 56: PTE_SPECIAL (software) */
  SPECIAL = 1 << 24,
  /** bit 57: PTE_DEVMAP (software) */
  DEVMAP = 1 << 25,
  /** bit 58: PTE_UFFD_WP (software) */
  UFFD_WP = 1 << 26,
  /** bit 59: PMD_TABLE_PXN / PUD_TABLE_PXN / P4D_TABLE_PXN (table descriptors) */
  TABLE_PXN = 1 << 27,
  /** bit 60: PMD_TABLE_UXN and the others (table descriptors) */
  TABLE_UXN = 1 << 28,
  /** bits 62:61: S1_TABLE_AP, APTable (table descriptors) */
  TABLE_AP = 3 << 29,
}

/** bits 1:0: PTE_TYPE_MASK / PMD_TYPE_MASK (the same bits as PTE_TYPE_PAGE) */
export const PTE_TYPE_MASK = 0x3;
/** PTE_WRITE is PTE_DBM (bit 51). Linux: pgtable-prot.h */
export const PTE_WRITE_HI = PteHi.DBM;
/** PTE_PRESENT_INVALID is PTE_NG (bit 11), only when PTE_VALID = 0. Linux: pgtable-prot.h */
export const PTE_PRESENT_INVALID = PteLo.NG;

/** _PAGE_DEFAULT: PTE_TYPE_PAGE | PTE_AF | PTE_SHARED | PTE_ATTRINDX(MT_NORMAL) */
const PAGE_DEFAULT_LO = PteLo.TYPE_PAGE | PteLo.AF | PteLo.SHARED;
const USER_LO = PAGE_DEFAULT_LO | PteLo.USER | PteLo.RDONLY | PteLo.NG;

/** A protection value (pgprot_t) as halves. */
export interface Prot {
  readonly hi: number;
  readonly lo: number;
}

/** PAGE_NONE: invalid to the hardware, PTE_PRESENT_INVALID (= nG), read-only, no execute. */
export const PAGE_NONE: Prot = {
  lo: ((PAGE_DEFAULT_LO & ~PteLo.VALID) | PTE_PRESENT_INVALID | PteLo.RDONLY | PteLo.NG) >>> 0,
  hi: PteHi.PXN | PteHi.UXN,
};
/** PAGE_READONLY: EL0 read, never executable; PXN always (user memory is never kernel code). */
export const PAGE_READONLY: Prot = { lo: USER_LO, hi: PteHi.PXN | PteHi.UXN };
/** PAGE_READONLY_EXEC */
export const PAGE_READONLY_EXEC: Prot = { lo: USER_LO, hi: PteHi.PXN };
/** PAGE_SHARED: writable (PTE_WRITE) but clean (PTE_RDONLY): "shared+writable pages are clean by default" */
export const PAGE_SHARED: Prot = { lo: USER_LO, hi: PteHi.PXN | PteHi.UXN | PteHi.DBM };
/** PAGE_SHARED_EXEC */
export const PAGE_SHARED_EXEC: Prot = { lo: USER_LO, hi: PteHi.PXN | PteHi.DBM };
/** PAGE_EXECONLY: no PTE_USER (EL0 cannot read), UXN clear (EL0 can execute); only with EPAN */
export const PAGE_EXECONLY: Prot = {
  lo: (PAGE_DEFAULT_LO | PteLo.RDONLY | PteLo.NG) >>> 0,
  hi: PteHi.PXN,
};

/**
 * protection_map[VM_READ|VM_WRITE|VM_EXEC|VM_SHARED] (arch/arm64/mm/mmap.c):
 * private writable mappings are read-only until copy-on-write; with Enhanced
 * PAN (adjust_protection_map) a PROT_EXEC-only mapping is PAGE_EXECONLY.
 */
export function protectionMap(epan: boolean): readonly Prot[] {
  const x = epan ? PAGE_EXECONLY : PAGE_READONLY_EXEC;
  return [
    PAGE_NONE, // VM_NONE
    PAGE_READONLY, // VM_READ
    PAGE_READONLY, // VM_WRITE
    PAGE_READONLY, // VM_WRITE | VM_READ
    x, // VM_EXEC
    PAGE_READONLY_EXEC, // VM_EXEC | VM_READ
    PAGE_READONLY_EXEC, // VM_EXEC | VM_WRITE
    PAGE_READONLY_EXEC, // VM_EXEC | VM_WRITE | VM_READ
    PAGE_NONE, // VM_SHARED
    PAGE_READONLY, // VM_SHARED | VM_READ
    PAGE_SHARED, // VM_SHARED | VM_WRITE
    PAGE_SHARED, // VM_SHARED | VM_WRITE | VM_READ
    x, // VM_SHARED | VM_EXEC
    PAGE_READONLY_EXEC, // VM_SHARED | VM_EXEC | VM_READ
    PAGE_SHARED_EXEC, // VM_SHARED | VM_EXEC | VM_WRITE
    PAGE_SHARED_EXEC, // VM_SHARED | VM_EXEC | VM_WRITE | VM_READ
  ];
}

// ---- the swap entry (pgtable.h) ----

/** __SWP_TYPE_SHIFT, __SWP_TYPE_BITS: the type in bits 10:6 */
export const SWP_TYPE_SHIFT = 6;
export const SWP_TYPE_BITS = 5;
/** __SWP_OFFSET_SHIFT, __SWP_OFFSET_BITS: the offset in bits 61:12 */
export const SWP_OFFSET_SHIFT = 12;
export const SWP_OFFSET_BITS = 50;
/** SWP_PTE_MARKER = MAX_SWAPFILES + SWP_HWPOISON_NUM + SWP_MIGRATION_NUM + SWP_DEVICE_NUM = 2^5 - 1 (include/linux/swap.h) */
export const SWP_PTE_MARKER = (1 << SWP_TYPE_BITS) - 1;
/** PTE_MARKER_GUARD (include/linux/swapops.h, v6.13) */
export const PTE_MARKER_GUARD = 1 << 2;

const TWO20 = 1048576;
const TYPE_FIELD = ((1 << SWP_TYPE_BITS) - 1) << SWP_TYPE_SHIFT;
/** what must be zero in any swap entry: V, T (bits 1:0) and PTE_PRESENT_INVALID (bit 11) */
const NOT_SWAP = PTE_TYPE_MASK | PTE_PRESENT_INVALID;

/**
 * The high word of __swp_entry(type, offset) as a PTE (__swp_entry_to_pte): offset bits 49:20
 * in descriptor bits 61:32 (offset & __SWP_OFFSET_MASK: 50 bits).
 */
export function swpEntryHi(_type: number, offset: number): number {
  return offset < TWO20 ? 0 : Math.floor(offset / TWO20) & 0x3fffffff;
}

/** The low word of the same PTE: type << 6 | offset bits 19:0 << 12. */
export function swpEntryLo(type: number, offset: number): number {
  return ((offset % TWO20) * 4096 + (type << SWP_TYPE_SHIFT)) >>> 0;
}

/** __swp_entry(type, offset) as a PTE (__swp_entry_to_pte): type << 6 | offset << 12. */
export function swpEntryPte(type: number, offset: number): Entry {
  return { hi: swpEntryHi(type, offset), lo: swpEntryLo(type, offset) };
}

/** __swp_type of a non-present, non-none PTE. */
export function swpType(_hi: number, lo: number): number {
  return (lo & TYPE_FIELD) >>> SWP_TYPE_SHIFT;
}

/** __swp_offset of a non-present, non-none PTE. */
export function swpOffset(hi: number, lo: number): number {
  return (hi & 0x3fffffff) * TWO20 + (lo >>> SWP_OFFSET_SHIFT);
}

/** A software walker/builder of arm64 tables over a PhysMem (the hardware side supplies it). */
export type MapperFactory = (phys: PhysMem, alloc: FrameAllocator) => PageTableMapper;

export interface Arm64PgtableOptions {
  /** FEAT_EPAN present: PROT_EXEC alone maps PAGE_EXECONLY (adjust_protection_map) */
  epan?: boolean;
  /** CONFIG_ARM64_CONTPTE: the hooks that fold large folios' PTEs with PTE_CONT (contpte.ts; absent: off) */
  contpte?: ContPte | null;
  /** cpu_has_hw_af: hardware Access flag updates (absent: true, as vmlab's default CPUs) */
  hwAf?: boolean;
}

/** The address bits of a descriptor (PTE_ADDR_LOW) as a page number. */
function addrPfn(hi: number, lo: number): number {
  return (hi & PteHi.ADDR_HI) * TWO20 + ((lo & PteLo.ADDR_LO) >>> 12);
}

/**
 * arm64's contiguous HugeTLB sizes with the 4K granule ("HugeTLB Support
 * Matrix": CONT PTE 64K, CONT PMD 32M; __hugetlb_valid_size, hugetlbpage_init):
 * CONT_PTES = 16 page descriptors, CONT_PMDS = 16 level-2 blocks, each with
 * PTE_CONT (bit 52, arch_make_huge_pte's pte_mkcont / pmd_mkcont), entry i
 * mapping the folio's frames from pfn + i * dpfn (set_huge_pte_at).
 */
export const ARM64_HUGETLB_CONT: HugetlbCont = {
  sizes: [
    { nrPages: 16, level: 0 },
    { nrPages: 16 * 512, level: 1 },
  ],
  contEntry(hi: number, lo: number, level: number, i: number): Entry {
    const pfn = addrPfn(hi, lo) + i * 512 ** level;
    return {
      hi: ((hi & ~PteHi.ADDR_HI) | Math.floor(pfn / TWO20) | PteHi.CONT) >>> 0,
      lo: ((lo & ~PteLo.ADDR_LO) | ((pfn % TWO20) << 12)) >>> 0,
    };
  },
  isCont: (hi: number, _lo: number) => (hi & PteHi.CONT) !== 0,
  napot: false,
};

/**
 * The Pgtable of arm64 Linux, 4K pages, 48-bit VAs, 4 levels: PTE (level 3
 * in the Arm ARM), PMD (2), PUD (1), PGD (0; the P4D is folded into it).
 */
export class Arm64Pgtable implements Pgtable {
  readonly levels = 4;
  readonly ptrsPerTable = 512;
  readonly entryBytes = 8;
  readonly setIsStore = true;
  readonly pmdLevel = 1;
  readonly hpagePmdNr = 512;
  /** __pfn_to_phys into PTE_ADDR_LOW: the frame at bit 12 (mkUserInto) */
  readonly userPfnShift = 12;
  /** 1 GiB HugeTLB pages at the PUD level (arch_hugetlb_valid_size: PUD_SIZE) */
  readonly hugetlbPud = true;
  // tlb_flush: `if (tlb->fullmm) { if (!last_level) flush_tlb_mm(tlb->mm); return; }`
  readonly fullmmFlushesWalkCacheOnly = true;
  /**
   * TASK_SIZE (2^48) as a vpn: the whole TTBR0 range. A process's PGD holds
   * only user entries; the kernel's tables hang from swapper_pg_dir in TTBR1.
   */
  readonly userPgtablesCeiling = 2 ** 36;
  /** swapper_pg_dir, in TTBR1, translates the kernel half only: its vpns start at 2^36 */
  readonly kernelRootVpn = 2 ** 36;
  /** an abort keeps the stale entry: __ptep_set_access_flags flushes the page when `dirty` */
  readonly accessFlagsFlush = true;
  /** the generic pmdp_invalidate_ad: pmdp_invalidate, with flush_pmd_tlb_range */
  readonly pmdpInvalidateAdFlushes = true;
  /**
   * __ptep_clear_flush_young flushes a young page: flush_tlb_page_nosync
   * (TLBI VALE1IS, the trailing DSB elided); a contiguous PTE's is
   * contpte_ptep_clear_flush_young's, over CONT_PTE_SIZE (contpte.ts).
   * (arch/arm64/include/asm/pgtable.h)
   */
  readonly clearYoungFlush = true;
  /**
   * arch_wants_old_prefaulted_pte: cpu_has_hw_af, ID_AA64MMFR1_EL1.HAFDBS not 0 (TCR_EL1.HA set:
   * init.ts); without it a prefaulted page is mapped young, or its first access would fault
   */
  readonly oldPrefaultedPte: boolean;
  readonly levelNames: readonly string[] = ["PTE", "PMD", "PUD", "PGD"];
  /** make_pte_marker(PTE_MARKER_GUARD): swp_entry(SWP_PTE_MARKER, PTE_MARKER_GUARD) */
  readonly guard: Entry = swpEntryPte(SWP_PTE_MARKER, PTE_MARKER_GUARD);
  /** pgd_alloc: one page (PGD_SIZE = PAGE_SIZE with 4 levels of 4K) */
  readonly pgdOrder = 0;
  /** arch/arm64/mm/pgd.c pgd_alloc: __get_free_page(GFP_PGTABLE_USER), charged to the memory cgroup */
  readonly pgdAccountPages = 1;
  /** arch/arm64/Kconfig: ARCH_WANT_HUGE_PMD_SHARE if ARM64_4K_PAGES (vmlab's granule) */
  readonly hugePmdShare = true;
  /** CONT_PTE_SIZE and CONT_PMD_SIZE HugeTLB pages (arch/arm64/mm/hugetlbpage.c) */
  readonly hugetlbCont = ARM64_HUGETLB_CONT;
  private readonly protMap: readonly Prot[];
  /** CONFIG_ARM64_CONTPTE's hooks, or null with contpte off */
  readonly contpte: ContPte | null;

  constructor(
    private readonly mapperFactory: MapperFactory,
    opts: Arm64PgtableOptions = {},
  ) {
    this.protMap = protectionMap(opts.epan ?? false);
    this.contpte = opts.contpte ?? null;
    this.oldPrefaultedPte = opts.hwAf ?? true;
  }

  /** pte_none */
  /**
   * arm64 has no pte_needs_flush of its own: include/asm-generic/tlb.h's
   * default asks for a flush on every change of an entry the hardware may
   * hold, that is, one with PTE_VALID set (an invalid descriptor, PROT_NONE
   * included, is never cached).
   */
  needsFlush(_oldHi: number, oldLo: number, _newHi: number, _newLo: number, _level: number): boolean {
    return (oldLo & PteLo.VALID) !== 0;
  }

  none(hi: number, lo: number): boolean {
    return lo === 0 && hi === 0;
  }

  /** pte_present: pte_valid || pte_present_invalid */
  present(_hi: number, lo: number): boolean {
    return (lo & (PteLo.VALID | PTE_PRESENT_INVALID)) !== 0;
  }

  /** pte_accessible without a pending flush: pte_valid */
  accessible(_hi: number, lo: number): boolean {
    return (lo & PteLo.VALID) !== 0;
  }

  /**
   * pte_access_permitted_no_overlay's PTE_USER: "For execute-only mappings, like PROT_EXEC with
   * EPAN (both PTE_USER and PTE_UXN bits not set) must return false" (asm/pgtable.h)
   */
  userAccessPermitted(_hi: number, lo: number): boolean {
    return (lo & PteLo.USER) !== 0;
  }

  /** pte_protnone: pte_present_invalid && !pte_user && !pte_user_exec */
  protnone(hi: number, lo: number): boolean {
    return (
      (lo & (PteLo.VALID | PTE_PRESENT_INVALID)) === PTE_PRESENT_INVALID &&
      (lo & PteLo.USER) === 0 &&
      (hi & PteHi.UXN) !== 0
    );
  }

  /** pte_write: PTE_WRITE (= PTE_DBM) */
  write(hi: number, _lo: number): boolean {
    return (hi & PteHi.DBM) !== 0;
  }

  /** pte_dirty: pte_sw_dirty || pte_hw_dirty (PTE_WRITE && !PTE_RDONLY) */
  dirty(hi: number, lo: number): boolean {
    return (hi & PteHi.DIRTY) !== 0 || ((hi & PteHi.DBM) !== 0 && (lo & PteLo.RDONLY) === 0);
  }

  /** pte_young: PTE_AF */
  young(_hi: number, lo: number): boolean {
    return (lo & PteLo.AF) !== 0;
  }

  /** pte_special: PTE_SPECIAL */
  special(hi: number, _lo: number): boolean {
    return (hi & PteHi.SPECIAL) !== 0;
  }

  /** level 0: pte_present; above: pmd_trans_huge (pmd_val && pmd_present && !PMD_TABLE_BIT) */
  leaf(hi: number, lo: number, level: number): boolean {
    if (!this.present(hi, lo)) return false;
    return level === 0 || (lo & PteLo.TABLE_BIT) === 0;
  }

  /** pmd_table / pud_table: bits 1:0 = PMD_TYPE_TABLE (levels above the PTE) */
  table(_hi: number, lo: number, level: number): boolean {
    return level > 0 && (lo & PTE_TYPE_MASK) === PteLo.TYPE_PAGE;
  }

  /**
   * pte_pfn (__pte_to_phys: PTE_ADDR_LOW); a block is pmd_pfn / pud_pfn
   * (masked to PMD_MASK / PUD_MASK); a table entry, pmd_page_paddr.
   */
  pfn(hi: number, lo: number, level: number): number {
    const pfn = addrPfn(hi, lo);
    if (level === 0 || (lo & PteLo.TABLE_BIT) !== 0) return pfn;
    const span = 512 ** level;
    return pfn - (pfn % span);
  }

  /** is_swap_pte of a swap-area entry: not none, not present, swap type 0 (vmlab's one area). */
  isSwap(hi: number, lo: number): boolean {
    return (lo !== 0 || hi !== 0) && (lo & NOT_SWAP) === 0 && swpType(hi, lo) === 0;
  }

  /** __swp_offset */
  swapOffset(hi: number, lo: number): number {
    return swpOffset(hi, lo);
  }

  /** swp_entry_to_pte(swp_entry(0, offset)): the high word (PTE_SWP_EXCLUSIVE is in the low one) */
  mkSwapHi(offset: number, _exclusive: boolean): number {
    return swpEntryHi(0, offset);
  }

  /** swp_entry_to_pte(swp_entry(0, offset)), pte_swp_mkexclusive when `exclusive`: the low word */
  mkSwapLo(offset: number, exclusive: boolean): number {
    const lo = swpEntryLo(0, offset);
    return exclusive ? (lo | PteLo.SWP_EXCLUSIVE) >>> 0 : lo;
  }

  /** set_pte_at of swp_entry_to_pte(swp_entry(0, offset)), pte_swp_mkexclusive when `exclusive` */
  setSwap(phys: PhysMem, pa: number, offset: number, exclusive: boolean): void {
    this.set(phys, pa, this.mkSwapHi(offset, exclusive), this.mkSwapLo(offset, exclusive));
  }

  /** pte_swp_exclusive: PTE_SWP_EXCLUSIVE (bit 2) */
  swapExclusive(_hi: number, lo: number): boolean {
    return (lo & PteLo.SWP_EXCLUSIVE) !== 0;
  }

  /** pte_swp_clear_exclusive */
  swapClearExclusive(hi: number, lo: number): Entry {
    return { hi, lo: (lo & ~PteLo.SWP_EXCLUSIVE) >>> 0 };
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
   * pfn_pte(pfn, vm_get_page_prot(vmFlags)), pmd_mkhuge for a block; then
   * the dirty/writable table above: `writable` sets PTE_WRITE (a clean
   * writable page keeps PTE_RDONLY, as PAGE_SHARED is), `dirty` is
   * pte_mkdirty (PTE_DIRTY, and PTE_RDONLY cleared when writable), `special`
   * pte_mkspecial. A VMA that is not `writable` here gets PAGE_SHARED
   * without PTE_WRITE, which is PAGE_READONLY: what Linux's write-notify
   * vm_page_prot (vm_get_page_prot(vm_flags & ~VM_SHARED)) gives.
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
    const prot = this.protMap[vmFlags & 0xf];
    let lo = (prot.lo & ~PteLo.ADDR_LO) + (pfn % TWO20) * 4096;
    let hi = (prot.hi & ~PteHi.DBM) | Math.floor(pfn / TWO20);
    if (level > 0) lo &= ~PteLo.TABLE_BIT; // pmd_mkhuge: a block descriptor
    if (writable) hi |= PteHi.DBM;
    if (dirty) {
      hi |= PteHi.DIRTY;
      if (writable) lo &= ~PteLo.RDONLY;
    }
    if (special) hi |= PteHi.SPECIAL;
    out.hi = hi >>> 0;
    out.lo = lo >>> 0;
    return out;
  }

  /**
   * pte_wrprotect, pte_mkclean, pte_mkold for `clear`, then pte_mkwrite,
   * pte_mkdirty, pte_mkyoung for `set` (pgtable.h; pmd_* are the same on
   * the PMD). wrprotect keeps hardware dirtiness in PTE_DIRTY; mkclean sets
   * PTE_RDONLY; mkwrite clears it; mkdirty clears it only when writable.
   */
  modify(hi: number, lo: number, set: number, clear: number): Entry {
    return this.modifyInto({ hi: 0, lo: 0 }, hi, lo, set, clear);
  }

  /** modify into `out` (no new object: the reclaim path's young-bit clears, one a page). */
  modifyInto(out: Entry, hi: number, lo: number, set: number, clear: number): Entry {
    if (clear & PteFlag.WRITE) {
      if (hi & PteHi.DBM && !(lo & PteLo.RDONLY)) hi |= PteHi.DIRTY;
      hi &= ~PteHi.DBM;
      lo |= PteLo.RDONLY;
    }
    if (clear & PteFlag.DIRTY) {
      hi &= ~PteHi.DIRTY;
      lo |= PteLo.RDONLY;
    }
    if (clear & PteFlag.YOUNG) lo &= ~PteLo.AF;
    if (set & PteFlag.WRITE) {
      hi |= PteHi.DBM;
      lo &= ~PteLo.RDONLY;
    }
    if (set & PteFlag.DIRTY) {
      hi |= PteHi.DIRTY;
      if (hi & PteHi.DBM) lo &= ~PteLo.RDONLY;
    }
    if (set & PteFlag.YOUNG) lo |= PteLo.AF;
    out.hi = hi >>> 0;
    out.lo = lo >>> 0;
    return out;
  }

  /**
   * A PTE of a split huge PMD: the PMD's attributes and state (not the
   * VMA's: see the x86 note on mprotect), PTE_TABLE_BIT set back (a block
   * becomes a page; a PROT_NONE block keeps V = 0), the contiguous hint
   * dropped. A special (huge zero page) PMD splits into read-only, clean,
   * special PTEs of the zero page (__split_huge_zero_page_pmd).
   */
  splitPte(pmdHi: number, pmdLo: number, pfn: number, special: boolean): Entry {
    let lo = (pmdLo & ~PteLo.ADDR_LO) | PteLo.TABLE_BIT;
    let hi = pmdHi & ~(PteHi.ADDR_HI | PteHi.CONT);
    if (special) {
      hi = (hi & ~(PteHi.DBM | PteHi.DIRTY)) | PteHi.SPECIAL;
      lo |= PteLo.RDONLY;
    }
    return { hi: (hi | Math.floor(pfn / TWO20)) >>> 0, lo: ((lo >>> 0) + (pfn % TWO20) * 4096) >>> 0 };
  }

  /**
   * pmd_populate (a user table: PMD_TYPE_TABLE | PMD_TABLE_PXN) and
   * pmd_populate_kernel (init_mm: PMD_TYPE_TABLE | PMD_TABLE_UXN); pud_ and
   * p4d_populate use the same bits at their levels.
   */
  mkTable(pfn: number, user: boolean): Entry {
    return {
      hi: (Math.floor(pfn / TWO20) | (user ? PteHi.TABLE_PXN : PteHi.TABLE_UXN)) >>> 0,
      lo: ((pfn % TWO20) * 4096 + PteLo.TYPE_PAGE) >>> 0,
    };
  }

  /** __ptep_get (READ_ONCE of a 64-bit descriptor) */
  get(phys: PhysMem, pa: number): Entry {
    return { hi: phys.read32(pa + 4), lo: phys.read32(pa) };
  }

  /** __set_pte / set_pmd / set_pud */
  set(phys: PhysMem, pa: number, hi: number, lo: number): void {
    phys.write64(pa, hi >>> 0, lo >>> 0);
  }

  /** set_pgd (via set_p4d with the P4D folded): no mirror, arm64 has no PGD pair */
  setTop(phys: PhysMem, pa: number, hi: number, lo: number): void {
    phys.write64(pa, hi >>> 0, lo >>> 0);
  }

  mapper(phys: PhysMem, alloc: FrameAllocator): PageTableMapper {
    return this.mapperFactory(phys, alloc);
  }

  /**
   * pgd_alloc: a zeroed page (GFP_PGTABLE_USER) and nothing more. The
   * kernel's mappings live in swapper_pg_dir, which TTBR1_EL1 points to on
   * every CPU; they are never copied into a process's PGD (unlike x86-64's
   * clone_pgd_range of the kernel half).
   */
  pgdCtor(_phys: PhysMem, _kernelPgdPfn: number, _pgdPfn: number): void {}

  /**
   * TTBR0_EL1 takes the mm's own PGD. arm64's KPTI switches TTBR1 (to the
   * trampoline tables) and the ASID on the way to EL0, never the user PGD.
   */
  userPgd(pgdPfn: number): Pfn {
    return pfnUnchecked(pgdPfn);
  }
}
