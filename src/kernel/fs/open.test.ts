/**
 * Open files as Linux has them: each open(2) a struct file of its own (f_pos,
 * f_ra, the advice's mode bits), fork's dup_fd sharing the parent's, a
 * thread sharing the table, exit closing it; a mapping's read-around using
 * its VMA's vm_file; and filemap_read marking the folios it copies
 * accessed (folio_mark_accessed, except a read that stays in the folio of
 * the last read's end). `readahead=128K` (ra_pages 32), 4K-folio disk files.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { taskOf } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "../mm/userMm.ts";
import { Lru } from "../mm/vmscan.ts";
import { checkInvariants } from "../view/invariants.ts";
import type { FileObject } from "./file.ts";

const PG = 4096;
const prot = { r: true, w: false, x: false };

function boot(fileBytes = 1 << 20) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
  const a = k.spawn("A")!;
  const b = k.spawn("B")!;
  const f = k.createFile("f", fileBytes, "disk", false);
  k.switchTo(0, a);
  const bufA = k.mmap(a, mmapArgs(1 << 20, {}));
  k.switchTo(0, b);
  const bufB = k.mmap(b, mmapArgs(1 << 20, {}));
  /** read(2) of `len` bytes by `t` (pread at `off`) */
  const read = (t: typeof a, len: number, off?: number) => {
    k.switchTo(0, t);
    return k.fileIo(0, f, t === a ? bufA : bufB, len, false, off);
  };
  return { k, a, b, f, read };
}

/** the task's struct file of f (its table's), or undefined */
const held = (t: unknown, f: FileObject) => taskOf(t as never).files?.fds.get(f);

describe("struct file per open(2)", () => {
  it("two processes reading one file sequentially each keep their own position and window", () => {
    const { k, a, b, f, read } = boot();
    k.openFile(a, f);
    k.openFile(b, f);
    for (let i = 0; i < 10; i++) expect(read(a, PG)).toBe(PG);
    const raA = { ...held(a, f)!.ra };
    expect(raA).toMatchObject({ start: 12, size: 16, prevPos: 10 * PG });
    // B starts at its own position 0: a cached page, no window of B's own yet
    expect(read(b, PG)).toBe(PG);
    expect(held(b, f)!.pos).toBe(PG);
    expect(held(a, f)!.pos).toBe(10 * PG);
    expect(held(a, f)!.ra).toEqual(raA); // B's read left A's window alone
    expect(held(b, f)!.ra.prevPos).toBe(PG);
    expect(held(a, f)).not.toBe(held(b, f));
    expect(checkInvariants(k)).toEqual([]);
  });

  it("fork shares the parent's struct files: the child's reads advance the parent's position", () => {
    const { k, a, f, read } = boot();
    k.openFile(a, f);
    read(a, 2 * PG);
    const c = k.fork(a, "C")!;
    expect(held(c, f)).toBe(held(a, f));
    k.switchTo(0, c);
    expect(k.fileIo(0, f, 0x10000000n, 0, false)).toBe(0); // a zero-length read moves nothing
    // the child maps a buffer of its own at the parent's address (fork copied the VMA)
    const cBuf = taskOf(c).mm!.vmas.find((v) => v.file === null && v.name === "")!.vmStart * PG;
    expect(k.fileIo(0, f, BigInt(cBuf), PG, false)).toBe(PG);
    expect(held(a, f)!.pos).toBe(3 * PG);
    expect(read(a, PG)).toBe(PG);
    expect(held(c, f)!.pos).toBe(4 * PG);
    // a new open in the child is the child's alone
    k.openFile(c, f);
    expect(held(c, f)!.pos).toBe(0);
    expect(held(a, f)!.pos).toBe(4 * PG);
  });

  it("a process that did not open the file reads at offset 0 with an implicit struct file of its own", () => {
    const { k, a, b, f, read } = boot();
    read(a, PG);
    read(a, PG);
    expect(held(a, f)!.implicit).toBe(true);
    expect(held(a, f)!.pos).toBe(0);
    expect(held(b, f)).toBeUndefined(); // B never used f
    read(b, PG);
    expect(held(b, f)).not.toBe(held(a, f));
    void k;
  });

  it("fadvise on one process's struct file does not change another's", () => {
    const { k, a, b, f, read } = boot();
    k.openFile(a, f);
    k.openFile(b, f);
    expect(k.fadvise(a, f, 0n, 0n, "random")).toBe(0n);
    expect(k.fadvise(a, f, 0n, 0n, "noreuse")).toBe(0n);
    expect([held(a, f)!.fmodeRandom, held(b, f)!.fmodeRandom, held(b, f)!.fmodeNoreuse]).toEqual([
      true,
      false,
      false,
    ]);
    read(a, PG, 100 * PG); // FMODE_RANDOM: the page alone
    expect(f.cache.size).toBe(1);
    read(b, PG); // B's read at 0 starts a window of 4
    expect(f.cache.size).toBe(5);
  });

  it("exit closes the table; a forked child keeps the struct files; close is EBADF the second time", () => {
    const { k, a, f, read } = boot();
    k.openFile(a, f);
    read(a, PG);
    const c = k.fork(a, "C")!;
    const shared = held(a, f)!;
    k.exit(a, "done");
    expect(taskOf(a).files).toBeNull();
    expect(held(c, f)).toBe(shared);
    expect(k.closeFile(c, f)).toBe(0);
    expect(k.closeFile(c, f)).toBe(-9);
    expect(held(c, f)).toBeUndefined();
  });

  it("a thread shares its process's table (CLONE_FILES)", () => {
    const { k, a, f } = boot();
    const th = k.thread(a, "A2")!;
    k.openFile(th, f);
    expect(held(a, f)).toBe(held(th, f));
    expect(taskOf(a).files).toBe(taskOf(th).files);
  });
});

