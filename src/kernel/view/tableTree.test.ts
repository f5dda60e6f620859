/**
 * kernel.view.pageTables: the tree agrees with the walk of each address it
 * lists, holds every page that has an entry, links each table to the entry
 * that points to it, and folds the root's kernel half, on every
 * architecture the kernel boots on.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { KernelArchName } from "../core/config.ts";
import { Kernel, mmapArgs } from "../Kernel.ts";

const ARCHES: KernelArchName[] = ["x86_64", "arm64", "riscv-sv39", "i386"];

function setup(arch: KernelArchName) {
  const k = new Kernel({ arch, ramBytes: 64 << 20, swapBytes: 4 << 20 });
  const a = k.spawn("A")!;
  k.switchTo(0, a);
  const buf = k.mmap(a, mmapArgs(600 * 4096));
  // 3 pages written, 1 read (the zero page), and the last two of a 512-page span: two leaf tables on most machines
  for (const i of [0n, 1n, 2n, 510n, 511n, 513n]) k.userAccess(0, a, buf + i * 4096n, Access.Write, 1);
  k.userAccess(0, a, buf + 5n * 4096n, Access.Read);
  return { k, a, buf };
}

describe("kernel.view.pageTables", () => {
  it.each(ARCHES)("%s: every leaf is what the walk of its address finds", (arch) => {
    const { k, a, buf } = setup(arch);
    const v = k.view;
    const tree = v.pageTables(a);
    expect(tree.rootPfn).toBe(v.mm(a)!.pgdPfn);
    expect(tree.tables[0].pfn).toBe(tree.rootPfn);
    const leaves = tree.tables.flatMap((t) => t.entries.filter((e) => e.leaf && !e.kernelHalf));
    for (const e of leaves) {
      const w = v.walk(a, e.va);
      const last = w.entries.at(-1)!;
      expect(last.entryPa).toBe(e.entryPa);
      expect([last.hi, last.lo]).toEqual([e.hi, e.lo]);
      expect(e.nextPfn).toBe(w.leaf!.basePfn);
    }
    // every page with an entry in the user half is one leaf of the tree (4 KiB pages here)
    const pages = v.entryPages(a, 0, 2 ** 40);
    expect(leaves.map((e) => e.vpn).sort((x, y) => x - y)).toEqual(pages.map((p) => p.vpn));
    expect(pages.map((p) => p.vpn)).toContain(v.address(buf + 511n * 4096n).vpn);
    const zero = leaves.find((e) => e.va === buf + 5n * 4096n)!;
    expect(zero.zeroPage).toBe(true);
  });

  it.each(ARCHES)("%s: each table below the root hangs from one entry of the table above", (arch) => {
    const { k, a } = setup(arch);
    const tree = k.view.pageTables(a);
    for (const t of tree.tables.slice(1)) {
      const parents = tree.tables.filter(
        (p) => p.level === t.level + 1 && p.entries.some((e) => e.table && e.nextPfn === t.pfn),
      );
      expect(parents.length, `table ${t.pfn}`).toBe(1);
      expect(t.entries.length).toBeGreaterThan(0);
    }
    // no table is listed twice, and the kernel half is never descended
    expect(new Set(tree.tables.map((t) => t.pfn)).size).toBe(tree.tables.length);
    const kernelTargets = tree.tables[0].entries.filter((e) => e.kernelHalf && e.table).map((e) => e.nextPfn);
    expect(tree.tables.some((t) => kernelTargets.includes(t.pfn))).toBe(false);
  });

  it("shows a page swapped out as its swap entry, and nothing for a process that exited", () => {
    const { k, a, buf } = setup("x86_64");
    expect(k.madvise(a, buf, 4096n, "pageout")).toBe(0n);
    const e = k.view
      .pageTables(a)
      .tables.flatMap((t) => t.entries)
      .find((e) => e.va === buf)!;
    expect(e.leaf).toBe(false);
    expect(e.swapSlot).toBe(k.view.page(a, k.view.address(buf).vpn).swapSlot);
    expect(e.swapSlot).toBeGreaterThanOrEqual(0);
    k.exit(a, "exit");
    expect(k.view.pageTables(a).tables).toEqual([]);
  });
});
