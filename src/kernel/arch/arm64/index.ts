/**
 * The arm64 architecture of the kernel (Linux: arch/arm64), 4K pages,
 * 48-bit VAs, 4 levels: swapper_pg_dir in TTBR1_EL1, each mm's own PGD in
 * TTBR0_EL1 with an ASID from the allocator, broadcast TLB maintenance,
 * hardware PAN, LDTR/STTR user accesses. Each piece lives in its own file,
 * named as Linux names it; this object hands them to the generic kernel
 * (kernel/core/core.ts Arch).
 *
 * KPTI (pti=on) unmaps the kernel at EL0 (tramp_pg_dir in TTBR1, ASID pairs).
 *
 * Not modelled yet: the fixmap, KASLR, pkeys/POE, MTE.
 */

import type { Arm64Cpu } from "../../../hw/arch/arm64/Cpu.ts";
import { Arm64Mapper } from "../../../hw/arch/arm64/Mapper.ts";
import { Arm64Machine } from "../../../hw/arch/arm64/machine.ts";
import type { ResolvedKernelConfig } from "../../core/config.ts";
import type { Arch, KernelImage } from "../../core/core.ts";
import { Vaddr } from "../../core/vaddr.ts";
import { Arm64ContPte } from "./contpte.ts";
import { untaggedAddr } from "./fault.ts";
import {
  cpuInit,
  EMPTY_ZERO_PAGE_PFN,
  IMAGE_END_PFN,
  IMAGE_START_PFN,
  KERNEL_DATA,
  KERNEL_RODATA,
  KERNEL_TEXT,
  LOW_RESERVED_PFNS,
  pagingInit,
  RESERVED_PG_DIR_PFN,
} from "./init.ts";
import { ARM64_LAYOUT, directPa, directVa } from "./layout.ts";
import {
  arm64Cpus,
  bug,
  explainKernelFault,
  explainUserKernelAddr,
  kernelAccess,
  uaccessFault,
  userFault,
} from "./memAbort.ts";
import { Arm64Tlb } from "./mmuContext.ts";
import { Arm64Pgtable } from "./pgtable.ts";
import { arm64ClearReported, arm64CopyReported } from "./usercopy.ts";
import { ARM64_VIEW } from "./view.ts";

const IMAGE: KernelImage = {
  lowReservedPfns: LOW_RESERVED_PFNS,
  startPfn: IMAGE_START_PFN,
  endPfn: IMAGE_END_PFN,
  zeroPfn: EMPTY_ZERO_PAGE_PFN,
  bytes: KERNEL_TEXT + KERNEL_RODATA + KERNEL_DATA,
};

/** The arm64 architecture for one kernel's configuration. */
export function arm64Arch(cfg: ResolvedKernelConfig): Arch {
  const layout = ARM64_LAYOUT;
  // KPTI (unmap_kernel_at_el0): tramp_pg_dir at EL0, ASID pairs, the kernel's entries nG
  const kpti = cfg.pti;
  let swapperPfn = -1;
  let trampPfn = -1;
  // both halves as one number space: kernel vpns carry bit 36, as the CPU's do
  const va = new Vaddr(49);
  const panToggle = cfg.uaccess === "pan-toggle";
  return {
    name: cfg.arch,
    // CONFIG_ARM64_CONTPTE=y (arm64 defconfig since 6.9)
    // PXNTable on a user table, UXNTable on a kernel one (pgalloc.h p?d_populate)
    pgtable: new Arm64Pgtable((phys, alloc) => new Arm64Mapper(phys, alloc, 48, 48, true), {
      contpte: new Arm64ContPte(),
      hwAf: cfg.hafdbs !== "off",
      // mm/mmap.c adjust_protection_map: PROT_EXEC alone is PAGE_EXECONLY with ARM64_HAS_EPAN
      epan: cfg.epan,
    }),
    layout,
    va,
    view: ARM64_VIEW,
    image: IMAGE,
    newMachine: () =>
      new Arm64Machine({
        ramBytes: cfg.ramBytes,
        cpus: cfg.cpus,
        tlb: cfg.tlb,
        psc: cfg.psc,
        checkCoherence: cfg.checkCoherence,
      }),
    setupArch: (machine, pages, memblock) => {
      const map = pagingInit(machine, pages, memblock, va, layout, kpti);
      swapperPfn = map.rootPfn;
      trampPfn = map.trampPfn;
      return map;
    },
    // PAN: CONFIG_ARM64_PAN; EPAN: cpufeature.c cpu_enable_epan (SCTLR_EL1.EPAN)
    cpuInit: (machine, rootPfn) =>
      cpuInit(arm64Cpus(machine), rootPfn, RESERVED_PG_DIR_PFN, cfg.pan, cfg.asidBits, cfg.hafdbs, cfg.epan),
    newTlb: (machine) =>
      new Arm64Tlb(
        arm64Cpus(machine),
        RESERVED_PG_DIR_PFN,
        cfg.asidBits,
        kpti ? { swapperPfn: () => swapperPfn, trampPfn: () => trampPfn } : null,
        cfg.tlbiRange,
      ),
    userFault,
    // do_page_fault after handle_mm_fault resolved a fault: nothing more (core/faultfold.ts)
    faultFold: { resolved: null },
    kernelAccess,
    bug,
    uaccessFault,
    explainKernelFault,
    explainUserKernelAddr,
    // uaccess=ldtr (Linux 5.11+): LDTR/STTR, PAN stays set, user_access_begin/end change nothing.
    // uaccess=pan-toggle (before 5.11): uaccess_enable_privileged clears PSTATE.PAN around
    // the copy's ordinary loads and stores, uaccess_disable_privileged sets it again
    userAccessWindow: (cpu, open) => (cpu as Arm64Cpu).setPan(!open),
    userAccessWindowNames: ["pan off", "pan on"],
    uaccessBegin: panToggle ? (cpu) => (cpu as Arm64Cpu).setPan(false) : () => {},
    uaccessEnd: panToggle ? (cpu) => (cpu as Arm64Cpu).setPan(cfg.pan) : () => {},
    unprivilegedUaccess: !panToggle,
    // a short copy reports what copy_template's fixup computes (16-byte pairs, loads 64 ahead)
    usercopyReported: {
      copy: (toUser, u, kl, n, f) => arm64CopyReported(toUser, toUser ? kl : u, n, f),
      clear: (_u, n, f) => arm64ClearReported(n, f),
    },
    // CONFIG_ARM64_TAGGED_ADDR_ABI: untagged_addr clears a TTBR0 address's top byte (TBI0)
    untaggedAddr,
    directVa: (pa) => directVa(layout, pa),
    directPa: (v, ramBytes) => directPa(layout, v, ramBytes),
  };
}
