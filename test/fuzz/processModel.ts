/**
 * Seeded model-based fuzzing of processes: random spawn, fork, thread-less
 * exit, mmap, munmap, mprotect and accesses on several CPUs, checked after
 * every step against a naive model (which pages are mapped with which
 * rights, what byte each holds, what RSS must be), with the invariant
 * checker on. Used by src/kernel/process.test.ts (fixed seeds) and by
 * `npm run fuzz -- --target ops` (scripts/fuzz-ops.ts: new seeds on demand).
 * A broken rule throws (vitest's expect, which also works outside a test).
 */
import { expect } from "vitest";
import { Rng } from "../../src/base/rng.ts";
import { Access } from "../../src/hw/access.ts";
import { isSwapPte } from "../../src/kernel/arch/x86/pgtable.ts";
import type { Task } from "../../src/kernel/core/task.ts";
import { fileByte } from "../../src/kernel/fs/file.ts";
import { KernelImpl as Kernel } from "../../src/kernel/KernelImpl.ts";
import { explainAccess } from "../../src/kernel/view/explain.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import { procMaps } from "../../src/kernel/view/procfs.ts";

interface ModelPage {
  prot: string; // "", "r", "rw"
  box: { value: number }; // byte at offset 0; shared mappings share the box across fork
  written: boolean; // has a private page (counts in RSS anon)
  shared: boolean;
  /** a file page: the file and page index (past EOF: SIGBUS); unwritten private pages read the file's box */
  file?: { name: string; index: number; size: number };
}

interface ModelProc {
  task: Task;
  pages: Map<number, ModelPage>; // vpn -> page
}

function clonePages(m: Map<number, ModelPage>): Map<number, ModelPage> {
  const out = new Map<number, ModelPage>();
  for (const [k, v] of m)
    out.set(k, { ...v, box: v.shared || (v.file && !v.written) ? v.box : { value: v.box.value } });
  return out;
}

export type FuzzPolicy = "linux" | "mglru" | "clock" | "fifo" | "lru" | "random";

