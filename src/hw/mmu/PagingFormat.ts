/**
 * A paging format: the data that tells one translation scheme from another
 * (x86-64 4- and 5-level, 32-bit and PAE x86, ARM64 VMSAv8-64, RISC-V Sv39/48/57,
 * OSTEP's two-level teaching format) for the one walk loop in `Mmu.walk`.
 *
 * The geometry is data: levels, index bits per level, entry size, base page
 * size. What an entry means is code: `decode` classifies one entry read at one
 * level and fills the walk state (the next table, or the leaf's frame, rights
 * and attributes, and the value hardware would write back for accessed/dirty
 * updates). Levels count up from the leaf: level 0 is the last table of a full
 * walk everywhere (x86 PT, ARM64 L3, RISC-V level 0); `levelNames` gives each
 * architecture's own names for display.
 *
 * Rights are carried in one canonical form, the same for every architecture
 * (see `Perm`): what the entries grant to user and to privileged code before
 * the control-register policies (SMAP/SMEP, PAN, SUM/MXR, WP, NXE, WXN), which
 * each architecture's permission table applies on every walk and every TLB hit.
 */

/** The class of one entry as the walker sees it. */
export const enum EntryKind {
  /** not valid / not present: a translation fault at this level */
  Invalid = 0,
  /** points to the next table (`WalkState.next` = its physical address) */
  Table = 1,
  /** maps a page (`WalkState.next` = first base frame, rights, attrs, dirty, global set) */
  Leaf = 2,
  /** a fault other than "not present" (`WalkState.fault` says which) */
  Fault = 3,
}

/** Why a translation failed, in terms every architecture shares; each MMU turns it into its own code. */
export const enum HwFaultKind {
  None = 0,
  /** no valid entry (x86 P = 0, ARM64 translation fault, RISC-V V = 0) */
  Translation = 1,
  /** the entries do not allow this access (x86 P = 1 fault, ARM64 permission fault) */
  Permission = 2,
  /** a reserved bit or an encoding the architecture reserves */
  Reserved = 3,
  /** x86 protection keys */
  ProtKey = 4,
  /** ARM64 AF = 0 without hardware update; RISC-V A = 0 (or D = 0 on a store) without Svadu */
  AccessFlag = 5,
  /** an output address above the physical address size (ARM64 address size fault) */
  AddressSize = 6,
  /** the virtual address is outside every translated range (x86 non-canonical: #GP) */
  NonCanonical = 7,
  /** a superpage whose frame is not aligned to its size (RISC-V) */
  Misaligned = 8,
}

export const HW_FAULT_NAMES = [
  "none",
  "translation",
  "permission",
  "reserved",
  "protection-key",
  "access-flag",
  "address-size",
  "non-canonical",
  "misaligned",
] as const;

/**
 * Canonical rights of a translation: what user and privileged code may do
 * according to the entries alone. A TLB entry caches these six bits, so a hit
 * is checked as a walk is.
 */
export const enum Perm {
  /** user (CPL 3, EL0, U-mode) may read */
  UR = 1,
  UW = 2,
  UX = 4,
  /** privileged (CPL 0-2, EL1, S-mode) may read */
  PR = 8,
  PW = 16,
  PX = 32,
  /** any user right: the page is a user page (x86 U/S = 1, ARM64 AP[1] or !UXN, RISC-V U) */
  USER = 7,
  ALL = 63,
}

/** Number of access modes a permission table distinguishes (see hw/access.ts Mode). */
export const MODES = 3;
/** Entries of a permission table: 64 rights × 3 modes × 3 kinds of access. */
export const PERM_TABLE_SIZE = 64 * MODES * 3;

/** Index into a permission table. */
export function permIndex(rights: number, mode: number, access: number): number {
  return rights * 9 + mode * 3 + access;
}

/** `user r-x / kernel rw-` for explain, the checker and the views. */
export function permText(rights: number): string {
  const b = (bit: number, c: string) => ((rights & bit) !== 0 ? c : "-");
  return `user ${b(Perm.UR, "r")}${b(Perm.UW, "w")}${b(Perm.UX, "x")} / kernel ${b(Perm.PR, "r")}${b(Perm.PW, "w")}${b(Perm.PX, "x")}`;
}

