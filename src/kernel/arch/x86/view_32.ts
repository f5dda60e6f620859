/**
 * The 32-bit x86 words of the kernel's read-outs (core/archView.ts
 * ArchView): entry flags of 4-byte and PAE entries, the #PF error code,
 * PAE's PGD block (the PDPT with its three user PMDs and the shared kernel
 * PMD), and arch_report_meminfo's DirectMap4k / DirectMap4M (2M with PAE).
 */
import type { I386Cpu } from "../../../hw/arch/i386/Cpu.ts";
import { flagNames, Pte, PteHi } from "../../../hw/arch/i386/pte.ts";
import { errorCodeNames } from "../../../hw/arch/x86_64/fault.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { PhysMem } from "../../../hw/PhysMem.ts";
import type { ArchView, CrashVtopStyle, EntryBit } from "../../core/archView.ts";
import { IMAGE_END_PFN, IMAGE_START_PFN } from "./init.ts";
import { STRUCT_PAGE_SIZE_32 } from "./init_32.ts";
import { type Layout32, PAGE_OFFSET_32 } from "./layout_32.ts";
import { pdpteTable } from "./pgtable_32.ts";

/**
 * x86_translate_pte's flag names, its tests as written (crash-utility
 * x86.c): the low word's bits; PSE for bit 7 of any non-zero entry (its
 * `pte && _PAGE_PRESENT` is always true), so a 4K PTE's PAT bit shows as
 * PSE; PROTNONE never (`!(pte && _PAGE_PRESENT)` is always false); NX from
 * bit 63 with PAE.
 */
function crashPteFlags(pae: boolean, hi: number, lo: number): string {
  if (lo === 0) return "(no mapping)";
  const names: [number, string][] = [
    [Pte.P, "PRESENT"],
    [Pte.RW, "RW"],
    [Pte.US, "USER"],
    [Pte.PWT, "PWT"],
    [Pte.PCD, "PCD"],
    [Pte.A, "ACCESSED"],
    [Pte.D, "DIRTY"],
    [Pte.PS, "PSE"],
    [Pte.G, "GLOBAL"],
  ];
  const f = names.filter(([bit]) => lo & bit).map(([, n]) => n);
  if (pae && hi & PteHi.XD) f.push("NX");
  return `(${f.join("|")})`;
}

/**
 * crash's vtop on 32-bit x86 (x86.c; view/crashX86.ts): VADDR_PRLEN and
 * UVADDR_PRLEN 8; FLATMEM: struct page (32 bytes) in mem_map, allocated in
 * lowmem at boot (`memMapPfn`, known once setup_arch has run); no NUMA, four
 * zones (DMA, Normal, HighMem, Movable): ZONES_PGSHIFT 30 of 32 bits.
 * kvtop walks from vt->vmalloc_start (the first vmalloc area: VMALLOC_START
 * here) up and takes VTOP (kvaddr - PAGE_OFFSET) below, walking anyway when
 * verbose.
 */
function crashStyle(layout: Layout32, memMapPfn: () => number): CrashVtopStyle {
  return {
    pteFlags: (hi, lo) => crashPteFlags(layout.pae, hi, lo),
    layout: layout.pae ? "x86-pae" : "x86",
    vaddrPrlen: 8,
    uvaddrPrlen: 8,
    structPageSize: STRUCT_PAGE_SIZE_32,
    zonesPgshift: 30n,
    memMap: () => BigInt(PAGE_OFFSET_32 + memMapPfn() * 4096),
    kvtopDirect: (va) => (va < BigInt(layout.vmallocStart32) ? va - BigInt(PAGE_OFFSET_32) : null),
  };
}

