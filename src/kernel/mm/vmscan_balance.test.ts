/**
 * Reclaim's balance between the anonymous and the file lists (Linux 6.12 mm/vmscan.c
 * get_scan_count, prepare_scan_control, shrink_lruvec; mm/swap.c lru_note_cost): the rules
 * on a node of given list sizes, then on a kernel.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { scenarioError } from "../../workloads/scenario/testKit.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "./userMm.ts";
import { Lru } from "./vmscan.ts";
import {
  type BalanceNode,
  balancePgdat,
  DEF_PRIORITY,
  doTryToFreePages,
  getScanCount,
  inactiveIsLow,
  LruvecCost,
  newScanControl,
  prepareScanControl,
  ScanBalance,
  type ScanControl,
  type ShrinkNode,
  shrinkLruvec,
} from "./vmscan_balance.ts";

/** A node of given list sizes (pages, indexed by Lru) and swap; every call shrink_lruvec makes recorded. */
function fakeNode(
  sizes: number[],
  o: { swappiness?: number; freeSwap?: number; freeHigh?: [number, number] } = {},
) {
  const calls: [number, number][] = [];
  const size = new Int32Array(6);
  sizes.forEach((n, i) => {
    size[i + 1] = n;
  });
  const node: ShrinkNode & { calls: typeof calls } = {
    calls,
    size,
    lruSize: (list) => size[list],
    cost: new LruvecCost(),
    pageShift: 12,
    activations: () => 0,
    swappiness: () => o.swappiness ?? 60,
    freeSwapPages: () => o.freeSwap ?? 1 << 20,
    hasSwap: () => (o.freeSwap ?? 1) > 0,
    freeAndHighWmark: () => o.freeHigh ?? [1 << 20, 1000],
    drainBatches: () => {},
    shrinkActive: (list, nr) => {
      calls.push([list, nr]);
    },
    // every page scanned is reclaimed; the list does not shrink (the targets are fixed at the start)
    shrinkInactive: (list, nr, sc) => {
      calls.push([list, nr]);
      if (sc !== null) sc.nrScanned += nr;
      return nr;
    },
    shrinkSlab: () => 0,
    writeback: null,
    kswapdFailures: 0,
  };
  return node;
}

function scanCount(n: BalanceNode, sc: ScanControl): number[] {
  const nr = new Float64Array(5);
  getScanCount(n, sc, nr);
  return [nr[Lru.InactiveAnon], nr[Lru.ActiveAnon], nr[Lru.InactiveFile], nr[Lru.ActiveFile]];
}

