import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import type { KernelImpl } from "../../KernelImpl.ts";
import { winKernel } from "../../windows.testkit.ts";
import { STATUS_ACCESS_VIOLATION, STATUS_GUARD_PAGE_VIOLATION, STATUS_STACK_OVERFLOW } from "./fault.ts";
import { PageProt } from "./mmpte.ts";
import { MemState } from "./virtual.ts";

/** A user read of one byte (-1: it faulted). */
function readByte(k: KernelImpl, t: Task, va: bigint): number {
  const r = k.userAccess(0, t, va, Access.Read);
  return r.ok ? r.value : -1;
}

const info = (k: KernelImpl, t: Task) => k.view.windows()!.process(t)!;

describe("a thread stack: 1 MB reserved, a page committed, a guard page below", () => {
  it("is laid out as RtlCreateUserStack makes it", () => {
    const { k, t } = winKernel();
    const top = k.createThreadStack(t, 1n << 20n, 4096n);
    const st = info(k, t).stack!;
    expect(st.base).toBe(top);
    expect(top - st.deallocation).toBe(1n << 20n);
    expect(st.limit).toBe(top - 4096n);
    expect(k.virtualQuery(t, top - 4096n)).toMatchObject({
      state: MemState.COMMIT,
      protect: PageProt.READWRITE,
    });
    expect(k.virtualQuery(t, top - 8192n)).toMatchObject({
      state: MemState.COMMIT,
      protect: PageProt.READWRITE | PageProt.GUARD,
      regionSize: 4096n,
    });
    expect(k.virtualQuery(t, st.deallocation)).toMatchObject({
      state: MemState.RESERVE,
      regionSize: (1n << 20n) - 8192n,
    });
    expect(info(k, t).commitCharge).toBe(2);
  });

  it("grows a page at a time on guard page hits, with no exception; a plain guard page still raises one", () => {
    const { k, t } = winKernel();
    const top = k.createThreadStack(t, 1n << 20n, 4096n);
    k.catchExceptions(t);
    for (let i = 2n; i <= 10n; i++) {
      const r = k.userAccess(0, t, top - i * 4096n + 8n, Access.Write, Number(i));
      expect(r.ok).toBe(true);
      expect(info(k, t).stack!.limit).toBe(top - i * 4096n);
      expect(k.virtualQuery(t, top - (i + 1n) * 4096n)!.protect).toBe(PageProt.READWRITE | PageProt.GUARD);
    }
    expect(info(k, t).exception).toBe(0);
    // 10 committed pages and the guard page
    expect(info(k, t).commitCharge).toBe(11);
    // skipping past the guard page touches reserved memory: an access violation, no growth
    expect(k.userAccess(0, t, top - 13n * 4096n, Access.Read).ok).toBe(false);
    expect(info(k, t).exception).toBe(STATUS_ACCESS_VIOLATION);
    // an ordinary PAGE_GUARD page (not the stack's) raises STATUS_GUARD_PAGE_VIOLATION once
    const g = k.virtualAlloc(t, 0n, 4096n, true, true, PageProt.READWRITE | PageProt.GUARD);
    expect(k.userAccess(0, t, g, Access.Read).ok).toBe(false);
    expect(info(k, t).exception).toBe(STATUS_GUARD_PAGE_VIOLATION);
    expect(k.view.invariants()).toEqual([]);
  });

  it("overflows at the end of the reservation: STATUS_STACK_OVERFLOW, then an access violation", () => {
    for (const arch of ["x86_64", "i386"] as const) {
      const { k, t } = winKernel({ arch });
      const top = k.createThreadStack(t, 0x10000n, 4096n); // 16 pages
      const bottom = top - 0x10000n;
      k.catchExceptions(t);
      let overflowAt = -1n;
      for (let i = 1n; i <= 16n; i++) {
        const r = k.userAccess(0, t, top - i * 4096n, Access.Write, 1);
        if (!r.ok) {
          overflowAt = top - i * 4096n;
          break;
        }
      }
      // the guard page reaches bottom + 2 pages; its hit commits bottom + 1 page and overflows
      expect(overflowAt).toBe(bottom + 2n * 4096n);
      expect(info(k, t).exception).toBe(STATUS_STACK_OVERFLOW);
      expect(info(k, t).stack).toMatchObject({ limit: bottom + 4096n, overflows: 1 });
      // the handler has the page above the bottom to run on
      expect(k.userAccess(0, t, bottom + 4096n, Access.Write, 2).ok).toBe(true);
      expect(k.userAccess(0, t, bottom + 2n * 4096n, Access.Write, 2).ok).toBe(true);
      // the bottom page is never committed
      expect(k.userAccess(0, t, bottom, Access.Write, 3).ok).toBe(false);
      expect(info(k, t).exception).toBe(STATUS_ACCESS_VIOLATION);
      expect(k.virtualQuery(t, bottom)).toMatchObject({ state: MemState.RESERVE, regionSize: 4096n });
      expect(k.view.invariants()).toEqual([]);
    }
  });

  it("after an overflow, a guard page set above StackLimit moves StackLimit (64-bit Windows: _MI_RESET_USER_STACK_LIMIT)", () => {
    for (const arch of ["x86_64", "i386"] as const) {
      const { k, t } = winKernel({ arch });
      const top = k.createThreadStack(t, 0x10000n, 4096n);
      const bottom = top - 0x10000n;
      k.catchExceptions(t);
      for (let i = 1n; i <= 14n; i++) k.userAccess(0, t, top - i * 4096n, Access.Write, 1);
      expect(info(k, t).stack).toMatchObject({ limit: bottom + 4096n, overflows: 1 });
      // _resetstkoflw's VirtualProtect: a guard page at bottom + 5 pages
      expect(k.virtualProtect(t, bottom + 5n * 4096n, 4096n, PageProt.READWRITE | PageProt.GUARD)).toBe(
        PageProt.READWRITE,
      );
      // x64: StackLimit is the page above the new guard page; 32-bit Windows leaves it
      expect(info(k, t).stack!.limit, arch).toBe(arch === "x86_64" ? bottom + 6n * 4096n : bottom + 4096n);
      // the guard page's touch grows the stack again (MiCheckForUserStackOverflow looks only at the reservation)
      expect(k.userAccess(0, t, bottom + 5n * 4096n, Access.Write, 4).ok).toBe(true);
      expect(info(k, t).stack!.limit, arch).toBe(bottom + 5n * 4096n);
      expect(k.virtualQuery(t, bottom + 4n * 4096n)).toMatchObject({
        protect: PageProt.READWRITE | PageProt.GUARD,
        regionSize: 4096n,
      });
      expect(k.view.invariants()).toEqual([]);
    }
  });

  it("refuses a commit that leaves no room for the guard page", () => {
    const { k, t } = winKernel();
    expect(k.createThreadStack(t, 0x10000n, 0x10000n)).toBe(0n);
    expect(info(k, t).lastError).toBe(87);
  });
});

