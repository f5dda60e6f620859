/**
 * RISC-V Sv39, Sv48 and Sv57 page tables as a PagingFormat (RISC-V
 * Privileged Architecture, "Supervisor-Level ISA": "Sv39: Page-Based
 * 39-bit Virtual-Memory System" with its "Addressing and Memory
 * Protection", "Virtual Address Translation Process" (the Sv32 section the
 * others refer to), "Sv48", "Sv57"; the "Svnapot" and "Svpbmt" extension
 * chapters; "Svade" / "Svadu"). Levels count up from the leaf exactly as
 * the spec's `i` does: level 0 is the last table of a full walk.
 *
 * VA (Sv39; Sv48 adds VPN[3] at 47:39, Sv57 VPN[4] at 56:48):
 *   | 63 .. 39 = bit 38 | VPN[2] | VPN[1] | VPN[0] | page offset |
 *                        38   30  29   21  20   12  11          0
 *
 * A PTE, 8 bytes, little-endian ("Sv39 page table entry" figure):
 *
 *   63 N | 62:61 PBMT | 60:54 reserved | 53:10 PPN (44 bits) | 9:8 RSW
 *   7 D | 6 A | 5 G | 4 U | 3 X | 2 W | 1 R | 0 V
 *
 * Decode follows the translation process step by step (and QEMU's
 * target/riscv/cpu_helper.c get_physical_address):
 *   step 2: the PTE's address must be in RAM (a PMA check), else an access
 *           fault (HwFaultKind.AddressSize here, scause 1/5/7);
 *   step 3: V = 0 is a page fault; so are R = 0 with W = 1, and any set bit
 *           or encoding reserved for future standard use: bits 60:54 always,
 *           PBMT without Svpbmt (and PBMT = 3 with it), N without Svnapot;
 *   step 4: R = X = 0 is a pointer to the next table (none below level 0:
 *           a page fault); in a pointer D, A and U are reserved, and so are
 *           N and PBMT (Svnapot, Svpbmt: "reserved for non-leaf PTEs");
 *   step 5: the rights of a leaf (rights.ts, applied by the Mmu);
 *   step 6: a superpage whose PPN has bits set below its size is misaligned:
 *           a page fault;
 *   step 7: A = 0, or D = 0 on a store: a page fault under Svade; under
 *           Svadu hardware sets A (and D on a store), written back by the
 *           walker only when the access is allowed.
 * A G bit on a pointer makes every mapping below it global ("Global
 * mappings ... for non-leaf PTEs, the global setting implies that all
 * mappings in the subsequent levels of the page table are global");
 * `WalkState.acc` carries it down the walk.
 */
import { InputError } from "../../../base/errors.ts";
import { Access } from "../../access.ts";
import { EntryKind, HwFaultKind, type PagingFormat, Perm, type WalkState } from "../../mmu/PagingFormat.ts";

/** Bits of a PTE's low word (PTE bits 31:0). */
export const enum Pte {
  /** valid */
  V = 1 << 0,
  /** readable, writable, executable: R = W = X = 0 marks a pointer to the next table */
  R = 1 << 1,
  W = 1 << 2,
  X = 1 << 3,
  /** accessible to U-mode */
  U = 1 << 4,
  /** global mapping (in every address space) */
  G = 1 << 5,
  /** accessed, dirty */
  A = 1 << 6,
  D = 1 << 7,
  /** bits 9:8: reserved for supervisor software, ignored by hardware */
  RSW_SHIFT = 8,
  RSW_MASK = 3 << 8,
  /** bits 31:10 hold PPN[21:0] */
  PPN_SHIFT = 10,
}

