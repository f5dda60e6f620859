/**
 * MADV_WILLNEED as Linux 6.12's mm/madvise.c madvise_willneed, one VMA at a
 * time: a file mapping through vfs_fadvise(POSIX_FADV_WILLNEED) (the
 * max(io_pages, ra_pages) cap of force_page_cache_ra, from the VMA's file
 * offset, nothing mapped), a shmem mapping (tmpfs, shared anonymous) and
 * anonymous memory through their swap entries, the swap entries of a private
 * file mapping left alone, and -ENOMEM for a hole.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { BDI_IO_PAGES } from "./filemap.ts";
import { mmapArgs } from "./userMm.ts";

const PG = 4096n;

function boot(extra: Record<string, unknown> = {}) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, ...extra });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  return { k, t };
}

/** mincore's resident pages over `pages` from `addr`, as a string of 0 and 1. */
function resident(k: Kernel, t: ReturnType<Kernel["spawn"]> & object, addr: bigint, pages: number): string {
  const r = k.mincore(t, addr, BigInt(pages) * PG);
  expect(r.ret).toBe(0n);
  return Array.from(r.vec, (b) => b & 1).join("");
}

describe("MADV_WILLNEED on a file mapping (vfs_fadvise POSIX_FADV_WILLNEED)", () => {
  it("reads at most max(io_pages, ra_pages) pages from the VMA's file offset, maps none", () => {
    const { k, t } = boot();
    const f = k.createFile("f", 4 << 20, "disk", false); // 1024 pages, none cached
    // mapped from 256K (page 64) on
    const a = k.mmap(
      t,
      mmapArgs(3 << 20, { file: f, shared: true, prot: { r: true, w: false, x: false }, offset: 256 * 1024 }),
    );
    expect(k.madvise(t, a, 3n << 20n, "willneed")).toBe(0n);
    const cached = [...f.cache.keys()].sort((x, y) => x - y);
    const cap = Math.max(BDI_IO_PAGES, 32); // readahead=128K: 32 pages
    expect(cached.length).toBe(cap);
    expect([cached[0], cached[cached.length - 1]]).toEqual([64, 64 + cap - 1]);
    expect(t.mm!.rssFile).toBe(0);
    expect(resident(k, t, a, 768)).toBe("1".repeat(cap) + "0".repeat(768 - cap));
    expect(checkInvariants(k)).toEqual([]);
  });

  it("the cap is the open file's ra_pages when larger, and the file's end bounds it", () => {
    const { k, t } = boot({ readaheadKb: 2048 }); // ra_pages 512 > io_pages 320
    const f = k.createFile("f", 4 << 20, "disk", false);
    const a = k.mmap(t, mmapArgs(4 << 20, { file: f, shared: true, prot: { r: true, w: false, x: false } }));
    expect(k.madvise(t, a, 4n << 20n, "willneed")).toBe(0n);
    expect(f.cache.size).toBe(512);
    // POSIX_FADV_SEQUENTIAL doubles f_ra.ra_pages: the next WILLNEED reads 1024 pages, the whole file
    expect(k.fadvise(t, f, 0n, 0n, "sequential")).toBe(0n);
    expect(k.madvise(t, a, 4n << 20n, "willneed")).toBe(0n);
    expect(f.cache.size).toBe(1024);
    const g = k.createFile("g", 10 * 4096 + 100, "disk", false); // 11 pages, the last partial
    const b = k.mmap(
      t,
      mmapArgs(16 * 4096, { file: g, shared: false, prot: { r: true, w: false, x: false } }),
    );
    expect(k.madvise(t, b, 16n * PG, "willneed")).toBe(0n);
    expect(g.cache.size).toBe(11);
  });

  it("reads 4K folios even in a file of large folios (the mapping's minimum order), as force_page_cache_ra", () => {
    const { k, t } = boot();
    const f = k.createFile("f", 64 * 4096, "disk", false, 64 * 1024);
    const a = k.mmap(
      t,
      mmapArgs(64 * 4096, { file: f, shared: true, prot: { r: true, w: false, x: false } }),
    );
    expect(k.madvise(t, a, 64n * PG, "willneed")).toBe(0n);
    expect([f.cache.size, f.folios.size]).toEqual([64, 0]);
  });

  it("each VMA of the range is advised on its own: two VMAs of one file, two caps", () => {
    const { k, t } = boot();
    const f = k.createFile("f", 4 << 20, "disk", false);
    const a = k.mmap(t, mmapArgs(4 << 20, { file: f, shared: true, prot: { r: true, w: false, x: false } }));
    expect(k.mprotect(t, a + (2n << 20n), 2n << 20n, { r: false, w: false, x: false })).toBe(0n);
    expect(k.madvise(t, a, 4n << 20n, "willneed")).toBe(0n);
    const cached = [...f.cache.keys()];
    expect(cached.length).toBe(2 * BDI_IO_PAGES);
    expect(cached.filter((i) => i >= 512 && i < 512 + BDI_IO_PAGES).length).toBe(BDI_IO_PAGES);
  });

  it("a hole is -ENOMEM, the mapped parts advised all the same", () => {
    const { k, t } = boot();
    const f = k.createFile("f", 64 * 4096, "disk", false);
    const a = k.mmap(
      t,
      mmapArgs(64 * 4096, { file: f, shared: true, prot: { r: true, w: false, x: false } }),
    );
    expect(k.munmap(t, a + 16n * PG, 16n * PG)).toBe(0n);
    expect(k.madvise(t, a, 64n * PG, "willneed")).toBe(-12n);
    expect(f.cache.size).toBe(48);
  });

  it("the swap entries of a private file mapping's written pages stay swapped; anonymous ones are read", () => {
    const { k, t } = boot({ swapBytes: 1 << 20, pageCluster: 0 });
    const f = k.createFile("f", 8 * 4096, "disk", true);
    const a = k.mmap(t, mmapArgs(8 * 4096, { file: f, shared: false, prot: { r: true, w: true, x: false } }));
    const m = k.mmap(t, mmapArgs(8 * 4096));
    for (const base of [a, m]) expect(k.userAccess(0, t, base, Access.Write, 7).ok).toBe(true);
    expect(k.madvise(t, a, PG, "pageout")).toBe(0n);
    expect(k.madvise(t, m, PG, "pageout")).toBe(0n);
    expect(k.swap!.pswpout).toBe(2);
    expect(k.madvise(t, a, 8n * PG, "willneed")).toBe(0n);
    expect(k.swap!.pswpin).toBe(0); // the file path: vfs_fadvise, no swapin walk
    expect(k.madvise(t, m, 8n * PG, "willneed")).toBe(0n);
    expect(k.swap!.pswpin).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("MADV_WILLNEED on shmem mappings (shmem_swapin_range)", () => {
  it("a shared anonymous mapping's swapped pages are read into the swap cache, not mapped", () => {
    const { k, t } = boot({ swapBytes: 1 << 20, pageCluster: 0 });
    const m = k.mmap(t, mmapArgs(8 * 4096, { shared: true }));
    for (let i = 0n; i < 4n; i++) expect(k.userAccess(0, t, m + i * PG, Access.Write, 9).ok).toBe(true);
    expect(k.madvise(t, m, 8n * PG, "pageout")).toBe(0n);
    const out = k.swap!.pswpout;
    expect(out).toBe(4);
    expect(k.madvise(t, m, 8n * PG, "willneed")).toBe(0n);
    expect(k.swap!.pswpin).toBe(out);
    const majFlt = t.majFlt;
    for (let i = 0n; i < 4n; i++) expect(k.userAccess(0, t, m + i * PG, Access.Read).ok).toBe(true);
    expect(t.majFlt).toBe(majFlt); // the faults find the swap cache: minor
    expect(checkInvariants(k)).toEqual([]);
  });
});