describe("KUSER_SHARED_DATA", () => {
  it("one frame: read-only at 0x7FFE0000 in every process, writable at the kernel's alias", () => {
    for (const [arch, alias] of [
      ["x86_64", 0xffff_f780_0000_0000n],
      ["i386", 0xffdf_0000n],
      ["i386-pae", 0xffdf_0000n],
    ] as const) {
      const { k, t } = winKernel({ arch });
      const u = k.spawn("other")!;
      // NtMajorVersion at 0x26C, written by the kernel
      expect(k.userAccess(0, t, 0x7ffe_026cn, Access.Read)).toMatchObject({ ok: true, value: 10 });
      const pfn = k.view.page(t, 0x7ffe0).pfn;
      expect(k.view.page(u, 0x7ffe0).pfn).toBe(pfn);
      expect(k.view.kernelPfn(alias)).toBe(pfn);
      // the kernel writes through its alias (the tick count at 0x320), the process reads it
      expect(k.kernelAccess(0, alias + 0x320n, Access.Write, 0x7b).ok).toBe(true);
      expect(readByte(k, t, 0x7ffe_0320n)).toBe(0x7b);
      // a user write is an access violation
      k.catchExceptions(t);
      expect(k.userAccess(0, t, 0x7ffe_0320n, Access.Write, 1).ok).toBe(false);
      expect(info(k, t)).toMatchObject({ exception: STATUS_ACCESS_VIOLATION, exceptionRw: 1 });
      expect(k.virtualQuery(t, 0x7ffe_0000n)).toMatchObject({
        state: MemState.COMMIT,
        protect: PageProt.READONLY,
        regionSize: 4096n,
      });
      expect(k.view.invariants()).toEqual([]);
      k.exit(u, "done");
      expect(k.view.invariants()).toEqual([]);
    }
  });

  it("x64: no reservation may cover it (Windows 8 and later give it a VAD)", () => {
    const { k, t } = winKernel();
    expect(k.virtualAlloc(t, 0x7ff0_0000n, 0x10_0000n, true, false, PageProt.READWRITE)).toBe(0n);
    expect(info(k, t).lastError).toBe(487);
    // a reservation just below it, released, leaves its page table in place
    const a = k.virtualAlloc(t, 0x7ff0_0000n, 0xe_0000n, true, true, PageProt.READWRITE);
    expect(a).toBe(0x7ff0_0000n);
    k.userAccess(0, t, a, Access.Write, 1);
    expect(k.virtualFree(t, a, 0n, true)).toBe(true);
    expect(readByte(k, t, 0x7ffe_026cn)).toBe(10);
    expect(k.view.invariants()).toEqual([]);
  });
});
