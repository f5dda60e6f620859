import { describe, expect, it } from "vitest";
import { mmapArgs } from "../../Kernel.ts";
import { lastError, winKernel } from "../../windows.testkit.ts";
import { MmProt, PageProt } from "./mmpte.ts";
import { getPte } from "./process.ts";
import { MemState, WinError } from "./virtual.ts";

const RW = PageProt.READWRITE;

describe("VirtualAlloc: rounding (the VirtualAlloc page)", () => {
  it("a reservation's base rounds down to 64 KB; it covers every page the range touches", () => {
    const { k, t } = winKernel();
    // [0x12345, 0x13345) touches pages 0x12 and 0x13: the VAD is 0x10000 .. 0x14000
    expect(k.virtualAlloc(t, 0x12345n, 0x1000n, true, false, RW)).toBe(0x10000n);
    const q = k.virtualQuery(t, 0x10000n)!;
    expect(q).toMatchObject({ baseAddress: 0x10000n, allocationBase: 0x10000n, state: MemState.RESERVE });
    expect(q.regionSize).toBe(0x4000n);
    expect(k.virtualQuery(t, 0x14000n)!.state).toBe(MemState.FREE);
  });

  it("without an address: the size rounds up to pages, the base is the first free 64 KB boundary from 0x10000", () => {
    const { k, t } = winKernel();
    expect(k.virtualAlloc(t, 0n, 5000n, true, false, RW)).toBe(0x10000n);
    expect(k.virtualQuery(t, 0x10000n)!.regionSize).toBe(0x2000n);
    // the next reservation cannot start inside the first's 64 KB: 0x20000
    expect(k.virtualAlloc(t, 0n, 1n, true, false, RW)).toBe(0x20000n);
    // MEM_COMMIT with no address reserves too
    expect(k.virtualAlloc(t, 0n, 4096n, false, true, RW)).toBe(0x30000n);
    expect(k.virtualQuery(t, 0x30000n)).toMatchObject({ state: MemState.COMMIT, allocationBase: 0x30000n });
  });

  it("a commit rounds down to the page and covers a range straddling a page boundary with both pages", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x10000n, true, false, RW);
    expect(k.virtualAlloc(t, a + 0x1fffn, 2n, false, true, RW)).toBe(a + 0x1000n);
    expect(k.view.windows()!.pages(t, Number(a / 4096n), 16).committed).toBe(2);
    expect(k.view.windows()!.commit().total).toBe(2);
    // committing committed pages again succeeds and charges nothing more
    expect(k.virtualAlloc(t, a + 0x1000n, 0x2000n, false, true, RW)).toBe(a + 0x1000n);
    expect(k.view.windows()!.commit().total).toBe(2);
  });

  it("committed in a reservation: a demand-zero PTE (Protection only, bits 5..9) and no frame", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x10000n, true, false, RW);
    k.virtualAlloc(t, a, 4096n, false, true, PageProt.READONLY);
    const pte = getPte(k, t.mm!, Number(a / 4096n));
    expect(pte).toMatchObject({ hi: 0, lo: MmProt.READONLY << 5 });
    expect(k.view.windows()!.vads(t)[0]).toMatchObject({ committedPages: 1, residentPages: 0 });
  });
});

