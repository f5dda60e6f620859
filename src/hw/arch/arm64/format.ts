/**
 * ARM64 stage 1 translation of the EL1&0 regime with the 4 KiB granule as a
 * PagingFormat (Arm ARM DDI 0487, chapter D8 "The AArch64 Virtual Memory
 * System Architecture": D8.2 translation process, D8.3 descriptors, D8.4
 * memory access control). Levels are counted the generic way, up from the
 * leaf: generic level 3 is Arm's level 0 (L0), generic 0 is Arm's L3
 * (`armLevel = 3 - level`).
 *
 * VA (48 bits, T0SZ = 16):
 *   | bit 55 TTBR1? | L0 idx | L1 idx | L2 idx | L3 idx | offset |
 *                    47   39  38   30  29   21  20   12  11     0
 *
 * A descriptor, 8 bytes, little-endian (D8.3.1 "Table descriptors", D8.3.2
 * "Block descriptors", "Page descriptors"):
 *
 *   63 NSTable | 62:61 APTable | 60 UXNTable | 59 PXNTable    (table only)
 *   54 UXN | 53 PXN | 52 Contiguous | 51 DBM | 50 GP          (block / page)
 *   47:12 output address (next table, block or page)
 *   11 nG | 10 AF | 9:8 SH | 7:6 AP[2:1] | 5 NS | 4:2 AttrIndx (block / page)
 *   1:0  0b11 table (L0..L2) or page (L3); 0b01 block (L1, L2); x0 invalid
 *
 * Decode follows the walk of AArch64.S1Translate / AArch64.S1Walk (and the
 * older AArch64.TranslationTableWalk): an invalid descriptor, a block at L0
 * or bits[1:0] = 01 at L3 is a Translation fault; an output address with
 * bits set at or above the output size (TCR_EL1.IPS, capped by the
 * physical address range) is an Address size fault at that level; AF = 0 is
 * an Access flag fault unless TCR_EL1.HA = 1 (then hardware sets it); with
 * HA and HD, a write to a DBM = 1 page clears AP[2] (hardware dirty state)
 * instead of faulting. Table descriptors' APTable/UXNTable/PXNTable
 * accumulate down the walk in `WalkState.acc` (TableAcc) and restrict the
 * leaf as AArch64.S1DirectBasePermissions does.
 */
import { Access } from "../../access.ts";
import { EntryKind, HwFaultKind, type PagingFormat, Perm, type WalkState } from "../../mmu/PagingFormat.ts";

/** Bits of a descriptor's low word (descriptor bits 31:0). */
export const enum Desc {
  VALID = 1 << 0,
  /** bit 1: table (L0..L2) or page (L3) when set; block (L1, L2) when clear */
  TABLE_OR_PAGE = 1 << 1,
  ATTR_INDX_SHIFT = 2,
  ATTR_INDX_MASK = 7 << 2,
  NS = 1 << 5,
  /** AP[1]: EL0 may access */
  AP1 = 1 << 6,
  /** AP[2]: read-only (or, with DBM and TCR_EL1.HD, writable-clean) */
  AP2 = 1 << 7,
  SH_SHIFT = 8,
  SH_MASK = 3 << 8,
  AF = 1 << 10,
  /** not global: tagged with the ASID */
  NG = 1 << 11,
  /** bits 31:12 of the output address */
  ADDR_LO_MASK = 0xfffff000,
}

/** Bits of a descriptor's high word (descriptor bit n is bit n - 32 here). */
export const enum DescHi {
  /** bits 47:32 of the output address */
  ADDR_HI_MASK = 0xffff,
  /** bit 51: Dirty Bit Modifier */
  DBM = 1 << 19,
  /**
   * bit 52: the Contiguous bit (D8.6.1): in a page descriptor, one of 16
   * adjacent ones that the TLB may cache as one 64K entry; in a block
   * descriptor kept, not modelled (Linux sets it there only for HugeTLB's
   * contiguous PMDs)
   */
  CONT = 1 << 20,
  /** bit 53: privileged execute-never */
  PXN = 1 << 21,
  /** bit 54: unprivileged execute-never (XN) */
  UXN = 1 << 22,
  /** bit 59: PXNTable */
  PXN_TABLE = 1 << 27,
  /** bit 60: UXNTable */
  UXN_TABLE = 1 << 28,
  /** bit 61: APTable[0]: no EL0 access below */
  AP_TABLE0 = 1 << 29,
  /** bit 62: APTable[1]: no write access below */
  AP_TABLE1 = 1 << 30,
  /** bit 63: NSTable */
  NS_TABLE = 1 << 31,
  /** the four hierarchical control bits 62:59, shifted down to TableAcc */
  TABLE_CTRL_SHIFT = 27,
}

