/**
 * ESR_ELx, the Exception Syndrome Register, as Linux v6.12 decodes it
 * (arch/arm64/include/asm/esr.h; esr_class_str in arch/arm64/kernel/traps.c).
 *
 *   63   56 55          32 31   26 25 24                              0
 *  +-------+--------------+-------+--+---------------------------------+
 *  | RES0  |     ISS2     |  EC   |IL|               ISS               |
 *  +-------+--------------+-------+--+---------------------------------+
 *
 * ISS of a data or instruction abort:
 *
 *   24  23 22 21 20  16 15 14 13 12 11 10  9  8  7  6  5        0
 *  +---+-----+---+------+--+--+--+-----+---+--+--+-----+--+--------+
 *  |ISV| SAS |SSE| SRT  |SF|AR|  | SET |FnV|EA|CM|S1PTW|WnR| DFSC |
 *  +---+-----+---+------+--+--+--+-----+---+--+--+-----+--+--------+
 *
 * Everything Linux's fault path reads (EC, IL, ISS) is in the low 32 bits,
 * so an ESR here is that unsigned 32-bit number; ISS2 (bits 55:32, only
 * printed) is passed beside it where needed.
 */

/** Exception classes (ESR_ELx_EC_*), the ones a memory abort raises and their neighbours. */
export const enum Ec {
  UNKNOWN = 0x00,
  SVC64 = 0x15,
  SYS64 = 0x18,
  IABT_LOW = 0x20,
  IABT_CUR = 0x21,
  PC_ALIGN = 0x22,
  DABT_LOW = 0x24,
  DABT_CUR = 0x25,
  SP_ALIGN = 0x26,
  SERROR = 0x2f,
  BRK64 = 0x3c,
}

/** ESR fields (masks and shifts), Linux's ESR_ELx_* names. */
export const enum Esr {
  EC_SHIFT = 26,
  /** ESR_ELx_IL: a 32-bit instruction */
  IL = 1 << 25,
  ISS_MASK = 0x1ffffff,
  /** ISV: the syndrome (SAS, SSE, SRT, SF, AR) is valid */
  ISV = 1 << 24,
  SAS_SHIFT = 22,
  SAS = 3 << 22,
  SSE_SHIFT = 21,
  SSE = 1 << 21,
  SRT_SHIFT = 16,
  SRT_MASK = 0x1f << 16,
  SF_SHIFT = 15,
  SF = 1 << 15,
  AR_SHIFT = 14,
  AR = 1 << 14,
  SET_SHIFT = 11,
  SET_MASK = 3 << 11,
  FNV_SHIFT = 10,
  /** FnV: FAR is not valid */
  FNV = 1 << 10,
  EA_SHIFT = 9,
  /** EA: external abort type */
  EA = 1 << 9,
  CM_SHIFT = 8,
  /** CM: a cache maintenance instruction */
  CM = 1 << 8,
  S1PTW_SHIFT = 7,
  /** S1PTW: the fault was on a stage-2 translation of a stage-1 table walk */
  S1PTW = 1 << 7,
  WNR_SHIFT = 6,
  /** WnR: write, not read */
  WNR = 1 << 6,
  /** ESR_ELx_FSC: the fault status code */
  FSC = 0x3f,
  /** ESR_ELx_FSC_TYPE and ESR_ELx_FSC_LEVEL */
  FSC_TYPE = 0x3c,
  FSC_LEVEL = 0x03,
}

/** Fault status codes (ESR_ELx_FSC_*). Level n of a kind is the base + n. */
export const enum Fsc {
  ADDRSZ = 0x00,
  FAULT = 0x04,
  ACCESS = 0x08,
  PERM = 0x0c,
  EXTABT = 0x10,
  MTE = 0x11,
  /** ESR_ELx_FSC_SEA_TTW(n) = 0x14 + n */
  SEA_TTW = 0x14,
  SECC = 0x18,
  SECC_TTW = 0x1c,
  ALIGN = 0x21,
  /** ESR_ELx_FSC_FAULT_nL: the level -1 translation fault (LPA2) */
  FAULT_NL = 0x2c,
}

/** ISS2 fields of a data abort (bits counted from bit 32 of ESR). */
export const enum Iss2 {
  TND_SHIFT = 10,
  TAGACCESS_SHIFT = 9,
  GCS_SHIFT = 8,
  OVERLAY_SHIFT = 6,
  DIRTYBIT_SHIFT = 5,
  XS_MASK = 0x1f,
}

/** ESR_ELx_EC */
export function esrEc(esr: number): number {
  return (esr >>> Esr.EC_SHIFT) & 0x3f;
}

/** ESR_ELx_ISS */
export function esrIss(esr: number): number {
  return (esr & Esr.ISS_MASK) >>> 0;
}

/** esr & ESR_ELx_FSC */
export function esrFsc(esr: number): number {
  return esr & Esr.FSC;
}

/** ESR_ELx_FSC_FAULT_L(n), n = -1..3 */
export function fscFault(level: number): number {
  return level < 0 ? Fsc.FAULT_NL + level : Fsc.FAULT + level;
}

/** esr_fsc_is_translation_fault: levels 0..3 and -1 */
export function esrFscIsTranslationFault(esr: number): boolean {
  const fsc = esr & Esr.FSC;
  return (fsc >= Fsc.FAULT && fsc <= Fsc.FAULT + 3) || fsc === Fsc.FAULT_NL - 1;
}

