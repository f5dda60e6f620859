/**
 * QueryWorkingSetEx (wsex.ts): the PSAPI_WORKING_SET_EX_BLOCK of a page,
 * its Flags word derived by hand from the union's bit layout (Valid bit 0,
 * ShareCount bits 1-3, Win32Protection bits 4-14, Shared bit 15, Locked
 * bit 22); and SetProcessWorkingSetSizeEx's hard limits (workingset.ts).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import type { KernelImpl } from "../../KernelImpl.ts";
import { twoProcs } from "../../windows.testkit.ts";
import { PageProt } from "./mmpte.ts";
import { QuotaLimits } from "./workingset.ts";

const P = 4096n;
const RW = PageProt.READWRITE;
const flags = (k: KernelImpl, t: Task, va: bigint) => k.queryWorkingSetEx(t, va).flags;
/** Priority (bits 24-26) MEMORY_PRIORITY_NORMAL, every page's here unless said otherwise */
const PRI5 = 0x500_0000;

describe("QueryWorkingSetEx", () => {
  it("private pages: Valid, ShareCount 0, the protection, Locked; trimmed or untouched: 0", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 4n * P, true, true, RW);
    expect(k.userAccess(0, a, base, Access.Write, 1).ok).toBe(true);
    expect(k.userAccess(0, a, base + P, Access.Write, 1).ok).toBe(true);
    // 1 | PAGE_READWRITE (4) << 4 | Priority 5 << 24: a private page's ShareCount is 0 (WRK MiGetWorkingSetInfoList)
    expect(flags(k, a, base)).toBe(PRI5 | 0x41);
    expect(k.queryWorkingSetEx(a, base)).toMatchObject({
      valid: true,
      shareCount: 0,
      win32Protection: PageProt.READWRITE,
      shared: false,
      node: 0,
      locked: false,
      largePage: false,
      priority: 5,
      bad: false,
    });
    // committed but never touched: not in the working set
    expect(flags(k, a, base + 2n * P)).toBe(0);
    // VirtualLock: bit 22
    expect(k.virtualLock(a, base, P)).toBe(true);
    expect(flags(k, a, base)).toBe(PRI5 | 0x400041);
    // PAGE_READONLY (2) << 4
    expect(k.virtualProtect(a, base + P, P, PageProt.READONLY)).toBe(PageProt.READWRITE);
    expect(flags(k, a, base + P)).toBe(PRI5 | 0x21);
    // EmptyWorkingSet: the unlocked page leaves (Valid 0, private: Shared 0; still resident on the modified
    // list: Location 1 << 22, Priority 5 << 24, ModifiedList 1 << 27), the locked one stays
    k.trim(a, false);
    expect(flags(k, a, base + P)).toBe(0xd40_0000);
    expect(flags(k, a, base)).toBe(PRI5 | 0x400041);
    // free address space
    expect(flags(k, a, base + 64n * P)).toBe(0);
  });

  it("a section's page: Shared, ShareCount the processes mapping it; Invalid.Shared once trimmed", () => {
    const { k, a, b } = twoProcs();
    const h = k.createFileMapping(a, 4n * P, RW, null, null);
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    k.switchTo(0, b);
    const vb = k.mapViewOfFile(b, h, "write", false, 0n, 0n, 0n);
    k.switchTo(0, a);
    expect(k.userAccess(0, a, va, Access.Write, 7).ok).toBe(true);
    // one process: 1 | 1 << 1 | 4 << 4 | 1 << 15
    expect(flags(k, a, va)).toBe(PRI5 | 0x8043);
    k.switchTo(0, b);
    expect(k.userAccess(0, b, vb, Access.Read)).toMatchObject({ ok: true, value: 7 });
    // two: ShareCount 2
    expect(flags(k, a, va)).toBe(PRI5 | 0x8045);
    expect(flags(k, b, vb)).toBe(PRI5 | 0x8045);
    // a's copy trimmed: Valid 0 with Invalid.Shared; b's share count back to 1
    k.trim(a, false);
    expect(flags(k, a, va)).toBe(0x8000);
    expect(flags(k, b, vb)).toBe(PRI5 | 0x8043);
    // a view page never touched can be shared too
    expect(flags(k, b, vb + P)).toBe(0x8000);
    expect(k.view.invariants()).toEqual([]);
  });

  it("a copy-on-write view: PAGE_WRITECOPY and Shared until the write, then a private PAGE_READWRITE copy", () => {
    const { k, a, b } = twoProcs();
    const h = k.createFileMapping(a, 4n * P, RW, null, null);
    const va = k.mapViewOfFile(a, h, "copy", false, 0n, 0n, 0n);
    k.switchTo(0, b);
    const vb = k.mapViewOfFile(b, h, "write", false, 0n, 0n, 0n);
    expect(k.userAccess(0, b, vb, Access.Write, 3).ok).toBe(true);
    k.switchTo(0, a);
    expect(k.userAccess(0, a, va, Access.Read)).toMatchObject({ ok: true, value: 3 });
    // 1 | 2 << 1 | PAGE_WRITECOPY (8) << 4 | 1 << 15
    expect(flags(k, a, va)).toBe(PRI5 | 0x8085);
    expect(k.userAccess(0, a, va, Access.Write, 4).ok).toBe(true);
    // the copy: private, ShareCount 0, PAGE_READWRITE; b's page has one sharer left
    expect(flags(k, a, va)).toBe(PRI5 | 0x41);
    expect(flags(k, b, vb)).toBe(PRI5 | 0x8043);
    // the copy trimmed: a private transition page, Shared 0, resident on the modified list
    k.trim(a, false);
    expect(flags(k, a, va)).toBe(0xd40_0000);
  });

  it("ShareCount stops at 7", () => {
    const { k, a } = twoProcs();
    const h = k.createFileMapping(a, P, RW, null, null);
    const tasks = [a, ...Array.from({ length: 8 }, (_, i) => k.spawn(`p${i}`)!)];
    const vas = tasks.map((t) => {
      k.switchTo(0, t);
      const v = k.mapViewOfFile(t, h, "read", false, 0n, 0n, 0n);
      expect(k.userAccess(0, t, v, Access.Read).ok).toBe(true);
      return v;
    });
    // nine mappings: 1 | 7 << 1 | PAGE_READONLY (2) << 4 | 1 << 15
    expect(flags(k, a, vas[0])).toBe(PRI5 | 0x802f);
  });
});

