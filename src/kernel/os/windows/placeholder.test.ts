/**
 * Placeholders (placeholder.ts): VirtualAlloc2 MEM_RESERVE_PLACEHOLDER and
 * MEM_REPLACE_PLACEHOLDER, VirtualFree MEM_PRESERVE_PLACEHOLDER and
 * MEM_COALESCE_PLACEHOLDERS, MapViewOfFile3 MEM_REPLACE_PLACEHOLDER,
 * UnmapViewOfFile2 MEM_PRESERVE_PLACEHOLDER. The ring buffer is the
 * VirtualAlloc2 page's "Scenario 1" example; the error codes are those Wine's
 * conformance tests record on Windows (test_VirtualAlloc2,
 * test_NtAllocateVirtualMemoryEx).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import type { KernelImpl } from "../../KernelImpl.ts";
import { twoProcs } from "../../windows.testkit.ts";
import { PageProt } from "./mmpte.ts";
import { FreeType } from "./placeholder.ts";
import { MemState } from "./virtual.ts";

const K = 1024n;
const RELEASE = FreeType.RELEASE;
const PRESERVE = FreeType.RELEASE | FreeType.PRESERVE_PLACEHOLDER;
const COALESCE = FreeType.RELEASE | FreeType.COALESCE_PLACEHOLDERS;
const NONE = {
  reserve: true,
  commit: false,
  reservePlaceholder: false,
  replacePlaceholder: false,
  writeWatch: false,
};
const PH = { ...NONE, reservePlaceholder: true };
const REPLACE = { ...NONE, replacePlaceholder: true };

const lastError = (k: KernelImpl, t: Task) => k.view.windows()!.process(t)!.lastError;
const region = (k: KernelImpl, t: Task, va: bigint) => {
  const q = k.virtualQuery(t, va)!;
  return { state: q.state, type: q.type, allocationProtect: q.allocationProtect, size: q.regionSize };
};
const placeholderRegion = (size: bigint) => ({
  state: MemState.RESERVE,
  type: MemState.PRIVATE,
  allocationProtect: PageProt.NOACCESS,
  size,
});

describe("placeholders: the VirtualAlloc2 page's ring buffer (Scenario 1)", () => {
  for (const arch of ["x86_64", "i386", "i386-pae"] as const)
    it(`two views of one section back to back in a split placeholder (${arch})`, () => {
      const { k, a } = twoProcs({ arch });
      k.catchExceptions(a);
      const size = 64n * K;
      const commit0 = k.view.windows()!.commit().total;
      // a placeholder of twice the buffer: reserved, PAGE_NOACCESS, MEM_PRIVATE; no commit charged
      const p1 = k.virtualAlloc2(a, 0n, 2n * size, PH, PageProt.NOACCESS);
      expect(p1 % (64n * K)).toBe(0n);
      expect(p1).not.toBe(0n);
      expect(region(k, a, p1)).toEqual(placeholderRegion(2n * size));
      expect(k.view.windows()!.commit().total).toBe(commit0);
      // a placeholder is not accessible: a touch is an access violation
      expect(k.userAccess(0, a, p1, Access.Read).ok).toBe(false);
      // split it in two placeholders of 64K
      expect(k.virtualFreeEx(a, p1, size, PRESERVE)).toBe(true);
      const p2 = p1 + size;
      expect(region(k, a, p1)).toEqual(placeholderRegion(size));
      expect(region(k, a, p2)).toEqual(placeholderRegion(size));
      // a paging-file section of 16 pages, mapped into each placeholder
      const h = k.createFileMapping(a, size, PageProt.READWRITE, null, null);
      const commitSection = k.view.windows()!.commit().total;
      expect(k.mapViewOfFile(a, h, "write", false, 0n, size, p1, true)).toBe(p1);
      expect(k.mapViewOfFile(a, h, "write", false, 0n, size, p2, true)).toBe(p2);
      for (const v of [p1, p2])
        expect(region(k, a, v)).toEqual({
          state: MemState.COMMIT,
          type: MemState.MAPPED,
          allocationProtect: PageProt.READWRITE,
          size,
        });
      // the section's pages (SEC_COMMIT, and its prototype PTEs' pool) are the only charge: the views add none
      expect(k.view.windows()!.commit().total).toBe(commitSection);
      // a write through one view is seen through the other, at the same offset and across the wrap
      expect(k.userAccess(0, a, p1 + 100n, Access.Write, 0x5a).ok).toBe(true);
      expect(k.userAccess(0, a, p2 + 100n, Access.Read)).toMatchObject({ ok: true, value: 0x5a });
      expect(k.userAccess(0, a, p2 + size - 1n, Access.Write, 0x77).ok).toBe(true);
      expect(k.userAccess(0, a, p1 + size - 1n, Access.Read)).toMatchObject({ ok: true, value: 0x77 });
      expect(k.view.page(a, Number(p1 / 4096n)).pfn).toBe(k.view.page(a, Number(p2 / 4096n)).pfn);
      expect(k.closeHandle(a, h)).toBe(true);
      // UnmapViewOfFile2 MEM_PRESERVE_PLACEHOLDER: the first view's range is a placeholder again
      expect(k.unmapViewOfFile(a, p1, true)).toBe(true);
      expect(region(k, a, p1)).toEqual(placeholderRegion(size));
      expect(k.userAccess(0, a, p1 + 100n, Access.Read).ok).toBe(false);
      // no view there any more: both forms of unmapping fail with 487
      expect(k.unmapViewOfFile(a, p1, true)).toBe(false);
      expect(lastError(k, a)).toBe(487);
      expect(k.unmapViewOfFile(a, p1)).toBe(false);
      expect(lastError(k, a)).toBe(487);
      // the second view unmapped for good: the section goes with it, its charge returned
      expect(k.unmapViewOfFile(a, p2)).toBe(true);
      expect(region(k, a, p2).state).toBe(MemState.FREE);
      expect(k.virtualFreeEx(a, p1, 0n, RELEASE)).toBe(true);
      expect(region(k, a, p1).state).toBe(MemState.FREE);
      expect(k.view.windows()!.commit().total).toBe(commit0);
      expect(k.view.invariants()).toEqual([]);
    });
});

describe("placeholders: splitting, coalescing and their error codes", () => {
  it("VirtualAlloc2 MEM_RESERVE_PLACEHOLDER needs MEM_RESERVE, no MEM_COMMIT and PAGE_NOACCESS (87)", () => {
    const { k, a } = twoProcs();
    expect(k.virtualAlloc2(a, 0n, 64n * K, PH, PageProt.READWRITE)).toBe(0n);
    expect(lastError(k, a)).toBe(87);
    expect(k.virtualAlloc2(a, 0n, 64n * K, { ...PH, commit: true }, PageProt.NOACCESS)).toBe(0n);
    expect(lastError(k, a)).toBe(87);
    expect(k.virtualAlloc2(a, 0n, 64n * K, { ...PH, reserve: false }, PageProt.NOACCESS)).toBe(0n);
    expect(lastError(k, a)).toBe(87);
    // over an existing placeholder: STATUS_CONFLICTING_ADDRESSES
    const ph = k.virtualAlloc2(a, 0n, 64n * K, PH, PageProt.NOACCESS);
    expect(k.virtualAlloc2(a, ph, 64n * K, PH, PageProt.NOACCESS)).toBe(0n);
    expect(lastError(k, a)).toBe(487);
    expect(k.virtualAlloc(a, ph, 64n * K, true, false, PageProt.NOACCESS)).toBe(0n);
    expect(lastError(k, a)).toBe(487);
    // a placeholder is never committed, only replaced
    expect(k.virtualAlloc(a, ph, 64n * K, false, true, PageProt.READWRITE)).toBe(0n);
    expect(lastError(k, a)).toBe(487);
  });

  it("MEM_PRESERVE_PLACEHOLDER splits in two or three; the whole placeholder, size 0, a plain reservation fail", () => {
    const { k, a } = twoProcs();
    const r = k.virtualAlloc(a, 0n, 128n * K, true, false, PageProt.NOACCESS);
    // a reservation that is no placeholder: 487
    expect(k.virtualFreeEx(a, r, 64n * K, PRESERVE)).toBe(false);
    expect(lastError(k, a)).toBe(487);
    const p = k.virtualAlloc2(a, 0n, 64n * K, PH, PageProt.NOACCESS);
    // dwSize 0: STATUS_INVALID_PARAMETER_3
    expect(k.virtualFreeEx(a, p, 0n, PRESERVE)).toBe(false);
    expect(lastError(k, a)).toBe(87);
    // the whole placeholder: nothing to split off
    expect(k.virtualFreeEx(a, p, 64n * K, PRESERVE)).toBe(false);
    expect(lastError(k, a)).toBe(487);
    // the flag without MEM_RELEASE, or both placeholder flags: 87
    expect(k.virtualFreeEx(a, p, 16n * K, FreeType.PRESERVE_PLACEHOLDER)).toBe(false);
    expect(lastError(k, a)).toBe(87);
    expect(k.virtualFreeEx(a, p, 16n * K, PRESERVE | COALESCE)).toBe(false);
    expect(lastError(k, a)).toBe(87);
    // the middle quarter of the second half: three placeholders of 32K, 16K and 16K
    expect(k.virtualFreeEx(a, p + 32n * K, 16n * K, PRESERVE)).toBe(true);
    expect(region(k, a, p)).toEqual(placeholderRegion(32n * K));
    expect(region(k, a, p + 32n * K)).toEqual(placeholderRegion(16n * K));
    expect(region(k, a, p + 48n * K)).toEqual(placeholderRegion(16n * K));
    expect(k.view.windows()!.vads(a).length).toBe(4);
    expect(k.view.invariants()).toEqual([]);
  });

  it("MEM_COALESCE_PLACEHOLDERS merges exactly two or more adjacent placeholders", () => {
    const { k, a } = twoProcs();
    const p = k.virtualAlloc2(a, 0n, 64n * K, PH, PageProt.NOACCESS);
    expect(k.virtualFreeEx(a, p, 16n * K, PRESERVE)).toBe(true);
    expect(k.virtualFreeEx(a, p + 16n * K, 16n * K, PRESERVE)).toBe(true);
    // 16K + 16K + 32K: a range one page too long or too short, or not at the first one's base: 487
    for (const [at, size] of [
      [p, 68n * K],
      [p, 60n * K],
      [p + 4n * K, 60n * K],
    ] as const) {
      expect(k.virtualFreeEx(a, at, size, COALESCE)).toBe(false);
      expect(lastError(k, a)).toBe(487);
    }
    expect(k.virtualFreeEx(a, p, 0n, COALESCE)).toBe(false);
    expect(lastError(k, a)).toBe(87);
    expect(k.virtualFreeEx(a, p, 64n * K, FreeType.COALESCE_PLACEHOLDERS)).toBe(false);
    expect(lastError(k, a)).toBe(87);
    // the first two only, then all
    expect(k.virtualFreeEx(a, p, 32n * K, COALESCE)).toBe(true);
    expect(region(k, a, p)).toEqual(placeholderRegion(32n * K));
    expect(k.virtualFreeEx(a, p, 64n * K, COALESCE)).toBe(true);
    expect(region(k, a, p)).toEqual(placeholderRegion(64n * K));
    // one placeholder alone is nothing to coalesce
    expect(k.virtualFreeEx(a, p, 64n * K, COALESCE)).toBe(false);
    expect(lastError(k, a)).toBe(487);
    // a private allocation in the range: 487
    expect(k.virtualFreeEx(a, p, 16n * K, PRESERVE)).toBe(true);
    expect(k.virtualAlloc2(a, p + 16n * K, 48n * K, REPLACE, PageProt.READWRITE)).toBe(p + 16n * K);
    expect(k.virtualFreeEx(a, p, 64n * K, COALESCE)).toBe(false);
    expect(lastError(k, a)).toBe(487);
    expect(k.view.invariants()).toEqual([]);
  });

  it("MEM_REPLACE_PLACEHOLDER: a private allocation of exactly the placeholder, freed back to one (its data gone)", () => {
    const { k, a } = twoProcs();
    const w = k.view.windows()!;
    const p = k.virtualAlloc2(a, 0n, 64n * K, PH, PageProt.NOACCESS);
    const commit0 = w.commit().total;
    // a size other than the placeholder's: 487; MEM_REPLACE_PLACEHOLDER without MEM_RESERVE: 87
    expect(k.virtualAlloc2(a, p, 4n * K, REPLACE, PageProt.READWRITE)).toBe(0n);
    expect(lastError(k, a)).toBe(487);
    const commitOnly = { ...REPLACE, reserve: false, commit: true };
    expect(k.virtualAlloc2(a, p, 64n * K, commitOnly, PageProt.READWRITE)).toBe(0n);
    expect(lastError(k, a)).toBe(87);
    const rc = { ...REPLACE, commit: true };
    expect(k.virtualAlloc2(a, p, 64n * K, rc, PageProt.READWRITE)).toBe(p);
    expect(region(k, a, p)).toEqual({
      state: MemState.COMMIT,
      type: MemState.PRIVATE,
      allocationProtect: PageProt.READWRITE,
      size: 64n * K,
    });
    expect(w.commit().total - commit0).toBe(16);
    for (let i = 0n; i < 16n; i++)
      expect(k.userAccess(0, a, p + i * 4096n, Access.Write, 0xcc).ok).toBe(true);
    // part of the allocation: 487; all of it: a placeholder again, the 16 pages and their charge gone
    expect(k.virtualFreeEx(a, p, 32n * K, PRESERVE)).toBe(false);
    expect(lastError(k, a)).toBe(487);
    expect(k.virtualFreeEx(a, p, 64n * K, PRESERVE)).toBe(true);
    expect(region(k, a, p)).toEqual(placeholderRegion(64n * K));
    expect(w.commit().total).toBe(commit0);
    expect(w.process(a)!.workingSet).toBe(0);
    // replaced again, read-only: zeros
    expect(k.virtualAlloc2(a, p, 64n * K, rc, PageProt.READONLY)).toBe(p);
    expect(k.userAccess(0, a, p, Access.Read)).toMatchObject({ ok: true, value: 0 });
    expect(k.virtualQuery(a, p)!.allocationProtect).toBe(PageProt.READONLY);
    // reserved only (MEM_RESERVE | MEM_REPLACE_PLACEHOLDER), then committed by VirtualAlloc as any reservation
    expect(k.virtualFreeEx(a, p, 64n * K, PRESERVE)).toBe(true);
    expect(k.virtualAlloc2(a, p, 64n * K, REPLACE, PageProt.READWRITE)).toBe(p);
    expect(region(k, a, p).state).toBe(MemState.RESERVE);
    expect(k.virtualAlloc(a, p, 8n * K, false, true, PageProt.READWRITE)).toBe(p);
    expect(w.commit().total - commit0).toBe(2);
    expect(k.view.invariants()).toEqual([]);
  });

  it("MapViewOfFile3 MEM_REPLACE_PLACEHOLDER and UnmapViewOfFile2 MEM_PRESERVE_PLACEHOLDER: their failures", () => {
    const { k, a } = twoProcs();
    const h = k.createFileMapping(a, 64n * K, PageProt.READWRITE, null, null);
    const p = k.virtualAlloc2(a, 0n, 128n * K, PH, PageProt.NOACCESS);
    // the view's size must be the placeholder's: 487
    expect(k.mapViewOfFile(a, h, "write", false, 0n, 64n * K, p, true)).toBe(0n);
    expect(lastError(k, a)).toBe(487);
    // a plain reservation is no placeholder: 487
    const r = k.virtualAlloc(a, 0n, 64n * K, true, false, PageProt.NOACCESS);
    expect(k.mapViewOfFile(a, h, "write", false, 0n, 64n * K, r, true)).toBe(0n);
    expect(lastError(k, a)).toBe(487);
    // a view mapped the ordinary way: VirtualFree MEM_PRESERVE_PLACEHOLDER is 87, UnmapViewOfFile2's is 487
    const v = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    expect(k.virtualFreeEx(a, v, 64n * K, PRESERVE)).toBe(false);
    expect(lastError(k, a)).toBe(87);
    expect(k.unmapViewOfFile(a, v, true)).toBe(false);
    expect(lastError(k, a)).toBe(487);
    expect(k.unmapViewOfFile(a, v)).toBe(true);
    // into half the placeholder, then VirtualFree of the view with MEM_PRESERVE_PLACEHOLDER: 87
    expect(k.virtualFreeEx(a, p, 64n * K, PRESERVE)).toBe(true);
    expect(k.mapViewOfFile(a, h, "write", false, 0n, 0n, p, true)).toBe(p);
    expect(k.virtualFreeEx(a, p, 64n * K, PRESERVE)).toBe(false);
    expect(lastError(k, a)).toBe(87);
    expect(k.unmapViewOfFile(a, p, true)).toBe(true);
    expect(k.view.invariants()).toEqual([]);
    // rundown with placeholders and a replaced view in place
    expect(k.mapViewOfFile(a, h, "write", false, 0n, 0n, p + 64n * K, true)).toBe(p + 64n * K);
    expect(k.userAccess(0, a, p + 64n * K, Access.Write, 1).ok).toBe(true);
    expect(k.closeHandle(a, h)).toBe(true);
    k.exit(a, "done");
    expect(k.view.windows()!.commit().total).toBe(0);
    expect(k.view.invariants()).toEqual([]);
  });

  it("MapViewOfFile3 MEM_REPLACE_PLACEHOLDER: no 64 KB rule for the address and offset, only pages", () => {
    const { k, a } = twoProcs();
    const P = 4096n;
    const h = k.createFileMapping(a, 2n * P, PageProt.READWRITE, null, null);
    const plain = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    expect(k.userAccess(0, a, plain + 2n * P - 2n, Access.Write, 0x6c).ok).toBe(true);
    expect(k.userAccess(0, a, plain, Access.Write, 0x8e).ok).toBe(true);
    // a two-page placeholder split at one page; the section's second page at its base, the first after it
    const win = k.virtualAlloc2(a, 0n, 2n * P, PH, PageProt.NOACCESS);
    expect(k.virtualFreeEx(a, win, P, PRESERVE)).toBe(true);
    expect(k.mapViewOfFile(a, h, "write", false, P, P, win, true)).toBe(win);
    expect(k.mapViewOfFile(a, h, "write", false, 0n, P, win + P, true)).toBe(win + P);
    expect(k.userAccess(0, a, win + P - 2n, Access.Read)).toMatchObject({ ok: true, value: 0x6c });
    expect(k.userAccess(0, a, win + P, Access.Read)).toMatchObject({ ok: true, value: 0x8e });
    // a live view is no placeholder to replace: 487, its bytes kept
    expect(k.mapViewOfFile(a, h, "write", false, 0n, P, win, true)).toBe(0n);
    expect(lastError(k, a)).toBe(487);
    expect(k.userAccess(0, a, win + P - 2n, Access.Read)).toMatchObject({ ok: true, value: 0x6c });
    // an offset inside a page: ERROR_MAPPED_ALIGNMENT; without the flag the 64 KB rule stands
    expect(k.unmapViewOfFile(a, win, true)).toBe(true);
    expect(k.mapViewOfFile(a, h, "write", false, 100n, P, win, true)).toBe(0n);
    expect(lastError(k, a)).toBe(1132);
    expect(k.mapViewOfFile(a, h, "write", false, P, P, 0n)).toBe(0n);
    expect(lastError(k, a)).toBe(1132);
    expect(k.view.invariants()).toEqual([]);
  });

  it("an image section cannot replace a placeholder (87)", () => {
    const { k, a } = twoProcs();
    const f = k.createFile("app.exe", 5 * 4096);
    const h = k.createFileMapping(a, 0n, PageProt.READONLY, f, { textPages: 2, dataPages: 2 });
    expect(h).not.toBe(0);
    const p = k.virtualAlloc2(a, 0n, 20n * 1024n, PH, PageProt.NOACCESS);
    expect(k.mapViewOfFile(a, h, "read", false, 0n, 0n, p, true)).toBe(0n);
    expect(lastError(k, a)).toBe(87);
    expect(region(k, a, p)).toEqual(placeholderRegion(20n * K));
  });
});