/** What the table descriptors above a leaf restrict (WalkState.acc), ORed down the walk. */
export const enum TableAcc {
  PXN = 1,
  UXN = 2,
  /** APTable[0] */
  NO_EL0 = 4,
  /** APTable[1] */
  READ_ONLY = 8,
}

/**
 * Attributes an arm64 translation caches beside its rights (TlbArray.attrs):
 * AttrIndx (bits 0..2), SH (3..4), and Arm's level of the leaf (bits 8..9;
 * a permission fault on a TLB hit reports it in the fault status code).
 */
export const enum ArmAttr {
  ATTR_INDX_MASK = 7,
  SH_SHIFT = 3,
  SH_MASK = 3 << 3,
  LEVEL_SHIFT = 8,
  LEVEL_MASK = 3 << 8,
  /** the attributes whose change makes a cached translation stale (the level is the page size) */
  COMPARE_MASK = 31,
}

/** Arm's names of the generic levels (level 0 first): L3 is the page table. */
export const ARM_LEVEL_NAMES = ["L3", "L2", "L1", "L0"] as const;

/** Output address size in bits for TCR_EL1.IPS (0..5; 6 = 52 bits needs FEAT_LPA, not modelled). */
export const IPS_BITS = [32, 36, 40, 42, 44, 48] as const;

const TWO32 = 4294967296;

/** Canonical rights (Perm) of a leaf: its AP[2:1] (AP[2] after DBM), UXN, PXN and the table restrictions. */
export function armRights(ap2: boolean, ap1: boolean, uxn: boolean, pxn: boolean, acc: number): number {
  // AArch64.S1DirectBasePermissions: leaf AP, then APTable, then "writable at EL0 implies PXN"
  const readOnly = ap2 || (acc & TableAcc.READ_ONLY) !== 0;
  const el0 = ap1 && (acc & TableAcc.NO_EL0) === 0;
  const uw = el0 && !readOnly;
  const ux = !uxn && (acc & TableAcc.UXN) === 0;
  const px = !pxn && (acc & TableAcc.PXN) === 0 && !uw;
  return (
    Perm.PR |
    (readOnly ? 0 : Perm.PW) |
    (px ? Perm.PX : 0) |
    (el0 ? Perm.UR : 0) |
    (uw ? Perm.UW : 0) |
    (ux ? Perm.UX : 0)
  );
}

/**
 * Whether a leaf is writable and clean: with hardware dirty-state management (TCR_EL1.HA and HD,
 * `hd`), DBM = 1 makes AP[2] the dirty state, AP[2] = 1 meaning writable and not yet written
 * (AArch64.S1CheckAndUpdate; D8.4.6).
 */
export function writableClean(lo: number, hi: number, hd: boolean): boolean {
  return (lo & Desc.AP2) !== 0 && (hi & DescHi.DBM) !== 0 && hd;
}

/** The rights (Perm) of a leaf descriptor's two words under the table restrictions `acc`, AP[2] read after DBM. */
export function leafRights(lo: number, hi: number, hd: boolean, acc: number): number {
  return armRights(
    (lo & Desc.AP2) !== 0 && !writableClean(lo, hi, hd),
    (lo & Desc.AP1) !== 0,
    (hi & DescHi.UXN) !== 0,
    (hi & DescHi.PXN) !== 0,
    acc,
  );
}

/**
 * The format of one CPU. Its register inputs (the output size from
 * TCR_EL1.IPS, TCR_EL1.HA and HD) live here, set by the CPU when they change.
 */
