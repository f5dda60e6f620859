/**
 * The teaching machine's MMU: a PDBR, the generic walk over TEACHING_FORMAT,
 * and (optionally) a TLB. No privilege levels: every access is checked as a
 * user access and every valid translation allows it.
 */

import type { Pfn, Vpn } from "../../../base/units.ts";
import type { Access } from "../../access.ts";
import { Mode } from "../../access.ts";
import { Mmu, type WalkRecord } from "../../mmu/Mmu.ts";
import { HwFaultKind, PERM_TABLE_SIZE } from "../../mmu/PagingFormat.ts";
import type { TlbSpec } from "../../mmu/Tlb.ts";
import { InvalidateHow } from "../../mmu/TlbArray.ts";
import type { PhysMem } from "../../PhysMem.ts";
import { TEACHING_FORMAT, TEACHING_PAGE_SIZE, TEACHING_VA_BITS } from "./format.ts";

/** What translate returns. */
export const enum TeachingOutcome {
  OK = 0,
  /** no valid entry: `faultLevel` 1 is the page directory entry, 0 the page table entry */
  Fault = 1,
  /** an address of more than 15 bits */
  OutOfRange = 2,
}

export class TeachingMmu extends Mmu {
  /** the page directory base register: the directory's page number */
  pdbr = 0;

  constructor(id: number, phys: PhysMem, tlb: string | TlbSpec = "none") {
    super(id, phys, TEACHING_FORMAT, { tlb });
    this.permTable.fill(1, 0, PERM_TABLE_SIZE);
  }

  /** Loads the PDBR (the page number of the page directory) and flushes the TLB. */
  setPdbr(page: number): void {
    this.pdbr = page;
    this.rootPa = page * TEACHING_PAGE_SIZE;
    this.flushMatching(0, InvalidateHow.Everything, "set-pdbr");
  }

  protected override vpnOf(vaHi: number, vaLo: number, _access: Access): Vpn | -1 {
    if (vaHi !== 0 || vaLo >= 2 ** TEACHING_VA_BITS) return -1;
    return (vaLo >>> 5) as Vpn; // below 2^10: a cast on the hot path (units.ts)
  }

  protected override badAddress(): number {
    this.faultKind = HwFaultKind.NonCanonical;
    this.faultLevel = -1;
    return TeachingOutcome.OutOfRange;
  }

  protected override probeBadAddress(): number {
    return TeachingOutcome.OutOfRange;
  }

  /** The PDBR (the directory's page number); no ASIDs. */
  override loadUserRoot(rootPfn: Pfn): void {
    this.setPdbr(rootPfn);
  }

  /** No single-page invalidation: the whole TLB goes. */
  override flushPage(): void {
    this.flushMatching(0, InvalidateHow.Everything, "flush");
  }

  /** The teaching machine has no privilege levels. */
  override setUserMode(): void {}

  override currentMode(): Mode {
    return Mode.User;
  }

  protected override walkFault(rec: WalkRecord): number {
    rec.errorCode = rec.faultLevel;
    rec.outcome = TeachingOutcome.Fault;
    return TeachingOutcome.Fault;
  }

  protected override deliver(rec: WalkRecord): number {
    this.pageFaults++;
    return rec.outcome;
  }

  override invalidationHint(): string {
    return "a PDBR reload (the teaching machine has no single-page invalidation)";
  }
}
