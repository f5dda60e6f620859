import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl } from "../../KernelImpl.ts";
import type { WindowsOs } from "./index.ts";
import { PageProt } from "./mmpte.ts";
import { winProcess } from "./process.ts";
import {
  ageWorkingSet,
  DESIRED_FREE_GOAL,
  MM_HIGH_LIMIT,
  MM_PLENTY_FREE_PAGES,
  PASS_TRIM_AGE,
  trimWorkingSet,
  workingSetManager,
} from "./wsmanager.ts";

const P = 4096n;
const RW = PageProt.READWRITE;

function machine(pagefileBytes: number) {
  const k = new KernelImpl({ ramBytes: 32 << 20, profile: "windows", pagefileBytes });
  const a = k.spawn("a")!;
  const b = k.spawn("b")!;
  return { k, a, b };
}
/** VirtualAlloc of n pages in t, each written with its index; the base. */
function fill(k: KernelImpl, t: Task, n: number, from = 0): bigint {
  k.switchTo(0, t);
  const va = k.virtualAlloc(t, 0n, BigInt(n) * P, true, true, RW);
  expect(va).toBeGreaterThan(0n);
  for (let i = from; i < n; i++)
    expect(k.userAccess(0, t, va + BigInt(i) * P, Access.Write, i & 0xff).ok).toBe(true);
  return va;
}
const ws = (k: KernelImpl, t: Task) => k.view.windows()!.process(t)!.workingSet;

