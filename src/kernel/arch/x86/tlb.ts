import { fromBig } from "../../../base/u64.ts";
import type { Vpn } from "../../../base/units.ts";
import type { Cpu } from "../../../hw/arch/x86_64/Cpu.ts";
import type { ArchTlb, CpuTlbState } from "../../core/core.ts";
import type { Vaddr } from "../../core/vaddr.ts";
import { TlbFlush } from "../../mm/arch.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { X86UnmapBatch } from "./tlbbatch.ts";

/** Dynamic ASIDs per CPU (arch/x86/mm/tlb.c TLB_NR_DYN_ASIDS). PCID = ASID + 1 (kern_pcid). */
export const TLB_NR_DYN_ASIDS = 6;
/** Above this many pages a range flush becomes a full flush (tlb_single_page_flush_ceiling). */
export const TLB_SINGLE_PAGE_FLUSH_CEILING = 33;

/** Per-CPU TLB state (Linux: struct tlb_state, cpu_tlbstate). */
export class TlbState implements CpuTlbState {
  /** the mm whose page tables CR3 points to; null = init_mm (the kernel's) */
  loadedMm: MmStruct | null = null;
  loadedAsid = 0;
  /** which mm each ASID slot last held, and how current its TLB entries are */
  readonly ctxs = Array.from({ length: TLB_NR_DYN_ASIDS }, () => ({ ctxId: 0, tlbGen: 0 }));
  nextAsid = 1;
  /** running a kernel thread on a borrowed mm (lazy TLB mode) */
  isLazy = false;
  contextSwitches = 0;
  /** flush IPIs this CPU received */
  shootdownsReceived = 0;
  /** full flushes of the current ASID done by switch_mm (a stale or new ASID) */
  switchFlushes = 0;
  /** PTI: the CPU runs user code on the user page tables (false: kernel CR3) */
  inUser = false;
  /** PTI: ASIDs whose user PCID must be flushed at the next return to user (user_pcid_flush_mask) */
  userPcidFlushMask = 0;
  /** PTI: CR3 writes on kernel entry and exit (SWITCH_TO_KERNEL_CR3 / SWITCH_TO_USER_CR3) */
  ptiCr3Writes = 0;
  /** PTI: returns to user that flushed the user PCID */
  ptiUserFlushes = 0;

  /**
   * SWITCH_TO_KERNEL_CR3's bookkeeping under PTI (x86-64 and i386 alike):
   * the CPU leaves user mode; returns the mm whose kernel PGD CR3 must now
   * hold (one CR3 write counted), or null when nothing is written (no PTI,
   * already in the kernel, init_mm loaded).
   */
  ptiEnter(pti: boolean): MmStruct | null {
    if (!pti || !this.inUser) return null;
    this.inUser = false;
    const mm = this.loadedMm;
    if (mm === null) return null;
    this.ptiCr3Writes++;
    return mm;
  }

  /**
   * SWITCH_TO_USER_CR3's bookkeeping under PTI: the CPU returns to user
   * mode; returns the mm whose user PGD CR3 must now hold (one CR3 write
   * counted), or null when nothing is written (no PTI, in user mode already,
   * init_mm, a kernel thread in lazy TLB mode).
   */
  ptiExit(pti: boolean): MmStruct | null {
    if (!pti || this.inUser) return null;
    const mm = this.loadedMm;
    if (mm === null || this.isLazy) return null;
    this.inUser = true;
    this.ptiCr3Writes++;
    return mm;
  }
}

/** PTI: the user page tables are the second page of the PGD allocation (PTI_USER_PGTABLE_BIT = 12). */
export const PTI_USER_PGTABLE_BIT = 12;
/** PTI: the user half of a PCID pair (X86_CR3_PTI_PCID_USER_BIT = 11). */
export const PTI_USER_PCID_BIT = 11;

/**
 * Address-space switching and TLB flushing for user mms on x86-64 (Linux:
 * arch/x86/mm/tlb.c). With PCIDs each CPU keeps up to six mms' translations
 * tagged by ASID; a switch back to an mm whose ASID slot is still current
 * (tlb_gen) loads CR3 with the no-flush bit. Without PCIDs every switch
 * flushes all non-global entries.
 */
export class X86Tlb implements ArchTlb {
  readonly states: TlbState[];
  /** flush IPIs sent */
  shootdowns = 0;
  /** broadcast TLB maintenance: none on x86 (flushes reach other CPUs by IPI) */
  readonly broadcasts = 0;
  /** called when a dead mm is no longer loaded anywhere (its PGD can be freed) */
  onMmUnloaded: ((mm: MmStruct) => void) | null = null;

