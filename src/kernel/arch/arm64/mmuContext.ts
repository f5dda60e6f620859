/**
 * Address-space switching and TLB maintenance of arm64 Linux, executed on
 * the machine's CPUs (arch/arm64/include/asm/mmu_context.h switch_mm,
 * arch/arm64/mm/context.c check_and_switch_context, asm/tlbflush.h): the
 * ASID comes from the allocator (context.ts), a switch writes TTBR0_EL1
 * with it and flushes nothing unless a rollover asks for it, and every
 * flush is a TLBI ...IS that the hardware broadcasts to all CPUs (tlb.ts
 * decides which ones): no IPIs, no mm_cpumask walk, nothing for lazy CPUs
 * to catch up on.
 */
import type { Arm64Cpu, TlbiOp as HwTlbiOp } from "../../../hw/arch/arm64/Cpu.ts";
import type { ArchTlb, CpuTlbState } from "../../core/core.ts";
import { TlbFlush } from "../../mm/arch.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { AsidAllocator, type AsidContext } from "./context.ts";
import { flushTlbKernelRange, flushTlbRange, type TlbiOp } from "./tlb.ts";

const TWO20 = 1048576;
/** the page-number bit of TTBR1's range */
const TTBR1_VPN = 2 ** 36;

/** Per-CPU state, as ArchTlb shows it. */
export class Arm64TlbState implements CpuTlbState {
  loadedMm: MmStruct | null = null;
  loadedAsid = 0;
  isLazy = false;
  contextSwitches = 0;
  /** always 0: nothing interrupts a CPU to flush its TLB */
  readonly shootdownsReceived = 0;
  /** local_flush_tlb_all done by check_and_switch_context after a rollover */
  switchFlushes = 0;
  /** KPTI: TTBR1_EL1 switches on kernel entry and exit (tramp_map_kernel / tramp_unmap_kernel) */
  ptiCr3Writes = 0;
  /** never: the user ASID's entries need no deferred flush (every TLBI is issued for both ASIDs) */
  readonly ptiUserFlushes = 0;
  /** KPTI: the CPU is at EL0, TTBR1 holds tramp_pg_dir */
  inUser = false;
}

/** KPTI's tables: what TTBR1_EL1 holds in the kernel and at EL0. */
export interface Arm64Kpti {
  /** swapper_pg_dir */
  swapperPfn(): number;
  /** tramp_pg_dir: the trampoline vectors only */
  trampPfn(): number;
}

/** The operand of a TLBI by VA for page `vpn` (either range): VA's high and low words. */
function vaHi(vpn: number): number {
  const ttbr1 = vpn >= TTBR1_VPN;
  const v = ttbr1 ? vpn - TTBR1_VPN : vpn;
  return ((ttbr1 ? 0xffff0000 : 0) | (Math.floor(v / TWO20) & 0xffff)) >>> 0;
}
function vaLo(vpn: number): number {
  return ((vpn % TWO20) * 4096) >>> 0;
}

/** The hardware's name of a Linux TLBI operation (its Inner Shareable form is issued with tlbiIs). */
function hwOp(op: TlbiOp["op"]): HwTlbiOp {
  switch (op) {
    case "VALE1IS":
      return "vale1";
    case "VAE1IS":
      return "vae1";
    case "ASIDE1IS":
      return "aside1";
    case "VAALE1IS":
      return "vaale1";
    case "VAAE1IS":
      return "vaae1";
    case "VMALLE1IS":
    case "VMALLE1":
      return "vmalle1";
    default:
      // the range operations go to the CPU's tlbiRangeIs (issue)
      throw new Error(`arm64: TLBI ${op} is a range operation`);
  }
}

/**
 * arm64's ArchTlb: switch_mm through the ASID allocator, flushes as
 * broadcast TLBIs from the CPU that runs the flush.
 */
export class Arm64Tlb implements ArchTlb {
  readonly states: Arm64TlbState[];
  /** flush IPIs sent: none, ever (TLB maintenance is broadcast by hardware) */
  shootdowns = 0;
  /** TLBI ...IS instructions issued */
  broadcasts = 0;
  onMmUnloaded: ((mm: MmStruct) => void) | null = null;
  readonly asids: AsidAllocator;
  /** each mm's context (mm->context.id) */
  private readonly contexts = new WeakMap<MmStruct, AsidContext>();