/** Bits of a PTE's high word (PTE bit n is bit n - 32 here). */
export const enum PteHi {
  /** bits 53:32: PPN[43:22] */
  PPN_HI_MASK = 0x3fffff,
  /** bits 60:54: reserved for future standard use (a page fault when set) */
  RESERVED_MASK = 0x7f << 22,
  /** bits 62:61: Svpbmt page-based memory type (0 PMA, 1 NC, 2 IO, 3 reserved) */
  PBMT_SHIFT = 29,
  PBMT_MASK = 3 << 29,
  /** bit 63: Svnapot naturally aligned power-of-2 page */
  N = 0x80000000,
}

/** Svpbmt memory types (PBMT field values). */
export const PBMT_NAMES = ["PMA", "NC", "IO", "reserved"] as const;

/** Which optional extensions the hart implements and enables (set by the Cpu). */
export interface RiscvExtensions {
  /** Svadu with menvcfg.ADUE = 1: hardware updates A and D (else Svade: a fault) */
  svadu: boolean;
  /** Svnapot: N = 1 with PPN[3:0] = 1000 at level 0 maps a 64 KiB page */
  svnapot: boolean;
  /** Svpbmt: PBMT is the memory type (else its bits are reserved) */
  svpbmt: boolean;
}

/** vmlab's names of the levels, level 0 first (the spec's `i`). */
export const RISCV_LEVEL_NAMES = ["L0", "L1", "L2", "L3", "L4"] as const;

/** The VA sizes of the formats: Sv32 (RV32), Sv39, Sv48, Sv57 (RV64). */
export type RiscvVaBits = 32 | 39 | 48 | 57;

/** Levels of a walk by satp.MODE's page-table format: Sv32 2, Sv39 3, Sv48 4, Sv57 5. */
export function levelsOfBits(vaBits: RiscvVaBits): 2 | 3 | 4 | 5 {
  return vaBits === 32 ? 2 : vaBits === 39 ? 3 : vaBits === 48 ? 4 : 5;
}

/** Why an Sv32 hart has no Svnapot or Svpbmt (an input error's text), or null when `e` asks for neither. */
export function sv32ExtensionError(e: Partial<RiscvExtensions>): string | null {
  const which = e.svnapot ? "Svnapot" : e.svpbmt ? "Svpbmt" : null;
  if (which === null) return null;
  return `${which} is RV64-only (the spec defines it on Sv39/Sv48/Sv57 PTEs and it depends on Sv39): Sv32's 4-byte PTE has no ${which === "Svnapot" ? "N bit (bit 63 of an RV64 PTE)" : "PBMT field (bits 62:61 of an RV64 PTE)"}, so riscv-sv32 cannot have ${which.toLowerCase()}=on`;
}

/** The PPN of a PTE (bits 53:10) as a number below 2^44. */
export function ptePpn(hi: number, lo: number): number {
  return (hi & PteHi.PPN_HI_MASK) * 4194304 + (lo >>> Pte.PPN_SHIFT);
}

/**
 * Canonical rights (Perm) of a leaf: R, W, X for U-mode when U = 1, for
 * S-mode when U = 0. A U page also carries its R and W as S-mode's rights,
 * which sstatus.SUM gates (rights.ts); S-mode never executes a U page, so it
 * gets no PX ("Addressing and Memory Protection": "Irrespective of SUM, the
 * supervisor may not execute code on pages with U=1").
 */
export function riscvRights(lo: number): number {
  const r = (lo & Pte.R) !== 0;
  const w = (lo & Pte.W) !== 0;
  const x = (lo & Pte.X) !== 0;
  if ((lo & Pte.U) !== 0)
    return (r ? Perm.UR | Perm.PR : 0) | (w ? Perm.UW | Perm.PW : 0) | (x ? Perm.UX : 0);
  return (r ? Perm.PR : 0) | (w ? Perm.PW : 0) | (x ? Perm.PX : 0);
}

/**
 * The format of one hart. `levels` is the deepest format the hart
 * implements (Sv57: 5); a shallower satp.MODE starts its walks lower (the
 * Cpu's startWalk), since every level is 9 bits of VPN and 8-byte PTEs in
 * all three. `levels` = 2 is RV32's Sv32: 10 bits of VPN a level and
 * 4-byte PTEs (the walker reads only the low word: `hi` is 0).
 */
