/**
 * mincore(2) as mm/mincore.c answers it, case by case: a present PTE, a
 * page cache page nobody maps, a hole, a swap entry (the swap cache's
 * answer), a huge PMD (anonymous THP, a PMD-mapped file folio), a guard
 * marker, PROT_NONE, shared anonymous memory another process touched, a
 * VM_PFNMAP device mapping, and the errors.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "./userMm.ts";

describe("mincore", () => {
  it("anonymous memory: touched pages 1, holes 0; a page swapped out 0 until the swap cache holds it again", () => {
    expect(
      expectationFailures(`machine ram=64M swap=16M
spawn A
A: m = mmap 64K
A: write m 32K
expect incore(A, m 64K) == 8
A: madvise m 8K pageout
expect swapped(A, m 64K) == 2
expect swapcache(A, m 64K) == 0
expect incore(A, m 64K) == 6
A: madvise m 4K willneed
expect swapcache(A, m 64K) == 1
expect incore(A, m 64K) == 7
A: read m+4K
expect incore(A, m 64K) == 8
`),
    ).toEqual([]);
  });

  it("a file mapping: cached pages count whether mapped or not; PROT_NONE and guard markers", () => {
    expect(
      expectationFailures(`machine ram=64M
file f size=256K cached
file g size=256K
spawn A
A: a = mmap 256K prot=r file=f
expect present(A, a 256K) == 0
expect incore(A, a 256K) == 64
A: b = mmap 256K prot=r file=g
expect incore(A, b 256K) == 0
A: read b+100K
expect cached(g) == 32
expect incore(A, b 256K) == 32
# a guard marker is pte_none_mostly: the page cache answers for a file page
A: madvise a 8K guard_install
expect guard(A, a 8K) == 2
expect incore(A, a 8K) == 2
A: c = mmap 16K
A: write c 16K
A: madvise c 4K guard_install
expect incore(A, c 16K) == 3
# PROT_NONE: the PTE maps the page, not accessible: resident
A: mprotect c+4K 4K prot=none
expect incore(A, c 16K) == 3
`),
    ).toEqual([]);
  });

  it("huge PMDs: an anonymous THP and a PMD-mapped 2M file folio are resident whole", () => {
    expect(
      expectationFailures(`machine ram=128M thp=always
file f size=2M cached folio=2M
spawn A
A: a = mmap 4M at=0x40000000
A: write a
expect anon_huge(A, a 4M) == 512
expect incore(A, a 4M) == 512
A: b = mmap 2M prot=r file=f at=0x40400000
A: read b
expect incore(A, b 2M) == 512
`),
    ).toEqual([]);
  });

  it("shared anonymous memory: a page another process faulted in is resident here too (shmem's page cache)", () => {
    expect(
      expectationFailures(`machine ram=64M
spawn A
A: s = mmap 64K shared
A: fork B
B: write s+8K
expect present(A, s 64K) == 0
expect incore(A, s 64K) == 1
`),
    ).toEqual([]);
  });

  it("a tmpfs page in swap: 0, then 1 once MADV_WILLNEED read it into the swap cache, still unmapped", () => {
    expect(
      expectationFailures(`machine ram=64M swap=16M
file t size=64K fs=tmpfs
spawn A
A: a = mmap 64K shared file=t
A: read a 64K
expect incore(A, a 64K) == 16
A: madvise a 8K pageout
expect incore(A, a 64K) == 14
A: madvise a 4K willneed
expect incore(A, a 64K) == 15
expect present(A, a 64K) == 14
`),
    ).toEqual([]);
  });

  it("returns EINVAL for an unaligned address, ENOMEM past the address space or at a hole (the vector filled up to it), 0 for length 0", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const m = k.mmap(t, mmapArgs(8 * 4096, { addr: 0x40000000, fixed: true }));
    k.userAccess(0, t, m, Access.Write, 1);
    k.userAccess(0, t, m + 2n * 4096n, Access.Write, 1);
    expect(k.mincore(t, m + 8n, 4096n).ret).toBe(-22n);
    expect(k.mincore(t, m, 0n)).toEqual({ ret: 0n, vec: new Uint8Array(0) });
    expect(k.mincore(t, 0x7ffffffff000n, 1n << 40n).ret).toBe(-12n);
    const r = k.mincore(t, m, 12n * 4096n);
    expect(r.ret).toBe(-12n);
    expect(Array.from(r.vec.subarray(0, 8))).toEqual([1, 0, 1, 0, 0, 0, 0, 0]);
    // a length not a multiple of the page: the last partial page is asked about too
    expect(Array.from(k.mincore(t, m, 4097n).vec)).toEqual([1, 0]);
  });

  it("a VM_PFNMAP device mapping is 0 though its PTEs are present (walk_page_test reports it as a hole)", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    k.registerDevice("fb", 8192);
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const u = k.mmap(t, mmapArgs(8192, { device: k.devices.get("fb")!, shared: true }));
    expect(k.userAccess(0, t, u, Access.Read).ok).toBe(true);
    expect(k.mincore(t, u, 8192n)).toEqual({ ret: 0n, vec: new Uint8Array([0, 0]) });
  });
});
