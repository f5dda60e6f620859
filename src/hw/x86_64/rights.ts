import { Access, Mode } from "../access.ts";

/**
 * Rights of a translation, as the MMU accumulates them over the walk and the
 * TLB caches them: W (R/W = 1 at every level), U (U/S = 1 at every level:
 * a user-mode address), X (XD = 0 at every level). Index 0..7 = W | U<<1 | X<<2.
 */
export const enum Rights {
  W = 1,
  U = 2,
  X = 4,
  ALL = 7,
}

/** The control-register inputs of the SDM §4.6 rights rules. */
export interface RightsRegs {
  /** CR0.WP */
  wp: boolean;
  /** CR4.SMEP */
  smep: boolean;
  /** CR4.SMAP */
  smap: boolean;
  /** RFLAGS.AC */
  ac: boolean;
  /** IA32_EFER.NXE */
  nxe: boolean;
}

/** Index into a permission table: rights * 9 + mode * 3 + access. */
export function permIndex(rights: number, mode: Mode, access: Access): number {
  return rights * 9 + mode * 3 + access;
}

/**
 * Is an access allowed by paging rights (protection keys aside)?
 * Spec: Intel SDM Vol. 3A §4.6.1 "Determination of Access Rights", for
 * 4-level and 5-level paging.
 */
export function allowedByRights(rights: number, mode: Mode, access: Access, r: RightsRegs): boolean {
  const w = (rights & Rights.W) !== 0;
  const u = (rights & Rights.U) !== 0;
  const x = (rights & Rights.X) !== 0;
  if (mode === Mode.User) {
    if (!u) return false; // user-mode accesses to supervisor-mode addresses are never allowed
    if (access === Access.Write) return w; // CR0.WP does not matter in user mode
    if (access === Access.Exec) return !r.nxe || x;
    return true;
  }
  // supervisor-mode access (explicit, or implicit at any CPL)
  if (access === Access.Exec) {
    if (u && r.smep) return false;
    return !r.nxe || x;
  }
  if (u && r.smap && (mode === Mode.ImplicitSupervisor || !r.ac)) return false;
  if (access === Access.Write) return !r.wp || w;
  return true;
}

/** The whole table for the current registers: 8 rights × 3 modes × 3 accesses. */
export function computePermTable(r: RightsRegs, out: Uint8Array = new Uint8Array(72)): Uint8Array {
  for (let rights = 0; rights < 8; rights++) {
    for (let mode = 0; mode < 3; mode++) {
      for (let access = 0; access < 3; access++) {
        out[rights * 9 + mode * 3 + access] = allowedByRights(rights, mode, access, r) ? 1 : 0;
      }
    }
  }
  return out;
}

/**
 * Does PKRU forbid this access? Protection keys apply only to data accesses
 * to user-mode addresses, by any mode (SDM §4.6.2). PKRU holds AD (bit 2i)
 * and WD (bit 2i+1) for key i. WD stops user-mode writes, and
 * supervisor-mode writes only when CR0.WP = 1.
 */
export function pkDenied(
  pkru: number,
  pkey: number,
  userAddress: boolean,
  mode: Mode,
  access: Access,
  wp: boolean,
): boolean {
  if (!userAddress || access === Access.Exec) return false;
  const ad = (pkru >>> (2 * pkey)) & 1;
  if (ad) return true;
  const wd = (pkru >>> (2 * pkey + 1)) & 1;
  return wd === 1 && access === Access.Write && (mode === Mode.User || wp);
}