export class RiscvFormat implements PagingFormat, RiscvExtensions {
  readonly name: string;
  readonly pageShift = 12;
  /** 8 (RV64's formats), 4 (Sv32) */
  readonly entryBytes: 4 | 8;
  /** VPN bits a level: 9, or 10 in Sv32 (a superpage of level i spans 2^(vpnBits*i) pages) */
  readonly vpnBits: 9 | 10;
  /** RV32's Sv32 */
  readonly sv32: boolean;
  readonly indexBits: readonly number[];
  readonly levelNames: readonly string[];
  /** superpages at every level ("any level of PTE may be a leaf PTE") */
  readonly leafLevels: number;
  readonly initialAcc = 0;
  svadu = false;
  /** A = 0 faults under Svade (step 7), so a TLB entry may outlive its PTE's A (PagingFormat.accessedFaultLo) */
  get accessedFaultLo(): number {
    return this.svadu ? 0 : Pte.A;
  }
  svnapot = false;
  svpbmt = false;
  /** frames of RAM: a table outside is an access fault (set by the Cpu) */
  ramFrames = 0;
  /** high-word bits that make any PTE reserved (derived from the extensions by setExtensions) */
  reservedHi: number = PteHi.RESERVED_MASK | PteHi.PBMT_MASK | PteHi.N;

  constructor(readonly levels: 2 | 3 | 4 | 5) {
    this.sv32 = levels === 2;
    this.name = this.sv32 ? "riscv-sv32" : `riscv-sv${27 + 9 * levels}`;
    this.entryBytes = this.sv32 ? 4 : 8;
    this.vpnBits = this.sv32 ? 10 : 9;
    this.indexBits = new Array(levels).fill(this.vpnBits);
    this.levelNames = RISCV_LEVEL_NAMES.slice(0, levels);
    this.leafLevels = 2 ** levels - 1;
  }

  /** Applies the extension switches (Sv32: Svnapot and Svpbmt are refused, sv32ExtensionError). */
  setExtensions(e: RiscvExtensions): void {
    const bad = this.sv32 ? sv32ExtensionError(e) : null;
    if (bad !== null) throw new InputError(bad);
    this.svadu = e.svadu;
    this.svnapot = e.svnapot;
    this.svpbmt = e.svpbmt;
    this.reservedHi =
      (PteHi.RESERVED_MASK | (e.svpbmt ? 0 : PteHi.PBMT_MASK) | (e.svnapot ? 0 : PteHi.N)) >>> 0;
  }

  decode(w: WalkState, level: number, hi: number, lo: number): EntryKind {
    // step 3
    if ((lo & Pte.V) === 0) return EntryKind.Invalid;
    if ((lo & (Pte.R | Pte.W)) === Pte.W || (hi & this.reservedHi) !== 0)
      return this.fault(w, HwFaultKind.Reserved);
    if ((lo & (Pte.R | Pte.X)) === 0) {
      // step 4: a pointer (the walker turns one at level 0 into a page fault)
      if (level === 0) return EntryKind.Table;
      if ((lo & (Pte.D | Pte.A | Pte.U)) !== 0 || (hi & (PteHi.PBMT_MASK | PteHi.N)) !== 0)
        return this.fault(w, HwFaultKind.Reserved);
      const ppn = ptePpn(hi, lo);
      // step 2 of the next level: the table must be in RAM
      if (ppn >= this.ramFrames) return this.fault(w, HwFaultKind.AddressSize);
      if ((lo & Pte.G) !== 0) w.acc = 1;
      w.newLo = lo; // pointers have no A/D: nothing is written back
      w.nextFrame = ppn;
      w.nextOffset = 0;
      return EntryKind.Table;
    }
    return this.leaf(w, level, hi, lo);
  }

