import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import type { KernelImpl } from "../../KernelImpl.ts";
import { twoProcs } from "../../windows.testkit.ts";
import { PageProt, pageFileOffset, SoftKind, softKind } from "./mmpte.ts";
import { readProto } from "./section.ts";

const read = (k: KernelImpl, t: Task, va: bigint) => {
  k.switchTo(0, t);
  const r = k.userAccess(0, t, va, Access.Read);
  return r.ok ? r.value : -1;
};
const write = (k: KernelImpl, t: Task, va: bigint, v: number) => {
  k.switchTo(0, t);
  return k.userAccess(0, t, va, Access.Write, v).ok;
};
const pfnOf = (k: KernelImpl, t: Task, va: bigint) => k.view.page(t, Number(va / 4096n)).pfn;

describe("a paging-file-backed section's pages leave memory (prototype PTEs in transition and in the paging file)", () => {
  for (const arch of ["x86_64", "i386", "i386-pae"] as const)
    it(`trimmed from every working set, written out, repurposed and read back (${arch})`, () => {
      const { k, a, b, os } = twoProcs({ arch });
      const w = k.view.windows()!;
      const wide = k.arch.pgtable.entryBytes === 8;
      const h = k.createFileMapping(a, 0x2000n, PageProt.READWRITE, null, null);
      const sec = os.sections.get(h)!;
      const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
      const vb = k.mapViewOfFile(b, h, "read", false, 0n, 0n, 0n);
      expect(write(k, a, va + 0x1010n, 0x3c)).toBe(true);
      expect(read(k, b, vb + 0x1010n)).toBe(0x3c);
      const pfn = pfnOf(k, a, va + 0x1000n);
      // A's trim leaves B's mapping: the page stays active (share count 1)
      k.trim(a, false);
      expect(k.pages.mapcount[pfn]).toBe(1);
      expect(w.paging()).toMatchObject({ modified: 0, standby: 0 });
      // B's trim takes the last one: the prototype PTE is in transition, the frame on the modified list
      k.trim(b, false);
      expect(w.paging()).toMatchObject({ modified: 1, standby: 0 });
      let proto = readProto(k, sec, 1);
      expect(softKind(proto.hi, proto.lo, wide)).toBe(SoftKind.Transition);
      // the modified page writer writes it to the paging file: standby, Pages Output
      const out0 = w.paging().pagesOutput;
      expect(k.modifiedPageWriter()).toBe(1);
      expect(w.paging()).toMatchObject({ modified: 0, standby: 1, pagefileInUse: 1, pagesOutput: out0 + 1 });
      // repurposed (trim with pageout purges the standby list): the prototype PTE names the copy
      k.trim(a, true);
      proto = readProto(k, sec, 1);
      expect(softKind(proto.hi, proto.lo, wide)).toBe(SoftKind.PageFile);
      expect(pageFileOffset(proto.hi, proto.lo, wide)).toBeGreaterThan(0);
      expect(w.section(h)).toMatchObject({ resident: 0 });
      expect(w.paging()).toMatchObject({ standby: 0, pagefileInUse: 1 });
      // A's read is a hard fault (an in-page read from the paging file), the bytes kept
      const maj = a.majFlt;
      const reads = w.paging().pageReads;
      expect(read(k, a, va + 0x1010n)).toBe(0x3c);
      expect(a.majFlt).toBe(maj + 1);
      expect(w.paging().pageReads).toBe(reads + 1);
      // B then finds the prototype valid: no I/O, the same frame
      const majB = b.majFlt;
      expect(read(k, b, vb + 0x1010n)).toBe(0x3c);
      expect(b.majFlt).toBe(majB);
      expect(pfnOf(k, b, vb + 0x1000n)).toBe(pfnOf(k, a, va + 0x1000n));
      // clean (its copy is current): trimmed from both, it goes to standby, not modified
      k.trim(a, false);
      k.trim(b, false);
      expect(w.paging()).toMatchObject({ modified: 0, standby: 1, pagefileInUse: 1 });
      // a write through A makes it differ from the copy: the copy goes, the next trim puts it on modified
      expect(write(k, a, va + 0x1010n, 0x44)).toBe(true);
      k.trim(a, false);
      expect(w.paging()).toMatchObject({ modified: 1, standby: 0, pagefileInUse: 0 });
      expect(read(k, b, vb + 0x1010n)).toBe(0x44);
      expect(k.view.invariants()).toEqual([]);
    });

  it("the segment deleted with pages on the lists and in the paging file gives back frames, paging file and commit", () => {
    const { k, a, os } = twoProcs();
    const w = k.view.windows()!;
    const c0 = w.commit().total;
    const free0 = k.view.meminfo().MemFree;
    const h = k.createFileMapping(a, 0x3000n, PageProt.READWRITE, null, null);
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    for (let i = 0n; i < 3n; i++) write(k, a, va + i * 4096n, 1 + Number(i));
    // page 0 to the paging file, page 1 on standby (written, not repurposed), page 2 on modified
    k.trim(a, true);
    read(k, a, va + 0x1000n);
    write(k, a, va + 0x2000n, 9);
    k.trim(a, false);
    expect(w.paging()).toMatchObject({ modified: 1, standby: 1, pagefileInUse: 2 });
    expect(os.sections.get(h)!.residentPages).toBe(2);
    expect(k.unmapViewOfFile(a, va)).toBe(true);
    expect(k.closeHandle(a, h)).toBe(true);
    expect(w.section(h)).toBeNull();
    expect(w.paging()).toMatchObject({ modified: 0, standby: 0, pagefileInUse: 0 });
    expect(w.commit().total).toBe(c0);
    expect(k.view.meminfo().MemFree).toBeGreaterThanOrEqual(free0 - 2 * 4096 * 4); // page tables may stay
    expect(k.view.invariants()).toEqual([]);
  });

  it("unmapping the last view of an open section puts its pages on the lists; a new view finds them (soft faults)", () => {
    const { k, a, b } = twoProcs();
    const w = k.view.windows()!;
    const h = k.createFileMapping(a, 0x2000n, PageProt.READWRITE, null, null);
    const va = k.mapViewOfFile(a, h, "write", false, 0n, 0n, 0n);
    write(k, a, va, 7);
    write(k, a, va + 0x1000n, 8);
    expect(k.unmapViewOfFile(a, va)).toBe(true);
    expect(w.paging().modified).toBe(2);
    const vb = k.mapViewOfFile(b, h, "read", false, 0n, 0n, 0n);
    const soft = w.paging().transitionFaults;
    expect(read(k, b, vb)).toBe(7);
    expect(read(k, b, vb + 0x1000n)).toBe(8);
    expect(w.paging().transitionFaults - soft).toBe(2);
    expect(w.paging().modified).toBe(0);
    expect(k.view.invariants()).toEqual([]);
  });
});
