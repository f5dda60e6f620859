/**
 * Address-space switching and TLB maintenance of RISC-V Linux, executed on
 * the machine's harts (v6.12 arch/riscv/mm/context.c switch_mm, set_mm,
 * set_mm_asid; arch/riscv/mm/tlbflush.c; arch/riscv/kernel/sbi.c
 * sbi_remote_sfence_vma_asid; arch/riscv/include/asm/tlb.h tlb_flush).
 *
 * SFENCE.VMA reaches only the hart that executes it. A flush of an mm goes
 * to the harts in mm_cpumask, which with ASIDs keeps the footmark of every
 * hart that ever ran the mm ("keep all CPUs footmarks in cpumask() until
 * mm reset": a switch away flushes nothing, so their TLBs may still hold
 * the mm's entries under its ASID). When that is the flushing hart alone,
 * the flush is local; otherwise it is remote, in one of two ways
 * (riscv_use_sbi_for_rfence()):
 *
 *   sbi  one SBI call, sbi_remote_sfence_vma_asid(mask, start, size, asid):
 *        the SBI implementation (OpenSBI) interrupts each other hart in the
 *        mask with an M-mode IPI and fences there: one SFENCE.VMA per page
 *        when the range is at most its tlb_range_flush_limit (4 KiB by
 *        default), else one for the whole ASID;
 *   ipi  on_each_cpu_mask: Linux's own IPIs, each hart running
 *        local_flush_tlb_range_asid: one SFENCE.VMA per page up to
 *        tlb_flush_all_threshold (64) pages, else one for the whole ASID.
 *
 * Either way each other hart reached counts as a shootdown (sent and
 * received); `sbiFences` counts the SBI calls.
 *
 * vmlab's `shootdowns` of x86 are IPIs; here they are the IPIs a flush
 * costs whichever way it is sent.
 */
import type { RiscvCpu } from "../../../hw/arch/riscv/Cpu.ts";
import type { ArchTlb, CpuTlbState } from "../../core/core.ts";
import type { Vaddr } from "../../core/vaddr.ts";
import { TlbFlush } from "../../mm/arch.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { RiscvAsidAllocator, type RiscvMmContext, SATP_ASID_BITS_32 } from "./context.ts";

/** tlb_flush_all_threshold: above this many pages a local range flush drops the whole ASID */
export const TLB_FLUSH_ALL_THRESHOLD = 64;
/** OpenSBI's default tlb_range_flush_limit (bytes): a larger remote range is fenced whole */
export const SBI_TLB_RANGE_FLUSH_LIMIT = 4096;
/** FLUSH_TLB_NO_ASID: a kernel-range flush (every address space, global entries too) */
export const FLUSH_TLB_NO_ASID = -1;

/** How remote fences are sent: SBI calls (the default) or Linux's IPIs. */
export type Rfence = "sbi" | "ipi";

/** Per-hart state, as ArchTlb shows it. */
export class RiscvTlbState implements CpuTlbState {
  loadedMm: MmStruct | null = null;
  loadedAsid = 0;
  isLazy = false;
  contextSwitches = 0;
  /** remote fences this hart took (an SBI implementation's IPI or Linux's) */
  shootdownsReceived = 0;
  /** local_flush_tlb_all done by set_mm_asid after a rollover (or every switch without ASIDs) */
  switchFlushes = 0;
  readonly ptiCr3Writes = 0;
  readonly ptiUserFlushes = 0;
}

/** The local fence of one flush request on one hart: what local_flush_tlb_range_asid issues. */
interface FlushRequest {
  startVpn: number;
  /** pages; Infinity for FLUSH_TLB_MAX_SIZE (flush_tlb_mm, flush_tlb_all) */
  pages: number;
  /** pages per stride (1; 512 for flush_pmd_tlb_range) */
  stride: number;
  asid: number;
}

export class RiscvTlb implements ArchTlb {
  readonly states: RiscvTlbState[];
  /** remote fences: each other hart a flush reached */
  shootdowns = 0;
  /** no broadcast TLB maintenance on RISC-V */
  readonly broadcasts = 0;
  /** sbi_remote_sfence_vma(_asid) calls */
  sbiFences = 0;
  onMmUnloaded: ((mm: MmStruct) => void) | null = null;
  readonly asids: RiscvAsidAllocator;
  private readonly contexts = new WeakMap<MmStruct, RiscvMmContext>();
  /** mm_cpumask as Linux keeps it with ASIDs: every hart that ran the mm (MmStruct.cpumask: the harts that have it loaded) */
  private readonly footmarks = new WeakMap<MmStruct, Set<number>>();
  /** flushTlbMmRange's request, reused: one flush is done before the next begins */
  private readonly request: FlushRequest = { startVpn: 0, pages: 0, stride: 1, asid: 0 };