describe("VirtualAlloc: failures and GetLastError", () => {
  it("the first 64 KB is refused (ERROR_INVALID_PARAMETER); 0x10000 is the lowest base", () => {
    const { k, t } = winKernel();
    for (const at of [0x1000n, 0xffffn, 1n]) {
      expect(k.virtualAlloc(t, at, 4096n, true, false, RW)).toBe(0n);
      expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
    }
    expect(k.virtualAlloc(t, 0x10000n, 4096n, true, false, RW)).toBe(0x10000n);
  });

  it("a reservation overlapping another is ERROR_INVALID_ADDRESS; so is a commit outside one", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0x100000n, 0x20000n, true, false, RW);
    expect(k.virtualAlloc(t, 0x110000n, 4096n, true, false, RW)).toBe(0n);
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
    // commit of a free range, and of a range running past the reservation's end
    expect(k.virtualAlloc(t, 0x200000n, 4096n, false, true, RW)).toBe(0n);
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
    expect(k.virtualAlloc(t, a + 0x1f000n, 0x2000n, false, true, RW)).toBe(0n);
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
    expect(k.view.windows()!.commit().total).toBe(0);
  });

  it("bad arguments are ERROR_INVALID_PARAMETER: size 0, no type, write-copy, NOACCESS with GUARD, past the highest VAD address", () => {
    const { k, t } = winKernel();
    const cases: [bigint, bigint, boolean, boolean, number][] = [
      [0n, 0n, true, false, RW],
      [0n, 4096n, false, false, RW],
      [0n, 4096n, true, true, PageProt.WRITECOPY],
      [0n, 4096n, true, true, PageProt.EXECUTE_WRITECOPY],
      [0n, 4096n, true, true, PageProt.NOACCESS | PageProt.GUARD],
      [0n, 4096n, true, true, 0],
      [0n, 4096n, true, true, PageProt.READONLY | PageProt.READWRITE],
      // MM_HIGHEST_VAD_ADDRESS + 1 on x64 is 0x7FFFFFFE0000
      [0x7fff_fffe_0000n, 4096n, true, false, RW],
      [0x7fff_fffd_0000n, 0x20000n, true, false, RW],
    ];
    for (const [at, size, r, c, p] of cases) {
      expect(k.virtualAlloc(t, at, size, r, c, p), `${at} ${size} ${p}`).toBe(0n);
      expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
    }
    expect(k.virtualAlloc(t, 0x7fff_fffd_0000n, 0x10000n, true, false, RW)).toBe(0x7fff_fffd_0000n);
  });

  it("no free range of the size is ERROR_NOT_ENOUGH_MEMORY (x86 2G: 1.5 GB then 1 GB)", () => {
    const { k, t } = winKernel({ arch: "i386" });
    expect(k.virtualAlloc(t, 0n, 0x6000_0000n, true, false, RW)).toBe(0x10000n);
    expect(k.virtualAlloc(t, 0n, 0x4000_0000n, true, false, RW)).toBe(0n);
    expect(lastError(k, t)).toBe(WinError.NOT_ENOUGH_MEMORY);
    // a size larger than all of user space is a bad parameter
    expect(k.virtualAlloc(t, 0n, 0x8000_0000n, true, false, RW)).toBe(0n);
    expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
  });

  it("no overcommit: a commit past RAM + pagefile is ERROR_COMMITMENT_LIMIT, at the commit, before any touch", () => {
    const { k, t } = winKernel();
    const limit = k.view.windows()!.commit().limit;
    expect(limit).toBe((32 << 20) / 4096);
    const big = BigInt(limit + 1) * 4096n;
    expect(k.virtualAlloc(t, 0n, big, true, true, RW)).toBe(0n);
    expect(lastError(k, t)).toBe(WinError.COMMITMENT_LIMIT);
    expect(k.view.windows()!.vads(t)).toEqual([]);
    // reserving is free: then committing it fails the same way
    const a = k.virtualAlloc(t, 0n, big, true, false, RW);
    expect(a).not.toBe(0n);
    expect(k.virtualAlloc(t, a, big, false, true, RW)).toBe(0n);
    expect(lastError(k, t)).toBe(WinError.COMMITMENT_LIMIT);
    expect(k.view.windows()!.commit().total).toBe(0);
    // a paging file raises the limit
    const w = winKernel({ pagefileBytes: 16 << 20 });
    expect(w.k.view.windows()!.commit().limit).toBe(limit + 4096);
    expect(w.k.virtualAlloc(w.t, 0n, big, true, true, RW)).not.toBe(0n);
    expect(w.k.view.windows()!.commit().total).toBe(limit + 1);
  });
});