  private leaf(w: WalkState, level: number, hi: number, lo: number): EntryKind {
    const pbmt = (hi & PteHi.PBMT_MASK) >>> PteHi.PBMT_SHIFT;
    if (pbmt === 3) return this.fault(w, HwFaultKind.Reserved);
    let ppn = ptePpn(hi, lo);
    if ((hi & PteHi.N) !== 0) {
      // Svnapot: only the 64 KiB encoding (N = 1, level 0, PPN[3:0] = 1000) is defined;
      // the page's frames replace PPN[3:0] with VPN[0][3:0]
      if (level !== 0 || (ppn & 15) !== 8) return this.fault(w, HwFaultKind.Reserved);
      ppn = ppn - 8 + (w.vpn % 16);
    } else if (level > 0 && ppn % 2 ** (this.vpnBits * level) !== 0) {
      // step 6
      return this.fault(w, HwFaultKind.Misaligned);
    }
    // step 7 (before step 5 here: both are the same page fault)
    const store = w.access === Access.Write;
    if (!this.svadu && ((lo & Pte.A) === 0 || (store && (lo & Pte.D) === 0)))
      return this.fault(w, HwFaultKind.AccessFlag);
    w.rights = riscvRights(lo);
    w.next = ppn;
    w.attrs = pbmt;
    w.dirty = (lo & Pte.D) !== 0 || store;
    w.global = (lo & Pte.G) !== 0 || w.acc !== 0;
    w.newLo = (this.svadu ? lo | Pte.A | (store ? Pte.D : 0) : lo) >>> 0;
    w.newHi = hi;
    return EntryKind.Leaf;
  }

  private fault(w: WalkState, kind: HwFaultKind): EntryKind {
    w.fault = kind;
    return EntryKind.Fault;
  }
}

/** The flags of a PTE in the spec's words, for walks and `show`. */
export function pteFlagNames(
  hi: number,
  lo: number,
  level: number,
  ext: RiscvExtensions,
  vpnBits: 9 | 10 = 9,
): string[] {
  if ((lo & Pte.V) === 0) return ["invalid"];
  const f: string[] = [];
  const leaf = (lo & (Pte.R | Pte.X)) !== 0;
  f.push(leaf ? (level === 0 ? "page" : "superpage") : level === 0 ? "pointer at level 0" : "pointer");
  for (const [bit, name] of [
    [Pte.R, "R"],
    [Pte.W, "W"],
    [Pte.X, "X"],
    [Pte.U, "U"],
    [Pte.G, "G"],
    [Pte.A, "A"],
    [Pte.D, "D"],
  ] as const)
    if ((lo & bit) !== 0) f.push(name);
  const rsw = (lo & Pte.RSW_MASK) >>> Pte.RSW_SHIFT;
  if (rsw !== 0) f.push(`RSW=${rsw}`);
  if ((hi & PteHi.N) !== 0) f.push("N");
  const pbmt = (hi & PteHi.PBMT_MASK) >>> PteHi.PBMT_SHIFT;
  if (pbmt !== 0) f.push(`PBMT=${PBMT_NAMES[pbmt]}`);
  const reserved =
    (lo & (Pte.R | Pte.W)) === Pte.W ||
    (hi & PteHi.RESERVED_MASK) !== 0 ||
    ((hi & PteHi.N) !== 0 && (!ext.svnapot || !leaf || level !== 0 || (ptePpn(hi, lo) & 15) !== 8)) ||
    (pbmt !== 0 && (!ext.svpbmt || !leaf || pbmt === 3)) ||
    (!leaf && (lo & (Pte.D | Pte.A | Pte.U)) !== 0);
  if (reserved) f.push("reserved");
  else if (leaf && level > 0 && (hi & PteHi.N) === 0 && ptePpn(hi, lo) % 2 ** (vpnBits * level) !== 0)
    f.push("misaligned");
  return f;
}
