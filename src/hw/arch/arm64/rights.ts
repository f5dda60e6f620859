/**
 * The ARM64 permission table: what an access may do to a translation of
 * given canonical rights (Perm), by mode and kind of access, under
 * PSTATE.PAN and SCTLR_EL1.WXN. Spec: Arm ARM D8.4 "Memory access control"
 * (D8.4.1 data access permissions, D8.4.2 execute-never, PAN; pseudocode
 * AArch64.CheckPermission, AArch64.S1DirectBasePermissions).
 *
 * The entries' own rules (AP[2:1], APTable, UXN/PXN/XNTable, "PXN implied
 * for memory writable at EL0") are already in the canonical rights
 * (format.ts armRights). The registers add:
 *
 * - PAN: a privileged data access (EL1 load/store, not an LDTR/STTR, not an
 *   instruction fetch) to a page EL0 may read is a Permission fault. With
 *   FEAT_PAN3 and SCTLR_EL1.EPAN = 1 (Enhanced PAN) so is one to a page EL0
 *   may execute (AArch64.S1DirectBasePermissions: `pan_access && (ur || (epan
 *   && ux))`), so an execute-only user page (AP[2:1] = 0b10, UXN = 0) is not
 *   left readable at EL1 (Linux's PAGE_EXECONLY needs it: mm/mmap.c
 *   adjust_protection_map).
 * - WXN: memory writable at an EL is execute-never at that EL.
 *
 * Modes: Mode.User is EL0, and LDTR/STTR at EL1 (unprivileged accesses are
 * checked with EL0's permissions, so PAN does not apply); Mode.Supervisor is
 * an EL1 access; Mode.ImplicitSupervisor an EL1 access PAN does not apply
 * to (cache maintenance by VA, AT S1E1R/W).
 */
import { Access, Mode } from "../../access.ts";
import { PERM_TABLE_SIZE, Perm } from "../../mmu/PagingFormat.ts";

/** The register inputs of the rules. */
export interface ArmRightsRegs {
  /** PSTATE.PAN */
  pan: boolean;
  /** SCTLR_EL1.WXN */
  wxn: boolean;
  /** SCTLR_EL1.EPAN (FEAT_PAN3; absent: 0) */
  epan?: boolean;
}

/** Is the access allowed by canonical rights under these registers? */
export function armAllowed(perm: number, mode: Mode, access: Access, r: ArmRightsRegs): boolean {
  if (mode === Mode.User) {
    if (access === Access.Read) return (perm & Perm.UR) !== 0;
    if (access === Access.Write) return (perm & Perm.UW) !== 0;
    return (perm & Perm.UX) !== 0 && !(r.wxn && (perm & Perm.UW) !== 0);
  }
  if (access === Access.Exec) return (perm & Perm.PX) !== 0 && !(r.wxn && (perm & Perm.PW) !== 0);
  if (mode === Mode.Supervisor && r.pan && (perm & (r.epan ? Perm.UR | Perm.UX : Perm.UR)) !== 0)
    return false;
  return (perm & (access === Access.Write ? Perm.PW : Perm.PR)) !== 0;
}

/** The whole table for the current registers: 64 rights × 3 modes × 3 accesses. */
export function computeArmPermTable(
  r: ArmRightsRegs,
  out: Uint8Array = new Uint8Array(PERM_TABLE_SIZE),
): Uint8Array {
  for (let perm = 0; perm < 64; perm++)
    for (let mode = 0; mode < 3; mode++)
      for (let access = 0; access < 3; access++)
        out[perm * 9 + mode * 3 + access] = armAllowed(perm, mode, access, r) ? 1 : 0;
  return out;
}
