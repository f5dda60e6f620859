/**
 * The RISC-V words of the kernel's read-outs (core/archView.ts ArchView):
 * PTE bits as the privileged spec names them (V R W X U G A D, RSW),
 * the fault as scause and stval, sstatus.SUM and MXR as the controls of a
 * kernel access. RISC-V Linux has no arch_report_meminfo.
 */
import { Access } from "../../../hw/access.ts";
import type { RiscvCpu } from "../../../hw/arch/riscv/Cpu.ts";
import { describeScause } from "../../../hw/arch/riscv/fault.ts";
import { Pte, pteFlagNames } from "../../../hw/arch/riscv/format.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";
import type { ArchView, CrashVtopStyle, EntryBit } from "../../core/archView.ts";
import { KERNEL_PHYS_START } from "./init.ts";
import { KERNEL_LINK_ADDR, type RiscvLayoutConsts } from "./layout.ts";

/** the extensions vmlab's kernel runs with: Svade (A and D are software's), no Svpbmt */
// Svnapot named as valid: the kernel writes N only on a machine that has it (svnapot=on, HugeTLB 64K)
const EXTENSIONS = { svadu: false, svnapot: true, svpbmt: false };

/** riscv64_translate_pte's flag names, in its order (crash-utility riscv64.c CHECK_PAGE_FLAG; _PAGE_SOFT is bit 8). */
function crashPteFlags(hi: number, lo: number): string {
  if (hi === 0 && lo === 0) return "(no mapping)";
  const names = ["PRESENT", "READ", "WRITE", "EXEC", "USER", "GLOBAL", "ACCESSED", "DIRTY", "SOFT"];
  return `(${names.filter((_, bit) => lo & (1 << bit)).join("|")})`;
}

const MASK64 = (1n << 64n) - 1n;

/**
 * crash's vtop on RISC-V (riscv64.c; view/crashRiscv64.ts): UVADDR_PRLEN 16;
 * struct page 64 bytes in the vmemmap, RAM from physical 0 (phys_ram_base
 * 0: vmemmap = VMEMMAP_START); defconfig without NUMA, three zones:
 * ZONES_PGSHIFT 62. kvtop walks riscv64_IS_VMALLOC_ADDR's ranges (vmalloc,
 * vmemmap, modules, ends included) and takes VTOP (riscv64_VTOP) of the
 * rest, walking anyway when verbose.
 */
export function riscvCrashStyle(c: RiscvLayoutConsts): CrashVtopStyle {
  const isVmalloc = (va: bigint) =>
    (va >= c.vmallocStart && va <= c.vmallocEnd) ||
    (va >= c.vmemmapStart && va <= c.vmemmapEnd) ||
    (va >= c.modulesVaddr && va <= c.modulesEnd);
  return {
    pteFlags: crashPteFlags,
    layout: "riscv64",
    vaddrPrlen: 16,
    uvaddrPrlen: 16,
    structPageSize: 64,
    zonesPgshift: 62n,
    kvtopDirect: (va) =>
      isVmalloc(va)
        ? null
        : va >= KERNEL_LINK_ADDR
          ? va - KERNEL_LINK_ADDR + BigInt(KERNEL_PHYS_START)
          : (va - c.pageOffset) & MASK64,
    isKvaddr: (va) => isVmalloc(va) || va >= c.pageOffset,
  };
}

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
  /**
   * RISC-V privileged spec 4.4.1 (Sv39; 4.5.1 Sv48, 4.6.1 Sv57): a load, store or fetch address
   * "must have bits 63-39 all equal to bit 38, or else a page-fault exception will occur": no
   * walk, scause the access's page fault, stval the address.
   */
  badAddressWords(cpu: Mmu, _va: bigint, kernel: boolean, access: Access): string {
    const bits = 12 + 9 * cpu.format.levels;
    const cause = access === Access.Exec ? 12 : access === Access.Write ? 15 : 13;
    return (
      `Sv${bits}: bits 63:${bits} of the address must all equal bit ${bits - 1}, and do not: no walk, ${describeScause(cause)}, stval = the address` +
      (kernel ? "" : "; do_page_fault finds no VMA: SIGSEGV (SEGV_MAPERR)")
    );
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

/** RV32's words (riscv-sv32): 4 MiB megapages (10 VPN bits a level), a 32-bit swap entry, no invalid address. */
export const RISCV32_VIEW: ArchView = {
  ...RISCV_VIEW,
  badAddress:
    "an RV32 hart forms 32-bit addresses only, all of them valid (Sv32 has nothing to sign-extend): no such fault",
  swapLayout:
    "type in bits 7-11, offset in bits 12-31 (V, R/W/X and _PAGE_PROT_NONE (G) clear; bit 6 the exclusive marker)",
  entryFlags: (hi: number, lo: number, level: number) => pteFlagNames(hi, lo, level, EXTENSIONS, 10),
};