export class Arm64Format implements PagingFormat {
  readonly name = "arm64";
  readonly levels = 4;
  readonly pageShift = 12;
  readonly entryBytes = 8;
  readonly indexBits: readonly number[] = [9, 9, 9, 9];
  readonly levelNames: readonly string[] = ARM_LEVEL_NAMES;
  /** pages (L3), 2 MiB blocks (L2) and 1 GiB blocks (L1) */
  readonly leafLevels = 0b111;
  readonly initialAcc = 0;
  /** a contiguous page descriptor is one of 16: a 64K block (D8.6.1, 4K granule) */
  readonly contPages = CONT_PAGES;
  /** TCR_EL1.HA: hardware sets AF */
  ha = false;
  /** TCR_EL1.HD (with HA): hardware dirty state through DBM */
  hd = false;
  /** output address bits at or above the output size, as a mask of the descriptor's high word (bits 47:32); set by setOutputBits */
  oaHiMask = 0;

  /** Sets the output address size (the smaller of TCR_EL1.IPS and the PA range). */
  setOutputBits(bits: number): void {
    this.oaHiMask = bits >= 48 ? 0 : (0xffff & ~(2 ** (bits - 32) - 1)) >>> 0;
  }

  decode(w: WalkState, level: number, hi: number, lo: number): EntryKind {
    if ((lo & Desc.VALID) === 0) return EntryKind.Invalid;
    if ((lo & Desc.TABLE_OR_PAGE) !== 0 && level !== 0) {
      // a table descriptor (L0..L2)
      if ((hi & this.oaHiMask) !== 0) {
        w.fault = HwFaultKind.AddressSize;
        return EntryKind.Fault;
      }
      w.acc |= (hi >>> DescHi.TABLE_CTRL_SHIFT) & 15;
      w.newLo = lo; // table descriptors have no AF: nothing is written back
      w.nextFrame = (hi & DescHi.ADDR_HI_MASK) * 1048576 + (lo >>> 12);
      w.nextOffset = 0;
      return EntryKind.Table;
    }
    // bits[1:0] = 01 at L3 is reserved, and a block at L0 does not exist with the 4K granule
    if (level === 0 ? (lo & Desc.TABLE_OR_PAGE) === 0 : level === 3) return EntryKind.Invalid;
    return this.leaf(w, level, hi, lo);
  }

  private leaf(w: WalkState, level: number, hi: number, lo: number): EntryKind {
    if ((hi & this.oaHiMask) !== 0) {
      w.fault = HwFaultKind.AddressSize;
      return EntryKind.Fault;
    }
    if ((lo & Desc.AF) === 0 && !this.ha) {
      w.fault = HwFaultKind.AccessFlag;
      return EntryKind.Fault;
    }
    w.rights = leafRights(lo, hi, this.hd, w.acc); // this.hd is set only with HA
    // bits below the block size are RES0 in a block descriptor's address: ignored
    const addrLo = (lo & Desc.ADDR_LO_MASK) >>> 0;
    const pages = (hi & DescHi.ADDR_HI_MASK) * 1048576 + (addrLo >>> 12);
    // a contiguous page: the 64K block's first frame (OA[15:12] of the entry walked are not used)
    w.cont = level === 0 && (hi & DescHi.CONT) !== 0;
    w.next =
      level === 0
        ? w.cont
          ? pages - (pages % CONT_PAGES)
          : pages
        : pages - (pages % (level === 1 ? 512 : 262144));
    w.attrs =
      ((lo & Desc.ATTR_INDX_MASK) >>> Desc.ATTR_INDX_SHIFT) |
      (((lo & Desc.SH_MASK) >>> Desc.SH_SHIFT) << ArmAttr.SH_SHIFT) |
      ((3 - level) << ArmAttr.LEVEL_SHIFT);
    const dirtying = w.access === Access.Write && writableClean(lo, hi, this.hd);
    w.dirty = (lo & Desc.AP2) === 0 || dirtying;
    w.global = (lo & Desc.NG) === 0;
    // the hardware update: AF set (HA), AP[2] cleared on a permitted write (HD); the walker writes it only if allowed
    w.newLo = ((lo | (this.ha ? Desc.AF : 0)) & ~(dirtying ? Desc.AP2 : 0)) >>> 0;
    w.newHi = hi;
    return EntryKind.Leaf;
  }

