/**
 * ftruncate as Linux does it (mm/truncate.c truncate_pagecache,
 * mm/memory.c unmap_mapping_range with even_cows): the mappings past the
 * new end are zapped, private COW copies included; the cached pages there
 * are dropped; the tail of the last page is zeroed; accesses past the end
 * are SIGBUS; growing the file again gives zeros, not the old contents.
 */

import { describe, expect, it } from "vitest";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";

describe("ftruncate", () => {
  it("unmaps and drops the pages past the new end; accesses there are SIGBUS; regrowth reads zeros", () => {
    expect(
      expectationFailures(`machine ram=64M
file f size=16K cached
spawn A
A: catch SIGBUS
A: m = mmap 16K shared file=f
A: p = mmap 16K private file=f
A: read m 16K
A: write p+12K value=5
expect rss(A, m 16K) == 4
expect anon(A, p 16K) == 1
let b = byte(A, m+4999)
A: r = ftruncate f 5000
expect r == 0
expect cached(f) == 2
expect present(A, m 16K) == 2
expect present(A, p 16K) == 0
expect byte(A, m+4999) == b
expect byte(A, m+5000) == 0
expect file_byte(f, 4999) == b
expect file_byte(f, 5000) == -1
A: read m+8K
expect A.signal == SIGBUS
A: read p+12K
expect A.signal == SIGBUS
A: r2 = ftruncate f 16K
A: read m+12K
expect byte(A, m+12K) == 0
expect file_byte(f, 8K) == 0
`),
    ).toEqual([]);
  });

  it("a written-back page keeps the bytes before the end and loses those after it", () => {
    expect(
      expectationFailures(`machine ram=64M
file f size=8K
spawn A
A: m = mmap 8K shared file=f
A: write m+99 value=9
A: write m+100 value=7
A: write m+4K value=7
A: msync m 8K
expect file_byte(f, 100) == 7
A: ftruncate f 100
A: ftruncate f 8K
expect file_byte(f, 99) == 9
expect file_byte(f, 100) == 0
expect file_byte(f, 4K) == 0
expect byte(A, m+99) == 9
expect byte(A, m+100) == 0
`),
    ).toEqual([]);
  });

  it("a tmpfs file cut short and grown again gives a zeroed page on a minor fault", () => {
    expect(
      expectationFailures(`machine ram=64M
file t size=16K fs=tmpfs
spawn A
A: catch SIGBUS
A: m = mmap 16K shared file=t
A: write m+12K value=3
A: ftruncate t 8K
expect cached(t) == 2
A: read m+12K
expect A.signal == SIGBUS
A: ftruncate t 16K
let mi = A.min_flt
let ma = A.maj_flt
A: read m+12K
expect A.min_flt == mi + 1
expect A.maj_flt == ma
expect byte(A, m+12K) == 0
`),
    ).toEqual([]);
  });

  it("refuses a negative length (EINVAL) and one past vmlab's 1 TiB files (EFBIG)", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    const f = k.createFile("f", 4096);
    const t = k.spawn("A")!;
    expect(k.ftruncate(t, f, -1n)).toBe(-22n);
    expect(k.ftruncate(t, f, (1n << 40n) + 1n)).toBe(-27n);
    expect(f.sizeBytes).toBe(4096);
    expect(k.ftruncate(t, f, 100n)).toBe(0n);
    expect(f.sizeBytes).toBe(100);
  });
});