describe("VirtualFree", () => {
  it("MEM_RELEASE needs size 0 (ERROR_INVALID_PARAMETER) and the base (ERROR_INVALID_ADDRESS); it returns the charge", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x8000n, true, true, RW);
    expect(k.virtualFree(t, a, 0x8000n, true)).toBe(false);
    expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
    expect(k.virtualFree(t, a + 0x1000n, 0n, true)).toBe(false);
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
    expect(k.view.windows()!.commit().total).toBe(8);
    expect(k.virtualFree(t, a, 0n, true)).toBe(true);
    expect(k.view.windows()!.commit().total).toBe(0);
    expect(k.virtualQuery(t, a)!.state).toBe(MemState.FREE);
    // released: a second release finds nothing
    expect(k.virtualFree(t, a, 0n, true)).toBe(false);
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
  });

  it("MEM_DECOMMIT: the pages touching the range; size 0 only at the base; not past the reservation", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x10000n, true, true, RW);
    expect(k.virtualFree(t, a + 0xfffn, 2n, false)).toBe(true); // pages 0 and 1
    expect(k.view.windows()!.pages(t, Number(a / 4096n), 16).committed).toBe(14);
    expect(k.view.windows()!.commit().total).toBe(14);
    // decommitting uncommitted pages does not fail and returns nothing
    expect(k.virtualFree(t, a, 0x2000n, false)).toBe(true);
    expect(k.view.windows()!.commit().total).toBe(14);
    expect(k.virtualFree(t, a + 0x1000n, 0n, false)).toBe(false);
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
    // past the reservation: STATUS_UNABLE_TO_FREE_VM, ERROR_INVALID_PARAMETER (review12.test.ts)
    expect(k.virtualFree(t, a + 0xf000n, 0x2000n, false)).toBe(false);
    expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
    expect(k.virtualFree(t, a, 0n, false)).toBe(true);
    expect(k.view.windows()!.commit().total).toBe(0);
    expect(k.virtualQuery(t, a)).toMatchObject({ state: MemState.RESERVE, regionSize: 0x10000n });
  });

  it("a decommitted page of a VAD committed at creation gets an MM_DECOMMIT PTE; its frame is freed", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x2000n, true, true, RW);
    expect(k.userAccess(0, t, a, 1, 7).ok).toBe(true);
    const free0 = k.view.meminfo().MemFree;
    expect(k.virtualFree(t, a, 4096n, false)).toBe(true);
    expect(getPte(k, t.mm!, Number(a / 4096n))).toMatchObject({ hi: 0, lo: MmProt.DECOMMIT << 5 });
    expect(k.view.meminfo().MemFree).toBe(free0 + 4096);
    // the other page, all-zero PTE in a MemCommit VAD, is still committed
    expect(getPte(k, t.mm!, Number(a / 4096n) + 1)).toMatchObject({ hi: 0, lo: 0 });
    expect(k.virtualQuery(t, a + 0x1000n)!.state).toBe(MemState.COMMIT);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("VirtualProtect and VirtualQuery", () => {
  it("returns the first page's old protection; uncommitted pages and two reservations are ERROR_INVALID_ADDRESS", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0x100000n, 0x10000n, true, false, RW);
    const b = k.virtualAlloc(t, 0x110000n, 0x10000n, true, true, RW);
    k.virtualAlloc(t, a, 0x2000n, false, true, PageProt.READONLY);
    expect(k.virtualProtect(t, a, 0x2000n, PageProt.EXECUTE_READ)).toBe(PageProt.READONLY);
    expect(k.virtualQuery(t, a)).toMatchObject({ protect: PageProt.EXECUTE_READ, regionSize: 0x2000n });
    expect(k.virtualProtect(t, a, 0x3000n, RW)).toBe(-1); // page 2 is not committed
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
    expect(k.virtualProtect(t, b - 0x1000n, 0x2000n, RW)).toBe(-1); // spans two reservations
    expect(lastError(k, t)).toBe(WinError.INVALID_ADDRESS);
    expect(k.virtualProtect(t, b, 0x1000n, PageProt.WRITECOPY)).toBe(-1);
    expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
    // protections split the reservation into regions for VirtualQuery
    expect(k.virtualProtect(t, b + 0x4000n, 1n, PageProt.NOACCESS)).toBe(RW);
    expect(k.virtualQuery(t, b)!.regionSize).toBe(0x4000n);
    expect(k.virtualQuery(t, b + 0x4000n)).toMatchObject({ protect: PageProt.NOACCESS, regionSize: 0x1000n });
    expect(k.virtualQuery(t, b + 0x5000n)).toMatchObject({ protect: RW, regionSize: 0xb000n });
  });

  it("a free range runs to the next reservation; above the highest user address is ERROR_INVALID_PARAMETER", () => {
    const { k, t } = winKernel();
    k.virtualAlloc(t, 0x100000n, 0x1000n, true, false, RW);
    expect(k.virtualQuery(t, 0x20000n)).toMatchObject({
      state: MemState.FREE,
      baseAddress: 0x20000n,
      regionSize: 0xe0000n,
      protect: PageProt.NOACCESS,
      allocationBase: 0n,
    });
    expect(k.virtualQuery(t, 0x7fff_ffff_0000n)).toBeNull();
    expect(lastError(k, t)).toBe(WinError.INVALID_PARAMETER);
  });
});

