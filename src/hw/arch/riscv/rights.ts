/**
 * The RISC-V permission table: what an access may do to a translation of
 * given canonical rights (Perm), by mode and kind of access, under
 * sstatus.SUM and sstatus.MXR. Spec: Privileged Architecture,
 * "Supervisor Status Register (sstatus)": "Memory Privilege in sstatus
 * Register" (SUM, MXR), and the Sv39 "Addressing and Memory Protection"
 * section (the U bit); step 5 of "Virtual Address Translation Process".
 *
 * The PTE's own rules (R/W/X, U; S-mode never executes a U page) are in the
 * canonical rights (format.ts riscvRights). The registers add:
 *
 * - U-mode may access only U pages.
 * - SUM = 0: an S-mode load or store of a U page is a page fault; SUM = 1
 *   permits loads and stores (never fetches).
 * - MXR = 1: loads from pages marked executable succeed too (in both modes).
 *
 * Modes: Mode.User is U-mode; Mode.Supervisor an S-mode access;
 * Mode.ImplicitSupervisor an S-mode access that SUM does not gate (vmlab's
 * implicit kernel accesses; RISC-V itself has none through the MMU).
 */
import { Access, Mode } from "../../access.ts";
import { PERM_TABLE_SIZE, Perm } from "../../mmu/PagingFormat.ts";

/** The register inputs of the rules. */
export interface RiscvRightsRegs {
  /** sstatus.SUM: permit Supervisor User Memory access */
  sum: boolean;
  /** sstatus.MXR: Make eXecutable Readable */
  mxr: boolean;
}

/** Is the access allowed by canonical rights under these registers? */
export function riscvAllowed(perm: number, mode: Mode, access: Access, r: RiscvRightsRegs): boolean {
  const userPage = (perm & Perm.USER) !== 0;
  if (mode === Mode.User) {
    if (access === Access.Read) return (perm & Perm.UR) !== 0 || (r.mxr && (perm & Perm.UX) !== 0);
    if (access === Access.Write) return (perm & Perm.UW) !== 0;
    return (perm & Perm.UX) !== 0;
  }
  if (userPage) {
    if (access === Access.Exec) return false;
    if (mode === Mode.Supervisor && !r.sum) return false;
    if (access === Access.Read) return (perm & Perm.PR) !== 0 || (r.mxr && (perm & Perm.UX) !== 0);
    return (perm & Perm.PW) !== 0;
  }
  if (access === Access.Read) return (perm & Perm.PR) !== 0 || (r.mxr && (perm & Perm.PX) !== 0);
  if (access === Access.Write) return (perm & Perm.PW) !== 0;
  return (perm & Perm.PX) !== 0;
}

/** The whole table for the current registers: 64 rights × 3 modes × 3 accesses. */
export function computeRiscvPermTable(
  r: RiscvRightsRegs,
  out: Uint8Array = new Uint8Array(PERM_TABLE_SIZE),
): Uint8Array {
  for (let perm = 0; perm < 64; perm++)
    for (let mode = 0; mode < 3; mode++)
      for (let access = 0; access < 3; access++)
        out[perm * 9 + mode * 3 + access] = riscvAllowed(perm, mode, access, r) ? 1 : 0;
  return out;
}
