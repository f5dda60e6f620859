/**
 * view/reclaim.ts: frames reclaim may take against the pinned ones, and
 * the swap slots with the PTEs that refer to them.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { Kernel, mmapArgs } from "../Kernel.ts";
import { RECLAIM_STATES } from "./reclaim.ts";

const PAGE = 4096n;

function setup(swapBytes: number) {
  const k = new Kernel({ ramBytes: 32 << 20, cpus: 1, swapBytes });
  const a = k.spawn("A")!;
  k.switchTo(0, a);
  const buf = k.mmap(a, mmapArgs(8 * 4096));
  for (let i = 0n; i < 8n; i++) k.userAccess(0, a, buf + i * PAGE, Access.Write, 1 + Number(i));
  return { k, a, buf };
}

describe("kernel.view.reclaim and swap", () => {
  it("counts every frame once; user pages on the LRU are reclaimable, tables and the kernel pinned", () => {
    const { k, a, buf } = setup(4 << 20);
    const r = k.view.reclaim();
    const frames = k.view.frames();
    expect(RECLAIM_STATES.reduce((n, s) => n + r.counts[s], 0)).toBe(frames.total);
    expect(r.counts.free).toBe(frames.byKind.free);
    expect(r.counts["page-table"]).toBe(frames.byKind["page-table"]);
    expect(r.counts.pinned).toBe(frames.total - r.counts.free - r.counts.reclaimable);
    const pfn = k.view.walk(a, buf).leaf!.pfn;
    const at = (p: number) => r.runs.find((x) => x.first <= p && p <= x.last)!.state;
    expect(at(pfn)).toBe("reclaimable");
    expect(at(k.view.walk(a, buf).entries[0].tablePfn)).toBe("page-table");
    expect(at(k.view.machine().zeroPfn)).toBe("kernel");
    // mlock: the same page is now pinned, as mlocked
    expect(k.mlock(a, buf, 8n * PAGE, false)).toBe(0n);
    const locked = k.view.reclaim();
    expect(locked.runs.find((x) => x.first <= pfn && pfn <= x.last)!.state).toBe("mlocked");
    expect(locked.counts.mlocked).toBe(8);
    expect(locked.counts.reclaimable).toBe(r.counts.reclaimable - 8);
  });

  it("without swap an anonymous page cannot leave; with it, a paged-out page's slot names its owner", () => {
    const none = setup(0);
    expect(none.k.view.swap()).toBeNull();
    const pfn = none.k.view.walk(none.a, none.buf).leaf!.pfn;
    const r = none.k.view.reclaim();
    expect(r.runs.find((x) => x.first <= pfn && pfn <= x.last)!.state).toBe("no-swap");
    const { k, a, buf } = setup(4 << 20);
    const before = k.view.swap()!;
    expect(before.used).toBe(0);
    expect(before.slots).toEqual([]);
    expect(k.madvise(a, buf + 2n * PAGE, 2n * PAGE, "pageout")).toBe(0n);
    const s = k.view.swap()!;
    expect(s.used).toBe(2);
    expect(s.free).toBe(s.total - 2);
    const slot = k.view.page(a, k.view.address(buf + 2n * PAGE).vpn).swapSlot;
    expect(slot).toBeGreaterThan(0);
    const row = s.slots.find((x) => x.slot === slot)!;
    expect(row.refs).toBe(1);
    expect(row.written).toBe(true);
    expect(row.owners).toEqual([`A 0x${(buf + 2n * PAGE).toString(16)}`]);
  });
});

describe("kernel.view.tlb's sets and ways", () => {
  it("places each entry at the set its tag selects, one entry per set and way", () => {
    const { k } = setup(0);
    const t = k.view.tlb(0);
    expect(t.entries.length).toBeGreaterThan(0);
    for (const a of t.arrays) {
      expect(a.sets * a.ways).toBe(a.entries);
      const mine = t.entries.filter((e) => e.level === a.level && e.array === a.name);
      expect(new Set(mine.map((e) => `${e.set}/${e.way}`)).size).toBe(mine.length);
      for (const e of mine) {
        expect(e.way).toBeLessThan(a.ways);
        // a 4K entry's tag is its page number; the set is its low bits (TlbArray)
        if (e.pageSize === "4K") expect(e.set).toBe(e.vpn % a.sets);
      }
    }
  });
});
