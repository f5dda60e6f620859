/**
 * An ARM64 machine with a TTBR0 and a TTBR1 table ready to map into: for
 * tests, demos and benchmarks of the hardware layer.
 */
import { assert } from "../../../base/assert.ts";
import { fromBig } from "../../../base/u64.ts";
import { type Pfn, pfnToPa, type Vpn } from "../../../base/units.ts";
import { TTBR1_VPN } from "./Cpu.ts";
import { Arm64Mapper, BumpFrames } from "./Mapper.ts";
import { Arm64Machine, type Arm64MachineConfig } from "./machine.ts";

export function bareArm64(config: Partial<Arm64MachineConfig> = {}, vaBits = 48) {
  const m = new Arm64Machine({ ramBytes: 256 << 20, ...config });
  const frames = new BumpFrames(256, m.phys.nrFrames);
  const mapper = new Arm64Mapper(m.phys, frames, vaBits, config.paBits ?? 48);
  const r0 = mapper.newRoot();
  const r1 = mapper.newRoot();
  assert(r0 !== -1 && r1 !== -1, "bareArm64: no frames for the tables");
  const root0: Pfn = r0;
  const root1: Pfn = r1;
  for (const cpu of m.cpus) {
    cpu.setTcr({ t0sz: 64 - vaBits, t1sz: 64 - vaBits });
    cpu.loadTtbr0(pfnToPa(root0), 0);
    cpu.loadTtbr1(pfnToPa(root1));
  }
  return { m, cpu: m.cpus[0], frames, mapper, root0, root1 };
}

/** A VA's halves. */
export function va(v: bigint): { hi: number; lo: number } {
  return fromBig(BigInt.asUintN(64, v));
}

/** The Cpu's page number of an address of either range (no range check). */
export function vpnOf(v: bigint): Vpn {
  const u = BigInt.asUintN(64, v);
  return (Number((u >> 55n) & 1n) * TTBR1_VPN + Number((u >> 12n) & 0xf_ffff_ffffn)) as Vpn;
}
