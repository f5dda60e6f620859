/**
 * The fold's swap PTEs (faultfold_swap.ts) against the page-by-page paths: two kernels booted alike
 * cycle anonymous memory larger than RAM through swap (passes of loads and stores over the whole
 * mapping or part of it, strides of one and two pages and others, both directions), with forks
 * (swap entries shared: not exclusive), pageouts, munmaps, mprotects and MADV_DONTNEED between,
 * one kernel with the fold (its batches: RunFaultFold.runFaultRun, RunFold.faultRun), the twin
 * without the batches (each fault of a run by itself, in the run) or without the fold (every fault
 * through the architecture's handler: do_user_addr_fault, handle_mm_fault, do_swap_page). After
 * every run both agree on the run's result, and every few steps and at the end on the whole view:
 * every task's VMAs, page entries and contents, page tables, status (minflt, majflt), the CPUs'
 * registers and TLBs, counters, meminfo, vmstat (pswpin, pgmajfault, workingset_*), zoneinfo and
 * buddyinfo (the pcp lists), frames, swap, the LRU lists, the log.
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

let twinOff: "on" | "batch" = "batch";

const unfolded = <T>(f: () => T): T => withFoldOff(twinOff, f);

interface Opts {
  arch: KernelArchName;
  /** the twin goes without the fold (else without its batches only) */
  noFold?: boolean;
  ramMiB?: number;
  /** the mapping cycled, in MiB (more than RAM: swap pressure) */
  mapMiB?: number;
  pageCluster?: number;
  thp?: "never" | "always";
  extra?: object;
}

function scenario(seed: number, steps: number, o: Opts) {
  twinOff = o.noFold ? "on" : "batch";
  const ram = o.ramMiB ?? 32;
  const config = {
    ramBytes: ram * MiB,
    swapBytes: 2 * (o.mapMiB ?? 48) * MiB,
    overcommit: "always" as const,
    cpus: 2,
    arch: o.arch,
    thp: o.thp ?? "never",
    pageCluster: o.pageCluster ?? 3,
    checkCoherence: false,
    ...o.extra,
  };
  const a = new Kernel(config);
  const b = unfolded(() => new Kernel(config));
  const rng = new Rng(seed);
  const ta0 = a.spawn("p")!;
  const tb0 = unfolded(() => b.spawn("p")!);
  // a store to a page mprotect made read-only stops its run with SIGSEGV, caught: the task lives on
  a.catchSignal(ta0, "SIGSEGV");
  unfolded(() => b.catchSignal(tb0, "SIGSEGV"));
  const live: { ta: TaskHandle; tb: TaskHandle }[] = [{ ta: ta0, tb: tb0 }];
  const len = (o.mapMiB ?? 48) * MiB;
  a.switchTo(0, ta0);
  unfolded(() => b.switchTo(0, tb0));
  const args = mmapArgs(len);
  const base = a.mmap(ta0, args);
  expect(unfolded(() => b.mmap(tb0, args))).toBe(base);
  const pages = len / 4096;
  const s0 = { ...faultFold };
  let touches = 0;
  for (let step = 0; step < steps; step++) {
    for (let j = live.length - 1; j >= 0; j--) if (!live[j].ta.alive) live.splice(j, 1);
    if (live.length === 0) break;
    const { ta, tb } = live[rng.below(live.length)];
    const cpu = rng.below(2);
    a.switchTo(cpu, ta);
    unfolded(() => b.switchTo(cpu, tb));
    const same = <T>(what: string, fa: () => T, fb: () => T) => {
      const x = fa();
      expect(unfolded(fb), `step ${step}: ${what}`).toEqual(x);
      return x;
    };
    const op = rng.below(24);
    const at = (page: number) => base + BigInt(page) * 4096n;
    if (op === 0 && live.length < 3) {
      const ca = a.fork(ta, "c");
      const cb = unfolded(() => b.fork(tb, "c"));
      if (ca !== null && cb !== null) live.push({ ta: ca, tb: cb });
    } else if (op === 1) {
      const p = rng.below(pages);
      const n = BigInt(1 + rng.below(64)) * 4096n;
      const how = rng.pick(["pageout", "dontneed"] as const);
      same(
        how,
        () => a.madvise(ta, at(p), n, how),
        () => b.madvise(tb, at(p), n, how),
      );
    } else if (op === 2) {
      const p = rng.below(pages);
      const prot = { r: true, w: rng.below(2) === 0, x: false };
      same(
        "mprotect",
        () => a.mprotect(ta, at(p), 8192n, prot),
        () => b.mprotect(tb, at(p), 8192n, prot),
      );
    } else if (op === 3) {
      const p = rng.below(pages);
      const n = 4096n * BigInt(1 + rng.below(4));
      same(
        "munmap",
        () => a.munmap(ta, at(p), n),
        () => b.munmap(tb, at(p), n),
      );
    } else {
      // a pass: the whole mapping (most often) or a part of it, loads or stores, mostly a page apart
      const whole = rng.below(3) !== 0;
      const stride = whole ? rng.pick([4096, 4096, 4096, 8192]) : rng.pick([4096, 8192, -4096, 3000, 12288]);
      const first = whole ? 0 : rng.below(pages);
      const span = Math.abs(stride) / 4096;
      let count = whole
        ? Math.floor(pages / span)
        : 1 + rng.below(Math.max(1, Math.floor((pages - first) / span)));
      if (stride < 0) count = Math.min(count, Math.floor(first / span) + 1);
      const va = Number(base) + first * 4096 + rng.below(4096);
      const access = rng.below(2) === 0 ? Access.Read : Access.Write;
      const value = rng.below(256);
      const hi = Math.floor(va / TWO32);
      const lo = va % TWO32;
      const run = (k: Kernel, t: TaskHandle) => {
        const done = k.userAccessRange(cpu, t, hi, lo, count, stride, access, value);
        const r = k.lastAccess;
        return { done, faults: r.faults, pa: r.pa, value: r.value, signal: r.signal, killed: r.killed };
      };
      const r = same(
        `pass at page ${first}, ${count} x ${stride}, ${access === Access.Read ? "loads" : "stores"}`,
        () => run(a, ta),
        () => run(b, tb),
      );
      touches += r.done;
    }
    if (step % 8 === 7) expect(snapshot(a), `after step ${step}`).toEqual(unfolded(() => snapshot(b)));
  }
  expect(snapshot(a)).toEqual(unfolded(() => snapshot(b)));
  const s = a.view.vmstat();
  return {
    touches,
    folded: faultFold.folded - s0.folded,
    batched: faultFold.batched - s0.batched,
    pswpin: s.pswpin ?? 0,
    majflt: s.pgmajfault ?? 0,
  };
}

