/**
 * The CPUs as data (view/types.ts): what runs on each, its MMU's counters
 * and TLB state (the hardware's counters beside Linux's cpu_tlbstate), and
 * every valid entry of its TLB with the rights it caches.
 */
import { permText } from "../../hw/mmu/PagingFormat.ts";
import { Meta } from "../../hw/mmu/TlbArray.ts";
import type { KernelCore } from "../core/core.ts";
import type { CacheCounters, CpuInfo, TlbArrayInfo, TlbEntryInfo, TlbInfo } from "./types.ts";

export function cpuInfo(k: KernelCore, id: number): CpuInfo {
  const c = k.machine.cpus[id];
  const st = k.tlbMgr.states[id];
  let hits = 0;
  for (const h of c.tlb.hits) hits += h;
  return {
    id,
    current: k.current[id]?.pid ?? null,
    asidName: c.asidName,
    loadedAsid: st.loadedAsid,
    loadedMm: st.loadedMm === null ? null : st.loadedMm.ctxId,
    lazy: st.isLazy,
    translations: c.translations,
    tlbHits: hits,
    tlbMisses: c.walks - c.dirtyAssists,
    tlbLevels: c.tlb.levels.map((l, i) => ({ name: l.name, hits: c.tlb.hits[i], misses: c.tlb.misses[i] })),
    walks: c.walks,
    walkRefs: c.walkRefs,
    adWrites: c.adWrites,
    dirtyAssists: c.dirtyAssists,
    pageFaults: c.pageFaults,
    addressFaults: c.addressFaults,
    rootWrites: c.rootWrites,
    hwAsid: c.asid,
    pageInvalidations: c.pageInvalidations,
    fullFlushes: c.fullFlushes,
    contextSwitches: st.contextSwitches,
    shootdownsReceived: st.shootdownsReceived,
    switchFlushes: st.switchFlushes,
    ptiCr3Writes: st.ptiCr3Writes,
    ptiUserFlushes: st.ptiUserFlushes,
    cache: cacheCounters(k, id),
  };
}

function cacheCounters(k: KernelCore, id: number): CacheCounters | null {
  const c = k.userMm.env.cache.system?.caches[id];
  if (c === undefined) return null;
  const { hits, misses, staleReads, flushes, rangeFlushes, pageFlushes, writebacks } = c;
  return { hits, misses, staleReads, flushes, rangeFlushes, pageFlushes, writebacks };
}

const KINDS = ["unified", "data", "instr", "unified"] as const;

/** A CPU's TLB arrays, level by level, and every valid entry in them. */
export function tlbInfo(k: KernelCore, id: number): TlbInfo {
  const c = k.machine.cpus[id];
  const tlb = c.tlb;
  const names = tlb.sizes.names;
  const arrays: TlbArrayInfo[] = [];
  const entries: TlbEntryInfo[] = [];
  for (const l of tlb.levels) {
    for (const a of l.arrays) {
      let valid = 0;
      for (let slot = 0; slot < a.entries; slot++) {
        const key = a.keys[slot];
        if (key === -1) continue;
        valid++;
        // key = tag * 8 + size code; the tag counts pages of that size
        const size = key % 8;
        const vpn = ((key - size) / 8) * a.pagesPer[size];
        const meta = a.metas[slot];
        entries.push({
          level: l.name,
          array: a.name,
          vpn,
          va: k.va.canonical(vpn),
          pfn: a.pfns[slot],
          pageSize: names[size],
          sourceSize: names[(meta >>> Meta.SRC_SIZE_SHIFT) & 7],
          asid: meta & Meta.ASID_MASK,
          global: (meta & Meta.G) !== 0,
          rights: permText((meta >>> Meta.RIGHTS_SHIFT) & 63),
          dirty: (meta & Meta.D) !== 0,
          // TlbArray keeps slot = set * ways + way
          set: Math.floor(slot / a.ways),
          way: slot % a.ways,
        });
      }
      arrays.push({
        level: l.name,
        name: a.name,
        entries: a.entries,
        ways: a.ways,
        sets: a.sets,
        sizes: names.filter((_, code) => (a.sizeMask & (1 << code)) !== 0),
        kind: KINDS[a.kindMask & 3],
        valid,
        evictions: a.evictions,
      });
    }
  }
  return { cpu: id, asidName: c.asidName, userAsid: k.tlbMgr.userAsid(id), arrays, entries };
}
