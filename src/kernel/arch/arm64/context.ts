/**
 * arm64's ASID allocator (Linux v6.12 arch/arm64/mm/context.c), as pure
 * state: no TLB or register is touched; `checkAndSwitchContext` says which
 * ASID to load into TTBR0_EL1 and whether the CPU must first invalidate its
 * whole TLB (local_flush_tlb_all, a TLBI VMALLE1), and the caller does both.
 *
 * A context id (mm->context.id) is `generation | asid`: the low `asidBits`
 * bits are the ASID the hardware sees (ASID(mm) = id & 0xffff), the bits
 * from 16 up count rollovers (ASID_FIRST_VERSION = 1 << 16). ASIDs are
 * handed out from a bitmap; when it is full the generation is bumped
 * (a rollover): every CPU keeps the ASID it is running as reserved, every
 * other mm will get a fresh ASID at its next switch, and every CPU flushes
 * its TLB at its next slow-path switch (tlb_flush_pending). Between
 * rollovers no flush is ever needed: an ASID belongs to one mm per
 * generation, and TLBIs by ASID (flush_tlb_mm/range) reach every CPU.
 *
 * Context ids are plain numbers: the generation grows by 2^16 per rollover
 * (ASID_FIRST_VERSION is 1 << 16 whatever asid_bits is, so ASID(mm) = id & 0xffff
 * is the ASID alone with 8-bit ASIDs too), exact below 2^53.
 *
 * The first generation hands out even ASIDs only, with or without KPTI: asids_init marks the
 * odd ones taken under CONFIG_UNMAP_KERNEL_AT_EL0 (default y) before it can know whether the
 * kernel will be unmapped at EL0; the first rollover's set_reserved_asid_bits then clears the
 * map unless KPTI is on. With 8-bit ASIDs the first rollover comes at the 128th mm (2..254),
 * the next ones every 255 - (CPUs' reserved) new mms.
 *
 * Not modelled: pinned ASIDs (arm64_mm_context_get/put, for SVA), CNP, and
 * SW TTBR0 PAN's deferred TTBR0 write.
 */
import { assert } from "../../../base/assert.ts";

/** ASID_FIRST_VERSION: the first generation, and the step of each rollover */
export const ASID_FIRST_VERSION = 1 << 16;

/** An mm's context (struct mm_context_t): its context id, 0 before its first switch. */
export interface AsidContext {
  id: number;
}

/** What check_and_switch_context decided on one CPU. */
export interface SwitchResult {
  /** ASID(mm): the ASID cpu_switch_mm writes into TTBR0_EL1 (the kernel one under KPTI) */
  asid: number;
  /** local_flush_tlb_all first (a rollover happened since this CPU last took the slow path) */
  flushAll: boolean;
  /** the fast path: the mm's ASID is current and nothing was locked */
  fast: boolean;
}

export interface AsidAllocatorOptions {
  /** ID_AA64MMFR0_EL1.ASIDBits: 8 or 16 (smaller values, >= 2, for tests) */
  asidBits: number;
  /** num_possible_cpus() */
  nrCpus: number;
  /** arm64_kernel_unmapped_at_el0(): KPTI, ASIDs in (kernel even, user odd) pairs */
  kpti?: boolean;
  /**
   * CONFIG_UNMAP_KERNEL_AT_EL0 (default y): asids_init reserves the odd ASIDs before the CPU
   * capabilities are known, so the first generation hands out only even ones even without KPTI
   * (the first rollover's set_reserved_asid_bits clears the map). Absent: true.
   */
  unmapKernelAtEl0Config?: boolean;
}

