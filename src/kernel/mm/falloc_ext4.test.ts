/**
 * fallocate(2) of a disk file (ext4_fallocate, mm/falloc_ext4.ts): the
 * file's bytes after random sequences of COLLAPSE_RANGE, INSERT_RANGE,
 * ZERO_RANGE, PUNCH_HOLE, ftruncate and writes through a shared mapping
 * (some written back by msync, some dirty, most never read: the
 * deterministic contents, moved through FileObject's page map) against a
 * plain byte array that applies the same operations; the errors of each
 * mode; mappings zapped, private COW copies included, by a collapse.
 * test/differential/fallocateExt4.test.ts compares the same modes with the host's ext4.
 * Linux: fs/ext4/extents.c ext4_fallocate, ext4_collapse_range, ext4_insert_range, ext4_zero_range
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { checkedMetrics } from "../../workloads/scenario/testKit.ts";
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  mmapArgs,
} from "../Kernel.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";

const P = 4096;

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe("a disk file after random fallocate modes, truncates and writes (ext4_fallocate)", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: every byte as a byte array that did the same says`, () => {
      const r = rng(seed);
      const pick = (n: number) => Math.floor(r() * n);
      const k = new Kernel({ ramBytes: 128 << 20, cpus: 1 });
      const t = k.spawn("t")!;
      k.switchTo(0, t);
      const pages = 24;
      const f = k.createFile("data", pages * P, "disk", false);
      // the reference: the file's bytes as vmlab's contents start
      let ref: number[] = [];
      for (let o = 0; o < pages * P; o++) ref.push(k.view.fileByte("data", BigInt(o)));
      const window = 64 * P;
      const m = k.mmap(t, { ...mmapArgs(window, { shared: true }), file: f });
      for (let op = 0; op < 30; op++) {
        const size = ref.length;
        const kind = pick(6);
        if (kind === 0 && size > 2 * P) {
          const at = pick(size / P - 1) * P;
          const len = (1 + pick(Math.max(1, (size - at) / P - 1))) * P;
          const ret = k.fallocate(t, f, FALLOC_FL_COLLAPSE_RANGE, BigInt(at), BigInt(len));
          if (at + len >= size) expect(ret).toBe(-22n);
          else {
            expect(ret).toBe(0n);
            ref.splice(at, len);
          }
        } else if (kind === 1 && size > 0 && size + 4 * P <= window) {
          const at = pick(Math.ceil(size / P)) * P;
          const len = (1 + pick(4)) * P;
          const ret = k.fallocate(t, f, FALLOC_FL_INSERT_RANGE, BigInt(at), BigInt(len));
          if (at >= size) expect(ret).toBe(-22n);
          else {
            expect(ret).toBe(0n);
            ref.splice(at, 0, ...new Array<number>(len).fill(0));
          }
        } else if (kind === 2) {
          const at = pick(size + P);
          const len = 1 + pick(3 * P);
          const keep = r() < 0.5;
          if (!keep && at + len > window) continue;
          const mode = FALLOC_FL_ZERO_RANGE | (keep ? FALLOC_FL_KEEP_SIZE : 0);
          expect(k.fallocate(t, f, mode, BigInt(at), BigInt(len))).toBe(0n);
          for (let o = at; o < Math.min(at + len, size); o++) ref[o] = 0;
          if (!keep) while (ref.length < at + len) ref.push(0);
        } else if (kind === 3 && size > 0) {
          const at = pick(size);
          const len = 1 + pick(3 * P);
          const mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
          expect(k.fallocate(t, f, mode, BigInt(at), BigInt(len))).toBe(0n);
          for (let o = at; o < Math.min(at + len, size); o++) ref[o] = 0;
        } else if (kind === 4) {
          const n = pick(Math.min(window, size + 3 * P));
          expect(k.ftruncate(t, f, BigInt(n))).toBe(0n);
          if (n < size) ref = ref.slice(0, n);
          else while (ref.length < n) ref.push(0);
        } else if (size > 0) {
          // a write through the shared mapping, written back by msync half the time
          const o = pick(size);
          const v = 1 + pick(255);
          expect(k.userAccess(0, t, m + BigInt(o), Access.Write, v).ok).toBe(true);
          ref[o] = v;
          if (r() < 0.5) expect(k.msync(t, m, BigInt(window))).toBe(0n);
        }
        expect(k.fstat(t, f).size, `size after op ${op}`).toBe(ref.length);
      }
      const bad: string[] = [];
      for (let o = 0; o < ref.length && bad.length < 5; o++) {
        const got = k.view.fileByte("data", BigInt(o));
        if (got !== ref[o]) bad.push(`byte ${o}: ${got}, expected ${ref[o]}`);
      }
      expect(bad).toEqual([]);
      expect(checkInvariants(k)).toEqual([]);
    });
  }
});

describe("COLLAPSE_RANGE and INSERT_RANGE of a mapped disk file", () => {
  it("drop the page cache from the offset on, with every mapping of it, private COW copies too; the errors", () => {
    const v = checkedMetrics(`machine ram=64M swap=0
file d size=64K cached
spawn A
A: m = mmap 64K shared file=d
A: p = mmap 64K private file=d
A: read m 64K
A: write p+10p 1 value=0x77
A: write m+8p 1 value=0x55
let b5 = file_byte(d, 0x5000)
let last = file_byte(d, 0xffff)
let rss0 = rss(A, m 64K)
A: c = fallocate d 4K 16K collapse_range
let rss1 = rss(A, m 64K)
let rssp = rss(A, p 64K)
let n = cached(d)
let b1 = file_byte(d, 0x1000)
let b4 = file_byte(d, 0x4000)
A: e1 = fallocate d 4K 100 collapse_range
A: e2 = fallocate d 0 48K collapse_range
A: e3 = fallocate d 4K 4K collapse_range keep_size
A: e4 = fallocate d 48K 4K insert_range
A: e5 = fallocate d 4K 2K insert_range
A: e6 = fallocate d 0 4K unshare_range
A: e7 = fallocate d 0 4K punch_hole zero_range keep_size
A: i = fallocate d 4K 8K insert_range
let h = file_byte(d, 0x1000)
let b3 = file_byte(d, 0x3000)
let tail = file_byte(d, 0xdfff)
A: ftruncate d 0x10000
let past = file_byte(d, 0xe000)
`);
    expect(v("rss0")).toBe(16);
    expect(v("c")).toBe(0);
    expect([v("rss1"), v("rssp"), v("n")]).toEqual([1, 0, 1]);
    expect(v("b1")).toBe(v("b5"));
    expect(v("b4"), "the dirty page, written back before the move").toBe(0x55);
    expect([v("e1"), v("e2"), v("e3"), v("e4"), v("e5"), v("e6"), v("e7")]).toEqual([
      -22, -22, -95, -22, -22, -95, -95,
    ]);
    expect(v("i")).toBe(0);
    expect([v("h"), v("b3")]).toEqual([0, v("b5")]);
    expect(v("tail"), "the last byte, moved down 16K and up 8K").toBe(v("last"));
    expect(v("past"), "grown again: zeros past the size the moves left").toBe(0);
  });
});

describe("ext4's partial blocks go through the page cache (ext4_zero_partial_blocks, ext4_block_truncate_page)", () => {
  /** A 16-page disk file, written back, pages 0-7 mapped shared and read. */
  function setup() {
    const k = new Kernel({ ramBytes: 128 << 20, cpus: 1 });
    const t = k.spawn("t")!;
    k.switchTo(0, t);
    const f = k.createFile("d", 16 * P, "disk", false);
    const q = k.mmap(t, { ...mmapArgs(16 * P, { shared: true }), file: f });
    for (let i = 0; i < 16; i++)
      expect(k.userAccess(0, t, q + BigInt(i * P), Access.Write, i + 1).ok).toBe(true);
    expect(k.msync(t, q, BigInt(16 * P))).toBe(0n);
    expect(k.fadvise(t, f, 0n, 0n, "dontneed")).toBe(0n); // q holds them all: nothing goes
    const info = () => k.view.file("d")!;
    const rss = () => k.view.smaps(t).find((x) => x.vma.start === q)!.rss / P;
    return { k, t, f, q, info, rss };
  }

  it("PUNCH_HOLE: the partial pages zeroed and dirty, the whole one dropped; an uncached one read in", () => {
    const { k, t, f, q, info, rss } = setup();
    const before = [info().cached, info().dirty, rss()];
    expect(before).toEqual([16, 0, 16]);
    const b1 = k.view.fileByte("d", BigInt(P + 99));
    expect(
      k.fallocate(t, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BigInt(P + 100), BigInt(2 * P)),
    ).toBe(0n);
    expect([info().cached, info().dirty, rss()], "page 2 dropped, pages 1 and 3 dirty").toEqual([15, 2, 15]);
    expect(k.view.fileByte("d", BigInt(P + 99))).toBe(b1);
    expect(k.view.fileByte("d", BigInt(P + 100))).toBe(0);
    expect(k.view.fileByte("d", BigInt(3 * P + 99))).toBe(0);
    expect(k.view.fileByte("d", BigInt(3 * P + 100))).not.toBe(0);
    // the page dirty in the cache reads through the mapping as zeros, and is written back by msync
    const r = k.userAccess(0, t, q + BigInt(P + 100), Access.Read);
    expect(r.ok ? r.value : -1).toBe(0);
    const written = info().pagesWritten;
    expect(k.msync(t, q, BigInt(16 * P))).toBe(0n);
    expect([info().dirty, info().pagesWritten - written]).toEqual([0, 2]);
    // page 12 unmapped and dropped, then a punch within it: read in, zeroed, dirty
    expect(k.munmap(t, q + BigInt(8 * P), BigInt(8 * P))).toBe(0n);
    expect(k.fadvise(t, f, BigInt(8 * P), BigInt(8 * P), "dontneed")).toBe(0n);
    expect(info().cached).toBe(7);
    const read = info().pagesRead;
    const [b9, b10, b30] = [9, 10, 30].map((o) => k.view.fileByte("d", BigInt(12 * P + o)));
    expect(b10).not.toBe(0);
    expect(k.fallocate(t, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BigInt(12 * P + 10), 20n)).toBe(0n);
    expect([info().cached, info().dirty, info().pagesRead - read]).toEqual([8, 1, 1]);
    expect(k.view.fileByte("d", BigInt(12 * P + 9))).toBe(b9);
    expect(k.view.fileByte("d", BigInt(12 * P + 10))).toBe(0);
    expect(k.view.fileByte("d", BigInt(12 * P + 30))).toBe(b30);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("ZERO_RANGE: the partial ends dirty, without KEEP_SIZE the new last page too", () => {
    const { k, t, f, info } = setup();
    expect(k.fallocate(t, f, FALLOC_FL_ZERO_RANGE, BigInt(2 * P + 1), BigInt(P))).toBe(0n);
    expect([info().cached, info().dirty]).toEqual([16, 2]);
    expect(k.fallocate(t, f, FALLOC_FL_ZERO_RANGE, BigInt(16 * P - 1), BigInt(P))).toBe(0n);
    expect(k.fstat(t, f).size).toBe(17 * P - 1);
    expect([info().cached, info().dirty], "page 15 and the new page 16").toEqual([17, 4]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("PUNCH_HOLE past i_size ends at the end of i_size's page: that page leaves the cache and its mappings", () => {
    const { k, t, f, q, info, rss } = setup();
    expect(k.ftruncate(t, f, BigInt(10 * P + 1000))).toBe(0n);
    expect([info().dirty, rss()], "ext4_block_truncate_page dirties page 10").toEqual([1, 11]);
    expect(k.msync(t, q, BigInt(16 * P))).toBe(0n);
    // a byte past i_size, in the page that holds it, written through the mapping
    expect(k.userAccess(0, t, q + BigInt(10 * P + 2000), Access.Write, 0x66).ok).toBe(true);
    const written = info().pagesWritten;
    expect(
      k.fallocate(t, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BigInt(9 * P + 500), 1n << 20n),
    ).toBe(0n);
    expect(info().pagesWritten - written, "the dirty page 10 written back first").toBe(1);
    expect([info().cached, info().dirty, rss()], "page 10 gone, page 9 dirty").toEqual([10, 1, 10]);
    expect(k.fstat(t, f).size).toBe(10 * P + 1000);
    const r = k.userAccess(0, t, q + BigInt(10 * P + 2000), Access.Read);
    expect(r.ok ? r.value : -1, "read back from the hole").toBe(0);
    expect(k.view.fileByte("d", BigInt(10 * P + 999))).toBe(0);
    // i_size page-aligned: the hole reaches a page past it, and page 9 is whole
    expect(k.ftruncate(t, f, BigInt(10 * P))).toBe(0n);
    expect(k.fallocate(t, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BigInt(9 * P), 1n << 20n)).toBe(0n);
    expect(info().cached).toBe(9);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("ftruncate to the same unaligned size dirties the page holding it (ext4_truncate)", () => {
    const { k, t, f, info } = setup();
    const b6 = k.view.fileByte("d", BigInt(5 * P + 6));
    expect(k.ftruncate(t, f, BigInt(5 * P + 7))).toBe(0n);
    expect(info().dirty).toBe(1);
    const q2 = k.mmap(t, { ...mmapArgs(6 * P, { shared: true }), file: f });
    expect(k.msync(t, q2, BigInt(6 * P))).toBe(0n);
    expect(info().dirty).toBe(0);
    expect(k.ftruncate(t, f, BigInt(5 * P + 7))).toBe(0n);
    expect(info().dirty).toBe(1);
    expect(k.ftruncate(t, f, BigInt(8 * P))).toBe(0n);
    expect(k.view.fileByte("d", BigInt(5 * P + 7))).toBe(0);
    expect(k.view.fileByte("d", BigInt(5 * P + 6))).toBe(b6);
  });
});
