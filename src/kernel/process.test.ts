/**
 * Seeded model-based fuzzing of processes (the model and its checks:
 * test/fuzz/processModel.ts), for fixed seeds: the seed is in the test
 * name, so a failure replays. New seeds: `npm run fuzz -- --target ops`.
 */

import { describe, expect, it } from "vitest";
import { runFuzz } from "../../test/fuzz/processModel.ts";
import { stolenTotal } from "./mm/vmscan_stat.ts";

/**
 * Everything exited: no user page is left but those still waiting in an LRU
 * add batch (mm/swap.c cpu_fbatches.lru_add) of a CPU the exits did not run
 * on, each held by that batch alone (exit_mmap's lru_add_drain empties only
 * the exiting CPU's batch); lru_add_drain_all frees them.
 */
function expectNoUserPages(k: ReturnType<typeof runFuzz>): void {
  const p = k.pages;
  for (let pfn = 0; pfn < p.nrFrames; pfn++)
    if (p.kind[pfn] === 9) {
      expect(k.vmscan.fbatches.has(pfn), `user frame ${pfn} left, in no LRU add batch`).toBe(true);
      expect(p.refcount[pfn], `user frame ${pfn}: only its batch's reference`).toBe(1);
    }
  k.vmscan.fbatches.drainAll();
  expect(k.pages.countByKind()[9]).toBe(0);
}

describe("processes with transparent huge pages under random use", () => {
  for (const seed of [201, 202, 203]) {
    it(`seed ${seed}, thp always`, () => {
      const k = runFuzz(seed, 400, true, true);
      expectNoUserPages(k);
      expect(k.userMm.thpStats.thp_fault_alloc).toBeGreaterThan(0);
    });
  }
});

describe("transparent huge pages under memory pressure: swapped out whole or split, swapped in 4K pieces", () => {
  for (const [seed, policy] of [
    [701, "linux"],
    [702, "linux"],
    [705, "clock"],
    // (704 split no huge page once shmem pages joined the anon lists: 706 does)
    [706, "mglru"],
  ] as const) {
    it(`seed ${seed}, policy ${policy}`, () => {
      const k = runFuzz(seed, 300, true, true, true, policy);
      const thp = k.userMm.thpStats;
      console.log(
        `seed ${seed}: thp_fault_alloc ${thp.thp_fault_alloc}, thp_split_page ${thp.thp_split_page}, thp_swpout ${thp.thp_swpout}, thp_swpout_fallback ${thp.thp_swpout_fallback}, pgsteal ${stolenTotal(k.vmscan.stats)}, pswpin ${k.swap!.pswpin}`,
      );
      expect(thp.thp_fault_alloc).toBeGreaterThan(0);
      // whole when a swap cluster is free (mm/vmscan_swapout.ts), else split first
      expect(thp.thp_swpout + thp.thp_swpout_fallback, "reclaim swapped a huge page out").toBeGreaterThan(0);
    });
  }
});

describe("processes under memory pressure: reclaim, swap, the OOM killer", () => {
  for (const [seed, policy] of [
    [507, "linux"],
    [502, "linux"],
    [504, "linux"],
    [502, "mglru"],
    [502, "clock"],
    [502, "fifo"],
    [502, "lru"],
    [502, "random"],
  ] as const) {
    it(`seed ${seed}, policy ${policy}`, () => {
      const k = runFuzz(seed, 300, true, false, true, policy);
      expect(stolenTotal(k.vmscan.stats), "reclaim ran").toBeGreaterThan(0);
      console.log(
        `seed ${seed}: pgsteal ${stolenTotal(k.vmscan.stats)}, pswpout ${k.swap!.pswpout}, pswpin ${k.swap!.pswpin}, oom kills ${k.oomKills}`,
      );
      expect(k.swap!.pswpin, "swapped pages were read back (and checked by the model)").toBeGreaterThan(0);
    });
  }
});

describe("processes under page-table isolation (model, invariant checker, TLB coherence)", () => {
  for (const [seed, pcid, pressure] of [
    [105, true, false],
    [106, false, false],
    [503, true, true],
  ] as const) {
    it(`seed ${seed}, pti on, pcid ${pcid ? "on" : "off"}${pressure ? ", memory pressure" : ""}`, () => {
      const k = runFuzz(seed, pressure ? 300 : 500, pcid, false, pressure, "linux", true);
      const cr3 = k.tlbMgr.states.reduce((n, st) => n + st.ptiCr3Writes, 0);
      console.log(
        `seed ${seed} pti: ${cr3} CR3 switches on kernel entry/exit, ${k.tlbMgr.shootdowns} shootdowns`,
      );
      expect(cr3).toBeGreaterThan(0);
      expectNoUserPages(k);
    });
  }
});

describe("processes under random use (model + invariant checker)", () => {
  for (const [seed, pcid] of [
    [101, true],
    [102, true],
    [103, false],
    [104, true],
  ] as const) {
    it(`seed ${seed}, pcid ${pcid ? "on" : "off"}`, () => {
      const k = runFuzz(seed, 600, pcid);
      expect(k.swap!.pswpin, "swapped pages came back").toBeGreaterThan(0);
      // everything exited: no user page and no user page table is left
      expectNoUserPages(k);
    });
  }
});
