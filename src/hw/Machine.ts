import { InputError } from "../base/errors.ts";
import { CoherenceChecker } from "./mmu/CoherenceChecker.ts";
import type { TlbSpec } from "./mmu/Tlb.ts";
import { PhysMem } from "./PhysMem.ts";
import { Cpu, type PscConfig } from "./x86_64/Cpu.ts";

/** The hardware of a simulated machine. */
export interface MachineConfig {
  /** bytes of RAM (a multiple of 4 KiB) */
  ramBytes: number;
  /** number of CPUs, 1..256 (default 1) */
  cpus?: number;
  /** 5-level paging */
  la57?: boolean;
  /** MAXPHYADDR, 36..52 (default 46) */
  maxPhyAddr?: number;
  /** TLB preset, spec string or spec (default `skylake`) */
  tlb?: string | TlbSpec;
  /** paging-structure caches */
  psc?: boolean | PscConfig;
  /** report every use of a stale TLB entry (debug switch) */
  checkCoherence?: boolean;
}

/**
 * CPUs sharing one physical memory. Each CPU has its own registers, TLBs
 * and paging-structure caches; nothing keeps them coherent but the software
 * running on them (INVLPG on each CPU, i.e. shootdowns).
 */
export class Machine {
  readonly phys: PhysMem;
  readonly cpus: Cpu[];
  readonly checker: CoherenceChecker | null;

  constructor(readonly config: MachineConfig) {
    const maxPhyAddr = config.maxPhyAddr ?? 46;
    if (!Number.isInteger(maxPhyAddr) || maxPhyAddr < 36 || maxPhyAddr > 52) {
      throw new InputError(`MAXPHYADDR must be an integer from 36 to 52, not ${maxPhyAddr}`);
    }
    if (config.ramBytes > 2 ** maxPhyAddr) {
      throw new InputError(
        `RAM of ${config.ramBytes} bytes does not fit below MAXPHYADDR ${maxPhyAddr} (${2 ** maxPhyAddr} bytes)`,
      );
    }
    const n = config.cpus ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new InputError(`cpus must be 1..256, not ${n}`);
    this.phys = new PhysMem(config.ramBytes);
    this.cpus = [];
    for (let i = 0; i < n; i++) {
      this.cpus.push(
        new Cpu(i, this.phys, { la57: config.la57, maxPhyAddr, tlb: config.tlb, psc: config.psc }),
      );
    }
    this.checker = config.checkCoherence ? new CoherenceChecker() : null;
    if (this.checker) {
      this.phys.watch = this.checker;
      for (const c of this.cpus) c.observer = this.checker;
    }
  }
}
