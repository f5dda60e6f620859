/**
 * The RISC-V architecture of the kernel (Linux: arch/riscv), RV64 with 4K
 * pages in Sv39, Sv48 or Sv57 (`riscv-sv39`, `riscv-sv48`, `riscv-sv57`):
 * one satp root per mm whose upper half is swapper_pg_dir's entries
 * (pgd_alloc's sync_kernel_mappings), ASIDs from the allocator of
 * arch/riscv/mm/context.c, local SFENCE.VMA and remote fences through SBI
 * or IPIs (tlbflush.c), sstatus.SUM opened by the user-access routines
 * only (__enable_user_access / __disable_user_access). Each piece lives in
 * its own file, named as Linux names it; this object hands them to the
 * generic kernel (kernel/core/core.ts Arch).
 *
 * `riscv-sv32` is RV32 (CONFIG_32BIT): Sv32's two levels of 4-byte PTEs,
 * PAGE_OFFSET 0xc0000000 with the kernel in the linear map, TASK_SIZE =
 * FIXADDR_START (0x9c800000), lowmem only (RAM above 1 GiB unused: no
 * HIGHMEM), 9-bit ASIDs, no THP, HugeTLB in 4 MiB pages, vmalloc_fault for
 * the PGD entries vmalloc adds (init32.ts, layout.ts, pgtable.ts).
 *
 * With `svnapot=on` the harts have Svnapot and HugeTLB has its 64K NAPOT
 * size (arch/riscv/mm/hugetlbpage.c; the kernel's own mappings stay 4K).
 * Not modelled: Svadu and Svpbmt mappings, NAPOT vmalloc, the new_vmalloc
 * bitmap's fence on trap entry (vmlab's harts never cache an invalid PTE),
 * KASLR, KASAN, hugetlbfs, the icache flushes of flush_icache_pte.
 */
import { RiscvMapper } from "../../../hw/arch/riscv/Mapper.ts";
import { RiscvMachine } from "../../../hw/arch/riscv/machine.ts";
import type { ResolvedKernelConfig } from "../../core/config.ts";
import type { Arch, KernelImage } from "../../core/core.ts";
import { Vaddr, Vaddr32 } from "../../core/vaddr.ts";
import {
  bug,
  explainKernelFault,
  kernelAccess,
  riscvCpu,
  riscvCpus,
  uaccessFault,
  userFault,
} from "./fault.ts";
import {
  cpuInit,
  EMPTY_ZERO_PAGE_PFN,
  IMAGE_BYTES,
  IMAGE_END_PFN,
  IMAGE_START_PFN,
  LOW_RESERVED_PFNS,
  setupVm,
} from "./init.ts";
import { setupVm32, zones32 } from "./init32.ts";
import { directPa, directVa, type RiscvVaBits, riscvLayout, riscvLayoutConsts } from "./layout.ts";
import { RiscvPgtable } from "./pgtable.ts";
import { RiscvTlb } from "./tlb.ts";
import { riscvCopyReported } from "./usercopy.ts";
import { RISCV_VIEW, RISCV32_VIEW, riscvCrashStyle } from "./view.ts";

const IMAGE: KernelImage = {
  lowReservedPfns: LOW_RESERVED_PFNS,
  startPfn: IMAGE_START_PFN,
  endPfn: IMAGE_END_PFN,
  zeroPfn: EMPTY_ZERO_PAGE_PFN,
  bytes: IMAGE_BYTES,
};

/** The satp mode an `arch=` name asks for. */
export function riscvVaBits(arch: string): RiscvVaBits {
  return arch === "riscv-sv57" ? 57 : arch === "riscv-sv48" ? 48 : arch === "riscv-sv32" ? 32 : 39;
}

