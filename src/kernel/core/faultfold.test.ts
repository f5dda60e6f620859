/**
 * The fold of a run's demand-zero faults (faultfold.ts, mm/anon_fault.ts) against every fault
 * through the architecture's handler: two kernels booted alike take the same random mmaps
 * (private and shared, writable or not), mprotects, munmaps (holes), forks (COW pages are not
 * pte_none), pageouts and reclaim, mlock, MADV_DONTNEED, and runs of user accesses across
 * mappings and holes (writes and reads, strides of a page and others, both directions) on two
 * CPUs, one kernel with the fold, the other without it (faultFold.on = false around each of its
 * calls). After every run both agree on the run's result, and every few steps and at the end on
 * the whole view: every task's VMAs, page entries and contents, page tables, status (minflt),
 * the CPUs' registers and TLBs, counters, meminfo, vmstat, zoneinfo and buddyinfo (the pcp
 * lists), frames, swap, reclaim (the LRU lists), THP counters, the log.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { Access } from "../../hw/access.ts";
import { twinSnapshot, withFoldOff } from "../faultfold.testkit.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "../mm/mmap.ts";
import type { KernelArchName } from "./config.ts";
import { faultFold } from "./faultfold.ts";
import type { TaskHandle } from "./task.ts";

const MiB = 1 << 20;
const TWO32 = 2 ** 32;

const snapshot = twinSnapshot;

/**
 * What the twin kernel goes without: the fold, only its part inside the MMU's run (RunFaultFold),
 * or only the batches of faults resolved at once (RunFaultFold.runFaultRun, RunFold.faultRun).
 */
let twinOff: "on" | "inRun" | "batch" = "on";

/** `f` on the twin kernel (without the fold, or without the fold in the run) */
const unfolded = <T>(f: () => T): T => withFoldOff(twinOff, f);

interface Opts {
  arch: KernelArchName;
  ramMiB?: number;
  thp?: "never" | "always";
  mthpKb?: number;
  extra?: object;
  /** the largest mapping and run, in pages (pressure: runs that fault RAM full) */
  big?: number;
  /** the twin goes without the fold in the run only (the fold itself on in both) */
  inRun?: boolean;
  /** the twin goes without the batches only (each fault of a run by itself, in the run) */
  batch?: boolean;
  /** long runs one time in two (else one in three), mappings too */
  longRuns?: boolean;
}

