/**
 * The TLB-miss path of pagetable=inverted against the radix walk (issue #14):
 * 65,536 user pages mapped in both, no TLB (tlb=none: every access is a
 * miss), random accesses. The IPT's lookup reads the HAT slot and the chain's
 * entries; the radix walk reads one entry per level (4, no walk caches).
 * Run: node --import tsx bench/inverted.bench.ts
 */
import { Rng } from "../src/base/rng.ts";
import { pfnUnchecked, vpnUnchecked } from "../src/base/units.ts";
import { Access } from "../src/hw/access.ts";
import { Outcome } from "../src/hw/arch/x86_64/fault.ts";
import { InvertedX86Machine } from "../src/hw/arch/x86_64/InvertedCpu.ts";
import { bareMachine } from "../src/hw/arch/x86_64/testkit.ts";
import type { Mmu } from "../src/hw/mmu/Mmu.ts";

const PAGES = 65536;
const BASE_VPN = 0x10000;
const FIRST_FRAME = 20000;
const ACCESSES = 4_000_000;
const RAM = 512 << 20;

const inv = new InvertedX86Machine({ ramBytes: RAM, tlb: "none" });
// the IPT at 1 MiB (16 B x 131072 frames = 2 MiB), its HAT after it
const ipt = inv.setIpt(1 << 20, 3 << 20);
const icpu = inv.cpus[0];
icpu.space = 3;
icpu.setUserMode(true);
for (let i = 0; i < PAGES; i++) ipt.insert(FIRST_FRAME + i, 3, BASE_VPN + i, 63, true, 0);

const radix = bareMachine({ ramBytes: RAM, tlb: "none" });
for (let i = 0; i < PAGES; i++)
  radix.mapper.map(radix.root, vpnUnchecked(BASE_VPN + i), pfnUnchecked(FIRST_FRAME + i), 0, {
    writable: true,
    user: true,
  });
radix.cpu.setUserMode(true);

function run(name: string, cpu: Mmu): void {
  const rng = new Rng(1);
  const vas = new Float64Array(ACCESSES);
  for (let i = 0; i < ACCESSES; i++) vas[i] = (BASE_VPN + (rng.nextU32() % PAGES)) * 4096;
  let ok = 0;
  const t0 = performance.now();
  for (let i = 0; i < ACCESSES; i++) if (cpu.translate(0, vas[i] >>> 0, Access.Read) === Outcome.OK) ok++;
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${name.padEnd(6)} ${(ACCESSES / s / 1e6).toFixed(2)} M translations/s, ${ok} ok, ${(cpu.walkRefs / cpu.walks).toFixed(2)} memory references per miss`,
  );
}

run("ipt", icpu);
run("radix", radix.cpu);
