/**
 * TlbArray's key filter (tlbFilter.ts) under reclaim's pattern: a sweep fills skylake's 4K arrays
 * by runs of 30 pages (Tlb.fillMissedRun, as the pressure run's fault batches), and after each run
 * the pages a steady distance behind are invalidated (flush_tlb_page of pages reclaim unmaps,
 * evicted from the TLB long before): each array's sets scanned, counted at scanSet. The filter may
 * let a key through only by a hash collision, not by the distance: at every distance at most a
 * quarter of the invalidations scan. With one multiply as the hash (Fibonacci hashing, linear in
 * the tag) the STLB scanned 60-80% at some distances (x86-64's press6 at MIB=128: 67%).
 * And moveWaysDown (tlbWays.ts) against the one-way-a-turn loop.
 */
import { describe, expect, it } from "vitest";
import type { Vpn } from "../../base/units.ts";
import { makeTlb } from "./Tlb.ts";
import { InvalidateHow, type TlbArray } from "./TlbArray.ts";
import { moveWaysDown } from "./tlbWays.ts";

/** Counts the scans of `a`'s sets (its private scanSet), returning the count so far. */
function countScans(a: TlbArray): () => number {
  let scans = 0;
  const inner = a as unknown as { scanSet: (...args: number[]) => number };
  const scanSet = inner.scanSet;
  inner.scanSet = function (this: TlbArray, ...args: number[]) {
    scans++;
    return scanSet.apply(this, args);
  };
  return () => scans;
}

describe("TlbArray's key filter, reclaim's pattern", () => {
  it("scans at most a quarter of the invalidations of pages a steady distance behind, at every distance", () => {
    const RUN = 30;
    const worst: string[] = [];
    for (const lag of [3000, 6144, 8192, 12000, 16384, 24576, 32768, 50000, 65536]) {
      const tlb = makeTlb("skylake");
      const l1 = tlb.levels[0].arrays[0];
      const l2 = tlb.levels[1].arrays[0];
      const s1 = countScans(l1);
      const s2 = countScans(l2);
      const pfns = new Float64Array(RUN);
      const metas = new Int32Array(RUN).fill(1 | (7 << 16));
      const attrs = new Int32Array(RUN);
      const first = 0x7f0000000; // user pages: keys above 2^31
      let invalidations = 0;
      let dropped = 0;
      for (let done = 0; done < lag + 40000; done += RUN) {
        const vpn = first + done;
        for (let i = 0; i < RUN; i++) pfns[i] = 1000 + ((vpn + i) & 0xfffff);
        tlb.fillMissedRun(vpn, 1, RUN, pfns, metas, attrs, false, false);
        if (done < lag) continue;
        for (let i = 0; i < RUN; i++)
          dropped += tlb.invalidatePage((vpn + i - lag) as Vpn, 1, InvalidateHow.PcidAndGlobal);
        invalidations += RUN;
      }
      expect(dropped).toBe(0); // evicted long ago: nothing to drop
      const r1 = s1() / invalidations;
      const r2 = s2() / invalidations;
      if (r1 > 0.25 || r2 > 0.25) worst.push(`lag ${lag}: L1 ${r1.toFixed(2)}, STLB ${r2.toFixed(2)}`);
    }
    expect(worst).toEqual([]);
  });

  it("moveWaysDown moves what the one-way loop moves, for every keep and put of a 12-way set", () => {
    for (let keep = 0; keep <= 12; keep++)
      for (let put = 1; keep + put <= 12; put++) {
        const keys = Float64Array.from({ length: 40 }, (_, i) => i * 8);
        const pfns = Float64Array.from({ length: 40 }, (_, i) => 1000 + i);
        const metas = Int32Array.from({ length: 40 }, (_, i) => 7 * i);
        const k2 = keys.slice();
        const p2 = pfns.slice();
        const m2 = metas.slice();
        const base = 12;
        moveWaysDown(keys, pfns, metas, base, keep, put);
        for (let from = base + keep - 1, to = from + put; from >= base; from--, to--) {
          k2[to] = k2[from];
          p2[to] = p2[from];
          m2[to] = m2[from];
        }
        expect([keep, put, [...keys]]).toEqual([keep, put, [...k2]]);
        expect([...pfns]).toEqual([...p2]);
        expect([...metas]).toEqual([...m2]);
      }
  });
});
