/**
 * Paging-structure entries of 32-bit x86: 32-bit paging (Intel SDM Vol. 3A
 * §4.3, Tables 4-4..4-6: 4-byte entries) and PAE paging (§4.4, Tables
 * 4-7..4-11: 8-byte entries carried as (hi, lo) u32 halves).
 *
 * 32-bit paging, a PDE that maps a 4 MiB page (CR4.PSE = 1, PS = 1), with
 * M = min(MAXPHYADDR, 40) (PSE-36):
 *
 *   31        22 21   M-19 M-20   13 12  11..9 8 7  6 5 4   3   2   1   0
 *  +------------+-------+-----------+---+-----+-+--+-+-+---+---+---+---+--+
 *  | PA 31..22  | rsvd  | PA M-1..32|PAT| ign |G|PS|D|A|PCD|PWT|U/S|R/W|P |
 *  +------------+-------+-----------+---+-----+-+--+-+-+---+---+---+---+--+
 *
 * The low twelve bits of every other entry are as in x86-64 (Pte in
 * ../x86_64/pte.ts, reused here); the address is bits 31..12. PAE entries
 * are laid out as x86-64's, except that bits 62..M are reserved (no
 * protection keys, nothing ignored) and the PDPTE has only P, PWT, PCD.
 */
import { Pte, PteHi } from "../x86_64/pte.ts";

export { Pte, PteHi };

/** Display names by level, counted up from the leaf: PT, PD (both modes), PDPT (PAE). */
export const LEVEL_NAMES = ["PT", "PD", "PDPT"] as const;

/** 32-bit paging: bits 31..22 of a 4 MiB PDE, the page's address bits 31..22. */
export const PDE4M_ADDR_LO = 0xffc00000;
/** 32-bit paging: bit 13, the first of the PSE-36 bits (PA bit 32 sits here). */
export const PSE36_SHIFT = 13;

/** M of SDM Table 4-4: the physical-address width a 4 MiB page can use, min(MAXPHYADDR, 40). */
export function pse36Width(maxPhyAddr: number): number {
  return Math.min(maxPhyAddr, 40);
}

/** 32-bit paging: mask of the PSE-36 field (bits M-20..13), for PA bits M-1..32 (Table 4-4). */
export function pse36Mask(maxPhyAddr: number): number {
  const m = pse36Width(maxPhyAddr);
  return ((2 ** (m - 32) - 1) << PSE36_SHIFT) >>> 0;
}

/** 32-bit paging: reserved bits 21..M-19 of a 4 MiB PDE (Table 4-4; bit 21 is always reserved). */
export function rsvd4MMask(maxPhyAddr: number): number {
  const low = pse36Width(maxPhyAddr) - 19;
  let mask = 0;
  for (let b = low; b <= 21; b++) mask |= 1 << b;
  return mask >>> 0;
}

/** PAE: low-half reserved bits of a PDPTE (Table 4-8): bits 2..1 and 8..5. */
export const RSVD_PDPTE_LO = 0x1e6;
/** PAE: low-half reserved bits 20..13 of a PDE that maps a 2 MiB page (Table 4-9). */
export const RSVD_PDE_2M_LO = 0x001fe000;

/** PAE: the high half's address bits M-1..32 (as bits M-33..0). */
export function paeHiAddrMask(maxPhyAddr: number): number {
  return (2 ** (maxPhyAddr - 32) - 1) >>> 0;
}

/** PAE: high-half bits 62..M, reserved in every present entry (Tables 4-8..4-11). */
export function paeRsvdHi(maxPhyAddr: number): number {
  return (~paeHiAddrMask(maxPhyAddr) & 0x7fffffff) >>> 0;
}

/**
 * Flags of an entry read at `level` in Linux's order (`P RW US A D PS G`),
 * for display. `pae`: 8-byte entries (XD, PDPTE); `pse`: PS marks a 4 MiB
 * page in a 32-bit PDE (else the bit is ignored and not named).
 */
export function flagNames(hi: number, lo: number, level: number, pae: boolean, pse: boolean): string[] {
  const out: string[] = [];
  if (lo & Pte.P) out.push("P");
  if (pae && level === 2) {
    if (lo & Pte.PWT) out.push("PWT");
    if (lo & Pte.PCD) out.push("PCD");
    return out;
  }
  const large = level === 1 && (lo & Pte.PS) !== 0 && (pae || pse);
  if (lo & Pte.RW) out.push("RW");
  if (lo & Pte.US) out.push("US");
  if (lo & Pte.PWT) out.push("PWT");
  if (lo & Pte.PCD) out.push("PCD");
  if (lo & Pte.A) out.push("A");
  if ((level === 0 || large) && lo & Pte.D) out.push("D");
  if (large) out.push("PS");
  if ((level === 0 || large) && lo & Pte.G) out.push("G");
  if (level === 0 ? lo & Pte.PAT4K : large && lo & Pte.PAT_LARGE) out.push("PAT");
  if (pae && hi & PteHi.XD) out.push("XD");
  return out;
}
