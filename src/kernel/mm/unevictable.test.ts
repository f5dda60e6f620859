/**
 * mlock as Linux 6.12 keeps it (mm/mlock.ts, mm/mlock_fbatch.ts; Linux
 * mm/mlock.c, mm/swap.c, mm/vmscan.c, mm/rmap.c): PG_mlocked and NR_MLOCK
 * at once, the move to LRU_UNEVICTABLE through the per-CPU mlock batch,
 * munlock's rescue, munmap and exit, mlock2(MLOCK_ONFAULT), fork, and
 * reclaim culling a page it finds mapped by a VM_LOCKED VMA.
 */

import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { runScenario } from "../../workloads/scenario/session.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { meminfo, vmstat } from "../view/proc.ts";
import { mmapArgs } from "./mmap.ts";
import { PageFlag, PageKind } from "./PageDesc.ts";
import { readPte } from "./pgtable.ts";
import { VmFlag } from "./vma.ts";
import { Lru } from "./vmscan.ts";
import { scannedTotal } from "./vmscan_stat.ts";

const PAGE = 4096;

function boot(cpus = 1) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus, swapBytes: 16 << 20 });
  const t = k.spawn("p")!;
  k.switchTo(0, t);
  return { k, t };
}

function mapAnon(k: Kernel, t: Task, pages: number, locked = false): number {
  const r = k.mmap(t, mmapArgs(pages * PAGE, { locked }));
  expect(r > 0n).toBe(true);
  return Number(r / 4096n);
}

const va = (vpn: number) => BigInt(vpn) * 4096n;

function write(k: Kernel, t: Task, vpn: number, cpu = 0): void {
  expect(k.userAccess(cpu, t, va(vpn), Access.Write, 1).ok).toBe(true);
}

function frameOf(k: Kernel, t: Task, vpn: number): number {
  const pte = readPte(k.userMm, t.mm!, vpn)!;
  return k.userMm.env.pgtable.pfn(pte.hi, pte.lo, 0);
}

/** meminfo Mlocked and Unevictable, in pages */
function locked(k: Kernel): { mlocked: number; unevictable: number } {
  const m = meminfo(k);
  return { mlocked: m.Mlocked / PAGE, unevictable: m.Unevictable / PAGE };
}

const mlocked = (k: Kernel, pfn: number) => (k.pages.flags[pfn] & PageFlag.Mlocked) !== 0;

