/**
 * The Windows profile against what Windows returns (issue #20's review of
 * the Windows kernel): each case cites Wine's conformance tests (measured on
 * real Windows) or the WRK, and its figures are derived by hand from them.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import { lastError, winKernel } from "../../windows.testkit.ts";
import { STATUS_ACCESS_VIOLATION, STATUS_GUARD_PAGE_VIOLATION, STATUS_STACK_OVERFLOW } from "./fault.ts";
import { PageProt } from "./mmpte.ts";
import { MemState, WinError } from "./virtual.ts";

const RW = PageProt.READWRITE;

describe("VirtualFree: the address is a page (WRK freevm.c MI_VA_TO_VPN; Wine ntdll test_NtAllocateVirtualMemory)", () => {
  it("MEM_RELEASE with size 0 at base + 0xfff releases the whole reservation; base + 0x1001 is not at the base (487)", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x10000n, true, true, RW);
    expect(k.view.windows()!.commit().total).toBe(16);
    expect(k.virtualFree(t, a + 0x1001n, 0n, true)).toBe(false);
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS); // STATUS_FREE_VM_NOT_AT_BASE
    expect(k.virtualFree(t, a + 0xfffn, 0n, true)).toBe(true);
    expect(k.view.windows()!.commit().total).toBe(0);
    expect(k.virtualQuery(t, a)).toMatchObject({ state: MemState.FREE, allocationBase: 0n });
  });

  it("MEM_DECOMMIT with size 0 at base + 0xffe decommits the whole region; base + 0x1001 is not at the base", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x10000n, true, true, RW);
    expect(k.virtualFree(t, a + 0x1001n, 0n, false)).toBe(false);
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
    expect(k.view.windows()!.commit().total).toBe(16);
    expect(k.virtualFree(t, a + 0xffen, 0n, false)).toBe(true);
    expect(k.view.windows()!.commit().total).toBe(0);
    expect(k.virtualQuery(t, a)).toMatchObject({ state: MemState.RESERVE, regionSize: 0x10000n, protect: 0 });
  });

  it("a decommit leaving the reservation is STATUS_UNABLE_TO_FREE_VM: ERROR_INVALID_PARAMETER, nothing decommitted", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x10000n, true, true, RW);
    // pages 0xf and 0x10: the second is past the VAD's EndingVpn
    expect(k.virtualFree(t, a + 0xf000n, 0x2000n, false)).toBe(false);
    expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
    expect(k.view.windows()!.commit().total).toBe(16);
    // a free page: no VAD, STATUS_MEMORY_NOT_ALLOCATED (487)
    expect(k.virtualFree(t, a + 0x10000n, 0x1000n, false)).toBe(false);
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
  });
});

describe("VirtualProtect and VirtualFree check against MM_HIGHEST_USER_ADDRESS, not MM_HIGHEST_VAD_ADDRESS (WRK protect.c, freevm.c)", () => {
  it("x64: the 64 KB below 0x7FFFFFFEFFFF holds no VAD (487); above it, or a size past it, is 87", () => {
    const { k, t } = winKernel();
    const lastVadPage = 0x7fff_fffd_f000n; // MM_HIGHEST_VAD_ADDRESS's page
    const gap = 0x7fff_fffe_0000n; // MM_HIGHEST_VAD_ADDRESS + 1: below MM_HIGHEST_USER_ADDRESS, never a VAD
    for (const at of [gap, 0x7fff_fffe_e000n]) {
      expect(k.virtualProtect(t, at, 0x1000n, RW)).toBe(-1);
      expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS); // STATUS_CONFLICTING_ADDRESSES
      expect(k.virtualFree(t, at, 0x1000n, false)).toBe(false);
      expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS); // STATUS_MEMORY_NOT_ALLOCATED
      expect(k.virtualFree(t, at, 0n, true)).toBe(false);
      expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
    }
    // the last page with a page's size: MM_HIGHEST_USER_ADDRESS - base (0xFFF) < size, STATUS_INVALID_PARAMETER_3
    expect(k.virtualProtect(t, 0x7fff_fffe_f000n, 0x1000n, RW)).toBe(-1);
    expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
    // 0x7FFFFFFF0000 is past MM_HIGHEST_USER_ADDRESS: STATUS_INVALID_PARAMETER_2
    expect(k.virtualProtect(t, 0x7fff_ffff_0000n, 0x1000n, RW)).toBe(-1);
    expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
    expect(k.virtualFree(t, 0x7fff_ffff_0000n, 0n, true)).toBe(false);
    expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
    // a committed page at the top of the VAD range: a size reaching past 0x7FFFFFFEFFFF is _3, 87
    expect(k.virtualAlloc(t, lastVadPage, 0x1000n, true, true, RW)).toBe(0x7fff_fffd_0000n);
    expect(k.virtualProtect(t, lastVadPage, 0x11001n, PageProt.READONLY)).toBe(-1);
    expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
    // reaching only into the gap: the range leaves the VAD, STATUS_CONFLICTING_ADDRESSES
    expect(k.virtualProtect(t, lastVadPage, 0x2000n, PageProt.READONLY)).toBe(-1);
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
    expect(k.virtualProtect(t, lastVadPage, 0x1000n, PageProt.READONLY)).toBe(RW);
  });
});

/** flAllocationType bits (winnt.h). */
const MEM = {
  COMMIT: 0x1000,
  RESERVE: 0x2000,
  REPLACE_PLACEHOLDER: 0x4000,
  RESERVE_PLACEHOLDER: 0x40000,
  RESET: 0x80000,
  TOP_DOWN: 0x100000,
  WRITE_WATCH: 0x200000,
  RESET_UNDO: 0x1000000,
  AT_ROUND_TO_PAGE: 0x40000000,
};