describe("mmap read-around uses the VMA's struct file (vm_file)", () => {
  it("two processes' mappings keep their read-around state apart; fork's VMA shares its parent's", () => {
    const { k, a, b, f } = boot(2 << 20);
    k.switchTo(0, a);
    const va = k.mmap(a, mmapArgs(2 << 20, { file: f, prot, addr: 0x40000000, fixed: true }));
    k.switchTo(0, b);
    const vb = k.mmap(b, mmapArgs(2 << 20, { file: f, prot, addr: 0x40000000, fixed: true }));
    k.switchTo(0, a);
    expect(k.userAccess(0, a, va + 50n * BigInt(PG), Access.Read).ok).toBe(true);
    expect(held(a, f)!.ra).toMatchObject({ start: 34, size: 32, asyncSize: 8, mmapMiss: 0 });
    // B's fault on a page A's read-around brought in: a hit on B's own state (its window empty)
    k.switchTo(0, b);
    expect(k.userAccess(0, b, vb + 200n * BigInt(PG), Access.Read).ok).toBe(true);
    expect(held(b, f)!.ra).toMatchObject({ start: 184, size: 32, mmapMiss: 0 });
    expect(held(a, f)!.ra.start).toBe(34);
    const vmaOf = (t: typeof a) => taskOf(t).mm!.vmas.find((v) => v.file === f)!;
    expect(vmaOf(a).vmFile).toBe(held(a, f));
    const c = k.fork(a, "C")!;
    expect(vmaOf(c).vmFile).toBe(held(a, f));
    expect(checkInvariants(k)).toEqual([]);
  });
});