function scenario(seed: number, steps: number, o: Opts) {
  twinOff = o.batch ? "batch" : o.inRun ? "inRun" : "on";
  const config = {
    ramBytes: (o.ramMiB ?? 40) * MiB,
    swapBytes: 16 * MiB,
    overcommit: "always" as const,
    cpus: 2,
    arch: o.arch,
    thp: o.thp ?? "never",
    checkCoherence: false,
    ...o.extra,
  };
  const a = new Kernel(config);
  const b = unfolded(() => new Kernel(config));
  if (o.mthpKb !== undefined) {
    expect(a.mthpSet(o.mthpKb, "always")).toBe(true);
    expect(unfolded(() => b.mthpSet(o.mthpKb!, "always"))).toBe(true);
  }
  const rng = new Rng(seed);
  const live: { ta: TaskHandle; tb: TaskHandle; maps: bigint[][] }[] = [];
  const spawn = () => {
    const ta = a.spawn("p");
    const tb = unfolded(() => b.spawn("p"));
    if (ta !== null && tb !== null) live.push({ ta, tb, maps: [] });
  };
  spawn();
  const folded0 = faultFold.folded;
  const slow0 = faultFold.slow;
  const inRun0 = faultFold.inRunFolded;
  const batched0 = faultFold.batched;
  const tables0 = faultFold.tables;
  let touches = 0;
  for (let step = 0; step < steps; step++) {
    // a task the OOM killer chose while another ran (a fork's child, under pressure) is gone
    for (let j = live.length - 1; j >= 0; j--) if (!live[j].ta.alive) live.splice(j, 1);
    if (live.length === 0) spawn();
    const pair = live[rng.below(live.length)];
    const { ta, tb, maps } = pair;
    const cpu = rng.below(2);
    a.switchTo(cpu, ta);
    unfolded(() => b.switchTo(cpu, tb));
    const same = <T>(what: string, fa: () => T, fb: () => T) => {
      const x = fa();
      expect(unfolded(fb), `step ${step}: ${what}`).toEqual(x);
      return x;
    };
    const op = maps.length === 0 ? 0 : rng.below(20);
    if (op < 3) {
      const len = (1 + rng.below(rng.below(o.longRuns ? 2 : 3) === 0 ? (o.big ?? 1500) : 96)) * 4096;
      const prot = rng.pick([
        { r: true, w: true, x: false },
        { r: true, w: true, x: false },
        { r: true, w: false, x: false },
      ]);
      const args = mmapArgs(len, { prot, shared: rng.below(6) === 0, locked: rng.below(12) === 0 });
      const va = same(
        "mmap",
        () => a.mmap(ta, args),
        () => b.mmap(tb, args),
      );
      if (va > 0n && va < 2n ** 63n) maps.push([va, BigInt(len)]);
    } else if (op === 3) {
      const [start, len] = rng.pick(maps);
      const off = BigInt(rng.below(Number(len / 4096n))) * 4096n;
      const n = BigInt(1 + rng.below(8)) * 4096n;
      same(
        "munmap",
        () => a.munmap(ta, start + off, n),
        () => b.munmap(tb, start + off, n),
      );
    } else if (op === 4) {
      const [start, len] = rng.pick(maps);
      const off = BigInt(rng.below(Number(len / 4096n))) * 4096n;
      const prot = { r: true, w: rng.below(3) !== 0, x: false };
      same(
        "mprotect",
        () => a.mprotect(ta, start + off, 8192n, prot),
        () => b.mprotect(tb, start + off, 8192n, prot),
      );
    } else if (op === 5 && live.length < 3) {
      const ca = a.fork(ta, "c");
      const cb = unfolded(() => b.fork(tb, "c"));
      if (ca !== null && cb !== null) live.push({ ta: ca, tb: cb, maps: [...maps] });
    } else if (op === 6) {
      a.catchSignal(ta, "SIGSEGV");
      unfolded(() => b.catchSignal(tb, "SIGSEGV"));
    } else if (op === 7) {
      same(
        "reclaim",
        () => a.reclaim(64),
        () => b.reclaim(64),
      );
    } else if (op === 8) {
      const [start, len] = rng.pick(maps);
      const how = rng.pick(["pageout", "dontneed"] as const);
      same(
        how,
        () => a.madvise(ta, start, len, how),
        () => b.madvise(tb, start, len, how),
      );
    } else {
      // a run: mostly writes a page apart from inside a mapping (the fold's case), often past
      // its end into the next mapping or a hole; reads, other strides, descending runs
      const [start, len] = rng.pick(maps);
      const stride = rng.pick([4096, 4096, 4096, 4096, -4096, 8192, 3000, 100]);
      const count = 1 + rng.below(rng.below(o.longRuns ? 2 : 3) === 0 ? (o.big ?? 1200) : 80);
      let va = start + BigInt(rng.below(Number(len)));
      if (stride < 0 && va < BigInt(-stride * count)) va = BigInt(-stride * count);
      const access = rng.below(5) === 0 ? Access.Read : Access.Write;
      const value = rng.below(256);
      const hi = Math.floor(Number(va) / TWO32);
      const lo = Number(va & 0xffffffffn);
      const run = (k: Kernel, t: TaskHandle) => {
        const done = k.userAccessRange(cpu, t, hi, lo, count, stride, access, value);
        const r = k.lastAccess;
        return { done, faults: r.faults, pa: r.pa, value: r.value, signal: r.signal, killed: r.killed };
      };
      const ra = same(
        `run at ${va.toString(16)}`,
        () => run(a, ta),
        () => run(b, tb),
      );
      touches += ra.done;
      if (ra.killed) live.splice(live.indexOf(pair), 1);
    }
    if (step % 20 === 19) expect(snapshot(a), `after step ${step}`).toEqual(unfolded(() => snapshot(b)));
  }
  expect(snapshot(a)).toEqual(unfolded(() => snapshot(b)));
  const s = a.view.vmstat();
  return {
    touches,
    folded: faultFold.folded - folded0,
    slow: faultFold.slow - slow0,
    inRun: faultFold.inRunFolded - inRun0,
    batched: faultFold.batched - batched0,
    tables: faultFold.tables - tables0,
    pgsteal: s.pgsteal_anon + s.pgsteal_file,
    pswpin: s.pswpin ?? 0,
  };
}

describe("a run's demand-zero faults folded give what the handler gives fault by fault", () => {
  it("x86-64 with PTI, THP never, swap under pressure", () => {
    const r = scenario(1, 160, { arch: "x86_64", ramMiB: 32, extra: { pti: true }, big: 9000 });
    expect(r.folded).toBeGreaterThan(400);
    expect(r.pgsteal).toBeGreaterThan(0);
    expect(r.slow).toBeGreaterThan(0); // folded faults whose allocation woke kswapd or reclaimed
  });
  it("x86-64, THP always (the fold only where the leaf table is present)", () => {
    expect(scenario(2, 140, { arch: "x86_64", thp: "always" }).folded).toBeGreaterThan(300);
  });
  it("x86-64, mTHP 64K always (no fold)", () => {
    expect(scenario(3, 100, { arch: "x86_64", mthpKb: 64 }).folded).toBe(0);
  });
  it("arm64", () => {
    expect(scenario(4, 140, { arch: "arm64" }).folded).toBeGreaterThan(400);
  });
  it("RISC-V Sv48", () => {
    expect(scenario(5, 140, { arch: "riscv-sv48" }).folded).toBeGreaterThan(400);
  });
  it("i386 (PAE), small RAM", () => {
    expect(scenario(6, 140, { arch: "i386-pae", ramMiB: 32 }).folded).toBeGreaterThan(400);
  });
  it("i386 (PAE) with PTI: CR3 switched and the TLB flushed at each fault's entry and exit", () => {
    expect(scenario(7, 140, { arch: "i386-pae", ramMiB: 32, extra: { pti: true } }).folded).toBeGreaterThan(
      400,
    );
  });
});

