/**
 * The per-CPU LRU add batches (mm/swap.ts, Linux mm/swap.c cpu_fbatches.lru_add):
 * a new page waits in the batch of the CPU that faulted it, with one
 * reference more and on no list, until the 31st page, a large folio or a
 * drain moves the batch; the paths that drain (reclaim, munmap, exit,
 * wp_can_reuse_anon_folio) and what the batch leaves visible.
 */

import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { meminfo } from "../view/proc.ts";
import { mmapArgs } from "./mmap.ts";
import { readPte } from "./pgtable.ts";
import { FOLIO_BATCH_SIZE } from "./swap.ts";
import { Lru } from "./vmscan.ts";
import { scannedTotal } from "./vmscan_stat.ts";

function boot(cpus = 2) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus, swapBytes: 16 << 20 });
  const t = k.spawn("p")!;
  k.switchTo(0, t);
  return { k, t };
}

function mapAnon(k: Kernel, t: Task, pages: number): number {
  const r = k.mmap(t, mmapArgs(pages * 4096));
  expect(r > 0n).toBe(true);
  return Number(r / 4096n);
}

function frameOf(k: Kernel, t: Task, vpn: number): number {
  const pte = readPte(k.userMm, t.mm!, vpn)!;
  return k.userMm.env.pgtable.pfn(pte.hi, pte.lo, 0);
}

function write(k: Kernel, cpu: number, t: Task, vpn: number): void {
  expect(k.userAccess(cpu, t, BigInt(vpn) * 4096n, Access.Write, 1).ok).toBe(true);
}

