/**
 * VirtualProtect of mapped views (viewprotect.ts; WRK mm/protect.c
 * MiProtectVirtualMemory, MiSetProtectionOnSection). Expectations derived
 * by hand from the VirtualProtect page ("must be compatible with the access
 * protection specified when the view was mapped"), the WRK's
 * MmCompatibleProtectionMask and MI_PTE_LOOKUP_NEEDED PTE format:
 * PageFileHigh all ones (x64 and PAE 0xFFFFFFFF in the high word, 32-bit
 * paging 0xFFFFF in bits 31..12), Prototype (bit 10), the MM_* protection
 * in bits 5..9.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import { fileByte } from "../../fs/file.ts";
import type { KernelImpl } from "../../KernelImpl.ts";
import { on, twoProcs } from "../../windows.testkit.ts";
import { STATUS_ACCESS_VIOLATION, STATUS_GUARD_PAGE_VIOLATION } from "./fault.ts";
import { PageProt } from "./mmpte.ts";
import { getPte } from "./process.ts";
import { MemState, WinError } from "./virtual.ts";

const win = (k: KernelImpl, t: Task) => k.view.windows()!.process(t)!;
const pteOf = (k: KernelImpl, t: Task, va: bigint) => getPte(k, t.mm!, Number(va / 4096n));
const pfnOf = (k: KernelImpl, t: Task, va: bigint) => k.view.page(t, Number(va / 4096n)).pfn;
const RW = PageProt.READWRITE;
const RO = PageProt.READONLY;
const WC = PageProt.WRITECOPY;
const ARCHS = ["x86_64", "i386", "i386-pae"] as const;

/** The MI_PTE_LOOKUP_NEEDED PTE with MM_* protection `mm`, as halves (hi, lo). */
function lookupPte(arch: (typeof ARCHS)[number], mm: number): { hi: number; lo: number } {
  const lo = (mm << 5) | 0x400;
  return arch === "i386" ? { hi: 0, lo: (lo | 0xfffff000) >>> 0 } : { hi: 0xffff_ffff, lo };
}

