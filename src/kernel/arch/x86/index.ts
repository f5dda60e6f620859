/**
 * The x86-64 architecture of the kernel (Linux: arch/x86): `x86_64` with
 * 4-level paging and `x86_64-la57` with 5-level, with PCIDs, SMEP/SMAP and
 * page-table isolation as configured. Each piece lives in its own file,
 * named as Linux names it; this object hands them to the generic kernel
 * (kernel/core/core.ts Arch).
 */
import { InvertedX86Machine } from "../../../hw/arch/x86_64/InvertedCpu.ts";
import { X86Machine } from "../../../hw/arch/x86_64/machine.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { ResolvedKernelConfig } from "../../core/config.ts";
import type { Arch, KernelImage } from "../../core/core.ts";
import { Vaddr } from "../../core/vaddr.ts";
import { x86Cpu, x86Cpus } from "./cpu.ts";
import { bug } from "./dumpstack.ts";
import {
  EXPLAIN_USER_KERNEL_ADDR,
  explainKernelFault,
  kernelAccess,
  uaccessFault,
  userFault,
} from "./fault.ts";
import { HashMmu, HashPgtable, HashTlb, linuxPte } from "./hash.ts";
import {
  cpuInit,
  EMPTY_ZERO_PAGE_PFN,
  IMAGE_END_PFN,
  IMAGE_START_PFN,
  initMemMapping,
  KERNEL_DATA,
  KERNEL_RODATA,
  KERNEL_TEXT,
  LOW_RESERVED_PFNS,
} from "./init.ts";
import { X86_64_LA57_LAYOUT, X86_64_LAYOUT } from "./layout.ts";
import { directPa, directVa } from "./page.ts";
import { KERNEL_MAXPHYADDR, X86Pgtable } from "./pgtable.ts";
import { x86Pkeys } from "./pkeys.ts";
import { X86Tlb } from "./tlb.ts";
import { X86_VIEW } from "./view.ts";

const IMAGE: KernelImage = {
  lowReservedPfns: LOW_RESERVED_PFNS,
  startPfn: IMAGE_START_PFN,
  endPfn: IMAGE_END_PFN,
  zeroPfn: EMPTY_ZERO_PAGE_PFN,
  bytes: KERNEL_TEXT + KERNEL_RODATA + KERNEL_DATA,
};

/** The x86-64 architecture for one kernel's configuration. */
export function x86Arch(cfg: ResolvedKernelConfig): Arch {
  const levels = cfg.arch === "x86_64-la57" ? 5 : 4;
  const layout = levels === 5 ? X86_64_LA57_LAYOUT : X86_64_LAYOUT;
  const va = new Vaddr(levels === 5 ? 57 : 48);
  // init_mm's PGD, known once the CPUs are set up (a lazy CPU switches to it on a flush that freed tables)
  let kernelRootPfn = -1;
  if (cfg.pagetable === "inverted") return invertedArch(cfg, x86Arch({ ...cfg, pagetable: "radix" }));
  return {
    name: cfg.arch,
    pgtable: new X86Pgtable(levels, cfg.pti),
    layout,
    va,
    view: X86_VIEW,
    image: IMAGE,
    newMachine: () =>
      new X86Machine({
        ramBytes: cfg.ramBytes,
        cpus: cfg.cpus,
        la57: levels === 5,
        maxPhyAddr: KERNEL_MAXPHYADDR,
        tlb: cfg.tlb,
        psc: cfg.psc,
        checkCoherence: cfg.checkCoherence,
      }),
    setupArch: (machine, pages, memblock) =>
      initMemMapping(machine, pages, memblock, va, layout, levels, cfg.pti),
    cpuInit: (machine, rootPfn) => {
      kernelRootPfn = rootPfn;
      cpuInit(machine, rootPfn, cfg);
    },
    newTlb: (machine) => new X86Tlb(x86Cpus(machine), cfg.pcid, cfg.pti, va, () => kernelRootPfn),
    userFault,
    // do_user_addr_fault after handle_mm_fault resolved a fault: nothing more (core/faultfold.ts)
    faultFold: { resolved: null },
    kernelAccess,
    bug,
    uaccessFault,
    explainKernelFault,
    explainUserKernelAddr: () => EXPLAIN_USER_KERNEL_ADDR,
    // user_access_begin / user_access_end: STAC and CLAC (RFLAGS.AC lifts SMAP)
    userAccessWindow: (cpu: Mmu, open: boolean) => (open ? x86Cpu(cpu).stac() : x86Cpu(cpu).clac()),
    userAccessWindowNames: ["stac", "clac"],
    uaccessBegin: (cpu: Mmu) => x86Cpu(cpu).stac(),
    uaccessEnd: (cpu: Mmu) => x86Cpu(cpu).clac(),
    directVa: (pa) => directVa(layout, pa),
    directPa: (v, ramBytes) => directPa(layout, v, ramBytes),
    pkeys: x86Pkeys(cfg.pku),
  };
}

/**
 * x86-64 with a hashed inverted page table (pagetable=inverted, hash.ts,
 * docs/inverted.md): the radix kernel, with the MMU refilling its TLB from
 * the IPT, the IPT placed by memblock, hash_page as the hash-fault
 * handler, PTE changes reported to it, and space IDs loaded at switch_mm.
 */
function invertedArch(cfg: ResolvedKernelConfig, radix: Arch): Arch {
  const hash = new HashMmu();
  const pgtable = new HashPgtable(4, hash);
  hash.pt = pgtable;
  let kernelRootPfn = -1;
  let machine: InvertedX86Machine | null = null;
  return {
    ...radix,
    pgtable,
    newMachine: () => {
      machine = new InvertedX86Machine({
        ramBytes: cfg.ramBytes,
        cpus: cfg.cpus,
        maxPhyAddr: KERNEL_MAXPHYADDR,
        tlb: cfg.tlb,
        psc: cfg.psc,
        checkCoherence: cfg.checkCoherence,
      });
      return machine;
    },
    setupArch: (m, pages, memblock) => {
      const map = radix.setupArch(m, pages, memblock);
      hash.setup(machine!, memblock);
      return map;
    },
    cpuInit: (m, rootPfn) => {
      kernelRootPfn = rootPfn;
      radix.cpuInit(m, rootPfn);
      hash.installHandlers();
    },
    newTlb: () => new HashTlb(machine!.cpus, cfg.pcid, radix.va, () => kernelRootPfn, hash),
    hwTable: {
      metrics: () => hash.metrics(),
      check: (k) => hash.check((mm, vpn) => linuxPte(pgtable, k.mapper, mm, vpn)),
      explain: (k, mm, vpn, access) => hash.explain(mm, vpn, access, linuxPte(pgtable, k.mapper, mm, vpn)),
    },
  };
}