describe("get_scan_count", () => {
  it("SCAN_FRACT: size >> priority per list, by swappiness when neither side cost anything", () => {
    const n = fakeNode([4096, 4096, 4096, 4096]);
    const sc = newScanControl(32, false, false);
    sc.priority = 4; // 256 pages a list before the split
    expect(scanCount(n, sc)).toEqual([76, 76, 179, 179]); // 256 x 60 / 200 (76.8), 256 x 140 / 200 (179.2)
    expect(sc.balance).toBe(ScanBalance.Fract);
  });

  it("the costlier side is scanned less, but never below a third of its swappiness share", () => {
    const n = fakeNode([1 << 20, 0, 1 << 20, 0], { swappiness: 100 });
    const sc = newScanControl(32, false, false);
    sc.priority = 0;
    n.swappiness = () => 100;
    sc.anonCost = 0;
    sc.fileCost = 0;
    sc.priority = 2;
    const even = scanCount(n, sc);
    expect(even[0]).toBe(even[2]); // swappiness 100: equal I/O cost
    sc.anonCost = 1e9; // anon reclaim has been very costly
    const skewed = scanCount(n, sc);
    expect(skewed[0]).toBeLessThan(even[0]);
    // the floor: anon_cost + file_cost is added to both sides first, so anon keeps ~1/3 of the pressure
    expect(skewed[0] / (skewed[0] + skewed[2])).toBeCloseTo(1 / 3, 2);
  });

  it("SCAN_FILE without free swap, SCAN_EQUAL at priority 0, SCAN_ANON when file is tiny, SCAN_FILE in cache trim mode", () => {
    const sizes = [1000, 1000, 1000, 1000];
    const noSwap = fakeNode(sizes, { freeSwap: 0 });
    const sc = newScanControl(32, false, false);
    sc.priority = 0;
    expect(scanCount(noSwap, sc)).toEqual([0, 0, 1000, 1000]);
    expect(sc.balance).toBe(ScanBalance.File);
    const n = fakeNode(sizes);
    expect(scanCount(n, sc)).toEqual([1000, 1000, 1000, 1000]);
    expect(sc.balance).toBe(ScanBalance.Equal);
    n.swappiness = () => 0; // swappiness 0 at priority 0: no equal scan, and no anon share
    expect(scanCount(n, sc)).toEqual([0, 0, 1000, 1000]);
    expect(sc.balance).toBe(ScanBalance.Fract);
    const s2 = newScanControl(32, false, false);
    s2.priority = 1;
    s2.fileIsTiny = true;
    expect(scanCount(fakeNode(sizes), s2)).toEqual([500, 500, 0, 0]);
    s2.fileIsTiny = false;
    s2.cacheTrimMode = true;
    expect(scanCount(fakeNode(sizes), s2)).toEqual([0, 0, 500, 500]);
    // a memory cgroup's reclaim at swappiness 0 never swaps
    const cg = newScanControl(32, false, true);
    cg.priority = 1;
    expect(scanCount(fakeNode(sizes, { swappiness: 0 }), cg)).toEqual([0, 0, 500, 500]);
  });
});

describe("prepare_scan_control", () => {
  it("ages an active list only when its inactive list is low or its side refaults; trims cache otherwise", () => {
    // a 100 MiB pair: ratio 1; inactive 1000 against active 3000 is low
    const n = fakeNode([1000, 3000, 20000, 1000]);
    const sc = newScanControl(32, false, false);
    prepareScanControl(n, sc);
    expect(sc.mayDeactivate).toBe(1); // Deactivate.Anon only
    expect(sc.cacheTrimMode).toBe(true); // 20000 >> 12 = 4 inactive file pages at this priority, no refaults
    // file refaults since the last snapshot: the active file list may be aged, no cache trim
    n.activations = (file) => (file ? 5 : 0);
    prepareScanControl(n, sc);
    expect(sc.mayDeactivate).toBe(3);
    expect(sc.cacheTrimMode).toBe(false);
  });

  it("file_is_tiny: file + free pages at or below the high watermarks, anon not low", () => {
    const n = fakeNode([8192, 0, 10, 10], { freeHigh: [100, 200] });
    const sc = newScanControl(32, false, false);
    sc.priority = 1;
    prepareScanControl(n, sc);
    expect(sc.fileIsTiny).toBe(true);
    expect(scanCount(n, sc)[0]).toBe(4096);
    // a cgroup's reclaim never decides it
    const cg = newScanControl(32, false, true);
    cg.priority = 1;
    prepareScanControl(n, cg);
    expect(cg.fileIsTiny).toBe(false);
  });

  it("inactive_is_low: the ratio grows with the square root of the pair's size", () => {
    const size = new Int32Array(6);
    // 10 GiB pair: ratio int_sqrt(100) = 10
    size[Lru.InactiveAnon] = 240000;
    size[Lru.ActiveAnon] = (10 << 18) - 240000;
    expect(inactiveIsLow(size, Lru.InactiveAnon)).toBe(false); // 2.4 M > 2.38 M active
    size[Lru.InactiveAnon] = 230000;
    size[Lru.ActiveAnon] = (10 << 18) - 230000;
    expect(inactiveIsLow(size, Lru.InactiveAnon)).toBe(true);
    // below 1 GiB: ratio 1
    size[Lru.InactiveAnon] = 100;
    size[Lru.ActiveAnon] = 101;
    expect(inactiveIsLow(size, Lru.InactiveAnon)).toBe(true);
  });

  it("inactive_is_low: the GiB of the pair by pages of 2^pageShift bytes, at the edges of each GiB", () => {
    const size = new Int32Array(6);
    // what Linux computes: gb = (inactive + active) >> (30 - PAGE_SHIFT), ratio int_sqrt(10 * gb) or 1
    const linux = (inact: number, active: number, shift: number) => {
      const gb = Math.floor((inact + active) / 2 ** (30 - shift));
      const ratio = gb > 0 ? Math.floor(Math.sqrt(10 * gb)) : 1;
      return inact * ratio < active;
    };
    let lows = 0;
    let checked = 0;
    for (const shift of [12, 14, 16]) {
      const perGb = 2 ** (30 - shift);
      for (const gbs of [0, 1, 2, 3, 9, 10, 99, 250]) {
        for (const d of [-1, 0, 1]) {
          const pair = gbs * perGb + d;
          if (pair < 2) continue;
          // the inactive share around 1/(1 + ratio) of the pair: both answers occur
          for (const frac of [0.02, 0.1, 0.24, 0.26, 0.5]) {
            const inact = Math.floor(pair * frac);
            size[Lru.InactiveAnon] = inact;
            size[Lru.ActiveAnon] = pair - inact;
            const low = inactiveIsLow(size, Lru.InactiveAnon, shift);
            expect(low, `shift ${shift}, inactive ${inact}, active ${pair - inact}`).toBe(
              linux(inact, pair - inact, shift),
            );
            if (low) lows++;
            checked++;
          }
        }
      }
    }
    expect(lows).toBeGreaterThan(0);
    expect(lows).toBeLessThan(checked);
  });
});

