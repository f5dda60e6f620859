/**
 * userAccessRange against userAccess, page by page: two kernels booted
 * alike take the same random system calls, forks, pageouts and runs of
 * accesses (in and out of mappings, across protections, unaligned, both
 * directions, odd strides), one through userAccessRange (one call per
 * run), the other through one userAccess per address, stopping at the
 * first signal as the range does. After every run the two must agree on
 * the run's result and, every few steps and at the end, on the whole
 * kernel view: tasks, VMAs, every page's entry and contents, the TLBs,
 * counters, meminfo, vmstat, swap, reclaim, the log and the checker;
 * and each run leaves the CPU in the kernel's mode, as it found it.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../base/rng.ts";
import { Access } from "../hw/access.ts";
import type { KernelArchName } from "./core/config.ts";
import type { TaskHandle } from "./core/task.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/mmap.ts";
import { kernelSnapshot } from "./snapshot.testkit.ts";

const MiB = 1 << 20;
const TWO32 = 2 ** 32;

const snapshot = (k: Kernel): unknown => kernelSnapshot(k);

interface Run {
  va: bigint;
  count: number;
  stride: number;
  access: Access;
  value: number;
}

/** The same run page by page: how many accesses completed, and the record's fields. */
function perPage(k: Kernel, t: TaskHandle, r: Run) {
  let faults = 0;
  for (let i = 0; i < r.count; i++) {
    const va = BigInt.asUintN(64, r.va + BigInt(i * r.stride));
    const res = k.userAccess(0, t, va, r.access, r.value);
    faults += res.faults;
    if (!res.ok)
      return {
        done: i,
        faults,
        signal: res.signal,
        siCode: res.siCode,
        siAddr: res.siAddr,
        killed: res.killed,
      };
  }
  const rec = k.lastAccess;
  return { done: r.count, faults, pa: rec.pa, value: rec.value };
}

function ranged(k: Kernel, t: TaskHandle, r: Run) {
  const va = BigInt.asUintN(64, r.va);
  const done = k.userAccessRange(
    0,
    t,
    Math.floor(Number(va) / TWO32),
    Number(va & 0xffffffffn),
    r.count,
    r.stride,
    r.access,
    r.value,
  );
  const rec = k.lastAccess;
  return done < r.count
    ? {
        done,
        faults: rec.faults,
        signal: rec.signal,
        siCode: rec.siCode,
        siAddr: rec.siAddr,
        killed: rec.killed,
      }
    : { done, faults: rec.faults, pa: rec.pa, value: rec.value };
}

