/**
 * What sits between a translation and RAM. Every load and store of the model
 * (user accesses, kernel accesses, copy_to/from_user, trace replay) goes
 * through an MMU's `load8`/`store8`/`touch`, which translate and then hand the
 * physical address to the MMU's MemoryPort: straight to PhysMem, or, with
 * `cache=vivt|vipt|pipt`, the CPU's data cache (hw/cache/DataCache.ts), which
 * sees the virtual address too.
 */
import type { PhysAddr } from "../../base/units.ts";
import type { Access } from "../access.ts";
import type { PhysMem } from "../PhysMem.ts";

export interface MemoryPort {
  /** a byte load from physical address pa (va: the virtual address it was translated from) */
  read8(pa: PhysAddr, vaHi: number, vaLo: number): number;
  /** a byte store */
  write8(pa: PhysAddr, value: number, vaHi: number, vaLo: number): void;
  /** an access whose data the model does not carry (trace replay): only its address matters */
  touch(pa: PhysAddr, access: Access, vaHi: number, vaLo: number): void;
}

/** No cache: physical memory itself. */
export class DirectMemory implements MemoryPort {
  constructor(readonly phys: PhysMem) {}

  read8(pa: PhysAddr): number {
    return this.phys.read8(pa);
  }

  write8(pa: PhysAddr, value: number): void {
    this.phys.write8(pa, value);
  }

  touch(): void {}
}