  /**
   * "Misprogramming of the Contiguous bit" (D8.6.1): the 16 page
   * descriptors of the aligned block holding the one at `entryPa` must all
   * be valid pages with the Contiguous bit, map the 16 frames of one
   * 64K-aligned block in order, and agree in every attribute but AF and the
   * dirty state (AP[2] of a DBM descriptor), which hardware updates in one
   * descriptor only. The first disagreement, or null.
   */
  contMisprogrammed(read32: (pa: number) => number, entryPa: number, vpn: number): string | null {
    const first = entryPa - (vpn % CONT_PAGES) * 8;
    const lo0 = read32(first);
    const hi0 = read32(first + 4);
    const base = (hi0 & DescHi.ADDR_HI_MASK) * 1048576 + (lo0 >>> 12);
    if (base % CONT_PAGES !== 0)
      return `the block's first page maps frame 0x${base.toString(16)}, not 64K-aligned`;
    const loMask = ~(Desc.ADDR_LO_MASK | Desc.AF | Desc.AP2);
    for (let i = 0; i < CONT_PAGES; i++) {
      const lo = read32(first + i * 8);
      const hi = read32(first + i * 8 + 4);
      const what = `page ${i} of the 64K block at 0x${(vpn - (vpn % CONT_PAGES)).toString(16)}000`;
      if ((lo & 3) !== 3) return `${what} is not a valid page descriptor`;
      if ((hi & DescHi.CONT) === 0) return `${what} has no Contiguous bit`;
      if ((hi & DescHi.ADDR_HI_MASK) * 1048576 + (lo >>> 12) !== base + i)
        return `${what} maps another frame`;
      const ap2Ok = (hi & DescHi.DBM) !== 0 || ((lo ^ lo0) & Desc.AP2) === 0;
      if ((lo & loMask) !== (lo0 & loMask) || ((hi ^ hi0) & ~DescHi.ADDR_HI_MASK) !== 0 || !ap2Ok)
        return `${what} has other attributes`;
    }
    return null;
  }
}

/** Pages of a contiguous range of page descriptors with the 4K granule (D8.6.1: 16, 64K). */
export const CONT_PAGES = 16;

/** The output address of a descriptor (bits 47:12), as a number. */
export function descAddr(hi: number, lo: number): number {
  return (hi & DescHi.ADDR_HI_MASK) * TWO32 + ((lo & Desc.ADDR_LO_MASK) >>> 0);
}

/** The flags of a descriptor in Arm's words, for walks and `show`. */
export function descFlagNames(hi: number, lo: number, level: number): string[] {
  if ((lo & Desc.VALID) === 0) return ["invalid"];
  const table = (lo & Desc.TABLE_OR_PAGE) !== 0 && level !== 0;
  if (table) {
    const f = ["table"];
    if (hi & DescHi.AP_TABLE0) f.push("APTable[0]");
    if (hi & DescHi.AP_TABLE1) f.push("APTable[1]");
    if (hi & DescHi.UXN_TABLE) f.push("UXNTable");
    if (hi & DescHi.PXN_TABLE) f.push("PXNTable");
    return f;
  }
  if (level === 0 ? (lo & Desc.TABLE_OR_PAGE) === 0 : level === 3) return ["reserved"];
  const f = [level === 0 ? "page" : "block"];
  f.push(`AP[2:1]=${(lo >>> 7) & 1}${(lo >>> 6) & 1}`);
  if (lo & Desc.AF) f.push("AF");
  if (lo & Desc.NG) f.push("nG");
  if (hi & DescHi.DBM) f.push("DBM");
  if (hi & DescHi.CONT) f.push("Contiguous");
  if (hi & DescHi.PXN) f.push("PXN");
  if (hi & DescHi.UXN) f.push("UXN");
  f.push(
    `AttrIndx=${(lo & Desc.ATTR_INDX_MASK) >>> Desc.ATTR_INDX_SHIFT}`,
    `SH=${(lo & Desc.SH_MASK) >>> 8}`,
  );
  return f;
}