export function runFuzz(
  seed: number,
  steps: number,
  pcid: boolean,
  thp = false,
  pressure = false,
  policy: FuzzPolicy = "linux",
  pti = false,
  /** the fixed seeds' coverage checks (the file was read, pages went to swap); off for short random runs */
  coverage = true,
) {
  const rng = new Rng(seed);
  const k = new Kernel({
    ramBytes: pressure ? 34 << 20 : thp ? 160 << 20 : 96 << 20,
    overcommit: pressure ? "always" : "heuristic",
    cpus: 2,
    pcid,
    checkCoherence: true,
    thp: thp ? "always" : "never",
    swapBytes: pressure ? 16 << 20 : 8 << 20,
    policy,
    seed,
    pti,
  });
  const procs: ModelProc[] = [];
  const log: string[] = [];
  // files: a disk file and a tmpfs file; the model holds each page's byte 0 in a box shared by all mappings
  const files = [k.createFile("f0", 40 * 4096 - 100, "disk"), k.createFile("f1", 10 * 4096, "tmpfs")];
  const fileBoxes = new Map<string, { value: number }>();
  const fileBox = (name: string, index: number) => {
    const key = `${name}:${index}`;
    let b = fileBoxes.get(key);
    if (!b) {
      b = { value: fileByte(name, index * 4096) };
      fileBoxes.set(key, b);
    }
    return b;
  };
  const spawn = () => {
    const t = k.spawn(`p${procs.length}`)!;
    t.caught.add("SIGSEGV");
    t.caught.add("SIGBUS");
    procs.push({ task: t, pages: new Map() });
  };
  spawn();
  for (let step = 0; step < steps; step++) {
    const live = procs.filter((p) => p.task.alive);
    if (live.length === 0) spawn();
    const p = rng.pick(procs.filter((q) => q.task.alive));
    const t = p.task;
    const cpu = rng.below(2);
    const op = rng.float();
    const vpns = [...p.pages.keys()];
    if (op < 0.06 && procs.length < 6) {
      spawn();
      log.push("spawn");
    } else if (op < 0.12 && procs.length < 6) {
      if (k.cpuOf(t) < 0) k.switchTo(cpu, t);
      const c = k.fork(t, `p${procs.length}`)!;
      procs.push({ task: c, pages: clonePages(p.pages) });
      log.push(`fork ${t.comm}`);
    } else if (op < 0.15 && live.length > 1) {
      k.exit(t, "exit");
      log.push(`exit ${t.comm}`);
    } else if (op < 0.3) {
      const n = pressure
        ? 1 + rng.below(3000)
        : thp && rng.float() < 0.3
          ? 512 * (1 + rng.below(2))
          : 1 + rng.below(24);
      const prot = rng.pick(["", "r", "rw", "rw", "rw"]);
      const shared = rng.float() < 0.25;
      const file = rng.float() < 0.3 ? rng.pick(files) : null;
      const offPage = file ? rng.below(file.nrPages) : 0;
      const populate = rng.float() < 0.1;
      if (k.cpuOf(t) < 0) k.switchTo(cpu, t);
      const r = k.mmap(t, {
        file,
        offset: offPage * 4096,
        length: n * 4096,
        prot: { r: prot.includes("r"), w: prot.includes("w"), x: false },
        shared,
        populate,
        locked: false,
        noreserve: false,
        addr: -1,
        fixed: false,
        privileged: true,
      });
      expect(r > 0n, `step ${step}: mmap failed ${r}`).toBe(true);
      const start = Number(r / 4096n);
      for (let i = 0; i < n; i++) {
        if (!file) {
          p.pages.set(start + i, { prot, box: { value: 0 }, written: false, shared });
          continue;
        }
        const index = offPage + i;
        const pg: ModelPage = {
          prot,
          box: fileBox(file.name, index),
          written: false,
          shared,
          file: { name: file.name, index, size: file.nrPages },
        };
        // MAP_POPULATE of a private writable file mapping write-faults: a private copy of each page up to EOF
        if (populate && !shared && prot === "rw" && index < file.nrPages) {
          pg.box = { value: pg.box.value };
          pg.written = true;
        }
        p.pages.set(start + i, pg);
      }
      // populate writes when writable, reads otherwise: a writable page then holds a private zeroed page
      log.push(
        `mmap ${t.comm} ${n}p ${prot}${file ? ` ${file.name}@${offPage}${shared ? " shared" : ""}` : ""}`,
      );
    } else if (op < 0.38 && vpns.length) {
      const v = rng.pick(vpns);
      const n = 1 + rng.below(thp ? 600 : 8);
      if (k.cpuOf(t) < 0) k.switchTo(cpu, t);
      expect(k.munmap(t, BigInt(v) * 4096n, BigInt(n) * 4096n)).toBe(0n);
      for (let i = 0; i < n; i++) p.pages.delete(v + i);
      log.push(`munmap ${t.comm}`);
    } else if (op < 0.5 && vpns.length) {
      // MADV_PAGEOUT: the contents must survive the trip through swap
      const v = rng.pick(vpns);
      let n = 1;
      while (n < 16 && p.pages.has(v + n)) n++;
      if (k.cpuOf(t) < 0) k.switchTo(cpu, t);
      expect(k.madvise(t, BigInt(v) * 4096n, BigInt(n) * 4096n, "pageout")).toBe(0n);
      log.push(`pageout ${t.comm} ${n}p`);
    } else if (op < 0.56 && vpns.length) {
      const v = rng.pick(vpns);
      let n = 1;
      while (n < 8 && p.pages.has(v + n)) n++;
      const prot = rng.pick(["", "r", "rw"]);
      if (k.cpuOf(t) < 0) k.switchTo(cpu, t);
      expect(
        k.mprotect(t, BigInt(v) * 4096n, BigInt(n) * 4096n, {
          r: prot.includes("r"),
          w: prot.includes("w"),
          x: false,
        }),
      ).toBe(0n);
      for (let i = 0; i < n; i++) p.pages.get(v + i)!.prot = prot;
      log.push(`mprotect ${t.comm} ${prot}`);
    } else {
      // an access: a mapped page mostly, sometimes a hole; under pressure a run of pages
      const v0 = vpns.length && rng.float() < 0.9 ? rng.pick(vpns) : 0x100 + rng.below(64);
      const write = rng.float() < 0.5;
      const value = rng.below(256);
      const run = pressure ? 1 + rng.below(256) : 1;
      k.switchTo(cpu, t);
      for (let v = v0; v < v0 + run; v++) {
        if (v > v0 && !p.pages.has(v)) break;
        const r = k.userAccess(cpu, t, BigInt(v) * 4096n, write ? Access.Write : Access.Read, value);
        if (!r.ok && r.signal === "SIGKILL") {
          // the OOM killer chose this process while it faulted
          expect(pressure, `step ${step}: an OOM kill without memory pressure`).toBe(true);
          log.push(`oom-killed ${t.comm}`);
          break;
        }
        const mp = p.pages.get(v);
        const allowed =
          mp !== undefined &&
          (write ? mp.prot === "rw" : mp.prot !== "") &&
          (mp.file === undefined || mp.file.index < mp.file.size);
        if (r.ok !== allowed && process.env.FUZZ_EXPLAIN) {
          console.log(JSON.stringify(r, (_k, x) => (typeof x === "bigint" ? x.toString(16) : x)));
          console.log(explainAccess(k, t, BigInt(v) * 4096n, write ? Access.Write : Access.Read).join("\n"));
          console.log(procMaps(k, t).join("\n"));
        }
        expect(
          r.ok,
          `step ${step} (${log.slice(-14).join("; ")}): ${write ? "write" : "read"} of ${v.toString(16)} in ${t.comm}`,
        ).toBe(allowed);
        if (r.ok && mp) {
          if (write) {
            if (mp.file && !mp.shared && !mp.written) mp.box = { value }; // do_cow_fault: a private copy
            mp.box.value = value;
            if (!mp.shared) mp.written = true;
          } else expect(r.value, `step ${step}: byte read`).toBe(mp.box.value);
        } else expect(t.alive).toBe(true); // caught
        if (!r.ok) break;
      }
      log.push(`${write ? "write" : "read"} ${t.comm}${run > 1 ? ` ${run}p` : ""}`);
    }
    // RSS: pages with a private copy (written, or populated writable)
    for (const q of procs) {
      if (!q.task.alive) continue;
      let written = 0;
      let nonzero = 0;
      for (const pg of q.pages.values())
        if (pg.written && !pg.shared) {
          written++;
          if (pg.box.value !== 0) nonzero++;
        }
      const resident = q.task.mm!.rssAnon + q.task.mm!.swapEnts;
      if (resident !== written) {
        // populate of a writable mapping makes pages resident without a model write; a THP's split
        // maps its zero-filled pages to the zero page (remap_page, RMP_USE_SHARED_ZEROPAGE): a page
        // whose only written byte is 0 may have left RSS
        expect(resident, `step ${step}: rss + swap of ${q.task.comm}`).toBeGreaterThanOrEqual(nonzero);
        for (const [vpn, pg] of q.pages) {
          if (!pg.written && !pg.shared && !pg.file) {
            const leaf = k.userMm.leafFor(q.task.mm!, vpn);
            const swapped = leaf !== null && leaf.level === 0 && isSwapPte(leaf.hi, leaf.lo);
            if (swapped || (leaf && leaf.lo & 1 && (leaf.lo & (1 << 9)) === 0)) pg.written = true; // a private page exists (a huge fault fills 512)
          }
        }
      }
    }
    if (step % (process.env.FUZZ_EVERY ? 1 : 25) === 0)
      expect(checkInvariants(k), `step ${step} after ${log.slice(-3).join("; ")}`).toEqual([]);
  }
  expect(checkInvariants(k)).toEqual([]);
  if (coverage && !pressure)
    expect(files[0].pagesRead, "the disk file was read through a mapping").toBeGreaterThan(0);
  // the page cache holds what shared mappings wrote (byte 0 of each cached page)
  for (const f of files)
    for (const [index, pfn] of f.cache)
      expect(k.machine.phys.read8(pfn * 4096), `${f.name} page ${index}`).toBe(fileBox(f.name, index).value);
  // SDM Vol. 3A 4.10.4.3: an entry whose R/W went from 0 to 1 (or XD from 1 to 0) may be used
  // stale without an invalidation, at worst a spurious #PF, and Linux relies on it (x86's
  // ptep_set_access_flags and pmdp_set_access_flags after a write fault flush nothing: another CPU
  // may keep its read-only entry of a huge page a fault made writable). Any other staleness is a
  // missing flush.
  const stale = k.machine.checker!.reports.filter((r) => r.permitted === "");
  expect(stale.map((r) => r.differences.join(","))).toEqual([]);
  // with THPs, the pages MADV_PAGEOUT picks may all be zero-filled pages of a THP, which its split
  // maps to the zero page (remap_page, RMP_USE_SHARED_ZEROPAGE) instead of swapping them
  const zeroRemapped = thp ? k.userMm.thpStats.thp_split_page : 0;
  if (coverage) expect(k.swap!.pswpout + zeroRemapped, "pages went to swap").toBeGreaterThan(0);
  // every page still in swap reads back what the model says it holds
  for (const q of procs) {
    if (!q.task.alive) continue;
    for (const [vpn, pg] of q.pages) {
      const e = k.userMm.readPte(q.task.mm!, vpn);
      if (e === null || !isSwapPte(e.hi, e.lo) || pg.prot === "") continue;
      k.switchTo(0, q.task);
      const r = k.userAccess(0, q.task, BigInt(vpn) * 4096n, Access.Read, 0);
      if (!r.ok && r.signal === "SIGKILL") break; // the OOM killer took it
      expect(r.ok && r.value, `swapped page ${vpn.toString(16)} of ${q.task.comm}`).toBe(pg.box.value);
    }
  }
  for (const q of procs) k.exit(q.task, "exit");
  expect(checkInvariants(k)).toEqual([]);
  // the tmpfs file outlives them: the pages reclaim wrote out stay in swap (shmem_writeout)
  const tmpfsSwapped = files.reduce((n, f) => n + f.swapped.size, 0);
  expect(k.swap!.used, "every swap slot but the tmpfs file's is free once all exited").toBe(tmpfsSwapped);
  return k;
}
