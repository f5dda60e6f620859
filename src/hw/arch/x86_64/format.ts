/**
 * x86-64 4-level and 5-level paging as a PagingFormat (Intel SDM Vol. 3A
 * §4.5): 8-byte entries, 512 per table, 4 KiB pages with 2 MiB (PDE) and
 * 1 GiB (PDPTE) leaves.
 *
 *  LA57:  | PML5 idx | PML4 idx | PDPT idx | PD idx | PT idx | offset |
 *          56     48  47    39  38     30  29   21  20   12  11     0
 *
 * What decode does per entry (SDM §4.5, §4.6, §4.8): P = 0 stops the walk;
 * reserved bits (51..MAXPHYADDR, XD without EFER.NXE, PS in a PML4E/PML5E,
 * bits 29..13 of a 1 GiB leaf and 20..13 of a 2 MiB leaf) fault; R/W and
 * U/S are ANDed over the levels and XD ORed (kept as W|U|X "allowed" bits in
 * the walk's accumulator); A is set on every entry used and D on the leaf of
 * a write (the walker writes them back only when the access is allowed).
 */
import { Access } from "../../access.ts";
import { EntryKind, HwFaultKind, type PagingFormat, type WalkState } from "../../mmu/PagingFormat.ts";
import { LEVEL_NAMES, Pte, PteHi, RSVD_PDE_2M_LO, RSVD_PDPTE_1G_LO, reservedMasks } from "./pte.ts";
import { Rights, X86_CANONICAL } from "./rights.ts";

const TWO32 = 4294967296;

/**
 * Attributes an x86 translation caches beside its rights: the protection
 * key (bits 0..3) and the memory-type bits PWT, PCD, PAT (bits 4..6). Both
 * are 0 for most pages (key 0, write-back), which keeps the TLB's attribute
 * array idle.
 */
export const enum X86Attr {
  PKEY_MASK = 0xf,
  PWT = 1 << 4,
  PCD = 1 << 5,
  PAT = 1 << 6,
}

/**
 * The format of one CPU: its register inputs (EFER.NXE, CR4.PGE, MAXPHYADDR)
 * live here, set by the CPU when they change.
 */
export class X86_64Format implements PagingFormat {
  /** SDM Vol. 3A 4.10.4.3: R/W 0 to 1 or XD 1 to 0 without an invalidation is at worst a spurious #PF, which invalidates the entry (4.10.4.1) */
  readonly fewerRightsStaleOk = "SDM Vol. 3A 4.10.4.3";
  readonly name: string;
  readonly levels: number;
  readonly pageShift = 12;
  readonly entryBytes = 8;
  readonly indexBits: readonly number[];
  readonly levelNames: readonly string[];
  /** PT, PD (2 MiB) and PDPT (1 GiB) entries may map pages */
  readonly leafLevels = 0b111;
  readonly initialAcc = Rights.ALL;
  /** IA32_EFER.NXE: XD is honoured (else reserved) */
  nxe = true;
  /** CR4.PGE: G is honoured */
  pge = false;
  /** high-half bits 51..MAXPHYADDR (reserved) and bits MAXPHYADDR-1..32 (address) */
  readonly rsvdHi: number;
  readonly hiAddrMask: number;

  constructor(la57: boolean, maxPhyAddr: number) {
    this.levels = la57 ? 5 : 4;
    this.name = la57 ? "x86_64-la57" : "x86_64";
    this.indexBits = new Array(this.levels).fill(9);
    this.levelNames = LEVEL_NAMES.slice(0, this.levels);
    const masks = reservedMasks(maxPhyAddr);
    this.rsvdHi = masks.hiAddr;
    this.hiAddrMask = masks.hiAddrMask;
  }

  decode(w: WalkState, level: number, hi: number, lo: number): EntryKind {
    if ((lo & Pte.P) === 0) return EntryKind.Invalid;
    const ps = (lo & Pte.PS) !== 0;
    const xd = (hi & PteHi.XD) !== 0;
    if ((hi & this.rsvdHi) !== 0 || (ps ? this.largeReserved(level, xd, lo) : !this.nxe && xd)) {
      w.fault = HwFaultKind.Reserved;
      return EntryKind.Fault;
    }
    // R/W and U/S ANDed over the levels, XD ORed (kept as an "allowed" X bit)
    w.acc &= ((lo >>> 1) & (Rights.W | Rights.U)) | (xd ? 0 : Rights.X); // R/W is bit 1, U/S bit 2
    if (level === 0 || ps) return this.leaf(w, level, hi, lo);
    w.newLo = (lo | Pte.A) >>> 0;
    w.nextFrame = (hi & this.hiAddrMask) * 1048576 + (lo >>> 12); // the address field as a 4K frame
    w.nextOffset = 0;
    return EntryKind.Table;
  }

  /**
   * Reserved bits of an entry with PS set: PS itself in a PML4E/PML5E, bits
   * 29..13 of a 1 GiB leaf, 20..13 of a 2 MiB leaf; and XD without NXE.
   */
  private largeReserved(level: number, xd: boolean, lo: number): boolean {
    return (
      (!this.nxe && xd) ||
      level >= 3 ||
      (level === 2 && (lo & RSVD_PDPTE_1G_LO) !== 0) ||
      (level === 1 && (lo & RSVD_PDE_2M_LO) !== 0)
    );
  }

  private leaf(w: WalkState, level: number, hi: number, lo: number): EntryKind {
    const addrLo =
      level === 0 ? (lo & Pte.ADDR_LO_MASK) >>> 0 : (lo & Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE) >>> 0;
    w.next = ((hi & this.hiAddrMask) * TWO32 + addrLo) / 4096;
    w.rights = X86_CANONICAL[w.acc];
    const pat = level === 0 ? lo & Pte.PAT4K : lo & Pte.PAT_LARGE;
    w.attrs =
      ((hi & PteHi.PKEY_MASK) >>> PteHi.PKEY_SHIFT) |
      (lo & Pte.PWT ? X86Attr.PWT : 0) |
      (lo & Pte.PCD ? X86Attr.PCD : 0) |
      (pat !== 0 ? X86Attr.PAT : 0);
    const write = w.access === Access.Write;
    w.dirty = write || (lo & Pte.D) !== 0;
    w.global = this.pge && (lo & Pte.G) !== 0;
    w.newLo = (lo | Pte.A | (write ? Pte.D : 0)) >>> 0;
    w.newHi = hi;
    return EntryKind.Leaf;
  }
}
