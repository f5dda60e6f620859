/**
 * lock_mm_and_find_vma's one-entry cache (mm.faultVmaIndex) against find_vma alone: two kernels
 * booted alike take the same random mmaps, munmaps (holes), mprotects (splits and merges),
 * mremaps, brk, forks, stack growth below the stack VMA and runs of user accesses across all of
 * them (ranges over several VMAs and holes, both directions), on two CPUs, THP on or off, under
 * memory pressure; one kernel with the cache, the other without it (vmaCache.on = false around
 * each of its calls). After every run both agree on the result, and every few steps and at the
 * end on every task's VMAs, page entries, counters, meminfo, vmstat and TLBs. Under vitest each
 * cache hit is also checked against find_vma (a ModelBug otherwise).
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { Access } from "../../hw/access.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "../mm/mmap.ts";
import { kernelSnapshot } from "../snapshot.testkit.ts";
import { vmaCache } from "./findvma.ts";
import type { TaskHandle } from "./task.ts";

const MiB = 1 << 20;
const TWO32 = 2 ** 32;

const snapshot = (k: Kernel): unknown => kernelSnapshot(k, 2048);

/** `f` on the kernel without the cache */
function uncached<T>(f: () => T): T {
  vmaCache.on = false;
  try {
    return f();
  } finally {
    vmaCache.on = true;
  }
}

function scenario(seed: number, steps: number, thp: "never" | "always") {
  const config = {
    ramBytes: 40 * MiB,
    swapBytes: 16 * MiB,
    overcommit: "always" as const,
    cpus: 2,
    thp,
    checkCoherence: true,
  };
  const a = new Kernel(config);
  const b = new Kernel(config);
  const rng = new Rng(seed);
  const live: { ta: TaskHandle; tb: TaskHandle; maps: bigint[][] }[] = [];
  const spawn = () => {
    const ta = a.spawn("p");
    const tb = uncached(() => b.spawn("p"));
    if (ta !== null && tb !== null) live.push({ ta, tb, maps: [] });
  };
  spawn();
  let touches = 0;
  let hits = 0;
  for (let step = 0; step < steps; step++) {
    if (live.length === 0) spawn();
    const pair = live[rng.below(live.length)];
    const { ta, tb, maps } = pair;
    const cpu = rng.below(2);
    a.switchTo(cpu, ta);
    uncached(() => b.switchTo(cpu, tb));
    const op = maps.length === 0 ? 0 : rng.below(16);
    const same = <T>(what: string, fa: () => T, fb: () => T) => {
      const x = fa();
      expect(uncached(fb), `step ${step}: ${what}`).toEqual(x);
      return x;
    };
    if (op < 2) {
      const len = (1 + rng.below(rng.below(4) === 0 ? 1200 : 64)) * 4096;
      const prot = rng.pick([
        { r: true, w: true, x: false },
        { r: true, w: false, x: false },
      ]);
      const args = mmapArgs(len, { prot });
      const va = same(
        "mmap",
        () => a.mmap(ta, args),
        () => b.mmap(tb, args),
      );
      if (va > 0n) maps.push([va, BigInt(len)]);
    } else if (op === 2) {
      const [start, len] = rng.pick(maps);
      const off = BigInt(rng.below(Number(len / 4096n))) * 4096n;
      const n = BigInt(1 + rng.below(8)) * 4096n;
      same(
        "munmap",
        () => a.munmap(ta, start + off, n),
        () => b.munmap(tb, start + off, n),
      );
    } else if (op === 3) {
      const [start, len] = rng.pick(maps);
      const off = BigInt(rng.below(Number(len / 4096n))) * 4096n;
      const prot = { r: true, w: rng.below(3) !== 0, x: false };
      same(
        "mprotect",
        () => a.mprotect(ta, start + off, 8192n, prot),
        () => b.mprotect(tb, start + off, 8192n, prot),
      );
    } else if (op === 4) {
      const i = rng.below(maps.length);
      const [start, len] = maps[i];
      const to = len + BigInt(rng.below(16)) * 4096n;
      const moved = same(
        "mremap",
        () => a.mremap(ta, start, len, to, true, 0n),
        () => b.mremap(tb, start, len, to, true, 0n),
      );
      if (moved > 0n && moved < 2n ** 63n) maps[i] = [moved, to];
    } else if (op === 5) {
      const d = BigInt(rng.below(64) - 16) * 4096n;
      same(
        "brk",
        () => a.brk(ta, d),
        () => b.brk(tb, d),
      );
    } else if (op === 6 && live.length < 3) {
      const ca = a.fork(ta, "c");
      const cb = uncached(() => b.fork(tb, "c"));
      if (ca !== null && cb !== null) live.push({ ta: ca, tb: cb, maps: [...maps] });
    } else if (op === 7) {
      a.catchSignal(ta, "SIGSEGV");
      uncached(() => b.catchSignal(tb, "SIGSEGV"));
    } else if (op === 8) {
      same(
        "reclaim",
        () => a.reclaim(64),
        () => b.reclaim(64),
      );
    } else {
      // a run of accesses: in a mapping (often past its end, into the next one or a hole),
      // below the stack (growth), or across the stack
      const where = rng.below(8);
      const stride = rng.pick([4096, 4096, 4096, -4096, 8192, 3000]);
      const count = 1 + rng.below(rng.below(3) === 0 ? 600 : 60);
      let va: bigint;
      if (where < 6) {
        const [start, len] = rng.pick(maps);
        va = start + BigInt(rng.below(Number(len)));
      } else va = 0x7ffffffde000n - BigInt(rng.below(300)) * 4096n + BigInt(rng.below(4096));
      if (stride < 0 && va < BigInt(-stride * count)) va = BigInt(-stride * count);
      const access = rng.below(3) === 0 ? Access.Read : Access.Write;
      const value = rng.below(256);
      const hi = Math.floor(Number(va) / TWO32);
      const lo = Number(va & 0xffffffffn);
      const run = (k: Kernel, t: TaskHandle) => {
        const done = k.userAccessRange(cpu, t, hi, lo, count, stride, access, value);
        const r = k.lastAccess;
        return { done, faults: r.faults, signal: r.signal, siCode: r.siCode, killed: r.killed };
      };
      const before = vmaCacheHits.n;
      const ra = same(
        `run at ${va.toString(16)}`,
        () => run(a, ta),
        () => run(b, tb),
      );
      hits += vmaCacheHits.n - before;
      touches += ra.done;
      if (ra.killed) live.splice(live.indexOf(pair), 1);
    }
    if (step % 25 === 24) expect(snapshot(a), `after step ${step}`).toEqual(snapshot(b));
  }
  expect(snapshot(a)).toEqual(snapshot(b));
  return { touches, hits };
}

/** counts the cache's hits on the cached kernel (vmaCache.hits) */
const vmaCacheHits = {
  get n(): number {
    return vmaCache.hits;
  },
};

describe("lock_mm_and_find_vma's VMA cache gives what find_vma gives", () => {
  for (const [seed, thp] of [
    [1, "never"],
    [2, "always"],
    [3, "never"],
  ] as const)
    it(`seed ${seed}, THP ${thp}: the same results and the same state`, () => {
      const r = scenario(seed, 160, thp);
      expect(r.touches).toBeGreaterThan(2000);
      expect(r.hits).toBeGreaterThan(500);
    });
});