describe("lru_note_cost", () => {
  it("charges 32 per page written and 1 per page rotated, halving both past a quarter of the LRU", () => {
    const c = new LruvecCost();
    const size = new Int32Array(6);
    size[Lru.InactiveAnon] = 4000; // a quarter: 1000
    c.note(false, 10, 5, size);
    expect([c.anonCost, c.fileCost]).toEqual([325, 0]);
    c.note(true, 20, 40, size); // 680: 1005 in all, past 1000
    expect([c.anonCost, c.fileCost]).toEqual([162, 340]);
  });
});

describe("shrink_lruvec", () => {
  it("scans the lists 32 pages at a time in turn, and a kswapd run that has enough makes one nudge toward proportion", () => {
    const n = fakeNode([1000, 0, 4000, 0], { swappiness: 100 });
    const sc = newScanControl(64, true, false);
    sc.priority = 2;
    sc.mayDeactivate = 3;
    shrinkLruvec(n, sc);
    // targets 125 anon, 500 file; the first round reclaims 64 = enough: anon has less left (93 of 125),
    // so anon stops and file is cut to 500 x (100 - 73)% - 32 scanned = 103; the next round ends it
    // (anon is at zero: one nudge only)
    expect(n.calls).toEqual([
      [Lru.InactiveAnon, 32],
      [Lru.InactiveFile, 32],
      [Lru.InactiveFile, 32],
    ]);
    expect(sc.nrReclaimed).toBe(96);
  });

  it("direct reclaim at DEF_PRIORITY does its whole batch; active lists only where they may be aged", () => {
    const n = fakeNode([4096 * 40, 4096 * 8, 0, 0], { swappiness: 200 });
    const sc = newScanControl(32, false, false);
    expect(sc.priority).toBe(DEF_PRIORITY);
    sc.mayDeactivate = 0;
    shrinkLruvec(n, sc);
    // 40 inactive anon pages at priority 12, all of them though 32 were enough
    expect(n.calls.filter((c) => c[0] === Lru.InactiveAnon).map((c) => c[1])).toEqual([32, 8]);
    expect(n.calls.some((c) => c[0] === Lru.ActiveAnon)).toBe(false);
    expect(sc.skippedDeactivate).toBe(true);
  });

  it("do_try_to_free_pages walks down the priorities until enough went, then snapshots the refaults", () => {
    const n = fakeNode([256, 0, 0, 0], { swappiness: 200 });
    let refaults = 7;
    n.activations = (file) => (file ? 0 : refaults);
    const sc = newScanControl(32, false, false);
    // 256 >> 12..9 = 0, then 1, 2, 4, 8, 16 at priorities 8 to 4 (31, short of 32), and 32 at priority 3
    expect(doTryToFreePages(n, sc)).toBe(63);
    expect(sc.priority).toBe(3);
    expect(n.calls.map((c) => c[1])).toEqual([1, 2, 4, 8, 16, 32]);
    expect(n.cost.refaultsAnon).toBe(7);
    refaults = 9;
    expect(n.cost.refaultsAnon).toBe(7);
  });
});