export function i386View(layout: Layout32, memMapPfn: () => number, pti = false): ArchView {
  const pae = layout.pae;
  return {
    crash: crashStyle(layout, memMapPfn),
    userMode: "user mode (CPL 3)",
    kernelMode: "kernel mode (CPL 0)",
    accessState(cpu: Mmu): string {
      const c = cpu as I386Cpu;
      const b = (x: boolean) => (x ? 1 : 0);
      return `CR4.SMAP=${b(c.cr4Smap)} EFLAGS.AC=${b(c.rflagsAc)} CR4.SMEP=${b(c.cr4Smep)} CR0.WP=${b(c.cr0Wp)}${pae ? ` EFER.NXE=${b(c.eferNxe)}` : ""}`;
    },
    rootRegister: "CR3",
    counterNames: { pageFaults: "#PF", addressFaults: "#GP", pageInvalidations: "INVLPG" },
    badAddress: "a 32-bit CPU cannot form an address above 4 GiB (#GP); the kernel sends SIGSEGV",
    swapLayout: pae ? "stored inverted in bits 9-58 (PAE, as x86-64)" : "in bits 9-31, the type in bits 1-5",

    entryFlags: (hi, lo, level) => flagNames(hi, lo, level, pae, true),

    entryBits(hi: number, lo: number, level: number): EntryBit[] {
      const large = level === 1 && (lo & Pte.PS) !== 0;
      const rows: EntryBit[] = [
        { name: "present", value: lo & Pte.P ? "P" : "-" },
        { name: "write", value: lo & Pte.RW ? "RW" : "read-only" },
        { name: "U/S", value: lo & Pte.US ? "user" : "supervisor" },
      ];
      rows.push({
        name: "execute",
        value: !pae ? "executable (no XD bit)" : hi & PteHi.XD ? "XD (no execute)" : "executable",
      });
      rows.push({
        name: "global",
        value: (level === 0 || large) && lo & Pte.G ? "G (survives CR3 writes)" : "-",
      });
      rows.push({ name: "accessed", value: lo & Pte.A ? "A" : "-", status: true });
      rows.push({ name: "dirty", value: lo & Pte.D ? "D" : "-", status: true });
      rows.push({
        name: "caching",
        value: `${lo & Pte.PCD ? "PCD " : ""}${lo & Pte.PWT ? "PWT" : ""}`.trim() || "WB",
      });
      return rows;
    },

    faultText(errorCode: number): string {
      return `#PF error_code 0x${errorCode.toString(16)} (${errorCodeNames(errorCode)})`;
    },

    /** PAE: PDPTEs 0..2 point to the three pages after the PDPT (P only), PDPTE 3 to the kernel's PMD. */
    pgdPairProblems(phys: PhysMem, pgdPfn: number, kernelPgdPfn: number): string[] {
      if (!pae) return [];
      if (pti) return ptiPairProblems(phys, pgdPfn, kernelPgdPfn);
      const problems: string[] = [];
      for (let i = 0; i < 3; i++) {
        const lo = phys.read32(pgdPfn * 4096 + i * 8);
        const want = ((pgdPfn + 1 + i) * 4096 + Pte.P) >>> 0;
        if (lo !== want || phys.read32(pgdPfn * 4096 + i * 8 + 4) !== 0)
          problems.push(`PDPTE ${i} does not point to the mm's own PMD (pgd_prepopulate_pmd)`);
      }
      const k = kernelPgdPfn * 4096 + 24;
      if (
        phys.read32(pgdPfn * 4096 + 24) !== phys.read32(k) ||
        phys.read32(pgdPfn * 4096 + 28) !== phys.read32(k + 4)
      )
        problems.push("PDPTE 3 is not the shared kernel PMD (SHARED_KERNEL_PMD)");
      return problems;
    },

    /** PTI: the two PMDs of the kernel half a PGD pair holds of its own (PDPTE 3 of the kernel and of the user PDPT). */
    pgdPairTables(phys: PhysMem, pgdPfn: number): number[] {
      return pti ? [pdpteTable(phys, pgdPfn * 4096 + 24), pdpteTable(phys, (pgdPfn + 1) * 4096 + 24)] : [];
    },

    /** Lowmem in large pages but for those holding the image (4K pages); highmem is not mapped. */
    reportMeminfo(_nrFrames: number): Record<string, number> {
      const large = pae ? 512 : 1024;
      let small = 0;
      let big = 0;
      for (let pfn = 0; pfn < layout.maxLowPfn; ) {
        const hasImage = pfn < IMAGE_END_PFN && pfn + large > IMAGE_START_PFN;
        if (pfn % large === 0 && pfn + large <= layout.maxLowPfn && !hasImage) {
          big += large;
          pfn += large;
        } else {
          small++;
          pfn++;
        }
      }
      return pae
        ? { DirectMap4k: small * 4096, DirectMap2M: big * 4096 }
        : { DirectMap4k: small * 4096, DirectMap4M: big * 4096 };
    },
  };
}

