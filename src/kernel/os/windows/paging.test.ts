import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { KernelConfig } from "../../core/config.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl } from "../../KernelImpl.ts";
import { PageProt } from "./mmpte.ts";

/** A booted profile=windows kernel with one running process. */
function winKernel(cfg: Partial<KernelConfig> = {}): { k: KernelImpl; t: Task } {
  const k = new KernelImpl({ ramBytes: 32 << 20, profile: "windows", pagefileBytes: 4 << 20, ...cfg });
  const t = k.spawn("app")!;
  k.switchTo(0, t);
  return { k, t };
}
const RW = PageProt.READWRITE;
const paging = (k: KernelImpl) => k.view.windows()!.paging();
const resident = (k: KernelImpl, t: Task) => k.view.windows()!.vads(t)[0].residentPages;

describe("trim P: the working set onto the standby and modified lists", () => {
  it("written pages go to the modified list; a soft fault brings one back with its bytes, no I/O", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x4000n, true, true, RW);
    for (let i = 0n; i < 4n; i++) k.userAccess(0, t, a + i * 4096n, Access.Write, 0x30 + Number(i));
    const before = paging(k);
    const r = k.trim(t, false);
    expect(r.trimmed).toBe(4);
    expect(resident(k, t)).toBe(0);
    const p = paging(k);
    // a new private page has no copy anywhere: modified, whatever its dirty bit
    expect(p.modified - before.modified).toBe(4);
    expect(p.standby).toBe(before.standby);
    // still committed, still the same frame behind a transition PTE
    expect(k.view.windows()!.pages(t, Number(a / 4096n), 4).committed).toBe(4);
    const min0 = t.minFlt;
    const got = k.userAccess(0, t, a + 0x2000n, Access.Read);
    expect(got).toMatchObject({ ok: true, value: 0x32, faults: 1 });
    expect(t.minFlt - min0).toBe(1);
    expect(t.majFlt).toBe(0);
    const q = paging(k);
    expect(q.transitionFaults - p.transitionFaults).toBe(1);
    expect(q.modified).toBe(p.modified - 1);
    expect(q.pageReads).toBe(0);
    expect(resident(k, t)).toBe(1);
    expect(k.view.invariants()).toEqual([]);
  });

  it("the modified page writer writes each modified page to the paging file and moves it to standby", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x3000n, true, true, RW);
    for (let i = 0n; i < 3n; i++) k.userAccess(0, t, a + i * 4096n, Access.Write, 7);
    k.trim(t, false);
    const p = paging(k);
    expect(k.modifiedPageWriter()).toBe(3);
    const q = paging(k);
    expect(q.modified).toBe(p.modified - 3);
    expect(q.standby).toBe(p.standby + 3);
    expect(q.pagesOutput - p.pagesOutput).toBe(3);
    expect(q.pagefileInUse - p.pagefileInUse).toBe(3);
    // a fault on a standby page is soft too
    expect(k.userAccess(0, t, a, Access.Read)).toMatchObject({ ok: true, value: 7 });
    expect(paging(k).transitionFaults - q.transitionFaults).toBe(1);
    expect(paging(k).standby).toBe(q.standby - 1);
    expect(k.view.invariants()).toEqual([]);
  });

  it("without a paging file the writer can take nothing: modified pages stay modified", () => {
    const { k, t } = winKernel({ pagefileBytes: 0 });
    const a = k.virtualAlloc(t, 0n, 0x2000n, true, true, RW);
    k.userAccess(0, t, a, Access.Write, 1);
    k.userAccess(0, t, a + 4096n, Access.Write, 2);
    const r = k.trim(t, true);
    expect(r).toMatchObject({ trimmed: 2, written: 0, repurposed: 0 });
    expect(paging(k).modified).toBe(2);
    expect(k.userAccess(0, t, a + 4096n, Access.Read)).toMatchObject({ ok: true, value: 2 });
    expect(t.majFlt).toBe(0);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("paged out: paging-file PTEs and hard faults", () => {
  it("pageout leaves paging-file PTEs; a fault reads the page back (a hard fault), clean, its copy kept", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x2000n, true, true, RW);
    k.userAccess(0, t, a, Access.Write, 0x5a);
    k.userAccess(0, t, a + 4096n, Access.Write, 0xa5);
    const free0 = paging(k).free + paging(k).zeroed;
    const r = k.trim(t, true);
    expect(r).toMatchObject({ trimmed: 2, written: 2, repurposed: 2 });
    const p = paging(k);
    expect(p.standby + p.modified).toBe(0);
    expect(p.pagefileInUse).toBe(2);
    // the two frames are free again (on the free or zeroed list)
    expect(p.free + p.zeroed - free0).toBe(2);
    expect(k.view.page(t, Number(a / 4096n)).pfn).toBe(-1);
    expect(k.view.windows()!.pages(t, Number(a / 4096n), 2).committed).toBe(2);
    const got = k.userAccess(0, t, a + 4096n, Access.Read);
    expect(got).toMatchObject({ ok: true, value: 0xa5, faults: 1 });
    expect(t.majFlt).toBe(1);
    const q = paging(k);
    expect(q.pageReads - p.pageReads).toBe(1);
    expect(q.transitionFaults).toBe(p.transitionFaults);
    // read back and not written since: clean, so a trim puts it on standby with no write
    k.trim(t, false);
    expect(paging(k).standby).toBe(1);
    expect(paging(k).modified).toBe(0);
    expect(paging(k).pagefileInUse).toBe(2);
    expect(k.view.invariants()).toEqual([]);
  });

  it("a page written after its read-back loses its copy: trimmed, it is modified again", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x1000n, true, true, RW);
    k.userAccess(0, t, a, Access.Write, 1);
    k.trim(t, true);
    k.userAccess(0, t, a, Access.Write, 2);
    expect(paging(k).pagefileInUse).toBe(0);
    k.trim(t, false);
    expect(paging(k).modified).toBe(1);
    expect(k.userAccess(0, t, a, Access.Read)).toMatchObject({ ok: true, value: 2 });
  });

  it("VirtualProtect keeps a paged-out page's copy; VirtualFree and exit give the paging file back", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x3000n, true, true, RW);
    for (let i = 0n; i < 3n; i++) k.userAccess(0, t, a + i * 4096n, Access.Write, 9);
    k.trim(t, true);
    expect(k.virtualProtect(t, a, 0x1000n, PageProt.READONLY)).toBe(RW);
    expect(k.userAccess(0, t, a, Access.Read)).toMatchObject({ ok: true, value: 9 });
    expect(k.virtualQuery(t, a)!.protect).toBe(PageProt.READONLY);
    expect(k.virtualFree(t, a + 0x1000n, 0x1000n, false)).toBe(true);
    expect(paging(k).pagefileInUse).toBe(2); // the first page's copy (read back, clean) and the third's
    k.trim(t, false); // the first page to standby, the third still paged out
    k.exit(t, "exit");
    expect(paging(k)).toMatchObject({ pagefileInUse: 0, standby: 0, modified: 0 });
    expect(k.view.windows()!.commit().total).toBe(0);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("the zero page list feeds demand-zero faults", () => {
  it("freed frames are zeroed by the zero page thread; the next demand-zero fault takes one, zero", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x2000n, true, true, RW);
    k.userAccess(0, t, a, Access.Write, 0xee);
    k.userAccess(0, t, a + 4096n, Access.Write, 0xee);
    k.virtualFree(t, a, 0x2000n, false);
    expect(paging(k).zeroed).toBe(0);
    k.trim(t, false); // an empty working set; the zero page thread runs after it
    expect(paging(k).zeroed).toBe(2);
    const dz = paging(k).demandZeroFaults;
    k.virtualAlloc(t, a, 0x1000n, false, true, RW);
    expect(k.userAccess(0, t, a, Access.Read)).toMatchObject({ ok: true, value: 0 });
    expect(paging(k).zeroed).toBe(1);
    expect(paging(k).demandZeroFaults - dz).toBe(1);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("memory pressure", () => {
  it("with the free list short, a demand-zero fault repurposes the oldest standby page, not Linux's OOM killer", () => {
    const { k, t } = winKernel({ pagefileBytes: 16 << 20 });
    const free = paging(k).free;
    const a = k.virtualAlloc(t, 0n, BigInt(free + 64) * 4096n, true, true, RW);
    // a minimum as big as the allocation: the working-set manager (wsmanager.ts) may not trim it
    expect(k.setWorkingSetSize(t, BigInt(free + 64) * 4096n, BigInt(free + 64) * 4096n, 0)).toBe(0);
    k.userAccess(0, t, a, Access.Write, 0x11);
    k.trim(t, false);
    k.modifiedPageWriter(); // the page is on standby, with its copy in the paging file
    expect(paging(k).standby).toBe(1);
    let i = 1n;
    while (paging(k).standby === 1 && i < BigInt(free + 64))
      k.userAccess(0, t, a + i++ * 4096n, Access.Write, 1);
    expect(t.alive).toBe(true);
    expect(k.view.counters().oomReports).toBe(0);
    expect(paging(k)).toMatchObject({ standby: 0, repurposed: 1, pagefileInUse: 1 });
    // the repurposed page left its paging-file PTE: committed, no frame
    expect(k.view.page(t, Number(a / 4096n)).pfn).toBe(-1);
    expect(k.view.windows()!.pages(t, Number(a / 4096n), 1).committed).toBe(1);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("explain names the list a transition PTE's page is on, and a paging-file PTE's hard fault", () => {
  it("modified list, standby list, paging file", () => {
    const { k, t } = winKernel();
    const a = k.virtualAlloc(t, 0n, 0x1000n, true, true, RW);
    k.userAccess(0, t, a, Access.Write, 1);
    const last = () => k.view.explain(t, a, Access.Read).at(-1)!;
    k.trim(t, false);
    expect(last()).toMatch(/MiResolveTransitionFault: .*\(modified list\).*soft fault/);
    k.modifiedPageWriter();
    expect(last()).toMatch(/\(standby list\)/);
    k.trim(t, true);
    expect(last()).toMatch(/MiResolvePageFileFault: .*hard fault/);
    expect(paging(k)).toMatchObject({ transitionFaults: 0, pageReads: 0 });
  });
});

describe("a guard page in the paging file", () => {
  it("the guard fault keeps the paging-file PTE (only the guard goes): the next access reads the page back", () => {
    for (const arch of ["x86_64", "i386"] as const) {
      const { k, t } = winKernel({ arch });
      const a = k.virtualAlloc(t, 0n, 0x1000n, true, true, RW);
      k.userAccess(0, t, a, Access.Write, 0x5c);
      k.trim(t, true);
      expect(paging(k).pagefileInUse).toBe(1);
      expect(k.virtualProtect(t, a, 0x1000n, RW | PageProt.GUARD)).toBe(RW);
      k.catchExceptions(t);
      expect(k.userAccess(0, t, a, Access.Read).ok).toBe(false);
      expect(k.view.windows()!.process(t)!.exception).toBe(0x80000001);
      // still in the paging file, PAGE_READWRITE now: a hard fault brings the byte back
      expect(paging(k).pagefileInUse).toBe(1);
      const reads0 = paging(k).pageReads;
      expect(k.userAccess(0, t, a, Access.Read)).toMatchObject({ ok: true, value: 0x5c });
      expect(paging(k).pageReads - reads0).toBe(1);
      expect(k.view.invariants()).toEqual([]);
    }
  });
});
