/**
 * Address-space switching and TLB flushing on 32-bit x86 (Linux:
 * arch/x86/mm/tlb.c without X86_FEATURE_PCID: CR4.PCIDE needs IA-32e
 * mode). Every switch_mm to another mm writes CR3, which drops every
 * non-global TLB entry (the kernel's pages are global and survive);
 * flush_tlb_mm_range is INVLPG per page up to tlb_single_page_flush_ceiling,
 * else a CR3 reload; flush_tlb_kernel_range INVLPG per page, else
 * __flush_tlb_all (a CR4.PGE toggle, which drops the global entries too).
 * Lazy TLB mode and the tlb_gen catch-up as on x86-64 (tlb.ts).
 *
 * PTI (PAE, pti_32.ts): every kernel entry from user mode writes CR3 with
 * the kernel PDPT (SWITCH_TO_KERNEL_CR3) and every return the user PDPT,
 * 4 KiB above it (SWITCH_TO_USER_CR3, PTI_SWITCH_MASK = bit 12). Without
 * PCIDs each of these writes drops every non-global TLB entry: a system
 * call costs the user's TLB (and the kernel's, non-global under PTI).
 * There is no user PCID to flush later: invalidate_user_asid returns at
 * once without X86_FEATURE_PCID, so ptiUserFlushes stays 0.
 */

import { assert } from "../../../base/assert.ts";
import type { I386Cpu } from "../../../hw/arch/i386/Cpu.ts";
import type { ArchTlb } from "../../core/core.ts";
import { TlbFlush } from "../../mm/arch.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { TLB_SINGLE_PAGE_FLUSH_CEILING, TlbState } from "./tlb.ts";
import { X86UnmapBatch } from "./tlbbatch.ts";

export class I386Tlb implements ArchTlb {
  readonly states: TlbState[];
  shootdowns = 0;
  readonly broadcasts = 0;
  onMmUnloaded: ((mm: MmStruct) => void) | null = null;

  constructor(
    readonly cpus: I386Cpu[],
    /** swapper_pg_dir (where a lazy CPU goes when tables are freed under it) */
    private readonly kernelRootPfn: () => number,
    /** page-table isolation (PAE only): CR3 switched on every kernel entry and exit */
    readonly pti = false,
  ) {
    this.states = cpus.map(() => new TlbState());
  }

  /**
   * Kernel entry from user mode on `cpuId` (a system call, exception or
   * interrupt): under PTI SWITCH_TO_KERNEL_CR3 clears bit 12 of CR3, a MOV
   * to CR3 of the kernel PDPT. Nothing without PTI.
   */
  enterKernel(cpuId: number): void {
    const mm = this.states[cpuId].ptiEnter(this.pti);
    if (mm !== null) this.loadCr3(cpuId, mm.pgdPfn);
  }

  /** Return to user mode on `cpuId`: under PTI SWITCH_TO_USER_CR3 sets bit 12, a MOV to CR3 of the user PDPT. */
  exitToUser(cpuId: number): void {
    const mm = this.states[cpuId].ptiExit(this.pti);
    if (mm !== null) this.loadCr3(cpuId, mm.pgdPfn + 1);
  }

  /** load_new_mm_cr3 without PCIDs: MOV to CR3 (flushes the non-global entries; PAE: reloads the PDPTEs). */
  private loadCr3(cpuId: number, pgdPfn: number): void {
    const r = this.cpus[cpuId].movToCr3(pgdPfn * 4096);
    assert(r === 0, `MOV to CR3 #GP: a bad PDPTE in the PGD at pfn ${pgdPfn}`);
  }

  /** switch_mm_irqs_off; enter_lazy_tlb for a kernel thread (null). */
  switchMm(cpuId: number, next: MmStruct | null): void {
    this.enterKernel(cpuId); // schedule() runs in the kernel
    const st = this.states[cpuId];
    st.contextSwitches++;
    if (next === null) {
      if (st.loadedMm !== null) st.isLazy = true;
      return;
    }
    if (st.loadedMm === next) {
      st.isLazy = false;
      next.cpumask.add(cpuId);
      const ctx = st.ctxs[0];
      if (ctx.tlbGen < next.tlbGen) {
        this.loadCr3(cpuId, next.pgdPfn);
        ctx.tlbGen = next.tlbGen;
        st.switchFlushes++;
      }
      return;
    }
    const prev = st.loadedMm;
    if (prev !== null) {
      prev.cpumask.delete(cpuId);
      if (prev.dead && prev.cpumask.size === 0) this.onMmUnloaded?.(prev);
    }
    this.loadCr3(cpuId, next.pgdPfn);
    st.switchFlushes++;
    st.ctxs[0].ctxId = next.ctxId;
    st.ctxs[0].tlbGen = next.tlbGen;
    st.loadedMm = next;
    st.loadedAsid = 0;
    st.isLazy = false;
    next.cpumask.add(cpuId);
  }

  loadKernel(cpuId: number, kernelRootPfn: number): void {
    this.enterKernel(cpuId);
    const st = this.states[cpuId];
    const prev = st.loadedMm;
    if (prev === null) return;
    prev.cpumask.delete(cpuId);
    this.loadCr3(cpuId, kernelRootPfn);
    st.loadedMm = null;
    st.isLazy = false;
    if (prev.dead && prev.cpumask.size === 0) this.onMmUnloaded?.(prev);
  }