describe("balance_pgdat", () => {
  it("lowers the priority while a step scans less than its target, keeps it once one reaches it", () => {
    const n = fakeNode([1 << 16, 0, 0, 0], { swappiness: 200 });
    const sc = newScanControl(0, true, false);
    const priorities: number[] = [];
    let freed = 0;
    n.shrinkInactive = (_list, nr, s) => {
      if (s !== null) s.nrScanned += nr;
      freed += nr;
      return nr;
    };
    const got = balancePgdat(
      n,
      sc,
      () => freed >= 2000,
      () => (priorities.push(sc.priority), 512),
    );
    // 65536 >> 12..8 = 16..256 pages, short of 512: lowered each time; 512 at priority 7 reaches
    // the target and keeps it until the node is balanced (496, 1008, 1520, 2032 pages)
    expect(priorities).toEqual([12, 11, 10, 9, 8, 7, 7, 7]);
    expect(got).toBe(2032);
    expect(n.kswapdFailures).toBe(0);
  });

  it("checks the watermarks at the waker's order until twice its size is reclaimed (compact_gap), then at order 0", () => {
    const n = fakeNode([1 << 16, 0, 0, 0], { swappiness: 200 });
    const sc = newScanControl(0, true, false);
    sc.order = 4; // compact_gap(4) = 32 pages
    const seen: [number, number][] = [];
    let freed = 0;
    n.shrinkInactive = (_list, nr, s) => {
      if (s !== null) s.nrScanned += nr;
      freed += nr;
      return nr;
    };
    // balanced at order 0 once 100 pages are free; never at order 4 (too fragmented)
    balancePgdat(
      n,
      sc,
      (order) => (seen.push([order, freed]), order === 0 && freed >= 100),
      () => 512,
    );
    // priorities 12, 11, 10 reclaim 16, 32, 64 pages (65536 >> p): order 4 until 32 are reclaimed
    expect(seen).toEqual([
      [4, 0],
      [4, 16],
      [0, 48],
      [0, 112],
    ]);
    expect(sc.order).toBe(0);
  });

  it("kswapd_failures: a run that freed nothing counts; any reclaim that frees a page resets it", () => {
    const n = fakeNode([1000, 0, 0, 0]);
    n.shrinkInactive = (list, nr, sc) => {
      n.calls.push([list, nr]);
      if (sc !== null) sc.nrScanned += nr;
      return 0; // nothing can go
    };
    balancePgdat(
      n,
      newScanControl(0, true, false),
      () => false,
      () => 64,
    );
    balancePgdat(
      n,
      newScanControl(0, true, false),
      () => false,
      () => 64,
    );
    expect(n.kswapdFailures).toBe(2);
    // balanced at once: not a failure
    balancePgdat(
      n,
      newScanControl(0, true, false),
      () => true,
      () => 64,
    );
    expect(n.kswapdFailures).toBe(2);
    const m = fakeNode([1000, 0, 0, 0]);
    m.kswapdFailures = 5;
    doTryToFreePages(m, newScanControl(32, false, false));
    expect(m.kswapdFailures).toBe(0);
  });
});

