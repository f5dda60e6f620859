/**
 * A 32-bit x86 machine with one address space ready to map into: for tests,
 * demos and benchmarks of the hardware layer.
 */
import { assert } from "../../../base/assert.ts";
import { type Pfn, pfnToPa } from "../../../base/units.ts";
import { BumpFrames, I386Mapper } from "./Mapper.ts";
import { I386Machine, type I386MachineConfig } from "./machine.ts";

/** A machine (default 256 MiB, 32-bit paging) whose CPUs run on one fresh table, CR4.PSE = 1. */
export function bareI386(config: Partial<I386MachineConfig> = {}) {
  const m = new I386Machine({ ramBytes: 256 << 20, ...config });
  const frames = new BumpFrames(256, m.phys.nrFrames);
  const mapper = new I386Mapper(m.phys, config.pae ?? false, frames, config.maxPhyAddr ?? 36);
  const newRoot = mapper.newRoot();
  assert(newRoot !== -1, "bareI386: no frame for the root table");
  const root: Pfn = newRoot;
  for (const cpu of m.cpus) {
    cpu.movToCr4({ pse: true });
    cpu.movToCr3(pfnToPa(root));
  }
  return { m, cpu: m.cpus[0], frames, mapper, root };
}
