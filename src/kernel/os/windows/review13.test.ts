/**
 * The Windows profile against the WRK, continued (issue #20's review of the
 * Windows kernel): each case cites the WRK source (or Windows Internals,
 * the Win32 pages) that shows Windows' behaviour; the figures are derived
 * by hand from it.
 */
import { describe, expect, it } from "vitest";
import type { InputError } from "../../../base/errors.ts";
import { Access } from "../../../hw/access.ts";
import { runScenario } from "../../../workloads/scenario/session.ts";
import { lastError, on, twoProcs, winKernel } from "../../windows.testkit.ts";
import { PageProt } from "./mmpte.ts";
import { MemState } from "./virtual.ts";

const RW = PageProt.READWRITE;

/** The process's last-level page tables (x64: PTs, each mapping 2 MB). */
function ptCount(k: ReturnType<typeof winKernel>["k"], t: ReturnType<typeof winKernel>["t"]): number {
  return k.view.pageTables(t).tables.filter((x) => x.level === 0).length;
}

/** The kind !pte decodes in the PTE column of va (null: the walk stopped above it). */
function pteKind(k: ReturnType<typeof winKernel>["k"], t: ReturnType<typeof winKernel>["t"], va: bigint) {
  const col = k.view
    .windows()!
    .pte(t, va)
    .columns.find((c) => c.name === "PTE")!;
  return col.value === null ? null : (col.soft?.kind ?? "valid");
}

describe("MEM_DECOMMIT writes MM_DECOMMIT into every PTE of the range (WRK mm/freevm.c MiDecommitPages)", () => {
  it("a 4 MB reservation with one committed page: both page tables made, all 1024 PTEs decommitted", () => {
    const { k, t } = winKernel();
    const base = 0x1000_0000n; // 2 MB aligned: PTs for [base, base+2M) and [base+2M, base+4M)
    expect(k.virtualAlloc(t, base, 0x40_0000n, true, false, RW)).toBe(base);
    expect(k.virtualAlloc(t, base, 0x1000n, false, true, RW)).toBe(base);
    expect(k.userAccess(0, t, base, Access.Write, 1).ok).toBe(true);
    const before = ptCount(k, t);
    // the committed page's table only (KUSER_SHARED_DATA's page has its own)
    expect(pteKind(k, t, base + 0x30_0000n)).toBeNull();
    expect(k.virtualFree(t, base, 0n, false)).toBe(true);
    // MiMakePdeExistAndMakeValid at each PDE: the second 2 MB gets its table
    expect(ptCount(k, t)).toBe(before + 1);
    // the committed page, a never-committed one in the first table, and one in the made table
    expect(pteKind(k, t, base)).toBe("decommitted");
    expect(pteKind(k, t, base + 0x1000n)).toBe("decommitted");
    expect(pteKind(k, t, base + 0x30_0000n)).toBe("decommitted");
    expect(pteKind(k, t, base + 0x3f_f000n)).toBe("decommitted");
    // CommitReduction: 1024 PTEs less the 1023 that were not committed = 1
    expect(k.view.windows()!.commit().total).toBe(0);
    expect(k.virtualQuery(t, base)).toMatchObject({
      state: MemState.RESERVE,
      regionSize: 0x40_0000n,
      protect: 0,
    });
    // committing over an MM_DECOMMIT PTE: demand zero again, one page charged
    expect(k.virtualAlloc(t, base + 0x30_0000n, 0x1000n, false, true, RW)).toBe(base + 0x30_0000n);
    expect(pteKind(k, t, base + 0x30_0000n)).toBe("demand-zero");
    expect(k.view.windows()!.commit().total).toBe(1);
    expect(k.virtualQuery(t, base + 0x30_0000n)).toMatchObject({
      state: MemState.COMMIT,
      regionSize: 0x1000n,
    });
    // MEM_RELEASE clears them all and frees the tables only the reservation used
    expect(k.virtualFree(t, base, 0n, true)).toBe(true);
    expect(ptCount(k, t)).toBe(before - 1);
    expect(lastError(k, t)).toBe(0);
  });

  it("a reserve-only region never committed: decommitting a page of it makes its table (MI_INCREMENT_USED_PTES)", () => {
    const { k, t } = winKernel();
    const base = 0x2000_0000n;
    expect(k.virtualAlloc(t, base, 0x10000n, true, false, RW)).toBe(base);
    const before = ptCount(k, t);
    expect(k.virtualFree(t, base + 0x2000n, 0x1000n, false)).toBe(true);
    expect(ptCount(k, t)).toBe(before + 1);
    expect(pteKind(k, t, base + 0x2000n)).toBe("decommitted");
    // its neighbours are left zero
    expect(pteKind(k, t, base + 0x1000n)).toBe("zero");
    expect(k.view.windows()!.commit().total).toBe(0);
    expect(k.virtualQuery(t, base)).toMatchObject({ state: MemState.RESERVE, regionSize: 0x10000n });
  });

  it("a MEM_RESERVE|MEM_COMMIT region: the decommitted run reads MM_DECOMMIT, the rest committed (zero PTEs, MemCommit)", () => {
    const { k, t } = winKernel();
    const base = 0x3000_0000n;
    expect(k.virtualAlloc(t, base, 0x40_0000n, true, true, RW)).toBe(base);
    expect(k.view.windows()!.commit().total).toBe(1024);
    const before = ptCount(k, t);
    // pages 0x1ff and 0x200: the last of the first table, the first of the second
    expect(k.virtualFree(t, base + 0x1f_f000n, 0x2000n, false)).toBe(true);
    expect(ptCount(k, t)).toBe(before + 2);
    expect(pteKind(k, t, base + 0x1f_f000n)).toBe("decommitted");
    expect(pteKind(k, t, base + 0x20_0000n)).toBe("decommitted");
    expect(pteKind(k, t, base + 0x20_1000n)).toBe("zero");
    expect(k.view.windows()!.commit().total).toBe(1022);
    expect(k.virtualQuery(t, base + 0x1f_f000n)).toMatchObject({
      state: MemState.RESERVE,
      regionSize: 0x2000n,
    });
    expect(k.virtualQuery(t, base + 0x20_1000n)).toMatchObject({
      state: MemState.COMMIT,
      regionSize: 0x1f_f000n,
    });
  });
});

