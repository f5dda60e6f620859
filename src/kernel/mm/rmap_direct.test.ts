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
import { pfnUnchecked } from "../../base/units.ts";
import { Access } from "../../hw/access.ts";
import { CACHE_DEFAULTS } from "../../hw/cache/CacheSpec.ts";
import type { Mmu } from "../../hw/mmu/Mmu.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { setDirectPteStores } from "./rmap.ts";
import { mmapArgs } from "./userMm.ts";

const PAGE = 4096n;
/** frameWordsToStore calls that gave a table's words (the shortcut was there to take) */
let held = 0;
/** x86_64-inverted: x86-64's tables under a hashed inverted page table (pagetable=inverted) */
type Arch = "x86_64" | "arm64" | "riscv-sv39" | "i386-pae" | "i386" | "x86_64-inverted";

/** FNV-1a over every word of RAM: equal runs leave equal memory, page tables included. */
function ramHash(k: Kernel): number {
  const phys = k.machine.phys;
  let h = 0x811c9dc5;
  for (let pfn = 0; pfn < phys.nrFrames; pfn++) {
    const w = phys.frameWords(pfnUnchecked(pfn));
    if (w === null) continue;
    h = Math.imul(h ^ pfn, 16777619);
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) h = Math.imul(h ^ w[i] ^ i, 16777619);
  }
  return h >>> 0;
}

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
  const log: string[] = [];
  // how often the reverse map was handed a table to store into (the host's own count, not logged)
  const phys = k.machine.phys;
  const toStore = phys.frameWordsToStore.bind(phys);
  phys.frameWordsToStore = (pfn) => {
    const w = toStore(pfn);
    if (w !== null) held++;
    return w;
  };
  const tasks: Task[] = [k.spawn("p0")!];
  k.switchTo(0, tasks[0]);
  const file = k.createFile("f", 2 << 20);
  const regions: { t: Task; va: bigint; pages: number; file: boolean }[] = [];
  for (let step = 0; step < steps; step++) {
    const live = tasks.filter((t) => t.alive);
    if (live.length === 0) break;
    const t = rng.pick(live);
    const cpu = cpus === 2 ? rng.below(2) : 0;
    k.switchTo(cpu, t);
    const mine = regions.filter((r) => r.t === t);
    const op = rng.below(12);
    if (op === 0 || mine.length === 0) {
      const pages = 1024 + rng.below(3072);
      const va = k.mmap(t, mmapArgs(pages * 4096));
      if (va > 0n) regions.push({ t, va, pages, file: false });
      log.push(`mmap ${va}`);
    } else if (op === 1) {
      // the file shared: its pages mapped by every task that maps it (rmap_walk_file)
      const va = k.mmap(t, mmapArgs(2 << 20, { file, shared: true }));
      if (va > 0n) regions.push({ t, va, pages: 512, file: true });
      log.push(`mmap file ${va}`);
    } else if (op === 2 && tasks.length < 4) {
      const c = k.fork(t, `c${tasks.length}`);
      if (c !== null) {
        tasks.push(c);
        for (const r of mine) regions.push({ ...r, t: c });
      }
      log.push(`fork ${c !== null}`);
    } else if (op === 3) {
      const r = rng.pick(mine);
      log.push(`pageout ${k.madvise(t, r.va, BigInt(r.pages) * PAGE, "pageout")} ${k.lastPageout}`);
    } else if (op === 4 && !mine[0].file) {
      // mremap moves the region (its anonymous pages keep their anon_vma and index)
      const r = mine[0];
      const at = 0x60000000n + BigInt(step) * 0x1000000n; // MREMAP_FIXED: the tables move
      const to = k.mremap(t, r.va, BigInt(r.pages) * PAGE, BigInt(r.pages + 16) * PAGE, true, at);
      if (to > 0n) {
        for (const x of regions) if (x.t === t && x.va === r.va) x.va = to;
        r.pages += 16;
      }
      log.push(`mremap ${to === at}`);
    } else if (op === 5 && mine.length > 1) {
      const r = mine[mine.length - 1];
      log.push(`munmap ${k.munmap(t, r.va, BigInt(r.pages) * PAGE)}`);
      regions.splice(regions.indexOf(r), 1);
    } else {
      const r = rng.pick(mine);
      const write = op < 9;
      let sum = 0;
      for (let i = 0; i < r.pages && t.alive && k.current[cpu] === t; i += 1 + rng.below(2)) {
        const a = k.userAccess(
          cpu,
          t,
          r.va + BigInt(i) * PAGE,
          write ? Access.Write : Access.Read,
          (i + step) & 0xff,
        );
        sum += a.ok ? a.value : 1000;
      }
      log.push(`${write ? "write" : "read"} ${sum}`);
    }
    yield;
  }
  log.push(JSON.stringify(k.vmscan.stats));
  log.push(`shootdowns ${k.tlbMgr.shootdowns}`);
  for (const c of k.machine.cpus as unknown as Mmu[])
    log.push(`cpu walks ${c.walks} inv ${c.pageInvalidations} full ${c.fullFlushes} faults ${c.pageFaults}`);
  for (const t of tasks) log.push(`${t.comm} ${t.alive} ${t.mm?.rssAnon} ${t.mm?.rssFile} ${t.mm?.swapEnts}`);
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
