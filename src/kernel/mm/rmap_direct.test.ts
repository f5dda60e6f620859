/**
 * The reverse map stores the PTEs it rewrites straight into their table's
 * words (rmap.ts setDirectPteStores: folio_referenced's old entry, and
 * try_to_unmap's clear and swap entry as one store) where nothing observes
 * stores: a host shortcut, which must change nothing. Random runs under
 * memory pressure on every architecture and the inverted machine (writes, reads, forks sharing
 * anonymous pages, a file mapped shared by several tasks, mremap moving a
 * region, THP, MADV_PAGEOUT, munmap; one CPU and two) give the same
 * counters, TLB figures, values read and every byte of RAM with the
 * shortcut and without it; and with a data-cache model attached (its snoop
 * sees every store), where the shortcut stands aside, the same again.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { CACHE_DEFAULTS } from "../../hw/cache/CacheSpec.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import {
  forkTask,
  mremapRegion,
  munmapLast,
  pageoutRegion,
  RandomRun,
  ramHash,
  runSummary,
  touchRegion,
} from "../rmapRuns.testkit.ts";
import { setDirectPteStores } from "./rmap.ts";
import { mmapArgs } from "./userMm.ts";

/** frameWordsToStore calls that gave a table's words (the shortcut was there to take) */
let held = 0;
/** x86_64-inverted: x86-64's tables under a hashed inverted page table (pagetable=inverted) */
type Arch = "x86_64" | "arm64" | "riscv-sv39" | "i386-pae" | "i386" | "x86_64-inverted";

