/**
 * The reverse map through anon_vma chains (rmap_walk_anon) and the files'
 * i_mmap (rmap_walk_file) against the scan of every address space's VMAs
 * they replaced: on random runs of faults, file mappings (shared and
 * private), shared anonymous memory, forks, splits, merges, mremap, munmap, MADV_PAGEOUT, exits and
 * reclaim, both walks find the same mappings of every page on the LRU, and
 * a whole run gives the same counters and the same memory with either.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { Access } from "../../hw/access.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { PageKind } from "./PageDesc.ts";
import { rmapWalk, rmapWalkScan } from "./rmap.ts";
import { mmapArgs } from "./userMm.ts";

const PAGE = 4096n;

interface Region {
  task: Task;
  va: bigint;
  pages: number;
}

/** Every mapping of every LRU page of one kind (anonymous or file), as "ctx:vpn:pa" strings, by one walk. */
function mappings(k: Kernel, walk: typeof rmapWalk, kind = PageKind.UserAnon): string[] {
  const out: string[] = [];
  const v = k.vmscan;
  for (let pfn = 0; pfn < v.lru.length; pfn++) {
    if (v.lru[pfn] === 0 || k.pages.kind[pfn] !== kind) continue;
    walk(v, pfn, (mm, _vma, vpn, pa) => out.push(`${pfn}:${mm.ctxId}:${vpn}:${pa}`));
  }
  return out.sort();
}

