/**
 * The reverse map's walk alone (folio_referenced, issue #20 goal 3): MIB (64) MiB of anonymous
 * memory written on a machine large enough to hold it (nothing reclaimed), then
 * folio_referenced of every page on the LRU, ROUNDS (40) times; after the first round no PTE is
 * young, so every walk only reads (the PMD entry, the PTE). Prints CPU ns per walk (the best and
 * median of the rounds) and a checksum of what the walks found (equal in every tree).
 * Run: node bench/bundled.mjs bench/rmapwalk.bench.ts
 */
import { Access } from "../src/hw/access.ts";
import { Kernel, mmapArgs } from "../src/kernel/Kernel.ts";
import { folioReferenced } from "../src/kernel/mm/rmap.ts";
import type { Vmscan } from "../src/kernel/mm/vmscan.ts";

const MIB = Number(process.env.MIB ?? 64);
const ROUNDS = Number(process.env.ROUNDS ?? 40);
const k = new Kernel({
  arch: "x86_64",
  ramBytes: 4 * (MIB << 20),
  cpus: 1,
  swapBytes: 0,
  overcommit: "always",
});
const t = k.spawn("w")!;
k.switchTo(0, t);
const base = k.mmap(t, mmapArgs(MIB << 20));
const pages = (MIB << 20) / 4096;
k.userAccessRange(0, t, Number(base >> 32n), Number(base & 0xffffffffn), pages, 4096, Access.Write, 1);
const v = (k as unknown as { vmscan: Vmscan }).vmscan;
v.fbatches.drain();
const pfns: number[] = [];
for (let pfn = 0; pfn < v.lru.length; pfn++) if (v.lru[pfn] !== 0) pfns.push(pfn);
let sum = 0;
const ns: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < pfns.length; i++) {
    const r = folioReferenced(v, pfns[i]);
    sum += r.found * 3 + r.young;
  }
  const u = process.cpuUsage(c0);
  ns.push(((u.user + u.system) * 1000) / pfns.length);
}
ns.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    walks: pfns.length,
    bestNs: +ns[0].toFixed(1),
    medianNs: +ns[ns.length >> 1].toFixed(1),
    checksum: sum,
  }),
);
