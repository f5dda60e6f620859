/**
 * x86-64 paging-structure entries (Intel SDM Vol. 3A §4.5, Tables 4-15..4-20).
 *
 * An entry is 64 bits, carried as (hi, lo) u32 halves:
 *
 *   63  62..59 58..52  51..M   M-1..12            11..9 8 7     6 5 4   3   2   1   0
 *  +--+------+------+-------+--------------------+-----+-+-----+-+-+---+---+---+---+--+
 *  |XD| PKEY | ign  | rsvd  | frame / table addr | ign |G|PS/PAT|D|A|PCD|PWT|U/S|R/W|P |
 *  +--+------+------+-------+--------------------+-----+-+-----+-+-+---+---+---+---+--+
 *
 * Low-half bits are read as `lo & Pte.X`; high-half bits as `hi & PteHi.X`.
 * Set: `lo | Pte.X`; clear: `lo & ~Pte.X` (then `>>> 0` to stay unsigned).
 */
export const enum Pte {
  /** bit 0: present */
  P = 1 << 0,
  /** bit 1: read/write (0 = read-only) */
  RW = 1 << 1,
  /** bit 2: user/supervisor (1 = user-mode accesses allowed) */
  US = 1 << 2,
  /** bit 3: page-level write-through */
  PWT = 1 << 3,
  /** bit 4: page-level cache disable */
  PCD = 1 << 4,
  /** bit 5: accessed, set by the walker on every entry it uses */
  A = 1 << 5,
  /** bit 6: dirty, set by the walker on the leaf of a write */
  D = 1 << 6,
  /** bit 7: page size in a PDPTE (1 GiB) or PDE (2 MiB); PAT in a PTE; reserved in PML4E/PML5E */
  PS = 1 << 7,
  /** bit 7 of a 4 KiB PTE: PAT */
  PAT4K = 1 << 7,
  /** bit 8: global (leaf only, honoured when CR4.PGE = 1) */
  G = 1 << 8,
  /** bits 11..9: ignored by hardware; Linux uses them (software bits) */
  SW_MASK = 0x7 << 9,
  /** bit 12 of a 2 MiB / 1 GiB leaf: PAT */
  PAT_LARGE = 1 << 12,
  /** bits 31..12 of the low half: address bits 31..12 */
  ADDR_LO_MASK = 0xfffff000,
}

/** Fields in the high half (bit n of the entry is bit n-32 here). */
export const enum PteHi {
  /** bit 63: execute-disable (reserved unless IA32_EFER.NXE = 1) */
  XD = 1 << 31,
  /** bits 62..59: protection key (leaf entries of user pages) */
  PKEY_SHIFT = 27,
  PKEY_MASK = 0xf << 27,
  /** bits 58..52: ignored */
  IGNORED_MASK = 0x7f << 20,
}

/** Page sizes by leaf level: level 0 (PT) 4 KiB, level 1 (PD) 2 MiB, level 2 (PDPT) 1 GiB. */
export const LEVEL_PAGE_SHIFT = [12, 21, 30] as const;

/** Display names by level, counted up from the leaf. */
export const LEVEL_NAMES = ["PT", "PD", "PDPT", "PML4", "PML5"] as const;
/** Linux's generic names for the same levels (pte, pmd, pud, p4d, pgd). */
export const LINUX_LEVEL_NAMES = ["PTE", "PMD", "PUD", "P4D", "PGD"] as const;

/**
 * The low word's flag bits of a leaf entry as every x86 paging mode lays
 * them out (SDM §4.3, §4.4, §4.5: 32-bit, PAE and 4/5-level paging agree
 * on bits 0..12): P, R/W, U/S, PWT, PCD, A, D, PS for a large page, G,
 * PAT (bit 7 in a PTE, bit 12 in a large page), and the software bits 9..11.
 */
export function leafFlagBits(size: number, f: LeafFlags): number {
  let lo = Pte.P;
  if (f.writable) lo += Pte.RW;
  if (f.user) lo += Pte.US;
  if (f.pwt) lo += Pte.PWT;
  if (f.pcd) lo += Pte.PCD;
  if (f.accessed) lo += Pte.A;
  if (f.dirty) lo += Pte.D;
  if (size > 0) lo += Pte.PS;
  if (f.global) lo += Pte.G;
  if (f.pat) lo += size > 0 ? Pte.PAT_LARGE : Pte.PAT4K;
  if (f.soft) lo += (f.soft & 7) << 9;
  return lo;
}

/** The mapping flags leafFlagBits reads (a subset of MapFlags). */
export interface LeafFlags {
  writable?: boolean;
  user?: boolean;
  pwt?: boolean;
  pcd?: boolean;
  accessed?: boolean;
  dirty?: boolean;
  global?: boolean;
  pat?: boolean;
  soft?: number;
}

