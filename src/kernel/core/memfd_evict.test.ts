/**
 * A memfd's inode freed with its last reference (iput -> evict ->
 * shmem_evict_inode): a struct file in a file table or a VMA's vm_file
 * keeps it; close(2), munmap and exit drop them. Shmem, Committed_AS, the
 * free frames, swap and the pool of a MFD_HUGETLB memfd come back then,
 * not before.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Task } from "../core/task.ts";
import { type FileHandle, fileOf } from "../fs/file.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { PageKind } from "../mm/PageDesc.ts";
import { mmapArgs } from "../mm/userMm.ts";
import { checkInvariants } from "../view/invariants.ts";
import { MFD_HUGETLB } from "./memfd.ts";

const M = 16 << 20;

function boot(swapBytes = 0) {
  const k = new Kernel({ ramBytes: 256 << 20, swapBytes });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  return { k, t };
}

/** memfd_create, ftruncate to 16M, a shared mapping written page by page */
function filled(k: Kernel, t: Task, name: string): { f: FileHandle; a: bigint } {
  const f = k.memfdCreate(t, name, 0).file!;
  expect(k.ftruncate(t, f, BigInt(M))).toBe(0n);
  const a = k.mmap(t, mmapArgs(M, { shared: true, file: fileOf(f) }));
  expect(a).toBeGreaterThan(0n);
  for (let off = 0n; off < BigInt(M); off += 4096n)
    expect(k.userAccess(0, t, a + off, Access.Write, 7).ok).toBe(true);
  return { f, a };
}

const shmem = (k: Kernel) => k.view.meminfo().Shmem;
const committed = (k: Kernel) => k.view.meminfo().Committed_AS;
/** the frames the page cache holds (MemFree does not show them back at once: the per-CPU lists keep them) */
const cached = (k: Kernel) => k.pages.countByKind()[PageKind.PageCache];

describe("memfd eviction at the last reference", () => {
  it("close with a mapping left frees nothing; the munmap after frees the pages and their Committed_AS charge", () => {
    const { k, t } = boot();
    const s0 = shmem(k);
    const c0 = committed(k);
    const { f, a } = filled(k, t, "m");
    expect(shmem(k) - s0).toBe(M);
    expect(committed(k) - c0).toBe(M); // shmem_acct_blocks: each page as it joined
    expect(k.closeFile(t, f)).toBe(0);
    expect(shmem(k) - s0).toBe(M);
    expect(committed(k) - c0).toBe(M);
    const held = cached(k);
    expect(k.munmap(t, a, BigInt(M))).toBe(0n);
    expect(held - cached(k)).toBe(M / 4096); // the 4096 frames freed
    expect(shmem(k)).toBe(s0);
    expect(committed(k)).toBe(c0);
    expect(checkInvariants(k)).toEqual([]);
    expect(() => k.ftruncate(t, f, 0n)).toThrow(/last reference/);
  });

  it("munmap with the fd still open frees nothing; close after frees", () => {
    const { k, t } = boot();
    const s0 = shmem(k);
    const { f, a } = filled(k, t, "m");
    expect(k.munmap(t, a, BigInt(M))).toBe(0n);
    expect(shmem(k) - s0).toBe(M);
    expect(k.closeFile(t, f)).toBe(0);
    expect(shmem(k)).toBe(s0);
    expect(k.closeFile(t, f)).toBe(-9); // EBADF: gone from the table
  });

  it("fork's copy of the file table keeps it past the parent's exit; the child's exit frees it", () => {
    const { k, t } = boot();
    const s0 = shmem(k);
    const c0 = committed(k);
    const { f, a } = filled(k, t, "m");
    expect(k.munmap(t, a, BigInt(M))).toBe(0n);
    const child = k.fork(t, "B")!;
    k.exit(t, "done");
    expect(shmem(k) - s0).toBe(M);
    k.switchTo(0, child);
    expect(k.fileIo(0, f, 0n, 0, false, 0)).toBe(0); // still usable by the child
    k.exit(child, "done");
    expect(shmem(k)).toBe(s0);
    expect(committed(k)).toBeLessThanOrEqual(c0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("pages in swap: the swap entries are freed with the inode (shmem_free_swap) and uncharged", () => {
    const { k, t } = boot(64 << 20);
    const c0 = committed(k);
    const { f, a } = filled(k, t, "m");
    expect(k.madvise(t, a, BigInt(M), "pageout")).toBe(0n);
    const m = k.view.meminfo();
    expect(m.SwapTotal - m.SwapFree).toBeGreaterThan(0);
    expect(k.closeFile(t, f)).toBe(0);
    expect(k.munmap(t, a, BigInt(M))).toBe(0n);
    const after = k.view.meminfo();
    expect(after.SwapFree).toBe(after.SwapTotal);
    expect(committed(k)).toBe(c0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a MFD_HUGETLB memfd: its folios go back to the pool at the last reference", () => {
    const { k, t } = boot();
    expect(k.sysctlHugepages(4, null)).toBe(4); // nr_hugepages read back
    const f = k.memfdCreate(t, "h", MFD_HUGETLB).file!;
    expect(k.ftruncate(t, f, 4n << 20n)).toBe(0n);
    const a = k.mmap(t, mmapArgs(4 << 20, { shared: true, file: fileOf(f) }));
    expect(k.userAccess(0, t, a, Access.Write, 1).ok).toBe(true);
    expect(k.view.meminfo().HugePages_Free).toBe(3);
    expect(k.munmap(t, a, 4n << 20n)).toBe(0n);
    expect(k.view.meminfo().HugePages_Free).toBe(3); // the file still holds its folio
    expect(k.closeFile(t, f)).toBe(0);
    const m = k.view.meminfo();
    expect([m.HugePages_Free, m.HugePages_Rsvd]).toEqual([4, 0]);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a named tmpfs file is never evicted", () => {
    const { k, t } = boot();
    const f = k.createFile("shm", M, "tmpfs", true);
    const s = shmem(k);
    k.openFile(t, f);
    expect(k.closeFile(t, f)).toBe(0);
    k.exit(t, "done");
    expect(shmem(k)).toBe(s);
  });
});
