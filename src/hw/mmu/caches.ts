/**
 * The caches an MMU is built with (Mmu's constructor): the TLB hierarchy its spec names, the first
 * level's base-page arrays the translate fast path probes first, the walk (paging-structure) caches
 * by level, and the offset masks of each page size the format has.
 */
import type { Geometry } from "./PagingFormat.ts";
import { makeTlb, type Tlb, type TlbPageSizes } from "./Tlb.ts";
import { TlbArray } from "./TlbArray.ts";
import type { MmuCaches } from "./WalkMemo.ts";
import { MAX_LEVELS } from "./WalkRecord.ts";

/** What mmuCaches builds (each one of Mmu's fields of the same name). */
export interface MmuCacheSet {
  tlb: Tlb;
  l1d: TlbArray | null;
  l1i: TlbArray | null;
  psc: (TlbArray | null)[];
  hasPsc: boolean;
  offLo: Float64Array;
  offHi: Float64Array;
}

/** The TLB and walk caches of `caches` for a format of `levels` levels whose page sizes `g` gives. */
export function mmuCaches(g: Geometry, levels: number, caches: MmuCaches): MmuCacheSet {
  const n = g.pagesPer.length; // the levels' page sizes, then a contiguous block's (contSize)
  const names = Array.from({ length: n }, (_, l) => g.sizeName(l));
  const sizes: TlbPageSizes = { names, pagesPer: Array.from(g.pagesPer), contSize: g.contSize };
  const tlb = makeTlb(caches.tlb ?? "skylake", sizes);
  const offLo = new Float64Array(n);
  const offHi = new Float64Array(n);
  for (let l = 0; l < n; l++) {
    const bits = g.leafShift[l];
    offLo[l] = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
    offHi[l] = bits > 32 ? 2 ** (bits - 32) - 1 : 0;
  }
  const psc: (TlbArray | null)[] = Array.from({ length: MAX_LEVELS }, () => null);
  let hasPsc = false;
  for (let level = 1; level < levels; level++) {
    const s = caches.psc?.[level];
    if (s && s[0] > 0) {
      psc[level] = new TlbArray(s[0], s[1], 1, 3, `psc${level}`);
      hasPsc = true;
    }
  }
  return {
    tlb,
    l1d: tlb.dataPath[0]?.find((a) => (a.sizeMask & 1) !== 0) ?? null,
    l1i: tlb.instrPath[0]?.find((a) => (a.sizeMask & 1) !== 0) ?? null,
    psc,
    hasPsc,
    offLo,
    offHi,
  };
}