/** The allocator: the global generation and bitmap, per-CPU active and reserved ASIDs. */
export class AsidAllocator {
  readonly asidBits: number;
  readonly nrCpus: number;
  readonly kpti: boolean;
  /** NUM_USER_ASIDS = 1 << asid_bits */
  readonly numUserAsids: number;
  /** asid_generation */
  generation = ASID_FIRST_VERSION;
  /** asid_map: one byte per ASID, 1 = taken in this generation */
  readonly asidMap: Uint8Array;
  /** per_cpu(active_asids): the context id each CPU runs (0 = zeroed by a rollover) */
  readonly activeAsids: number[];
  /** per_cpu(reserved_asids): the context id each CPU ran at the last rollover */
  readonly reservedAsids: number[];
  /** tlb_flush_pending: CPUs that must flush their TLB at their next slow-path switch */
  readonly tlbFlushPending: boolean[];
  /** new_context's static cur_idx: where the next search starts */
  private curIdx = 1;
  /** rollovers so far (generation bumps) */
  rollovers = 0;
  /** local_flush_tlb_all calls made by check_and_switch_context, on all CPUs */
  flushes = 0;
  /** new_context calls, and switches that took the fast path */
  newContexts = 0;
  fastSwitches = 0;

  constructor(opts: AsidAllocatorOptions) {
    assert(opts.asidBits >= 2 && opts.asidBits <= 16, "AsidAllocator: asidBits must be 2..16");
    this.asidBits = opts.asidBits;
    this.nrCpus = opts.nrCpus;
    this.kpti = opts.kpti ?? false;
    this.numUserAsids = 1 << opts.asidBits;
    // asids_update_limit: "Expect allocation after rollover to fail if we don't
    // have at least one more ASID than CPUs" (a WARN_ON in Linux)
    const available = this.kpti ? this.numUserAsids / 2 : this.numUserAsids;
    assert(available - 1 > this.nrCpus, "AsidAllocator: fewer ASIDs than CPUs + 2");
    this.asidMap = new Uint8Array(this.numUserAsids);
    this.activeAsids = new Array(opts.nrCpus).fill(0);
    this.reservedAsids = new Array(opts.nrCpus).fill(0);
    this.tlbFlushPending = new Array(opts.nrCpus).fill(false);
    // asids_init: "We cannot call set_reserved_asid_bits() here because CPU caps are not
    // finalized yet, so it is safer to assume KPTI and reserve kernel ASID's from beginning"
    if (opts.unmapKernelAtEl0Config ?? true) this.setKptiAsidBits();
    else if (this.kpti) this.setKptiAsidBits();
  }

  /** ctxid2asid: the ASID of a context id. */
  ctxid2asid(ctxid: number): number {
    return ctxid % this.numUserAsids;
  }

  /** asid_gen_match: the context id is of the current generation. */
  genMatch(ctxid: number): boolean {
    return Math.floor(ctxid / this.numUserAsids) === Math.floor(this.generation / this.numUserAsids);
  }

  /** ASID(mm) as TTBR0 carries it on the way to EL0: the odd (user) half of the pair under KPTI (USER_ASID_FLAG). */
  userAsid(ctx: AsidContext): number {
    const asid = ctx.id % ASID_FIRST_VERSION;
    return this.kpti ? asid | 1 : asid;
  }

  /**
   * set_kpti_asid_bits: memset(asid_map, 0xaa): every odd ASID taken, so
   * only even ones are handed out; ASID | 1 is the same mm's user ASID.
   */
  private setKptiAsidBits(): void {
    for (let i = 0; i < this.numUserAsids; i++) this.asidMap[i] = i & 1;
  }

  /**
   * set_reserved_asid_bits: 6.12 takes its first branch, bitmap_copy from pinned_asid_map (which
   * asids_init always allocates; asids_update_limit gave it the KPTI pattern when
   * arm64_kernel_unmapped_at_el0()); with no ASID pinned that is the KPTI pattern or a clear map.
   */
  private setReservedAsidBits(): void {
    if (this.kpti) this.setKptiAsidBits();
    else this.asidMap.fill(0);
  }

