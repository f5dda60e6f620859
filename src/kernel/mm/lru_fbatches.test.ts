/**
 * The move batches of mm/swap.c's struct cpu_fbatches (mm/swap.ts):
 * lru_activate (folio_activate, from folio_mark_accessed's second access)
 * and lru_lazyfree (folio_mark_lazyfree, MADV_FREE). A queued folio stays
 * on its list, counted there, with PG_lru clear and one reference more;
 * the lists (and /proc/meminfo) and the vmstat events lag until the 31st
 * folio, a large folio or an lru_add_drain moves the batch.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { meminfo } from "../view/proc.ts";
import { mmapArgs } from "./mmap.ts";
import { PageFlag } from "./PageDesc.ts";
import { readPte } from "./pgtable.ts";
import { FOLIO_BATCH_SIZE, MoveOp } from "./swap.ts";
import { Lru } from "./vmscan.ts";

function boot(cpus = 2) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus, swapBytes: 16 << 20 });
  const t = k.spawn("p")!;
  k.switchTo(0, t);
  return { k, t };
}

/** n anonymous pages written on `cpu`, then on the inactive anon list (this CPU's LRU add batch drained). */
function residentPages(k: Kernel, t: Task, n: number, cpu = 0): number[] {
  const r = k.mmap(t, mmapArgs(n * 4096));
  const v = Number(r / 4096n);
  for (let i = 0; i < n; i++)
    expect(k.userAccess(cpu, t, BigInt(v + i) * 4096n, Access.Write, 1).ok).toBe(true);
  k.vmscan.fbatches.drain();
  return Array.from({ length: n }, (_, i) => {
    const pte = readPte(k.userMm, t.mm!, v + i)!;
    return k.userMm.env.pgtable.pfn(pte.hi, pte.lo, 0);
  });
}

const kB = (k: Kernel, key: string) => meminfo(k)[key];

