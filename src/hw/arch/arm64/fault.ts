/**
 * ARM64 aborts as values: ESR_EL1 for a data or instruction abort taken to
 * EL1 (Arm ARM D17.2.37 "ESR_EL1, Exception Syndrome Register (EL1)", ISS
 * encodings "for an exception from a Data Abort" and "from an Instruction
 * Abort"; Linux arch/arm64/include/asm/esr.h).
 *
 *   31:26 EC | 25 IL | 24:0 ISS   (data abort ISS: 6 WnR, 5:0 DFSC; instruction abort: 5:0 IFSC)
 *
 * EC 0x24 / 0x25: data abort from a lower EL (EL0) / the same EL (EL1);
 * 0x20 / 0x21: instruction abort from EL0 / EL1. IL is 1 (32-bit
 * instruction). The fault status code is the fault's kind and level:
 * 0b0000LL address size, 0b0001LL translation, 0b0010LL access flag,
 * 0b0011LL permission. Other ISS bits (ISV, FnV, EA, CM, S1PTW) are 0.
 */
import { Access } from "../../access.ts";
import { HwFaultKind } from "../../mmu/PagingFormat.ts";

/** Exception classes of aborts; `translate` returns one of them (0: no fault). */
export const enum Ec {
  OK = 0,
  IABT_LOW = 0x20,
  IABT_CUR = 0x21,
  DABT_LOW = 0x24,
  DABT_CUR = 0x25,
}

export const enum Esr {
  EC_SHIFT = 26,
  IL = 1 << 25,
  /** data aborts: write, not read */
  WNR = 1 << 6,
  FSC_MASK = 0x3f,
}

/** Fault status code kinds (bits 5:2); bits 1:0 are the level. */
export const enum Fsc {
  ADDRESS_SIZE = 0x00,
  TRANSLATION = 0x04,
  ACCESS_FLAG = 0x08,
  PERMISSION = 0x0c,
}

/** The fault status code of a generic fault kind at Arm level `armLevel` (0..3). */
export function fscOf(kind: number, armLevel: number): number {
  const base =
    kind === HwFaultKind.Permission
      ? Fsc.PERMISSION
      : kind === HwFaultKind.AccessFlag
        ? Fsc.ACCESS_FLAG
        : kind === HwFaultKind.AddressSize
          ? Fsc.ADDRESS_SIZE
          : Fsc.TRANSLATION;
  return base | (armLevel & 3);
}

/** The exception class of an abort by an access made at EL `el`. */
export function ecOf(access: Access, el: number): Ec {
  if (access === Access.Exec) return el === 0 ? Ec.IABT_LOW : Ec.IABT_CUR;
  return el === 0 ? Ec.DABT_LOW : Ec.DABT_CUR;
}

/** The whole ESR_EL1 of an abort (a non-negative number below 2^32). */
export function esrOf(kind: number, armLevel: number, access: Access, el: number): number {
  const ec = ecOf(access, el);
  const wnr = access === Access.Write ? Esr.WNR : 0;
  return ec * 2 ** Esr.EC_SHIFT + Esr.IL + wnr + fscOf(kind, armLevel);
}

/** The `vmlab walk` name of a fault status code's kind. */
export function fscName(fsc: number): "translation" | "access-flag" | "permission" | "address-size" {
  switch (fsc & 0x3c) {
    case Fsc.PERMISSION:
      return "permission";
    case Fsc.ACCESS_FLAG:
      return "access-flag";
    case Fsc.ADDRESS_SIZE:
      return "address-size";
    default:
      return "translation";
  }
}

/** ESR_EL1 in words, as Linux's "Mem abort info" prints it. */
export function describeEsr(esr: number): string {
  const ec = Math.floor(esr / 2 ** Esr.EC_SHIFT) & 0x3f;
  const fsc = esr & Esr.FSC_MASK;
  const what =
    ec === Ec.DABT_LOW
      ? "DABT (lower EL)"
      : ec === Ec.DABT_CUR
        ? "DABT (current EL)"
        : ec === Ec.IABT_LOW
          ? "IABT (lower EL)"
          : ec === Ec.IABT_CUR
            ? "IABT (current EL)"
            : `EC 0x${ec.toString(16)}`;
  const data = ec === Ec.DABT_LOW || ec === Ec.DABT_CUR;
  const wnr = data ? ((esr & Esr.WNR) !== 0 ? ", WnR = 1 (write)" : ", WnR = 0 (read)") : "";
  return `EC = 0x${ec.toString(16)}: ${what}, IL = ${(esr & Esr.IL) !== 0 ? 1 : 0}${wnr}, ${data ? "DFSC" : "IFSC"} = 0x${fsc.toString(16).padStart(2, "0")}: ${fscName(fsc)} fault, level ${fsc & 3}`;
}
