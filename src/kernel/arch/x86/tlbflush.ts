/**
 * flush_tlb_kernel_range (arch/x86/mm/tlb.c) for the kernel's own mappings
 * (vmalloc's lazy purge); user mms' flushes are X86Tlb's (tlb.ts).
 */
import { fromBig } from "../../../base/u64.ts";
import type { KernelCore } from "../../core.ts";

/**
 * flush_tlb_kernel_range on every CPU (an IPI to each other CPU): INVLPG
 * per page up to tlb_single_page_flush_ceiling (33), else a full flush
 * including globals.
 */
export function flushTlbKernelRange(k: KernelCore, startVpn: number, nrPages: number): void {
  for (const cpu of k.machine.cpus) {
    if (cpu.id !== k.runningCpu) {
      k.tlbMgr.shootdowns++;
      k.tlbMgr.states[cpu.id].shootdownsReceived++;
    }
    if (nrPages > 33) {
      cpu.invpcid(2, 0);
      continue;
    }
    for (let i = 0; i < nrPages; i++) {
      const { hi, lo } = fromBig(k.va.canonical(startVpn + i));
      cpu.invlpg(hi, lo);
    }
    // PTI: kernel entries are not global, so other ASIDs may cache them (invalidate_other_asid)
    if (k.config.pti) k.tlbMgr.invalidateOtherAsids(cpu.id);
  }
}