describe("VirtualProtect of a view of a paging-file-backed section", () => {
  it("PAGE_READONLY in a FILE_MAP_WRITE view: LOOKUP_NEEDED PTEs for pages not valid, the WSLE for valid ones; regions split", () => {
    for (const arch of ARCHS) {
      const { k, a, b } = twoProcs({ arch });
      const h = k.createFileMapping(a, 0x4000n, RW, null, null);
      const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
      expect(k.userAccess(0, a, va + 0x1000n, Access.Write, 0x41).ok).toBe(true);
      const pfn = pfnOf(k, a, va + 0x1000n);
      // lpflOldProtect: the first page's protection
      expect(k.virtualProtect(a, va + 0x10n, 0x1ff0n, RO)).toBe(RW);
      // page 0 was never touched (PTE zero): MI_PTE_LOOKUP_NEEDED with MM_READONLY (1)
      const p0 = pteOf(k, a, va);
      expect({ hi: p0.hi >>> 0, lo: p0.lo >>> 0 }, arch).toEqual(lookupPte(arch, 1));
      // page 1 is valid: the same frame, no longer writable; its protection in the WSLE
      const p1 = pteOf(k, a, va + 0x1000n);
      expect(k.arch.pgtable.accessible(p1.hi, p1.lo)).toBe(true);
      expect(k.arch.pgtable.write(p1.hi, p1.lo)).toBe(false);
      expect(pfnOf(k, a, va + 0x1000n)).toBe(pfn);
      // VirtualQuery: two regions, the view's AllocationProtect unchanged
      expect(k.virtualQuery(a, va)).toMatchObject({
        regionSize: 0x2000n,
        protect: RO,
        allocationProtect: RW,
        state: MemState.COMMIT,
        type: MemState.MAPPED,
      });
      expect(k.virtualQuery(a, va + 0x2000n)).toMatchObject({ regionSize: 0x2000n, protect: RW });
      k.catchExceptions(a);
      expect(k.userAccess(0, a, va + 0x1000n, Access.Write, 1).ok).toBe(false);
      expect(win(k, a).exception).toBe(STATUS_ACCESS_VIOLATION);
      expect(k.userAccess(0, a, va + 0x1000n, Access.Read)).toMatchObject({ ok: true, value: 0x41 });
      expect(k.userAccess(0, a, va, Access.Write, 1).ok).toBe(false);
      // trimmed, the valid page's protection goes back into its PTE (the WSLE's)
      k.trim(a, false);
      const t1 = pteOf(k, a, va + 0x1000n);
      expect({ hi: t1.hi >>> 0, lo: t1.lo >>> 0 }).toEqual(lookupPte(arch, 1));
      expect(k.userAccess(0, a, va + 0x1000n, Access.Read)).toMatchObject({ ok: true, value: 0x41 });
      expect(k.virtualQuery(a, va + 0x1000n)).toMatchObject({ protect: RO });
      // another process's view of the section keeps the view's protection: B writes, A reads it
      on(k, b);
      const vb = k.mapViewOfFile(b, h, "write", false, 0n, 0n, 0n);
      expect(k.userAccess(0, b, vb, Access.Write, 0x42).ok).toBe(true);
      expect(k.virtualQuery(b, vb)).toMatchObject({ protect: RW, regionSize: 0x4000n });
      on(k, a);
      expect(k.userAccess(0, a, va, Access.Read)).toMatchObject({ ok: true, value: 0x42 });
      expect(pfnOf(k, a, va)).toBe(pfnOf(k, b, vb));
      // back to PAGE_READWRITE (old: PAGE_READONLY), the write goes through to the shared frame
      expect(k.virtualProtect(a, va, 0x2000n, RW)).toBe(RO);
      expect(k.userAccess(0, a, va + 0x1000n, Access.Write, 0x43).ok).toBe(true);
      on(k, b);
      expect(k.userAccess(0, b, vb + 0x1000n, Access.Read)).toMatchObject({ value: 0x43 });
      expect(k.view.invariants(), arch).toEqual([]);
    }
  });

  it("the view's protection bounds the new one (MmCompatibleProtectionMask); NOCACHE refused; not committed: 487", () => {
    const { k, a } = twoProcs();
    const h = k.createFileMapping(a, 0x3000n, RW, null, null);
    const ro = k.mapViewOfFile(a, h, "read", false, 0n, 0n, 0n);
    const cp = k.mapViewOfFile(a, h, "copy", false, 0n, 0n, 0n);
    const fails = (va: bigint, prot: number, code: number) => {
      expect(k.virtualProtect(a, va, 0x1000n, prot), `0x${prot.toString(16)}`).toBe(-1);
      expect(win(k, a).lastError, `0x${prot.toString(16)}`).toBe(code);
    };
    // FILE_MAP_READ: NOACCESS, READONLY, WRITECOPY (and guard); no write, no execute
    fails(ro, RW, WinError.INVALID_PARAMETER);
    fails(ro, PageProt.EXECUTE_READ, WinError.INVALID_PARAMETER);
    fails(ro, PageProt.EXECUTE_WRITECOPY, WinError.INVALID_PARAMETER);
    fails(ro, RO | PageProt.NOCACHE, WinError.INVALID_PARAMETER);
    fails(ro, RO | PageProt.WRITECOMBINE, WinError.INVALID_PARAMETER);
    expect(k.virtualProtect(a, ro, 0x1000n, RO | PageProt.GUARD)).toBe(RO);
    expect(k.virtualProtect(a, ro, 0x1000n, PageProt.NOACCESS)).toBe(RO | PageProt.GUARD);
    expect(k.virtualProtect(a, ro, 0x1000n, WC)).toBe(PageProt.NOACCESS);
    // FILE_MAP_COPY: PAGE_READWRITE is not compatible with PAGE_WRITECOPY
    fails(cp, RW, WinError.INVALID_PARAMETER);
    expect(k.virtualProtect(a, cp, 0x1000n, RO)).toBe(WC);
    // the range must stay inside the view
    expect(k.virtualProtect(a, ro + 0x2000n, 0x2000n, RO)).toBe(-1);
    expect(win(k, a).lastError).toBe(WinError.INVALID_ADDRESS);
    // PAGE_WRITECOPY stays refused for private memory
    const priv = k.virtualAlloc(a, 0n, 0x1000n, true, true, RW);
    fails(priv, WC, WinError.INVALID_PARAMETER);
    // SEC_RESERVE: an uncommitted page is STATUS_NOT_COMMITTED; committed, it can be protected
    const hr = k.createFileMapping(a, 0x2000n, RW, null, null, true);
    const vr = k.mapViewOfFile(a, hr, "write", false, 0n, 0n, 0n);
    fails(vr, RO, WinError.INVALID_ADDRESS);
    expect(k.virtualAlloc(a, vr, 0x1000n, false, true, RW)).toBe(vr);
    expect(k.virtualProtect(a, vr, 0x1000n, RO)).toBe(RW);
    expect(k.virtualProtect(a, vr, 0x2000n, RO)).toBe(-1);
    expect(win(k, a).lastError).toBe(WinError.INVALID_ADDRESS);
    // an executable view: execute-read is within PAGE_EXECUTE_READWRITE
    const hx = k.createFileMapping(a, 0x1000n, PageProt.EXECUTE_READWRITE, null, null);
    const vx = k.mapViewOfFile(a, hx, "write", true, 0n, 0n, 0n);
    expect(k.virtualProtect(a, vx, 0x1000n, PageProt.EXECUTE_READ)).toBe(PageProt.EXECUTE_READWRITE);
    expect(k.view.invariants()).toEqual([]);
  });

  it("PAGE_WRITECOPY on a FILE_MAP_WRITE view: charged a page each, a write makes a private copy, the other process keeps the shared page", () => {
    for (const arch of ARCHS) {
      const { k, a, b } = twoProcs({ arch });
      const h = k.createFileMapping(a, 0x2000n, RW, null, null);
      const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
      expect(k.userAccess(0, a, va, Access.Write, 0x11).ok).toBe(true);
      on(k, b);
      const vb = k.mapViewOfFile(b, h, "write", false, 0n, 0n, 0n);
      on(k, a);
      const commit0 = k.view.windows()!.commit().total;
      expect(win(k, a).commitCharge).toBe(0);
      expect(k.virtualProtect(a, va, 0x2000n, WC)).toBe(RW);
      // one page of commit for each shared page that may now be copied
      expect(win(k, a).commitCharge).toBe(2);
      expect(k.view.windows()!.commit().total - commit0).toBe(2);
      expect(k.virtualQuery(a, va)).toMatchObject({ protect: WC, regionSize: 0x2000n });
      const shared = pfnOf(k, a, va);
      const copies0 = k.view.windows()!.paging().writeCopies;
      expect(k.userAccess(0, a, va, Access.Write, 0x22).ok).toBe(true);
      expect(k.view.windows()!.paging().writeCopies - copies0).toBe(1);
      expect(pfnOf(k, a, va)).not.toBe(shared);
      // the copy is PAGE_READWRITE (the memory-protection-constants page), the other page still WRITECOPY
      expect(k.virtualQuery(a, va)).toMatchObject({ protect: RW, regionSize: 0x1000n });
      expect(k.virtualQuery(a, va + 0x1000n)).toMatchObject({ protect: WC, regionSize: 0x1000n });
      expect(win(k, a).commitCharge).toBe(2);
      on(k, b);
      expect(k.userAccess(0, b, vb, Access.Read)).toMatchObject({ value: 0x11 });
      expect(pfnOf(k, b, vb)).toBe(shared);
      on(k, a);
      // the untouched page back to PAGE_READONLY returns its charge; the private copy keeps its own
      expect(k.virtualProtect(a, va + 0x1000n, 1n, RO)).toBe(WC);
      expect(win(k, a).commitCharge).toBe(1);
      expect(k.virtualProtect(a, va, 1n, RO)).toBe(RW);
      expect(win(k, a).commitCharge).toBe(1);
      k.catchExceptions(a);
      expect(k.userAccess(0, a, va, Access.Write, 0x33).ok).toBe(false);
      expect(k.userAccess(0, a, va, Access.Read)).toMatchObject({ ok: true, value: 0x22 });
      expect(k.view.invariants(), arch).toEqual([]);
      expect(k.unmapViewOfFile(a, va)).toBe(true);
      expect(win(k, a).commitCharge).toBe(0);
      expect(k.view.windows()!.commit().total).toBe(commit0);
      expect(k.view.invariants(), arch).toEqual([]);
    }
  });

  it("PAGE_NOACCESS and PAGE_GUARD take a valid page out of the working set; the guard fires once", () => {
    for (const arch of ARCHS) {
      const { k, a } = twoProcs({ arch });
      const h = k.createFileMapping(a, 0x2000n, RW, null, null);
      const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
      k.userAccess(0, a, va, Access.Write, 0x55);
      k.userAccess(0, a, va + 0x1000n, Access.Write, 0x66);
      const pfn = pfnOf(k, a, va);
      expect(win(k, a).workingSet).toBe(2);
      expect(k.pages.mapcount[pfn]).toBe(1);
      expect(k.virtualProtect(a, va, 0x1000n, PageProt.NOACCESS)).toBe(RW);
      // MM_NOACCESS is 0x18; the frame leaves this process (the segment keeps it, on the modified list)
      const p0 = pteOf(k, a, va);
      expect({ hi: p0.hi >>> 0, lo: p0.lo >>> 0 }, arch).toEqual(lookupPte(arch, 0x18));
      expect(win(k, a).workingSet).toBe(1);
      expect(k.pages.mapcount[pfn]).toBe(0);
      k.catchExceptions(a);
      expect(k.userAccess(0, a, va, Access.Read).ok).toBe(false);
      expect(win(k, a).exception).toBe(STATUS_ACCESS_VIOLATION);
      // PAGE_READWRITE | PAGE_GUARD: MM 0x14
      expect(k.virtualProtect(a, va, 0x2000n, RW | PageProt.GUARD)).toBe(PageProt.NOACCESS);
      const g1 = pteOf(k, a, va + 0x1000n);
      expect({ hi: g1.hi >>> 0, lo: g1.lo >>> 0 }, arch).toEqual(lookupPte(arch, 0x14));
      expect(win(k, a).workingSet).toBe(0);
      expect(k.userAccess(0, a, va + 0x1000n, Access.Read).ok).toBe(false);
      expect(win(k, a).exception).toBe(STATUS_GUARD_PAGE_VIOLATION);
      // the guard is gone: the PTE holds PAGE_READWRITE (4); the next access reads the bytes kept
      const g2 = pteOf(k, a, va + 0x1000n);
      expect({ hi: g2.hi >>> 0, lo: g2.lo >>> 0 }, arch).toEqual(lookupPte(arch, 4));
      expect(k.userAccess(0, a, va + 0x1000n, Access.Read)).toMatchObject({ ok: true, value: 0x66 });
      expect(k.virtualQuery(a, va)).toMatchObject({ protect: RW | PageProt.GUARD, regionSize: 0x1000n });
      expect(k.virtualQuery(a, va + 0x1000n)).toMatchObject({ protect: RW, regionSize: 0x1000n });
      expect(k.userAccess(0, a, va, Access.Read).ok).toBe(false);
      expect(k.userAccess(0, a, va, Access.Read)).toMatchObject({ ok: true, value: 0x55 });
      expect(k.view.invariants(), arch).toEqual([]);
    }
  });

  it("!pte decodes the MI_PTE_LOOKUP_NEEDED PTE as Proto: VAD with its protection", () => {
    const { k, a } = twoProcs();
    const h = k.createFileMapping(a, 0x1000n, RW, null, null);
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    k.virtualProtect(a, va, 0x1000n, RO);
    const col = k.view.windows()!.pte(a, va).columns[3];
    expect(col.value).toBe(0xffff_ffff_0000_0420n);
    expect(col.soft).toEqual({
      kind: "prototype",
      lines: ["not valid", " Proto: VAD", " Protect: 1 - ReadOnly"],
    });
  });
});

