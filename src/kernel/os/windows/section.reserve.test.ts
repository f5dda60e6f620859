import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import { KernelImpl } from "../../KernelImpl.ts";
import { on, twoProcs } from "../../windows.testkit.ts";
import { STATUS_ACCESS_VIOLATION } from "./fault.ts";
import { PageProt } from "./mmpte.ts";
import { MemState, WinError } from "./virtual.ts";

describe("SEC_RESERVE: a paging-file-backed section whose pages VirtualAlloc commits", () => {
  it("charges nothing at creation; a view's pages are reserved (an access violation) until committed, for every view", () => {
    const { k, a, b } = twoProcs();
    const w = k.view.windows()!;
    const c0 = w.commit().total;
    const pool0 = w.paging().poolNonpagedPages;
    const h = k.createFileMapping(a, 0x4000n, PageProt.READWRITE, null, null, true);
    expect(h).toBeGreaterThan(0);
    const pool = w.paging().poolNonpagedPages - pool0;
    // only the prototype PTEs' pool page is charged, not the four pages
    expect(w.commit().total - c0).toBe(pool);
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    on(k, b);
    const vb = k.mapViewOfFile(b, h, "read", false, 0n, 0n, 0n);
    on(k, a);
    expect(k.virtualQuery(a, va)).toMatchObject({ type: MemState.MAPPED, state: MemState.RESERVE });
    k.catchExceptions(a);
    expect(k.userAccess(0, a, va + 0x1000n, Access.Write, 1).ok).toBe(false);
    expect(w.process(a)!.exception).toBe(STATUS_ACCESS_VIOLATION);
    // MEM_COMMIT of pages 1 and 2 through A's view: charged now, committed in the segment
    expect(k.virtualAlloc(a, va + 0x1000n, 0x2000n, false, true, PageProt.READWRITE)).toBe(va + 0x1000n);
    expect(w.commit().total - c0).toBe(pool + 2);
    expect(k.virtualQuery(a, va + 0x1000n)).toMatchObject({
      state: MemState.COMMIT,
      protect: PageProt.READWRITE,
    });
    expect(k.virtualQuery(a, va)).toMatchObject({ state: MemState.RESERVE });
    expect(k.userAccess(0, a, va + 0x1008n, Access.Write, 0x61).ok).toBe(true);
    // B's view sees the commit (it is the segment's) and the byte
    on(k, b);
    expect(k.virtualQuery(b, vb + 0x1000n)).toMatchObject({ state: MemState.COMMIT });
    expect(k.userAccess(0, b, vb + 0x1008n, Access.Read)).toMatchObject({ ok: true, value: 0x61 });
    k.catchExceptions(b);
    expect(k.userAccess(0, b, vb + 0x3000n, Access.Read).ok).toBe(false);
    // committing again charges nothing; a read-only view cannot commit PAGE_READWRITE
    on(k, a);
    expect(k.virtualAlloc(a, va, 0x3000n, false, true, PageProt.READWRITE)).toBe(va);
    expect(w.commit().total - c0).toBe(pool + 3);
    on(k, b);
    expect(k.virtualAlloc(b, vb + 0x3000n, 0x1000n, false, true, PageProt.READWRITE)).toBe(0n);
    expect(w.process(b)!.lastError).toBe(WinError.INVALID_PARAMETER);
    expect(k.view.invariants()).toEqual([]);
    // the segment gives its commit back with the handle and the last view
    expect(k.unmapViewOfFile(b, vb)).toBe(true);
    on(k, a);
    expect(k.unmapViewOfFile(a, va)).toBe(true);
    expect(k.closeHandle(a, h)).toBe(true);
    expect(w.commit().total).toBe(c0);
    expect(k.view.invariants()).toEqual([]);
  });

  it("has no effect on a file-backed section (SEC_RESERVE is the paging file's)", () => {
    const k = new KernelImpl({ ramBytes: 32 << 20, profile: "windows" });
    const a = k.spawn("a")!;
    k.switchTo(0, a);
    const f = k.createFile("data", 0x2000);
    const h = k.createFileMapping(a, 0n, PageProt.READONLY, f, null, true);
    const va = k.mapViewOfFile(a, h, "read", false, 0n, 0n, 0n);
    expect(k.virtualQuery(a, va)).toMatchObject({ state: MemState.COMMIT });
    expect(k.userAccess(0, a, va, Access.Read).ok).toBe(true);
  });
});