/** The RISC-V architecture for one kernel's configuration. */
export function riscvArch(cfg: ResolvedKernelConfig): Arch {
  const vaBits = riscvVaBits(cfg.arch);
  const rv32 = vaBits === 32;
  const levels = rv32 ? 2 : (((vaBits - 12) / 9) as 3 | 4 | 5);
  const layout = riscvLayout(vaBits, IMAGE_BYTES);
  const consts = riscvLayoutConsts(vaBits, IMAGE_BYTES);
  // RV32: kernel addresses from KERN_VIRT_START = FIXADDR_START (= TASK_SIZE) to 4 GiB
  const va = rv32 ? new Vaddr32(consts.taskSize) : new Vaddr(vaBits);
  return {
    name: cfg.arch,
    pgtable: new RiscvPgtable(levels, (phys, alloc) => new RiscvMapper(phys, alloc, levels), cfg.svnapot),
    layout,
    va,
    // crash has no RV32 support (riscv64.c only)
    view: rv32 ? RISCV32_VIEW : { ...RISCV_VIEW, crash: riscvCrashStyle(consts) },
    image: IMAGE,
    ...(rv32 ? { zones: zones32(cfg.ramBytes / 4096) } : {}),
    newMachine: () =>
      new RiscvMachine({
        ramBytes: cfg.ramBytes,
        cpus: cfg.cpus,
        tlb: cfg.tlb,
        psc: cfg.psc,
        checkCoherence: cfg.checkCoherence,
        vaBits,
        svnapot: cfg.svnapot,
      }),
    setupArch: (machine, pages, memblock) =>
      levels === 2
        ? setupVm32(machine, pages, memblock, va, consts)
        : setupVm(machine, pages, memblock, va, layout, consts, levels),
    cpuInit: (machine, rootPfn) => cpuInit(riscvCpus(machine), rootPfn),
    newTlb: (machine) => new RiscvTlb(riscvCpus(machine), va, cfg.rfence),
    userFault,
    // handle_page_fault after handle_mm_fault resolved a fault: update_mmu_cache ->
    // local_flush_tlb_page (core/faultfold.ts; fault.ts doPageFault)
    faultFold: { resolved: (cpu, vaHi, vaLo) => riscvCpu(cpu).flushPage(vaHi, vaLo) },
    kernelAccess,
    bug,
    uaccessFault,
    explainKernelFault,
    // `kernel: sum on|off`: csrs / csrc sstatus, SR_SUM on its own
    userAccessWindow: (cpu, open) => riscvCpu(cpu).setSum(open),
    userAccessWindowNames: ["sum on", "sum off"],
    // user_access_begin / user_access_end: __enable_user_access, __disable_user_access
    uaccessBegin: (cpu) => riscvCpu(cpu).setSum(true),
    uaccessEnd: (cpu) => riscvCpu(cpu).setSum(false),
    // access_ok's limit: TASK_SIZE_MAX is LONG_MAX on RV64 (asm/pgtable.h), not TASK_SIZE; RV32
    // defines none, so asm-generic/access_ok.h's TASK_SIZE (FIXADDR_START) is the limit
    taskSizeMax: rv32 ? layout.taskSize : 0x7fff_ffff_ffff_ffffn,
    // sizeof(long): do_strncpy_from_user's word
    longBytes: rv32 ? 4 : 8,
    // RV32 Linux has no THP (HAVE_ARCH_TRANSPARENT_HUGEPAGE if 64BIT && MMU)
    noTransparentHugepage: rv32,
    // RISCV_PROBE_UNALIGNED_ACCESS (the default) leaves out HAVE_EFFICIENT_UNALIGNED_ACCESS
    efficientUnalignedAccess: false,
    // a short copy reports what fallback_scalar_usercopy's fixup computes (64-byte blocks)
    usercopyReported: {
      copy: (toUser, u, kl, n, f) => riscvCopyReported(toUser, toUser ? u : kl, toUser ? kl : u, n, f),
    },
    directVa: (pa) => directVa(layout, pa),
    directPa: (v, ramBytes) => directPa(layout, v, ramBytes),
  };
}
