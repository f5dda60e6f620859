import { Access, Mode } from "../../access.ts";
import { PERM_TABLE_SIZE, Perm } from "../../mmu/PagingFormat.ts";

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

/**
 * The whole table for the current registers, over canonical rights (Perm in
 * hw/mmu/PagingFormat.ts): 64 rights × 3 modes × 3 accesses. x86's W is the
 * privileged write right, U "user readable", X the privileged execute right.
 */
export function computePermTable(
  r: RightsRegs,
  out: Uint8Array = new Uint8Array(PERM_TABLE_SIZE),
): Uint8Array {
  for (let perm = 0; perm < 64; perm++) {
    const rights = x86RightsOf(perm);
    for (let mode = 0; mode < 3; mode++) {
      for (let access = 0; access < 3; access++) {
        out[perm * 9 + mode * 3 + access] = allowedByRights(rights, mode, access, r) ? 1 : 0;
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

/** Canonical rights (Perm) of x86 W|U|X rights: a user page is a supervisor page too. */
export const X86_CANONICAL = new Uint8Array(8);
for (let r = 0; r < 8; r++) {
  const w = (r & Rights.W) !== 0;
  const x = (r & Rights.X) !== 0;
  let p = Perm.PR | (w ? Perm.PW : 0) | (x ? Perm.PX : 0);
  if (r & Rights.U) p |= Perm.UR | (w ? Perm.UW : 0) | (x ? Perm.UX : 0);
  X86_CANONICAL[r] = p;
}

/** The x86 W|U|X rights of canonical rights (the inverse of X86_CANONICAL on what it produces). */
export function x86RightsOf(perm: number): number {
  return (perm & Perm.PW ? Rights.W : 0) | (perm & Perm.UR ? Rights.U : 0) | (perm & Perm.PX ? Rights.X : 0);
}
