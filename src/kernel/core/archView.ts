import type { Access } from "../../hw/access.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
/**
 * What the kernel's read-outs (explain, /proc, `show P pagetable`, the
 * invariant checker, meminfo) ask of an architecture: its words for what
 * they show, and the few checks only it can make. Linux splits them the same
 * way: arch/x86/mm/dump_pagetables.c names an entry's bits,
 * arch/x86/mm/fault.c prints the error code, arch_report_meminfo adds the
 * DirectMap lines. Each architecture implements it in its folder's view.ts;
 * the kernel holds it as `k.arch.view`.
 *
 * What these read-outs take from elsewhere: the meaning of an entry from
 * the kernel's Pgtable (mm/arch.ts: present, special, swap entries, frames);
 * the levels' names and page sizes from the hardware (`cpu.format.levelNames`,
 * `cpu.geometry`); rights and fault codes from the MMU's own side-effect-free
 * walk (`Mmu.probe`).
 */
import type { PhysMem } from "../../hw/PhysMem.ts";

/** One row of an entry's bit-by-bit table: what a field of the entry says. */
export interface EntryBit {
  /** the field (`present`, `write`, `execute`, ...) */
  name: string;
  /** its value in words (`RW`, `read-only`, `XD (no execute)`, ...) */
  value: string;
  /** state the hardware keeps as the page is used (x86 A and D): not a difference in rights */
  status?: boolean;
}

export interface ArchView {
  /** user mode in the architecture's words (x86: `user mode (CPL 3)`) */
  readonly userMode: string;
  /** kernel mode in the architecture's words (x86: `kernel mode (CPL 0)`) */
  readonly kernelMode: string;
  /** the controls that decide a kernel access, as they stand on `cpu` (x86: `CR4.SMAP=1 RFLAGS.AC=0 ...`) */
  accessState(cpu: Mmu): string;
  /** the register a walk starts from (x86: `CR3`) */
  readonly rootRegister: string;
  /**
   * the register the kernel half's walk starts from where it has one of its
   * own (arm64: `TTBR1_EL1`); absent where one root serves both halves (x86)
   */
  readonly kernelRootRegister?: string;
  /** the counters' names in `show tlb`: faults, accesses outside every range, single-page invalidations */
  readonly counterNames: { pageFaults: string; addressFaults: string; pageInvalidations: string };
  /** where a switch writes the ASID when it is not the root register's (arm64 under TCR_EL1.A1: `TTBR1_EL1.ASID`) */
  readonly asidRegister?: string;
  /** what an address outside every translated range raises, and what the kernel does about it */
  readonly badAddress: string;
  /**
   * The same for one address and access, in the architecture's words (arm64: which TTBR VA[55]
   * selects, its TxSZ, the level 0 Translation fault's ESR; RISC-V: the page fault's scause); a
   * kernel-mode access's (`kernel`) story then goes on with the architecture's fault handler.
   * Absent: `badAddress`, and for a kernel-mode access x86's #GP.
   */
  badAddressWords?(cpu: Mmu, va: bigint, kernel: boolean, access: Access): string;
  /** where a swap entry keeps its offset (x86: `stored inverted in bits 9-58`) */
  readonly swapLayout: string;
  /** An entry's flags as a walk display lists them (x86: `P RW US A D XD`). */
  entryFlags(hi: number, lo: number, level: number): string[];
  /** A leaf's hardware fields, one row each, for the side-by-side of two entries that map one frame. */
  entryBits(hi: number, lo: number, level: number): EntryBit[];
  /** A page fault as the architecture reports it, from the MMU's fault code (x86: `#PF error_code 0x6 (WR|US)`). */
  faultText(errorCode: number): string;
  /**
   * What is wrong with a process's PGD pair (Pgtable.pgdOrder 1; x86 PTI:
   * the user PGD mirrors the kernel PGD's user half, and init_mm's user PGD
   * its kernel half; the kernel PGD's user entries carry NX), one sentence
   * each; empty when nothing is.
   */
  pgdPairProblems(phys: PhysMem, pgdPfn: number, kernelPgdPfn: number): string[];
  /**
   * The tables of the kernel half a PGD pair holds of its own, not init_mm's
   * (x86 PAE with PTI: the kernel PMD's copy and the user PDPT's kernel
   * PMD), which pgdPairProblems checks. Absent: none.
   */
  pgdPairTables?(phys: PhysMem, pgdPfn: number): number[];
  /** arch_report_meminfo: the architecture's own /proc/meminfo fields, in bytes, in order (x86: DirectMap4k, 2M, 1G). */
  reportMeminfo(nrFrames: number): Record<string, number>;
  /** How crash's `vtop` prints this architecture (view/crash.ts); absent: not modelled yet. */
  readonly crash?: CrashVtopStyle;
}

/** The architecture's part of crash's vtop (crash-utility x86_64.c, arm64.c, riscv64.c, x86.c). */
export interface CrashVtopStyle {
  /** its translate_pte's flag list of an entry: `(PRESENT|RW|USER|...)` */
  pteFlags(hi: number, lo: number): string;
  /**
   * How its uvtop / kvtop print a walk:
   * - `x86_64`: table entries at their physical addresses, a kernel walk
   *   headed by `PGD DIRECTORY:` (swapper_pg_dir) and `PAGE DIRECTORY:` (the PGD entry);
   * - `arm64`: entries at their kernel virtual addresses (FILL_PGD with
   *   KVADDR), every walk headed by `PAGE DIRECTORY:` (the PGD's address);
   * - `riscv64`: riscv64_vtop_{3,4,5}level_4k: `PAGE DIRECTORY:`, the PGD
   *   entry at its kernel virtual address, the others at physical ones
   *   (PMD, PUD, P4D as %016lx);
   * - `x86`, `x86-pae`: x86_uvtop / x86_kvtop and their _PAE variants:
   *   addresses right-justified in 8 columns, the PGD entry at its kernel
   *   virtual address (2-level: the folded PMD printed again, the same entry).
   */
  readonly layout: "x86_64" | "arm64" | "riscv64" | "x86" | "x86-pae";
  /** defs.h VADDR_PRLEN and UVADDR_PRLEN: the columns of a kernel and of a user address (x86_64: 16 and 10) */
  readonly vaddrPrlen: number;
  readonly uvaddrPrlen: number;
  /** sizeof(struct page) */
  readonly structPageSize: number;
  /** ZONES_PGSHIFT (include/linux/page-flags-layout.h): where page->flags keeps the zone */
  readonly zonesPgshift: bigint;
  /**
   * Where struct page of frame 0 would sit: FLATMEM's mem_map (32-bit x86,
   * an address in lowmem); absent: the layout's vmemmap (SPARSEMEM_VMEMMAP,
   * RAM from physical 0).
   */
  memMap?(): bigint;
  /**
   * kvtop's shortcut (its `!IS_VMALLOC_ADDR(kvaddr)` branch): the physical
   * address crash's VTOP gives a kernel address outside the ranges it walks
   * (it walks anyway when verbose); null for an address it must walk.
   * Absent: every kernel address is walked (x86_64, arm64 as modelled here).
   */
  kvtopDirect?(va: bigint): bigint | null;
  /** IS_KVADDR where it is narrower than "the upper half" (riscv64: vmalloc, vmemmap, modules, and from PAGE_OFFSET up) */
  isKvaddr?(va: bigint): boolean;
}
