/**
 * shmem_recalc_inode's uncharge of tmpfs / memfd pages reclaim dropped
 * clean: a page a read fault allocated (zeros, never written) leaves the
 * page cache without going to swap (shrink_folio_list -> __remove_mapping),
 * so nrpages falls and info->alloced does not; its Committed_AS charge
 * (shmem_acct_blocks, the inode being VM_NORESERVE) stays until the inode's
 * next shmem_recalc_inode: fstat (shmem_getattr), a new page of the inode,
 * truncation, eviction. A shared anonymous mapping is charged by size
 * (shmem_acct_size) and is not touched.
 * Linux: mm/shmem.c shmem_recalc_inode, shmem_getattr, shmem_alloc_and_add_folio, shmem_undo_range
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { fileOf } from "../fs/file.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { mmapArgs } from "./userMm.ts";

const M = 1 << 20;
const PAGES = 4 * 256; // 4 MiB

function setup() {
  const k = new Kernel({ ramBytes: 128 * M, cpus: 1 });
  const t = k.spawn("p")!;
  k.switchTo(0, t);
  const committed = () => k.view.meminfo().Committed_AS / 4096;
  const shmem = () => k.view.meminfo().Shmem / 4096;
  /** a memfd of `pages` read-faulted through a shared mapping: every page clean */
  const readFaulted = (pages: number) => {
    const fd = k.memfdCreate(t, "m", 0).file!;
    expect(k.ftruncate(t, fd, BigInt(pages * 4096))).toBe(0n);
    const p = k.mmap(t, mmapArgs(pages * 4096, { shared: true, file: fileOf(fd) }));
    for (let i = 0; i < pages; i++)
      expect(k.userAccess(0, t, p + BigInt(i * 4096), Access.Read, 1).ok).toBe(true);
    return { fd, p };
  };
  return { k, t, committed, shmem, readFaulted };
}

describe("shmem_recalc_inode: clean tmpfs pages reclaim dropped", () => {
  it("MADV_PAGEOUT drops the clean pages without uncharging them; fstat's shmem_getattr gives the charge back", () => {
    const { k, t, committed, shmem, readFaulted } = setup();
    const c0 = committed();
    const { fd, p } = readFaulted(PAGES);
    expect(committed() - c0).toBe(PAGES);
    const s1 = shmem();
    expect(k.madvise(t, p, BigInt(PAGES * 4096), "pageout")).toBe(0n);
    expect(k.takePageoutCount()).toBe(PAGES);
    expect(s1 - shmem()).toBe(PAGES); // dropped (no swap: never written, nothing to write)
    expect(committed() - c0).toBe(PAGES); // still charged: nrpages fell, alloced did not
    expect(k.munmap(t, p, BigInt(PAGES * 4096))).toBe(0n);
    expect(committed() - c0).toBe(PAGES);
    const st = k.fstat(t, fd);
    expect(st.size).toBe(PAGES * 4096);
    expect(st.blocks).toBe(0);
    expect(committed()).toBe(c0);
    expect(k.fstat(t, fd).blocks).toBe(0); // a second recalc finds nothing more
    expect(committed()).toBe(c0);
    expect(k.closeFile(t, fd)).toBe(0);
    expect(committed()).toBe(c0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a new page of the inode recalcs too; eviction gives back what no recalc did", () => {
    const { k, t, committed, readFaulted } = setup();
    const c0 = committed();
    const { fd, p } = readFaulted(PAGES);
    expect(k.madvise(t, p, BigInt(PAGES / 2) * 4096n, "pageout")).toBe(0n);
    expect(committed() - c0).toBe(PAGES);
    // a fault on a dropped page: shmem_alloc_and_add_folio charges it and recalcs
    expect(k.userAccess(0, t, p, Access.Read, 1).ok).toBe(true);
    expect(committed() - c0).toBe(PAGES / 2 + 1);
    expect(k.fstat(t, fd).blocks).toBe((PAGES / 2 + 1) * 8);
    // dropped again, then the memfd's last references go: shmem_evict_inode's undo_range
    expect(k.madvise(t, p, 4096n, "pageout")).toBe(0n);
    expect(committed() - c0).toBe(PAGES / 2 + 1);
    expect(k.munmap(t, p, BigInt(PAGES * 4096))).toBe(0n);
    expect(k.closeFile(t, fd)).toBe(0);
    expect(committed()).toBe(c0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("ftruncate (shmem_undo_range) gives back the dropped pages' charges with its own", () => {
    const { k, t, committed, readFaulted } = setup();
    const c0 = committed();
    const { fd, p } = readFaulted(PAGES);
    expect(k.madvise(t, p, BigInt(PAGES * 4096), "pageout")).toBe(0n);
    expect(k.munmap(t, p, BigInt(PAGES * 4096))).toBe(0n);
    expect(committed() - c0).toBe(PAGES);
    expect(k.ftruncate(t, fd, BigInt(PAGES * 2 * 4096))).toBe(0n); // growing: no shmem_truncate_range
    expect(committed() - c0).toBe(PAGES);
    expect(k.ftruncate(t, fd, 4096n)).toBe(0n);
    expect(committed()).toBe(c0);
    expect(k.closeFile(t, fd)).toBe(0);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a shared anonymous mapping is charged by size: a dropped clean page changes nothing", () => {
    const { k, t, committed } = setup();
    const c0 = committed();
    const p = k.mmap(t, mmapArgs(PAGES * 4096, { shared: true }));
    expect(committed() - c0).toBe(PAGES);
    for (let i = 0; i < PAGES; i++)
      expect(k.userAccess(0, t, p + BigInt(i * 4096), Access.Read, 1).ok).toBe(true);
    expect(k.madvise(t, p, BigInt(PAGES * 4096), "pageout")).toBe(0n);
    expect(committed() - c0).toBe(PAGES);
    expect(k.munmap(t, p, BigInt(PAGES * 4096))).toBe(0n);
    expect(committed()).toBe(c0);
    expect(checkInvariants(k)).toEqual([]);
  });
});
