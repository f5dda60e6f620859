/**
 * RISC-V's ASID allocator (Linux v6.12 arch/riscv/mm/context.c), as pure
 * state: `setMmAsid` says which ASID to write into satp and whether the
 * hart must first drop its whole TLB (local_flush_tlb_all, an SFENCE.VMA
 * x0, x0); the caller does both.
 *
 * A context (mm->context.id) is `version | asid`: the ASID in the low
 * SATP_ASID_BITS (16; RV32's csr.h: 9) bits (cntx2asid), the version above
 * (cntx2version; current_version starts at BIT(SATP_ASID_BITS) and grows by
 * it at each rollover). An RV32 hart has at most 9 ASID bits (satp's ASID
 * field 30:22), so asids_init finds 9 on vmlab's harts: 512 ASIDs. ASIDs come from context_asid_map from cur_idx on; when none
 * is free, a new version: __flush_context keeps each hart's running ASID
 * reserved, marks ASID 0 used (the boot ASID) and queues a full flush on
 * every hart (context_tlb_flush_pending), taken at its next slow-path
 * switch. Between rollovers nothing is flushed at a switch: a flush of an
 * mm reaches every hart that ever ran it (mm_cpumask keeps their
 * footmarks, tlb.ts).
 *
 * asids_init uses the allocator when there are more ASIDs than twice the
 * harts; otherwise (set_mm_noasid) every switch flushes the local TLB.
 * Contexts are plain numbers: exact below 2^53.
 */
import { assert } from "../../../base/assert.ts";

/** SATP_ASID_BITS on RV64 */
export const SATP_ASID_BITS = 16;
/** SATP_ASID_BITS on RV32 (asm/csr.h) */
export const SATP_ASID_BITS_32 = 9;

/** An mm's context (mm_context_t.id): 0 before its first switch. */
export interface RiscvMmContext {
  id: number;
}

/** What set_mm_asid decided on one hart. */
export interface SetMmResult {
  /** cntx2asid: the ASID written into satp */
  asid: number;
  /** local_flush_tlb_all after the satp write (a rollover since this hart's last slow path) */
  flushAll: boolean;
  /** the fast path (switch_mm_fast): the context is of the current version */
  fast: boolean;
}

export class RiscvAsidAllocator {
  /** num_asids = 1 << asid_bits */
  readonly numAsids: number;
  /** BIT(SATP_ASID_BITS): one version's step */
  readonly versionStep: number;
  /** current_version */
  version: number;
  /** context_asid_map, one byte per ASID */
  readonly asidMap: Uint8Array;
  /** per_cpu(active_context), per_cpu(reserved_context) */
  readonly active: number[];
  readonly reserved: number[];
  /** context_tlb_flush_pending */
  readonly flushPending: boolean[];
  /** __new_context's static cur_idx */
  private curIdx = 1;
  /** rollovers (new versions) so far, and local_flush_tlb_all calls they caused */
  rollovers = 0;
  flushes = 0;

  constructor(
    readonly asidBits: number,
    readonly nrCpus: number,
    /** SATP_ASID_BITS: 16 (RV64), 9 (RV32) */
    satpAsidBits = SATP_ASID_BITS,
  ) {
    assert(
      asidBits >= 1 && asidBits <= satpAsidBits,
      "RiscvAsidAllocator: asidBits must be 1..SATP_ASID_BITS",
    );
    this.versionStep = 2 ** satpAsidBits;
    this.version = this.versionStep;
    this.numAsids = 2 ** asidBits;
    this.asidMap = new Uint8Array(this.numAsids);
    this.asidMap[0] = 1; // ASID #0 is used at boot
    this.active = new Array(nrCpus).fill(0);
    this.reserved = new Array(nrCpus).fill(0);
    this.flushPending = new Array(nrCpus).fill(false);
  }

  /** asids_init: static_branch_enable(&use_asid_allocator) when num_asids > 2 * num_possible_cpus() */
  get useAsidAllocator(): boolean {
    return this.numAsids > 2 * this.nrCpus;
  }

  /** cntx2asid */
  asid(cntx: number): number {
    return cntx % this.versionStep;
  }

  /** cntx2version */
  versionOf(cntx: number): number {
    return cntx - (cntx % this.versionStep);
  }

  /** __flush_context */
  private flushContext(): void {
    this.asidMap.fill(0);
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      let cntx = this.active[cpu];
      this.active[cpu] = 0;
      if (cntx === 0) cntx = this.reserved[cpu];
      this.asidMap[this.asid(cntx)] = 1;
      this.reserved[cpu] = cntx;
    }
    this.asidMap[0] = 1;
    this.flushPending.fill(true);
  }

  /** check_update_reserved_context */
  private checkUpdateReserved(cntx: number, newcntx: number): boolean {
    let hit = false;
    for (let cpu = 0; cpu < this.nrCpus; cpu++)
      if (this.reserved[cpu] === cntx) {
        hit = true;
        this.reserved[cpu] = newcntx;
      }
    return hit;
  }

  private findNextZero(from: number): number {
    for (let i = from; i < this.numAsids; i++) if (this.asidMap[i] === 0) return i;
    return this.numAsids;
  }

  /** __new_context */
  private newContext(ctx: RiscvMmContext): number {
    const cntx = ctx.id;
    let ver = this.version;
    if (cntx !== 0) {
      const a = this.asid(cntx);
      const newcntx = ver + a;
      if (this.checkUpdateReserved(cntx, newcntx)) return newcntx;
      if (this.asidMap[a] === 0) {
        this.asidMap[a] = 1;
        return newcntx;
      }
    }
    let asid = this.findNextZero(this.curIdx);
    if (asid === this.numAsids) {
      this.version += this.versionStep;
      ver = this.version;
      this.rollovers++;
      this.flushContext();
      asid = this.findNextZero(1);
      assert(asid < this.numAsids, "__new_context: no ASID after a rollover");
    }
    this.asidMap[asid] = 1;
    this.curIdx = asid;
    return asid + ver;
  }

  /** set_mm_asid on `cpu` for `ctx` (the satp write and the flush are the caller's). */
  setMmAsid(ctx: RiscvMmContext, cpu: number): SetMmResult {
    const old = this.active[cpu];
    if (old !== 0 && this.versionOf(ctx.id) === this.version) {
      this.active[cpu] = ctx.id;
      return { asid: this.asid(ctx.id), flushAll: false, fast: true };
    }
    if (this.versionOf(ctx.id) !== this.version) ctx.id = this.newContext(ctx);
    let flushAll = false;
    if (this.flushPending[cpu]) {
      this.flushPending[cpu] = false;
      this.flushes++;
      flushAll = true;
    }
    this.active[cpu] = ctx.id;
    return { asid: this.asid(ctx.id), flushAll, fast: false };
  }
}
