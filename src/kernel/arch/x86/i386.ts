/**
 * The 32-bit x86 kernel (Linux: arch/x86 built with CONFIG_X86_32):
 * `i386` with 2-level paging and `i386-pae` with PAE's 3 levels, the 3G/1G
 * split, lowmem and highmem, no PCIDs. The pieces are the x86 folder's
 * `_32` files, named as Linux names them; this object hands them to the
 * generic kernel (kernel/core/core.ts Arch).
 */
import { I386Machine } from "../../../hw/arch/i386/machine.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import type { ResolvedKernelConfig } from "../../core/config.ts";
import type { Arch, KernelImage } from "../../core/core.ts";
import { Vaddr32 } from "../../core/vaddr.ts";
import type { ZoneLayout } from "../../mm/buddy.ts";
import { bug } from "./dumpstack.ts";
import { EXPLAIN_USER_KERNEL_ADDR } from "./fault.ts";
import {
  explainKernelFault32,
  type Fault32Config,
  kernelAccess32,
  syncKernelMappings32,
  uaccessFault32,
  userFault32,
} from "./fault_32.ts";
import { Highmem32 } from "./highmem_32.ts";
import {
  EMPTY_ZERO_PAGE_PFN,
  IMAGE_END_PFN,
  IMAGE_START_PFN,
  KERNEL_DATA,
  KERNEL_RODATA,
  KERNEL_TEXT,
  LOW_RESERVED_PFNS,
} from "./init.ts";
import { cpuInit32, i386Cpu, i386Cpus, initMemMapping32 } from "./init_32.ts";
import { directPa32, directVa32, i386Layout, type Layout32, PAGE_OFFSET_32 } from "./layout_32.ts";
import { I386Pgtable, MAXPHYADDR_32 } from "./pgtable_32.ts";
import { I386Tlb } from "./tlb_32.ts";
import { i386View } from "./view_32.ts";

const IMAGE: KernelImage = {
  lowReservedPfns: LOW_RESERVED_PFNS,
  startPfn: IMAGE_START_PFN,
  endPfn: IMAGE_END_PFN,
  zeroPfn: EMPTY_ZERO_PAGE_PFN,
  bytes: KERNEL_TEXT + KERNEL_RODATA + KERNEL_DATA,
};

/** The 32-bit arch object, with what only 32-bit code and its tests use. */
export interface I386Arch extends Arch {
  readonly layout: Layout32;
  readonly highmem: Highmem32;
}

/** zone_sizes_init on 32-bit: ZONE_DMA (16 MiB), ZONE_NORMAL (lowmem, to max_low_pfn), ZONE_HIGHMEM. */
export function zones32(l: Layout32): ZoneLayout {
  return {
    names: ["DMA", "Normal", "HighMem"],
    endPfns: [Math.min(4096, l.maxLowPfn), l.maxLowPfn, Number.POSITIVE_INFINITY],
    normal: 1,
    highmem: 2,
  };
}

/** The 32-bit x86 architecture for one kernel's configuration. */
export function i386Arch(cfg: ResolvedKernelConfig): I386Arch {
  const pae = cfg.arch === "i386-pae";
  const layout = i386Layout(pae, cfg.ramBytes, cfg.cpus);
  const va = new Vaddr32(BigInt(PAGE_OFFSET_32));
  // pti=on: PAE only (config.ts refuses it on 2-level i386)
  const pti = pae && cfg.pti;
  const fault: Fault32Config = { layout, lazy: cfg.vmallocSync === "lazy", pti };
  let kernelRootPfn = -1;
  /** mem_map's first frame (FLATMEM), once setup_arch has allocated it */
  let memMapPfn = -1;
  const highmem = new Highmem32(layout, cfg.cpus, !pti);
  return {
    name: cfg.arch,
    pgtable: new I386Pgtable(pae, pti),
    layout,
    va,
    view: i386View(layout, () => memMapPfn, pti),
    image: IMAGE,
    zones: zones32(layout),
    highmem,
    kmapLocalPage: (k, cpuId, pfn) => highmem.kmapLocalPage(k, cpuId, pfn),
    kunmapLocal: (k, cpuId, v) => highmem.kunmapLocal(k, cpuId, v),
    newMachine: () =>
      new I386Machine({
        ramBytes: cfg.ramBytes,
        cpus: cfg.cpus,
        pae,
        maxPhyAddr: MAXPHYADDR_32,
        tlb: cfg.tlb,
        psc: cfg.psc,
        checkCoherence: cfg.checkCoherence,
      }),
    setupArch: (machine, pages, memblock) => {
      const map = initMemMapping32(machine, pages, memblock, layout, pti);
      memMapPfn = map.memMapPfn;
      return map;
    },
    cpuInit: (machine, rootPfn) => {
      kernelRootPfn = rootPfn;
      cpuInit32(machine, rootPfn, cfg, pae);
    },
    newTlb: (machine) => new I386Tlb(i386Cpus(machine), () => kernelRootPfn, pti),
    userFault: userFault32,
    // do_user_addr_fault after handle_mm_fault resolved a fault: nothing more (core/faultfold.ts)
    faultFold: { resolved: null },
    kernelAccess: (k, cpuId, v, access, value) => kernelAccess32(k, fault, cpuId, v, access, value),
    bug,
    uaccessFault: uaccessFault32,
    explainKernelFault: (k, cpu, v, code) => explainKernelFault32(k, fault, cpu, v, code),
    explainUserKernelAddr: () => EXPLAIN_USER_KERNEL_ADDR,
    // eager (5.8+): arch_sync_kernel_mappings; lazy: the PDE waits for vmalloc_fault; PAE: the kernel PMD is
    // shared, but for PTI's (SHARED_KERNEL_PMD false: each PGD has its own copy)
    syncKernelMappings: (pae && !pti) || fault.lazy ? undefined : syncKernelMappings32,
    userAccessWindow: (cpu: Mmu, open: boolean) => (open ? i386Cpu(cpu).stac() : i386Cpu(cpu).clac()),
    userAccessWindowNames: ["stac", "clac"],
    uaccessBegin: (cpu: Mmu) => i386Cpu(cpu).stac(),
    uaccessEnd: (cpu: Mmu) => i386Cpu(cpu).clac(),
    longBytes: 4, // BITS_PER_LONG 32: do_strncpy_from_user reads 4-byte words
    directVa: (pa) => directVa32(layout, pa),
    directPa: (v) => directPa32(layout, v),
  };
}
