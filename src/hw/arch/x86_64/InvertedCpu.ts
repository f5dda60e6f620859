/**
 * vmlab's own machine, not a real CPU: an x86-64 core whose MMU refills its
 * TLB from a hashed inverted page table (hw/mmu/inverted/Ipt.ts) instead of
 * walking the radix tables, for the user half of the address space. The
 * IPT entries carry x86's rights (user/supervisor, writable, NX as the
 * canonical Perm bits) and attributes (protection key, memory type); the
 * TLBs, PCIDs, CR3, INVLPG and INVPCID are x86-64's, unchanged.
 *
 * - A TLB miss on a user address is a hash lookup of (space, vpn): the
 *   space register holds the running address space's ID (as the RT PC's
 *   segment registers hold segment IDs, PowerPC's SLB a VSID, PA-RISC's
 *   space registers a space ID). A hit whose rights allow the access fills
 *   the TLB; a write through an entry without D is refused as a miss, so
 *   the OS can set the dirty bit (PowerPC maps clean pages read-only in the
 *   HPT for the same reason).
 * - A miss raises the hash fault: the handler the OS installed
 *   (`hashFault`, Linux's hash_page) either inserts an entry, and the
 *   access retries within the same instruction (no page fault), or fills
 *   the walk record with the page fault the access takes, which is then
 *   delivered as x86 #PF.
 * - The kernel half (direct map, kernel image, vmalloc) bypasses the IPT:
 *   it is translated by the radix walk of the tables CR3 points to, as
 *   PowerPC's BATs, MIPS kseg0 and PA-RISC's absolute mode give the kernel
 *   translations no hashed table holds.
 *
 * Probes (`walk` without side effects: explain, the TLB coherence checker,
 * the kernel's spurious-fault check) walk the radix tables: what memory says
 * the translation is.
 */
import type { Pfn, Vpn } from "../../../base/units.ts";
import type { Access } from "../../access.ts";
import { Access as A, type Mode } from "../../access.ts";
import { type HwArch, Machine } from "../../machine/Machine.ts";
import { Ipt } from "../../mmu/inverted/Ipt.ts";
import type { WalkRecord } from "../../mmu/Mmu.ts";
import { HwFaultKind } from "../../mmu/PagingFormat.ts";
import type { TlbSpec } from "../../mmu/Tlb.ts";
import { Meta } from "../../mmu/TlbArray.ts";
import type { PhysMem } from "../../PhysMem.ts";
import { Cpu, type CpuConfig } from "./Cpu.ts";
import type { X86MachineConfig, X86Options } from "./machine.ts";

/**
 * The hash fault's handler (the OS's): 0 when it inserted an entry for
 * (cpu.space, vpn) and the access may retry; else the outcome of the page
 * fault the access takes, with `rec` describing it.
 */
export type HashFaultHandler = (
  cpu: InvertedCpu,
  vpn: number,
  access: Access,
  mode: Mode,
  rec: WalkRecord,
) => number;

export class InvertedCpu extends Cpu {
  /** the IPT the hardware reads (the RT PC's HAT/IPT base register, PowerPC's SDR1); null: not set up yet */
  ipt: Ipt | null = null;
  /** the space register: the address-space ID user translations are tagged with in the IPT */
  space = 0;
  /** the hash-fault vector the OS installed */
  hashFault: HashFaultHandler | null = null;
  /** user vpns are below this (the kernel half bypasses the IPT) */
  readonly userVpnEnd: number;

  // ---- counters ----
  /** hash faults: lookups that found no usable entry (a miss, or a write through an entry without D) */
  hashFaults = 0;
  /** hash faults the handler resolved by inserting an entry (retried, no page fault) */
  hashReloads = 0;

  constructor(id: number, phys: PhysMem, config: CpuConfig = {}) {
    super(id, phys, config);
    this.userVpnEnd = 2 ** ((this.la57 ? 57 : 48) - 13);
  }

  /**
   * A walk with side effects on a user address is the hash lookup; every
   * other walk (the kernel half, probes) is the radix walk.
   */
  override walk(
    vpn: number,
    access: Access,
    mode: Mode,
    sideEffects: boolean,
    rec: WalkRecord,
    checkRights = true,
  ): number {
    if (!sideEffects || vpn >= this.userVpnEnd || this.ipt === null)
      return super.walk(vpn, access, mode, sideEffects, rec, checkRights);
    return this.hashWalk(vpn, access, mode, rec, checkRights);
  }