describe("the balance on a kernel", () => {
  const machine = () => new Kernel({ ramBytes: 64 << 20, swapBytes: 64 << 20, overcommit: "always" });
  const touchAll = (k: Kernel, t: NonNullable<ReturnType<Kernel["spawn"]>>, a: bigint, n: number) => {
    for (let i = 0; i < n; i++)
      expect(k.userAccess(0, t, a + BigInt(i) * 4096n, Access.Write, 1).ok).toBe(true);
  };

  it("cache trim mode: plenty of inactive page cache that does not refault is reclaimed alone", () => {
    const k = machine();
    const f = k.createFile("f", 2000 * 4096, "disk", true); // 2000 clean cached pages
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const a = k.mmap(t, mmapArgs(2000 * 4096));
    touchAll(k, t, a, 2000);
    const got = k.reclaim(64);
    expect(got).toBeGreaterThanOrEqual(64);
    expect(f.cache.size).toBe(2000 - got);
    expect([k.vmscan.stats.pgscan_anon, t.mm!.swapEnts]).toEqual([0, 0]);
  });

  it("lru_note_cost on a kernel: the anonymous side pays for its writes and rotations, decayed", () => {
    const k = machine();
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const a = k.mmap(t, mmapArgs(8000 * 4096));
    touchAll(k, t, a, 8000);
    expect(k.vmscan.cost.anonCost).toBe(0);
    const s = k.vmscan.stats;
    expect(k.reclaim(32)).toBeGreaterThanOrEqual(32);
    const undecayed = 32 * s.nr_vmscan_write + (s.pgscan_anon - s.pgsteal_anon);
    expect(s.nr_vmscan_write).toBeGreaterThan(0);
    // every page scanned was young from its fault on the first trip: rotated, a cost
    expect(s.pgscan_anon).toBeGreaterThan(s.pgsteal_anon);
    // more than a quarter of the LRU's 8000 pages in all: halved at least once on the way
    expect(undecayed).toBeGreaterThan(2000);
    expect(k.vmscan.cost.anonCost).toBeGreaterThan(0);
    expect(k.vmscan.cost.anonCost).toBeLessThanOrEqual(undecayed / 2);
    expect(k.vmscan.cost.fileCost).toBe(0);
  });

  it("kswapd_failures: without swap kswapd fails, and after 16 failed runs it is no longer woken (node_unreclaimable)", () => {
    const k = new Kernel({ ramBytes: 32 << 20, swapBytes: 0, overcommit: "always" });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const pages = 7000; // most of 32 MiB: below the low watermark long before the end
    const a = k.mmap(t, mmapArgs(pages * 4096));
    let runsAt16 = -1;
    for (let i = 0; i < pages && t.alive; i++) {
      k.userAccess(0, t, a + BigInt(i) * 4096n, Access.Write, 1);
      if (runsAt16 < 0 && k.vmscan.kswapdFailures >= 16) runsAt16 = k.vmscan.stats.pageoutrun;
    }
    expect(runsAt16).toBe(16); // every run failed: nothing can leave RAM
    expect(k.vmscan.stats.pageoutrun).toBe(16); // not woken since
    expect(k.view.zoneinfo().some((z) => z.nodeUnreclaimable)).toBe(true);
  });

  it("sysctl swappiness: the library call and the statement, EINVAL above 200, bad values at their column", () => {
    const k = machine();
    expect(k.sysctlSwappiness()).toEqual({ ret: 0, now: 60 });
    expect(k.sysctlSwappiness(201)).toEqual({ ret: -22, now: 60 });
    expect(k.sysctlSwappiness(0)).toEqual({ ret: 0, now: 0 });
    expect(k.config.swappiness).toBe(0); // what get_scan_count reads
    expect(scenarioError("machine ram=64M\nsysctl swappiness=-1")).toMatch(
      /^s\.vm:2:19: swappiness is negative/,
    );
    expect(scenarioError("machine ram=64M\nsysctl swappiness=0x80000000")).toMatch(
      /^s\.vm:2:19: swappiness=2147483648: 0 to 2\^31 - 1/,
    );
    expect(scenarioError("machine ram=64M\nsysctl swappiness=")).toMatch(/^s\.vm:2:19: expected a value/);
    expect(scenarioError("machine profile=windows\nsysctl swappiness=10")).toMatch(/Linux's \/proc\/sys\/vm/);
  });
});