describe("lru_activate: folio_mark_accessed's second access queues the folio", () => {
  it("the active list, meminfo and pgactivate lag until the 31st folio moves the batch", () => {
    const { k, t } = boot();
    const frames = residentPages(k, t, FOLIO_BATCH_SIZE + 4);
    const b = k.vmscan.fbatches;
    const active0 = kB(k, "Active(anon)");
    const act0 = k.vmscan.stats.pgactivate;
    for (let i = 0; i < FOLIO_BATCH_SIZE - 1; i++) {
      const pfn = frames[i];
      k.vmscan.markAccessed(pfn);
      k.vmscan.markAccessed(pfn);
      expect(k.vmscan.referenced[pfn]).toBe(0);
      // still on the inactive list, PG_lru clear, the batch's reference taken
      expect(k.vmscan.lru[pfn]).toBe(Lru.InactiveAnon);
      expect(b.testLru(pfn)).toBe(false);
      expect(k.pages.refcount[pfn]).toBe(2);
    }
    expect(b.movePending(MoveOp.Activate)).toBe(FOLIO_BATCH_SIZE - 1);
    expect(kB(k, "Active(anon)")).toBe(active0);
    expect(k.vmscan.stats.pgactivate).toBe(act0);
    expect(checkInvariants(k)).toEqual([]);
    // the 31st fills the batch: folio_batch_move_lru (lru_activate) moves all of them
    k.vmscan.markAccessed(frames[FOLIO_BATCH_SIZE - 1]);
    k.vmscan.markAccessed(frames[FOLIO_BATCH_SIZE - 1]);
    expect(b.movePending(MoveOp.Activate)).toBe(0);
    expect(k.vmscan.stats.pgactivate).toBe(act0 + FOLIO_BATCH_SIZE);
    expect(kB(k, "Active(anon)")).toBe(active0 + FOLIO_BATCH_SIZE * 4096);
    for (let i = 0; i < FOLIO_BATCH_SIZE; i++) {
      expect(k.vmscan.lru[frames[i]]).toBe(Lru.ActiveAnon);
      expect(k.pages.refcount[frames[i]]).toBe(1);
    }
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a folio already queued is not queued twice; lru_add_drain moves the batch", () => {
    const { k, t } = boot();
    const [p, q] = residentPages(k, t, 2);
    const act0 = k.vmscan.stats.pgactivate;
    k.vmscan.markAccessed(p);
    k.vmscan.markAccessed(p);
    // a third and fourth access: PG_lru clear, so __lru_cache_activate_folio, which finds nothing
    k.vmscan.markAccessed(p);
    k.vmscan.markAccessed(p);
    k.vmscan.markAccessed(q);
    expect(k.vmscan.fbatches.movePending(MoveOp.Activate)).toBe(1);
    expect(k.pages.refcount[p]).toBe(2);
    k.vmscan.fbatches.drain();
    expect(k.vmscan.lru[p]).toBe(Lru.ActiveAnon);
    expect(k.vmscan.lru[q]).toBe(Lru.InactiveAnon);
    expect(k.vmscan.referenced[q]).toBe(1);
    expect(k.vmscan.stats.pgactivate).toBe(act0 + 1);
    expect(k.pages.refcount[p]).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("reclaim drains this CPU's batch first; another CPU's queued folio is rotated, not taken", () => {
    const { k, t } = boot();
    const frames = residentPages(k, t, 6);
    // frames[0] queued on CPU 1 (a remote batch), frames[1..2] on CPU 0
    k.runningCpu = 1;
    k.vmscan.markAccessed(frames[0]);
    k.vmscan.markAccessed(frames[0]);
    k.runningCpu = 0;
    for (const pfn of frames.slice(1, 3)) {
      k.vmscan.markAccessed(pfn);
      k.vmscan.markAccessed(pfn);
    }
    expect(k.vmscan.fbatches.movePending(MoveOp.Activate)).toBe(3);
    const act0 = k.vmscan.stats.pgactivate;
    k.vmscan.tryToFreePages(1);
    expect(k.vmscan.fbatches.movePending(MoveOp.Activate), "CPU 1's waits").toBe(1);
    expect(k.vmscan.stats.pgactivate).toBeGreaterThanOrEqual(act0 + 2);
    // the remote one was met at the tail (the oldest page) and left on its list, with its page
    expect(k.vmscan.lru[frames[0]]).toBe(Lru.InactiveAnon);
    expect(k.pages.mapcount[frames[0]]).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
    k.vmscan.fbatches.drainAll();
    expect(k.vmscan.lru[frames[0]]).toBe(Lru.ActiveAnon);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("MADV_PAGEOUT leaves a queued folio (folio_isolate_lru fails on it)", () => {
    const { k, t } = boot();
    const r = k.mmap(t, mmapArgs(2 * 4096));
    for (let i = 0n; i < 2n; i++) expect(k.userAccess(0, t, r + i * 4096n, Access.Write, 1).ok).toBe(true);
    k.vmscan.fbatches.drain();
    const pte = readPte(k.userMm, t.mm!, Number(r / 4096n))!;
    const pfn = k.userMm.env.pgtable.pfn(pte.hi, pte.lo, 0);
    k.runningCpu = 1; // queued in CPU 1's batch, which madvise_pageout's lru_add_drain on CPU 0 leaves
    k.vmscan.markAccessed(pfn);
    k.vmscan.markAccessed(pfn);
    k.runningCpu = 0;
    expect(k.madvise(t, r, 2n * 4096n, "pageout")).toBe(0n);
    expect(k.swap!.pswpout).toBe(1);
    expect(k.pages.mapcount[pfn]).toBe(1);
    expect(k.vmscan.fbatches.testLru(pfn)).toBe(false);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("lru_lazyfree: MADV_FREE queues the folios", () => {
  it("lazy-free pages, Inactive(file) and pglazyfree lag until the 31st folio or a drain", () => {
    expect(
      expectationFailures(`machine ram=64M swap=16M
spawn A
A: a = mmap 40p
A: write a 40p value=7
A: madvise a 40p free
# 31 moved when the batch filled (lru_lazyfree: onto the inactive file list), 9 wait
expect lazyfree(A, a 40p) == 31
expect vmstat.pglazyfree == 31
expect meminfo.Inactive(file) == 124K
# madvise_willneed on an anonymous mapping ends with lru_add_drain
A: madvise a 1p willneed
expect lazyfree(A, a 40p) == 40
expect vmstat.pglazyfree == 40
expect meminfo.Inactive(file) == 160K
`),
    ).toEqual([]);
  });

  it("wp_can_reuse_anon_folio drains for a queued folio (PG_lru clear) and reuses it", () => {
    const { k, t } = boot();
    const r = k.mmap(t, mmapArgs(4096));
    const vpn = Number(r / 4096n);
    expect(k.userAccess(0, t, r, Access.Write, 1).ok).toBe(true);
    const child = k.fork(t, "c")!;
    expect(k.madvise(t, r, 4096n, "free")).toBe(0n);
    const pte = readPte(k.userMm, t.mm!, vpn)!;
    const pfn = k.userMm.env.pgtable.pfn(pte.hi, pte.lo, 0);
    expect(k.vmscan.fbatches.movePending(MoveOp.Lazyfree)).toBe(1);
    k.switchTo(1, child);
    k.exit(child, "done"); // on CPU 1: its exit_mmap drain leaves CPU 0's batch
    expect(k.pages.mapcount[pfn]).toBe(1);
    expect(k.pages.refcount[pfn], "the mapping's and the batch's").toBe(2);
    k.switchTo(0, t);
    expect(k.userAccess(0, t, r, Access.Write, 1).ok).toBe(true);
    const after = readPte(k.userMm, t.mm!, vpn)!;
    expect(k.userMm.env.pgtable.pfn(after.hi, after.lo, 0), "reused, not copied").toBe(pfn);
    expect(k.vmscan.fbatches.movePending(MoveOp.Lazyfree)).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a queued folio keeps its flags and its list until lru_add_drain moves it", () => {
    const { k, t } = boot();
    const frames = residentPages(k, t, 3);
    const pfn = frames[0];
    const inactiveAnon0 = kB(k, "Inactive(anon)");
    k.vmscan.markLazyfree(pfn);
    expect(k.vmscan.fbatches.movePending(MoveOp.Lazyfree)).toBe(1);
    expect(k.pages.flags[pfn] & PageFlag.Lazyfree).toBe(0);
    expect(k.vmscan.lru[pfn]).toBe(Lru.InactiveAnon);
    expect(kB(k, "Inactive(anon)")).toBe(inactiveAnon0);
    expect(k.vmscan.stats.pglazyfree).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
    k.vmscan.fbatches.drain(); // lru_lazyfree: PG_swapbacked cleared, onto the inactive file list
    expect(k.vmscan.fbatches.movePending(MoveOp.Lazyfree)).toBe(0);
    expect(k.pages.flags[pfn] & PageFlag.Lazyfree).not.toBe(0);
    expect(k.vmscan.lru[pfn]).toBe(Lru.InactiveFile);
    expect(kB(k, "Inactive(anon)")).toBe(inactiveAnon0 - 4096);
    expect(k.vmscan.stats.pglazyfree).toBe(1);
    expect(k.pages.refcount[pfn]).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("__mlock_folio leaves a queued folio alone (PG_lru clear); lru_activate moves it later", () => {
    const { k, t } = boot();
    const frames = residentPages(k, t, 1);
    const pfn = frames[0];
    k.vmscan.markAccessed(pfn);
    k.vmscan.markAccessed(pfn);
    // mlock_folio while PG_lru is clear: PG_mlocked now, the mlock batch's __mlock_folio skips it
    k.vmscan.fbatches.mlock.mlockFolio(pfn);
    k.vmscan.fbatches.mlock.drainCpu(0);
    expect(k.vmscan.lru[pfn]).toBe(Lru.InactiveAnon);
    expect(k.vmscan.fbatches.mlock.stats.unevictable_pgs_culled).toBe(0);
    k.vmscan.fbatches.drain();
    // lru_activate moved it (PG_mlocked does not stop lru_activate; reclaim culls it later)
    expect(k.vmscan.lru[pfn]).toBe(Lru.ActiveAnon);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("lru_deactivate: MADV_COLD queues the active folios it alone maps", () => {
  function activeRange(k: Kernel, t: Task, n: number): { r: bigint; frames: number[] } {
    const r = k.mmap(t, mmapArgs(n * 4096));
    const frames: number[] = [];
    for (let i = 0; i < n; i++) {
      expect(k.userAccess(0, t, r + BigInt(i) * 4096n, Access.Write, 1).ok).toBe(true);
      const pte = readPte(k.userMm, t.mm!, Number(r / 4096n) + i)!;
      frames.push(k.userMm.env.pgtable.pfn(pte.hi, pte.lo, 0));
    }
    k.vmscan.fbatches.drain();
    for (const pfn of frames) {
      k.vmscan.markAccessed(pfn);
      k.vmscan.markAccessed(pfn);
    }
    k.vmscan.fbatches.drain();
    for (const pfn of frames) expect(k.vmscan.lru[pfn]).toBe(Lru.ActiveAnon);
    return { r, frames };
  }

  it("the inactive list, meminfo and pgdeactivate lag until the 31st folio or a drain; the PTEs are made old at once", () => {
    const { k, t } = boot();
    const n = FOLIO_BATCH_SIZE + 9;
    const { r, frames } = activeRange(k, t, n);
    const active0 = kB(k, "Active(anon)");
    const de0 = k.vmscan.stats.pgdeactivate;
    expect(k.madvise(t, r, BigInt(n) * 4096n, "cold")).toBe(0n);
    expect(k.vmscan.stats.pgdeactivate).toBe(de0 + FOLIO_BATCH_SIZE);
    expect(kB(k, "Active(anon)")).toBe(active0 - FOLIO_BATCH_SIZE * 4096);
    expect(k.vmscan.fbatches.movePending(MoveOp.Deactivate)).toBe(9);
    for (let i = 0; i < n; i++) {
      const pte = readPte(k.userMm, t.mm!, Number(r / 4096n) + i)!;
      expect(k.userMm.env.pgtable.young(pte.hi, pte.lo)).toBe(false);
      expect(k.vmscan.referenced[frames[i]]).toBe(0);
      expect(k.vmscan.lru[frames[i]]).toBe(i < FOLIO_BATCH_SIZE ? Lru.InactiveAnon : Lru.ActiveAnon);
    }
    expect(checkInvariants(k)).toEqual([]);
    k.vmscan.tryToFreePages(1); // reclaim's lru_add_drain moves the rest before it scans
    expect(k.vmscan.fbatches.movePending(MoveOp.Deactivate)).toBe(0);
    expect(k.vmscan.stats.pgdeactivate).toBeGreaterThanOrEqual(de0 + n);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a page mapped twice, or already inactive, is not deactivated", () => {
    const { k, t } = boot();
    const { r, frames } = activeRange(k, t, 2);
    const child = k.fork(t, "c")!;
    expect(child).toBeTruthy();
    const de0 = k.vmscan.stats.pgdeactivate;
    expect(k.madvise(t, r, 2n * 4096n, "cold")).toBe(0n);
    k.vmscan.fbatches.drain();
    expect(k.vmscan.stats.pgdeactivate).toBe(de0);
    for (const pfn of frames) expect(k.vmscan.lru[pfn]).toBe(Lru.ActiveAnon);
    k.exit(child, "done");
    expect(k.madvise(t, r, 2n * 4096n, "cold")).toBe(0n);
    expect(k.madvise(t, r, 2n * 4096n, "cold")).toBe(0n); // the drain, then nothing active to queue
    expect(k.vmscan.stats.pgdeactivate).toBe(de0 + 2);
    for (const pfn of frames) expect(k.vmscan.lru[pfn]).toBe(Lru.InactiveAnon);
    expect(checkInvariants(k)).toEqual([]);
  });
  it("a huge PMD the range covers is made old and its folio deactivated at once; one covered in part is split first", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, thp: "always" });
    const t = k.spawn("p")!;
    k.switchTo(0, t);
    const r = k.mmap(t, mmapArgs(6 << 20));
    const huge = Math.ceil(Number(r / 4096n) / 512) * 512;
    const heads: number[] = [];
    for (const vpn of [huge, huge + 512]) {
      expect(k.userAccess(0, t, BigInt(vpn) * 4096n, Access.Write, 1).ok).toBe(true);
      const leaf = k.userMm.leafFor(t.mm!, vpn)!;
      expect(leaf.level).toBeGreaterThan(0);
      heads.push(leaf.pfn - (leaf.pfn % 512));
      // no page left zero-filled: split_folio maps those to the zero page (RMP_USE_SHARED_ZEROPAGE)
      for (let i = 1; i < 512; i++)
        expect(k.userAccess(0, t, BigInt(vpn + i) * 4096n, Access.Write, 1).ok).toBe(true);
      k.vmscan.markAccessed(heads.at(-1)!);
      k.vmscan.markAccessed(heads.at(-1)!); // a large folio: lru_activate at once
      expect(k.vmscan.lru[heads.at(-1)!]).toBe(Lru.ActiveAnon);
    }
    const de0 = k.vmscan.stats.pgdeactivate;
    const split0 = k.userMm.thpStats.thp_split_pmd;
    expect(k.madvise(t, BigInt(huge) * 4096n, 2n << 20n, "cold")).toBe(0n);
    expect(k.vmscan.lru[heads[0]]).toBe(Lru.InactiveAnon);
    expect(k.vmscan.stats.pgdeactivate).toBe(de0 + 512);
    const leaf = k.userMm.leafFor(t.mm!, huge)!;
    expect(leaf.level).toBeGreaterThan(0); // still huge, and old
    expect(k.userMm.env.pgtable.young(leaf.hi, leaf.lo)).toBe(false);
    // half of the second: split, its 256 pages queued one by one (8 batches of 31 moved, 8 wait)
    expect(k.madvise(t, BigInt(huge + 512) * 4096n, 1n << 20n, "cold")).toBe(0n);
    expect(k.userMm.thpStats.thp_split_pmd).toBe(split0 + 1);
    expect(k.vmscan.stats.pgdeactivate).toBe(de0 + 512 + 248);
    expect(k.vmscan.fbatches.movePending(MoveOp.Deactivate)).toBe(8);
    k.vmscan.fbatches.drain();
    expect(k.vmscan.stats.pgdeactivate).toBe(de0 + 512 + 256);
    expect(k.vmscan.lru[heads[1] + 256]).toBe(Lru.ActiveAnon); // the half outside the range
    expect(checkInvariants(k)).toEqual([]);
  });
});