  /** The radix walk of the tables CR3 points to, without side effects (the OS's software walk). */
  radixProbe(vpn: number, access: Access, mode: Mode, rec: WalkRecord): number {
    return super.walk(vpn, access, mode, false, rec, true);
  }

  /** The TLB-miss path: the hash lookup, the hash fault and its retry. */
  private hashWalk(vpn: number, access: Access, mode: Mode, rec: WalkRecord, checkRights: boolean): number {
    const ipt = this.ipt!;
    this.walks++;
    rec.count = 0;
    rec.pscLevel = -1;
    for (let attempt = 0; attempt < 3; attempt++) {
      const refs = ipt.refs;
      const pfn = ipt.lookup(this.space, vpn);
      this.walkRefs += ipt.refs - refs;
      if (this.tracer !== null)
        this.tracer({
          type: "ipt",
          cpu: this.id,
          space: this.space,
          vpn: vpn as Vpn,
          slot: ipt.hash(this.space, vpn),
          compared: ipt.chainSteps,
          pfn,
        });
      if (pfn >= 0) {
        const rights = ipt.rights;
        const attrs = ipt.attrs;
        if (
          checkRights &&
          (this.permTable[rights * 9 + mode * 3 + access] === 0 ||
            (this.checkAttrs && this.attrDenied(attrs, rights, mode, access)))
        ) {
          rec.faultKind = HwFaultKind.Permission;
          rec.faultLevel = 0;
          return this.walkFault(rec, access, mode, attrs, rights);
        }
        if (access !== A.Write || ipt.dirty) {
          rec.pagePfn = pfn as Pfn; // inline cast: the hot path (units.ts)
          rec.size = 0;
          rec.meta = this.asid | (rights << Meta.RIGHTS_SHIFT) | (ipt.dirty ? Meta.D : 0);
          rec.attrs = attrs;
          rec.outcome = 0;
          rec.faultKind = HwFaultKind.None;
          rec.faultLevel = -1;
          return 0;
        }
        // a write through an entry without D: the OS must set the dirty bit first
      }
      this.hashFaults++;
      if (this.hashFault === null) {
        rec.faultKind = HwFaultKind.Translation;
        rec.faultLevel = 0;
        return this.walkFault(rec, access, mode, 0, 0);
      }
      if (this.tracer !== null)
        this.tracer({
          type: "state",
          cpu: this.id,
          text: "hash fault: hash_page walks Linux's page tables",
        });
      const out = this.hashFault(this, vpn, access, mode, rec);
      if (out !== 0) return out;
      this.hashReloads++;
    }
    // the handler inserted an entry the lookup cannot find: the OS's bug, reported as not present
    rec.faultKind = HwFaultKind.Translation;
    rec.faultLevel = 0;
    return this.walkFault(rec, access, mode, 0, 0);
  }
}

/** x86-64 with an inverted page table as a Machine's architecture (4-level only). */
export const X86_64_INVERTED: HwArch<InvertedCpu, X86Options> = {
  name: "x86_64",
  physBitsName: "MAXPHYADDR",
  physBits: (o) => o.maxPhyAddr ?? 46,
  newCpu: (id, phys, o, tlb: string | TlbSpec | undefined) =>
    new InvertedCpu(id, phys, { la57: false, maxPhyAddr: o.maxPhyAddr, tlb, psc: o.psc }),
};

/** A machine of InvertedCpus sharing one PhysMem; the OS places the IPT (`setIpt`). */
export class InvertedX86Machine extends Machine<InvertedCpu, X86Options> {
  constructor(config: X86MachineConfig) {
    const { ramBytes, cpus, tlb, checkCoherence, ...options } = config;
    super(X86_64_INVERTED, { ramBytes, cpus, tlb, checkCoherence, options });
  }

  /** Points every CPU's IPT base register at a table of every frame, IPT at iptPa and HAT at hatPa. */
  setIpt(iptPa: number, hatPa: number): Ipt {
    const ipt = new Ipt(this.phys, iptPa, hatPa, this.phys.nrFrames);
    for (const c of this.cpus) c.ipt = ipt;
    return ipt;
  }
}
