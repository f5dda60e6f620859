/**
 * LruLists.addAnonRun (LruAddBatches.addRun: folio_add_lru_vma of a fault batch's pages at once,
 * mm/anon_fault.ts doAnonymousRun) against addAnon page by page: two kernels booted alike
 * allocate the same pages and add them to the LRU, one in runs of random length (across the
 * 31-folio batch, its move in the middle of a run), the other one by one, on both CPUs, with
 * lru_add_drain between some runs; now and then a run holds a page lru_add does not link as a new
 * one (PG_mlocked: the unevictable list; a page already on a list); every page's list, links, index, anon_vma,
 * PG_referenced, refcount and batch slot, the lists' heads, tails, sizes and zone sizes, and each
 * CPU's batch agree.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { Gfp } from "./gfp.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";

function lruState(k: Kernel) {
  const v = k.vmscan;
  const b = v.fbatches;
  return {
    lru: Array.from(v.lru),
    next: Array.from(v.next),
    prev: Array.from(v.prev),
    index: Array.from(v.index),
    anonVma: Array.from(v.anonVma),
    referenced: Array.from(v.referenced),
    head: Array.from(v.head),
    tail: Array.from(v.tail),
    size: Array.from(v.size),
    zoneSize: Array.from(v.zoneSize),
    refcount: Array.from(k.pages.refcount),
    folios: Array.from(b.folios),
    count: Array.from(b.count),
    cpuOf: Array.from(b.cpuOf),
    list: Array.from(b.list),
  };
}

describe("LruLists.addAnonRun", () => {
  for (const policy of ["linux", "mglru"] as const)
    it(`gives what addAnon page by page gives (${policy})`, () => {
      const config = { ramBytes: 64 << 20, cpus: 2, policy };
      const a = new Kernel(config);
      const b = new Kernel(config);
      const rng = new Rng(policy === "linux" ? 11 : 12);
      const pfns = new Float64Array(200);
      for (let round = 0; round < 60; round++) {
        const cpu = rng.below(2);
        a.runningCpu = cpu;
        b.runningCpu = cpu;
        const n = rng.below(3) === 0 ? rng.below(4) : rng.below(120);
        for (let i = 0; i < n; i++) {
          const pa = a.userMm.env.buddy.alloc(0, Gfp.HIGHUSER_MOVABLE, PageKind.UserAnon);
          const pb = b.userMm.env.buddy.alloc(0, Gfp.HIGHUSER_MOVABLE, PageKind.UserAnon);
          expect(pa).toBe(pb);
          pfns[i] = pa;
        }
        // one page of the run lru_add does not link as it links a new one
        const odd = n > 0 && rng.below(4) === 0 ? rng.below(n) : -1;
        if (odd >= 0 && rng.below(2) === 0) {
          a.pages.flags[pfns[odd]] |= PageFlag.Mlocked;
          b.pages.flags[pfns[odd]] |= PageFlag.Mlocked;
        } else if (odd >= 0 && a.vmscan.head[1] >= 0) pfns[odd] = a.vmscan.head[1]; // on the inactive anon list
        const index = rng.below(1 << 20);
        const step = 1 + rng.below(3);
        const anonVma = 1 + rng.below(5);
        a.vmscan.addAnonRun(pfns, n, index, step, anonVma);
        for (let i = 0; i < n; i++) b.vmscan.addAnon(pfns[i], index + i * step, anonVma, 0);
        if (rng.below(8) === 0) {
          a.vmscan.fbatches.drain();
          b.vmscan.fbatches.drain();
        }
        const bat = (k: Kernel) => [Array.from(k.vmscan.fbatches.count), Array.from(k.vmscan.size)];
        expect(bat(a), `round ${round}`).toEqual(bat(b));
        if (round % 10 === 9) expect(lruState(a), `round ${round}`).toEqual(lruState(b));
      }
      expect(a.vmscan.size.reduce((x, y) => x + y, 0)).toBeGreaterThan(1000); // batches moved
    });
});
