/**
 * MEM_LARGE_PAGES when the buddy allocator has no free 2 MB block
 * (largepage.ts takeLargePage): MiFindLargePageMemory takes a run of free,
 * zeroed and standby frames (the standby pages repurposed), and
 * MiAllocateLargeZeroPages empties every working set and flushes the
 * modified pages (MmEmptyAllWorkingSets, MiFlushAllPages) before it tries
 * again; only when no run can be made is it ERROR_NO_SYSTEM_RESOURCES.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import type { KernelImpl } from "../../KernelImpl.ts";
import { lastError, on, twoProcs } from "../../windows.testkit.ts";
import { PageProt } from "./mmpte.ts";

const P = 4096n;
const LARGE = 0x2000_0000; // MEM_LARGE_PAGES
const RC = 0x1000 | 0x2000; // MEM_COMMIT | MEM_RESERVE
const RW = PageProt.READWRITE;

/**
 * A reservation of n pages in t, each written with its index; the base.
 * The first page of each 2 MB is written first, so that the page tables
 * (which vmlab never pages) sit together rather than one in every 2 MB of
 * RAM.
 */
function fill(k: KernelImpl, t: Task, n: number): bigint {
  on(k, t);
  const va = k.virtualAlloc(t, 0n, BigInt(n) * P, true, true, RW);
  expect(va).toBeGreaterThan(0n);
  for (let i = 0; i < n; i += 512)
    expect(k.userAccess(0, t, va + BigInt(i) * P, Access.Write, i & 0xff).ok).toBe(true);
  for (let i = 0; i < n; i++)
    expect(k.userAccess(0, t, va + BigInt(i) * P, Access.Write, i & 0xff).ok).toBe(true);
  return va;
}

/** Fills memory until the buddy allocator has no free 2 MB block left; pages written. */
function fillMemory(k: KernelImpl, a: Task): { va: bigint; n: number } {
  const w = k.view.windows()!;
  // everything available but a few hundred pages: no free 2 MB block remains
  const n = w.paging().available - 300;
  return { va: fill(k, a, n), n };
}

