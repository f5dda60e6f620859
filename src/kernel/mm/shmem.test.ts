/**
 * Shared anonymous memory gets fault-around as a file mapping does
 * (mm/memory.c do_fault_around; mm/shmem.c shmem_anon_vm_ops.map_pages is
 * filemap_map_pages): a read fault maps every page the shmem object already
 * has in the aligned fault_around window, and allocates none.
 */

import { describe, expect, it } from "vitest";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";

describe("shmem fault-around", () => {
  it("a forked child's reads of populated shared memory fault once per 16 pages", () => {
    expect(
      expectationFailures(`machine ram=64M
spawn A
A: s = mmap 64p shared at=0x50000000
A: write s 64p
A: fork B
B: read s 64p
expect B.min_flt == 4
expect present(B, s 64p) == 64
expect rss(B, s 64p) == 64
`),
    ).toEqual([]);
  });

  it("maps only the pages the object has, never allocates; fault_around=4K turns it off", () => {
    expect(
      expectationFailures(`machine ram=64M
spawn A
A: s = mmap 32p shared at=0x50000000
A: write s+2p 3p
A: fork B
B: read s+3p
expect B.min_flt == 1
expect present(B, s 32p) == 3
let used = meminfo.Shmem
B: read s+20p
expect present(B, s 32p) == 4
expect meminfo.Shmem == used + 4K
`),
    ).toEqual([]);
    expect(
      expectationFailures(`machine ram=64M fault_around=4K
spawn A
A: s = mmap 16p shared at=0x50000000
A: write s 16p
A: fork B
B: read s 16p
expect B.min_flt == 16
`),
    ).toEqual([]);
  });
});
