/**
 * 32-bit x86 as a Machine's architecture: `i386` (32-bit paging, Intel SDM
 * Vol. 3A §4.3) and `i386-pae` (PAE paging, §4.4). MAXPHYADDR 32..52
 * (PAE: 36..52), default 36; RAM must fit below it (32-bit paging: below
 * 2^min(MAXPHYADDR, 40), what 4 MiB pages reach).
 */
import { InputError } from "../../../base/errors.ts";
import { type HwArch, Machine } from "../../machine/Machine.ts";
import type { TlbSpec } from "../../mmu/Tlb.ts";
import { I386Cpu } from "./Cpu.ts";
import { pse36Width } from "./pte.ts";

/** The 32-bit x86 options of a machine. */
export interface I386Options {
  /** PAE paging */
  pae?: boolean;
  /** MAXPHYADDR (default 36) */
  maxPhyAddr?: number;
  /** a PDE cache */
  psc?: boolean;
}

export const I386: HwArch<I386Cpu, I386Options> = {
  name: "i386",
  physBitsName: "MAXPHYADDR",
  physBits(o) {
    const m = o.maxPhyAddr ?? 36;
    const lo = o.pae ? 36 : 32;
    if (!Number.isInteger(m) || m < lo || m > 52)
      throw new InputError(`MAXPHYADDR must be an integer from ${lo} to 52, not ${m}`);
    return o.pae ? m : pse36Width(m);
  },
  newCpu: (id, phys, o, tlb) =>
    new I386Cpu(id, phys, { pae: o.pae, maxPhyAddr: o.maxPhyAddr, tlb, psc: o.psc }),
};

/** A 32-bit x86 machine's configuration in one object. */
export interface I386MachineConfig extends I386Options {
  ramBytes: number;
  cpus?: number;
  tlb?: string | TlbSpec;
  checkCoherence?: boolean;
}

/** A 32-bit x86 machine (32-bit or PAE paging), configured in one object. */
export class I386Machine extends Machine<I386Cpu, I386Options> {
  constructor(config: I386MachineConfig) {
    const { ramBytes, cpus, tlb, checkCoherence, ...options } = config;
    super(I386, { ramBytes, cpus, tlb, checkCoherence, options });
  }
}