describe("MEM_LARGE_PAGES with no free 2 MB block (MiAllocateLargeZeroPages, MiFindLargePageMemory)", () => {
  it("standby pages make the run: they are repurposed and their data comes back from the paging file", () => {
    const { k, a, b } = twoProcs({ pagefileBytes: 32 << 20 });
    const { va, n } = fillMemory(k, a);
    // A's pages trimmed and written: all on the standby list, in memory still
    k.trim(a, false);
    expect(k.modifiedPageWriter()).toBeGreaterThan(0);
    const w = k.view.windows()!;
    const standby = w.paging().standby;
    expect(standby).toBeGreaterThan(2 * 512);
    const repurposed = w.paging().repurposed;
    on(k, b);
    k.setLockMemoryPrivilege(b, true);
    const lp = k.virtualAllocType(b, 0n, 0x20_0000n, RC | LARGE, RW);
    expect(lp, `GetLastError ${lastError(k, b)}`).toBeGreaterThan(0n);
    // at least one run's standby pages were repurposed for it
    expect(w.paging().repurposed - repurposed).toBeGreaterThan(0);
    expect(k.userAccess(0, b, lp + 0x1f_f000n, Access.Write, 9).ok).toBe(true);
    // A's bytes: each page comes back (a soft fault from standby or a hard one from the paging file)
    on(k, a);
    for (let i = 0; i < n; i += 61)
      expect(k.userAccess(0, a, va + BigInt(i) * P, Access.Read)).toMatchObject({
        ok: true,
        value: i & 0xff,
      });
    expect(k.view.invariants()).toEqual([]);
  });

  it("pages in working sets: the working sets are emptied and the modified pages written first", () => {
    const { k, a, b } = twoProcs({ pagefileBytes: 32 << 20 });
    const { va } = fillMemory(k, a);
    const w = k.view.windows()!;
    const ws = w.process(a)!.workingSet;
    on(k, b);
    k.setLockMemoryPrivilege(b, true);
    const lp = k.virtualAllocType(b, 0n, 0x20_0000n, RC | LARGE, RW);
    expect(lp, `GetLastError ${lastError(k, b)}`).toBeGreaterThan(0n);
    // MmEmptyAllWorkingSets: A's working set is empty now, its pages written (Pages Output)
    expect(w.process(a)!.workingSet).toBeLessThan(ws);
    expect(w.process(a)!.workingSet).toBe(0);
    expect(w.paging().pagesOutput).toBeGreaterThan(0);
    on(k, a);
    expect(k.userAccess(0, a, va + 5n * P, Access.Read)).toMatchObject({ ok: true, value: 5 });
    expect(k.view.invariants()).toEqual([]);
  });

  it("with no paging file the modified pages cannot be written: no run, ERROR_NO_SYSTEM_RESOURCES", () => {
    const { k, a, b } = twoProcs({ pagefileBytes: 0 });
    fillMemory(k, a);
    on(k, b);
    k.setLockMemoryPrivilege(b, true);
    expect(k.virtualAllocType(b, 0n, 0x20_0000n, RC | LARGE, RW)).toBe(0n);
    expect(lastError(k, b)).toBe(1450);
    expect(k.view.windows()!.vads(b)).toHaveLength(0);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("MEM_LARGE_PAGES with PAGE_NOCACHE, PAGE_WRITECOMBINE, PAGE_GUARD (MiAllocateLargePages: MI_MAKE_VALID_PTE of the ProtectionMask)", () => {
  const pdeOf = (k: KernelImpl, t: Task, va: bigint) =>
    k.view
      .windows()!
      .pte(t, va)
      .columns.find((c) => c.name === "PDE")!.value!;

  it("PAGE_NOCACHE sets the PDE's PCD, PAGE_WRITECOMBINE its PWT; a plain one neither", () => {
    const { k, a } = twoProcs();
    k.setLockMemoryPrivilege(a, true);
    const plain = k.virtualAllocType(a, 0n, 0x20_0000n, RC | LARGE, RW);
    const nc = k.virtualAllocType(a, 0n, 0x20_0000n, RC | LARGE, RW | PageProt.NOCACHE);
    const wc = k.virtualAllocType(a, 0n, 0x20_0000n, RC | LARGE, RW | PageProt.WRITECOMBINE);
    for (const va of [plain, nc, wc]) expect(va).toBeGreaterThan(0n);
    expect(pdeOf(k, a, plain) & 0x98n).toBe(0x80n); // PS only
    expect(pdeOf(k, a, nc) & 0x98n).toBe(0x90n); // PS | PCD
    expect(pdeOf(k, a, wc) & 0x98n).toBe(0x88n); // PS | PWT
    expect(k.virtualQuery(a, nc)!.protect).toBe(RW | PageProt.NOCACHE);
    expect(k.userAccess(0, a, nc + 8n, Access.Write, 3)).toMatchObject({ ok: true, faults: 0 });
    expect(k.view.invariants()).toEqual([]);
  });

  it("PAGE_GUARD is accepted (no check on the WRK's path): VirtualQuery says so, but the valid PDE never raises a guard fault; VirtualProtect to another protection is 487", () => {
    const { k, a } = twoProcs();
    k.setLockMemoryPrivilege(a, true);
    const g = k.virtualAllocType(a, 0n, 0x20_0000n, RC | LARGE, RW | PageProt.GUARD);
    expect(g).toBeGreaterThan(0n);
    expect(k.virtualQuery(a, g)!.protect).toBe(RW | PageProt.GUARD);
    expect(k.userAccess(0, a, g, Access.Write, 1)).toMatchObject({ ok: true, faults: 0 });
    expect(k.userAccess(0, a, g, Access.Read)).toMatchObject({ ok: true, value: 1 });
    // "These regions are always the same protection throughout" (protect.c): STATUS_CONFLICTING_ADDRESSES
    const rw = k.virtualAllocType(a, 0n, 0x20_0000n, RC | LARGE, RW);
    expect(k.virtualProtect(a, rw, P, RW | PageProt.GUARD)).toBe(-1);
    expect(lastError(k, a)).toBe(487);
    expect(k.view.invariants()).toEqual([]);
  });
});
