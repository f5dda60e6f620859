/**
 * The x86-64 CPUs of the machine the x86 kernel booted (x86Arch builds it
 * with X86Machine): the kernel's generic code holds them as the generic
 * MMU; the architecture's own code needs their registers and instructions.
 */
import { assert } from "../../../base/assert.ts";
import { Cpu } from "../../../hw/arch/x86_64/Cpu.ts";
import type { Machine } from "../../../hw/machine/Machine.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";

/** An x86-64 CPU of the kernel's machine. */
export function x86Cpu(cpu: Mmu): Cpu {
  assert(cpu instanceof Cpu, "x86: the machine's CPU is not an x86-64 CPU");
  return cpu;
}

/** The machine's CPUs. */
export function x86Cpus(machine: Machine): Cpu[] {
  return machine.cpus.map(x86Cpu);
}