describe("page priority and the eight standby lists (Windows Internals 7th ed., Part 1, ch. 5 'Page priority')", () => {
  const paging = (k: ReturnType<typeof twoProcs>["k"]) => k.view.windows()!.paging();

  it("a page takes the faulting thread's priority; repurposing takes the lowest-priority list first, not the oldest page", () => {
    const { k, a, b } = twoProcs({ pagefileBytes: 16 << 20 });
    // MEMORY_PRIORITY_LOW (2) for a; b keeps MEMORY_PRIORITY_NORMAL (5)
    expect(k.setMemoryPriority(a, false, 2)).toBe(0);
    expect(k.view.windows()!.process(a)!.memoryPriority).toBe(2);
    const free = paging(k).free;
    on(k, b);
    const big = BigInt(free + 64) * 4096n;
    const pb = k.virtualAlloc(b, 0n, big, true, true, RW);
    // b's minimum as big as the allocation: the working-set manager may not trim it
    expect(k.setWorkingSetSize(b, big, big, 0)).toBe(0);
    // b's two pages first: the oldest on standby
    for (const i of [0n, 1n]) expect(k.userAccess(0, b, pb + i * 4096n, Access.Write, 0x50).ok).toBe(true);
    on(k, a);
    const pa = k.virtualAlloc(a, 0n, 0x2000n, true, true, RW);
    for (const i of [0n, 1n]) expect(k.userAccess(0, a, pa + i * 4096n, Access.Write, 0x20).ok).toBe(true);
    const pfnA = k.view.page(a, Number(pa / 4096n)).pfn;
    const pfnB = k.view.page(b, Number(pb / 4096n)).pfn;
    expect(k.view.windows()!.pfn(pfnA)!.priority).toBe(2);
    expect(k.view.windows()!.pfn(pfnB)!.priority).toBe(5);
    k.trim(b, false);
    k.trim(a, false);
    k.modifiedPageWriter(); // the four pages written: on standby, b's two oldest
    expect(paging(k).standbyByPriority).toEqual([0, 0, 2, 0, 0, 2, 0, 0]);
    // b faults until two standby pages were repurposed: a's two (priority 2), though b's are older
    on(k, b);
    let i = 2n;
    while (paging(k).standby > 2 && i < BigInt(free + 64))
      expect(k.userAccess(0, b, pb + i++ * 4096n, Access.Write, 1).ok).toBe(true);
    expect(paging(k)).toMatchObject({ standby: 2, repurposed: 2 });
    expect(paging(k).standbyByPriority).toEqual([0, 0, 0, 0, 0, 2, 0, 0]);
    expect(paging(k).repurposedByPriority).toEqual([0, 0, 2, 0, 0, 0, 0, 0]);
    // b's pages are still in memory (a soft fault); a's come back from the paging file (a hard fault)
    const reads = paging(k).pageReads;
    expect(k.userAccess(0, b, pb, Access.Read)).toMatchObject({ ok: true, value: 0x50 });
    expect(paging(k).pageReads).toBe(reads);
    on(k, a);
    expect(k.userAccess(0, a, pa, Access.Read)).toMatchObject({ ok: true, value: 0x20 });
    expect(paging(k).pageReads).toBe(reads + 1);
    expect(k.view.invariants()).toEqual([]);
  });

  it("ThreadMemoryPriority: a thread's own priority for its faults; the process's for the others; 6 is refused (87)", () => {
    const { k, a } = twoProcs();
    const t = k.thread(a, "worker")!;
    // the process's first: NtSetInformationProcess would overwrite the thread's (review14.test)
    expect(k.setMemoryPriority(a, false, 3)).toBe(0);
    expect(k.setMemoryPriority(t, true, 1)).toBe(0);
    expect(k.setMemoryPriority(a, false, 6)).toBe(87);
    expect(lastError(k, a)).toBe(87);
    const p = k.virtualAlloc(a, 0n, 0x2000n, true, true, RW);
    expect(k.userAccess(0, a, p, Access.Write, 1).ok).toBe(true);
    on(k, t);
    expect(k.userAccess(0, t, p + 0x1000n, Access.Write, 1).ok).toBe(true);
    const prio = (va: bigint) => k.view.windows()!.pfn(k.view.page(a, Number(va / 4096n)).pfn)!.priority;
    expect(prio(p)).toBe(3);
    expect(prio(p + 0x1000n)).toBe(1);
    k.trim(a, false);
    k.modifiedPageWriter();
    expect(paging(k).standbyByPriority).toEqual([0, 1, 0, 1, 0, 0, 0, 0]);
  });
});

