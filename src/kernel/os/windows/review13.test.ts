/**
 * The Windows profile against the WRK, continued (issue #20's review of the
 * Windows kernel): each case cites the WRK source (or Windows Internals,
 * the Win32 pages) that shows Windows' behaviour; the figures are derived
 * by hand from it.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import { lastError, winKernel } from "../../windows.testkit.ts";
import { PageProt } from "./mmpte.ts";
import { MemState } from "./virtual.ts";

const RW = PageProt.READWRITE;

/** The process's last-level page tables (x64: PTs, each mapping 2 MB). */
function ptCount(k: ReturnType<typeof winKernel>["k"], t: ReturnType<typeof winKernel>["t"]): number {
  return k.view.pageTables(t).tables.filter((x) => x.level === 0).length;
}

/** The kind !pte decodes in the PTE column of va (null: the walk stopped above it). */
function pteKind(k: ReturnType<typeof winKernel>["k"], t: ReturnType<typeof winKernel>["t"], va: bigint) {
  const col = k.view.windows()!.pte(t, va).columns.find((c) => c.name === "PTE")!;
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
    expect(k.virtualQuery(t, base)).toMatchObject({ state: MemState.RESERVE, regionSize: 0x40_0000n, protect: 0 });
    // committing over an MM_DECOMMIT PTE: demand zero again, one page charged
    expect(k.virtualAlloc(t, base + 0x30_0000n, 0x1000n, false, true, RW)).toBe(base + 0x30_0000n);
    expect(pteKind(k, t, base + 0x30_0000n)).toBe("demand-zero");
    expect(k.view.windows()!.commit().total).toBe(1);
    expect(k.virtualQuery(t, base + 0x30_0000n)).toMatchObject({ state: MemState.COMMIT, regionSize: 0x1000n });
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
    expect(k.virtualQuery(t, base + 0x1f_f000n)).toMatchObject({ state: MemState.RESERVE, regionSize: 0x2000n });
    expect(k.virtualQuery(t, base + 0x20_1000n)).toMatchObject({ state: MemState.COMMIT, regionSize: 0x1f_f000n });
  });
});
