/**
 * 32-bit x86 paging as PagingFormats: 32-bit paging (Intel SDM Vol. 3A
 * §4.3) and PAE paging (§4.4).
 *
 *  32-bit:  | PD idx | PT idx | offset |      PAE:  |PDPTE| PD idx | PT idx | offset |
 *            31   22  21   12  11     0                31 30 29   21  20   12  11     0
 *
 * 32-bit paging: 4-byte entries, 1024 per table; a PDE with PS = 1 maps a
 * 4 MiB page when CR4.PSE = 1 (PS is ignored otherwise), its PA bits 32+ in
 * bits 13.. (PSE-36, Table 4-4); no reserved bits but those of a 4 MiB PDE;
 * no execute-disable bit.
 *
 * PAE paging: 8-byte entries, 512 per table; the four PDPTEs are registers
 * loaded by MOV to CR3 (§4.4.1), so a walk starts at the PD (the CPU's
 * startWalk) and level 2 is never decoded here. A PDE with PS = 1 maps a
 * 2 MiB page; bits 62..M and XD without EFER.NXE are reserved.
 *
 * In both, R/W and U/S are ANDed over the levels and XD ORed (the walk's
 * accumulator keeps W|U|X "allowed" bits, as in ../x86_64/format.ts); A is
 * set on every entry used and D on the leaf of a write (§4.8).
 */
import { Access } from "../../access.ts";
import { EntryKind, HwFaultKind, type PagingFormat, type WalkState } from "../../mmu/PagingFormat.ts";
import { X86Attr } from "../x86_64/format.ts";
import { Rights, X86_CANONICAL } from "../x86_64/rights.ts";
import {
  LEVEL_NAMES,
  PDE4M_ADDR_LO,
  PSE36_SHIFT,
  Pte,
  PteHi,
  paeHiAddrMask,
  paeRsvdHi,
  pse36Mask,
  RSVD_PDE_2M_LO,
  rsvd4MMask,
} from "./pte.ts";

const TWO32 = 4294967296;

/** The memory-type attributes of a leaf (PWT, PCD, PAT), as x86-64 caches them. */
function memType(lo: number, large: boolean): number {
  return (
    (lo & Pte.PWT ? X86Attr.PWT : 0) |
    (lo & Pte.PCD ? X86Attr.PCD : 0) |
    ((large ? lo & Pte.PAT_LARGE : lo & Pte.PAT4K) !== 0 ? X86Attr.PAT : 0)
  );
}

/** 32-bit paging (§4.3). CR4.PSE and CR4.PGE are set by the CPU when they change. */
export class I386Format implements PagingFormat {
  /** SDM Vol. 3A 4.10.4.3: R/W 0 to 1 or XD 1 to 0 without an invalidation is at worst a spurious #PF, which invalidates the entry (4.10.4.1) */
  readonly fewerRightsStaleOk = "SDM Vol. 3A 4.10.4.3";
  readonly name = "i386";
  readonly levels = 2;
  readonly pageShift = 12;
  readonly entryBytes = 4;
  readonly indexBits: readonly number[] = [10, 10];
  readonly levelNames: readonly string[] = LEVEL_NAMES.slice(0, 2);
  /** PT entries, and PDEs with PS = 1 (when CR4.PSE = 1) */
  readonly leafLevels = 0b11;
  /** no XD in 32-bit paging: X stays allowed */
  readonly initialAcc = Rights.ALL;
  /** CR4.PSE: PS in a PDE maps a 4 MiB page */
  pse = false;
  /** CR4.PGE: G is honoured */
  pge = false;
  /** the PSE-36 field (PA bits M-1..32) and the reserved bits of a 4 MiB PDE */
  readonly pse36Mask: number;
  readonly rsvd4M: number;

  constructor(maxPhyAddr: number) {
    this.pse36Mask = pse36Mask(maxPhyAddr);
    this.rsvd4M = rsvd4MMask(maxPhyAddr);
  }

