/**
 * RV32's vmalloc_fault (Linux v6.12 arch/riscv/mm/fault.c, taken by
 * handle_page_fault for any address in [VMALLOC_START, VMALLOC_END) when
 * !CONFIG_64BIT): a process's PGD holds its own copies of the kernel's PGD
 * entries (pgd_alloc's sync_kernel_mappings copies them at fork), and on
 * RV32 preallocate_pgd_pages_range allocates nothing (the PMD is folded
 * into the PGD), so a PTE table vmalloc adds after a fork is in
 * swapper_pg_dir only. A kernel access there through the process's satp
 * faults; vmalloc_fault copies the entry from init_mm (set_pgd of
 * pgd_k, whatever it holds: pgd_present is 1 with the levels folded),
 * then pmd_present, pmd_leaf and pte_present of init_mm's entries decide
 * between no_context and local_flush_tlb_page and a retry.
 */
import type { RiscvCpu } from "../../../hw/arch/riscv/Cpu.ts";
import type { KernelCore } from "../../core/core.ts";
import { PageBit, pteToPfn } from "./pgtable.ts";

/** pmd_present (pgtable.h): _PAGE_PRESENT | _PAGE_PROT_NONE | _PAGE_LEAF */
const PMD_PRESENT = PageBit.PRESENT | PageBit.PROT_NONE | PageBit.LEAF;

/** An RV32 kernel's page fault on a vmalloc address: vmalloc_fault's case (its callers check the range). */
export function isVmallocFault32(k: KernelCore, cpu: RiscvCpu, va: bigint): boolean {
  return cpu.rv32 && va >= k.layout.vmallocStart && va < k.layout.vmallocEnd;
}

/**
 * vmalloc_fault on `cpu` for `va` (a kernel-mode fault): true when the
 * access may retry (the entry copied, init_mm maps the page), false for
 * no_context (an oops).
 */
export function vmallocFault32(k: KernelCore, cpu: RiscvCpu, va: bigint): boolean {
  const addr = Number(va);
  const index = addr >>> 22; // pgd_index
  const phys = k.machine.phys;
  // pfn = csr_read(CSR_SATP) & SATP_PPN: the table the hart walks, not current's
  const pgdPa = (cpu.satpLo & 0x3fffff) * 4096 + index * 4;
  const pgdK = phys.read32(k.rootPfn * 4096 + index * 4);
  const before = phys.read32(pgdPa);
  phys.write32(pgdPa, pgdK); // set_pgd(pgd, pgdp_get(pgd_k))
  if ((pgdK & PMD_PRESENT) === 0) return false; // !pmd_present(pmd_k): no_context
  if ((pgdK & PageBit.LEAF) === 0) {
    // pte_offset_kernel(pmd_k, addr): !pte_present: no_context
    const pte = phys.read32(pteToPfn(0, pgdK) * 4096 + ((addr >>> 12) & 1023) * 4);
    if ((pte & (PageBit.PRESENT | PageBit.PROT_NONE)) === 0) return false;
  }
  // flush_tlb: local_flush_tlb_page(addr)
  cpu.flushPage(0, addr >>> 0);
  if (cpu.tracer !== null)
    cpu.tracer({
      type: "state",
      cpu: cpu.id,
      text: `vmalloc_fault: 0x${addr.toString(16)} is vmalloc space; ${before === pgdK ? "the PGD entry was already there" : `PGD entry ${index} copied from swapper_pg_dir (0x${pgdK.toString(16).padStart(8, "0")}) into the PGD in satp`}: local_flush_tlb_page, retry`,
    });
  return true;
}
