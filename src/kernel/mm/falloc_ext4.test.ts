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