/**
 * Scratch state of one walk, shared by the walker and the format's `decode`
 * (one per MMU, reused: no allocation per walk).
 */
export class WalkState {
  // ---- inputs of the walk ----
  access = 0;
  mode = 0;
  sideEffects = false;
  /** the page number being translated (in base pages) */
  vpn = 0;
  // ---- set by the MMU before the first level (startWalk) ----
  /** the level of the first table read */
  level = 0;
  /** physical address of the first table */
  tablePa = 0;
  /** the index mask of the first table (a top table may be smaller than the format's) */
  topMask = 0;
  // ---- accumulated by decode over the levels ----
  /** format-defined: what upper levels allow (x86: W|U|X; ARM64: APTable/XNTable) */
  acc = 0;
  // ---- outputs of decode ----
  /** Leaf: first base frame of the page. */
  next = 0;
  /** Table: the next table, as the 4 KiB frame of RAM that holds it and its byte offset there (0 for a table that fills a page) */
  nextFrame = 0;
  nextOffset = 0;
  /** Leaf: canonical rights (Perm) */
  rights = 0;
  /** Leaf: architecture attributes cached with the translation (x86: protection key, memory type) */
  attrs = 0;
  /** Leaf: the page is dirty once this access is done (a clean entry makes a write walk again) */
  dirty = false;
  /** Leaf: the translation is global (not tagged by an ASID/PCID) */
  global = false;
  /**
   * the entry as hardware writes it back (accessed/dirty updates); equal to
   * what was read when nothing changes. A table entry's updates are in its
   * low half (x86 A, ARM64 AF): decode sets only newLo for a Table.
   */
  newHi = 0;
  newLo = 0;
  /** Fault: the kind */
  fault = 0;
  /**
   * Leaf: a level-0 entry with the contiguous hint (arm64 PTE_CONT, Arm ARM
   * D8.6.1): the TLB may cache its whole block (PagingFormat.contPages) as
   * one entry. Only formats with contPages set it.
   */
  cont = false;
}

/** A paging format: the geometry of a walk and the meaning of an entry. */
export interface PagingFormat {
  readonly name: string;
  /** number of levels of a full walk */
  readonly levels: number;
  /** log2 of the base page size (12; 5 for the teaching format) */
  readonly pageShift: number;
  /** bytes per entry: 1, 4 or 8 (little-endian) */
  readonly entryBytes: 1 | 4 | 8;
  /** index bits per level, level 0 first */
  readonly indexBits: readonly number[];
  /** display names per level, level 0 first (x86: PT, PD, PDPT, PML4, PML5) */
  readonly levelNames: readonly string[];
  /** bit `1 << level` for each level whose entries may map a page */
  readonly leafLevels: number;
  /** `acc` at the start of a full walk */
  readonly initialAcc: number;
  /**
   * The accessed flag's bit in a leaf entry's low half where a walk faults
   * on it clear instead of setting it (RISC-V without Svadu); absent or 0
   * elsewhere. Clearing it needs no TLB flush (x86 and RISC-V Linux's
   * ptep_clear_flush_young flush nothing), so the coherence checker does
   * not report a cached translation whose entry only lost this bit.
   */
  readonly accessedFaultLo?: number;
  /**
   * Where the architecture lets a TLB entry with fewer rights than its
   * entry in memory (read-only where memory grants write, no-execute where
   * it grants execute) be used without an invalidation, because the page
   * fault it causes invalidates it (x86: SDM Vol. 3A 4.10.4.1 and
   * 4.10.4.3, "spurious" page faults, on which Linux's
   * ptep_set_access_flags relies): the manual's section, which the
   * coherence checker names when it reports such a use; absent elsewhere.
   */
  readonly fewerRightsStaleOk?: string;
  /**
   * Pages of an aligned block of level-0 entries a contiguous hint joins
   * (arm64 with the 4K granule: 16, a 64K block; Arm ARM D8.6.1 "The
   * Contiguous bit"); absent where there is none. Its TLB size code is
   * `levels` (Geometry.contSize).
   */
  readonly contPages?: number;
  /**
   * Misprogramming of the contiguous hint (Arm ARM D8.6.1, "Misprogramming
   * of the Contiguous bit": CONSTRAINED UNPREDICTABLE) in the block of the
   * level-0 entry at `entryPa` that maps `vpn`: what is wrong, or null when
   * every entry of the block is valid, contiguous, maps the next frame of an
   * aligned block and has the same attributes. For the coherence checker.
   */
  contMisprogrammed?(read32: (pa: number) => number, entryPa: number, vpn: number): string | null;
  /**
   * Classifies the entry (hi, lo) read at `level` and fills `w`. For a Table,
   * `w.nextFrame` and `w.nextOffset` say where the next table is (its 4 KiB
   * frame of RAM and the byte offset in it: integers, no division in the
   * walk) and `w.acc` is updated; for a Leaf, `w.next` is the page's first
   * base frame and rights, attrs,
   * dirty and global are set; for both, `w.newHi/newLo` is the entry as the
   * hardware would write it back (the walker writes it only with side effects,
   * and for a leaf only when the access is allowed). Never throws.
   */
  decode(w: WalkState, level: number, hi: number, lo: number): EntryKind;
}

