/**
 * The Windows profile against the WRK, continued (issue #20's review of the
 * merged large pages, page priority and MM_DECOMMIT work): each case cites
 * the WRK source that shows Windows' behaviour; the figures are derived by
 * hand from it.
 */
import { describe, expect, it } from "vitest";
import { lastError, winKernel } from "../../windows.testkit.ts";
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