  /**
   * flush_context: a new generation's bitmap holds only the ASIDs CPUs are
   * running (or, for a CPU that has run nothing since the last rollover,
   * its reserved one), and every CPU owes a TLB flush.
   */
  private flushContext(): void {
    this.setReservedAsidBits();
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      let asid = this.activeAsids[cpu];
      this.activeAsids[cpu] = 0; // atomic64_xchg_relaxed(&per_cpu(active_asids, i), 0)
      if (asid === 0) asid = this.reservedAsids[cpu];
      this.asidMap[this.ctxid2asid(asid)] = 1;
      this.reservedAsids[cpu] = asid;
    }
    this.tlbFlushPending.fill(true); // cpumask_setall(&tlb_flush_pending)
  }

  /** check_update_reserved_asid: every CPU that reserved `asid` now reserves `newasid`. */
  private checkUpdateReservedAsid(asid: number, newasid: number): boolean {
    let hit = false;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      if (this.reservedAsids[cpu] === asid) {
        hit = true;
        this.reservedAsids[cpu] = newasid;
      }
    }
    return hit;
  }

  /** find_next_zero_bit(asid_map, NUM_USER_ASIDS, from) */
  private findNextZero(from: number): number {
    for (let i = from; i < this.numUserAsids; i++) if (this.asidMap[i] === 0) return i;
    return this.numUserAsids;
  }

  /**
   * new_context: keep the mm's ASID in the new generation when a CPU still
   * runs it (reserved) or nobody took it; else the next free ASID from
   * cur_idx; when none is free, a rollover (bump the generation,
   * flush_context) and the first free one from 1. ASID 0 is never handed
   * out (the reserved TTBR0 of init_mm uses it).
   */
  private newContext(ctx: AsidContext): number {
    this.newContexts++;
    const old = ctx.id;
    let generation = this.generation;
    if (old !== 0) {
      const newasid = this.ctxid2asid(old) + generation;
      if (this.checkUpdateReservedAsid(old, newasid)) return newasid;
      const a = this.ctxid2asid(old);
      if (this.asidMap[a] === 0) {
        this.asidMap[a] = 1; // __test_and_set_bit
        return newasid;
      }
    }
    let asid = this.findNextZero(this.curIdx);
    if (asid === this.numUserAsids) {
      this.generation += ASID_FIRST_VERSION; // atomic64_add_return_relaxed(ASID_FIRST_VERSION, ...)
      generation = this.generation;
      this.rollovers++;
      this.flushContext();
      asid = this.findNextZero(1); // "We have more ASIDs than CPUs, so this will always succeed"
      assert(asid < this.numUserAsids, "new_context: no ASID after a rollover");
    }
    this.asidMap[asid] = 1;
    this.curIdx = asid;
    return asid + generation;
  }

  /**
   * check_and_switch_context on `cpu` for `ctx` (switch_mm to a user mm;
   * a switch to init_mm only loads the reserved TTBR0 and never gets
   * here). Fast path: the CPU's active ASID is non-zero and the mm's ASID
   * is of this generation. Otherwise, under cpu_asid_lock: a new context if
   * the generation is old, the pending flush if a rollover happened, and
   * the CPU's active ASID set.
   */
  checkAndSwitchContext(ctx: AsidContext, cpu: number): SwitchResult {
    if (this.activeAsids[cpu] !== 0 && this.genMatch(ctx.id)) {
      this.activeAsids[cpu] = ctx.id; // atomic64_cmpxchg_relaxed succeeds: nothing runs concurrently here
      this.fastSwitches++;
      return { asid: ctx.id % ASID_FIRST_VERSION, flushAll: false, fast: true };
    }
    if (!this.genMatch(ctx.id)) ctx.id = this.newContext(ctx);
    let flushAll = false;
    if (this.tlbFlushPending[cpu]) {
      // cpumask_test_and_clear_cpu(cpu, &tlb_flush_pending): local_flush_tlb_all()
      this.tlbFlushPending[cpu] = false;
      this.flushes++;
      flushAll = true;
    }
    this.activeAsids[cpu] = ctx.id;
    return { asid: ctx.id % ASID_FIRST_VERSION, flushAll, fast: false };
  }
}