  constructor(
    readonly cpus: readonly Arm64Cpu[],
    /** reserved_pg_dir: the empty table TTBR0 holds while no user mm is loaded */
    private readonly reservedPgPfn: number,
    asidBits: 8 | 16 = 16,
    /** arm64_kernel_unmapped_at_el0(): KPTI's tables, or null */
    private readonly kpti: Arm64Kpti | null = null,
    /** system_supports_tlb_range(): FEAT_TLBIRANGE (`machine tlbi_range=on`) */
    tlbRange = false,
  ) {
    this.states = cpus.map(() => new Arm64TlbState());
    this.asids = new AsidAllocator({ asidBits, nrCpus: cpus.length, kpti: kpti !== null });
    this.features = { kpti: kpti !== null, tlbRange };
  }

  /** what tlb.ts's flushes issue: under KPTI each ASID operation again for the user ASID; range TLBIs */
  private readonly features: { kpti: boolean; tlbRange: boolean };

  /** ASID rollovers so far (new generations: each flushes every CPU's TLB at its next switch) */
  get asidRollovers(): number {
    return this.asids.rollovers;
  }

  /** mm->context */
  context(mm: MmStruct): AsidContext {
    let c = this.contexts.get(mm);
    if (c === undefined) {
      c = { id: 0 };
      this.contexts.set(mm, c);
    }
    return c;
  }

  /** ASID(mm) */
  asidOf(mm: MmStruct): number {
    return this.context(mm).id & 0xffff;
  }

  /**
   * Kernel entry on `cpuId`: under KPTI the exception vectors' tramp_map_kernel
   * points TTBR1_EL1 back at swapper_pg_dir with the kernel (even) ASID.
   * Nothing without KPTI.
   */
  /** kernel entry and exit without KPTI: nothing (core.ts TlbManager.entryQuiet) */
  entryQuiet(): boolean {
    return this.kpti === null;
  }

  enterKernel(cpuId: number): void {
    const st = this.states[cpuId];
    if (this.kpti === null || !st.inUser) return;
    st.inUser = false;
    st.ptiCr3Writes++;
    this.cpus[cpuId].loadTtbr1(this.kpti.swapperPfn() * 4096, st.loadedAsid & ~1);
  }

  /**
   * Return to EL0 on `cpuId`: under KPTI tramp_exit's tramp_unmap_kernel
   * points TTBR1_EL1 at tramp_pg_dir with the user ASID (USER_ASID_FLAG:
   * ASID | 1): at EL0 nothing of the kernel but the trampoline is mapped, and
   * user translations are tagged with the user ASID. Nothing without KPTI.
   */
  exitToUser(cpuId: number): void {
    const st = this.states[cpuId];
    if (this.kpti === null || st.inUser) return;
    if (st.loadedMm === null || st.isLazy) return;
    st.inUser = true;
    st.ptiCr3Writes++;
    this.cpus[cpuId].loadTtbr1(this.kpti.trampPfn() * 4096, st.loadedAsid | 1);
  }

  /** KPTI: the table TTBR1_EL1 holds at EL0 (tramp_pg_dir), or -1 */
  userKernelRootPfn(): number {
    return this.kpti === null ? -1 : this.kpti.trampPfn();
  }

  /**
   * switch_mm (prev != next: __switch_mm -> check_and_switch_context, then
   * cpu_switch_mm: TTBR0_EL1 = the PGD with the ASID), or enter_lazy_tlb
   * for a kernel thread (null): nothing, TTBR0 keeps the previous mm.
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
    if (prev !== null) {
      prev.cpumask.delete(cpuId);
      if (prev.dead && prev.cpumask.size === 0) this.onMmUnloaded?.(prev);
    }
    const cpu = this.cpus[cpuId];
    const r = this.asids.checkAndSwitchContext(this.context(next), cpuId);
    if (r.flushAll) {
      cpu.tlbi("vmalle1"); // local_flush_tlb_all
      st.switchFlushes++;
    }
    // cpu_switch_mm -> cpu_do_switch_mm: the ASID into TTBR1_EL1 (TCR_EL1.A1), the PGD into TTBR0_EL1
    cpu.switchTtbr0(next.pgdPfn * 4096, r.asid);
    st.loadedMm = next;
    st.loadedAsid = r.asid;
    next.cpumask.add(cpuId);
  }

  /** Issues Linux's TLBIs from `fromCpu` (Inner Shareable: every CPU drops the entries). */
  private issue(fromCpu: number, ops: readonly TlbiOp[]): void {
    const cpu = this.cpus[fromCpu];
    for (const o of ops) {
      const vpn = o.vpn ?? 0;
      if (o.op === "VMALLE1") cpu.tlbi("vmalle1");
      else if (o.op === "RVAE1IS" || o.op === "RVALE1IS") {
        cpu.tlbiRangeIs(
          o.op === "RVAE1IS" ? "rvae1" : "rvale1",
          vaHi(vpn),
          vaLo(vpn),
          o.pages ?? 1,
          o.asid ?? 0,
        );
        this.broadcasts++;
      } else {
        cpu.tlbiIs(hwOp(o.op), vaHi(vpn), vaLo(vpn), o.asid ?? 0);
        this.broadcasts++;
      }
    }
  }