/** esr_fsc_is_permission_fault: levels 0..3 */
export function esrFscIsPermissionFault(esr: number): boolean {
  const fsc = esr & Esr.FSC;
  return fsc >= Fsc.PERM && fsc <= Fsc.PERM + 3;
}

/** esr_fsc_is_access_flag_fault: levels 0..3 */
export function esrFscIsAccessFlagFault(esr: number): boolean {
  const fsc = esr & Esr.FSC;
  return fsc >= Fsc.ACCESS && fsc <= Fsc.ACCESS + 3;
}

/** esr_is_data_abort: EC is DABT_LOW or DABT_CUR */
export function esrIsDataAbort(esr: number): boolean {
  const ec = esrEc(esr);
  return ec === Ec.DABT_LOW || ec === Ec.DABT_CUR;
}

/** is_el1_instruction_abort (fault.c) */
export function isEl1InstructionAbort(esr: number): boolean {
  return esrEc(esr) === Ec.IABT_CUR;
}

/** is_el1_data_abort (fault.c) */
export function isEl1DataAbort(esr: number): boolean {
  return esrEc(esr) === Ec.DABT_CUR;
}

/** is_el0_instruction_abort (fault.c) */
export function isEl0InstructionAbort(esr: number): boolean {
  return esrEc(esr) === Ec.IABT_LOW;
}

/** is_write_abort (fault.c): WnR, and not a cache maintenance operation */
export function isWriteAbort(esr: number): boolean {
  return (esr & Esr.WNR) !== 0 && (esr & Esr.CM) === 0;
}

/**
 * The ESR of a data or instruction abort as the hardware reports it:
 * EC (from EL0: *_LOW, from EL1: *_CUR), IL = 1 (AArch64 instructions are
 * 32-bit), and the ISS bits given.
 */
export function abortEsr(
  kind: "data" | "instruction",
  fromEl: 0 | 1,
  fsc: number,
  iss: { wnr?: boolean; cm?: boolean; s1ptw?: boolean; ea?: boolean; fnv?: boolean } = {},
): number {
  const ec =
    kind === "data" ? (fromEl === 0 ? Ec.DABT_LOW : Ec.DABT_CUR) : fromEl === 0 ? Ec.IABT_LOW : Ec.IABT_CUR;
  let v = (ec << Esr.EC_SHIFT) | Esr.IL | (fsc & Esr.FSC);
  if (iss.wnr) v |= Esr.WNR;
  if (iss.cm) v |= Esr.CM;
  if (iss.s1ptw) v |= Esr.S1PTW;
  if (iss.ea) v |= Esr.EA;
  if (iss.fnv) v |= Esr.FNV;
  return v >>> 0;
}

/** esr_class_str[] (arch/arm64/kernel/traps.c): every EC has a name, "UNRECOGNIZED EC" by default. */
export const ESR_CLASS_STR: readonly string[] = (() => {
  const t: string[] = new Array(0x40).fill("UNRECOGNIZED EC");
  const named: [number, string][] = [
    [0x00, "Unknown/Uncategorized"],
    [0x01, "WFI/WFE"],
    [0x03, "CP15 MCR/MRC"],
    [0x04, "CP15 MCRR/MRRC"],
    [0x05, "CP14 MCR/MRC"],
    [0x06, "CP14 LDC/STC"],
    [0x07, "ASIMD"],
    [0x08, "CP10 MRC/VMRS"],
    [0x09, "PAC"],
    [0x0c, "CP14 MCRR/MRRC"],
    [0x0d, "BTI"],
    [0x0e, "PSTATE.IL"],
    [0x11, "SVC (AArch32)"],
    [0x12, "HVC (AArch32)"],
    [0x13, "SMC (AArch32)"],
    [0x15, "SVC (AArch64)"],
    [0x16, "HVC (AArch64)"],
    [0x17, "SMC (AArch64)"],
    [0x18, "MSR/MRS (AArch64)"],
    [0x19, "SVE"],
    [0x1a, "ERET/ERETAA/ERETAB"],
    [0x1c, "FPAC"],
    [0x1d, "SME"],
    [0x1f, "EL3 IMP DEF"],
    [0x20, "IABT (lower EL)"],
    [0x21, "IABT (current EL)"],
    [0x22, "PC Alignment"],
    [0x24, "DABT (lower EL)"],
    [0x25, "DABT (current EL)"],
    [0x26, "SP Alignment"],
    [0x27, "MOPS"],
    [0x28, "FP (AArch32)"],
    [0x2c, "FP (AArch64)"],
    [0x2f, "SError"],
    [0x30, "Breakpoint (lower EL)"],
    [0x31, "Breakpoint (current EL)"],
    [0x32, "Software Step (lower EL)"],
    [0x33, "Software Step (current EL)"],
    [0x34, "Watchpoint (lower EL)"],
    [0x35, "Watchpoint (current EL)"],
    [0x38, "BKPT (AArch32)"],
    [0x3a, "Vector catch (AArch32)"],
    [0x3c, "BRK (AArch64)"],
  ];
  for (const [ec, name] of named) t[ec] = name;
  return t;
})();

/** esr_get_class_string */
export function esrClassString(esr: number): string {
  return ESR_CLASS_STR[esrEc(esr)];
}
