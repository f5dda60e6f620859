/**
 * x86's struct arch_tlbflush_unmap_batch (a cpumask) and the parts of its
 * hooks that x86-64's and i386's TLB models (tlb.ts, tlb_32.ts) share; each
 * model's arch_tlbbatch_flush does its own flush on the CPUs it names.
 * Linux: arch/x86/include/asm/tlbbatch.h, arch/x86/include/asm/tlbflush.h
 */
import type { MmStruct } from "../../mm/MmStruct.ts";

export class X86UnmapBatch {
  /** the CPUs the reclaiming task's deferred flushes must reach */
  readonly cpumask = new Set<number>();

  /**
   * arch_tlbbatch_should_defer: defer only when a CPU other than `fromCpu`
   * is in mm_cpumask(mm) (else the flush is one local INVLPG, no IPI to save).
   */
  static shouldDefer(mm: MmStruct, fromCpu: number): boolean {
    // a CPU other than fromCpu in the mask (cpumask_any_but < nr_cpu_ids), without iterating it
    const n = mm.cpumask.size;
    return n > 1 || (n === 1 && !mm.cpumask.has(fromCpu));
  }

  /** arch_tlbbatch_add_pending: inc_mm_tlb_gen(mm), and mm_cpumask(mm) joins the batch's cpumask. */
  addPending(mm: MmStruct): void {
    mm.tlbGen++;
    for (const c of mm.cpumask) this.cpumask.add(c);
  }

  /** arch_tlbbatch_flush's choice: a CPU other than `fromCpu` in the batch (flush_tlb_multi), else none (flush_tlb_func here). */
  hasRemote(fromCpu: number): boolean {
    for (const c of this.cpumask) if (c !== fromCpu) return true;
    return false;
  }

  /** The batch's CPUs in ascending order (the order flush_tlb_multi's IPIs are counted in). */
  sorted(): number[] {
    return [...this.cpumask].sort((a, b) => a - b);
  }
}
