import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl } from "../../KernelImpl.ts";
import { PageProt } from "./mmpte.ts";
import { DESIRED_FREE_GOAL, MM_PLENTY_FREE_PAGES } from "./wsmanager.ts";

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
