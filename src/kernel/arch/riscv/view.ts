/**
 * The RISC-V words of the kernel's read-outs (core/archView.ts ArchView):
 * PTE bits as the privileged spec names them (V R W X U G A D, RSW),
 * the fault as scause and stval, sstatus.SUM and MXR as the controls of a
 * kernel access. RISC-V Linux has no arch_report_meminfo.
 */
import type { RiscvCpu } from "../../../hw/arch/riscv/Cpu.ts";
import { describeScause } from "../../../hw/arch/riscv/fault.ts";
import { Pte, pteFlagNames } from "../../../hw/arch/riscv/format.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";
import type { ArchView, EntryBit } from "../../core/archView.ts";

/** the extensions vmlab's kernel runs with: none (Svade: A and D are software's) */
const EXTENSIONS = { svadu: false, svnapot: false, svpbmt: false };

export const RISCV_VIEW: ArchView = {
  userMode: "U-mode",
  kernelMode: "S-mode",
  accessState(cpu: Mmu): string {
    const c = cpu as RiscvCpu;
    return `sstatus.SUM=${c.sum ? 1 : 0} sstatus.MXR=${c.mxr ? 1 : 0}`;
  },
  rootRegister: "satp",
  counterNames: {
    pageFaults: "page faults",
    addressFaults: "invalid addresses",
    pageInvalidations: "SFENCE.VMA by address",
  },
  badAddress:
    "bits 63 down to the mode's top bit are not all equal: a page fault with stval = the address, no walk; the kernel sends SIGSEGV (SEGV_MAPERR)",
  swapLayout:
    "type in bits 7-11, offset in bits 12-63 (V, R/W/X and _PAGE_PROT_NONE (G) clear; bit 6 the exclusive marker)",

  entryFlags: (hi: number, lo: number, level: number) => pteFlagNames(hi, lo, level, EXTENSIONS),

  entryBits(_hi: number, lo: number, _level: number): EntryBit[] {
    const b = (bit: number, name: string, yes: string, no = "-"): EntryBit => ({
      name,
      value: lo & bit ? yes : no,
    });
    return [
      b(Pte.V, "V", "valid"),
      b(Pte.R, "R", "readable"),
      b(Pte.W, "W", "writable"),
      b(Pte.X, "X", "executable"),
      b(Pte.U, "U", "U-mode page (S-mode only with SUM, never executed)", "S-mode page"),
      b(Pte.G, "G", "global (kept by SFENCE.VMA with an ASID)"),
      { ...b(Pte.A, "A", "A"), status: true },
      { ...b(Pte.D, "D", "D"), status: true },
      { name: "RSW", value: lo & (1 << 8) ? "_PAGE_SPECIAL" : String((lo & Pte.RSW_MASK) >>> Pte.RSW_SHIFT) },
    ];
  },

  faultText(cause: number): string {
    return describeScause(cause);
  },

  /** One PGD per mm: no pair to check. */
  pgdPairProblems(_phys: PhysMem, _pgdPfn: number, _kernelPgdPfn: number): string[] {
    return [];
  },

  reportMeminfo(_nrFrames: number): Record<string, number> {
    return {};
  },
};
