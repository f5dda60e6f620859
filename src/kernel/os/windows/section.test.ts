import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import { fileByte } from "../../fs/file.ts";
import type { KernelImpl } from "../../KernelImpl.ts";
import { on, twoProcs } from "../../windows.testkit.ts";
import { STATUS_ACCESS_VIOLATION } from "./fault.ts";
import type { WindowsOs } from "./index.ts";
import { PageProt, protoPointerVa, SoftKind, softKind, transitionPfn } from "./mmpte.ts";
import { getPte } from "./process.ts";
import { protoBase, protoPteVa, readProto } from "./section.ts";
import { MemState, WinError } from "./virtual.ts";

/** A user read of one byte (-1: it faulted). */
function readByte(k: KernelImpl, t: Task, va: bigint): number {
  const r = k.userAccess(0, t, va, Access.Read);
  return r.ok ? r.value : -1;
}

const lastError = (k: KernelImpl, t: Task) => k.view.windows()!.process(t)!.lastError;
const pfnOf = (k: KernelImpl, t: Task, va: bigint) => k.view.page(t, Number(va / 4096n)).pfn;
const RW = PageProt.READWRITE;

describe("a paging-file-backed section mapped by two processes", () => {
  it("shares its frames: a write through A's view is read through B's; the commit is the section's, at creation", () => {
    const { k, a, b } = twoProcs();
    const w = k.view.windows()!;
    const c0 = w.commit().total;
    const pool0 = w.paging().poolNonpagedPages;
    const h = k.createFileMapping(a, 0x3000n, RW, null, null);
    expect(h).toBeGreaterThan(0);
    // SEC_COMMIT: three pages charged now, none resident; the prototype PTEs' pool page is charged too
    const poolPages = w.paging().poolNonpagedPages - pool0;
    expect(poolPages).toBe(1);
    expect(w.commit().total - c0).toBe(3 + poolPages);
    expect(w.section(h)).toMatchObject({ pages: 3, views: 0, resident: 0 });
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    expect(va % 0x10000n).toBe(0n);
    expect(w.vads(a)[0]).toMatchObject({ type: "mapped", section: h, committedPages: 3, residentPages: 0 });
    expect(k.virtualQuery(a, va)).toMatchObject({
      type: MemState.MAPPED,
      state: MemState.COMMIT,
      protect: RW,
    });
    expect(k.userAccess(0, a, va + 0x1010n, Access.Write, 0x5a)).toMatchObject({ ok: true });
    on(k, b);
    const vb = k.mapViewOfFile(b, h, "read", false, 0n, 0n, 0n);
    expect(k.userAccess(0, b, vb + 0x1010n, Access.Read)).toMatchObject({ ok: true, value: 0x5a });
    const pfn = pfnOf(k, a, va + 0x1000n);
    expect(pfnOf(k, b, vb + 0x1000n)).toBe(pfn);
    expect(k.pages.mapcount[pfn]).toBe(2);
    // a read-only view: B's write is an access violation
    k.catchExceptions(b);
    expect(k.userAccess(0, b, vb + 0x1010n, Access.Write, 1).ok).toBe(false);
    expect(w.process(b)!.exception).toBe(STATUS_ACCESS_VIOLATION);
    expect(w.commit().total - c0).toBe(3 + poolPages);
    expect(w.section(h)).toMatchObject({ views: 2, resident: 1 });
    expect(k.view.invariants()).toEqual([]);
  });

  it("a trimmed view page leaves an MMPTE_PROTOTYPE naming its prototype PTE; the frame stays with the segment", () => {
    for (const arch of ["x86_64", "i386", "i386-pae"] as const) {
      const { k, a } = twoProcs({ arch });
      const os = k.os as WindowsOs;
      const h = k.createFileMapping(a, 0x2000n, RW, null, null);
      const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
      k.userAccess(0, a, va + 0x1000n, Access.Write, 0x77);
      const pfn = pfnOf(k, a, va + 0x1000n);
      expect(k.trim(a, false).trimmed).toBe(1);
      const vpn = Number(va / 4096n) + 1;
      const pte = getPte(k, a.mm!, vpn);
      const wide = k.arch.pgtable.entryBytes === 8;
      expect(softKind(pte.hi, pte.lo, wide)).toBe(SoftKind.Prototype);
      const sec = os.sections.get(h)!;
      const base = protoBase(os.kmem);
      expect(protoPointerVa(pte.hi, pte.lo, base, wide, arch === "x86_64")).toBe(protoPteVa(k, sec, 1));
      // still resident (the segment's), mapped by nobody: on the modified list (never written anywhere)
      expect(k.pages.mapcount[pfn]).toBe(0);
      expect(k.view.windows()!.paging().modified).toBe(1);
      // its prototype PTE is a transition PTE for the frame
      const proto = readProto(k, sec, 1);
      expect(softKind(proto.hi, proto.lo, wide)).toBe(SoftKind.Transition);
      expect(transitionPfn(proto.hi, proto.lo)).toBe(pfn);
      // the next touch is resolved from the prototype without I/O (a soft fault), same frame, same bytes
      const maj = a.majFlt;
      const soft = os.db.transitionFaults;
      expect(k.userAccess(0, a, va + 0x1000n, Access.Read)).toMatchObject({ ok: true, value: 0x77 });
      expect(a.majFlt).toBe(maj);
      expect(os.db.transitionFaults).toBe(soft + 1);
      expect(k.view.windows()!.paging().modified).toBe(0);
      expect(pfnOf(k, a, va + 0x1000n)).toBe(pfn);
      expect(k.view.invariants()).toEqual([]);
    }
  });

  it("unmapping every view and closing the handle frees the frames, the prototype PTEs and the commit", () => {
    const { k, a, b } = twoProcs();
    const w = k.view.windows()!;
    const c0 = w.commit().total;
    const pool0 = w.paging().poolNonpagedBytes;
    const free0 = k.view.meminfo().MemFree;
    const h = k.createFileMapping(a, 0x4000n, RW, null, null);
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    for (let i = 0n; i < 4n; i++) k.userAccess(0, a, va + i * 4096n, Access.Write, 1);
    on(k, b);
    const vb = k.mapViewOfFile(b, h, "read", false, 0n, 0n, 0n);
    k.userAccess(0, b, vb, Access.Read);
    expect(k.closeHandle(a, h)).toBe(true);
    // the views keep the section alive
    expect(w.section(h)).toMatchObject({ open: false, views: 2, resident: 4 });
    expect(k.unmapViewOfFile(a, va + 0x2345n)).toBe(true);
    expect(k.userAccess(0, b, vb + 0x3000n, Access.Read)).toMatchObject({ ok: true, value: 1 });
    expect(k.unmapViewOfFile(b, vb)).toBe(true);
    expect(w.section(h)).toBeNull();
    expect(w.commit().total).toBe(c0);
    expect(w.paging().poolNonpagedBytes).toBe(pool0);
    expect(k.view.meminfo().MemFree).toBeGreaterThanOrEqual(free0 - 2 * 4096 * 4); // page tables may stay
    expect(k.closeHandle(a, h)).toBe(false);
    expect(lastError(k, a)).toBe(6);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("copy-on-write views (FILE_MAP_COPY)", () => {
  it("the first write makes a private copy, counted; the section and the other views keep the old bytes", () => {
    const { k, a, b } = twoProcs();
    const w = k.view.windows()!;
    const h = k.createFileMapping(a, 0x2000n, RW, null, null);
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    k.userAccess(0, a, va, Access.Write, 0x11);
    on(k, b);
    const pc0 = w.process(b)!.commitCharge;
    const vb = k.mapViewOfFile(b, h, "copy", false, 0n, 0n, 0n);
    // a copy-on-write view is charged for every page it may copy
    expect(w.process(b)!.commitCharge - pc0).toBe(2);
    expect(k.virtualQuery(b, vb)).toMatchObject({ protect: PageProt.WRITECOPY, type: MemState.MAPPED });
    expect(k.userAccess(0, b, vb, Access.Read)).toMatchObject({ ok: true, value: 0x11 });
    const shared = pfnOf(k, b, vb);
    expect(shared).toBe(pfnOf(k, a, va));
    const copies0 = w.paging().writeCopies;
    expect(k.userAccess(0, b, vb, Access.Write, 0x22)).toMatchObject({ ok: true });
    expect(w.paging().writeCopies - copies0).toBe(1);
    expect(pfnOf(k, b, vb)).not.toBe(shared);
    expect(k.virtualQuery(b, vb)).toMatchObject({ protect: RW, regionSize: 0x1000n });
    expect(k.virtualQuery(b, vb + 0x1000n)).toMatchObject({ protect: PageProt.WRITECOPY });
    // a write to a page never touched copies at once (one fault)
    expect(k.userAccess(0, b, vb + 0x1000n, Access.Write, 0x33)).toMatchObject({ ok: true, faults: 1 });
    expect(w.paging().writeCopies - copies0).toBe(2);
    on(k, a);
    expect(k.userAccess(0, a, va, Access.Read)).toMatchObject({ value: 0x11 });
    expect(k.userAccess(0, a, va + 0x1000n, Access.Read)).toMatchObject({ value: 0 });
    expect(k.pages.mapcount[shared]).toBe(1);
    // trimming B: its copies go to the lists like private pages; a soft fault brings one back
    k.trim(b, false);
    on(k, b);
    expect(k.userAccess(0, b, vb, Access.Read)).toMatchObject({ value: 0x22 });
    expect(k.view.invariants()).toEqual([]);
    k.exit(b, "done");
    expect(w.process(a)!.commitCharge).toBe(0);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("file-backed and image sections", () => {
  it("a view of a file reads the file's bytes: a hard fault the first time, the page cache's frame for the next process", () => {
    const { k, a, b } = twoProcs();
    const f = k.createFile("data.bin", 3 * 4096 + 100);
    const h = k.createFileMapping(a, 0n, PageProt.READONLY, f, null);
    expect(k.view.windows()!.section(h)!.pages).toBe(4);
    const va = k.mapViewOfFile(a, h, "read", false, 0n, 0n, 0n);
    const reads0 = k.view.windows()!.paging().pageReads;
    expect(k.userAccess(0, a, va + 0x2007n, Access.Read)).toMatchObject({
      ok: true,
      value: fileByte("data.bin", 0x2007),
    });
    expect(a.majFlt).toBe(1);
    expect(k.view.windows()!.paging().pageReads - reads0).toBe(1);
    on(k, b);
    const vb = k.mapViewOfFile(b, h, "read", false, 0n, 0n, 0n);
    expect(readByte(k, b, vb + 0x2007n)).toBe(fileByte("data.bin", 0x2007));
    expect(b.majFlt).toBe(0);
    expect(pfnOf(k, b, vb + 0x2000n)).toBe(pfnOf(k, a, va + 0x2000n));
    // FILE_MAP_WRITE of a read-only section, a misaligned offset, a view past the end, a bad handle
    expect(k.mapViewOfFile(b, h, "write", false, 0n, 0n, 0n)).toBe(0n);
    expect(lastError(k, b)).toBe(5);
    expect(k.mapViewOfFile(b, h, "read", false, 0x1000n, 0n, 0n)).toBe(0n);
    expect(lastError(k, b)).toBe(1132);
    expect(k.mapViewOfFile(b, h, "read", false, 0n, 0x5000n, 0n)).toBe(0n);
    expect(lastError(k, b)).toBe(5);
    expect(k.mapViewOfFile(b, h + 4, "read", false, 0n, 0n, 0n)).toBe(0n);
    expect(lastError(k, b)).toBe(6);
    // VirtualFree of a view is STATUS_UNABLE_TO_DELETE_SECTION; UnmapViewOfFile of private memory fails
    expect(k.virtualFree(b, vb, 0n, true)).toBe(false);
    expect(lastError(k, b)).toBe(WinError.INVALID_PARAMETER);
    const priv = k.virtualAlloc(b, 0n, 0x1000n, true, true, RW);
    expect(k.unmapViewOfFile(b, priv)).toBe(false);
    expect(lastError(k, b)).toBe(WinError.INVALID_ADDRESS);
    expect(k.view.invariants()).toEqual([]);
  });

  it("an image maps MEM_IMAGE: headers read-only, .text execute-read, .data copy-on-write; DEP on .data", () => {
    const { k, a } = twoProcs();
    const f = k.createFile("app.exe", 5 * 4096);
    const h = k.createFileMapping(a, 0n, PageProt.READONLY, f, { textPages: 2, dataPages: 2 });
    const base = k.mapViewOfFile(a, h, "read", false, 0n, 0n, 0n);
    const q = k.virtualQuery(a, base)!;
    expect(q).toMatchObject({
      type: MemState.IMAGE,
      allocationProtect: PageProt.EXECUTE_WRITECOPY,
      protect: PageProt.READONLY,
      regionSize: 0x1000n,
    });
    expect(k.virtualQuery(a, base + 0x1000n)).toMatchObject({
      protect: PageProt.EXECUTE_READ,
      regionSize: 0x2000n,
    });
    expect(k.virtualQuery(a, base + 0x3000n)).toMatchObject({
      protect: PageProt.WRITECOPY,
      regionSize: 0x2000n,
    });
    // the two .data pages are charged at map time
    expect(k.view.windows()!.process(a)!.commitCharge).toBe(2);
    k.catchExceptions(a);
    expect(k.userAccess(0, a, base + 0x1000n, Access.Exec).ok).toBe(true);
    expect(k.userAccess(0, a, base + 0x1000n, Access.Write, 1).ok).toBe(false);
    expect(k.view.windows()!.process(a)!.exceptionRw).toBe(1);
    expect(k.userAccess(0, a, base + 0x3000n, Access.Exec).ok).toBe(false);
    expect(k.view.windows()!.process(a)!.exceptionRw).toBe(8);
    expect(k.userAccess(0, a, base + 0x3000n, Access.Write, 9).ok).toBe(true);
    expect(k.virtualQuery(a, base + 0x3000n)).toMatchObject({ protect: RW, regionSize: 0x1000n });
    expect(k.view.windows()!.paging().writeCopies).toBe(1);
    // the file is unchanged: a copy-on-write page is never written back
    expect(readByte(k, a, base + 0x4000n)).toBe(fileByte("app.exe", 0x4000));
    expect(k.view.invariants()).toEqual([]);
  });

  it("a read-write mapping larger than its file grows the file; a read-only one is STATUS_SECTION_TOO_BIG (8)", () => {
    const { k, a } = twoProcs();
    const f = k.createFile("small.bin", 4096 + 10);
    // PAGE_READONLY (and PAGE_WRITECOPY): not writable, so the file cannot grow
    expect(k.createFileMapping(a, 0x4000n, PageProt.READONLY, f, null)).toBe(0);
    expect(lastError(k, a)).toBe(WinError.NOT_ENOUGH_MEMORY);
    expect(k.createFileMapping(a, 0x4000n, PageProt.WRITECOPY, f, null)).toBe(0);
    expect(lastError(k, a)).toBe(WinError.NOT_ENOUGH_MEMORY);
    // PAGE_READWRITE: the file is 16 KB now, its old bytes kept, the new ones zero
    const h = k.createFileMapping(a, 0x4000n, RW, f, null);
    expect(h).toBeGreaterThan(0);
    expect(k.view.windows()!.section(h)!.pages).toBe(4);
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    expect(readByte(k, a, va + 5n)).toBe(fileByte("small.bin", 5));
    expect(readByte(k, a, va + 0x2000n)).toBe(0);
    expect(k.userAccess(0, a, va + 0x3fffn, Access.Write, 0x44).ok).toBe(true);
    // a second mapping with size 0 takes the file's new size
    const h2 = k.createFileMapping(a, 0n, PageProt.READONLY, f, null);
    expect(k.view.windows()!.section(h2)!.pages).toBe(4);
    const v2 = k.mapViewOfFile(a, h2, "read", false, 0n, 0n, 0n);
    expect(readByte(k, a, v2 + 0x3fffn)).toBe(0x44);
    expect(k.view.invariants()).toEqual([]);
  });

  it("a paging-file-backed section past the commit limit fails with ERROR_COMMITMENT_LIMIT", () => {
    const { k, a } = twoProcs({ pagefileBytes: 0 });
    expect(k.createFileMapping(a, 64n << 20n, RW, null, null)).toBe(0);
    expect(lastError(k, a)).toBe(WinError.COMMITMENT_LIMIT);
    expect(k.createFileMapping(a, 0n, RW, null, null)).toBe(0);
    expect(lastError(k, a)).toBe(WinError.INVALID_PARAMETER);
  });
});