describe("SetProcessInformation / SetThreadInformation in a scenario (extensions)", () => {
  const run = (body: string, machine = "machine arch=x86_64 profile=windows ram=64M") =>
    runScenario(`${machine}\n${body}`, { checkInvariants: true });

  it("print TRUE and the priorities, FALSE with GetLastError; the thread's faults take its own priority", () => {
    const r = run(
      "spawn A\nA: thread T\nA: r = SetProcessInformation ProcessMemoryPriority MEMORY_PRIORITY_LOW\nT: s = SetThreadInformation ThreadMemoryPriority 1\nA: q = SetProcessInformation ProcessMemoryPriority 6\nA: a = VirtualAlloc 8K reserve+commit\nA: write a\nT: write a+4K\nlet f = pfn(A, a)\nlet g = pfn(A, a+4K)\nshow pfn f\nshow pfn g\n",
    );
    expect(r.statements[3].output.at(-1)).toBe("r = 1 (process memory priority 2; the process's 2)");
    expect(r.statements[4].output.at(-1)).toBe("s = 1 (thread memory priority 1; the process's 2)");
    expect(r.statements[5].output.at(-1)).toBe("q = 0 (FALSE: GetLastError 87 ERROR_INVALID_PARAMETER)");
    expect(r.statements[11].output.join("\n")).toMatch(/Priority 2\n/);
    expect(r.statements[12].output.join("\n")).toMatch(/Priority 1\n/);
    expect(r.failed).toBe(0);
  });

  it("bad forms are errors at their column; the Linux profile has neither", () => {
    const err = (body: string, machine?: string) => {
      try {
        run(body, machine);
      } catch (e) {
        return (e as InputError).format();
      }
      return "no error";
    };
    expect(err("spawn A\nA: SetProcessInformation ProcessFoo 1\n")).toMatch(
      /:3:26: SetProcessInformation: only ProcessMemoryPriority is modelled, not 'ProcessFoo'/,
    );
    expect(err("spawn A\nA: SetThreadInformation ThreadMemoryPriority MEMORY_PRIORITY_HIGH\n")).toMatch(
      /:3:46: unknown memory priority 'MEMORY_PRIORITY_HIGH'/,
    );
    expect(err("spawn A\nA: SetProcessInformation ProcessMemoryPriority 1\n", "machine arch=x86_64")).toMatch(
      /'SetProcessInformation' is the windows profile's/,
    );
  });
});

