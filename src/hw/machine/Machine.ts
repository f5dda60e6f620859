import { InputError } from "../../base/errors.ts";
import { CoherenceChecker } from "../mmu/CoherenceChecker.ts";
import type { Mmu } from "../mmu/Mmu.ts";
import type { TlbSpec } from "../mmu/Tlb.ts";
import { PhysMem } from "../PhysMem.ts";

/**
 * What a Machine needs to know of an architecture: how to build one CPU, and
 * how many physical address bits it has. Each architecture folder
 * (hw/arch/NAME/) exports one; the Machine imports none.
 */
export interface HwArch<C extends Mmu = Mmu, O = unknown> {
  /** the `arch=` name: x86_64, x86_64-la57, teaching, ... */
  readonly name: string;
  /** physical address bits for these options (x86 MAXPHYADDR; RAM must fit below 2^bits) */
  physBits(options: O): number;
  /** the name of physBits in errors (MAXPHYADDR) */
  readonly physBitsName: string;
  /** one CPU (its MMU) */
  newCpu(id: number, phys: PhysMem, options: O, tlb: string | TlbSpec | undefined): C;
}

/** The hardware of a simulated machine. */
export interface MachineConfig<O = unknown> {
  /** bytes of RAM (a multiple of 4 KiB) */
  ramBytes: number;
  /** number of CPUs, 1..256 (default 1) */
  cpus?: number;
  /** TLB preset, spec string or spec (default `skylake`) */
  tlb?: string | TlbSpec;
  /** report every use of a stale TLB entry (debug switch) */
  checkCoherence?: boolean;
  /** the architecture's own options (x86-64: la57, maxPhyAddr, paging-structure caches) */
  options: O;
}

/**
 * CPUs sharing one physical memory. Each CPU has its own registers, TLBs
 * and walk caches; nothing keeps them coherent but the software running on
 * them (TLB invalidations on each CPU, i.e. shootdowns, or broadcast TLB
 * maintenance where the architecture has it).
 */
export class Machine<C extends Mmu = Mmu, O = unknown> {
  readonly phys: PhysMem;
  readonly cpus: C[];
  readonly checker: CoherenceChecker | null;

  constructor(
    readonly arch: HwArch<C, O>,
    readonly config: MachineConfig<O>,
  ) {
    const bits = arch.physBits(config.options);
    if (config.ramBytes > 2 ** bits) {
      throw new InputError(
        `RAM of ${config.ramBytes} bytes does not fit below ${arch.physBitsName} ${bits} (${2 ** bits} bytes)`,
      );
    }
    const n = config.cpus ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new InputError(`cpus must be 1..256, not ${n}`);
    this.phys = new PhysMem(config.ramBytes);
    this.cpus = [];
    for (let i = 0; i < n; i++) this.cpus.push(arch.newCpu(i, this.phys, config.options, config.tlb));
    this.checker = config.checkCoherence ? new CoherenceChecker() : null;
    if (this.checker) {
      this.phys.watch = this.checker;
      for (const c of this.cpus) c.observer = this.checker;
    }
  }
}
