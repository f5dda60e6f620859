import { assert } from "../../../base/assert.ts";
import { fromBig } from "../../../base/u64.ts";
import { type Pfn, pfnToPa, toVpn, type Vpn } from "../../../base/units.ts";
import { BumpFrames, Mapper } from "./Mapper.ts";
import { type X86MachineConfig, x86Machine } from "./machine.ts";

/**
 * A machine with one address space ready to map into: for tests, demos and
 * benchmarks of the hardware layer (the kernel has its own allocators).
 */
export function bareMachine(config: Partial<X86MachineConfig> = {}) {
  const m = x86Machine({ ramBytes: 256 << 20, ...config });
  const frames = new BumpFrames(256, m.phys.nrFrames);
  const mapper = new Mapper(m.phys, config.la57 ? 5 : 4, config.maxPhyAddr ?? 46, frames);
  const newRoot = mapper.newRoot();
  assert(newRoot !== -1, "bareMachine: no frame for the root table");
  const root: Pfn = newRoot;
  for (const cpu of m.cpus) cpu.loadCr3(pfnToPa(root), 0, false);
  return { m, cpu: m.cpus[0], frames, mapper, root };
}

/** Splits a linear address given as a bigint. */
export function va(v: bigint): { hi: number; lo: number } {
  return fromBig(v);
}

/** 4K page number of a canonical address (low 48 or 57 bits). */
export function vpnOf(v: bigint, la57 = false): Vpn {
  return toVpn(Number((BigInt.asUintN(la57 ? 57 : 48, v) >> 12n) & ((1n << 45n) - 1n)));
}