describe("filemap_read marks the folios it reads accessed (folio_mark_accessed)", () => {
  it("a file read twice is active; the first read leaves it referenced and inactive", () => {
    const { k, a, f, read } = boot(16 * PG);
    k.openFile(a, f);
    expect(read(a, 16 * PG)).toBe(16 * PG);
    k.vmscan.fbatches.drain();
    const pfns = [...f.cache.values()];
    expect(pfns.length).toBe(16);
    expect(pfns.every((p) => k.vmscan.lru[p] === Lru.InactiveFile && k.vmscan.referenced[p] === 1)).toBe(
      true,
    );
    const act0 = k.vmscan.stats.pgactivate;
    expect(read(a, 16 * PG, 0)).toBe(16 * PG);
    k.vmscan.fbatches.drain();
    expect(pfns.every((p) => k.vmscan.lru[p] === Lru.ActiveFile && k.vmscan.referenced[p] === 0)).toBe(true);
    expect(k.vmscan.stats.pgactivate - act0).toBe(16);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("reads that stay in the folio of the last read's end do not mark it again", () => {
    const { k, a, f, read } = boot(16 * PG);
    k.openFile(a, f);
    for (let i = 0; i < 40; i++) expect(read(a, 100)).toBe(100); // bytes 0..3999 of page 0
    k.vmscan.fbatches.drain();
    const p0 = f.cache.get(0)!;
    expect([k.vmscan.lru[p0], k.vmscan.referenced[p0]]).toEqual([Lru.InactiveFile, 1]);
    // the next read crosses into page 1: page 0 (the batch's first, same folio) is not marked,
    // page 1 is (the batch's second folio)
    expect(read(a, 200)).toBe(200);
    k.vmscan.fbatches.drain();
    expect([k.vmscan.lru[p0], k.vmscan.referenced[p0]]).toEqual([Lru.InactiveFile, 1]);
    expect(k.vmscan.referenced[f.cache.get(1)!]).toBe(1);
    // a pread back at page 0 is another folio than the last end's (page 1): marked, activated
    expect(read(a, 100, 0)).toBe(100);
    k.vmscan.fbatches.drain();
    expect(k.vmscan.lru[p0]).toBe(Lru.ActiveFile);
  });

  it("tmpfs: a read marks each page read from its first byte, a write each page written; an ext4 write marks nothing", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const buf = k.mmap(t, mmapArgs(1 << 20, {}));
    const s = k.createFile("s", 4 * PG, "tmpfs", false);
    const d = k.createFile("d", 4 * PG, "disk", true);
    k.vmscan.fbatches.drain();
    const v = k.vmscan;
    const sp = [0, 1, 2, 3].map((i) => s.cache.get(i)!);
    expect(sp.map((p) => v.referenced[p])).toEqual([0, 0, 0, 0]);
    // bytes 100 .. 2*PG+99: page 0 is not read from its beginning; pages 1 and 2 are
    expect(k.fileIo(0, s, buf, 2 * PG, false, 100)).toBe(2 * PG);
    expect(sp.map((p) => v.referenced[p])).toEqual([0, 1, 1, 0]);
    expect(k.fileIo(0, s, buf, 4 * PG, false, 0)).toBe(4 * PG);
    v.fbatches.drain();
    expect(sp.map((p) => v.lru[p])).toEqual([
      Lru.InactiveAnon,
      Lru.ActiveAnon,
      Lru.ActiveAnon,
      Lru.InactiveAnon,
    ]);
    // a write of 10 bytes inside page 3 marks it (shmem_get_folio(SGP_WRITE))
    expect(k.fileIo(0, s, buf, 10, true, 3 * PG + 50)).toBe(10);
    v.fbatches.drain();
    expect(v.lru[sp[3]]).toBe(Lru.ActiveAnon);
    const dp = [0, 1, 2, 3].map((i) => d.cache.get(i)!);
    expect(k.fileIo(0, d, buf, 4 * PG, true, 0)).toBe(4 * PG);
    expect(k.fileIo(0, d, buf, 4 * PG, true, 0)).toBe(4 * PG);
    v.fbatches.drain();
    expect(dp.map((p) => [v.lru[p], v.referenced[p]])).toEqual(dp.map(() => [Lru.InactiveFile, 0]));
  });
});