  constructor(
    readonly cpus: readonly RiscvCpu[],
    private readonly va: Vaddr,
    readonly rfence: Rfence = "sbi",
    asidBits = 16,
  ) {
    this.states = cpus.map(() => new RiscvTlbState());
    // asids_init on an RV32 hart: satp's ASID field has 9 bits (SATP_ASID_BITS 9)
    const rv32 = cpus.length > 0 && cpus[0].rv32;
    this.pmdPages = rv32 ? 1024 : 512;
    this.asids = rv32
      ? new RiscvAsidAllocator(Math.min(asidBits, SATP_ASID_BITS_32), cpus.length, SATP_ASID_BITS_32)
      : new RiscvAsidAllocator(asidBits, cpus.length);
  }

  /** a PMD's pages (flush_pmd_tlb_range's stride): 512, RV32's 1024 (a 4 MiB PGD leaf) */
  private readonly pmdPages: number;

  get asidRollovers(): number {
    return this.asids.rollovers;
  }

  /** mm->context */
  context(mm: MmStruct): RiscvMmContext {
    let c = this.contexts.get(mm);
    if (c === undefined) {
      c = { id: 0 };
      this.contexts.set(mm, c);
    }
    return c;
  }

  /** mm_cpumask(mm) with footmarks */
  mmCpumask(mm: MmStruct): Set<number> {
    let s = this.footmarks.get(mm);
    if (s === undefined) {
      s = new Set();
      this.footmarks.set(mm, s);
    }
    return s;
  }

  /** get_mm_asid */
  asidOf(mm: MmStruct): number {
    return this.asids.useAsidAllocator ? this.asids.asid(this.context(mm).id) : FLUSH_TLB_NO_ASID;
  }

  /** No page-table isolation on RISC-V: kernel entry and exit change nothing of satp. */
  enterKernel(_cpuId: number): void {}
  exitToUser(_cpuId: number): void {}

  private unload(cpuId: number, prev: MmStruct): void {
    prev.cpumask.delete(cpuId);
    if (prev.dead && prev.cpumask.size === 0) this.onMmUnloaded?.(prev);
  }

  /**
   * switch_mm (prev != next): the footmark set, then set_mm: with ASIDs
   * set_mm_asid (satp = PGD | ASID | MODE, local_flush_tlb_all only after
   * a rollover); without, set_mm_noasid (satp with ASID 0, then a full
   * local flush), and the footmark of prev cleared. enter_lazy_tlb for a
   * kernel thread (null): nothing, satp keeps the previous mm.
   */
  switchMm(cpuId: number, next: MmStruct | null): void {
    const st = this.states[cpuId];
    st.contextSwitches++;
    if (next === null) {
      if (st.loadedMm !== null) st.isLazy = true;
      return;
    }
    st.isLazy = false;
    if (st.loadedMm === next) return;
    const prev = st.loadedMm;
    const cpu = this.cpus[cpuId];
    this.mmCpumask(next).add(cpuId);
    let asid = 0;
    if (this.asids.useAsidAllocator) {
      const r = this.asids.setMmAsid(this.context(next), cpuId);
      asid = r.asid;
      cpu.loadSatp(cpu.satpMode, asid, next.pgdPfn * 4096);
      if (r.flushAll) {
        cpu.sfenceVma(null, null); // local_flush_tlb_all
        st.switchFlushes++;
      }
    } else {
      if (prev !== null) this.mmCpumask(prev).delete(cpuId);
      cpu.loadSatp(cpu.satpMode, 0, next.pgdPfn * 4096);
      cpu.sfenceVma(null, null);
      st.switchFlushes++;
    }
    if (prev !== null) this.unload(cpuId, prev);
    st.loadedMm = next;
    st.loadedAsid = asid;
    next.cpumask.add(cpuId);
  }

  /** A hart leaves an mm that is going away: satp = swapper_pg_dir with ASID 0. */
  loadKernel(cpuId: number, kernelRootPfn: number): void {
    const st = this.states[cpuId];
    const prev = st.loadedMm;
    if (prev === null) return;
    const cpu = this.cpus[cpuId];
    cpu.loadSatp(cpu.satpMode, 0, kernelRootPfn * 4096);
    st.loadedMm = null;
    st.loadedAsid = 0;
    st.isLazy = false;
    this.unload(cpuId, prev);
  }

  /** local_flush_tlb_range_asid on one hart (the IPI handler's body, and the local case). */
  private localFlush(cpu: RiscvCpu, f: FlushRequest): void {
    const asid = f.asid === FLUSH_TLB_NO_ASID ? null : f.asid;
    if (f.pages <= f.stride) this.sfencePage(cpu, f.startVpn, asid);
    else if (f.pages === Number.POSITIVE_INFINITY || Math.ceil(f.pages / f.stride) > TLB_FLUSH_ALL_THRESHOLD)
      cpu.sfenceVma(null, asid); // local_flush_tlb_all_asid (x0, x0 without an ASID)
    else for (let v = f.startVpn; v < f.startVpn + f.pages; v += f.stride) this.sfencePage(cpu, v, asid);
  }

  /** What OpenSBI's sbi_tlb_local_sfence_vma(_asid) does on one hart for the request. */
  private sbiLocalFlush(cpu: RiscvCpu, f: FlushRequest): void {
    const asid = f.asid === FLUSH_TLB_NO_ASID ? null : f.asid;
    if (f.pages * 4096 > SBI_TLB_RANGE_FLUSH_LIMIT) cpu.sfenceVma(null, asid);
    else for (let v = f.startVpn; v < f.startVpn + f.pages; v++) this.sfencePage(cpu, v, asid);
  }

