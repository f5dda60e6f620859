/**
 * Page-fault error code (Intel SDM Vol. 3A §4.7, Figure 4-12) and the
 * outcome codes of a translation. Linux: arch/x86/include/asm/trap_pf.h
 * (X86_PF_PROT, X86_PF_WRITE, X86_PF_USER, X86_PF_RSVD, X86_PF_INSTR, X86_PF_PK).
 */
export const enum PfErr {
  /** bit 0: 0 = no translation (a P flag was 0); 1 = protection violation or reserved bit */
  P = 1 << 0,
  /** bit 1: the access was a write */
  WR = 1 << 1,
  /** bit 2: the access was a user-mode access (CPL = 3) */
  US = 1 << 2,
  /** bit 3: a reserved bit was set in some paging-structure entry */
  RSVD = 1 << 3,
  /** bit 4: instruction fetch, reported only when CR4.SMEP = 1 or EFER.NXE = 1 */
  ID = 1 << 4,
  /** bit 5: protection-key violation */
  PK = 1 << 5,
}

/** What `translate` returns: 0 for a translation, else the exception vector. */
export const enum Outcome {
  OK = 0,
  /** #GP(0): a non-canonical linear address (SDM §3.3.7.1) */
  GP = 13,
  /** #PF: error code and CR2 are in the MMU's fault record */
  PF = 14,
}

/** `#PF: error_code(0x0007) - permissions violation`-style decoding, as Linux's show_fault_oops. */
export function describeErrorCode(code: number): string {
  if (code & PfErr.RSVD) return "reserved bit violation";
  if (code & PfErr.PK) return "protection keys violation";
  if (code & PfErr.P) return "permissions violation";
  return "not-present page";
}

/** Error-code bits by name, e.g. `P|WR|US`. */
export function errorCodeNames(code: number): string {
  const names: string[] = [];
  if (code & PfErr.P) names.push("P");
  if (code & PfErr.WR) names.push("WR");
  if (code & PfErr.US) names.push("US");
  if (code & PfErr.RSVD) names.push("RSVD");
  if (code & PfErr.ID) names.push("ID");
  if (code & PfErr.PK) names.push("PK");
  return names.length ? names.join("|") : "0";
}

/** A #PF as `--trace` words it: the error code, its bits decoded, and CR2 (`cr2`: as the caller prints addresses). */
export function pfTraceText(errorCode: number, cr2: string): string {
  return `#PF error_code 0x${errorCode.toString(16)} (${errorCodeNames(errorCode)}: ${describeErrorCode(errorCode)}) CR2 ${cr2}`;
}