describe("folio_add_lru: the per-CPU LRU add batch", () => {
  it("a new page holds the batch's reference and is on no list until the 31st page moves the batch", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 64);
    const inactive0 = k.vmscan.size[Lru.InactiveAnon];
    const meminfo0 = meminfo(k)["Inactive(anon)"];
    const frames: number[] = [];
    for (let i = 0; i < FOLIO_BATCH_SIZE - 1; i++) {
      write(k, 0, t, v + i);
      const pfn = frameOf(k, t, v + i);
      frames.push(pfn);
      expect(k.pages.refcount[pfn], "the mapping's and the batch's").toBe(2);
      expect(k.vmscan.lru[pfn]).toBe(Lru.None);
      expect(k.vmscan.fbatches.hasLocal(pfn)).toBe(true);
    }
    // the lists and /proc/meminfo lag by the batch
    expect(k.vmscan.size[Lru.InactiveAnon]).toBe(inactive0);
    expect(meminfo(k)["Inactive(anon)"]).toBe(meminfo0);
    expect(k.vmscan.fbatches.count[0]).toBe(FOLIO_BATCH_SIZE - 1);
    expect(checkInvariants(k)).toEqual([]);
    // the 31st fills the batch: all of it joins the inactive anon list, each page's extra reference dropped
    write(k, 0, t, v + FOLIO_BATCH_SIZE - 1);
    frames.push(frameOf(k, t, v + FOLIO_BATCH_SIZE - 1));
    expect(k.vmscan.fbatches.count[0]).toBe(0);
    expect(k.vmscan.size[Lru.InactiveAnon]).toBe(inactive0 + FOLIO_BATCH_SIZE);
    expect(meminfo(k)["Inactive(anon)"]).toBe(meminfo0 + FOLIO_BATCH_SIZE * 4096);
    for (const pfn of frames) {
      expect(k.pages.refcount[pfn]).toBe(1);
      expect(k.vmscan.lru[pfn]).toBe(Lru.InactiveAnon);
    }
    // the 32nd starts a new batch
    write(k, 0, t, v + FOLIO_BATCH_SIZE);
    expect(k.vmscan.fbatches.count[0]).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("each CPU has its own batch: a fault goes to the batch of the CPU it ran on", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 8);
    write(k, 0, t, v);
    k.switchTo(1, t); // the task migrates to CPU 1
    write(k, 1, t, v + 1);
    const a = frameOf(k, t, v);
    const b = frameOf(k, t, v + 1);
    expect(k.vmscan.fbatches.cpuOf[a]).toBe(1);
    expect(k.vmscan.fbatches.cpuOf[b]).toBe(2);
    expect([k.vmscan.fbatches.count[0], k.vmscan.fbatches.count[1]]).toEqual([1, 1]);
    // lru_add_drain empties only the running CPU's batch; lru_add_drain_all every one
    k.vmscan.fbatches.drain();
    expect(k.vmscan.lru[b]).toBe(Lru.InactiveAnon);
    expect(k.vmscan.lru[a]).toBe(Lru.None);
    k.vmscan.fbatches.drainAll();
    expect(k.vmscan.lru[a]).toBe(Lru.InactiveAnon);
    expect(k.pages.refcount[a]).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("munmap and exit empty the CPU's batch first: every page is freed", () => {
    const { k, t } = boot();
    const free0 = k.buddy.freePages();
    const v = mapAnon(k, t, 20);
    for (let i = 0; i < 20; i++) write(k, 0, t, v + i);
    expect(k.vmscan.fbatches.count[0]).toBe(20);
    expect(k.munmap(t, BigInt(v) * 4096n, 20n * 4096n)).toBe(0n);
    expect(k.vmscan.fbatches.count[0]).toBe(0);
    expect(k.pages.countByKind()[9], "no user page left").toBe(0);
    const w = mapAnon(k, t, 5);
    for (let i = 0; i < 5; i++) write(k, 0, t, w + i);
    k.exit(t, "done");
    expect(k.vmscan.fbatches.pending()).toBe(0);
    expect(k.pages.countByKind()[9]).toBe(0);
    // free: on the buddy lists or the CPU's per-CPU lists (which NR_FREE_PAGES does not count)
    expect(k.buddy.freePages() + k.buddy.pcp!.total()).toBeGreaterThanOrEqual(free0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a page whose mapping went while it waited in another CPU's batch is freed when that batch is emptied", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 4);
    k.switchTo(1, t);
    write(k, 1, t, v);
    const pfn = frameOf(k, t, v);
    k.switchTo(0, t);
    // munmap runs on CPU 0: its lru_add_drain does not reach CPU 1's batch
    expect(k.munmap(t, BigInt(v) * 4096n, 4096n)).toBe(0n);
    expect(k.pages.kind[pfn]).toBe(9);
    expect(k.pages.refcount[pfn], "only the batch's").toBe(1);
    expect(checkInvariants(k)).toEqual([]);
    k.vmscan.fbatches.drainAll();
    expect(k.pages.refcount[pfn]).toBe(0);
    expect(k.pages.countByKind()[9]).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("reclaim empties the batch before it scans (shrink_inactive_list's lru_add_drain)", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 10);
    for (let i = 0; i < 10; i++) write(k, 0, t, v + i);
    expect(k.vmscan.fbatches.count[0]).toBe(10);
    k.vmscan.tryToFreePages(1);
    expect(k.vmscan.fbatches.count[0]).toBe(0);
    expect(scannedTotal(k.vmscan.stats)).toBeGreaterThan(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("MADV_PAGEOUT drains first, so a page just faulted can be paged out", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 4);
    for (let i = 0; i < 4; i++) write(k, 0, t, v + i);
    expect(k.madvise(t, BigInt(v) * 4096n, 4n * 4096n, "pageout")).toBe(0n);
    expect(k.swap!.pswpout).toBe(4);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("wp_can_reuse_anon_folio drains this CPU's batch; a page in another CPU's batch is copied", () => {
    for (const remote of [false, true]) {
      const { k, t } = boot();
      const v = mapAnon(k, t, 1);
      if (remote) k.switchTo(1, t);
      write(k, remote ? 1 : 0, t, v);
      if (remote) k.switchTo(0, t);
      const pfn = frameOf(k, t, v);
      const child = k.fork(t, "c")!;
      k.exit(child, "done"); // the page is no longer shared, but not PageAnonExclusive
      expect(k.pages.mapcount[pfn]).toBe(1);
      write(k, 0, t, v);
      // reused in place when the batch was this CPU's; copied when another CPU's batch holds a reference
      expect(frameOf(k, t, v) === pfn).toBe(!remote);
      expect(checkInvariants(k)).toEqual([]);
    }
  });

  it("a transparent huge page moves the whole batch at once (a large folio)", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, thp: "always" });
    const t = k.spawn("p")!;
    k.switchTo(0, t);
    const small = mapAnon(k, t, 3);
    for (let i = 0; i < 3; i++) write(k, 0, t, small + i);
    expect(k.vmscan.fbatches.count[0]).toBe(3);
    const r = k.mmap(t, mmapArgs(4 << 20));
    const huge = Math.ceil(Number(r / 4096n) / 512) * 512;
    write(k, 0, t, huge);
    expect(k.userMm.thpStats.thp_fault_alloc).toBe(1);
    expect(k.vmscan.fbatches.count[0]).toBe(0);
    // the small pages, then the huge page as one entry, all on the inactive anon list
    expect(k.vmscan.size[Lru.InactiveAnon]).toBe(3 + 512);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("folio_mark_accessed twice on a page in this CPU's batch sends it to the active list", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 2);
    write(k, 0, t, v);
    const pfn = frameOf(k, t, v);
    k.vmscan.markAccessed(pfn);
    expect(k.vmscan.referenced[pfn]).toBe(1);
    k.vmscan.markAccessed(pfn); // __lru_cache_activate_folio: PG_active while in the batch
    expect(k.vmscan.referenced[pfn]).toBe(0);
    k.vmscan.fbatches.drain();
    expect(k.vmscan.lru[pfn]).toBe(Lru.ActiveAnon);
  });

  it("the invariant checker reports a batch that lost its reference or holds a page twice", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 2);
    write(k, 0, t, v);
    const pfn = frameOf(k, t, v);
    k.pages.refcount[pfn]--;
    expect(checkInvariants(k).join("\n")).toMatch(/refcount 1 below its 1 mappings and its LRU add batch's/);
    k.pages.refcount[pfn]++;
    const b = k.vmscan.fbatches;
    b.folios[1] = pfn;
    b.count[0] = 2;
    expect(checkInvariants(k).join("\n")).toMatch(/in an LRU add batch twice/);
  });
});
