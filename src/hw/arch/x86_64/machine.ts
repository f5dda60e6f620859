/**
 * x86-64 as a Machine's architecture: `x86_64` (4-level paging) and
 * `x86_64-la57` (5-level), MAXPHYADDR 36..52.
 */
import { InputError } from "../../../base/errors.ts";
import { type HwArch, Machine } from "../../machine/Machine.ts";
import type { TlbSpec } from "../../mmu/Tlb.ts";
import { Cpu, type PscConfig } from "./Cpu.ts";

/** The x86-64 options of a machine. */
export interface X86Options {
  /** 5-level paging */
  la57?: boolean;
  /** MAXPHYADDR, 36..52 (default 46) */
  maxPhyAddr?: number;
  /** paging-structure caches */
  psc?: boolean | PscConfig;
}

export const X86_64: HwArch<Cpu, X86Options> = {
  name: "x86_64",
  physBitsName: "MAXPHYADDR",
  physBits(o) {
    const m = o.maxPhyAddr ?? 46;
    if (!Number.isInteger(m) || m < 36 || m > 52) {
      throw new InputError(`MAXPHYADDR must be an integer from 36 to 52, not ${m}`);
    }
    return m;
  },
  newCpu: (id, phys, o, tlb) =>
    new Cpu(id, phys, { la57: o.la57, maxPhyAddr: o.maxPhyAddr, tlb, psc: o.psc }),
};

/** An x86-64 machine's configuration in one object (the form tests, the kernel and the CLI use). */
export interface X86MachineConfig extends X86Options {
  ramBytes: number;
  cpus?: number;
  tlb?: string | TlbSpec;
  checkCoherence?: boolean;
}

/** An x86-64 machine, configured in one object. */
export class X86Machine extends Machine<Cpu, X86Options> {
  constructor(config: X86MachineConfig) {
    const { ramBytes, cpus, tlb, checkCoherence, ...options } = config;
    super(X86_64, { ramBytes, cpus, tlb, checkCoherence, options });
  }
}

/** An x86-64 machine. */
export function x86Machine(config: X86MachineConfig): X86Machine {
  return new X86Machine(config);
}