describe("VirtualAlloc's flAllocationType (WRK allocvm.c; Wine ntdll/kernel32 tests)", () => {
  it("MEM_RESET with any other flag, no MEM_COMMIT/RESERVE/RESET, unknown bits and the placeholder flags are 87", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x10000n, true, true, RW);
    for (const type of [
      MEM.RESET | MEM.COMMIT,
      MEM.RESET | MEM.RESERVE,
      MEM.RESET_UNDO | MEM.COMMIT,
      MEM.RESET | MEM.RESET_UNDO,
      0,
      MEM.TOP_DOWN,
      MEM.WRITE_WATCH,
      // NtAllocateVirtualMemory (not ...Ex): "MEM_RESERVE | MEM_RESERVE_PLACEHOLDER" is STATUS_INVALID_PARAMETER
      MEM.RESERVE | MEM.RESERVE_PLACEHOLDER,
      MEM.RESERVE | MEM.REPLACE_PLACEHOLDER,
      // kernel32 test_VirtualAlloc: "AT_ROUND_TO_PAGE flag is not supported for VirtualAlloc"
      MEM.RESERVE | MEM.COMMIT | MEM.AT_ROUND_TO_PAGE,
    ]) {
      expect(k.virtualAllocType(t, a, 0x1000n, type, RW), `type 0x${type.toString(16)}`).toBe(0n);
      expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
    }
    expect(k.view.windows()!.vads(t)).toHaveLength(1);
    // MEM_RESET alone goes through
    expect(k.virtualAllocType(t, a, 0x1000n, MEM.RESET, PageProt.NOACCESS)).toBe(a);
  });

  it("MEM_TOP_DOWN: the highest free 64 KB boundary below MM_HIGHEST_VAD_ADDRESS (x64 0x7FFFFFFDFFFF)", () => {
    const { k, t } = winKernel();
    const td = MEM.RESERVE | MEM.TOP_DOWN;
    // one page ending at or below 0x7FFFFFFDFFFF, its start rounded down to 64 KB
    expect(k.virtualAllocType(t, 0n, 0x1000n, td, RW)).toBe(0x7fff_fffd_0000n);
    // the next one: below the first's 64 KB
    expect(k.virtualAllocType(t, 0n, 0x1000n, td | MEM.COMMIT, RW)).toBe(0x7fff_fffc_0000n);
    expect(k.virtualQuery(t, 0x7fff_fffc_0000n)).toMatchObject({
      state: MemState.COMMIT,
      regionSize: 0x1000n,
    });
    // 128 KB: 0x7FFFFFFC0000 .. 0x7FFFFFFDFFFF is taken, so 0x7FFFFFFA0000 (its end meets the second's start)
    expect(k.virtualAllocType(t, 0n, 0x20000n, td, RW)).toBe(0x7fff_fffa_0000n);
    // with an address MEM_TOP_DOWN changes nothing; without it the lowest free boundary is 0x10000
    expect(k.virtualAllocType(t, 0x40000n, 0x1000n, td, RW)).toBe(0x40000n);
    expect(k.virtualAllocType(t, 0n, 0x1000n, MEM.RESERVE, RW)).toBe(0x10000n);
  });

  it("MEM_TOP_DOWN on x86 2G: below MM_HIGHEST_VAD_ADDRESS 0x7FFDFFFF, so 0x7FFD0000", () => {
    const { k, t } = winKernel({ arch: "i386" });
    expect(k.virtualAllocType(t, 0n, 0x1000n, MEM.RESERVE | MEM.TOP_DOWN, RW)).toBe(0x7ffd_0000n);
  });
});