/** One random run; `check` is called every few steps. Returns what the run did, as data. */
function run(seed: number, scan: boolean, check?: (k: Kernel) => void) {
  const rng = new Rng(seed);
  const k = new Kernel({
    ramBytes: 34 << 20,
    cpus: 1,
    swapBytes: 8 << 20,
    overcommit: "always",
    thp: seed % 2 === 0 ? "always" : "never",
  });
  // the reference: no anon_vmas, so the reverse map scans every address space
  if (scan) (k.userMm as unknown as { anonVmas: undefined }).anonVmas = undefined;
  const tasks: Task[] = [k.spawn("p0")!];
  const files = [k.createFile("f0", 512 * 4096), k.createFile("f1", 448 * 4096)];
  const regions: Region[] = [];
  const log: string[] = [];
  const live = () => tasks.filter((t) => t.alive);
  for (let step = 0; step < 120; step++) {
    const alive = live();
    if (alive.length === 0) break;
    const t = rng.pick(alive);
    k.switchTo(0, t);
    const mine = regions.filter((r) => r.task === t);
    const op = rng.below(10);
    if (op === 0 || mine.length === 0) {
      const pages = 32 + rng.below(384);
      // a third of the mappings map a file, shared or private, at some offset; a sixth are
      // shared anonymous memory (a shmem object's i_mmap)
      const kind = rng.below(6);
      const f = kind < 2 ? files[rng.below(2)] : null;
      const fileArgs =
        f === null
          ? { shared: kind === 2 }
          : { file: f, offset: rng.below(32) * 4096, shared: rng.below(2) === 0 };
      const va = k.mmap(t, mmapArgs((pages + 1) * 4096, fileArgs));
      log.push(`mmap ${va}`);
      if (va <= 0n) continue;
      k.munmap(t, va + BigInt(pages) * PAGE, PAGE); // a hole, so that regions do not merge
      regions.push({ task: t, va, pages });
      for (let i = 0; i < pages; i += 2) k.userAccess(0, t, va + BigInt(i) * PAGE, Access.Write, i & 0xff);
    } else if (op === 1 && alive.length < 5) {
      const c = k.fork(t, `c${step}`);
      if (c !== null) {
        tasks.push(c);
        for (const r of mine) regions.push({ task: c, va: r.va, pages: r.pages });
      }
      log.push(`fork ${c?.pid}`);
    } else if (op === 2) {
      const r = rng.pick(mine);
      const at = rng.below(r.pages);
      const len = 1 + rng.below(Math.min(64, r.pages - at));
      const ro = rng.below(2) === 0;
      log.push(
        `mprotect ${k.mprotect(t, r.va + BigInt(at) * PAGE, BigInt(len) * PAGE, { r: true, w: !ro, x: false })}`,
      );
      if (!ro) continue;
      // and back, so that the pieces merge again
      log.push(
        `mprotect ${k.mprotect(t, r.va + BigInt(at) * PAGE, BigInt(len) * PAGE, { r: true, w: true, x: false })}`,
      );
    } else if (op === 3) {
      const r = rng.pick(mine);
      const to = k.mremap(t, r.va, BigInt(r.pages) * PAGE, BigInt(r.pages + rng.below(64)) * PAGE, true, -1n);
      log.push(`mremap ${to}`);
      if (to > 0n) {
        regions.splice(regions.indexOf(r), 1);
        regions.push({ task: t, va: to, pages: r.pages });
      }
    } else if (op === 4) {
      const r = rng.pick(mine);
      const at = rng.below(r.pages);
      log.push(`munmap ${k.munmap(t, r.va + BigInt(at) * PAGE, PAGE * BigInt(1 + rng.below(16)))}`);
      regions.splice(regions.indexOf(r), 1);
      if (at > 0) regions.push({ task: t, va: r.va, pages: at });
    } else if (op === 5) {
      const r = rng.pick(mine);
      log.push(`pageout ${k.madvise(t, r.va, BigInt(r.pages) * PAGE, "pageout")}`);
    } else if (op === 6 && t !== tasks[0]) {
      k.exit(t, "done");
      log.push(`exit ${t.pid}`);
    } else if (op === 7) {
      log.push(`reclaim ${k.reclaim(1 + rng.below(256))}`);
    } else {
      const r = rng.pick(mine);
      const write = rng.below(3) !== 0;
      const start = rng.below(r.pages);
      const n = Math.min(r.pages - start, 1 + rng.below(256));
      for (let i = start; i < start + n; i++) {
        const res = k.userAccess(
          0,
          t,
          r.va + BigInt(i) * PAGE,
          write ? Access.Write : Access.Read,
          (i + step) & 0xff,
        );
        log.push(res.ok ? `${res.value}` : `${res.signal}`);
        if (!res.ok) break;
      }
    }
    if (check && step % 15 === 0) check(k);
  }
  // what every live task reads back from every page still mapped
  for (const r of regions) {
    if (!r.task.alive) continue;
    k.switchTo(0, r.task);
    for (let i = 0; i < r.pages; i += 7) {
      const res = k.userAccess(0, r.task, r.va + BigInt(i) * PAGE, Access.Read, 0);
      log.push(res.ok ? `${res.value}` : `${res.signal}`);
    }
  }
  return { log, vmstat: k.view.vmstat(), meminfo: k.view.meminfo() };
}

describe("rmap_walk_anon", () => {
  it("finds, through the page's anon_vma, exactly the mappings the scan of every address space finds", () => {
    for (const seed of [4, 5, 7]) {
      let checks = 0;
      let fileChecks = 0;
      run(seed, false, (k) => {
        const a = mappings(k, rmapWalk);
        expect(a).toEqual(mappings(k, rmapWalkScan));
        if (a.length > 0) checks++;
        // rmap_walk_file: the file's i_mmap finds what the scan finds
        const f = mappings(k, rmapWalk, PageKind.PageCache);
        expect(f).toEqual(mappings(k, rmapWalkScan, PageKind.PageCache));
        if (f.length > 0) fileChecks++;
      });
      expect(checks).toBeGreaterThan(3);
      expect(fileChecks).toBeGreaterThan(1);
    }
  });

  it("gives a whole run the same counters and memory contents as the scan", () => {
    for (let seed = 11; seed <= 12; seed++) {
      const fast = run(seed, false);
      const slow = run(seed, true);
      expect(fast.vmstat.pgscan_anon + fast.vmstat.pgscan_file).toBeGreaterThan(0);
      expect(fast.vmstat).toEqual(slow.vmstat);
      expect(fast.meminfo).toEqual(slow.meminfo);
      expect(fast.log).toEqual(slow.log);
    }
  });
});
