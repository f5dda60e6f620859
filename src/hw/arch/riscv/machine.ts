/**
 * RISC-V as a Machine's architecture (`riscv-sv39`, `riscv-sv48`,
 * `riscv-sv57`, and RV32's `riscv-sv32`): harts in U- and S-mode sharing one PhysMem. RISC-V has no
 * broadcast TLB maintenance: a hart reaches the others' TLBs only through
 * SBI remote fences (an IPI and an SFENCE.VMA on each), which is software's
 * business (the future kernel), so the machine adds nothing to its harts.
 */
import { InputError } from "../../../base/errors.ts";
import { type HwArch, Machine } from "../../machine/Machine.ts";
import type { TlbSpec } from "../../mmu/Tlb.ts";
import { RiscvCpu } from "./Cpu.ts";
import type { RiscvExtensions, RiscvVaBits } from "./format.ts";

/** Physical address bits of Sv39/Sv48/Sv57 (a 44-bit PPN and a 12-bit offset). */
export const RISCV_PA_BITS = 56;
/** Physical address bits of Sv32 (a 22-bit PPN and a 12-bit offset: "Sv32 physical address"). */
export const SV32_PA_BITS = 34;

/** The RISC-V options of a machine. */
export interface RiscvOptions extends Partial<RiscvExtensions> {
  /** the deepest format: 39, 48 or 57 (default 39); 32: RV32 harts with Sv32 */
  vaBits?: RiscvVaBits;
  /** walk caches of non-leaf PTEs */
  psc?: boolean;
}

export const RISCV: HwArch<RiscvCpu, RiscvOptions> = {
  name: "riscv",
  physBitsName: "the physical address size",
  physBits(o) {
    const bits = o.vaBits ?? 39;
    if (bits !== 32 && bits !== 39 && bits !== 48 && bits !== 57)
      throw new InputError(`a RISC-V hart implements Sv32, Sv39, Sv48 or Sv57, not ${bits}-bit addresses`);
    return bits === 32 ? SV32_PA_BITS : RISCV_PA_BITS;
  },
  newCpu: (id, phys, o, tlb) => new RiscvCpu(id, phys, { ...o, tlb }),
};

/** A RISC-V machine's configuration in one object. */
export interface RiscvMachineConfig extends RiscvOptions {
  ramBytes: number;
  cpus?: number;
  tlb?: string | TlbSpec;
  checkCoherence?: boolean;
}

/** A RISC-V machine. */
export class RiscvMachine extends Machine<RiscvCpu, RiscvOptions> {
  constructor(config: RiscvMachineConfig) {
    const { ramBytes, cpus, tlb, checkCoherence, ...options } = config;
    super(RISCV, { ramBytes, cpus, tlb, checkCoherence, options });
  }

  /** SFENCE.VMA instructions executed on all harts. */
  get sfences(): number {
    let n = 0;
    for (const c of this.cpus) n += c.sfences;
    return n;
  }
}