describe("VirtualAlloc MEM_LARGE_PAGES (WRK allocvm.c, MiAllocateLargePages; freevm.c; protect.c)", () => {
  const LARGE = 0x2000_0000;
  const RC = 0x1000 | 0x2000; // MEM_COMMIT | MEM_RESERVE
  const RWX = PageProt.READWRITE;

  it("the type, the privilege and the size are checked in the WRK's order", () => {
    const { k, t } = winKernel();
    // "Large page address spaces must be committed and cannot be combined with ... write watch"
    expect(k.virtualAllocType(t, 0n, 0x20_0000n, 0x2000 | LARGE, RWX)).toBe(0n);
    expect(lastError(k, t)).toBe(87);
    expect(k.virtualAllocType(t, 0n, 0x20_0000n, RC | 0x20_0000 | LARGE, RWX)).toBe(0n);
    expect(lastError(k, t)).toBe(87);
    // STATUS_PRIVILEGE_NOT_HELD before the size is looked at
    expect(k.virtualAllocType(t, 0n, 0x10_0000n, RC | LARGE, RWX)).toBe(0n);
    expect(lastError(k, t)).toBe(1314);
    k.setLockMemoryPrivilege(t, true);
    // not a multiple of GetLargePageMinimum (2 MB on x64): STATUS_INVALID_PARAMETER_4
    expect(k.view.windows()!.largePageMinimum()).toBe(0x20_0000n);
    expect(k.virtualAllocType(t, 0n, 0x10_0000n, RC | LARGE, RWX)).toBe(0n);
    expect(lastError(k, t)).toBe(87);
    expect(k.view.windows()!.commit().total).toBe(0);
  });

  it("4 MB: two large-page PDEs (PS), zeroed, valid at once, in no working set, never trimmed", () => {
    const { k, t } = winKernel();
    k.setLockMemoryPrivilege(t, true);
    const free = k.view.windows()!.paging().free;
    // no address: the first free range aligned to 2 MB (0x10000 is not)
    const a = k.virtualAllocType(t, 0n, 0x40_0000n, RC | LARGE, RWX);
    expect(a).toBe(0x20_0000n);
    expect(k.view.windows()!.commit().total).toBe(1024);
    // 1024 frames and one table: the PD for the first GB (the PDPT is KUSER_SHARED_DATA's); no PT below the PDEs
    expect(free - k.view.windows()!.paging().free).toBe(1025);
    const pde = k.view
      .windows()!
      .pte(t, a + 0x20_1234n)
      .columns.find((c) => c.name === "PDE")!;
    expect(pde.flags).toContain("L");
    expect(pde.value! & 0x80n).toBe(0x80n); // PS
    // zeroed, and a write and a read take no fault
    expect(k.userAccess(0, t, a + 0x3f_fff0n, Access.Read)).toMatchObject({ ok: true, value: 0, faults: 0 });
    expect(k.userAccess(0, t, a + 0x1234n, Access.Write, 0x5a)).toMatchObject({ ok: true, faults: 0 });
    expect(k.view.windows()!.process(t)!.workingSet).toBe(0);
    // trim takes nothing: the pages are nonpageable
    expect(k.trim(t, true).trimmed).toBe(0);
    expect(k.userAccess(0, t, a + 0x1234n, Access.Read)).toMatchObject({ ok: true, value: 0x5a, faults: 0 });
    // QueryWorkingSetEx: Valid 1, ShareCount 0, PAGE_READWRITE (4 << 4), Locked (bit 22), LargePage (bit 23)
    expect(k.queryWorkingSetEx(t, a).flags).toBe(0x5c0_0041);
    expect(k.virtualQuery(t, a + 0x1000n)).toMatchObject({
      state: MemState.COMMIT,
      regionSize: 0x3f_f000n,
      protect: 4,
    });
    expect(k.view.invariants()).toEqual([]);
    // MEM_COMMIT in it and MEM_DECOMMIT of it: 487; VirtualProtect: the same protection only
    expect(k.virtualAlloc(t, a, 0x1000n, false, true, RWX)).toBe(0n);
    expect(lastError(k, t)).toBe(487);
    expect(k.virtualFree(t, a, 0x1000n, false)).toBe(false);
    expect(lastError(k, t)).toBe(487);
    expect(k.virtualProtect(t, a, 0x1000n, RWX)).toBe(RWX);
    expect(k.virtualProtect(t, a, 0x1000n, PageProt.READONLY)).toBe(-1);
    expect(lastError(k, t)).toBe(487);
    // MEM_RELEASE: the frames back, the charge returned
    expect(k.virtualFree(t, a, 0n, true)).toBe(true);
    expect(k.view.windows()!.commit().total).toBe(0);
    // the PD goes too: nothing else lies in the first GB
    expect(k.view.windows()!.paging().free).toBe(free);
    expect(k.view.invariants()).toEqual([]);
  });

  it("an address is aligned down to 2 MB; no contiguous memory is ERROR_NO_SYSTEM_RESOURCES, nothing left", () => {
    const { k, t } = winKernel({ pagefileBytes: 64 << 20 });
    k.setLockMemoryPrivilege(t, true);
    expect(k.virtualAllocType(t, 0x1010_0000n, 0x20_0000n, RC | LARGE, RWX)).toBe(0x1000_0000n);
    // 48 MB charged (the paging file makes the limit), but 32 MB of RAM: STATUS_INSUFFICIENT_RESOURCES
    expect(k.virtualAllocType(t, 0n, 0x300_0000n, RC | LARGE, RWX)).toBe(0n);
    expect(lastError(k, t)).toBe(1450);
    expect(k.view.windows()!.commit().total).toBe(512);
    expect(k.view.windows()!.vads(t)).toHaveLength(1);
    expect(k.view.invariants()).toEqual([]);
    // process exit releases the large pages with the VAD (MmCleanProcessAddressSpace)
    const free = k.view.windows()!.paging().free;
    k.exit(t, "done");
    expect(k.view.windows()!.commit().total).toBe(0);
    expect(k.view.windows()!.paging().free).toBeGreaterThan(free + 511);
    expect(k.view.invariants()).toEqual([]);
  });
});
