/**
 * read(2) through mm/readahead.ts as Linux's filemap_read and on-demand
 * readahead (mm/readahead.c page_cache_sync_ra, page_cache_async_ra; 6.16 on
 * for the window's end): the sequential window's growth from the first read
 * and at each PG_readahead page, small random reads read as they are,
 * POSIX_FADV_RANDOM and POSIX_FADV_SEQUENTIAL, EOF, the open file's
 * position and pread, a large-folio file's growing folios. `readahead=128K`
 * (ra_pages 32), a 4K-folio disk file unless said.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { TaskHandle } from "../core/task.ts";
import { taskOf } from "../core/task.ts";
import { type FileHandle, fileOf } from "../fs/file.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { PageFlag } from "./PageDesc.ts";
import { getInitRaSize, getNextRaSize } from "./readahead.ts";
import { mmapArgs } from "./userMm.ts";

/** the task's struct file of the file (fs/open.ts: the one it opened, or its implicit one) */
const sf = (t: TaskHandle, f: FileHandle) => taskOf(t).files!.fileFor(fileOf(f));

const PG = 4096;

function boot(fileBytes: number, extra: Record<string, unknown> = {}, folioBytes = 4096) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, ...extra });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  const f = k.createFile("f", fileBytes, "disk", false, folioBytes);
  const buf = k.mmap(t, mmapArgs(1 << 20, {}));
  return { k, t, f, buf };
}

/** the cached page indices of f, as [first, last] runs */
function runs(f: { cache: Map<number, number> }): [number, number][] {
  const idx = [...f.cache.keys()].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const i of idx) {
    const last = out[out.length - 1];
    if (last && last[1] === i - 1) last[1] = i;
    else out.push([i, i]);
  }
  return out;
}