/** A seeded random scenario on `arch`, run on two kernels; every disagreement fails the test. */
function compare(
  arch: KernelArchName,
  seed: number,
  steps: number,
  extra: object = {},
  oneByOne = false,
  lookups = false,
) {
  const config = {
    ramBytes: 32 * MiB,
    swapBytes: 16 * MiB,
    overcommit: "always" as const,
    arch,
    checkCoherence: true,
    ...extra,
  };
  const a = new Kernel(config); // ranges
  const b = new Kernel(config); // page by page
  // oneByOne: b's accesses each a load8/store8 of their own, not Mmu.accessRun's
  if (oneByOne) for (const cpu of b.machine.cpus) cpu.useAccessRun = false;
  // lookups: b's TLBs probe every lookup (no Tlb.knownMiss for a fault's retry)
  if (lookups) for (const cpu of b.machine.cpus) cpu.tlb.useKnownMiss = false;
  const rng = new Rng(seed);
  // each task on both kernels, with [start, length] of every mapping it made or inherited (some since unmapped)
  const live: { ta: TaskHandle; tb: TaskHandle; maps: bigint[][] }[] = [];
  const spawn = () => live.push({ ta: a.spawn("p")!, tb: b.spawn("p")!, maps: [] });
  spawn();
  let runs = 0;
  let stopped = 0;
  let touches = 0;
  for (let step = 0; step < steps; step++) {
    if (live.length === 0) spawn();
    const pair = live[rng.below(live.length)];
    const { ta, tb, maps } = pair;
    a.switchTo(0, ta);
    b.switchTo(0, tb);
    const op = maps.length === 0 ? 0 : rng.below(20); // a task with no mapping makes one first
    if (op < 3) {
      const len = (1 + rng.below(160)) * 4096;
      const prot = rng.pick([
        { r: true, w: true, x: false },
        { r: true, w: false, x: false },
        { r: true, w: true, x: true },
      ]);
      const args = mmapArgs(len, { prot, shared: rng.below(5) === 0 });
      const va = a.mmap(ta, args);
      expect(b.mmap(tb, args)).toBe(va);
      if (va > 0n) maps.push([va, BigInt(len)]);
    } else if (op === 2 && maps.length) {
      const [start, len] = rng.pick(maps);
      const off = BigInt(rng.below(Number(len / 4096n))) * 4096n;
      const prot = { r: rng.below(4) !== 0, w: rng.below(2) === 0, x: false };
      expect(a.mprotect(ta, start + off, 8192n, prot)).toBe(b.mprotect(tb, start + off, 8192n, prot));
    } else if (op === 3 && maps.length) {
      const [start, len] = rng.pick(maps);
      const off = BigInt(rng.below(Number(len / 4096n))) * 4096n;
      expect(a.munmap(ta, start + off, 4096n)).toBe(b.munmap(tb, start + off, 4096n));
    } else if (op === 4 && live.length < 4) {
      const ca = a.fork(ta, "c");
      const cb = b.fork(tb, "c");
      if (ca !== null && cb !== null) live.push({ ta: ca, tb: cb, maps: [...maps] });
    } else if (op === 5 || op === 7) {
      a.catchSignal(ta, "SIGSEGV");
      b.catchSignal(tb, "SIGSEGV");
      a.catchSignal(ta, "SIGBUS");
      b.catchSignal(tb, "SIGBUS");
    } else if (op === 8) {
      // memory pressure: try_to_free_pages (the next touches of those pages swap them in)
      expect(a.reclaim(48)).toBe(b.reclaim(48));
    } else if (op === 6 && maps.length) {
      const [start, len] = rng.pick(maps);
      expect(a.madvise(ta, start, len, "pageout")).toBe(b.madvise(tb, start, len, "pageout"));
    } else {
      // a run of accesses: mostly inside a mapping, sometimes past it, unmapped or in the kernel half
      const where = rng.below(10);
      const stride = rng.pick([4096, 4096, 4096, -4096, 1, 100, 8192, 3000, -700]);
      let count = 1 + rng.below(rng.below(3) === 0 ? 400 : 40);
      let va: bigint;
      if (where < 8) {
        const [start, len] = rng.pick(maps);
        const off = rng.below(Number(len));
        va = start + BigInt(off);
        // three times in four, the run stays inside the mapping
        const room = Math.floor((stride > 0 ? Number(len) - 1 - off : off) / Math.abs(stride)) + 1;
        if (where < 6) count = Math.min(count, room);
      } else if (where === 8) va = 0xffff_8880_0000_0000n + BigInt(rng.below(1 << 20));
      else va = BigInt(rng.below(1 << 30)) * 4096n + BigInt(rng.below(4096));
      // keep the run inside the 64-bit space
      if (stride < 0 && va < BigInt(-stride * count)) va = BigInt(-stride * count);
      const access = rng.below(10) === 0 ? Access.Exec : rng.below(2) === 0 ? Access.Read : Access.Write;
      const run = { va, count, stride, access, value: rng.below(256) };
      const mode = a.machine.cpus[0].currentMode(); // the kernel's, between calls
      const ra = ranged(a, ta, run);
      const rb = perPage(b, tb, run);
      expect(ra, `step ${step}: ${JSON.stringify({ ...run, va: run.va.toString(16) })}`).toEqual(rb);
      // a completed write reports the byte now in memory at its last address
      if ("pa" in ra && ra.pa !== undefined && run.access === Access.Write)
        expect(a.view.physByte(ra.pa)).toBe(ra.value);
      // a run ends back in the kernel, however it ended (completed, caught or fatal signal)
      expect([a.machine.cpus[0].currentMode(), b.machine.cpus[0].currentMode()]).toEqual([mode, mode]);
      runs++;
      touches += ra.done;
      if (ra.done < run.count) stopped++;
      if ("killed" in ra && ra.killed) live.splice(live.indexOf(pair), 1);
    }
    if (step % 30 === 29) expect(snapshot(a), `after step ${step}`).toEqual(snapshot(b));
  }
  expect(snapshot(a)).toEqual(snapshot(b));
  expect(runs).toBeGreaterThan(steps / 3);
  // the scenario reached the paths it is for: signals, reclaim, swap-ins
  const s = a.view.vmstat();
  const knownMisses = a.machine.cpus.reduce((n, c) => n + c.tlb.knownMisses, 0);
  return { runs, stopped, touches, pswpin: s.pswpin, pgsteal: s.pgsteal_anon + s.pgsteal_file, knownMisses };
}

describe("userAccessRange gives what userAccess gives page by page", () => {
  it("x86-64 with PTI and PCIDs, swap under pressure", () => {
    const r = compare("x86_64", 1, 100, { pti: true });
    expect(r.pgsteal).toBeGreaterThan(0);
    expect(r.pswpin).toBeGreaterThan(0);
    expect(r.stopped).toBeGreaterThan(10);
  });
  it("x86-64, another seed, exact LRU", () => {
    compare("x86_64", 7, 90, { policy: "lru" });
  });
  it("arm64", () => {
    compare("arm64", 2, 80);
  });
  it("i386 (PAE)", () => {
    compare("i386-pae", 4, 80);
  });
  it("RISC-V", () => {
    compare("riscv-sv48", 3, 80);
  });
  // Mmu.accessRun (ranges) against one load8/store8 per access (the page-by-page kernel)
  it("accessRun against load8/store8: x86-64 with PTI, under pressure", () => {
    const r = compare("x86_64", 11, 100, { pti: true }, true);
    expect(r.pgsteal).toBeGreaterThan(0);
    expect(r.stopped).toBeGreaterThan(10);
  });
  // a fault's retry counted as a miss (Tlb.knownMiss) against every lookup probing the arrays
  it("Tlb.knownMiss against the lookups: x86-64 with PTI, under pressure; arm64; RISC-V; i386 (PAE)", () => {
    // without the coherence checker (an observer), whose walks take the generic path, which notes no miss
    const r = compare("x86_64", 21, 100, { pti: true, checkCoherence: false }, false, true);
    expect(r.pgsteal).toBeGreaterThan(0);
    expect(r.knownMisses).toBeGreaterThan(100);
    for (const [arch, seed] of [
      ["arm64", 22],
      ["riscv-sv48", 23],
      ["i386-pae", 24],
    ] as const)
      expect(compare(arch, seed, 80, { checkCoherence: false }, true, true).knownMisses).toBeGreaterThan(100);
  });
  it("accessRun against load8/store8: arm64, i386 (PAE), RISC-V", () => {
    compare("arm64", 12, 80, {}, true);
    compare("i386-pae", 13, 80, {}, true);
    compare("riscv-sv48", 14, 80, {}, true);
  });
});