describe("a reservation of terabytes", () => {
  it("costs what its page tables hold: query, count, commit inside, decommit and release", () => {
    const { k, t } = winKernel();
    const T = 1n << 40n;
    const a = k.virtualAlloc(t, 0n, 100n * T, true, false, RW);
    // not from 0x10000: KUSER_SHARED_DATA's page at 0x7FFE0000 is in the way (x64); the next 64 KB above it
    expect(a).toBe(0x7fff0000n);
    expect(k.virtualQuery(t, a)).toMatchObject({ state: MemState.RESERVE, regionSize: 100n * T });
    const mid = a + 50n * T;
    expect(k.virtualAlloc(t, mid, 0x3000n, false, true, RW)).toBe(mid);
    expect(k.virtualQuery(t, a)!.regionSize).toBe(50n * T);
    expect(k.virtualQuery(t, mid)).toMatchObject({ state: MemState.COMMIT, regionSize: 0x3000n });
    expect(k.virtualQuery(t, mid + 0x3000n)!.regionSize).toBe(a + 100n * T - mid - 0x3000n);
    const w = k.view.windows()!;
    expect(w.pages(t, Number(a / 4096n), Number((100n * T) / 4096n))).toEqual({
      committed: 3,
      reserved: Number((100n * T) / 4096n),
    });
    // MEM_DECOMMIT writes MM_DECOMMIT into every PTE of the range (MiDecommitPages): 100 TB needs
    // 2^35 / 512 page tables, more than RAM holds: ERROR_NOT_ENOUGH_MEMORY (8), nothing decommitted
    const tables = k.view.pageTables(t).tables.length;
    expect(k.virtualFree(t, a, 100n * T, false)).toBe(false);
    expect(k.view.windows()!.process(t)!.lastError).toBe(8);
    expect(k.view.pageTables(t).tables.length).toBe(tables);
    expect(w.commit().total).toBe(3);
    expect(k.virtualFree(t, mid, 0x3000n, false)).toBe(true);
    expect(w.commit().total).toBe(0);
    // reserved and committed at once: every page committed, none with a PTE
    const b = k.virtualAlloc(t, 0n, 16n << 20n, true, true, RW);
    expect(b).toBe(0x10000n);
    expect(w.vads(t)[0]).toMatchObject({ committedPages: 4096, residentPages: 0, commitCharge: 4096 });
    expect(k.virtualFree(t, b, 0n, true)).toBe(true);
    expect(k.virtualFree(t, a, 0n, true)).toBe(true);
    expect(w.commit().total).toBe(0);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("the facade in the windows profile", () => {
  it("refuses Linux's memory calls and fork (the address space is the VAD tree's)", () => {
    const { k, t } = winKernel();
    expect(() => k.mmap(t, mmapArgs(4096))).toThrow(/mmap is Linux's; profile=windows has VirtualAlloc/);
    expect(() => k.fork(t, "child")).toThrow(/fork is Linux's/);
    expect(() => k.brk(t, 4096n)).toThrow(/brk is Linux's/);
    expect(k.view.vmas(t)).toEqual([]);
  });
});

describe("PAGE_NOCACHE and PAGE_WRITECOMBINE in the valid PTE (MmProtectToPteMask)", () => {
  it("PAGE_NOCACHE sets PCD (bit 4), PAGE_WRITECOMBINE PWT (bit 3, the PAT's write-combining entry); !pte shows N and T", () => {
    for (const arch of ["x86_64", "i386", "i386-pae"] as const) {
      const { k, t } = winKernel({ arch });
      const a = k.virtualAlloc(t, 0n, 0x3000n, true, true, RW | PageProt.NOCACHE);
      k.userAccess(0, t, a, 1, 0x12);
      const pte = getPte(k, t.mm!, Number(a / 4096n));
      expect(pte.lo & 0x18, arch).toBe(0x10);
      expect(k.virtualQuery(t, a)!.protect).toBe(RW | PageProt.NOCACHE);
      // VirtualProtect remakes the valid PTE, its caching kept ("PAGE_NOCACHE cannot be set per page": review12.test.ts)
      expect(k.virtualProtect(t, a, 0x1000n, PageProt.READONLY | PageProt.WRITECOMBINE)).toBe(
        RW | PageProt.NOCACHE,
      );
      expect(getPte(k, t.mm!, Number(a / 4096n)).lo & 0x18, arch).toBe(0x10);
      expect(k.virtualProtect(t, a, 0x1000n, RW)).toBe(PageProt.READONLY | PageProt.NOCACHE);
      // a write-combined allocation: PWT
      const c = k.virtualAlloc(t, 0n, 0x1000n, true, true, RW | PageProt.WRITECOMBINE);
      k.userAccess(0, t, c, 1, 0x34);
      expect(getPte(k, t.mm!, Number(c / 4096n)).lo & 0x18, arch).toBe(0x08);
      expect(k.view.windows()!.pte(t, c).columns.at(-1)!.flags.slice(5, 7), arch).toBe("-T");
      // a page faulted in later gets the bits of its protection too
      k.userAccess(0, t, a + 0x1000n, 0);
      expect(
        k.view
          .windows()!
          .pte(t, a + 0x1000n)
          .columns.at(-1)!
          .flags.slice(5, 7),
        arch,
      ).toBe("N-");
      expect(k.userAccess(0, t, a, 0)).toMatchObject({ ok: true, value: 0x12 });
      expect(k.view.invariants(), arch).toEqual([]);
    }
  });
});
