/**
 * explain's data-cache part: where the access goes in the CPU's L1 data
 * cache (cache=vivt|vipt|pipt), found without changing it (DataCache.probe).
 */
import { describeCache } from "../../hw/cache/CacheSpec.ts";
import type { KernelCore } from "../core/core.ts";

const INDEX_FROM = { vivt: "the VA", vipt: "the VA", pipt: "the PA" } as const;
const TAG_FROM = { vivt: "the VA", vipt: "the PA", pipt: "the PA" } as const;

/** The lines explain prints for an access of `va` that reaches physical address `pa` on `cpuId` (none without a cache). */
export function explainCache(k: KernelCore, cpuId: number, va: bigint, pa: number): string[] {
  const c = k.userMm.env.cache.system?.caches[cpuId];
  if (c === undefined) return [];
  const u = BigInt.asUintN(64, va);
  const p = c.probe(pa, Number(u >> 32n), Number(u & 0xffffffffn));
  const kind = c.spec.kind;
  const out = [
    `  L1 data cache on cpu${cpuId} (${describeCache(c.spec)}): set ${p.set} (index from ${INDEX_FROM[kind]}, tag from ${TAG_FROM[kind]})`,
  ];
  if (p.way >= 0)
    out.push(
      `    hit in way ${p.way}${p.otherFrame ? ": the line holds another frame's bytes (a homonym: the same VA in another address space)" : ""}`,
    );
  else {
    const victim = p.set * c.ways + p.victim;
    const evicts =
      c.valid[victim] === 0
        ? "a free way"
        : c.dirty[victim]
          ? "its LRU line, written back first"
          : "its LRU line (clean)";
    out.push(`    miss: the line is filled from memory into way ${p.victim} (${evicts})`);
  }
  if (p.synonymSet >= 0)
    out.push(
      `    a synonym: set ${p.synonymSet} holds the same physical line through another address${p.synonymDirty ? ", dirty (this access does not see its stores)" : ""}`,
    );
  return out;
}