/** runSteps to the end: the run's log. */
function run(...args: Parameters<typeof runSteps>): string[] {
  const g = runSteps(...args);
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/** run's steps one at a time (a yield after each), so that two machines' runs can take turns. */
function* runSteps(
  arch: Arch,
  seed: number,
  cpus: 1 | 2,
  steps: number,
  direct: boolean,
  cache: boolean,
): Generator<void, string[]> {
  setDirectPteStores(direct);
  const rng = new Rng(seed);
  const k = new Kernel({
    arch: arch === "x86_64-inverted" ? "x86_64" : arch,
    pagetable: arch === "x86_64-inverted" ? "inverted" : "radix",
    ramBytes: 34 << 20,
    cpus,
    swapBytes: 32 << 20,
    overcommit: "always",
    thp: seed % 2 === 0 ? "always" : "never",
    cache: cache ? { kind: "pipt", ...CACHE_DEFAULTS, asidTagged: false } : null,
  });
  const run = new RandomRun(k, rng, cpus);
  const { log, tasks, regions } = run;
  // how often the reverse map was handed a table to store into (the host's own count, not logged)
  const phys = k.machine.phys;
  const toStore = phys.frameWordsToStore.bind(phys);
  phys.frameWordsToStore = (pfn) => {
    const w = toStore(pfn);
    if (w !== null) held++;
    return w;
  };
  const file = k.createFile("f", 2 << 20);
  for (let step = 0; step < steps; step++) {
    const s = run.pick();
    if (s === null) break;
    const { t, cpu, mine } = s;
    const op = rng.below(12);
    if (op === 0 || mine.length === 0) log.push(run.mmapAnon(t, 1024, 3072));
    else if (op === 1) {
      // the file shared: its pages mapped by every task that maps it (rmap_walk_file)
      const va = k.mmap(t, mmapArgs(2 << 20, { file, shared: true }));
      if (va > 0n) regions.push({ t, va, pages: 512, file: true });
      log.push(`mmap file ${va}`);
    } else if (op === 2 && tasks.length < 4) log.push(forkTask(k, t, tasks, mine, regions));
    else if (op === 3) log.push(pageoutRegion(k, rng, t, mine));
    // mremap moves the region (its anonymous pages keep their anon_vma and index; MREMAP_FIXED: the tables move)
    else if (op === 4 && !mine[0].file) log.push(mremapRegion(k, t, mine[0], regions, step));
    else if (op === 5 && mine.length > 1) log.push(munmapLast(k, t, mine, regions));
    else log.push(touchRegion(k, rng, cpu, t, rng.pick(mine), op < 9, step, 2));
    yield;
  }
  log.push(...runSummary(k, tasks));
  log.push(`ram ${ramHash(k)} host ${k.machine.phys.hostBytes()}`);
  return log;
}

describe("the reverse map's direct PTE stores change nothing", () => {
  afterEach(() => setDirectPteStores(true));
  const archs: Arch[] = ["x86_64", "arm64", "riscv-sv39", "i386-pae", "i386", "x86_64-inverted"];
  for (const arch of archs)
    it(arch, () => {
      let stolen = 0;
      let spared = 0;
      let moved = 0;
      held = 0;
      for (const [cpus, seed] of [
        [1, 5],
        [1, 6],
        [2, 7],
        [2, 8],
      ] as const) {
        const a = run(arch, seed, cpus, 50, true, false);
        const before = held;
        const b = run(arch, seed, cpus, 50, false, false);
        expect(held).toBe(before); // off: never asked
        expect(a).toEqual(b);
        const stats = JSON.parse(a.find((l) => l.startsWith("{"))!);
        stolen += stats.pgsteal_anon;
        spared += stats.pgscan_anon - stats.pgsteal_anon;
        moved += a.filter((l) => l === "mremap true").length;
      }
      // the runs reclaimed (swap entries stored), spared pages found young (old entries stored)
      // and moved page tables (mremap)
      expect(stolen).toBeGreaterThan(2000);
      expect(spared).toBeGreaterThan(200);
      expect(moved).toBeGreaterThan(0);
      // the shortcut was taken; never with i386's 4-byte entries, nor where every PTE store must
      // go through Pgtable.set (the inverted machine's drops IPT entries: Pgtable.setIsStore)
      if (arch === "i386" || arch === "x86_64-inverted") expect(held).toBe(0);
      else expect(held).toBeGreaterThan(2000);
    });
  it("two machines taking turns step by step: each as it runs alone (the walk's records carry nothing over)", () => {
    // rmap.ts keeps its walk records (the last anon_vma chain, hit, onlyMapping, unmapping,
    // referencedPages) between calls, their pointers stored only when they change: a walk on
    // one machine between two on another must leave the other's figures as they were
    for (const arch of ["x86_64", "arm64"] as const)
      for (const [cpus, s1, s2] of [
        [1, 5, 6],
        [2, 7, 8],
      ] as const) {
        const a = runSteps(arch, s1, cpus, 50, true, false);
        const b = runSteps(arch, s2, cpus, 50, true, false);
        let logA: string[] | null = null;
        let logB: string[] | null = null;
        while (logA === null || logB === null) {
          if (logA === null) {
            const r = a.next();
            if (r.done) logA = r.value;
          }
          if (logB === null) {
            const r = b.next();
            if (r.done) logB = r.value;
          }
        }
        expect(logA).toEqual(run(arch, s1, cpus, 50, true, false));
        expect(logB).toEqual(run(arch, s2, cpus, 50, true, false));
      }
  });
  it("with a data-cache model snooping every store (the shortcut stands aside)", () => {
    held = 0;
    const a = run("x86_64", 6, 1, 20, true, true);
    const b = run("x86_64", 6, 1, 20, false, true);
    expect(a).toEqual(b);
    expect(held).toBe(0);
  });
  it("arm64 runs whose fault found a cached page marked PG_readahead: the async readahead's reclaim leaves it", () => {
    // filemap_fault holds the folio it found while do_async_mmap_readahead allocates; these seeds
    // once had that reclaim free the page under the fault (a PTE then mapped a frame the page
    // cache no longer had, and munmap's mmu_gather threw putPage: no references)
    for (const seed of [1, 13]) expect(run("arm64", seed, 1, 50, true, false).length).toBeGreaterThan(50);
  });
});