describe("a leaf table's first fault folded (pte_alloc, then do_anonymous_page) gives what the handler gives", () => {
  // long runs over large mappings: runs that cross into a 2M range with no leaf table yet, in the
  // VMA of the mm's last fault (the fold's), each such fault taken in the fold where no THP may be
  // made there; the twin takes every fault through the architecture's handler
  it("x86-64, THP always (at a none PMD only where no huge page may be made)", () => {
    const r = scenario(21, 120, { arch: "x86_64", thp: "always", big: 3000, longRuns: true });
    expect(r.tables).toBeGreaterThan(0);
  });
  it("arm64", () => {
    const r = scenario(22, 120, { arch: "arm64", big: 3000, longRuns: true });
    expect(r.tables).toBeGreaterThan(0);
  });
  it("x86-64, 5-level paging, memory nearly full", () => {
    const r = scenario(23, 120, { arch: "x86_64-la57", ramMiB: 32, big: 9000, longRuns: true });
    expect(r.tables).toBeGreaterThan(0);
  });
  it("RISC-V Sv39 (not folded: no batches after it, tableBatched)", () => {
    const r = scenario(24, 60, { arch: "riscv-sv39", big: 3000, longRuns: true });
    expect(r.tables).toBe(0);
    expect(r.folded).toBeGreaterThan(300);
  });
});

describe("a run's demand-zero faults folded inside the MMU's run give what the fold gives out of it", () => {
  // the twin folds each fault out of Mmu.accessRun (the run returns, userModeRange enters the
  // kernel, folds, retries in a new run); here the run hands the fault to RunFaultFold and goes on
  it("x86-64 with PTI, swap under pressure", () => {
    const r = scenario(1, 160, { arch: "x86_64", ramMiB: 32, extra: { pti: true }, big: 9000, inRun: true });
    expect(r.inRun).toBeGreaterThan(400);
    expect(r.slow).toBeGreaterThan(0);
  });
  it("x86-64 without PTI", () => {
    expect(scenario(8, 140, { arch: "x86_64", inRun: true }).inRun).toBeGreaterThan(300);
  });
  it("arm64", () => {
    expect(scenario(9, 140, { arch: "arm64", inRun: true }).inRun).toBeGreaterThan(300);
  });
  it("RISC-V Sv48", () => {
    expect(scenario(10, 140, { arch: "riscv-sv48", inRun: true }).inRun).toBeGreaterThan(300);
  });
});

describe("a run's demand-zero faults resolved in batches give what the run gives fault by fault", () => {
  // the twin takes each fault of a run by itself (RunFaultFold.runFault, the MMU's walks, faults,
  // retries and TLB fills one by one); here a stretch of none PTEs under one leaf table goes at
  // once (runFaultRun, RunFold.faultRun): every view, counter, register, TLB entry and its order
  // compared as above, with RAM nearly full (the low watermark crossed inside a batch), holes,
  // resident and swapped pages, COW pages, strides of two pages, descending runs and reads
  it("x86-64, swap under pressure", () => {
    const r = scenario(11, 160, { arch: "x86_64", ramMiB: 32, big: 9000, batch: true });
    expect(r.batched).toBeGreaterThan(2000);
    expect(r.slow).toBeGreaterThan(0); // faults left to the page-by-page path reached the slow path
    expect(r.pgsteal).toBeGreaterThan(0);
  });
  it("x86-64, THP always, a small TLB", () => {
    const r = scenario(12, 140, {
      arch: "x86_64",
      thp: "always",
      big: 6000,
      batch: true,
      longRuns: true,
      extra: { tlb: "tiny" },
    });
    expect(r.batched).toBeGreaterThan(300);
  });
  it("arm64, swap under pressure", () => {
    const r = scenario(16, 140, { arch: "arm64", ramMiB: 32, big: 9000, batch: true, longRuns: true });
    expect(r.batched).toBeGreaterThan(1000);
    expect(r.slow).toBeGreaterThan(0);
  });
  it("x86-64 under a memory limit (no fold: a charge may reclaim)", () => {
    const r = scenario(17, 60, {
      arch: "x86_64",
      batch: true,
      longRuns: true,
      extra: { userMemoryPages: 2000 },
    });
    expect(r.batched).toBe(0);
    expect(r.touches).toBeGreaterThan(200);
  });
  it("x86-64 with PTI (no batch: the entry switches CR3)", () => {
    const r = scenario(13, 80, { arch: "x86_64", extra: { pti: true }, batch: true });
    expect(r.batched).toBe(0);
    expect(r.inRun).toBeGreaterThan(100);
  });
  it("x86-64, 5-level paging, 64 MiB", () => {
    const r = scenario(15, 140, { arch: "x86_64-la57", ramMiB: 64, big: 6000, batch: true, longRuns: true });
    // (166 since workingset refaults activate pages: this seed's pressure keeps memory nearer the low
    // watermark, where no batch is taken)
    expect(r.batched).toBeGreaterThan(100);
  });
});