/** The numbers a walk and a TLB derive from a format, computed once. */
export class Geometry {
  /** vpn bits below each level's index */
  readonly levelShift: Int32Array;
  /** each level's index mask */
  readonly indexMask: Int32Array;
  /** base pages per page of each level (1 at level 0) */
  readonly pagesPer: Float64Array;
  /** log2 of the size of a page mapped at each level */
  readonly leafShift: Int32Array;
  /** virtual address bits a full walk translates */
  readonly vaBits: number;
  readonly pageSize: number;
  /** the TLB size code of a contiguous block (`levels`: after the levels' pages in pagesPer and leafShift), or -1 */
  readonly contSize: number;

  constructor(readonly format: PagingFormat) {
    const n = format.levels;
    this.levelShift = new Int32Array(n);
    this.indexMask = new Int32Array(n);
    const cont = format.contPages ?? 0;
    this.contSize = cont > 0 ? n : -1;
    this.pagesPer = new Float64Array(cont > 0 ? n + 1 : n);
    this.leafShift = new Int32Array(cont > 0 ? n + 1 : n);
    let shift = 0;
    for (let l = 0; l < n; l++) {
      this.levelShift[l] = shift;
      this.indexMask[l] = 2 ** format.indexBits[l] - 1;
      this.pagesPer[l] = 2 ** shift;
      this.leafShift[l] = format.pageShift + shift;
      shift += format.indexBits[l];
    }
    if (cont > 0) {
      this.pagesPer[n] = cont;
      this.leafShift[n] = format.pageShift + Math.log2(cont);
    }
    this.vaBits = format.pageShift + shift;
    this.pageSize = 2 ** format.pageShift;
  }

  /** The index of vpn in a table of `level` (any vpn below 2^53). */
  index(vpn: number, level: number): number {
    return Math.floor(vpn / this.pagesPer[level]) % (this.indexMask[level] + 1);
  }

  /** Page-size name of a leaf at `level` (or of the contiguous block, contSize): 4K, 2M, 1G, 4M, 512G, 64K, 32B... */
  sizeName(level: number): string {
    return sizeName(this.leafShift[level]);
  }
}

/**
 * An entry's value as its table holds it, `0x` and two hex digits a byte: 16 for an 8-byte entry
 * (x86-64, PAE, arm64, Sv39), 8 for a 4-byte one (i386's 2-level paging, Sv32), 2 for the teaching
 * format's byte. `hi` is ignored below 8 bytes.
 */
export function entryHex(hi: number, lo: number, bytes: number): string {
  const low = (lo >>> 0).toString(16).padStart(bytes >= 4 ? 8 : bytes * 2, "0");
  return bytes === 8 ? `0x${(hi >>> 0).toString(16).padStart(8, "0")}${low}` : `0x${low}`;
}

/** `4K`, `2M`, `1G`, `512G`, `32B` for a page of 2^shift bytes. */
export function sizeName(shift: number): string {
  if (shift >= 40) return `${2 ** (shift - 40)}T`;
  if (shift >= 30) return `${2 ** (shift - 30)}G`;
  if (shift >= 20) return `${2 ** (shift - 20)}M`;
  if (shift >= 10) return `${2 ** (shift - 10)}K`;
  return `${2 ** shift}B`;
}