  /**
   * flush_tlb_mm_range (see X86Tlb.flushTlbMmRange): an IPI to every other
   * CPU running the mm; a CPU more than one tlb_gen behind (a batched flush
   * still owed) flushes everything (flush_tlb_func's partial-flush rule). `stride`: pages an
   * INVLPG covers (stride_shift), the ceiling counted in strides.
   */
  flushTlbMmRange(
    mm: MmStruct,
    startVpn: number,
    nrPages: number,
    fromCpu: number,
    kind: TlbFlush = TlbFlush.Range,
    stride = 1,
  ): void {
    mm.tlbGen++;
    for (const cpuId of mm.cpumask) {
      const st = this.states[cpuId];
      if (st.loadedMm !== mm) continue;
      if (cpuId !== fromCpu && (!st.isLazy || kind === TlbFlush.Tables)) {
        this.shootdowns++;
        st.shootdownsReceived++;
      }
      if (st.isLazy) {
        if (kind === TlbFlush.Tables) this.loadKernel(cpuId, this.kernelRootPfn());
        continue;
      }
      const cpu = this.cpus[cpuId];
      // PTI: the flush IPI interrupts user code: kernel CR3 in, user CR3 out
      const wasUser = st.inUser;
      this.enterKernel(cpuId);
      if (
        Math.floor(nrPages / stride) <= TLB_SINGLE_PAGE_FLUSH_CEILING &&
        st.ctxs[0].tlbGen + 1 === mm.tlbGen
      ) {
        for (let i = 0; i < nrPages; i += stride) cpu.invlpg((startVpn + i) * 4096);
      } else this.loadCr3(cpuId, mm.pgdPfn);
      st.ctxs[0].tlbGen = mm.tlbGen;
      if (wasUser) this.exitToUser(cpuId);
    }
  }

  /** the reclaiming task's arch_tlbflush_unmap_batch */
  private readonly batch = new X86UnmapBatch();
  /** arch_tlbbatch_flush calls that flushed (locally or by IPIs) */
  batchFlushes = 0;

  /** arch_tlbbatch_should_defer (X86UnmapBatch.shouldDefer) */
  tlbbatchShouldDefer(mm: MmStruct, fromCpu: number): boolean {
    return X86UnmapBatch.shouldDefer(mm, fromCpu);
  }

  /** arch_tlbbatch_add_pending (X86UnmapBatch.addPending) */
  tlbbatchAddPending(mm: MmStruct, _vpn: number, _fromCpu: number): void {
    this.batch.addPending(mm);
  }

  /**
   * arch_tlbbatch_flush (see X86Tlb.tlbbatchFlush): an IPI to each other
   * non-lazy CPU of the batch, and on each CPU of it whose loaded mm is
   * behind its tlb_gen a CR3 reload (flush_tlb_local).
   */
  tlbbatchFlush(fromCpu: number): void {
    const mask = this.batch.cpumask;
    const remote = this.batch.hasRemote(fromCpu);
    for (const c of this.batch.sorted()) {
      if (!remote && c !== fromCpu) continue;
      const st = this.states[c];
      if (remote && st.isLazy) continue; // should_flush_tlb
      if (c !== fromCpu) {
        this.shootdowns++;
        st.shootdownsReceived++;
      }
      const mm = st.loadedMm;
      if (mm === null) continue;
      if (st.isLazy) this.loadKernel(c, this.kernelRootPfn());
      else if (st.ctxs[0].tlbGen !== mm.tlbGen) {
        const wasUser = st.inUser; // PTI: the IPI enters the kernel from user mode
        this.enterKernel(c);
        this.loadCr3(c, mm.pgdPfn);
        st.ctxs[0].tlbGen = mm.tlbGen;
        if (wasUser) this.exitToUser(c);
      }
    }
    if (mask.size > 0) this.batchFlushes++;
    mask.clear();
  }

  /** arch_flush_tlb_batched_pending: flush_tlb_mm (freed_tables: lazy CPUs too). */
  flushTlbBatchedPending(mm: MmStruct, fromCpu: number): void {
    this.flushTlbMmRange(mm, 0, Number.POSITIVE_INFINITY, fromCpu, TlbFlush.Tables);
  }

  /** flush_tlb_kernel_range on every CPU: INVLPG per page, else __flush_tlb_all (CR4.PGE off and on). */
  flushTlbKernelRange(startVpn: number, nrPages: number, fromCpu: number): void {
    for (const cpu of this.cpus) {
      if (cpu.id !== fromCpu) {
        this.shootdowns++;
        this.states[cpu.id].shootdownsReceived++;
      }
      // PTI: an IPI to a CPU in user mode enters the kernel (kernel CR3) and returns (user CR3)
      const wasUser = this.states[cpu.id].inUser;
      this.enterKernel(cpu.id);
      if (nrPages > TLB_SINGLE_PAGE_FLUSH_CEILING) {
        cpu.movToCr4({ pge: false });
        cpu.movToCr4({ pge: true });
      } else for (let i = 0; i < nrPages; i++) cpu.invlpg((startVpn + i) * 4096);
      if (wasUser) this.exitToUser(cpu.id);
    }
  }

  /** No PCIDs: every translation is tagged 0. */
  userAsid(_cpuId: number): number {
    return 0;
  }
}
