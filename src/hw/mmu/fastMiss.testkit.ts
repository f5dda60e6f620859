/**
 * What the fast-miss property tests (src/hw/arch/{x86_64,arm64,riscv,i386}/
 * fastMiss.property.test.ts) compare between a machine with the fast TLB-miss
 * walk and one without it, and the count of walks the generic path took.
 */
import { toPfn } from "../../base/units.ts";
import type { Mmu } from "./Mmu.ts";

/** The counters, compared after every access. */
export function mmuCounters(cpu: Mmu): number[] {
  return [
    cpu.walks,
    cpu.walkRefs,
    cpu.adWrites,
    cpu.dirtyAssists,
    cpu.pageFaults,
    ...cpu.tlb.hits,
    ...cpu.tlb.misses,
  ];
}

/**
 * Everything the two paths must agree on: the counters, every TLB array's entries in order with its evictions, and the bytes of
 * the frames [tableFrames[0], tableFrames[1]) (the page tables).
 */
export function mmuState(cpu: Mmu, tableFrames: [number, number]): Record<string, unknown> {
  const arrays = cpu.tlb.levels.flatMap((l) =>
    l.arrays.map((a) => ({
      name: a.name,
      evictions: a.evictions,
      keys: Array.from(a.keys),
      pfns: Array.from(a.pfns),
      metas: Array.from(a.metas),
      attrs: Array.from(a.attrs),
      occupancy: a.occupancy(),
    })),
  );
  const tables: number[] = [];
  for (let f = tableFrames[0]; f < tableFrames[1]; f++) {
    const words = cpu.phys.frameWords(toPfn(f));
    if (words !== null) tables.push(...words);
  }
  return { counters: mmuCounters(cpu), arrays, tables };
}

/**
 * Counts the walks with side effects that reach the generic walk (the fast
 * path's share is the rest): all of them, and those that succeeded.
 */
export function countGenericWalks(cpu: Mmu): { generic: () => number; genericOk: () => number } {
  let generic = 0;
  let genericOk = 0;
  const walk = cpu.walk.bind(cpu);
  cpu.walk = (vpn, access, mode, sideEffects, rec, checkRights) => {
    if (sideEffects) generic++;
    const r = walk(vpn, access, mode, sideEffects, rec, checkRights);
    if (sideEffects && r === 0) genericOk++;
    return r;
  };
  return { generic: () => generic, genericOk: () => genericOk };
}