describe("a thread stack whose next guard page the commit limit refuses (WRK procsup.c MiCheckForUserStackOverflow)", () => {
  it("STATUS_STACK_OVERFLOW, with StackLimit already at the faulting page; the page itself is usable", () => {
    const { k, t } = winKernel();
    const top = k.createThreadStack(t, 0x10000n, 4096n); // top page committed, the guard page below it
    const w = k.view.windows()!;
    // take every page of commit left
    const left = BigInt(w.commit().limit - w.commit().total);
    expect(k.virtualAlloc(t, 0n, left * 4096n, true, true, RW)).not.toBe(0n);
    expect(w.commit().total).toBe(w.commit().limit);
    k.catchExceptions(t);
    const guard = top - 0x2000n;
    const r = k.userAccess(0, t, guard, Access.Write, 7);
    expect(r.ok).toBe(false);
    expect(w.process(t)!.exception).toBe(STATUS_STACK_OVERFLOW);
    // *StackLimit = NextPage + RegionSize (the old guard page) was written before the commit failed
    expect(w.process(t)!.stack).toMatchObject({ limit: guard, overflows: 1 });
    // the old guard page lost its guard (MiAccessCheck): the handler can use it
    expect(k.virtualQuery(t, guard)).toMatchObject({ state: MemState.COMMIT, protect: RW });
    expect(k.virtualQuery(t, guard - 0x1000n)).toMatchObject({ state: MemState.RESERVE });
    expect(k.userAccess(0, t, guard, Access.Write, 7).ok).toBe(true);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("VirtualQuery at the top of user space (WRK queryvm.c NtQueryVirtualMemory)", () => {
  it("x64: a free range with no VAD above ends at MM_HIGHEST_VAD_ADDRESS + 1 (0x7FFFFFFE0000)", () => {
    const { k, t } = winKernel();
    expect(k.virtualQuery(t, 0x7fff_0000_0000n)).toMatchObject({
      state: MemState.FREE,
      baseAddress: 0x7fff_0000_0000n,
      regionSize: 0x7fff_fffe_0000n - 0x7fff_0000_0000n,
      allocationBase: 0n,
      type: 0,
    });
  });

  it("x64: above MM_HIGHEST_VAD_ADDRESS 'a reserved area from this point on', read-only allocation, no access", () => {
    const { k, t } = winKernel();
    expect(k.virtualQuery(t, 0x7fff_fffe_1234n)).toEqual({
      baseAddress: 0x7fff_fffe_1000n,
      allocationBase: 0x7fff_fffe_0000n,
      allocationProtect: PageProt.READONLY,
      regionSize: 0x7fff_ffff_0000n - 0x7fff_fffe_1000n,
      state: MemState.RESERVE,
      protect: PageProt.NOACCESS,
      type: MemState.PRIVATE,
    });
    // MM_HIGHEST_USER_ADDRESS 0x7FFFFFFEFFFF is the last byte answered; above it, STATUS_INVALID_PARAMETER
    expect(k.virtualQuery(t, 0x7fff_fffe_ffffn)!.regionSize).toBe(0x1000n);
    expect(k.virtualQuery(t, 0x7fff_ffff_0000n)).toBeNull();
    expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
  });

  it("x86 2G: KUSER_SHARED_DATA at 0x7FFE0000 is the first page above MM_HIGHEST_VAD_ADDRESS; the page after it is the reserved area", () => {
    const { k, t } = winKernel({ arch: "i386" });
    expect(k.virtualQuery(t, 0x7ffe_0000n)).toMatchObject({
      allocationBase: 0x7ffe_0000n,
      state: MemState.COMMIT,
      protect: PageProt.READONLY,
      regionSize: 0x1000n,
    });
    expect(k.virtualQuery(t, 0x7ffe_1000n)).toMatchObject({
      allocationBase: 0x7ffe_0000n,
      allocationProtect: PageProt.READONLY,
      state: MemState.RESERVE,
      protect: PageProt.NOACCESS,
      regionSize: 0xf000n,
      type: MemState.PRIVATE,
    });
    expect(k.virtualQuery(t, 0x7000_0000n)).toMatchObject({ state: MemState.FREE, regionSize: 0xffe_0000n });
  });
});

describe("an instruction fetch from a page not yet valid (WRK mmfault.c; Wine kernel32 test_atl_thunk_emulation)", () => {
  it("x64: a RW|GUARD page raises STATUS_GUARD_PAGE_VIOLATION first, then the retried fetch the DEP access violation", () => {
    const { k, t } = winKernel();
    k.catchExceptions(t);
    const w = k.view.windows()!;
    const a = k.virtualAlloc(t, 0n, 0x1000n, true, true, RW | PageProt.GUARD);
    expect(k.userAccess(0, t, a + 0x10n, Access.Exec).ok).toBe(false);
    expect(w.process(t)).toMatchObject({ exception: STATUS_GUARD_PAGE_VIOLATION, exceptionRw: 8 });
    expect(k.virtualQuery(t, a)!.protect).toBe(RW);
    // the second fetch resolves the demand-zero page (one fault), then NX refuses the valid PTE
    expect(k.userAccess(0, t, a + 0x10n, Access.Exec)).toMatchObject({ ok: false, faults: 2 });
    expect(w.process(t)).toMatchObject({ exception: STATUS_ACCESS_VIOLATION, exceptionRw: 8 });
    expect(w.process(t)).toMatchObject({ privatePages: 1, workingSet: 1 });
    expect(k.view.invariants()).toEqual([]);
  });

  it("x64: a fetch from a fresh RW page makes it valid (a demand-zero fault) before the access violation", () => {
    const { k, t } = winKernel();
    k.catchExceptions(t);
    const w = k.view.windows()!;
    const a = k.virtualAlloc(t, 0n, 0x1000n, true, true, RW);
    expect(k.userAccess(0, t, a, Access.Exec)).toMatchObject({ ok: false, faults: 2 });
    expect(w.process(t)).toMatchObject({
      exception: STATUS_ACCESS_VIOLATION,
      exceptionRw: 8,
      privatePages: 1,
    });
    expect(w.paging().demandZeroFaults).toBeGreaterThan(0);
    // PAGE_NOACCESS stays an access violation at once (MiCheckVirtualAddress / MiAccessCheck)
    const n = k.virtualAlloc(t, 0n, 0x1000n, true, true, PageProt.NOACCESS);
    expect(k.userAccess(0, t, n, Access.Exec)).toMatchObject({ ok: false, faults: 1 });
    expect(w.process(t)).toMatchObject({ exception: STATUS_ACCESS_VIOLATION, exceptionRw: 8 });
  });

  it("i386 (32-bit paging, no NX): the #PF has no I/D bit, so the exception records a read (EXCEPTION_READ_FAULT, 0)", () => {
    const { k, t } = winKernel({ arch: "i386" });
    k.catchExceptions(t);
    const w = k.view.windows()!;
    const g = k.virtualAlloc(t, 0n, 0x1000n, true, true, RW | PageProt.GUARD);
    expect(k.userAccess(0, t, g, Access.Exec).ok).toBe(false);
    expect(w.process(t)).toMatchObject({ exception: STATUS_GUARD_PAGE_VIOLATION, exceptionRw: 0 });
    const n = k.virtualAlloc(t, 0n, 0x1000n, true, true, PageProt.NOACCESS);
    expect(k.userAccess(0, t, n, Access.Exec).ok).toBe(false);
    expect(w.process(t)).toMatchObject({ exception: STATUS_ACCESS_VIOLATION, exceptionRw: 0 });
  });
});

describe("VirtualProtect keeps a page's caching ('PAGE_NOCACHE cannot be set per page in recent Windows': Wine kernel32 test_VirtualAlloc)", () => {
  it("a PAGE_NOCACHE allocation stays PAGE_NOCACHE; a plain one asked for PAGE_NOCACHE does not get it", () => {
    const { k, t } = winKernel();
    const NC = PageProt.NOCACHE;
    const RO = PageProt.READONLY;
    const a = k.virtualAlloc(t, 0n, 0x2000n, false, true, RW | NC);
    expect(k.virtualQuery(t, a)).toMatchObject({
      allocationProtect: RW | NC,
      regionSize: 0x2000n,
      protect: RW | NC,
    });
    // VirtualProtect(addr1, 0x1000, PAGE_READWRITE): old RW|NOCACHE; both pages still RW|NOCACHE, one region
    expect(k.virtualProtect(t, a, 0x1000n, RW)).toBe(RW | NC);
    expect(k.virtualQuery(t, a)).toMatchObject({ regionSize: 0x2000n, protect: RW | NC });
    // PAGE_READONLY: the first page READONLY|NOCACHE, a region of its own
    expect(k.virtualProtect(t, a, 0x1000n, RO)).toBe(RW | NC);
    expect(k.virtualQuery(t, a)).toMatchObject({
      regionSize: 0x1000n,
      protect: RO | NC,
      allocationProtect: RW | NC,
    });
    const b = k.virtualAlloc(t, 0n, 0x2000n, false, true, RW);
    expect(k.virtualProtect(t, b, 0x1000n, RO | NC)).toBe(RW);
    expect(k.virtualQuery(t, b)).toMatchObject({ regionSize: 0x1000n, protect: RO, allocationProtect: RW });
    // PAGE_NOACCESS and PAGE_GUARD are set as asked on a PAGE_NOCACHE page
    expect(k.virtualProtect(t, a + 0x1000n, 0x1000n, PageProt.NOACCESS)).toBe(RW | NC);
    expect(k.virtualQuery(t, a + 0x1000n)!.protect).toBe(PageProt.NOACCESS);
    expect(k.virtualProtect(t, a + 0x1000n, 0x1000n, RW | PageProt.GUARD)).toBe(PageProt.NOACCESS);
    expect(k.virtualQuery(t, a + 0x1000n)!.protect).toBe(RW | PageProt.GUARD);
    expect(k.view.invariants()).toEqual([]);
  });
});