  constructor(
    readonly cpus: Cpu[],
    readonly pcid: boolean,
    /** page-table isolation: two PGDs per mm, CR3 switched on every kernel entry and exit */
    readonly pti: boolean,
    /** canonical addresses, for INVLPG */
    private readonly va: Vaddr,
    /** init_mm's PGD (where a lazy CPU goes when tables are freed under it) */
    private readonly kernelRootPfn: () => number = () => -1,
  ) {
    this.states = cpus.map(() => new TlbState());
    // the lower half of the narrowest address space: an address there is canonical to every CPU
    // and to `va` alike (bit N-1 clear, nothing to sign-extend), and vpnOf gives its vpn back
    let limit = 2 ** (va.vaBits - 13);
    for (const c of cpus) limit = Math.min(limit, 2 ** ((c.la57 ? 57 : 48) - 13));
    this.pageVpnLimit = limit;
  }

  /**
   * A page below this is flushed by its page number (Cpu.invlpgPage): INVLPG of its canonical
   * address, which is the page number with twelve zero bits (flush_tlb_one_user's
   * invlpg(addr)); at or above it the address is made (canonicalHi, canonicalLo) and handed
   * to INVLPG whole.
   */
  private readonly pageVpnLimit: number;

  /**
   * invalidate_other_asid / clear_asid_other: under PTI kernel entries are
   * not global, so every ASID but the loaded one may hold a stale kernel
   * translation: forget them all (the next switch to them flushes).
   */
  invalidateOtherAsids(cpuId: number): void {
    const st = this.states[cpuId];
    st.ctxs.forEach((c, asid) => {
      if (asid !== st.loadedAsid || st.loadedMm === null) c.ctxId = 0;
    });
  }

  /** kern_pcid: the PCID of an ASID's kernel half (0 without PCIDs). */
  kernPcid(asid: number): number {
    return this.pcid ? asid + 1 : 0;
  }

  /** user_pcid: the same ASID's user half under PTI. */
  userPcid(asid: number): number {
    return this.pcid ? this.kernPcid(asid) | (1 << PTI_USER_PCID_BIT) : 0;
  }

  /** kernel entry and exit without PTI: nothing (core.ts TlbManager.entryQuiet) */
  entryQuiet(): boolean {
    return !this.pti;
  }

  /**
   * Kernel entry (a system call, exception or interrupt) on `cpuId`:
   * SWITCH_TO_KERNEL_CR3 loads the kernel PGD of the same mm with the
   * kernel PCID and the no-flush bit. Nothing without PTI.
   */
  enterKernel(cpuId: number): void {
    const st = this.states[cpuId];
    const mm = st.ptiEnter(this.pti);
    if (mm !== null) this.cpus[cpuId].loadCr3(mm.pgdPfn * 4096, this.kernPcid(st.loadedAsid), this.pcid);
  }

  /**
   * Return to user mode on `cpuId` (SWITCH_TO_USER_CR3): the user PGD
   * (PGD + 4 KiB) with the user PCID; no-flush unless a flush of this ASID's
   * user half was deferred (invalidate_user_asid). Nothing without PTI.
   */
  exitToUser(cpuId: number): void {
    const st = this.states[cpuId];
    const mm = st.ptiExit(this.pti);
    if (mm === null) return;
    const bit = 1 << st.loadedAsid;
    const flush = !this.pcid || (st.userPcidFlushMask & bit) !== 0;
    if (this.pcid && flush) st.ptiUserFlushes++;
    st.userPcidFlushMask &= ~bit;
    this.cpus[cpuId].loadCr3(
      mm.pgdPfn * 4096 + (1 << PTI_USER_PGTABLE_BIT),
      this.userPcid(st.loadedAsid),
      !flush,
    );
  }

