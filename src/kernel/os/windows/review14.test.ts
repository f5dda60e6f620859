/**
 * The Windows profile against the WRK, continued (issue #20's review of the
 * merged large pages, page priority and MM_DECOMMIT work): each case cites
 * the WRK source that shows Windows' behaviour; the figures are derived by
 * hand from it.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import { lastError, on, twoProcs, winKernel } from "../../windows.testkit.ts";
import { PageProt } from "./mmpte.ts";

const LARGE = 0x2000_0000; // MEM_LARGE_PAGES
const RC = 0x1000 | 0x2000; // MEM_COMMIT | MEM_RESERVE
const RW = PageProt.READWRITE;

describe("MEM_LARGE_PAGES: the size check (WRK mm/allocvm.c NtAllocateVirtualMemory)", () => {
  it("with no address the size is ROUND_TO_PAGES'd before CapturedRegionSize % MM_MINIMUM_VA_FOR_LARGE_PAGE", () => {
    const { k, t } = winKernel();
    k.setLockMemoryPrivilege(t, true);
    // 0x1FF001 rounds to 0x200000: one large page, at the first 2 MB-aligned free range
    expect(k.virtualAllocType(t, 0n, 0x1f_f001n, RC | LARGE, RW)).toBe(0x20_0000n);
    expect(k.view.windows()!.commit().total).toBe(512);
  });

  it("with an address the size is checked as given: 0x1FFFFF is STATUS_INVALID_PARAMETER_4 (87)", () => {
    const { k, t } = winKernel();
    k.setLockMemoryPrivilege(t, true);
    // "if (CapturedRegionSize % MM_MINIMUM_VA_FOR_LARGE_PAGE)" on the captured size (the base path
    // computes EndingAddress from it but never rounds CapturedRegionSize itself)
    expect(k.virtualAllocType(t, 0x1000_0000n, 0x1f_ffffn, RC | LARGE, RW)).toBe(0n);
    expect(lastError(k, t)).toBe(87);
    expect(k.view.windows()!.vads(t)).toHaveLength(0);
    expect(k.view.windows()!.commit().total).toBe(0);
    // the same address with 2 MB: granted
    expect(k.virtualAllocType(t, 0x1000_0000n, 0x20_0000n, RC | LARGE, RW)).toBe(0x1000_0000n);
    expect(k.view.windows()!.commit().total).toBe(512);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("ProcessMemoryPriority / ThreadMemoryPriority (ntoskrnl NtSetInformationProcess, NtSetInformationThread)", () => {
  it("0 (MEMORY_PRIORITY_LOWEST) is below MmGetMinWsPagePriority() (1): STATUS_INVALID_PARAMETER, 87", () => {
    const { k, a } = twoProcs();
    const t = k.thread(a, "worker")!;
    expect(k.setMemoryPriority(a, false, 0)).toBe(87);
    expect(lastError(k, a)).toBe(87);
    expect(k.setMemoryPriority(t, true, 0)).toBe(87);
    expect(k.view.windows()!.process(a)!.memoryPriority).toBe(5);
    // MEMORY_PRIORITY_VERY_LOW (1) and MEMORY_PRIORITY_NORMAL (5) are the bounds
    expect(k.setMemoryPriority(a, false, 1)).toBe(0);
    expect(k.setMemoryPriority(t, true, 5)).toBe(0);
  });

  it("the process's priority is written into every thread: a later SetProcessInformation replaces a thread's own", () => {
    const { k, a } = twoProcs();
    const t = k.thread(a, "worker")!;
    expect(k.setMemoryPriority(t, true, 1)).toBe(0);
    // NtSetInformationProcess(ProcessPagePriority) walks the process's ThreadListHead: the worker is 3 now
    expect(k.setMemoryPriority(a, false, 3)).toBe(0);
    const p = k.virtualAlloc(a, 0n, 0x2000n, true, true, RW);
    on(k, t);
    expect(k.userAccess(0, t, p, Access.Write, 1).ok).toBe(true);
    const prio = (va: bigint) => k.view.windows()!.pfn(k.view.page(a, Number(va / 4096n)).pfn)!.priority;
    expect(prio(p)).toBe(3);
    // a thread's own afterwards holds again
    expect(k.setMemoryPriority(t, true, 2)).toBe(0);
    expect(k.userAccess(0, t, p + 0x1000n, Access.Write, 1).ok).toBe(true);
    expect(prio(p + 0x1000n)).toBe(2);
  });
});

describe("QueryWorkingSetEx's ShareCount (WRK mm/queryvm.c MiGetWorkingSetInfoList)", () => {
  it("a valid private page is ShareCount 0 (PrototypePte 0); a large page 0 too, Locked and LargePage", () => {
    const { k, t } = winKernel();
    const p = k.virtualAlloc(t, 0n, 0x1000n, true, true, RW);
    expect(k.userAccess(0, t, p, Access.Write, 1).ok).toBe(true);
    // 1 (Valid) | PAGE_READWRITE (4) << 4 | Priority 5 << 24; Wine's psapi test "valloc,write": Shared 0, ShareCount == 0
    expect(k.queryWorkingSetEx(t, p)).toMatchObject({
      flags: 0x500_0041,
      valid: true,
      shareCount: 0,
      shared: false,
    });
    k.setLockMemoryPrivilege(t, true);
    const a = k.virtualAllocType(t, 0n, 0x20_0000n, RC | LARGE, PageProt.READONLY);
    // 1 | PAGE_READONLY (2) << 4 | Locked 1 << 22 | LargePage 1 << 23 | Priority 5 << 24
    expect(k.queryWorkingSetEx(t, a + 0x1000n)).toMatchObject({
      flags: 0x5c0_0021,
      shareCount: 0,
      locked: true,
    });
  });
});

describe("MEM_LARGE_PAGES with PAGE_NOACCESS (MiAllocateLargePages: MI_MAKE_VALID_PTE, MM_PTE_NOACCESS 0)", () => {
  it("the PDE is valid (read-only: no-access is 'not expressable'); MEM_RELEASE gives every frame back", () => {
    const { k, t } = winKernel({ ramBytes: 256 << 20 });
    k.setLockMemoryPrivilege(t, true);
    const free = k.view.windows()!.paging().free;
    const a = k.virtualAllocType(t, 0n, 0x20_0000n, RC | LARGE, PageProt.NOACCESS);
    expect(a).toBe(0x20_0000n);
    expect(k.view.invariants()).toEqual([]);
    // 512 frames and the PD under them
    expect(free - k.view.windows()!.paging().free).toBe(513);
    // VirtualQuery and QueryWorkingSetEx report the VAD's PAGE_NOACCESS (1)
    expect(k.virtualQuery(t, a)).toMatchObject({ state: 0x1000, protect: 1 });
    expect(k.queryWorkingSetEx(t, a).flags).toBe(0x5c0_0011);
    // the PDE maps read-only: a read takes no fault
    expect(k.userAccess(0, t, a + 0x10n, Access.Read)).toMatchObject({ ok: true, value: 0, faults: 0 });
    expect(k.virtualFree(t, a, 0n, true)).toBe(true);
    expect(k.view.windows()!.paging().free).toBe(free);
    expect(k.view.invariants()).toEqual([]);
    // again; a write is an access violation, the process killed: its exit gives the frames back
    expect(k.virtualAllocType(t, 0n, 0x20_0000n, RC | LARGE, PageProt.NOACCESS)).toBe(a);
    expect(k.userAccess(0, t, a + 0x10n, Access.Write, 1)).toMatchObject({ ok: false, killed: true });
    expect(k.view.invariants()).toEqual([]);
    expect(k.view.windows()!.paging().free).toBeGreaterThanOrEqual(free);
  });
});

describe("QueryWorkingSetEx of a large page: Priority is its frame's (WRK MiGetWorkingSetInfoList, MI_GET_PFN_PRIORITY)", () => {
  it("a large page allocated at MEMORY_PRIORITY_LOW reports Priority 2 with Valid, Locked and LargePage; its frames are priority 2", () => {
    const { k, t } = winKernel();
    k.setLockMemoryPrivilege(t, true);
    // SetProcessInformation(ProcessMemoryPriority, MEMORY_PRIORITY_LOW) before the VirtualAlloc that allocates the frames
    expect(k.setMemoryPriority(t, false, 2)).toBe(0);
    const a = k.virtualAllocType(t, 0n, 0x20_0000n, RC | LARGE, RW);
    expect(a).not.toBe(0n);
    // 1 | PAGE_READWRITE (4) << 4 | Locked 1 << 22 | LargePage 1 << 23 | Priority 2 << 24
    for (const off of [0n, 0x1000n, 0x1f_f000n])
      expect(k.queryWorkingSetEx(t, a + off)).toMatchObject({
        flags: 0x2c0_0041,
        valid: true,
        largePage: true,
        locked: true,
        shared: false,
        shareCount: 0,
        priority: 2,
      });
    const pfn = k.view.page(t, Number(a / 4096n) + 7).pfn;
    expect(k.view.windows()!.pfn(pfn)!.priority).toBe(2);
    // one allocated at the default priority: 5
    expect(k.setMemoryPriority(t, false, 5)).toBe(0);
    const b = k.virtualAllocType(t, 0n, 0x20_0000n, RC | LARGE, RW);
    expect(k.queryWorkingSetEx(t, b).flags).toBe(0x5c0_0041);
    expect(k.queryWorkingSetEx(t, a).priority).toBe(2);
  });
});