describe("mlock and munlock", () => {
  it("mlock of faulted pages: PG_mlocked, the unevictable list, Mlocked and Unevictable; munlock rescues them", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 8);
    for (let i = 0; i < 8; i++) write(k, t, v + i);
    const frames = Array.from({ length: 8 }, (_, i) => frameOf(k, t, v + i));
    expect(locked(k)).toEqual({ mlocked: 0, unevictable: 0 });
    expect(k.mlock(t, va(v), 8n * 4096n, false)).toBe(0n);
    // mlock_vma_pages_range drained the LRU add batch, mlocked each page, drained the mlock batch
    expect(locked(k)).toEqual({ mlocked: 8, unevictable: 8 });
    for (const pfn of frames) {
      expect(mlocked(k, pfn)).toBe(true);
      expect(k.vmscan.lru[pfn]).toBe(Lru.Unevictable);
      expect(k.vmscan.fbatches.mlock.mlockCount[pfn]).toBe(1);
    }
    const s = vmstat(k);
    expect([s.unevictable_pgs_mlocked, s.unevictable_pgs_culled, s.nr_mlock, s.nr_unevictable]).toEqual([
      8, 8, 8, 8,
    ]);
    // /proc/kpageflags: KPF_MLOCKED (33) and KPF_UNEVICTABLE (18)
    const f = k.view.kpageflags(frames[0])!;
    expect([(f >> 33n) & 1n, (f >> 18n) & 1n]).toEqual([1n, 1n]);
    expect(checkInvariants(k)).toEqual([]);

    expect(k.munlock(t, va(v), 8n * 4096n)).toBe(0n);
    expect(locked(k)).toEqual({ mlocked: 0, unevictable: 0 });
    for (const pfn of frames) {
      expect(mlocked(k, pfn)).toBe(false);
      expect(k.vmscan.lru[pfn], "back to the inactive anon list (PG_active was dropped)").toBe(
        Lru.InactiveAnon,
      );
    }
    const s2 = vmstat(k);
    expect([s2.unevictable_pgs_munlocked, s2.unevictable_pgs_rescued]).toEqual([8, 8]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("mlock twice over a range is no second mlock (mlock_fixup: VM_LOCKED already); a page two locked VMAs map stays locked until both let go", () => {
    const { k, t } = boot();
    const f = k.createFile("f", 4 * PAGE, "disk");
    const a = Number(k.mmap(t, mmapArgs(4 * PAGE, { file: f, shared: true })) / 4096n);
    const b = Number(k.mmap(t, mmapArgs(4 * PAGE, { file: f, shared: true })) / 4096n);
    expect(k.mlock(t, va(a), 4n * 4096n, false)).toBe(0n);
    expect(k.mlock(t, va(a), 4n * 4096n, false)).toBe(0n);
    const pfn = frameOf(k, t, a);
    expect(k.vmscan.fbatches.mlock.mlockCount[pfn]).toBe(1);
    expect(k.mlock(t, va(b), 4n * 4096n, false)).toBe(0n);
    expect(frameOf(k, t, b)).toBe(pfn);
    expect(k.vmscan.fbatches.mlock.mlockCount[pfn], "one per locked VMA").toBe(2);
    expect(locked(k)).toEqual({ mlocked: 4, unevictable: 4 });
    expect(k.munlock(t, va(a), 4n * 4096n)).toBe(0n);
    expect(locked(k), "the other VMA still holds them").toEqual({ mlocked: 4, unevictable: 4 });
    expect(k.munlock(t, va(b), 4n * 4096n)).toBe(0n);
    expect(locked(k)).toEqual({ mlocked: 0, unevictable: 0 });
    expect(k.vmscan.lru[pfn], "a disk file's page: the inactive file list").toBe(Lru.InactiveFile);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a page faulted into a VM_LOCKED VMA goes to the mlock batch (mlock_new_folio), which lags up to 31 folios", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 64);
    // mlock2(MLOCK_ONFAULT): VM_LOCKED without population
    expect(k.mlock(t, va(v), 64n * 4096n, true)).toBe(0n);
    expect(t.mm!.vmaAt(v)!.vmFlags & VmFlag.LOCKONFAULT).not.toBe(0);
    expect(locked(k)).toEqual({ mlocked: 0, unevictable: 0 });
    for (let i = 0; i < 30; i++) write(k, t, v + i);
    // PG_mlocked and NR_MLOCK at once; on no list and in no LRU add batch until the batch is processed
    expect(locked(k)).toEqual({ mlocked: 30, unevictable: 0 });
    const first = frameOf(k, t, v);
    expect(k.vmscan.lru[first]).toBe(Lru.None);
    expect(k.vmscan.fbatches.has(first)).toBe(false);
    expect(k.pages.refcount[first], "the mapping's and the mlock batch's").toBe(2);
    expect(checkInvariants(k)).toEqual([]);
    write(k, t, v + 30); // the 31st entry fills the batch
    expect(locked(k)).toEqual({ mlocked: 31, unevictable: 31 });
    expect(k.pages.refcount[first]).toBe(1);
    for (let i = 31; i < 40; i++) write(k, t, v + i);
    expect(locked(k)).toEqual({ mlocked: 40, unevictable: 31 });
    k.vmscan.fbatches.drain(); // lru_add_drain: mlock_drain_local
    expect(locked(k)).toEqual({ mlocked: 40, unevictable: 40 });
    expect(vmstat(k).unevictable_pgs_culled).toBe(40);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("MAP_LOCKED populates into the unevictable list (populate_vma_page_range ends with lru_add_drain)", () => {
    const { k, t } = boot();
    const before = k.vmscan.size[Lru.InactiveAnon] + k.vmscan.fbatches.pending();
    const v = mapAnon(k, t, 12, true);
    expect(locked(k)).toEqual({ mlocked: 12, unevictable: 12 });
    expect(k.vmscan.fbatches.mlock.pending()).toBe(0);
    expect(k.vmscan.size[Lru.InactiveAnon] + k.vmscan.fbatches.pending()).toBe(before);
    expect(k.vmscan.lru[frameOf(k, t, v + 11)]).toBe(Lru.Unevictable);
  });

  it("munmap of a locked range munlocks (munlock_vma_folio) and frees the pages; exit does too", () => {
    const { k, t } = boot();
    const anon0 = k.pages.countByKind()[PageKind.UserAnon];
    const v = mapAnon(k, t, 40, true);
    expect(locked(k)).toEqual({ mlocked: 40, unevictable: 40 });
    expect(k.munmap(t, va(v), 40n * 4096n)).toBe(0n);
    expect(locked(k)).toEqual({ mlocked: 0, unevictable: 0 });
    expect(
      k.pages.countByKind()[PageKind.UserAnon],
      "free_pages_and_swap_cache drained the batch first",
    ).toBe(anon0);
    const s = vmstat(k);
    expect([s.unevictable_pgs_munlocked, s.unevictable_pgs_rescued, s.unevictable_pgs_cleared]).toEqual([
      40, 40, 0,
    ]);
    expect(checkInvariants(k)).toEqual([]);

    const t2 = k.spawn("q")!;
    k.switchTo(0, t2);
    mapAnon(k, t2, 10, true);
    expect(locked(k)).toEqual({ mlocked: 10, unevictable: 10 });
    k.exit(t2, "done");
    expect(locked(k)).toEqual({ mlocked: 0, unevictable: 0 });
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("fork and COW", () => {
  it("the child's mappings are not locked (dup_mmap); a COW in the parent mlocks the copy and munlocks the shared page", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 4, true);
    const shared = frameOf(k, t, v);
    const c = k.fork(t, "child")!;
    expect(c.mm!.vmaAt(v)!.vmFlags & (VmFlag.LOCKED | VmFlag.LOCKONFAULT)).toBe(0);
    expect(locked(k)).toEqual({ mlocked: 4, unevictable: 4 });
    k.switchTo(0, t);
    write(k, t, v); // wp_page_copy in the locked VMA
    const copy = frameOf(k, t, v);
    expect(copy).not.toBe(shared);
    k.vmscan.fbatches.drain();
    expect(mlocked(k, copy)).toBe(true);
    expect(k.vmscan.lru[copy]).toBe(Lru.Unevictable);
    expect(mlocked(k, shared), "only the child maps it now, unlocked").toBe(false);
    expect(k.vmscan.lru[shared]).toBe(Lru.InactiveAnon);
    expect(locked(k)).toEqual({ mlocked: 4, unevictable: 4 });
    // the child's own write: its copy is not mlocked
    k.switchTo(0, c);
    write(k, c, v + 1);
    k.vmscan.fbatches.drain();
    expect(mlocked(k, frameOf(k, c, v + 1))).toBe(false);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("reclaim", () => {
  it("culls a page it finds mapped by a VM_LOCKED VMA to the unevictable list instead of reclaiming it", () => {
    const { k, t } = boot();
    const v = mapAnon(k, t, 4);
    for (let i = 0; i < 4; i++) write(k, t, v + i);
    k.vmscan.fbatches.drain();
    const pfn = frameOf(k, t, v);
    expect(k.vmscan.lru[pfn]).toBe(Lru.InactiveAnon);
    // a VMA locked behind mlock's back: the pages are "a mlock which got missed"
    t.mm!.vmaAt(v)!.vmFlags |= VmFlag.LOCKED;
    const swapped0 = k.swap!.pswpout;
    k.vmscan.tryToFreePages(64);
    expect(k.swap!.pswpout, "none of them went to swap").toBe(swapped0);
    expect(mlocked(k, pfn)).toBe(true);
    // folio_putback_lru put them in the LRU add batch: lru_add moves them to the unevictable list
    k.vmscan.fbatches.drain();
    expect(k.vmscan.lru[pfn]).toBe(Lru.Unevictable);
    expect(locked(k)).toEqual({ mlocked: 4, unevictable: 4 });
    const s = vmstat(k);
    expect([s.unevictable_pgs_mlocked, s.unevictable_pgs_culled]).toEqual([4, 4]);
    // the unevictable list is never scanned: a second shrink leaves them
    const scanned = scannedTotal(k.vmscan.stats);
    k.vmscan.tryToFreePages(64);
    expect(k.vmscan.lru[pfn]).toBe(Lru.Unevictable);
    expect(scannedTotal(k.vmscan.stats)).toBe(scanned);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("leaves mlocked pages alone under memory pressure while unlocked ones go to swap", () => {
    const k = new Kernel({ ramBytes: 32 << 20, cpus: 1, swapBytes: 64 << 20 });
    const t = k.spawn("p")!;
    k.switchTo(0, t);
    const l = mapAnon(k, t, 64, true);
    const lockedFrames = Array.from({ length: 64 }, (_, i) => frameOf(k, t, l + i));
    const big = mapAnon(k, t, 8192);
    for (let i = 0; i < 8192; i++) write(k, t, big + i);
    expect(k.swap!.pswpout).toBeGreaterThan(0);
    for (let i = 0; i < 64; i++) expect(frameOf(k, t, l + i)).toBe(lockedFrames[i]);
    expect(locked(k)).toEqual({ mlocked: 64, unevictable: 64 });
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("a transparent huge page", () => {
  it("is mlocked whole (its 512 pages in Mlocked and Unevictable); a partial munmap splits it and munlocks that part", () => {
    const r = runScenario(
      `machine ram=64M
spawn A
A: t = mmap 4M
A: madvise t 4M hugepage
A: mlock t 2M
expect anon_huge(A, t 4M) == 512
expect meminfo.Mlocked == 2M
expect meminfo.Unevictable == 2M
expect vmstat.unevictable_pgs_mlocked == 512
A: munmap t+1M 1M
expect meminfo.Mlocked == 1M
expect meminfo.Unevictable == 1M
A: munmap t 4M
expect meminfo.Mlocked == 0
expect meminfo.Unevictable == 0
expect vmstat.unevictable_pgs_munlocked == 512
`,
      { checkInvariants: true },
    );
    expect(r.expectations.filter((e) => !e.ok).map((e) => `${e.line}: ${e.text}: ${e.actual}`)).toEqual([]);
    expect(r.expectations.length).toBe(9);
  });
});