describe("read(2) readahead (filemap_read, page_cache_sync_ra / page_cache_async_ra)", () => {
  it("sizes the windows as get_init_ra_size and get_next_ra_size say", () => {
    expect([1, 2, 3, 4, 8, 9].map((n) => getInitRaSize(n, 32))).toEqual([4, 4, 8, 8, 16, 32]);
    expect([1, 2, 4, 8, 16, 32].map((n) => getInitRaSize(n, 2048))).toEqual([4, 8, 16, 32, 64, 128]);
    expect([1, 2, 4, 8, 16, 32].map((n) => getNextRaSize(n, 32))).toEqual([4, 4, 8, 16, 32, 32]);
  });

  it("sequential 4K reads: 4 pages, then at each PG_readahead page the next window, 2x up to ra_pages", () => {
    const { k, t, f, buf } = boot(1 << 20);
    k.openFile(t, f);
    const cachedAfter: number[] = [];
    for (let i = 0; i < 40; i++) {
      expect(k.fileIo(0, f, buf, PG, false)).toBe(PG);
      cachedAfter.push(f.cache.size);
    }
    // read 0: [0,4) marked at 1; read 1: [4,12) marked at 4; read 4: [12,28) at 12; read 12:
    // [28,60) at 28; read 28: [60,92)
    const want = (i: number) => (i < 1 ? 4 : i < 4 ? 12 : i < 12 ? 28 : i < 28 ? 60 : 92);
    expect(cachedAfter).toEqual(cachedAfter.map((_, i) => want(i)));
    expect(runs(f)).toEqual([[0, 91]]);
    expect(sf(t, f).pos).toBe(40 * PG);
    expect(f.pagesRead).toBe(92);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("marks the page start + size - async_size PG_readahead; reaching it clears the mark and reads the async window", () => {
    const { k, t, f, buf } = boot(1 << 20);
    k.openFile(t, f);
    k.fileIo(0, f, buf, PG, false);
    const flags = k.pages.flags;
    const marked = [...f.cache.entries()].filter(([, pfn]) => flags[pfn] & PageFlag.Reclaim).map(([i]) => i);
    expect(marked).toEqual([1]);
    expect(sf(t, f).ra).toMatchObject({ start: 0, size: 4, asyncSize: 3, prevPos: PG });
    k.fileIo(0, f, buf, PG, false);
    expect(flags[f.cache.get(1)!] & PageFlag.Reclaim).toBe(0);
    expect(sf(t, f).ra).toMatchObject({ start: 4, size: 8, asyncSize: 8 });
    expect(runs(f)).toEqual([[0, 11]]);
    expect(flags[f.cache.get(4)!] & PageFlag.Reclaim).not.toBe(0);
  });

  it("small random preads are read page by page, and leave the window alone; two in a row start one", () => {
    const { k, t, f, buf } = boot(1 << 20);
    for (const p of [100, 37, 200, 5, 150, 60]) expect(k.fileIo(0, f, buf, PG, false, p * PG)).toBe(PG);
    expect(runs(f)).toEqual([5, 37, 60, 100, 150, 200].map((p) => [p, p]));
    expect(sf(t, f).ra.size).toBe(0);
    expect(sf(t, f).pos).toBe(0); // pread leaves the position
    k.fileIo(0, f, buf, PG, false, 61 * PG); // follows the last read: a window of 4 from 61
    expect(runs(f).slice(2, 3)).toEqual([[60, 64]]);
    expect(checkInvariants(k)).toEqual([]);
    void t;
  });

  it("POSIX_FADV_RANDOM reads just what is asked; POSIX_FADV_NORMAL restores readahead", () => {
    const { k, t, f, buf } = boot(1 << 20);
    k.openFile(t, f);
    expect(k.fadvise(t, f, 0n, 0n, "random")).toBe(0n);
    for (let i = 0; i < 8; i++) k.fileIo(0, f, buf, PG, false);
    expect(runs(f)).toEqual([[0, 7]]);
    k.fileIo(0, f, buf, 3 * PG, false); // a 3-page read: 3 pages
    expect(runs(f)).toEqual([[0, 10]]);
    expect(k.fadvise(t, f, 0n, 0n, "normal")).toBe(0n);
    k.fileIo(0, f, buf, PG, false); // page 11 follows the last read: a new window
    expect(f.cache.size).toBeGreaterThan(12);
  });

  it("POSIX_FADV_SEQUENTIAL doubles ra_pages: the windows grow on to 64 pages", () => {
    const seq = boot(1 << 20);
    const normal = boot(1 << 20);
    seq.k.openFile(seq.t, seq.f);
    normal.k.openFile(normal.t, normal.f);
    expect(seq.k.fadvise(seq.t, seq.f, 0n, 0n, "sequential")).toBe(0n);
    for (let i = 0; i < 29; i++) {
      seq.k.fileIo(0, seq.f, seq.buf, PG, false);
      normal.k.fileIo(0, normal.f, normal.buf, PG, false);
    }
    // the same windows up to 32 pages; at page 28 the next is 64 pages, not 32
    expect(normal.f.cache.size).toBe(92);
    expect(seq.f.cache.size).toBe(124);
  });

  it("reads stop at EOF: the last partial page, then 0; nothing past the file is read", () => {
    const { k, t, f, buf } = boot(10 * PG + 100);
    k.openFile(t, f);
    const rets: number[] = [];
    for (let i = 0; i < 12; i++) rets.push(k.fileIo(0, f, buf, PG, false));
    expect(rets).toEqual([...Array(10).fill(PG), 100, 0]);
    expect(runs(f)).toEqual([[0, 10]]);
    expect(k.fileIo(0, f, buf, PG, false, 20 * PG)).toBe(0); // pread past EOF
  });

  it("without open, read is at offset 0 each time (the scenario contract); open resets the state", () => {
    const { k, t, f, buf } = boot(1 << 20);
    k.fileIo(0, f, buf, PG, false);
    k.fileIo(0, f, buf, PG, false);
    expect(sf(t, f).pos).toBe(0);
    expect(runs(f)).toEqual([[0, 3]]);
    expect(k.fadvise(t, f, 0n, 0n, "random")).toBe(0n);
    k.openFile(t, f);
    expect(sf(t, f).fmodeRandom).toBe(false);
    expect(sf(t, f).ra.prevPos).toBe(-1);
  });

  it("a large-folio file's async windows grow their folios' order by 2 and end on that order's boundary", () => {
    const { k, t, f, buf } = boot(1 << 20, { readaheadKb: 8192 }, 2 << 20);
    k.openFile(t, f);
    for (let i = 0; i < 5; i++) k.fileIo(0, f, buf, PG, false);
    // read 0: 4 pages in 4K folios; read 1: [4,20) in order-2 folios; read 4: [20,84) cut to
    // [20,80) (order 4), folios of 4, 8, 16, 16, 16 pages
    expect(f.cache.size).toBe(80);
    expect([...f.folios.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [4, 2],
      [8, 2],
      [12, 2],
      [16, 2],
      [20, 2],
      [24, 3],
      [32, 4],
      [48, 4],
      [64, 4],
    ]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a tmpfs read has no readahead", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const f = k.createFile("s", 1 << 20, "tmpfs", false);
    const buf = k.mmap(t, mmapArgs(1 << 20, {}));
    expect(k.fileIo(0, f, buf, 3 * PG, false, PG)).toBe(3 * PG);
    expect(sf(t, f).ra.size).toBe(0);
  });
});

describe("mmap faults and the readahead state (do_sync_mmap_readahead, do_async_mmap_readahead)", () => {
  const prot = { r: true, w: false, x: false };

  it("read-around marks its last quarter's first page; fault-around leaves it; its fault reads the next window", () => {
    const { k, t, f } = boot(2 << 20);
    const a = k.mmap(t, mmapArgs(2 << 20, { file: f, prot, addr: 0x40000000, fixed: true }));
    const touch = (page: number) =>
      expect(k.userAccess(0, t, a + BigInt(page * PG), Access.Read).ok).toBe(true);
    touch(50); // window 34..65 (32 pages from 50 - 16), page 34 + 32 - 8 = 58 marked
    expect(runs(f)).toEqual([[34, 65]]);
    expect(sf(t, f).ra).toMatchObject({ start: 34, size: 32, asyncSize: 8, mmapMiss: 0 });
    const flags = k.pages.flags;
    expect([...f.cache.entries()].filter(([, pfn]) => flags[pfn] & PageFlag.Reclaim).map(([i]) => i)).toEqual(
      [58],
    );
    expect(t.mm!.rssFile).toBe(15); // 48..63 but 58
    const min0 = t.minFlt;
    touch(58);
    expect(t.minFlt - min0).toBe(1);
    // page_cache_async_ra at the expected page: the next window right after (66), as large as the
    // last (ra_pages), cut to a 4-page boundary: 66..95
    expect(runs(f)).toEqual([[34, 95]]);
    expect(flags[f.cache.get(58)!] & PageFlag.Reclaim).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("stops reading around once the file's mmap faults missed more than MMAP_LOTSAMISS (100) times", () => {
    const { k, t, f } = boot(64 << 20, { faultAroundBytes: 4096 }); // no fault-around: no hits
    const a = k.mmap(t, mmapArgs(64 << 20, { file: f, prot, addr: 0x40000000, fixed: true }));
    for (let i = 0; i < 100; i++) k.userAccess(0, t, a + BigInt(i * 64 * PG), Access.Read);
    expect(sf(t, f).ra.mmapMiss).toBe(100);
    expect(f.cache.size).toBe(100 * 32);
    k.userAccess(0, t, a + BigInt(100 * 64 * PG), Access.Read); // the 101st miss: the page alone
    expect(sf(t, f).ra.mmapMiss).toBe(101);
    expect(f.cache.size).toBe(100 * 32 + 1);
    expect(t.majFlt).toBe(101);
  });

  it("hits take mmap_miss down: a fault on a cached page, and each page fault-around maps", () => {
    const { k, t, f } = boot(2 << 20);
    const a = k.mmap(t, mmapArgs(2 << 20, { file: f, prot, addr: 0x40000000, fixed: true }));
    sf(t, f).ra.mmapMiss = 40;
    k.userAccess(0, t, a + 50n * 4096n, Access.Read); // a miss (+1), then the retry maps 15 (-15)
    expect(sf(t, f).ra.mmapMiss).toBe(26);
  });
});