  decode(w: WalkState, level: number, _hi: number, lo: number): EntryKind {
    if ((lo & Pte.P) === 0) return EntryKind.Invalid;
    const large = level === 1 && this.pse && (lo & Pte.PS) !== 0;
    if (large && (lo & this.rsvd4M) !== 0) {
      w.fault = HwFaultKind.Reserved;
      return EntryKind.Fault;
    }
    w.acc &= ((lo >>> 1) & (Rights.W | Rights.U)) | Rights.X; // R/W is bit 1, U/S bit 2
    if (level === 0 || large) {
      w.next = large
        ? ((lo & this.pse36Mask) >>> PSE36_SHIFT) * 1048576 + ((lo & PDE4M_ADDR_LO) >>> 12)
        : lo >>> 12;
      leaf(w, lo, large, this.pge);
      w.newHi = 0;
      return EntryKind.Leaf;
    }
    w.newLo = (lo | Pte.A) >>> 0;
    w.nextFrame = lo >>> 12;
    w.nextOffset = 0;
    return EntryKind.Table;
  }
}

/** Rights, attributes, dirty, global and the A/D write-back of a leaf (both formats). */
function leaf(w: WalkState, lo: number, large: boolean, pge: boolean): void {
  w.rights = X86_CANONICAL[w.acc];
  w.attrs = memType(lo, large);
  const write = w.access === Access.Write;
  w.dirty = write || (lo & Pte.D) !== 0;
  w.global = pge && (lo & Pte.G) !== 0;
  w.newLo = (lo | Pte.A | (write ? Pte.D : 0)) >>> 0;
}

/** PAE paging below the PDPTE registers (§4.4.2). EFER.NXE and CR4.PGE are set by the CPU. */
export class PaeFormat implements PagingFormat {
  /** SDM Vol. 3A 4.10.4.3: R/W 0 to 1 or XD 1 to 0 without an invalidation is at worst a spurious #PF, which invalidates the entry (4.10.4.1) */
  readonly fewerRightsStaleOk = "SDM Vol. 3A 4.10.4.3";
  readonly name = "i386-pae";
  readonly levels = 3;
  readonly pageShift = 12;
  readonly entryBytes = 8;
  /** the PDPT has 4 entries: VA bits 31..30 */
  readonly indexBits: readonly number[] = [9, 9, 2];
  readonly levelNames: readonly string[] = LEVEL_NAMES;
  /** PT entries and PDEs with PS = 1 */
  readonly leafLevels = 0b11;
  readonly initialAcc = Rights.ALL;
  /** IA32_EFER.NXE: XD is honoured (else reserved) */
  nxe = false;
  pge = false;
  /** high-half bits 62..M (reserved) and M-1..32 (address) */
  readonly rsvdHi: number;
  readonly hiAddrMask: number;

  constructor(maxPhyAddr: number) {
    this.rsvdHi = paeRsvdHi(maxPhyAddr);
    this.hiAddrMask = paeHiAddrMask(maxPhyAddr);
  }

  decode(w: WalkState, level: number, hi: number, lo: number): EntryKind {
    if ((lo & Pte.P) === 0) return EntryKind.Invalid;
    const large = level === 1 && (lo & Pte.PS) !== 0;
    const xd = (hi & PteHi.XD) !== 0;
    if ((hi & this.rsvdHi) !== 0 || (xd && !this.nxe) || (large && (lo & RSVD_PDE_2M_LO) !== 0)) {
      w.fault = HwFaultKind.Reserved;
      return EntryKind.Fault;
    }
    w.acc &= ((lo >>> 1) & (Rights.W | Rights.U)) | (xd ? 0 : Rights.X);
    const addr = (hi & this.hiAddrMask) * TWO32;
    if (level === 0 || large) {
      w.next = (addr + ((lo & (large ? Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE : Pte.ADDR_LO_MASK)) >>> 0)) / 4096;
      leaf(w, lo, large, this.pge);
      w.newHi = hi;
      return EntryKind.Leaf;
    }
    w.newLo = (lo | Pte.A) >>> 0;
    w.nextFrame = (hi & this.hiAddrMask) * 1048576 + (lo >>> 12);
    w.nextOffset = 0;
    return EntryKind.Table;
  }
}