  /**
   * switch_mm_irqs_off, and enter_lazy_tlb when `next` is null (a kernel
   * thread): the CPU keeps the previous mm loaded and becomes lazy.
   */
  switchMm(cpuId: number, next: MmStruct | null): void {
    this.enterKernel(cpuId); // schedule() runs in the kernel
    const st = this.states[cpuId];
    const cpu = this.cpus[cpuId];
    st.contextSwitches++;
    if (next === null) {
      if (st.loadedMm !== null) st.isLazy = true;
      return;
    }
    if (st.loadedMm === next) {
      st.isLazy = false;
      next.cpumask.add(cpuId);
      const ctx = st.ctxs[st.loadedAsid];
      if (ctx.tlbGen < next.tlbGen) {
        // flushes were requested while this CPU was lazy: catch up now
        this.loadCr3(cpu, next, st.loadedAsid, true);
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
    const { asid, needFlush } = this.chooseNewAsid(st, next);
    this.loadCr3(cpu, next, asid, needFlush);
    if (needFlush) st.switchFlushes++;
    st.ctxs[asid].ctxId = next.ctxId;
    st.ctxs[asid].tlbGen = next.tlbGen;
    st.loadedMm = next;
    st.loadedAsid = asid;
    st.isLazy = false;
    next.cpumask.add(cpuId);
  }

  /** choose_new_asid: the slot that already holds this mm (flush if stale), else the next slot round-robin. */
  private chooseNewAsid(st: TlbState, next: MmStruct): { asid: number; needFlush: boolean } {
    if (!this.pcid) return { asid: 0, needFlush: true };
    for (let asid = 0; asid < TLB_NR_DYN_ASIDS; asid++) {
      if (st.ctxs[asid].ctxId === next.ctxId) return { asid, needFlush: st.ctxs[asid].tlbGen < next.tlbGen };
    }
    let asid = st.nextAsid++;
    if (asid >= TLB_NR_DYN_ASIDS) {
      asid = 0;
      st.nextAsid = 1;
    }
    return { asid, needFlush: true };
  }

  /** load_new_mm_cr3: CR3 = PGD | PCID, with bit 63 (no flush) unless a flush is needed. */
  private loadCr3(cpu: Cpu, mm: MmStruct, asid: number, flush: boolean): void {
    // PTI: the user half's PCID is flushed at the next return to user (invalidate_user_asid)
    if (this.pti && flush) this.states[cpu.id].userPcidFlushMask |= 1 << asid;
    cpu.loadCr3(mm.pgdPfn * 4096, this.kernPcid(asid), this.pcid && !flush);
  }

  /** Returns the kernel's page tables (init_mm) to a CPU whose mm goes away while it runs a kernel thread. */
  loadKernel(cpuId: number, kernelRootPfn: number): void {
    this.enterKernel(cpuId);
    const st = this.states[cpuId];
    const prev = st.loadedMm;
    if (prev === null) return;
    prev.cpumask.delete(cpuId);
    this.cpus[cpuId].loadCr3(kernelRootPfn * 4096, 0, false);
    st.loadedMm = null;
    st.isLazy = false;
    if (prev.dead && prev.cpumask.size === 0) this.onMmUnloaded?.(prev);
  }

  /**
   * flush_tlb_mm_range: bump the mm's tlb_gen; every CPU that has the mm
   * loaded and is not lazy flushes now (an IPI unless it is `fromCpu`): one
   * INVLPG per page up to the ceiling, else a flush of the whole ASID. Lazy
   * CPUs and CPUs that merely cache the mm under an old ASID catch up when
   * they next switch to it (tlb_gen) — unless page tables were freed
   * (info->freed_tables): then the lazy CPUs get the IPI too, and
   * flush_tlb_func switches each to init_mm, so that no walk of theirs can
   * reach a freed table. A CPU more than one generation behind (a flush
   * deferred by reclaim's batch, arch_tlbbatch_add_pending, is still owed
   * to it) flushes its whole ASID instead of the pages: flush_tlb_func's
   * partial flush needs new_tlb_gen == local_tlb_gen + 1.
   * `stride` (stride_shift as pages: an mmu_gather that cleared only huge PMDs flushes with
   * PMD_SHIFT, tlb_get_unmap_shift): one INVLPG per stride, the ceiling counted in strides.
   * Linux: arch/x86/mm/tlb.c flush_tlb_mm_range, flush_tlb_func
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
    const mask = mm.cpumask;
    // the mm loaded on the flushing CPU alone (reclaim's try_to_unmap_one on one CPU, every
    // page): that CPU, without a Set iterator or look-up; else every CPU in the mask, in the
    // Set's order. A CPU is in mm.cpumask exactly when its loadedMm is mm (switchMm and
    // loadKernel change both together), so the one CPU is fromCpu.
    if (mask.size === 1) {
      const st = this.states[fromCpu];
      if (st?.loadedMm === mm) {
        // one page (flush_tlb_page: try_to_unmap_one's ptep_clear_flush, every page reclaim
        // unmaps), not lazy, no PTI, the ASID one generation behind: flush_tlb_func's partial
        // flush straight through, one INVLPG, as flushFunc does it for fromCpu
        if (
          nrPages === 1 &&
          !st.isLazy &&
          !this.pti &&
          startVpn >= 0 &&
          startVpn < this.pageVpnLimit &&
          st.ctxs[st.loadedAsid].tlbGen + 1 === mm.tlbGen
        ) {
          this.cpus[fromCpu].invlpgPage(startVpn as Vpn);
          st.ctxs[st.loadedAsid].tlbGen = mm.tlbGen;
          return;
        }
        this.flushFunc(mm, fromCpu, startVpn, nrPages, fromCpu, kind, stride);
        return;
      }
    }
    for (const cpuId of mask) this.flushFunc(mm, cpuId, startVpn, nrPages, fromCpu, kind, stride);
  }

  /**
   * flush_tlb_mm_range's part on one CPU of mm_cpumask: an IPI to it unless
   * it is `fromCpu`, then flush_tlb_func there (see flushTlbMmRange).
   * Linux: arch/x86/mm/tlb.c flush_tlb_func
   */
  private flushFunc(
    mm: MmStruct,
    cpuId: number,
    startVpn: number,
    nrPages: number,
    fromCpu: number,
    kind: TlbFlush,
    stride = 1,
  ): void {
    const st = this.states[cpuId];
    if (st.loadedMm !== mm) return;
    if (st.isLazy) {
      if (kind !== TlbFlush.Tables) return;
      if (cpuId !== fromCpu) {
        this.shootdowns++;
        st.shootdownsReceived++;
      }
      this.loadKernel(cpuId, this.kernelRootPfn());
      return;
    }
    if (cpuId !== fromCpu) {
      this.shootdowns++;
      st.shootdownsReceived++;
    }
    const cpu = this.cpus[cpuId];
    // PTI: the flush IPI interrupts user code: kernel CR3 in, user CR3 out
    const wasUser = st.inUser;
    this.enterKernel(cpuId);
    const ctx = st.ctxs[st.loadedAsid];
    // flush_tlb_mm_range: ((end - start) >> stride_shift) > tlb_single_page_flush_ceiling: everything
    if (Math.floor(nrPages / stride) <= TLB_SINGLE_PAGE_FLUSH_CEILING && ctx.tlbGen + 1 === mm.tlbGen) {
      const userPcid = this.pti && this.pcid ? this.userPcid(st.loadedAsid) : -1;
      if (userPcid === -1 && startVpn >= 0 && startVpn + nrPages <= this.pageVpnLimit) {
        // INVLPG by page number (Cpu.invlpgPage): the same as of the canonical address
        for (let i = 0; i < nrPages; i += stride) cpu.invlpgPage((startVpn + i) as Vpn);
      } else
        for (let i = 0; i < nrPages; i += stride) {
          const hi = this.va.canonicalHi(startVpn + i);
          const lo = this.va.canonicalLo(startVpn + i);
          cpu.invlpg(hi, lo);
          // flush_tlb_one_user: INVLPG reaches only the current (kernel) PCID; the user PCID by INVPCID
          if (userPcid !== -1) cpu.invpcid(0, userPcid, hi, lo);
        }
    } else {
      this.loadCr3(cpu, mm, st.loadedAsid, true);
    }
    ctx.tlbGen = mm.tlbGen;
    if (wasUser) this.exitToUser(cpuId);
  }

  /** the reclaiming task's arch_tlbflush_unmap_batch */
  private readonly batch = new X86UnmapBatch();
  /** arch_tlbbatch_flush calls that flushed (locally or by IPIs) */
  batchFlushes = 0;

  /** arch_tlbbatch_should_defer (X86UnmapBatch.shouldDefer) */
  tlbbatchShouldDefer(mm: MmStruct, fromCpu: number): boolean {
    // the mm loaded on fromCpu alone (reclaim on one CPU, every page unmapped): no other CPU is in
    // the mask (a CPU is in it exactly when its loadedMm is mm, as flushTlbMmRange relies on), so
    // no deferral, without the Set look-up
    if (mm.cpumask.size === 1 && this.states[fromCpu]?.loadedMm === mm) return false;
    return X86UnmapBatch.shouldDefer(mm, fromCpu);
  }

  /** arch_tlbbatch_add_pending (X86UnmapBatch.addPending) */
  tlbbatchAddPending(mm: MmStruct, _vpn: number, _fromCpu: number): void {
    this.batch.addPending(mm);
  }

  /**
   * arch_tlbbatch_flush: a flush of everything (TLB_FLUSH_ALL, info->mm
   * NULL) on the batch's CPUs: flush_tlb_multi when a CPU other than
   * `fromCpu` is in it (an IPI to each such CPU not in lazy TLB mode:
   * should_flush_tlb; `fromCpu` itself too when in it), else flush_tlb_func
   * here if `fromCpu` is in it; then the cpumask is cleared.
   * Linux: arch/x86/mm/tlb.c arch_tlbbatch_flush, native_flush_tlb_multi
   */
  tlbbatchFlush(fromCpu: number): void {
    const mask = this.batch.cpumask;
    const remote = this.batch.hasRemote(fromCpu);
    if (remote) {
      for (const c of this.batch.sorted()) {
        if (this.states[c].isLazy) continue; // should_flush_tlb: a lazy CPU catches up at its next switch
        if (c !== fromCpu) {
          this.shootdowns++;
          this.states[c].shootdownsReceived++;
        }
        this.flushAllFunc(c);
      }
    } else if (mask.has(fromCpu)) this.flushAllFunc(fromCpu);
    if (mask.size > 0) this.batchFlushes++;
    mask.clear();
  }

  /**
   * flush_tlb_func with info->mm NULL and end TLB_FLUSH_ALL on `cpuId`: the
   * mm loaded there, if it is behind its tlb_gen, loses every translation of
   * its ASID (flush_tlb_local) and catches up; a lazy CPU switches to init_mm.
   */
  private flushAllFunc(cpuId: number): void {
    const st = this.states[cpuId];
    const mm = st.loadedMm;
    if (mm === null) return; // loaded_mm == &init_mm
    if (st.isLazy) {
      this.loadKernel(cpuId, this.kernelRootPfn());
      return;
    }
    const ctx = st.ctxs[st.loadedAsid];
    if (ctx.tlbGen === mm.tlbGen) return; // up to date already
    // PTI: an IPI interrupts user code: kernel CR3 in, user CR3 out
    const wasUser = st.inUser;
    this.enterKernel(cpuId);
    this.loadCr3(this.cpus[cpuId], mm, st.loadedAsid, true);
    ctx.tlbGen = mm.tlbGen;
    if (wasUser) this.exitToUser(cpuId);
  }

  /**
   * arch_flush_tlb_batched_pending: flush_tlb_mm(mm), i.e. flush_tlb_mm_range
   * of everything with freed_tables set (lazy CPUs are reached too).
   */
  flushTlbBatchedPending(mm: MmStruct, fromCpu: number): void {
    this.flushTlbMmRange(mm, 0, Number.POSITIVE_INFINITY, fromCpu, TlbFlush.Tables);
  }

  /**
   * flush_tlb_kernel_range on every CPU (on_each_cpu: an IPI to each other
   * CPU): do_kernel_range_flush's flush_tlb_one_kernel per page up to
   * tlb_single_page_flush_ceiling (33), else do_flush_tlb_all (INVPCID of
   * everything, globals included). flush_tlb_one_kernel is
   * flush_tlb_one_user: INVLPG in the current PCID and, under PTI with
   * PCIDs, INVPCID of the address in the user PCID; then, under PTI, whose
   * kernel entries are not global, invalidate_other (other ASIDs may cache
   * them too). Under PTI an IPI that finds a CPU in user mode enters the
   * kernel and returns (SWITCH_TO_KERNEL_CR3, SWITCH_TO_USER_CR3): without
   * PCIDs both CR3 writes flush its non-global entries, user ones included.
   * Linux: arch/x86/mm/tlb.c flush_tlb_kernel_range, do_kernel_range_flush,
   * flush_tlb_one_kernel, native_flush_tlb_one_user; arch/x86/entry/calling.h
   */
  flushTlbKernelRange(startVpn: number, nrPages: number, fromCpu: number): void {
    for (const cpu of this.cpus) {
      const st = this.states[cpu.id];
      if (cpu.id !== fromCpu) {
        this.shootdowns++;
        st.shootdownsReceived++;
      }
      const wasUser = st.inUser;
      this.enterKernel(cpu.id);
      if (nrPages > TLB_SINGLE_PAGE_FLUSH_CEILING) cpu.invpcid(2, 0);
      else {
        const userPcid = this.pti && this.pcid ? this.userPcid(st.loadedAsid) : -1; // loaded_mm_asid's
        for (let i = 0; i < nrPages; i++) {
          const { hi, lo } = fromBig(this.va.canonical(startVpn + i));
          cpu.invlpg(hi, lo);
          if (userPcid !== -1) cpu.invpcid(0, userPcid, hi, lo);
        }
        if (this.pti) this.invalidateOtherAsids(cpu.id);
      }
      if (wasUser) this.exitToUser(cpu.id);
    }
  }

  /** The PCID user translations carry on `cpuId`: the user PCID under PTI, else the current one. */
  userAsid(cpuId: number): number {
    return this.pti ? this.userPcid(this.states[cpuId].loadedAsid) : this.cpus[cpuId].pcid;
  }
}
