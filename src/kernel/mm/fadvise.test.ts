/**
 * posix_fadvise(2) and drop_caches as Linux 6.12's mm/fadvise.c and
 * fs/drop_caches.c: the readahead advice on the open file (ra_pages,
 * FMODE_RANDOM, FMODE_NOREUSE), WILLNEED's force_page_cache_ra and its
 * io_pages cap, DONTNEED's full-page rounding, writeback and second pass
 * after lru_add_drain_all, the lru_deactivate_file batch (PG_reclaim at
 * the inactive head for a dirty folio, the tail and pgrotated for a clean
 * one), drop_caches' modes and counters, the errors.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import type { TaskHandle } from "../core/task.ts";
import { taskOf } from "../core/task.ts";
import { type FileHandle, fileOf } from "../fs/file.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { PageFlag } from "./PageDesc.ts";
import { mmapArgs } from "./userMm.ts";

/** the task's struct file of the file (fs/open.ts: the one it opened, or its implicit one) */
const sf = (t: TaskHandle, f: FileHandle) => taskOf(t).files!.fileFor(fileOf(f));

const PG = 4096n;

function boot(cpus = 1) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  return { k, t };
}

describe("posix_fadvise", () => {
  it("EINVAL for a negative length or an unknown advice; a tmpfs file accepts and ignores every advice", () => {
    const { k, t } = boot();
    const f = k.createFile("f", 64 * 1024, "disk", true);
    expect(k.fadvise(t, f, 0n, -1n, "dontneed")).toBe(-22n);
    expect(k.fadvise(t, f, 0n, 0n, "forget")).toBe(-22n);
    expect(f.cache.size).toBe(16);
    const s = k.createFile("s", 64 * 1024, "tmpfs", false);
    for (const a of ["normal", "random", "sequential", "willneed", "dontneed", "noreuse"])
      expect(k.fadvise(t, s, 0n, 0n, a)).toBe(0n);
    expect(k.fadvise(t, s, 0n, 0n, "forget")).toBe(-22n);
    expect(s.cache.size).toBe(16);
    expect([sf(t, s).raPages, sf(t, s).fmodeRandom, sf(t, s).fmodeNoreuse]).toEqual([null, false, false]);
  });

  it("SEQUENTIAL doubles the open file's ra_pages, which sizes mmap read-around; NORMAL restores the device's and clears FMODE_RANDOM and FMODE_NOREUSE", () => {
    expect(
      expectationFailures(`machine ram=64M readahead=128K
file f size=2M
file g size=2M
spawn A
A: fadvise f 0 0 sequential
A: a = mmap 2M prot=r file=f at=0x40000000
A: read a+1M
# read-around of 2 * 32 pages centred on page 256
expect cached(f) == 64
A: fadvise g 0 0 sequential
A: fadvise g 0 0 normal
A: b = mmap 2M prot=r file=g at=0x40400000
A: read b+1M
expect cached(g) == 32
`),
    ).toEqual([]);
    const { k, t } = boot();
    const f = k.createFile("f", 4096, "disk", false);
    k.fadvise(t, f, 0n, 0n, "random");
    k.fadvise(t, f, 0n, 0n, "noreuse");
    expect([sf(t, f).fmodeRandom, sf(t, f).fmodeNoreuse]).toEqual([true, true]);
    k.fadvise(t, f, 0n, 0n, "sequential");
    expect([sf(t, f).fmodeRandom, sf(t, f).fmodeNoreuse, sf(t, f).raPages]).toEqual([false, true, 64]);
    k.fadvise(t, f, 0n, 0n, "normal");
    expect([sf(t, f).fmodeRandom, sf(t, f).fmodeNoreuse, sf(t, f).raPages]).toEqual([false, false, null]);
  });

  it("WILLNEED reads at most max(io_pages, ra_pages) pages, from the first partial page, never past EOF, in 4K folios even with folio=", () => {
    const { k, t } = boot();
    const big = k.createFile("big", 2000 * 4096, "disk", false);
    expect(k.fadvise(t, big, 100n, 0n, "willneed")).toBe(0n);
    // bdi->io_pages 320 (max_sectors_kb 1280) beats ra_pages 32
    expect([...big.cache.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 320 }, (_, i) => i));
    expect(big.pagesRead).toBe(320);
    const small = k.createFile("small", 10 * 4096 + 5, "disk", false);
    k.fadvise(t, small, 8n * PG, 1n << 40n, "willneed");
    expect([...small.cache.keys()].sort((a, b) => a - b)).toEqual([8, 9, 10]);
    const fol = k.createFile("fol", 64 * 4096, "disk", false, 64 * 1024);
    k.fadvise(t, fol, 0n, 0n, "willneed");
    expect([fol.cache.size, fol.folios.size]).toEqual([64, 0]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("DONTNEED drops full pages only, and the file's last page even when partial", () => {
    const { k, t } = boot();
    const f = k.createFile("f", 10 * 4096 + 100, "disk", true);
    const cached = () => [...f.cache.keys()].sort((a, b) => a - b);
    k.fadvise(t, f, 1n, 3n * PG, "dontneed"); // [1, 12289): page 1 and 2 whole, 0 and 3 partial
    expect(cached()).toEqual([0, 3, 4, 5, 6, 7, 8, 9, 10]);
    k.fadvise(t, f, 0n, 100n, "dontneed"); // end_index 0 and a partial page: nothing
    expect(cached()).toEqual([0, 3, 4, 5, 6, 7, 8, 9, 10]);
    k.fadvise(t, f, 9n * PG, 4096n + 100n, "dontneed"); // ends at i_size - 1: page 10 goes too
    expect(cached()).toEqual([0, 3, 4, 5, 6, 7, 8]);
    k.fadvise(t, f, 0n, 0n, "dontneed"); // to the end
    expect(cached()).toEqual([]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("DONTNEED skips a large folio that reaches outside the range (find_lock_entries) and frees one inside it whole", () => {
    const { k, t } = boot();
    const f = k.createFile("f", 64 * 4096, "disk", true, 64 * 1024); // four 64K folios
    const free0 = k.buddy.freePages();
    k.fadvise(t, f, 0n, 24n * PG, "dontneed"); // pages 0..23: folio 0..15 whole, 16..31 in part
    expect([f.cache.size, [...f.folios.keys()].sort((a, b) => a - b)]).toEqual([48, [16, 32, 48]]);
    expect(k.buddy.freePages() - free0).toBe(16);
    k.fadvise(t, f, 0n, 0n, "dontneed");
    expect([f.cache.size, f.folios.size]).toEqual([0, 0]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("DONTNEED writes dirty pages back and skips them under writeback; a mapped page makes it drain every CPU and pass again, by when the writeback has ended", () => {
    const { k, t } = boot();
    const f = k.createFile("f", 32 * 4096, "disk", true);
    const buf = k.mmap(t, mmapArgs(4 * 4096));
    k.fileIo(0, f, buf, 2 * 4096, true);
    expect([...f.dirty].sort()).toEqual([0, 1]);
    k.fadvise(t, f, 0n, 0n, "dontneed");
    expect([...f.dirty]).toEqual([]);
    expect([...f.written].sort()).toEqual([0, 1]);
    expect([...f.cache.keys()].sort((a, b) => a - b)).toEqual([0, 1]);
    for (const pfn of f.cache.values()) expect(k.pages.flags[pfn] & PageFlag.Writeback).toBe(0);
    // again dirty, and pages 16..31 mapped: they fail, so lru_add_drain_all and a second pass
    const a = k.mmap(
      t,
      mmapArgs(32 * 4096, {
        file: f,
        shared: true,
        prot: { r: true, w: false, x: false },
        addr: 0x40000000,
        fixed: true,
      }),
    );
    k.fadvise(t, f, 0n, 0n, "willneed");
    k.userAccess(0, t, a + 24n * PG, Access.Read);
    k.fileIo(0, f, buf, 2 * 4096, true);
    k.fadvise(t, f, 0n, 0n, "dontneed");
    expect(f.cache.size).toBe(k.userMm.settings.faultAroundPages);
    expect(f.cache.has(0)).toBe(false);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("DONTNEED meets a page in another CPU's LRU add batch: it fails, lru_add_drain_all, and the second pass drops it", () => {
    const { k, t } = boot(2);
    const f = k.createFile("f", 4 * 4096, "disk", false);
    const t1 = k.spawn("B")!;
    k.switchTo(1, t1);
    const buf = k.mmap(t1, mmapArgs(4 * 4096));
    k.fileIo(1, f, buf, 4 * 4096, false); // read(2) on CPU 1: the pages wait in its batch
    expect(k.vmscan.fbatches.pending()).toBeGreaterThanOrEqual(4);
    k.fadvise(t, f, 0n, 0n, "dontneed");
    expect(f.cache.size).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a clean folio that cannot go (an extra reference) is deactivated to the tail of the inactive list, counted in pgrotated and pgdeactivate", () => {
    const { k, t } = boot();
    const f = k.createFile("f", 4 * 4096, "disk", true);
    k.vmscan.fbatches.drainAll();
    const pfn = f.cache.get(2)!;
    k.vmscan.add(pfn, 4); // on the active file list
    k.pages.refcount[pfn]++; // held (as get_user_pages holds a page)
    const deact = k.vmscan.stats.pgdeactivate;
    k.fadvise(t, f, 0n, 0n, "dontneed");
    expect([...f.cache.keys()]).toEqual([2]);
    k.vmscan.fbatches.drainAll();
    expect(k.vmscan.lru[pfn]).toBe(3);
    expect(k.vmscan.tail[3]).toBe(pfn);
    expect(k.vmscan.fbatches.pgrotated).toBeGreaterThanOrEqual(1);
    expect(k.vmscan.stats.pgdeactivate).toBe(deact + 1);
    expect(k.pages.flags[pfn] & PageFlag.Reclaim).toBe(0);
    k.pages.refcount[pfn]--;
  });
});

describe("drop_caches", () => {
  it("1 drops every file's clean unused pages, deactivates a dirty one to the inactive head with PG_reclaim, keeps mapped ones; 2 counts drop_slab; 0 and 5 are EINVAL", () => {
    const { k, t } = boot();
    const f = k.createFile("f", 16 * 4096, "disk", true);
    const g = k.createFile("g", 8 * 4096, "disk", true);
    const buf = k.mmap(t, mmapArgs(4096));
    k.fileIo(0, g, buf, 4096, true); // g's page 0 dirty
    const a = k.mmap(t, mmapArgs(16 * 4096, { file: f, prot: { r: true, w: false, x: false } }));
    k.userAccess(0, t, a, Access.Read); // maps f's pages 0..15 (fault-around)
    expect(k.dropCaches(0).ret).toBe(-22n);
    expect(k.dropCaches(5).ret).toBe(-22n);
    const r = k.dropCaches(1);
    expect(r).toEqual({ ret: 0n, dropped: 7 });
    expect([f.cache.size, [...g.cache.keys()]]).toEqual([16, [0]]);
    const dirty = g.cache.get(0)!;
    expect(k.pages.flags[dirty] & PageFlag.Reclaim).toBe(PageFlag.Reclaim);
    expect(k.vmscan.head[3]).toBe(dirty);
    expect(k.dropCachesStats).toEqual({ drop_pagecache: 1, drop_slab: 0 });
    expect(k.dropCaches(2)).toEqual({ ret: 0n, dropped: 0 });
    expect(k.dropCaches(3).ret).toBe(0n);
    expect(k.dropCachesStats).toEqual({ drop_pagecache: 2, drop_slab: 2 });
    expect(checkInvariants(k)).toEqual([]);
  });
});