/**
 * Masks of reserved bits for a given MAXPHYADDR (SDM §4.5, Table 4-20's
 * notes): bits 51..M of every present entry; bit 7 of PML5E/PML4E; bits
 * 29..13 of a 1 GiB PDPTE and 20..13 of a 2 MiB PDE (between PAT and the
 * address); XD when EFER.NXE = 0.
 */
export interface ReservedMasks {
  /** High-half bits 51..M (as bits 19..M-32). */
  readonly hiAddr: number;
  /** Low-half address bits above MAXPHYADDR when M < 32 (never, since M >= 36). */
  readonly loAddr: number;
  /** Mask for a table entry's address in the high half (bits M-1..32). */
  readonly hiAddrMask: number;
}

export function reservedMasks(maxPhyAddr: number): ReservedMasks {
  // bits 51..M live in hi bits (51-32)..(M-32)
  let hiAddr = 0;
  for (let b = maxPhyAddr; b <= 51; b++) hiAddr |= 1 << (b - 32);
  let hiAddrMask = 0;
  for (let b = 32; b < maxPhyAddr; b++) hiAddrMask |= 1 << (b - 32);
  return { hiAddr: hiAddr >>> 0, loAddr: 0, hiAddrMask: hiAddrMask >>> 0 };
}

/** Low-half reserved bits 20..13 of a 2 MiB PDE leaf. */
export const RSVD_PDE_2M_LO = 0x001fe000;
/** Low-half reserved bits 29..13 of a 1 GiB PDPTE leaf. */
export const RSVD_PDPTE_1G_LO = 0x3fffe000;

/** Physical address in an entry (table or 4 KiB frame), given the hi address mask. */
export function entryAddr(hi: number, lo: number, hiAddrMask: number): number {
  return (hi & hiAddrMask) * 4294967296 + ((lo & Pte.ADDR_LO_MASK) >>> 0);
}

/** Decoded view of one entry, for display (never on the hot path). */
export interface DecodedEntry {
  present: boolean;
  writable: boolean;
  user: boolean;
  pwt: boolean;
  pcd: boolean;
  accessed: boolean;
  dirty: boolean;
  /** PS at levels 1/2 (a leaf there); at level 0 this bit is PAT. */
  pageSize: boolean;
  global: boolean;
  pat: boolean;
  xd: boolean;
  pkey: number;
  /** The address field, bits 51..12, as a physical address (unmasked by MAXPHYADDR). */
  addr: number;
  /** Software-available bits 11..9 and 58..52. */
  softLo: number;
  softHi: number;
}

/**
 * Decodes an entry found at `level` (0 = PT). `pageSize` is only meaningful at
 * levels 1 and 2; at level 0 bit 7 is reported as `pat`.
 */
export function decodeEntry(hi: number, lo: number, level: number): DecodedEntry {
  const leafLarge = (level === 1 || level === 2) && (lo & Pte.PS) !== 0;
  const addrLo = leafLarge ? (lo & Pte.ADDR_LO_MASK & ~Pte.PAT_LARGE) >>> 0 : (lo & Pte.ADDR_LO_MASK) >>> 0;
  return {
    present: (lo & Pte.P) !== 0,
    writable: (lo & Pte.RW) !== 0,
    user: (lo & Pte.US) !== 0,
    pwt: (lo & Pte.PWT) !== 0,
    pcd: (lo & Pte.PCD) !== 0,
    accessed: (lo & Pte.A) !== 0,
    dirty: (lo & Pte.D) !== 0,
    pageSize: level !== 0 && (lo & Pte.PS) !== 0,
    global: (lo & Pte.G) !== 0,
    pat: level === 0 ? (lo & Pte.PAT4K) !== 0 : leafLarge && (lo & Pte.PAT_LARGE) !== 0,
    xd: (hi & PteHi.XD) !== 0,
    pkey: (hi & PteHi.PKEY_MASK) >>> PteHi.PKEY_SHIFT,
    addr: (hi & 0xfffff) * 4294967296 + addrLo,
    softLo: (lo & Pte.SW_MASK) >>> 9,
    softHi: (hi & PteHi.IGNORED_MASK) >>> 20,
  };
}

/**
 * Flags in the order Linux's page-table dumps and most texts list them, e.g.
 * `P RW US A D XD` for 0x8000000012345067 read as a PTE.
 */
export function flagNames(hi: number, lo: number, level: number): string[] {
  const d = decodeEntry(hi, lo, level);
  const out: string[] = [];
  if (d.present) out.push("P");
  if (d.writable) out.push("RW");
  if (d.user) out.push("US");
  if (d.pwt) out.push("PWT");
  if (d.pcd) out.push("PCD");
  if (d.accessed) out.push("A");
  if (d.dirty) out.push("D");
  if (d.pageSize) out.push("PS");
  if (d.global) out.push("G");
  if (d.pat) out.push("PAT");
  if (d.pkey !== 0) out.push(`PKEY=${d.pkey}`);
  if (d.xd) out.push("XD");
  return out;
}