describe("the working-set manager (MmWorkingSetManager) under memory pressure", () => {
  it("trims the biggest working set above its minimum when available pages fall to MmPlentyFreePages; the pages come back", () => {
    const { k, a, b } = machine(16 << 20);
    const w = k.view.windows()!;
    const avail0 = w.paging().available;
    // A takes most of memory while it is plentiful: nothing is trimmed
    const nA = avail0 - MM_PLENTY_FREE_PAGES - 200;
    const va = fill(k, a, nA);
    expect(w.paging().wsManagerRuns).toBe(0);
    expect(ws(k, a)).toBe(nA);
    // B's faults take the available pages below the threshold: A's working set is trimmed, not B's minimum
    fill(k, b, 400);
    const pg = w.paging();
    expect(pg.wsManagerRuns).toBeGreaterThan(0);
    expect(pg.wsManagerTrimmed).toBeGreaterThan(0);
    expect(ws(k, a)).toBeLessThan(nA);
    expect(ws(k, a)).toBeGreaterThanOrEqual(w.process(a)!.wsMin);
    expect(ws(k, b)).toBe(400);
    // A's trimmed pages were written by the modified page writer; the available pages are above the threshold again
    expect(pg.pagesOutput).toBeGreaterThan(0);
    expect(pg.available).toBeGreaterThan(MM_PLENTY_FREE_PAGES);
    // every page of A reads back its bytes (soft and hard faults)
    k.switchTo(0, a);
    for (let i = 0; i < nA; i += 97)
      expect(k.userAccess(0, a, va + BigInt(i) * P, Access.Read)).toMatchObject({
        ok: true,
        value: i & 0xff,
      });
    expect(k.view.invariants()).toEqual([]);
  });

  it("never trims a working set below its minimum; with no paging file the modified pages stay", () => {
    const { k, a, b } = machine(0);
    const w = k.view.windows()!;
    const avail0 = w.paging().available;
    fill(k, a, avail0 - MM_PLENTY_FREE_PAGES - 10);
    fill(k, b, 60);
    const pg = w.paging();
    expect(pg.wsManagerRuns).toBeGreaterThan(0);
    // the trimmed pages are modified (never written anywhere) and nothing can write them
    expect(pg.pagesOutput).toBe(0);
    expect(pg.modified).toBe(pg.wsManagerTrimmed);
    // the pressure stays (nothing becomes available): A goes down to its minimum and no further
    expect(ws(k, a)).toBe(w.process(a)!.wsMin);
    expect(ws(k, b)).toBeGreaterThanOrEqual(w.process(b)!.wsMin);
    expect(pg.available).toBeLessThanOrEqual(DESIRED_FREE_GOAL);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("MiTrimWorkingSet: page age, then page priority (the MEMORY_PRIORITY_INFORMATION page)", () => {
  /** The page priority of every valid page of t in [va, va + n pages) that QueryWorkingSetEx reports Valid. */
  const validPages = (k: KernelImpl, t: Task, va: bigint, n: number) => {
    let v = 0;
    for (let i = 0; i < n; i++) if (k.queryWorkingSetEx(t, va + BigInt(i) * P).valid) v++;
    return v;
  };

  it("under pressure the lower-priority pages go first though they came in last; they sit on their priority's standby list", () => {
    const { k, a, b } = machine(16 << 20);
    const w = k.view.windows()!;
    const avail0 = w.paging().available;
    const nLow = 1500;
    const nNormal = avail0 - MM_PLENTY_FREE_PAGES - 200 - nLow;
    // A's first pages at MEMORY_PRIORITY_NORMAL (5), the later ones at MEMORY_PRIORITY_VERY_LOW (1)
    const vaNormal = fill(k, a, nNormal);
    expect(k.setMemoryPriority(a, false, 1)).toBe(0);
    const vaLow = fill(k, a, nLow);
    expect(w.paging().wsManagerRuns).toBe(0);
    fill(k, b, 400);
    const pg = w.paging();
    expect(pg.wsManagerTrimmed).toBeGreaterThan(0);
    expect(pg.wsManagerTrimmed).toBeLessThan(nLow);
    // every normal-priority page of A is still in its working set; the trimmed ones were all priority 1
    expect(validPages(k, a, vaNormal, nNormal)).toBe(nNormal);
    expect(validPages(k, a, vaLow, nLow)).toBe(nLow - pg.wsManagerTrimmed);
    // written by the modified page writer, they wait on the priority-1 standby list (none on priority 5's)
    expect(pg.standbyByPriority[1]).toBeGreaterThan(0);
    expect(pg.standbyByPriority[5]).toBe(0);
    expect(k.view.invariants()).toEqual([]);
  });

  it("a page accessed since the last aging is not trimmed by a pass with a trim age; one not accessed is, at age 1", () => {
    const { k, a } = machine(16 << 20);
    const w = k.os as WindowsOs;
    const va = fill(k, a, 100);
    const mm = a.mm!;
    const p = winProcess(mm);
    // the first aging: every page was accessed, so each loses its accessed bit and stays at age 0
    ageWorkingSet(w, mm, p);
    expect(trimWorkingSet(w, mm, p, 100, PASS_TRIM_AGE[1], -1)).toBe(0);
    // the even pages are read again, their TLB entries gone first (the aging flushes none: a page read
    // through a warm TLB entry would not set its accessed bit; see below); the second aging takes the odd ones to age 1
    k.tlbMgr.flushTlbMmRange(mm, Number(va / P), 100, k.runningCpu);
    for (let i = 0; i < 100; i += 2)
      expect(k.userAccess(0, a, va + BigInt(i) * P, Access.Read).ok).toBe(true);
    ageWorkingSet(w, mm, p);
    // pass 0 wants age 2: nothing yet; pass 1 (age 1) takes the odd pages only
    expect(trimWorkingSet(w, mm, p, 100, PASS_TRIM_AGE[0], -1)).toBe(0);
    expect(trimWorkingSet(w, mm, p, 100, PASS_TRIM_AGE[1], -1)).toBe(50);
    for (let i = 0; i < 100; i++) expect(k.queryWorkingSetEx(a, va + BigInt(i) * P).valid).toBe(i % 2 === 0);
    // a trim age of 0 takes pages whatever their age (MI_PASS4_TRIM_AGE), and the scan resumes where it stopped
    expect(trimWorkingSet(w, mm, p, 10, 0, -1)).toBe(10);
    expect(p.ws.size).toBe(40);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("MiCheckSystemTrimEndCriteria's last pass (NumPasses == MI_MAX_TRIM_PASSES, MiDetermineWsTrimAmount's default case)", () => {
  it("with every page just accessed and the available pages below MM_HIGH_LIMIT + 64, one run still trims, at trim age 0", () => {
    const { k, a } = machine(16 << 20);
    const w = k.os as WindowsOs;
    const db = w.db;
    const avail0 = k.view.windows()!.paging().available;
    // A fills memory to just under MM_HIGH_LIMIT + 64 available pages with the manager held off (its wake-ups do not come)
    db.wsManager.active = true;
    k.switchTo(0, a);
    const va = k.virtualAlloc(a, 0n, BigInt(avail0) * P, true, true, RW);
    for (let i = 0; k.view.windows()!.paging().available > MM_HIGH_LIMIT + 60; i++)
      expect(k.userAccess(0, a, va + BigInt(i) * P, Access.Write, i & 0xff).ok).toBe(true);
    db.wsManager.active = false;
    const pg0 = k.view.windows()!.paging();
    expect(pg0.available).toBeLessThan(MM_HIGH_LIMIT + 64);
    const mm = a.mm!;
    const p = winProcess(mm);
    const before = p.ws.size;
    // every page is at age 0 with its accessed bit set: passes 0-3 (trim ages 2, 1, 1, 1) take none;
    // the pass after them (MI_PASS4_TRIM_AGE 0, since memory is this low) takes (size - minimum) / 4 at most
    const n = workingSetManager(w, mm, -1);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual((before - p.wsMin) >> 2);
    expect(p.ws.size).toBe(before - n);
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("the aging's MI_SET_ACCESSED_IN_PTE (WRK mm/wsmanage.c, amd64 mi.h): no TLB flush", () => {
  it("a page read through a warm TLB entry does not set its accessed bit again and ages as unused; one whose entry went does not", () => {
    const { k, a } = machine(16 << 20);
    const w = k.os as WindowsOs;
    const va = fill(k, a, 4);
    const mm = a.mm!;
    const p = winProcess(mm);
    const vpn = (i: number) => Number(va / P) + i;
    // the first aging: every page was written (accessed), so each loses the bit and stays at age 0
    ageWorkingSet(w, mm, p);
    for (let i = 0; i < 4; i++) expect(p.wsAge.get(vpn(i)) ?? 0).toBe(0);
    // pages 0 and 1 are read again; page 1's TLB entry was dropped first, page 0's is still cached
    k.tlbMgr.flushTlbMmRange(mm, vpn(1), 1, k.runningCpu);
    expect(k.userAccess(0, a, va, Access.Read)).toMatchObject({ ok: true, value: 0 });
    expect(k.userAccess(0, a, va + P, Access.Read)).toMatchObject({ ok: true, value: 1 });
    // the second aging: page 1's walk set its accessed bit (age 0 again); page 0 was used through the TLB
    // and looks as unused as pages 2 and 3 (age 1)
    ageWorkingSet(w, mm, p);
    expect(p.wsAge.get(vpn(0))).toBe(1);
    expect(p.wsAge.get(vpn(1)) ?? 0).toBe(0);
    expect(p.wsAge.get(vpn(2))).toBe(1);
    expect(p.wsAge.get(vpn(3))).toBe(1);
    // so a pass at trim age 1 takes the page just read with the unused ones, and keeps page 1
    expect(trimWorkingSet(w, mm, p, 4, PASS_TRIM_AGE[1], -1)).toBe(3);
    for (let i = 0; i < 4; i++) expect(k.queryWorkingSetEx(a, va + BigInt(i) * P).valid).toBe(i === 1);
    // its bytes come back through the soft fault
    expect(k.userAccess(0, a, va, Access.Read)).toMatchObject({ ok: true, value: 0 });
    expect(k.view.invariants()).toEqual([]);
  });
});

describe("MiTrimWorkingSet's NextSlot (WRK mm/wsmanage.c: NextSlot = TryToFree)", () => {
  /** 20 pages of A written, the first 5 trimmed at trim age 0 (NextSlot: page 5); all aged once (age 0, bits clear). */
  function setup() {
    const { k, a } = machine(16 << 20);
    const w = k.os as WindowsOs;
    const va = fill(k, a, 20);
    const mm = a.mm!;
    const p = winProcess(mm);
    const vpn = (i: number) => Number(va / P) + i;
    expect(trimWorkingSet(w, mm, p, 5, 0, -1)).toBe(5);
    expect(p.wsNextSlot).toBe(vpn(5));
    ageWorkingSet(w, mm, p);
    return { k, a, w, mm, p, va, vpn };
  }
  /** Every page of 5..19 but `skip` read again through a cold TLB, then aged: the skipped ones alone reach age 1. */
  function touchAllBut(s: ReturnType<typeof setup>, skip: number[]) {
    s.k.tlbMgr.flushTlbMmRange(s.mm, s.vpn(0), 20, s.k.runningCpu);
    for (let i = 5; i < 20; i++)
      if (!skip.includes(i)) expect(s.k.userAccess(0, s.a, s.va + BigInt(i) * P, Access.Read).ok).toBe(true);
    ageWorkingSet(s.w, s.mm, s.p);
  }

  it("once round the list short of the reduction: NextSlot stays where the scan started, not past the last page taken", () => {
    const s = setup();
    touchAllBut(s, [7, 12]);
    // trim age 1 wants 5 pages, finds 2 (7 and 12) going once round from page 5: TryToFree ends at StartEntry
    expect(trimWorkingSet(s.w, s.mm, s.p, 5, PASS_TRIM_AGE[1], -1)).toBe(2);
    expect(s.p.wsNextSlot).toBe(s.vpn(5));
    // so the next trim (any age) starts at page 5, not at 13
    expect(trimWorkingSet(s.w, s.mm, s.p, 1, 0, -1)).toBe(1);
    expect(s.k.queryWorkingSetEx(s.a, s.va + 5n * P).valid).toBe(false);
    expect(s.k.queryWorkingSetEx(s.a, s.va + 13n * P).valid).toBe(true);
    expect(s.p.wsNextSlot).toBe(s.vpn(6));
    expect(s.k.view.invariants()).toEqual([]);
  });

  it("the reduction met: NextSlot is just past the last page taken; when that slot's page went too, the next one still listed", () => {
    const s = setup();
    // pages 5 and 6 qualify at age 1: a reduction of 2 is met at page 6, the scan stops past it (page 7)
    touchAllBut(s, [5, 6]);
    expect(trimWorkingSet(s.w, s.mm, s.p, 2, PASS_TRIM_AGE[1], -1)).toBe(2);
    expect(s.p.wsNextSlot).toBe(s.vpn(7));
    // once round with nothing past the start taken but the start itself: its slot is free, the scan resumes at page 8
    touchAllBut(s, [7]);
    expect(trimWorkingSet(s.w, s.mm, s.p, 3, PASS_TRIM_AGE[1], -1)).toBe(1);
    expect(s.p.wsNextSlot).toBe(s.vpn(8));
    expect(s.k.view.invariants()).toEqual([]);
  });
});

describe("VirtualProtect and the WSLE (WRK mm/protect.c MiProtectVirtualMemory, MI_MAKE_VALID_PTE)", () => {
  it("a valid page keeps its WSLE (its place and its age); its new PTE is accessed, so the next aging takes it to age 0", () => {
    const { k, a } = machine(16 << 20);
    const w = k.os as WindowsOs;
    const va = fill(k, a, 4);
    const mm = a.mm!;
    const p = winProcess(mm);
    const vpn = Number(va / P) + 1;
    // three agings with no access (the first clears the bits): page 1 is at age 2
    for (let i = 0; i < 3; i++) ageWorkingSet(w, mm, p);
    expect(p.wsAge.get(vpn)).toBe(2);
    const before = k.queryWorkingSet(a).workingSetInfo.map((b) => b.virtualPage);
    expect(k.virtualProtect(a, va + P, P, PageProt.READONLY)).toBe(RW);
    // the WSLE is the same entry: same place in the list, same age; the PTE is accessed
    expect(k.queryWorkingSet(a).workingSetInfo.map((b) => b.virtualPage)).toEqual(before);
    expect(p.wsAge.get(vpn)).toBe(2);
    expect(k.view.walk(a, va + P).leaf!.young).toBe(true);
    // a pass with a trim age passes it (accessed), unlike its neighbours of the same age
    expect(trimWorkingSet(w, mm, p, 4, PASS_TRIM_AGE[0], -1)).toBe(3);
    expect(p.ws.has(vpn)).toBe(true);
    // the next aging finds the bit set: age 0
    ageWorkingSet(w, mm, p);
    expect(p.wsAge.get(vpn) ?? 0).toBe(0);
    expect(k.view.invariants()).toEqual([]);
  });
});