/**
 * What is wrong with a PGD pair under PTI (PAE): PDPTEs hold P alone
 * (pud_populate); the user PDPT's 0..2 are the kernel PDPT's
 * (pti_set_user_pgtbl); each PDPTE 3 names a PMD of the mm's own, whose
 * entries are init_mm's (kernel PDPT: swapper_pg_dir's kernel PMD, but for
 * a vmalloc PDE vmalloc_sync=lazy has not copied yet; user PDPT: init_mm's
 * user kernel PMD, the entry text and the cpu_entry_area).
 */
function ptiPairProblems(phys: PhysMem, pgdPfn: number, kernelPgdPfn: number): string[] {
  const problems: string[] = [];
  const k = pgdPfn * 4096;
  const u = k + 4096;
  for (let i = 0; i < 4; i++) {
    for (const [pa, which] of [
      [k, "kernel"],
      [u, "user"],
    ] as const) {
      const lo = phys.read32(pa + i * 8);
      if ((lo & 0xfff) !== Pte.P || phys.read32(pa + i * 8 + 4) >>> 4 !== 0)
        problems.push(`${which} PDPTE ${i} is not a present table entry with P alone (pud_populate)`);
    }
    if (
      i < 3 &&
      (phys.read32(u + i * 8) !== phys.read32(k + i * 8) ||
        phys.read32(u + i * 8 + 4) !== phys.read32(k + i * 8 + 4))
    )
      problems.push(`user PDPTE ${i} does not mirror the kernel PDPT's (pti_set_user_pgtbl)`);
  }
  const own = pdpteTable(phys, k + 24);
  const init = pdpteTable(phys, kernelPgdPfn * 4096 + 24);
  if (own === init)
    problems.push("PDPTE 3 is swapper_pg_dir's kernel PMD: under PTI each PGD has its own copy");
  for (let i = 0; i < 512; i++) {
    const a = phys.read32(own * 4096 + i * 8);
    const b = phys.read32(init * 4096 + i * 8);
    if (a === b && phys.read32(own * 4096 + i * 8 + 4) === phys.read32(init * 4096 + i * 8 + 4)) continue;
    // vmalloc_sync=lazy: a PDE vmalloc added after the copy, until vmalloc_fault brings it
    if (a === 0) continue;
    problems.push(`kernel PMD entry ${i} differs from swapper_pg_dir's`);
  }
  const userOwn = pdpteTable(phys, u + 24);
  const userInit = pdpteTable(phys, (kernelPgdPfn + 1) * 4096 + 24);
  if (userOwn === userInit)
    problems.push("user PDPTE 3 is init_mm's user kernel PMD: each PGD has its own copy");
  for (let i = 0; i < 1024; i++)
    if (phys.read32(userOwn * 4096 + i * 4) !== phys.read32(userInit * 4096 + i * 4)) {
      problems.push("the user PDPT's kernel PMD differs from init_mm's (pgd_prepopulate_user_pmd)");
      break;
    }
  return problems;
}
