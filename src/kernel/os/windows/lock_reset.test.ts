/**
 * VirtualLock / VirtualUnlock (lock.ts), VirtualAlloc MEM_RESET and
 * MEM_RESET_UNDO (reset.ts), MEM_WRITE_WATCH with GetWriteWatch and
 * ResetWriteWatch (writewatch.ts). Figures derived by hand from the rules
 * in those files' headers (the WRK's lockvm.c, allocvm.c, wrtwatch.c and
 * the Win32 pages).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import type { KernelImpl } from "../../KernelImpl.ts";
import { on, twoProcs } from "../../windows.testkit.ts";
import { PageProt } from "./mmpte.ts";
import { MemState } from "./virtual.ts";
import { QuotaLimits } from "./workingset.ts";

const P = 4096n;
const RW = PageProt.READWRITE;
const read = (k: KernelImpl, t: Task, va: bigint) => {
  on(k, t);
  const r = k.userAccess(0, t, va, Access.Read);
  return r.ok ? r.value : -1;
};
const write = (k: KernelImpl, t: Task, va: bigint, v: number) => {
  on(k, t);
  return k.userAccess(0, t, va, Access.Write, v).ok;
};
const info = (k: KernelImpl, t: Task) => k.view.windows()!.process(t)!;
const paging = (k: KernelImpl) => k.view.windows()!.paging();
const valid = (k: KernelImpl, t: Task, va: bigint) => k.view.page(t, Number(va / P)).present;

describe("VirtualLock and VirtualUnlock", () => {
  it("locks up to the minimum working set less MM_FLUID_WORKING_SET (50 - 8 = 42 pages), faulting the pages in", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 64n * P, true, true, RW);
    const dz = paging(k).demandZeroFaults;
    // 43 + 8 > 50: STATUS_WORKING_SET_QUOTA before anything is touched
    expect(k.virtualLock(a, base, 43n * P)).toBe(false);
    expect(info(k, a).lastError).toBe(1453);
    expect(paging(k).demandZeroFaults).toBe(dz);
    // 42 pages (a range of 42 * 4096 bytes from the base): each read once, a demand-zero fault each
    expect(k.virtualLock(a, base, 42n * P)).toBe(true);
    expect(paging(k).demandZeroFaults).toBe(dz + 42);
    expect(info(k, a)).toMatchObject({ locked: 42, workingSet: 42 });
    // one more: 42 locked + 1 + 8 = 51 > 50
    expect(k.virtualLock(a, base + 42n * P, 1n)).toBe(false);
    expect(info(k, a).lastError).toBe(1453);
    // pages already locked count once: no lock count ("multiple calls to VirtualUnlock are never required")
    expect(k.virtualLock(a, base + 10n, 2n * P)).toBe(true);
    expect(info(k, a).locked).toBe(42);
    expect(k.view.invariants()).toEqual([]);
  });

  it("no trim takes a locked page: trim P, SetProcessWorkingSetSize(-1, -1), a hard maximum's replacement", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 64n * P, true, true, RW);
    expect(k.virtualLock(a, base, 4n * P)).toBe(true);
    for (let i = 4n; i < 10n; i++) write(k, a, base + i * P, 1);
    expect(info(k, a).workingSet).toBe(10);
    // EmptyWorkingSet: the 6 unlocked pages go, the 4 locked stay valid
    expect(k.trim(a, false).trimmed).toBe(6);
    expect(info(k, a).workingSet).toBe(4);
    for (let i = 0n; i < 4n; i++) expect(valid(k, a, base + i * P)).toBe(true);
    expect(k.setWorkingSetSize(a, -1n, -1n, 0)).toBe(0);
    expect(info(k, a).workingSet).toBe(4);
    // a hard maximum of 29 pages (the smallest over a minimum of 20) with 12 locked (20 - 8): 30 more
    // pages touched, the set stays at 29, and every replacement was an unlocked page
    expect(k.setWorkingSetSize(a, 20n * P, 29n * P, QuotaLimits.HARDWS_MAX_ENABLE)).toBe(0);
    expect(k.virtualLock(a, base, 12n * P)).toBe(true);
    for (let i = 12n; i < 42n; i++) write(k, a, base + i * P, 2);
    expect(info(k, a).workingSet).toBe(29);
    for (let i = 0n; i < 12n; i++) expect(valid(k, a, base + i * P)).toBe(true);
    expect(k.view.invariants()).toEqual([]);
  });

  it("the working-set manager under memory pressure passes the locked pages", () => {
    const { k, a, b } = twoProcs({ pagefileBytes: 16 << 20 });
    const w = k.view.windows()!;
    // A locks 42 pages, then takes most of memory while it is plentiful
    const n = w.paging().available - 400 - 200;
    const va = k.virtualAlloc(a, 0n, BigInt(n) * P, true, true, RW);
    expect(k.virtualLock(a, va, 42n * P)).toBe(true);
    for (let i = 42n; i < BigInt(n); i++) write(k, a, va + i * P, 1);
    expect(w.paging().wsManagerRuns).toBe(0);
    // B's faults take the available pages below 400: A is trimmed down towards its minimum, never its locked pages
    const vb = k.virtualAlloc(b, 0n, 400n * P, true, true, RW);
    for (let i = 0n; i < 400n; i++) write(k, b, vb + i * P, 2);
    expect(w.paging().wsManagerTrimmed).toBeGreaterThan(0);
    expect(info(k, a).workingSet).toBeLessThan(n);
    for (let i = 0n; i < 42n; i++) expect(valid(k, a, va + i * P)).toBe(true);
    expect(info(k, a).locked).toBe(42);
    expect(k.view.invariants()).toEqual([]);
  });

  it("SetProcessWorkingSetSize refuses a maximum the locked pages plus 8 would reach (STATUS_BAD_WORKING_SET_LIMIT)", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 16n * P, true, true, RW);
    expect(k.virtualLock(a, base, 12n * P)).toBe(true);
    // 12 + 8 >= 20
    expect(k.setWorkingSetSize(a, 20n * P, 20n * P, 0)).toBe(87);
    expect(info(k, a)).toMatchObject({ wsMin: 50, wsMax: 345 });
    // 12 + 8 < 21; the minimum may go below the locked pages' need (the WRK checks the maximum only)
    expect(k.setWorkingSetSize(a, 20n * P, 21n * P, 0)).toBe(0);
    expect(info(k, a)).toMatchObject({ wsMin: 20, wsMax: 21, workingSet: 12 });
    // and then no more can be locked: 12 + 1 + 8 > 20
    expect(k.virtualLock(a, base + 12n * P, 1n)).toBe(false);
    expect(info(k, a).lastError).toBe(1453);
  });

  it("fails on reserved pages, PAGE_NOACCESS and addresses in no VAD (STATUS_ACCESS_VIOLATION: 998), and on bad ranges (87)", () => {
    const { k, a } = twoProcs();
    const res = k.virtualAlloc(a, 0n, 16n * P, true, false, RW);
    expect(k.virtualAlloc(a, res, 2n * P, false, true, RW)).toBe(res);
    // pages 0-1 committed, page 2 reserved: the touch of page 2 raises; nothing is locked
    expect(k.virtualLock(a, res, 3n * P)).toBe(false);
    expect(info(k, a)).toMatchObject({ lastError: 998, locked: 0 });
    // the exception was the kernel's (__try in NtLockVirtualMemory): the process's record is untouched
    expect(info(k, a).exception).toBe(0);
    const na = k.virtualAlloc(a, 0n, P, true, true, PageProt.NOACCESS);
    expect(k.virtualLock(a, na, 1n)).toBe(false);
    expect(info(k, a).lastError).toBe(998);
    expect(k.virtualLock(a, 0x7000_0000n, 1n)).toBe(false);
    expect(info(k, a).lastError).toBe(998);
    expect(k.virtualLock(a, res, 0n)).toBe(false);
    expect(info(k, a).lastError).toBe(87);
    expect(k.virtualLock(a, 0xffff_ffff_ffff_0000n, P)).toBe(false);
    expect(info(k, a).lastError).toBe(87);
    expect(k.view.invariants()).toEqual([]);
  });

  it("a guard page: the touch raises STATUS_GUARD_PAGE_VIOLATION, the guard goes, the call fails with it", () => {
    const { k, a } = twoProcs();
    const g = k.virtualAlloc(a, 0n, P, true, true, RW | PageProt.GUARD);
    expect(k.virtualLock(a, g, 1n)).toBe(false);
    expect(info(k, a).lastError).toBe(0x80000001);
    expect(k.virtualQuery(a, g)!.protect).toBe(RW);
    // the one-shot alarm went off: the second call locks
    expect(k.virtualLock(a, g, 1n)).toBe(true);
  });

  it("VirtualUnlock: all pages must be locked, else ERROR_NOT_LOCKED and the unlocked pages leave the working set", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 8n * P, true, true, RW);
    for (let i = 0n; i < 4n; i++) write(k, a, base + i * P, 5);
    expect(k.virtualLock(a, base, 2n * P)).toBe(true);
    const mod = paging(k).modified;
    // pages 0-1 locked, 2-3 valid but not locked, 4 never touched
    expect(k.virtualUnlock(a, base, 5n * P)).toBe(false);
    expect(info(k, a)).toMatchObject({ lastError: 158, locked: 2, workingSet: 2 });
    // pages 2 and 3 were trimmed (written: the modified list); 0 and 1 stay locked
    expect(paging(k).modified).toBe(mod + 2);
    expect(valid(k, a, base + 2n * P)).toBe(false);
    // a range inside the locked pages, not matching the lock's: unlocked, still resident
    expect(k.virtualUnlock(a, base + P, 1n)).toBe(true);
    expect(info(k, a)).toMatchObject({ locked: 1, workingSet: 2 });
    expect(k.virtualUnlock(a, base + P, 1n)).toBe(false);
    expect(info(k, a)).toMatchObject({ lastError: 158, locked: 1, workingSet: 1 });
    expect(k.view.invariants()).toEqual([]);
  });

  it("VirtualFree and VirtualProtect to PAGE_NOACCESS unlock; a view's pages lock too", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 8n * P, true, true, RW);
    expect(k.virtualLock(a, base, 6n * P)).toBe(true);
    const commit = info(k, a).commitCharge;
    expect(k.virtualFree(a, base, 2n * P, false)).toBe(true);
    expect(info(k, a)).toMatchObject({ locked: 4, commitCharge: commit - 2 });
    expect(k.virtualProtect(a, base + 2n * P, P, PageProt.NOACCESS)).toBe(RW);
    expect(info(k, a)).toMatchObject({ locked: 3, workingSet: 3 });
    expect(k.virtualFree(a, base, 0n, true)).toBe(true);
    expect(info(k, a)).toMatchObject({ locked: 0, workingSet: 0 });
    const h = k.createFileMapping(a, 4n * P, RW, null, null);
    const v = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    expect(k.virtualLock(a, v, 4n * P)).toBe(true);
    expect(k.trim(a, false).trimmed).toBe(0);
    expect(info(k, a)).toMatchObject({ locked: 4, workingSet: 4 });
    expect(k.unmapViewOfFile(a, v)).toBe(true);
    expect(info(k, a)).toMatchObject({ locked: 0, workingSet: 0 });
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("VirtualAlloc MEM_RESET and MEM_RESET_UNDO", () => {
  it("valid pages lose Modified: trimmed to standby, never written; repurposed they read as zeros; UNDO then fails", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 4n * P, true, true, RW);
    for (let i = 0n; i < 4n; i++) write(k, a, base + i * P, 7);
    // the protection is ignored but must be valid
    expect(k.virtualAllocReset(a, base, 4n * P, 0x3, false)).toBe(0n);
    expect(info(k, a).lastError).toBe(87);
    expect(k.virtualAllocReset(a, base, 4n * P, PageProt.NOACCESS, false)).toBe(base);
    // still in the working set, still readable
    expect(info(k, a).workingSet).toBe(4);
    expect(read(k, a, base)).toBe(7);
    const out = paging(k).pagesOutput;
    // trim with pageout: standby (not modified), no page written, all four repurposed
    expect(k.trim(a, true)).toMatchObject({ trimmed: 4, written: 0, repurposed: 4 });
    expect(paging(k).pagesOutput).toBe(out);
    for (let i = 0n; i < 4n; i++) expect(read(k, a, base + i * P)).toBe(0);
    // the pages were reused: MEM_RESET_UNDO cannot give the data back
    expect(k.trim(a, true).repurposed).toBe(4);
    expect(k.virtualAllocReset(a, base, 4n * P, RW, true)).toBe(0n);
    expect(info(k, a).lastError).toBe(487);
    // committed all along: the commit charge did not move
    expect(info(k, a).commitCharge).toBe(4);
    // a page lost to one reset, written again and reset again: only a reuse since the last reset counts
    const c = k.virtualAlloc(a, 0n, P, true, true, RW);
    write(k, a, c, 3);
    expect(k.virtualAllocReset(a, c, P, RW, false)).toBe(c);
    expect(k.trim(a, true).repurposed).toBe(1);
    write(k, a, c, 4);
    expect(k.virtualAllocReset(a, c, P, RW, false)).toBe(c);
    expect(k.virtualAllocReset(a, c, P, RW, true)).toBe(c);
    expect(read(k, a, c)).toBe(4);
    expect(k.view.invariants()).toEqual([]);
  });

  it("a reset page still on the standby list comes back with its bytes (a soft fault); UNDO makes it modified again", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 2n * P, true, true, RW);
    write(k, a, base, 9);
    write(k, a, base + P, 9);
    expect(k.virtualAllocReset(a, base, 2n * P, RW, false)).toBe(base);
    k.trim(a, false);
    expect(paging(k)).toMatchObject({ standby: 2, modified: 0 });
    expect(read(k, a, base)).toBe(9);
    // UNDO: page 0 valid (Modified again), page 1 on standby with no copy (back to the modified list)
    expect(k.virtualAllocReset(a, base, 2n * P, RW, true)).toBe(base);
    expect(paging(k)).toMatchObject({ standby: 0, modified: 1 });
    // now the pages are written before their frames go, and read back from the paging file
    expect(k.trim(a, true)).toMatchObject({ trimmed: 1, written: 2, repurposed: 2 });
    expect(read(k, a, base)).toBe(9);
    expect(read(k, a, base + P)).toBe(9);
    expect(k.view.invariants()).toEqual([]);
  });

  for (const arch of ["x86_64", "i386", "i386-pae"] as const)
    it(`a modified transition page moves to standby; a page in the paging file loses its copy and reads as zeros (${arch})`, () => {
      const { k, a } = twoProcs({ arch });
      const base = k.virtualAlloc(a, 0n, 2n * P, true, true, RW);
      write(k, a, base, 3);
      write(k, a, base + P, 4);
      // page 1 to the paging file, page 0 then trimmed to the modified list
      expect(k.trim(a, true)).toMatchObject({ written: 2, repurposed: 2 });
      expect(paging(k).pagefileInUse).toBe(2);
      expect(read(k, a, base)).toBe(3);
      write(k, a, base, 5);
      k.trim(a, false);
      expect(paging(k)).toMatchObject({ modified: 1, pagefileInUse: 1 });
      expect(k.virtualAllocReset(a, base, 2n * P, RW, false)).toBe(base);
      expect(paging(k)).toMatchObject({ modified: 0, standby: 1, pagefileInUse: 0 });
      expect(read(k, a, base)).toBe(5);
      expect(read(k, a, base + P)).toBe(0);
    });

  it("a view page through its prototype PTE: modified to standby, then demand-zero when its frame is reused", () => {
    const { k, a } = twoProcs();
    const h = k.createFileMapping(a, 2n * P, RW, null, null);
    const v = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    write(k, a, v, 8);
    write(k, a, v + P, 8);
    // the only mapper trims: both prototype PTEs in transition, the frames on the modified list
    k.trim(a, false);
    expect(paging(k)).toMatchObject({ modified: 2, standby: 0 });
    expect(k.virtualAllocReset(a, v, P, RW, false)).toBe(v);
    expect(paging(k)).toMatchObject({ modified: 1, standby: 1 });
    // pageout: page 1 written, page 0 not; both frames reused
    expect(k.trim(a, true)).toMatchObject({ written: 1, repurposed: 2 });
    expect(read(k, a, v)).toBe(0);
    expect(read(k, a, v + P)).toBe(8);
    expect(k.view.invariants()).toEqual([]);
  });

  it("rounds inwards; less than a page, a range leaving its VAD or none: 487; a view of a file: 1224", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 4n * P, true, true, RW);
    for (let i = 0n; i < 4n; i++) write(k, a, base + i * P, 1);
    // [base + 1, base + 1 + 2 pages): only page 1 lies wholly inside
    expect(k.virtualAllocReset(a, base + 1n, 2n * P, RW, false)).toBe(base + P);
    k.trim(a, false);
    expect(paging(k)).toMatchObject({ standby: 1, modified: 3 });
    expect(k.virtualAllocReset(a, base + 1n, 100n, RW, false)).toBe(0n);
    expect(info(k, a).lastError).toBe(487);
    expect(k.virtualAllocReset(a, base, 5n * P, RW, false)).toBe(0n);
    expect(info(k, a).lastError).toBe(487);
    expect(k.virtualAllocReset(a, 0x7000_0000n, P, RW, false)).toBe(0n);
    expect(info(k, a).lastError).toBe(487);
    const f = k.createFile("data.bin", 2 * 4096);
    const h = k.createFileMapping(a, 0n, RW, f, null);
    const v = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    expect(k.virtualAllocReset(a, v, P, RW, false)).toBe(0n);
    expect(info(k, a).lastError).toBe(1224);
    // a paging-file section's view is acceptable
    const hs = k.createFileMapping(a, 2n * P, RW, null, null);
    const vs = k.mapViewOfFile(a, hs, "write", false, 0n, 0n, 0n);
    write(k, a, vs, 6);
    expect(k.virtualAllocReset(a, vs, 2n * P, RW, false)).toBe(vs);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("MEM_WRITE_WATCH, GetWriteWatch and ResetWriteWatch", () => {
  it("reports the pages written since the allocation or the last reset, through trims, up to the array's size", () => {
    const { k, a } = twoProcs();
    // MEM_WRITE_WATCH needs MEM_RESERVE
    expect(k.virtualAlloc(a, 0n, 8n * P, false, true, RW, true)).toBe(0n);
    expect(info(k, a).lastError).toBe(87);
    const base = k.virtualAlloc(a, 0n, 8n * P, true, true, RW, true);
    expect(k.getWriteWatch(a, base, 8n * P, false, 16)).toEqual([]);
    for (const i of [1n, 3n, 5n]) write(k, a, base + i * P, 1);
    // a read is no write
    read(k, a, base + 6n * P);
    expect(k.getWriteWatch(a, base, 8n * P, false, 16)).toEqual([base + P, base + 3n * P, base + 5n * P]);
    // the array holds 2: the first two
    expect(k.getWriteWatch(a, base, 8n * P, false, 2)).toEqual([base + P, base + 3n * P]);
    // a trim takes the dirty bit into the bitmap
    k.trim(a, false);
    expect(k.getWriteWatch(a, base, 8n * P, true, 16)).toEqual([base + P, base + 3n * P, base + 5n * P]);
    expect(k.getWriteWatch(a, base, 8n * P, false, 16)).toEqual([]);
    // after the reset: a write to a valid clean page is seen again
    write(k, a, base + 3n * P, 2);
    write(k, a, base + 7n * P, 2);
    expect(k.getWriteWatch(a, base + 2n * P, 3n * P, false, 16)).toEqual([base + 3n * P]);
    expect(k.resetWriteWatch(a, base, 8n * P)).toBe(true);
    expect(k.getWriteWatch(a, base, 8n * P, false, 16)).toEqual([]);
    expect(read(k, a, base + 3n * P)).toBe(2);
    expect(k.view.invariants()).toEqual([]);
  });

  it("fails with 87 outside a write-watch reservation, for an empty range or an empty array", () => {
    const { k, a } = twoProcs();
    const plain = k.virtualAlloc(a, 0n, 4n * P, true, true, RW);
    const ww = k.virtualAlloc(a, 0n, 4n * P, true, false, RW, true);
    expect(k.getWriteWatch(a, plain, P, false, 4)).toBeNull();
    expect(info(k, a).lastError).toBe(87);
    expect(k.getWriteWatch(a, ww, 5n * P, false, 4)).toBeNull();
    expect(k.getWriteWatch(a, ww, 0n, false, 4)).toBeNull();
    expect(k.getWriteWatch(a, ww, P, false, 0)).toBeNull();
    expect(k.resetWriteWatch(a, plain, P)).toBe(false);
    expect(info(k, a).lastError).toBe(87);
    // reserved pages of a write-watch region: nothing written, no failure
    expect(k.getWriteWatch(a, ww, 4n * P, false, 4)).toEqual([]);
    // VirtualQuery's MEMORY_BASIC_INFORMATION of the reservation
    expect(k.virtualQuery(a, ww + P)).toEqual({
      baseAddress: ww + P,
      allocationBase: ww,
      allocationProtect: RW,
      regionSize: 3n * P,
      state: MemState.RESERVE,
      protect: 0,
      type: MemState.PRIVATE,
    });
  });

  it("VirtualProtect keeps a write to a page read back clean from the paging file (the dirty bit to the PFN)", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, P, true, true, RW);
    write(k, a, base, 1);
    expect(k.trim(a, true)).toMatchObject({ written: 1, repurposed: 1 });
    // a hard fault for a read: clean, its copy kept; then a write sets the PTE's dirty bit
    expect(read(k, a, base)).toBe(1);
    write(k, a, base, 2);
    expect(k.virtualProtect(a, base, P, PageProt.READONLY)).toBe(RW);
    // trimmed, the page differs from its copy: written again, and read back with the new byte
    expect(k.trim(a, true)).toMatchObject({ trimmed: 1, written: 1, repurposed: 1 });
    expect(read(k, a, base)).toBe(2);
  });

  it("MEM_RESET keeps a write GetWriteWatch has not seen; VirtualProtect captures the dirty bit too", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 4n * P, true, true, RW, true);
    write(k, a, base, 1);
    write(k, a, base + P, 1);
    expect(k.virtualAllocReset(a, base, P, RW, false)).toBe(base);
    expect(k.virtualProtect(a, base + P, P, PageProt.READONLY)).toBe(RW);
    expect(k.getWriteWatch(a, base, 4n * P, false, 8)).toEqual([base, base + P]);
  });
});