describe("VirtualProtect of file and image views", () => {
  it("an image: .text to PAGE_EXECUTE_READWRITE is EXECUTE_WRITECOPY; a write patches a private copy, the file unchanged", () => {
    for (const arch of ARCHS) {
      const { k, a } = twoProcs({ arch });
      const f = k.createFile("app.exe", 5 * 4096);
      const h = k.createFileMapping(a, 0n, RO, f, { textPages: 2, dataPages: 2 });
      const base = k.mapViewOfFile(a, h, "read", false, 0n, 0n, 0n);
      expect(win(k, a).commitCharge).toBe(2);
      // no compatibility check for an image; PAGE_EXECUTE_READWRITE becomes PAGE_EXECUTE_WRITECOPY
      expect(k.virtualProtect(a, base + 0x1000n, 0x1000n, PageProt.EXECUTE_READWRITE)).toBe(
        PageProt.EXECUTE_READ,
      );
      expect(k.virtualQuery(a, base + 0x1000n)).toMatchObject({
        protect: PageProt.EXECUTE_WRITECOPY,
        regionSize: 0x1000n,
        type: MemState.IMAGE,
      });
      expect(k.virtualQuery(a, base + 0x2000n)).toMatchObject({ protect: PageProt.EXECUTE_READ });
      expect(win(k, a).commitCharge).toBe(3);
      // the header page: PAGE_READWRITE is PAGE_WRITECOPY
      expect(k.virtualProtect(a, base, 1n, RW)).toBe(RO);
      expect(k.virtualQuery(a, base)).toMatchObject({ protect: WC, regionSize: 0x1000n });
      expect(win(k, a).commitCharge).toBe(4);
      const copies0 = k.view.windows()!.paging().writeCopies;
      expect(k.userAccess(0, a, base + 0x1008n, Access.Write, 0xcc).ok).toBe(true);
      expect(k.view.windows()!.paging().writeCopies - copies0).toBe(1);
      expect(k.virtualQuery(a, base + 0x1000n)).toMatchObject({ protect: PageProt.EXECUTE_READWRITE });
      expect(k.userAccess(0, a, base + 0x1008n, Access.Exec).ok).toBe(true);
      expect(k.userAccess(0, a, base + 0x1008n, Access.Read)).toMatchObject({ value: 0xcc });
      expect(win(k, a).commitCharge).toBe(4);
      // a second process mapping the image reads the file's byte: the patch is private
      const b = k.spawn("b")!;
      on(k, b);
      const vb = k.mapViewOfFile(b, h, "read", false, 0n, 0n, 0n);
      expect(k.userAccess(0, b, vb + 0x1008n, Access.Read)).toMatchObject({
        value: fileByte("app.exe", 0x1008),
      });
      expect(k.view.invariants(), arch).toEqual([]);
    }
  });

  it("a file view: PAGE_WRITECOPY in a FILE_MAP_WRITE view copies instead of dirtying the file; MEM_COMMIT is ERROR_ACCESS_DENIED", () => {
    const { k, a } = twoProcs();
    const f = k.createFile("data.bin", 2 * 4096);
    const h = k.createFileMapping(a, 0n, RW, f, null);
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    expect(k.virtualProtect(a, va, 0x1000n, WC)).toBe(RW);
    expect(k.userAccess(0, a, va + 5n, Access.Write, 0x99).ok).toBe(true);
    expect(k.view.windows()!.paging().writeCopies).toBe(1);
    k.trim(a, false);
    expect(k.userAccess(0, a, va + 5n, Access.Read)).toMatchObject({ value: 0x99 });
    // the file's page is untouched: a read view in another process reads the file's byte
    const b = k.spawn("b")!;
    on(k, b);
    const vb = k.mapViewOfFile(b, h, "read", false, 0n, 0n, 0n);
    expect(k.userAccess(0, b, vb + 5n, Access.Read)).toMatchObject({ value: fileByte("data.bin", 5) });
    on(k, a);
    // "Only page file backed sections can be committed" (STATUS_ALREADY_COMMITTED)
    expect(k.virtualAlloc(a, va, 0x1000n, false, true, RW)).toBe(0n);
    expect(win(k, a).lastError).toBe(5);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("VirtualAlloc MEM_COMMIT in a SEC_RESERVE view sets the protection in the committing process", () => {
  it("PAGE_READONLY committed in A's read-write view: A's page is read-only, B's view keeps PAGE_READWRITE", () => {
    const { k, a, b } = twoProcs();
    const h = k.createFileMapping(a, 0x2000n, RW, null, null, true);
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    on(k, b);
    const vb = k.mapViewOfFile(b, h, "write", false, 0n, 0n, 0n);
    on(k, a);
    expect(k.virtualAlloc(a, va, 0x1000n, false, true, RO)).toBe(va);
    expect(k.virtualQuery(a, va)).toMatchObject({ state: MemState.COMMIT, protect: RO, regionSize: 0x1000n });
    expect(k.virtualQuery(a, va + 0x1000n)).toMatchObject({ state: MemState.RESERVE });
    const p0 = pteOf(k, a, va);
    expect({ hi: p0.hi >>> 0, lo: p0.lo >>> 0 }).toEqual(lookupPte("x86_64", 1));
    expect(k.virtualQuery(b, vb)).toMatchObject({ state: MemState.COMMIT, protect: RW, regionSize: 0x1000n });
    // the no cache option is not allowed for sections (STATUS_INVALID_PAGE_PROTECTION)
    expect(k.virtualAlloc(a, va + 0x1000n, 0x1000n, false, true, RW | PageProt.NOCACHE)).toBe(0n);
    expect(win(k, a).lastError).toBe(WinError.INVALID_PARAMETER);
    expect(k.virtualQuery(a, va + 0x1000n)).toMatchObject({ state: MemState.RESERVE });
    k.catchExceptions(a);
    expect(k.userAccess(0, a, va, Access.Write, 1).ok).toBe(false);
    on(k, b);
    expect(k.userAccess(0, b, vb, Access.Write, 0x7).ok).toBe(true);
    on(k, a);
    expect(k.userAccess(0, a, va, Access.Read)).toMatchObject({ ok: true, value: 0x7 });
    // a FILE_MAP_COPY view is charged for all its pages when mapped: committing PAGE_WRITECOPY charges no more,
    // PAGE_READONLY returns the page's charge (the page can no longer be copied)
    const vc = k.mapViewOfFile(a, h, "copy", false, 0n, 0n, 0n);
    expect(win(k, a).commitCharge).toBe(2);
    expect(k.virtualAlloc(a, vc + 0x1000n, 0x1000n, false, true, WC)).toBe(vc + 0x1000n);
    expect(win(k, a).commitCharge).toBe(2);
    expect(k.virtualQuery(a, vc + 0x1000n)).toMatchObject({ state: MemState.COMMIT, protect: WC });
    on(k, b);
    expect(k.virtualQuery(b, vb + 0x1000n)).toMatchObject({ state: MemState.COMMIT, protect: RW });
    on(k, a);
    expect(k.virtualProtect(a, vc, 0x2000n, RO)).toBe(WC);
    expect(win(k, a).commitCharge).toBe(0);
    expect(k.view.invariants()).toEqual([]);
  });
});
