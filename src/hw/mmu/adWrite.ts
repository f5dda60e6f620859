/**
 * The generic walk's hardware accessed/dirty update of a paging entry (x86 SDM Vol. 3A §4.8; Arm
 * ARM D8.4 hardware AF and DBM; RISC-V Svadu): a locked write of the half that changed (the whole
 * entry when its high half did), counted in the MMU's adWrites and traced.
 */
import type { PhysAddr } from "../../base/units.ts";
import type { PhysMem } from "../PhysMem.ts";
import type { HwEvent } from "./events.ts";
import type { PagingFormat } from "./PagingFormat.ts";

/** The MMU's parts adWrite uses (Mmu's fields of the same names). */
interface AdWriter {
  readonly id: number;
  readonly phys: PhysMem;
  readonly format: PagingFormat;
  adWrites: number;
  tracer: ((e: HwEvent) => void) | null;
}

/** Writes the entry at `entryPa` (its high half was `oldHi`) as (hi, lo). */
export function adWrite(mmu: AdWriter, entryPa: number, oldHi: number, hi: number, lo: number): void {
  const bytes = mmu.format.entryBytes;
  if (bytes === 1) mmu.phys.write8(entryPa, lo);
  else if (bytes === 4 || hi === oldHi) mmu.phys.write32(entryPa, lo);
  else mmu.phys.write64(entryPa, hi, lo);
  mmu.adWrites++;
  if (mmu.tracer !== null)
    mmu.tracer({ type: "ad-write", cpu: mmu.id, entryPa: entryPa as PhysAddr, hi, lo });
}
