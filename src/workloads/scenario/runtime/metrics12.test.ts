/**
 * The metrics of language 1.2: vm_flags(P, ADDR) (smaps VmFlags, a string),
 * swapcache(P, RANGE) (pages whose slot has a page in the swap cache) and
 * slab(CACHE).objects|slabs (/proc/slabinfo active_objs and num_slabs).
 */

import { describe, expect, it } from "vitest";
import { runScenario } from "../session.ts";
import { expectationFailures } from "../testKit.ts";

describe("language 1.2 metrics", () => {
  // sd: x86-64 has CONFIG_MEM_SOFT_DIRTY, so every VMA shows it (smaps' VmFlags, view/procfs.ts)
  it("vm_flags follows mlock and munlock as smaps' VmFlags does", () => {
    expect(
      expectationFailures(`machine ram=64M
spawn A
A: a = mmap 8p
expect vm_flags(A, a) == "rd wr mr mw me ac sd"
A: mlock a 4p
expect vm_flags(A, a) == "rd wr mr mw me lo ac sd"
expect vm_flags(A, a+4p) == "rd wr mr mw me ac sd"
# mprotect_fixup: made read-only, an anonymous VMA without an anon_vma gives its charge back
# (VM_ACCOUNT cleared), as on the host with a VMA that merged with none
A: mprotect a+4p 4p prot=r
expect vm_flags(A, a+4p) == "rd mr mw me sd"
`),
    ).toEqual([]);
  });

  it("swapcache counts mapped swap-cache pages and swap entries whose slot is cached", () => {
    expect(
      expectationFailures(`machine ram=64M swap=16M
spawn A
A: b = mmap 8p
A: write b 8p
A: madvise b 8p pageout
expect swapcache(A, b 8p) == 0
A: fork B
A: read b 4p
# A's 4 pages stay in the swap cache while B's swap entries name their slots; swap readahead
# brought page 4's in too (the VMA's first window: 8 pages from 3 before the fault at page 0, cut
# at the VMA's start)
expect present(A, b 8p) == 4
expect swapcache(A, b 8p) == 5
expect swapcache(B, b 8p) == 5
expect swapcache(A, b 4p) == 4
`),
    ).toEqual([]);
  });

  it("slab(CACHE).objects counts a kmalloc, .slabs the slabs; an unknown cache is an error at its line", () => {
    expect(
      expectationFailures(`machine ram=64M
let o = slab(kmalloc-64).objects
kernel: k = kmalloc 64
expect slab(kmalloc-64).objects == o + 1
kernel: kfree k
expect slab(kmalloc-64).objects == o
expect slab(kmalloc-64).slabs >= 1
`),
    ).toEqual([]);
    expect(() => runScenario("machine ram=64M\nexpect slab(nonesuch).slabs == 0\n")).toThrow(
      /no slab cache 'nonesuch'/,
    );
  });
});
