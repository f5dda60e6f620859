import { Access } from "../../../hw/access.ts";
import type { Arm64Cpu } from "../../../hw/arch/arm64/Cpu.ts";
/**
 * The arm64 words of the kernel's read-outs (core/archView.ts ArchView):
 * descriptor fields as the Arm ARM names them, the abort as ESR_EL1
 * (arch/arm64/mm/fault.c mem_abort_decode's words), and
 * arch_report_meminfo (arm64 has none of its own).
 */
import { describeEsr } from "../../../hw/arch/arm64/fault.ts";
import { Desc, DescHi, descFlagNames } from "../../../hw/arch/arm64/format.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";
import type { ArchView, EntryBit } from "../../core/archView.ts";

/** crash's arm64_translate_pte flag names, in its order (crash-utility arm64.c); PROT_NONE is PTE_PRESENT_INVALID. */
function crashPteFlags(hi: number, lo: number): string {
  if (hi === 0 && lo === 0) return "(no mapping)";
  const f: string[] = [];
  if (lo & 1) f.push("VALID");
  if (!(lo & 1) && lo & 0x800) f.push("PROT_NONE");
  if (lo & 0x40) f.push("USER");
  if (lo & 0x80) f.push("RDONLY");
  if ((lo & 0x300) === 0x300) f.push("SHARED");
  if (lo & 0x400) f.push("AF");
  if (lo & 0x800) f.push("NG");
  if (hi & (1 << 21)) f.push("PXN");
  if (hi & (1 << 22)) f.push("UXN");
  if (hi & (1 << 23)) f.push("DIRTY");
  if (hi & (1 << 24)) f.push("SPECIAL");
  return `(${f.join("|")})`;
}

export const ARM64_VIEW: ArchView = {
  crash: {
    pteFlags: crashPteFlags,
    layout: "arm64",
    vaddrPrlen: 16,
    uvaddrPrlen: 10,
    structPageSize: 64,
    // NODES_SHIFT 10 (MAXSMP) above the zone: ZONES_PGSHIFT 52
    zonesPgshift: 52n,
  },
  userMode: "EL0",
  kernelMode: "EL1",
  accessState(cpu: Mmu): string {
    const c = cpu as Arm64Cpu;
    return `PSTATE.PAN=${c.pan ? 1 : 0} SCTLR_EL1.EPAN=${c.epan ? 1 : 0} SCTLR_EL1.WXN=${c.wxn ? 1 : 0}`;
  },
  rootRegister: "TTBR0_EL1",
  kernelRootRegister: "TTBR1_EL1",
  counterNames: {
    pageFaults: "aborts",
    addressFaults: "outside both ranges",
    pageInvalidations: "TLBI by VA",
  },
  asidRegister: "TTBR1_EL1.ASID",
  /**
   * AArch64.VAIsOutOfRange (Arm ARM D8.2, "VA size"): VA[55] picks TTBR0_EL1 or TTBR1_EL1, whose
   * TxSZ leaves 64 - TxSZ bits; VA[55:64-TxSZ] (and VA[63:56] unless TBIx ignores them) must
   * equal VA[55]. Else no walk: a Translation fault at level 0, FAR_EL1 the address. Linux:
   * do_translation_fault, not is_ttbr0_addr, do_bad_area.
   */
  badAddressWords(cpu: Mmu, va: bigint, kernel: boolean, access: Access): string {
    const c = cpu as Arm64Cpu;
    const r = Number((va >> 55n) & 1n) as 0 | 1;
    const bits = c.vaSize(r);
    const tbi = r === 0 ? c.tcr.tbi0 : c.tcr.tbi1;
    const topBit = tbi && access !== Access.Exec ? 55 : 63;
    const field = (va >> BigInt(bits)) & ((1n << BigInt(topBit + 1 - bits)) - 1n);
    const exec = access === Access.Exec;
    const ec = exec ? (kernel ? 0x21 : 0x20) : kernel ? 0x25 : 0x24;
    const esr = (ec * 2 ** 26 + 2 ** 25 + (access === Access.Write ? 0x40 : 0) + 0x04).toString(16);
    const tag = exec
      ? " (an instruction fetch: this CPU applies no TBI to it)"
      : `, TBI${r}=${tbi ? 1 : 0}${tbi ? ": VA[63:56], the tag, takes no part" : ""}`;
    return (
      `VA[55]=${r} selects TTBR${r}_EL1, whose range TCR_EL1.T${r}SZ=${64 - bits} makes ${bits} bits: VA[${topBit}:${bits}] must be all ${r ? "ones" : "zeros"}${tag}; they are 0x${field.toString(16)}: out of range, no walk (AArch64.VAIsOutOfRange): ` +
      `a Translation fault at level 0, ESR_EL1 0x${esr} (EC = 0x${ec.toString(16)}: ${exec ? "IABT" : "DABT"} (${kernel ? "current" : "lower"} EL), ${exec ? "IFSC" : "DFSC"} = 0x04), FAR_EL1 = the address` +
      (kernel
        ? ""
        : "; do_translation_fault: not a user address (is_ttbr0_addr is false): do_bad_area: SIGSEGV (SEGV_MAPERR)")
    );
  },
  badAddress:
    "the address is in neither TTBR0's nor TTBR1's range: a level 0 translation fault; the kernel sends SIGSEGV (SEGV_MAPERR)",
  swapLayout: "type in bits 6-10, offset in bits 12-61 (VALID and PTE_PRESENT_INVALID clear)",

  entryFlags: descFlagNames,

  entryBits(hi: number, lo: number, _level: number): EntryBit[] {
    const ap2 = (lo & Desc.AP2) !== 0;
    const dbm = (hi & DescHi.DBM) !== 0;
    return [
      { name: "valid", value: lo & Desc.VALID ? "valid" : "-" },
      { name: "AP[2]", value: ap2 ? (dbm ? "read-only (writable-clean with DBM)" : "read-only") : "RW" },
      { name: "AP[1]", value: lo & Desc.AP1 ? "EL0 access" : "EL1 only" },
      { name: "UXN", value: hi & DescHi.UXN ? "no EL0 execute" : "EL0 executable" },
      { name: "PXN", value: hi & DescHi.PXN ? "no EL1 execute" : "EL1 executable" },
      { name: "nG", value: lo & Desc.NG ? "nG (tagged with the ASID)" : "global" },
      { name: "AF", value: lo & Desc.AF ? "AF" : "-", status: true },
      { name: "DBM", value: dbm ? "DBM" : "-" },
      { name: "AttrIndx", value: String((lo & Desc.ATTR_INDX_MASK) >>> Desc.ATTR_INDX_SHIFT) },
    ];
  },

  faultText(errorCode: number): string {
    return `ESR_EL1 0x${(errorCode >>> 0).toString(16).padStart(8, "0")} (${describeEsr(errorCode)})`;
  },

  /** One PGD per mm: no pair to check. */
  pgdPairProblems(_phys: PhysMem, _pgdPfn: number, _kernelPgdPfn: number): string[] {
    return [];
  },

  /** arm64 has no arch_report_meminfo. */
  reportMeminfo(_nrFrames: number): Record<string, number> {
    return {};
  },
};
