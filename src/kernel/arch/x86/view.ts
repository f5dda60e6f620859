import type { Cpu } from "../../../hw/arch/x86_64/Cpu.ts";
/**
 * The x86-64 words of the kernel's read-outs (core/archView.ts ArchView):
 * entry flags as Linux's page-table dumps name them
 * (arch/x86/mm/dump_pagetables.c), the #PF error code as
 * arch/x86/mm/fault.c prints it, the PTI pair's invariants
 * (arch/x86/mm/pti.c), and arch_report_meminfo's DirectMap lines
 * (arch/x86/mm/pat/set_memory.c).
 */
import { errorCodeNames } from "../../../hw/arch/x86_64/fault.ts";
import { decodeEntry, flagNames } from "../../../hw/arch/x86_64/pte.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";
import type { ArchView, EntryBit } from "../../core/archView.ts";

/** The first PGD entry of the kernel half (entries 256..511: the upper half of the address space). */
const KERNEL_PGD_BOUNDARY = 256;
const PTRS_PER_PGD = 512;
/** NX, bit 63 */
const NX = 1n << 63n;
/** P and U/S */
const PRESENT_USER = 5n;

/** crash's x86_64_translate_pte flag names, in its order (crash-utility x86_64.c). */
function crashPteFlags(hi: number, lo: number): string {
  if (hi === 0 && lo === 0) return "(no mapping)";
  const f: string[] = [];
  const present = (lo & 1) !== 0;
  if (present) f.push("PRESENT");
  if (lo & 2) f.push("RW");
  if (lo & 4) f.push("USER");
  if (lo & 8) f.push("PWT");
  if (lo & 0x10) f.push("PCD");
  if (lo & 0x20) f.push("ACCESSED");
  if (lo & 0x40) f.push("DIRTY");
  if (lo & 0x80 && present) f.push("PSE");
  if (lo & 0x100 && !present) f.push("PROTNONE"); // _PAGE_PROTNONE is _PAGE_GLOBAL's bit
  if (lo & 0x100) f.push("GLOBAL");
  if (hi & 0x80000000) f.push("NX");
  return `(${f.join("|")})`;
}

export const X86_VIEW: ArchView = {
  crash: {
    pteFlags: crashPteFlags,
    layout: "x86_64",
    vaddrPrlen: 16,
    uvaddrPrlen: 10,
    structPageSize: 64,
    // NODES_SHIFT 10 (MAXSMP) above the zone: ZONES_PGSHIFT 52
    zonesPgshift: 52n,
  },
  userMode: "user mode (CPL 3)",
  kernelMode: "kernel mode (CPL 0)",
  accessState(cpu: Mmu): string {
    const c = cpu as Cpu;
    const b = (x: boolean) => (x ? 1 : 0);
    return `CR4.SMAP=${b(c.cr4Smap)} RFLAGS.AC=${b(c.rflagsAc)} CR4.SMEP=${b(c.cr4Smep)} CR0.WP=${b(c.cr0Wp)} EFER.NXE=${b(c.eferNxe)}`;
  },
  rootRegister: "CR3",
  counterNames: { pageFaults: "#PF", addressFaults: "#GP", pageInvalidations: "INVLPG" },
  badAddress: "the address is not canonical: #GP, not #PF; the kernel sends SIGSEGV (SI_KERNEL)",
  swapLayout: "stored inverted in bits 9-58",

  entryFlags: flagNames,

  entryBits(hi: number, lo: number, level: number): EntryBit[] {
    const d = decodeEntry(hi, lo, level);
    return [
      { name: "present", value: d.present ? "P" : "-" },
      { name: "write", value: d.writable ? "RW" : "read-only" },
      { name: "U/S", value: d.user ? "user" : "supervisor" },
      { name: "execute", value: d.xd ? "XD (no execute)" : "executable" },
      { name: "global", value: d.global ? "G (survives CR3 writes)" : "-" },
      { name: "accessed", value: d.accessed ? "A" : "-", status: true },
      { name: "dirty", value: d.dirty ? "D" : "-", status: true },
      { name: "caching", value: `${d.pcd ? "PCD " : ""}${d.pwt ? "PWT" : ""}`.trim() || "WB" },
    ];
  },

  faultText(errorCode: number): string {
    return `#PF error_code 0x${errorCode.toString(16)} (${errorCodeNames(errorCode)})`;
  },

  /** PTI: the pair is the PGD (kernel) and the page after it (user; PTI_USER_PGTABLE_BIT). */
  pgdPairProblems(phys: PhysMem, pgdPfn: number, kernelPgdPfn: number): string[] {
    const problems: string[] = [];
    const user = (pgdPfn + 1) * 4096;
    for (let i = 0; i < PTRS_PER_PGD; i++) {
      const u = phys.read64Big(user + i * 8);
      const kernelCopy = phys.read64Big(pgdPfn * 4096 + i * 8);
      // the user half as the kernel PGD has it (without the NX pti_set_user_pgtbl adds there), init's user kernel half
      const want =
        i < KERNEL_PGD_BOUNDARY ? kernelCopy & ~NX : phys.read64Big((kernelPgdPfn + 1) * 4096 + i * 8);
      if (u !== want && !(i < KERNEL_PGD_BOUNDARY && u === kernelCopy))
        problems.push(`user PGD entry ${i} does not mirror the kernel PGD's (PTI)`);
      if (i < KERNEL_PGD_BOUNDARY && (kernelCopy & PRESENT_USER) === PRESENT_USER && !(kernelCopy & NX))
        problems.push(`kernel PGD entry ${i} maps user memory without NX (PTI)`);
    }
    return problems;
  },

  /** The direct map's pages by size as vmlab's init_mem_mapping builds it: the first 2 MiB in 4K pages, 2M pages up to 1 GiB, 1G pages above. */
  reportMeminfo(nrFrames: number): Record<string, number> {
    const pg = 4096;
    return {
      DirectMap4k: 512 * pg,
      DirectMap2M: Math.min(nrFrames, 262144) * pg - 512 * pg,
      DirectMap1G: Math.max(0, Math.floor(nrFrames / 262144) - 1) * 262144 * pg,
    };
  },
};