describe("QueryWorkingSetEx: the kernel's MEMORY_WORKING_SET_EX_BLOCK bits (phnt ntmmapi.h)", () => {
  it("Priority (bits 24-26) is the frame's page priority; an invalid page's Location, Priority and ModifiedList follow its frame", () => {
    const { k, a } = twoProcs();
    const base = k.virtualAlloc(a, 0n, 4n * P, true, true, RW);
    // MEMORY_PRIORITY_LOW (2) for the process's faults, then MEMORY_PRIORITY_MEDIUM (3) for its thread's
    expect(k.setMemoryPriority(a, false, 2)).toBe(0);
    expect(k.userAccess(0, a, base, Access.Write, 1).ok).toBe(true);
    expect(k.setMemoryPriority(a, true, 3)).toBe(0);
    expect(k.userAccess(0, a, base + P, Access.Write, 1).ok).toBe(true);
    expect(k.queryWorkingSetEx(a, base)).toMatchObject({ flags: 0x200_0041, priority: 2 });
    expect(k.queryWorkingSetEx(a, base + P)).toMatchObject({ flags: 0x300_0041, priority: 3 });
    // trimmed (new pages: modified): Valid 0, Location 1 (resident) << 22, its Priority, ModifiedList << 27
    k.trim(a, false);
    expect(k.queryWorkingSetEx(a, base)).toMatchObject({
      flags: 0xa40_0000,
      valid: false,
      location: 1,
      priority: 2,
      modifiedList: true,
    });
    // written to the paging file: on the standby list, still resident
    expect(k.modifiedPageWriter()).toBe(2);
    expect(k.queryWorkingSetEx(a, base + P)).toMatchObject({ flags: 0x340_0000, modifiedList: false });
    // repurposed: a paging-file PTE, Location 2 (MemoryLocationPagefile), no frame and so no priority
    k.trim(null, true);
    expect(k.queryWorkingSetEx(a, base)).toMatchObject({ flags: 0x80_0000, location: 2, priority: 0 });
    // read back (a hard fault at the thread's priority 3): valid again
    expect(k.userAccess(0, a, base, Access.Read)).toMatchObject({ ok: true, value: 1 });
    expect(k.queryWorkingSetEx(a, base).flags).toBe(0x300_0041);
    // committed, never touched: demand zero, Location 0
    expect(k.queryWorkingSetEx(a, base + 2n * P).flags).toBe(0);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("SetProcessWorkingSetSizeEx's hard maximum (WRK MmAdjustWorkingSetSizeEx)", () => {
  it("must be more than MM_FLUID_WORKING_SET (8) pages above the minimum: STATUS_BAD_WORKING_SET_LIMIT, 87", () => {
    const { k, a } = twoProcs();
    const info = () => k.view.windows()!.process(a)!;
    // 20 + 8 >= 20, 28
    expect(k.setWorkingSetSize(a, 20n * P, 20n * P, QuotaLimits.HARDWS_MAX_ENABLE)).toBe(87);
    expect(k.setWorkingSetSize(a, 20n * P, 28n * P, QuotaLimits.HARDWS_MAX_ENABLE)).toBe(87);
    expect(info()).toMatchObject({ lastError: 87, wsMin: 50, wsMax: 345, wsHardMax: false });
    // the minimum raised to 20 pages first: 4K / 13 pages is 20 / 20
    expect(k.setWorkingSetSize(a, P, 13n * P, QuotaLimits.HARDWS_MAX_ENABLE)).toBe(87);
    expect(k.setWorkingSetSize(a, 20n * P, 29n * P, QuotaLimits.HARDWS_MAX_ENABLE)).toBe(0);
    expect(info()).toMatchObject({ wsMin: 20, wsMax: 29, wsHardMax: true });
    expect(k.setWorkingSetSize(a, 50n * P, 58n * P, QuotaLimits.HARDWS_MAX_ENABLE)).toBe(87);
    expect(k.setWorkingSetSize(a, 50n * P, 59n * P, QuotaLimits.HARDWS_MAX_ENABLE)).toBe(0);
    // a soft maximum may equal the minimum
    expect(k.setWorkingSetSize(a, 20n * P, 20n * P, QuotaLimits.HARDWS_MAX_DISABLE)).toBe(0);
    expect(info()).toMatchObject({ wsMin: 20, wsMax: 20, wsHardMax: false });
  });
});

describe("SetProcessWorkingSetSize keeps the enforcement; QUOTA_LIMITS_HARDWS_MIN_ENABLE (WRK MmAdjustWorkingSetSizeEx)", () => {
  const { HARDWS_MAX_ENABLE, HARDWS_MAX_DISABLE, HARDWS_MIN_ENABLE, HARDWS_MIN_DISABLE } = QuotaLimits;

  it("Flags 0 (SetProcessWorkingSetSize) leaves a hard maximum hard: its faults still replace pages, and the starvation check still applies", () => {
    const { k, a } = twoProcs();
    const info = () => k.view.windows()!.process(a)!;
    const base = k.virtualAlloc(a, 0n, 64n * P, true, true, RW);
    expect(k.setWorkingSetSize(a, 20n * P, 29n * P, HARDWS_MAX_ENABLE)).toBe(0);
    // SetProcessWorkingSetSize: new sizes, the MaximumWorkingSetHard flag untouched ("if (Flags != 0)")
    expect(k.setWorkingSetSize(a, 20n * P, 40n * P, 0)).toBe(0);
    expect(info()).toMatchObject({ wsMin: 20, wsMax: 40, wsHardMax: true, wsHardMin: false });
    for (let i = 0n; i < 50n; i++) expect(k.userAccess(0, a, base + i * P, Access.Write, 1).ok).toBe(true);
    // the hard maximum still holds: 10 faults past it each replaced a page
    expect(info()).toMatchObject({ workingSet: 40, wsReplaced: 10 });
    // "being enabled (or are already enabled)": 20 + 8 >= 28 is refused though Flags is 0
    expect(k.setWorkingSetSize(a, 20n * P, 28n * P, 0)).toBe(87);
    expect(info()).toMatchObject({ lastError: 87, wsMax: 40, wsHardMax: true });
    // QUOTA_LIMITS_HARDWS_MAX_DISABLE: soft again; 20/28 is fine and the working set may grow past it
    expect(k.setWorkingSetSize(a, 20n * P, 28n * P, HARDWS_MAX_DISABLE)).toBe(0);
    expect(info()).toMatchObject({ wsMax: 28, wsHardMax: false, workingSet: 28 });
    for (let i = 50n; i < 60n; i++) expect(k.userAccess(0, a, base + i * P, Access.Write, 1).ok).toBe(true);
    expect(info().workingSet).toBe(38);
    expect(k.view.invariants()).toEqual([]);
  });

  it("a hard minimum is kept by Flags 0, refuses a maximum within 8 pages of it, and goes with MIN_DISABLE; contradictory or unknown flags are 87", () => {
    const { k, a } = twoProcs();
    const info = () => k.view.windows()!.process(a)!;
    // a hard minimum alone is enough for the check (the WRK's MmAdjustWorkingSetSizeEx: either limit hard)
    expect(k.setWorkingSetSize(a, 20n * P, 28n * P, HARDWS_MIN_ENABLE)).toBe(87);
    expect(k.setWorkingSetSize(a, 20n * P, 29n * P, HARDWS_MIN_ENABLE)).toBe(0);
    expect(info()).toMatchObject({ wsMin: 20, wsMax: 29, wsHardMin: true, wsHardMax: false });
    expect(k.setWorkingSetSize(a, 20n * P, 28n * P, 0)).toBe(87);
    expect(k.setWorkingSetSize(a, 20n * P, 28n * P, HARDWS_MIN_DISABLE)).toBe(0);
    expect(info()).toMatchObject({ wsMax: 28, wsHardMin: false });
    // "This flag cannot be used with ...": both of a pair, or a bit that is no QUOTA_LIMITS_HARDWS_* flag
    expect(k.setWorkingSetSize(a, 20n * P, 60n * P, HARDWS_MIN_ENABLE | HARDWS_MIN_DISABLE)).toBe(87);
    expect(k.setWorkingSetSize(a, 20n * P, 60n * P, HARDWS_MAX_ENABLE | HARDWS_MAX_DISABLE)).toBe(87);
    expect(k.setWorkingSetSize(a, 20n * P, 60n * P, 0x20)).toBe(87);
    expect(info()).toMatchObject({ wsMax: 28, wsHardMin: false, wsHardMax: false });
    // both hard at once
    expect(k.setWorkingSetSize(a, 20n * P, 60n * P, HARDWS_MIN_ENABLE | HARDWS_MAX_ENABLE)).toBe(0);
    expect(info()).toMatchObject({ wsHardMin: true, wsHardMax: true });
  });
});
