/**
 * ARM64 as a Machine's architecture (`arch=arm64`): CPUs of the EL1&0
 * regime with the 4 KiB granule, sharing one PhysMem and one Inner
 * Shareable domain, so that a TLBI ...IS on one CPU reaches them all.
 */
import { InputError } from "../../../base/errors.ts";
import { type HwArch, Machine } from "../../machine/Machine.ts";
import type { TlbSpec } from "../../mmu/Tlb.ts";
import { Arm64Cpu } from "./Cpu.ts";
import { IPS_BITS } from "./format.ts";

/** The ARM64 options of a machine. */
export interface Arm64Options {
  /** physical address range in bits: 32, 36, 40, 42, 44 or 48 (default 48) */
  paBits?: number;
  /** walk caches (L0..L2 table descriptors) */
  psc?: boolean;
}

export const ARM64: HwArch<Arm64Cpu, Arm64Options> = {
  name: "arm64",
  physBitsName: "the physical address range (PARange)",
  physBits(o) {
    const bits = o.paBits ?? 48;
    if (!(IPS_BITS as readonly number[]).includes(bits))
      throw new InputError(
        `the ARM64 physical address range must be ${IPS_BITS.join(", ")} bits, not ${bits}`,
      );
    return bits;
  },
  newCpu: (id, phys, o, tlb) => new Arm64Cpu(id, phys, { paBits: o.paBits, tlb, psc: o.psc }),
};

/** An ARM64 machine's configuration in one object. */
export interface Arm64MachineConfig extends Arm64Options {
  ramBytes: number;
  cpus?: number;
  tlb?: string | TlbSpec;
  checkCoherence?: boolean;
}

/** An ARM64 machine: its CPUs form one Inner Shareable domain. */
export class Arm64Machine extends Machine<Arm64Cpu, Arm64Options> {
  constructor(config: Arm64MachineConfig) {
    const { ramBytes, cpus, tlb, checkCoherence, ...options } = config;
    super(ARM64, { ramBytes, cpus, tlb, checkCoherence, options });
    for (const c of this.cpus) c.shareDomain = this.cpus;
  }

  /** Inner Shareable TLBIs issued on all CPUs (broadcast by hardware: no IPIs). */
  get broadcasts(): number {
    let n = 0;
    for (const c of this.cpus) n += c.broadcasts;
    return n;
  }
}