describe("swap PTEs' faults folded in batches give what the run gives fault by fault", () => {
  // the twin takes each fault of a run by itself in the run (RunFaultFold.runFault, the MMU's walks,
  // faults, retries and TLB fills one by one); here the stretches of swap PTEs (and a store's none
  // PTEs) under one leaf table go at once, between kswapd's wakeups
  it("x86-64, swap readahead (page-cluster 3)", () => {
    const r = scenario(1, 40, { arch: "x86_64" });
    expect(r.batched).toBeGreaterThan(20000);
    expect(r.pswpin).toBeGreaterThan(40000);
    expect(r.majflt).toBeGreaterThan(5000);
  });
  it("x86-64, no readahead (page-cluster 0), 5-level paging", () => {
    const r = scenario(2, 40, { arch: "x86_64-la57", pageCluster: 0 });
    expect(r.batched).toBeGreaterThan(40000);
    expect(r.pswpin).toBeGreaterThan(60000);
  });
  it("x86-64, THP always, a small TLB, memory nearly full", () => {
    const r = scenario(3, 40, { arch: "x86_64", thp: "always", mapMiB: 36, extra: { tlb: "tiny" } });
    expect(r.batched).toBeGreaterThan(15000);
    expect(r.pswpin).toBeGreaterThan(25000);
  });
  it("x86-64 under a memory limit (no fold: a charge may reclaim)", () => {
    const r = scenario(4, 24, { arch: "x86_64", extra: { userMemoryPages: 2500 } });
    expect(r.folded).toBe(0);
    expect(r.pswpin).toBeGreaterThan(50000);
  });
  it("arm64, page-cluster 2", () => {
    const r = scenario(5, 40, { arch: "arm64", pageCluster: 2 });
    expect(r.batched).toBeGreaterThan(50000);
    expect(r.pswpin).toBeGreaterThan(100000);
  });
});

describe("swap PTEs' faults folded give what the architecture's handler gives", () => {
  // the twin takes every fault through do_user_addr_fault / do_page_fault / handle_page_fault
  it("x86-64", () => {
    const r = scenario(6, 40, { arch: "x86_64", noFold: true });
    expect(r.folded).toBeGreaterThan(5000);
    expect(r.batched).toBeGreaterThan(3000);
    expect(r.pswpin).toBeGreaterThan(5000);
  });
  it("arm64, page-cluster 1", () => {
    const r = scenario(7, 40, { arch: "arm64", noFold: true, pageCluster: 1 });
    expect(r.folded).toBeGreaterThan(20000);
    expect(r.batched).toBeGreaterThan(15000);
  });
  it("RISC-V Sv39 (in the run, no batch: update_mmu_cache)", () => {
    const r = scenario(8, 30, { arch: "riscv-sv39", noFold: true });
    expect(r.folded).toBeGreaterThan(80000);
    expect(r.batched).toBe(0);
  });
  it("i386 PAE (no batch: no faultsMissed)", () => {
    const r = scenario(9, 30, { arch: "i386-pae", noFold: true });
    expect(r.folded).toBeGreaterThan(40000);
    expect(r.batched).toBe(0);
  });
});