  /** SFENCE.VMA va, asid (local_flush_tlb_page_asid) or va, x0 (local_flush_tlb_page). */
  private sfencePage(cpu: RiscvCpu, vpn: number, asid: number | null): void {
    cpu.sfenceVmaVa(this.va.canonicalHi(vpn), this.va.canonicalLo(vpn), asid);
  }

  /**
   * __flush_tlb_range(cmask, asid, start, size, stride): nothing for an
   * empty mask; the local flush when no other hart is in it
   * (cpumask_any_but); else sbi_remote_sfence_vma_asid or on_each_cpu_mask.
   */
  private flushRange(mask: Set<number>, fromCpu: number, f: FlushRequest): void {
    if (mask.size === 0) return;
    // the local case (the mask is the flushing hart alone) without an array: a fault's or reclaim's flush
    if (mask.size === 1 && mask.has(fromCpu)) {
      this.localFlush(this.cpus[fromCpu], f);
      return;
    }
    const targets = [...mask].sort((a, b) => a - b);
    const sbi = this.rfence === "sbi";
    if (sbi) this.sbiFences++;
    for (const c of targets) {
      if (c !== fromCpu) {
        this.shootdowns++;
        this.states[c].shootdownsReceived++;
      }
      if (sbi) this.sbiLocalFlush(this.cpus[c], f);
      else this.localFlush(this.cpus[c], f);
    }
  }

  /**
   * flush_tlb_page (one page), flush_tlb_range (stride PAGE_SIZE),
   * flush_pmd_tlb_range (TlbFlush.Pmd: stride PMD_SIZE), or an mmu_gather's
   * tlb_flush: flush_tlb_mm when it freed page tables (the whole ASID, so
   * that cached non-leaf entries go too), else flush_tlb_mm_range with the gather's
   * tlb_get_unmap_size (`stride`).
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
    const asid = this.asidOf(mm);
    const f = this.request;
    if (kind === TlbFlush.Tables) {
      f.startVpn = 0;
      f.pages = Number.POSITIVE_INFINITY;
      f.stride = 1;
    } else {
      f.startVpn = startVpn;
      f.pages = nrPages;
      f.stride = kind === TlbFlush.Pmd ? this.pmdPages : stride;
    }
    f.asid = asid;
    this.flushRange(this.mmCpumask(mm), fromCpu, f);
  }

  /** the reclaiming task's arch_tlbflush_unmap_batch: the harts its deferred flushes must reach */
  private readonly batchMask = new Set<number>();
  /** arch_tlbbatch_flush calls with harts to flush */
  batchFlushes = 0;

  /** arch_tlbbatch_should_defer: always. Linux: arch/riscv/mm/tlbflush.c */
  tlbbatchShouldDefer(_mm: MmStruct, _fromCpu: number): boolean {
    return true;
  }

  /** arch_tlbbatch_add_pending: mm_cpumask(mm) (with footmarks) joins the batch's cpumask; nothing is fenced yet. */
  tlbbatchAddPending(mm: MmStruct, _vpn: number, _fromCpu: number): void {
    for (const c of this.mmCpumask(mm)) this.batchMask.add(c);
  }

  /**
   * arch_tlbbatch_flush: __flush_tlb_range(&batch->cpumask,
   * FLUSH_TLB_NO_ASID, 0, FLUSH_TLB_MAX_SIZE, PAGE_SIZE): every hart of the
   * batch drops everything, every ASID (SFENCE.VMA x0, x0; remote harts by
   * one SBI call or IPIs), then the cpumask is cleared.
   */
  tlbbatchFlush(fromCpu: number): void {
    const mask = this.batchMask;
    if (mask.size > 0) this.batchFlushes++;
    this.flushRange(mask, fromCpu, {
      startVpn: 0,
      pages: Number.POSITIVE_INFINITY,
      stride: 1,
      asid: FLUSH_TLB_NO_ASID,
    });
    mask.clear();
  }

  /** arch_flush_tlb_batched_pending: flush_tlb_mm(mm) (its ASID, everything, on mm_cpumask). */
  flushTlbBatchedPending(mm: MmStruct, fromCpu: number): void {
    this.flushTlbMmRange(mm, 0, Number.POSITIVE_INFINITY, fromCpu, TlbFlush.Tables);
  }

  /** flush_tlb_kernel_range: every online hart, FLUSH_TLB_NO_ASID (global entries too). */
  flushTlbKernelRange(startVpn: number, nrPages: number, fromCpu: number): void {
    this.flushRange(new Set(this.cpus.map((c) => c.id)), fromCpu, {
      startVpn,
      pages: nrPages,
      stride: 1,
      asid: FLUSH_TLB_NO_ASID,
    });
  }

  /** The ASID user translations carry on `cpuId`: satp's. */
  userAsid(cpuId: number): number {
    return this.cpus[cpuId].asid;
  }
}
