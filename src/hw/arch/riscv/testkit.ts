/**
 * A RISC-V machine with a root table in satp, ready to map into: for tests,
 * demos and benchmarks of the hardware layer.
 */
import { assert } from "../../../base/assert.ts";
import { fromBig } from "../../../base/u64.ts";
import { type Pfn, pfnToPa, type Vpn } from "../../../base/units.ts";
import { levelsOfBits } from "./format.ts";
import { BumpFrames, RiscvMapper } from "./Mapper.ts";
import { RiscvMachine, type RiscvMachineConfig } from "./machine.ts";

export function bareRiscv(config: Partial<RiscvMachineConfig> = {}, asid = 0) {
  const vaBits = config.vaBits ?? 39;
  const m = new RiscvMachine({ ramBytes: 256 << 20, ...config, vaBits });
  const frames = new BumpFrames(256, m.phys.nrFrames);
  const mapper = new RiscvMapper(m.phys, frames, levelsOfBits(vaBits));
  const r = mapper.newRoot();
  assert(r !== -1, "bareRiscv: no frame for the root table");
  const root: Pfn = r;
  for (const cpu of m.cpus) assert(cpu.loadSatp(cpu.maxMode, asid, pfnToPa(root)), "bareRiscv: satp");
  return { m, cpu: m.cpus[0], frames, mapper, root, vaBits };
}

/** A VA's halves. */
export function va(v: bigint): { hi: number; lo: number } {
  return fromBig(BigInt.asUintN(64, v));
}

/** The page number of an address under a `vaBits` MODE: VA[vaBits-1:12] (no validity check). */
export function vpnOf(v: bigint, vaBits: 32 | 39 | 48 | 57 = 39): Vpn {
  const u = BigInt.asUintN(64, v);
  return Number((u >> 12n) & ((1n << BigInt(vaBits - 12)) - 1n)) as Vpn;
}
