/**
 * What the fast-miss property tests (src/hw/arch/{x86_64,arm64,riscv,i386}/
 * fastMiss.property.test.ts) compare between a machine with the fast TLB-miss
 * walk and one without it, and the count of walks the generic path took.
 */
import { expect } from "vitest";
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
 * The walk record of the last walk (Mmu.walkRec): the entries read, then what
 * it found (page, size, TLB metadata, attributes) or the fault (outcome, error
 * code, kind, level). Compared after every access: a fast walk that reports a
 * fault itself must leave the record the generic walk leaves.
 */
export function walkRecord(cpu: Mmu): number[] {
  const r = cpu.walkRec;
  const out = [
    r.count,
    r.pscLevel,
    r.pagePfn,
    r.size,
    r.meta,
    r.attrs,
    r.outcome,
    r.errorCode,
    r.faultKind,
    r.faultLevel,
  ];
  for (let n = 0; n < r.count; n++) out.push(r.level[n], r.index[n], r.entryPa[n], r.hi[n], r.lo[n]);
  return out;
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

/** A machine of a fast-miss test: its CPU and the generic walks counted (countGenericWalks). */
export interface FastMissMachine {
  cpu: Mmu;
  generic(): number;
  genericOk(): number;
}

/**
 * Applies `ops` to both machines, `fast` with the fast TLB-miss walk and
 * `ref` without it: every op's outcome (`apply`'s string) must agree, the
 * counters after every access, and `state` every 32 ops and at the end.
 * `ref` must have taken the generic walk every time. Returns the fast
 * machine's walks by path (fastOk: those walkFast finished, its faults
 * among them; genericOk: the generic walk's successful ones), its generic
 * walks, the faults walkFast raised itself (fastFaults: the walks that
 * faulted, all generic on `ref`, less the fast machine's generic ones), and
 * its fast walks during the ops `high` picks (pages where every
 * level's index is non-zero: a wrong index only makes the fast walk give
 * up, so the tests require some of these).
 */
export function runOnBoth<M extends FastMissMachine, O extends { op: string }>(
  fast: M,
  ref: M,
  ops: O[],
  apply: (m: M, o: O) => string,
  state: (m: M) => unknown,
  high: (o: O) => boolean = () => false,
): { fastOk: number; genericOk: number; generic: number; fastFaults: number; fastHigh: number } {
  // expect only on a difference, for its diff: the comparisons run thousands of times
  const same = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) expect(a, what).toEqual(b);
  };
  const fastWalks = () => fast.cpu.walks - fast.generic();
  let fastHigh = 0;
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i];
    const before = fastWalks();
    const a = apply(fast, o);
    if (high(o)) fastHigh += fastWalks() - before;
    const b = apply(ref, o);
    if (a !== b) expect(a, `op ${i} ${JSON.stringify(o)}`).toBe(b);
    if (o.op === "access") {
      same(`counters after op ${i}`, mmuCounters(fast.cpu), mmuCounters(ref.cpu));
      same(`walk record after op ${i}`, walkRecord(fast.cpu), walkRecord(ref.cpu));
    }
    if (i % 32 === 31) same(`state after op ${i}`, state(fast), state(ref));
  }
  same("state at the end", state(fast), state(ref));
  expect(ref.generic()).toBe(ref.cpu.walks);
  const walkFaults = ref.cpu.walks - ref.genericOk();
  const genericFaults = fast.generic() - fast.genericOk();
  return {
    fastOk: fastWalks(),
    genericOk: fast.genericOk(),
    generic: fast.generic(),
    fastFaults: walkFaults - genericFaults,
    fastHigh,
  };
}
