/**
 * File mappings and the page cache against Linux's behaviour: filemap_fault
 * with mmap read-around, do_fault_around, do_cow_fault, do_shared_fault with
 * write-notify, msync's page_mkclean, SIGBUS past EOF, tmpfs.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import { Pte } from "../hw/arch/x86_64/pte.ts";
import type { Task } from "./core/task.ts";
import type { FileObject } from "./fs/file.ts";
import { fileByte } from "./fs/file.ts";
import type { KernelConfig } from "./Kernel.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/userMm.ts";
import { checkInvariants } from "./view/invariants.ts";
import { meminfo } from "./view/proc.ts";

const PAGE = 4096n;

function boot(extra: Partial<KernelConfig> = {}) {
  return new Kernel({ ramBytes: 64 << 20, cpus: 1, ...extra });
}

function mapFile(
  k: Kernel,
  t: Task,
  file: FileObject,
  pages: number,
  opts: { shared?: boolean; w?: boolean; offsetPages?: number; addr?: bigint } = {},
): bigint {
  const r = k.mmap(
    t,
    mmapArgs(pages * 4096, {
      file,
      offset: (opts.offsetPages ?? 0) * 4096,
      prot: { r: true, w: opts.w ?? false, x: false },
      shared: opts.shared ?? false,
      addr: opts.addr === undefined ? -1 : Number(opts.addr),
      fixed: opts.addr !== undefined,
    }),
  );
  expect(r > 0n, `mmap: ${r}`).toBe(true);
  return r;
}

function access(k: Kernel, t: Task, va: bigint, write = false, value = 0) {
  k.switchTo(0, t);
  return k.userAccess(0, t, va, write ? Access.Write : Access.Read, value);
}

function pte(k: Kernel, t: Task, va: bigint) {
  return k.userMm.leafFor(t.mm!, Number(va / PAGE));
}

function presentPages(k: Kernel, t: Task, base: bigint, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const e = pte(k, t, base + BigInt(i) * PAGE);
    if (e !== null && e.lo & Pte.P) out.push(i);
  }
  return out;
}

describe("read faults on a disk file (filemap_fault, do_fault_around)", () => {
  it("the first read is a major fault that reads 32 pages around it, and its retry maps the cached 16-page block around it", () => {
    const k = boot();
    const f = k.createFile("big", 200 * 4096, "disk");
    const t = k.spawn("A")!;
    // place the mapping 2 MiB-aligned so that the 16-page blocks are easy to name
    const base = mapFile(k, t, f, 200, { addr: 0x40000000n });
    const r = access(k, t, base + 50n * PAGE);
    expect(r.ok).toBe(true);
    expect(r.ok && r.value).toBe(fileByte("big", 50 * 4096));
    expect([t.majFlt, t.minFlt]).toEqual([1, 0]);
    // do_sync_mmap_readahead: ra_pages (128K = 32 pages) starting ra_pages/2 before the fault
    expect([...f.cache.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => 34 + i));
    expect(f.pagesRead).toBe(32);
    // the read dropped mmap_lock (VM_FAULT_RETRY); the retry's fault-around maps the aligned block
    // 48..63 but for page 58, the window's PG_readahead page (34 + 32 - 32/4), left for its own fault
    const but58 = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => from + i).filter((p) => p !== 58);
    expect(presentPages(k, t, base, 200)).toEqual(but58(48, 16));
    // inside the block: no fault; cached but outside it: a minor fault that maps its own block
    access(k, t, base + 60n * PAGE);
    expect([t.majFlt, t.minFlt]).toEqual([1, 0]);
    access(k, t, base + 40n * PAGE);
    expect([t.majFlt, t.minFlt]).toEqual([1, 1]);
    expect(presentPages(k, t, base, 200)).toEqual(but58(34, 30));
    // beyond the read-ahead window: another major fault
    access(k, t, base + 100n * PAGE);
    expect(t.majFlt).toBe(2);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("fault_around_bytes=4K maps only the faulting page; read_ahead_kb=0 reads only it", () => {
    const k = boot({ faultAroundBytes: 4096, readaheadKb: 0 });
    const f = k.createFile("f", 64 * 4096, "disk");
    const t = k.spawn("A")!;
    const base = mapFile(k, t, f, 64);
    access(k, t, base + 5n * PAGE);
    expect(f.cache.size).toBe(1);
    expect(presentPages(k, t, base, 64)).toEqual([5]);
  });

  it("fault_around_bytes is rounded down to a power of two pages (fault_around_bytes_set)", () => {
    const k = boot({ faultAroundBytes: 40960 }); // 10 pages -> 8
    const f = k.createFile("f", 64 * 4096, "disk", true);
    const t = k.spawn("A")!;
    const base = mapFile(k, t, f, 64, { addr: 0x40000000n });
    access(k, t, base + 9n * PAGE);
    expect(presentPages(k, t, base, 64)).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it("MADV_RANDOM reads only the faulting page, MADV_SEQUENTIAL reads ahead from it; MADV_WILLNEED reads without mapping", () => {
    const k = boot();
    const f = k.createFile("f", 100 * 4096, "disk");
    const t = k.spawn("A")!;
    const base = mapFile(k, t, f, 100, { addr: 0x40000000n });
    k.switchTo(0, t);
    expect(k.madvise(t, base, 50n * PAGE, "random")).toBe(0n);
    expect(k.madvise(t, base + 50n * PAGE, 50n * PAGE, "sequential")).toBe(0n);
    access(k, t, base + 10n * PAGE);
    expect([...f.cache.keys()]).toEqual([10]);
    access(k, t, base + 60n * PAGE);
    expect(f.cache.size).toBe(1 + 32);
    expect(f.cache.has(60) && f.cache.has(91) && !f.cache.has(59) && !f.cache.has(92)).toBe(true);
    expect(t.majFlt).toBe(2);
    expect(k.madvise(t, base + 20n * PAGE, 3n * PAGE, "willneed")).toBe(0n);
    expect(f.cache.has(20) && f.cache.has(22)).toBe(true);
    expect(presentPages(k, t, base + 20n * PAGE, 3)).toEqual([]);
    access(k, t, base + 21n * PAGE);
    expect(t.majFlt).toBe(2); // the page was cached: minor
  });

  it("two processes mapping one file share the page-cache frames, private or shared", () => {
    const k = boot();
    const f = k.createFile("lib", 8 * 4096, "disk");
    const a = k.spawn("A")!;
    const b = k.spawn("B")!;
    const va = mapFile(k, a, f, 8, { shared: true });
    const vb = mapFile(k, b, f, 8);
    access(k, a, va + 3n * PAGE);
    access(k, b, vb + 3n * PAGE);
    const pa = pte(k, a, va + 3n * PAGE)!;
    const pb = pte(k, b, vb + 3n * PAGE)!;
    expect(pa.pfn).toBe(pb.pfn);
    expect(pa.pfn).toBe(f.cache.get(3));
    expect(k.pages.mapcount[pa.pfn]).toBe(2);
    // two mappings, the page cache and the LRU add batch the page still waits in (folio_add_lru)
    expect(k.vmscan.fbatches.has(pa.pfn)).toBe(true);
    expect(k.pages.refcount[pa.pfn]).toBe(4);
    expect([a.majFlt, b.majFlt]).toEqual([1, 0]);
    // each fault mapped the 8-page file around it (A's on the retry after reading it) but page 0:
    // the read-around window, cut to the file, has its PG_readahead mark at 8 - 32/4
    expect([a.mm!.rssFile, b.mm!.rssFile]).toEqual([7, 7]);
    expect(a.mm!.rssAnon).toBe(0);
    // munmap drops the mappings; the page cache keeps the pages
    k.switchTo(0, a);
    expect(k.munmap(a, va, 8n * PAGE)).toBe(0n);
    expect(k.pages.mapcount[pb.pfn]).toBe(1);
    expect(f.cache.size).toBe(8);
    expect(a.mm!.rssFile).toBe(0);
    expect(b.mm!.rssFile).toBe(7);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a read past the end of the file inside the mapping is SIGBUS (BUS_ADRERR); the partial last page reads zeros beyond EOF", () => {
    const k = boot();
    const f = k.createFile("short", 5000, "disk");
    const t = k.spawn("A")!;
    t.caught.add("SIGBUS");
    const base = mapFile(k, t, f, 4);
    const last = access(k, t, base + 4096n + 903n);
    expect(last.ok && last.value).toBe(fileByte("short", 4999));
    const beyond = access(k, t, base + 4096n + 904n);
    expect(beyond.ok && beyond.value).toBe(0);
    const r = access(k, t, base + 2n * PAGE);
    expect(r.ok).toBe(false);
    expect(!r.ok && [r.signal, r.siCode, r.siAddr]).toEqual(["SIGBUS", "BUS_ADRERR", base + 2n * PAGE]);
  });
});

describe("write faults on file mappings", () => {
  it("a private write copies the page (do_cow_fault): the file and other mappings are unchanged, RSS moves from file to anon", () => {
    const k = boot();
    const f = k.createFile("data", 4 * 4096, "disk", true);
    const a = k.spawn("A")!;
    const b = k.spawn("B")!;
    const va = mapFile(k, a, f, 4, { w: true });
    const vb = mapFile(k, b, f, 4);
    access(k, a, va);
    access(k, b, vb);
    expect(a.mm!.rssFile).toBe(4);
    const w = access(k, a, va + 7n, true, 0x99);
    expect(w.ok).toBe(true);
    const after = pte(k, a, va)!;
    expect(after.pfn).not.toBe(f.cache.get(0));
    expect(k.machine.phys.read8(after.pfn * 4096 + 6)).toBe(fileByte("data", 6)); // the rest was copied
    const rb = access(k, b, vb + 7n);
    expect(rb.ok && rb.value).toBe(fileByte("data", 7));
    expect([a.mm!.rssFile, a.mm!.rssAnon]).toEqual([3, 1]);
    expect(f.dirty.size).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a shared mapping of a disk file maps clean pages read-only (write-notify); the write dirties the page cache", () => {
    const k = boot();
    const f = k.createFile("db", 4 * 4096, "disk", true);
    const a = k.spawn("A")!;
    const b = k.spawn("B")!;
    const va = mapFile(k, a, f, 4, { shared: true, w: true });
    const vb = mapFile(k, b, f, 4, { shared: true });
    access(k, a, va);
    expect(pte(k, a, va)!.lo & Pte.RW).toBe(0);
    expect([a.majFlt, a.minFlt]).toEqual([0, 1]); // cached: minor
    expect(access(k, a, va + 1n, true, 0x41).ok).toBe(true);
    expect(a.minFlt).toBe(2); // the write-notify fault
    const e = pte(k, a, va)!;
    expect([!!(e.lo & Pte.RW), !!(e.lo & Pte.D), e.pfn]).toEqual([true, true, f.cache.get(0)]);
    expect([...f.dirty]).toEqual([0]);
    expect(meminfo(k).Dirty).toBe(4096);
    // the other process sees the write; the disk does not have it yet
    const rb = access(k, b, vb + 1n);
    expect(rb.ok && rb.value).toBe(0x41);
    expect(f.storedByte(1)).toBe(fileByte("db", 1));
    // msync writes back and write-protects: the next write faults again
    k.switchTo(0, a);
    expect(k.msync(a, va, 4n * PAGE)).toBe(0n);
    expect(f.storedByte(1)).toBe(0x41);
    expect([f.dirty.size, f.pagesWritten, meminfo(k).Dirty]).toEqual([0, 1, 0]);
    expect(pte(k, a, va)!.lo & (Pte.RW | Pte.D)).toBe(0);
    access(k, a, va + 2n, true, 0x42);
    expect(a.minFlt).toBe(3);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("msync writes back pages another process dirtied and cleans its PTEs too (page_mkclean through the rmap)", () => {
    const k = boot();
    const f = k.createFile("db", 2 * 4096, "disk", true);
    const a = k.spawn("A")!;
    const b = k.spawn("B")!;
    const va = mapFile(k, a, f, 2, { shared: true, w: true });
    const vb = mapFile(k, b, f, 2, { shared: true, w: true });
    access(k, b, vb + PAGE, true, 0x33);
    expect(pte(k, b, vb + PAGE)!.lo & Pte.RW).toBe(Pte.RW);
    k.switchTo(0, a);
    expect(k.msync(a, va, 2n * PAGE)).toBe(0n);
    expect(f.storedByte(4096)).toBe(0x33);
    expect(pte(k, b, vb + PAGE)!.lo & (Pte.RW | Pte.D)).toBe(0);
    // B's TLB still held the writable entry under its PCID: the flush must reach it, so this write faults
    const f0 = b.minFlt;
    access(k, b, vb + PAGE, true, 0x34);
    expect(b.minFlt).toBe(f0 + 1);
    expect([...f.dirty]).toEqual([1]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("mprotect(PROT_WRITE) on a shared disk mapping keeps clean pages read-only (can_change_pte_writable)", () => {
    const k = boot();
    const f = k.createFile("db", 2 * 4096, "disk", true);
    const t = k.spawn("A")!;
    const va = mapFile(k, t, f, 2, { shared: true });
    access(k, t, va);
    k.switchTo(0, t);
    expect(k.mprotect(t, va, 2n * PAGE, { r: true, w: true, x: false })).toBe(0n);
    expect(pte(k, t, va)!.lo & Pte.RW).toBe(0);
    const f0 = t.minFlt;
    access(k, t, va, true, 1);
    expect(t.minFlt).toBe(f0 + 1);
  });

  it("a tmpfs file needs no write-notify: a shared writable mapping maps its pages writable on a read", () => {
    const k = boot();
    const f = k.createFile("shm", 2 * 4096, "tmpfs");
    expect(f.cache.size).toBe(2);
    const t = k.spawn("A")!;
    const va = mapFile(k, t, f, 2, { shared: true, w: true });
    access(k, t, va);
    expect(pte(k, t, va)!.lo & Pte.RW).toBe(Pte.RW);
    expect([t.majFlt, t.minFlt, t.mm!.rssShmem, t.mm!.rssFile]).toEqual([0, 1, 2, 0]);
    access(k, t, va, true, 7);
    expect(t.minFlt).toBe(1);
    const m = meminfo(k);
    expect([m.Shmem, m.Cached, m.Mapped, m.Dirty]).toEqual([8192, 8192, 8192, 0]);
  });

  it("fork copies no PTEs of a file VMA without anonymous pages (vma_needs_copy); with a COW copy it copies them all", () => {
    const k = boot();
    const f = k.createFile("f", 4 * 4096, "disk", true);
    const p = k.spawn("P")!;
    const ro = mapFile(k, p, f, 4);
    const rw = mapFile(k, p, f, 4, { w: true });
    access(k, p, ro);
    access(k, p, rw);
    access(k, p, rw + PAGE, true, 0x55); // a private copy: the VMA gets an anon_vma
    expect([p.mm!.rssFile, p.mm!.rssAnon]).toEqual([7, 1]);
    k.switchTo(0, p);
    const c = k.fork(p, "C")!;
    // the read-only VMA refaults in the child; the written one is copied: 3 file pages and the shared COW page
    expect([c.mm!.rssFile, c.mm!.rssAnon]).toEqual([3, 1]);
    expect(access(k, c, rw, true, 0x77).ok).toBe(true);
    const rp = access(k, p, rw);
    expect(rp.ok && rp.value).toBe(fileByte("f", 0));
    const rc = access(k, c, rw + PAGE);
    expect(rc.ok && rc.value).toBe(0x55);
    expect([c.mm!.rssFile, c.mm!.rssAnon, p.mm!.rssAnon]).toEqual([2, 2, 1]);
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("page cache accounting", () => {
  it("Cached counts the page cache, Mapped the mapped part of it", () => {
    const k = boot();
    const before = meminfo(k);
    const f = k.createFile("f", 10 * 4096, "disk", true);
    const t = k.spawn("A")!;
    mapFile(k, t, f, 2);
    const va = mapFile(k, t, f, 2, { offsetPages: 4 });
    access(k, t, va + PAGE);
    const m = meminfo(k);
    expect(m.Cached - before.Cached).toBe(10 * 4096);
    expect(m.Mapped - before.Mapped).toBe(2 * 4096); // fault-around stays inside the 2-page VMA
    expect(pte(k, t, va)!.pfn).toBe(f.cache.get(4));
  });

  it("rejects impossible files", () => {
    const k = boot();
    expect(() => k.createFile("f", -1)).toThrow(/size/);
    expect(() => k.createFile("g", 2 ** 41)).toThrow(/1 TiB/);
    k.createFile("h", 1);
    expect(() => k.createFile("h", 1)).toThrow(/already exists/);
    expect(() => k.createFile("huge", 2 ** 30, "tmpfs")).toThrow(/cannot fit/);
    // nr_blocks 0: a mount without a size limit, so memory runs out (by default the mount's
    // half of RAM refuses it first: shmem_mount.test.ts)
    expect(() => k.createFile("most", 60 << 20, "tmpfs", false, 4096, undefined, 0)).toThrow(/out of memory/);
  });
});

describe("createFile sizes", () => {
  it("refuses at once a cached or tmpfs file larger than RAM, and takes a 1 TiB disk file read on demand", () => {
    const k = boot();
    expect(() => k.createFile("a", 2 ** 40, "disk", true)).toThrow(
      /a cached file of 1099511627776 bytes cannot fit/,
    );
    expect(() => k.createFile("b", (64 << 20) + 4096, "tmpfs")).toThrow(
      /a tmpfs file of \d+ bytes cannot fit/,
    );
    expect(k.createFile("c", 2 ** 40, "disk").sizeBytes).toBe(2 ** 40);
  });
});
