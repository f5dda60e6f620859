/**
 * The per-CPU page lists as the kernel's views show them: MemFree, /proc/vmstat's
 * pgalloc/pgfree and /proc/zoneinfo's pagesets (mm/vmstat.c zoneinfo_show_print).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { Kernel, mmapArgs } from "../Kernel.ts";
import { formatZoneinfo } from "./proc.ts";

function boot() {
  const k = new Kernel({ ramBytes: 512 << 20, cpus: 2 });
  const a = k.spawn("A")!;
  k.switchTo(1, a);
  const buf = k.mmap(a, mmapArgs(64 * 4096));
  return { k, a, buf };
}

const dma32 = (k: Kernel) => k.view.zoneinfo()[1];

describe("per-CPU page lists in the views", () => {
  it("MemFree drops by a batch per list at the first allocations on a CPU, and not again until the list runs dry", () => {
    const { k, a, buf } = boot();
    const before = k.view.meminfo().MemFree / 4096;
    const alloc0 = k.view.vmstat().pgalloc_dma32;
    expect(dma32(k).pagesets[1].count).toBe(0);
    // the page tables it needs first (CPU 1's unmovable list refilled with a batch: alloc_factor
    // doubles the next refill), then the page (its movable list refilled with twice the batch)
    k.userAccess(1, a, buf, Access.Write, 7);
    const z = dma32(k);
    const batch = z.pagesets[1].batch;
    const used = k.view.vmstat().pgalloc_dma32 - alloc0;
    expect(used).toBeGreaterThan(1);
    expect(before - k.view.meminfo().MemFree / 4096).toBe(batch + 2 * batch);
    expect(z.pagesets[1].count).toBe(3 * batch - used);
    expect(z.free).toBe(k.view.vmstat().nr_free_pages - k.view.zoneinfo()[0].free);
    // the next pages (no new page table) come off CPU 1's movable list: MemFree stays until it is dry
    const mid = k.view.meminfo().MemFree;
    let i = 1;
    for (; i < 64; i++) {
      k.userAccess(1, a, buf + BigInt(i * 4096), Access.Write, 7);
      if (k.view.meminfo().MemFree !== mid) break;
    }
    expect(i).toBe(2 * batch);
  });
  it("a page freed by munmap is the next one the same CPU allocates, and MemFree does not rise", () => {
    const { k, a, buf } = boot();
    for (let i = 0; i < 4; i++) k.userAccess(1, a, buf + BigInt(i * 4096), Access.Write, 7);
    const pfn = k.view.walk(a, buf + 3n * 4096n).leaf!.pfn;
    const free = k.view.meminfo().MemFree;
    const pgfree = k.view.vmstat().pgfree;
    k.munmap(a, buf + 3n * 4096n, 4096n);
    expect(k.view.vmstat().pgfree).toBe(pgfree + 1);
    expect(k.view.meminfo().MemFree).toBe(free);
    k.userAccess(1, a, buf + 8n * 4096n, Access.Write, 7);
    expect(k.view.walk(a, buf + 8n * 4096n).leaf!.pfn).toBe(pfn);
  });

  it("prints each online CPU's pageset in /proc/zoneinfo, as zoneinfo_show_print does", () => {
    const { k, a, buf } = boot();
    k.userAccess(1, a, buf, Access.Write, 7);
    const zones = k.view.zoneinfo();
    const text = formatZoneinfo(zones);
    const at = text.indexOf("Node 0, zone    DMA32");
    expect(at).toBeGreaterThanOrEqual(0);
    const z = zones[1];
    const p = text.indexOf("  pagesets", at);
    expect(text.slice(p, p + 11)).toEqual([
      "  pagesets",
      "    cpu: 0",
      `              count: ${z.pagesets[0].count}`,
      `              high:  ${z.pagesets[0].high}`,
      `              batch: ${z.pagesets[0].batch}`,
      `  vm stats threshold: ${z.statThreshold}`,
      "    cpu: 1",
      `              count: ${z.pagesets[1].count}`,
      `              high:  ${z.pagesets[1].high}`,
      `              batch: ${z.pagesets[1].batch}`,
      `  vm stats threshold: ${z.statThreshold}`,
    ]);
    expect(z.pagesets[1].count).toBeGreaterThan(0);
    expect(z.pagesets[1].high).toBeGreaterThan(0);
    // the DMA zone's lists were never used: high still 0, batch 1 (under 4 MiB of a zone per CPU)
    expect(zones[0].pagesets[0]).toEqual({ count: 0, high: 0, batch: 1 });
    // an unpopulated zone stops at its protection line
    expect(text.at(-1)).toMatch(/^ {8}protection: \(/);
    expect(text.filter((l) => l.startsWith("Node 0, zone"))).toHaveLength(3);
  });
});
