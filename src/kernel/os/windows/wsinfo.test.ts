/**
 * QueryWorkingSet (wsinfo.ts; WRK mm/queryvm.c MiGetWorkingSetInfo): the
 * PSAPI_WORKING_SET_BLOCKs of the working-set list, each Flags word derived
 * by hand from the union's layout (Protection bits 0-4 as MM_*,
 * ShareCount 5-7, Shared 8, VirtualPage 12 up).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import type { KernelImpl } from "../../KernelImpl.ts";
import { twoProcs } from "../../windows.testkit.ts";
import { PageProt } from "./mmpte.ts";

const P = 4096n;
const RW = PageProt.READWRITE;
const LARGE = 0x2000_0000; // MEM_LARGE_PAGES
const RC = 0x1000 | 0x2000; // MEM_COMMIT | MEM_RESERVE
const page = (va: bigint) => va / P;
/** The Flags word of every block, keyed by page address. */
const blocks = (k: KernelImpl, t: Task) =>
  new Map(k.queryWorkingSet(t).workingSetInfo.map((b) => [BigInt(b.virtualPage) * P, b.flags]));

describe("QueryWorkingSet (PSAPI_WORKING_SET_INFORMATION)", () => {
  it("private pages: NumberOfEntries the working set, Protection the MM_* value, ShareCount 0; locked first; trimmed ones leave", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 8n * P, true, true, RW);
    for (let i = 0n; i < 4n; i++) expect(k.userAccess(0, a, base + i * P, Access.Write, 1).ok).toBe(true);
    // VirtualProtect PAGE_READONLY: MM_READONLY (1) from the frame's OriginalPte
    expect(k.virtualProtect(a, base + P, P, PageProt.READONLY)).toBe(RW);
    // PAGE_EXECUTE_READWRITE: MM_EXECUTE_READWRITE (6)
    expect(k.virtualProtect(a, base + 2n * P, P, PageProt.EXECUTE_READWRITE)).toBe(RW);
    // the last page locked: below FirstDynamic, so listed first
    expect(k.virtualLock(a, base + 3n * P, P)).toBe(true);
    const info = k.queryWorkingSet(a);
    expect(info.numberOfEntries).toBe(4);
    expect(info.numberOfEntries).toBe(k.view.windows()!.process(a)!.workingSet);
    expect(info.workingSetInfo.map((b) => BigInt(b.virtualPage) * P)).toEqual([
      base + 3n * P,
      base,
      base + P,
      base + 2n * P,
    ]);
    // MM_READWRITE (4) | VirtualPage << 12: a private page's ShareCount and Shared are 0
    expect(info.workingSetInfo[1].flags).toBe(4n | (page(base) << 12n));
    expect(info.workingSetInfo[2].flags).toBe(1n | (page(base + P) << 12n));
    expect(info.workingSetInfo[3].flags).toBe(6n | (page(base + 2n * P) << 12n));
    expect(info.workingSetInfo[2]).toMatchObject({
      protection: 1,
      win32Protection: PageProt.READONLY,
      shareCount: 0,
    });
    // EmptyWorkingSet: only the locked page is left
    k.trim(a, false);
    expect(k.queryWorkingSet(a).numberOfEntries).toBe(1);
    expect([...blocks(k, a).keys()]).toEqual([base + 3n * P]);
    expect(k.view.invariants()).toEqual([]);
  });

  it("a section's page: Shared, ShareCount the mappings, MM_WRITECOPY in a copy view until the write makes it private", () => {
    const { k, a, b } = twoProcs();
    const h = k.createFileMapping(a, 4n * P, RW, null, null);
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    k.switchTo(0, b);
    const vb = k.mapViewOfFile(b, h, "copy", false, 0n, 0n, 0n);
    k.switchTo(0, a);
    expect(k.userAccess(0, a, va, Access.Write, 7).ok).toBe(true);
    // one mapping: MM_READWRITE (4) | ShareCount 1 << 5 | Shared 1 << 8
    expect(blocks(k, a).get(va)).toBe(0x124n | (page(va) << 12n));
    k.switchTo(0, b);
    expect(k.userAccess(0, b, vb, Access.Read)).toMatchObject({ ok: true, value: 7 });
    // two: ShareCount 2; b's view is copy-on-write: MM_WRITECOPY (5)
    expect(blocks(k, a).get(va)).toBe(0x144n | (page(va) << 12n));
    expect(blocks(k, b).get(vb)).toBe(0x145n | (page(vb) << 12n));
    // b writes: its own copy, private MM_READWRITE, ShareCount 0; a's back to one sharer
    expect(k.userAccess(0, b, vb, Access.Write, 8).ok).toBe(true);
    expect(blocks(k, b).get(vb)).toBe(4n | (page(vb) << 12n));
    expect(blocks(k, a).get(va)).toBe(0x124n | (page(va) << 12n));
    // a's view made PAGE_READONLY: the WSLE's own protection (MM_READONLY), not the prototype's
    k.switchTo(0, a);
    expect(k.virtualProtect(a, va, P, PageProt.READONLY)).toBe(RW);
    expect(blocks(k, a).get(va)).toBe(0x121n | (page(va) << 12n));
    expect(k.view.invariants()).toEqual([]);
  });

  it("a large page has no WSLE: it is not in the list (QueryWorkingSetEx still reports it)", () => {
    const { k, a } = twoProcs();
    k.setLockMemoryPrivilege(a, true);
    const big = k.virtualAllocType(a, 0n, 0x20_0000n, RC | LARGE, RW);
    expect(big).not.toBe(0n);
    const small = k.virtualAlloc(a, 0n, P, true, true, RW);
    expect(k.userAccess(0, a, small, Access.Write, 1).ok).toBe(true);
    expect([...blocks(k, a).keys()]).toEqual([small]);
    expect(k.queryWorkingSetEx(a, big).largePage).toBe(true);
  });
});