  /**
   * flush_tlb_page (TLBI VALE1IS), flush_tlb_range (__flush_tlb_range with
   * last_level false: VAE1IS per page, ASIDE1IS from MAX_DVM_OPS pages; with
   * FEAT_TLBIRANGE RVAE1IS ranges, ASIDE1IS above MAX_TLBI_RANGE_PAGES),
   * flush_pmd_tlb_range (stride PMD_SIZE, 512 pages of the 4K granule), or
   * an mmu_gather's tlb_flush (last_level = !tlb->freed_tables, stride tlb_get_unmap_size:
   * a PMD's 512 pages when only huge PMDs were cleared).
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
    if (kind === TlbFlush.Page && nrPages === 1) {
      // flush_tlb_page (tlb.ts flushTlbPage: every fault's and every unmapped page's) without its list:
      // TLBI VALE1IS, and under KPTI the same for the user ASID (__tlbi_user)
      const cpu = this.cpus[fromCpu];
      cpu.tlbiIs("vale1", vaHi(startVpn), vaLo(startVpn), asid);
      this.broadcasts++;
      if (this.features.kpti) {
        cpu.tlbiIs("vale1", vaHi(startVpn), vaLo(startVpn), asid | 1);
        this.broadcasts++;
      }
      return;
    }
    const lastLevel = kind === TlbFlush.Page || kind === TlbFlush.Leaves;
    this.issue(
      fromCpu,
      kind === TlbFlush.Pmd // flush_pmd_tlb_range: __flush_tlb_range(..., PMD_SIZE, false, 2)
        ? flushTlbRange(asid, startVpn, startVpn + nrPages, 512, false, 2, this.features)
        : flushTlbRange(asid, startVpn, startVpn + nrPages, stride, lastLevel, undefined, this.features),
    );
  }

  /** DSB ISH waits that completed reclaim's batched TLBIs (arch_tlbbatch_flush, arch_flush_tlb_batched_pending) */
  batchFlushes = 0;

  /**
   * arch_tlbbatch_should_defer: always (vmlab's CPUs need no
   * ARM64_WORKAROUND_REPEAT_TLBI). Linux: arch/arm64/include/asm/tlbflush.h
   */
  tlbbatchShouldDefer(_mm: MmStruct, _fromCpu: number): boolean {
    return true;
  }

  /**
   * arch_tlbbatch_add_pending: __flush_tlb_page_nosync, the TLBI VALE1IS
   * of flush_tlb_page (and the user ASID's under KPTI) without the DSB ISH
   * that waits for it. vmlab's TLBI takes effect when issued, so the page
   * is gone from every TLB now, as after Linux's later DSB.
   */
  tlbbatchAddPending(mm: MmStruct, vpn: number, fromCpu: number): void {
    this.flushTlbMmRange(mm, vpn, 1, fromCpu, TlbFlush.Page);
  }

  /** arch_tlbbatch_flush: dsb(ish), waiting for every TLBI issued since (counted in batchFlushes). */
  tlbbatchFlush(_fromCpu: number): void {
    this.batchFlushes++;
  }

  /** arch_flush_tlb_batched_pending: dsb(ish). */
  flushTlbBatchedPending(_mm: MmStruct, _fromCpu: number): void {
    this.batchFlushes++;
  }

  /** flush_tlb_kernel_range: VAALE1IS per page, VMALLE1IS above MAX_DVM_OPS. */
  flushTlbKernelRange(startVpn: number, nrPages: number, fromCpu: number): void {
    this.issue(fromCpu, flushTlbKernelRange(startVpn, startVpn + nrPages));
  }

  /** switch_mm to init_mm: cpu_set_reserved_ttbr0 (the empty table, ASID 0). */
  loadKernel(cpuId: number, _kernelRootPfn: number): void {
    const st = this.states[cpuId];
    const prev = st.loadedMm;
    if (prev === null) return;
    prev.cpumask.delete(cpuId);
    this.cpus[cpuId].loadTtbr0(this.reservedPgPfn * 4096, 0);
    st.loadedMm = null;
    st.loadedAsid = 0;
    st.isLazy = false;
    if (prev.dead && prev.cpumask.size === 0) this.onMmUnloaded?.(prev);
  }

  /** The ASID EL0 runs with on `cpuId` (KPTI: the odd one of the mm's pair). */
  userAsid(cpuId: number): number {
    const asid = this.cpus[cpuId].currentAsid;
    return this.kpti === null ? asid : asid | 1;
  }
}
