/**
 * folio_referenced's accessed-bit clear per architecture (ptep_clear_flush_young):
 * x86 (arch/x86/mm/pgtable.c) and RISC-V (asm/pgtable.h) clear the bit
 * without a TLB flush, arm64 (__ptep_clear_flush_young) flushes the page
 * (flush_tlb_page_nosync). Where the entry survives in the TLB, the CPU
 * keeps using it and does not set the bit again (it is set only by a page
 * walk: the SDM's "accessed flag"; RISC-V's A is updated or faulted on only
 * by a walk too), so the next scan finds the page old although it was used:
 * Linux's "incorrect page aging", which vmlab models rather than hides.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { KernelArchName } from "../core/config.ts";
import type { Task } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { pageState } from "../view/procfs.ts";
import { PteFlag } from "./arch.ts";
import { folioReferenced } from "./rmap.ts";
import { mmapArgs } from "./userMm.ts";
import { Lru } from "./vmscan.ts";

const PAGE = 4096n;

function boot(arch: KernelArchName) {
  const k = new Kernel({
    arch,
    ramBytes: 64 << 20,
    cpus: 1,
    swapBytes: 32 << 20,
    overcommit: "always",
    checkCoherence: true,
  });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  const a = k.mmap(t, mmapArgs(10 * 4096, {}));
  expect(a > 0n).toBe(true);
  for (let i = 0; i < 10; i++)
    expect(k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Write, 1).ok).toBe(true);
  return { k, t, a };
}

function young(k: Kernel, t: Task, va: bigint): boolean {
  const e = k.userMm.readPte(t.mm!, Number(va / PAGE))!;
  const pt = k.userMm.env.pgtable;
  expect(pt.present(e.hi, e.lo)).toBe(true);
  return pt.young(e.hi, e.lo);
}

/** Reads page 1 of the ten after a reclaim scan cleared its accessed bit; the walks the read took and the bit after it. */
function touchAfterScan(arch: KernelArchName) {
  const { k, t, a } = boot(arch);
  // the first trip finds all ten young (from their faults): each is marked, its bit cleared,
  // rotated; the second takes page 0, marked and not used since
  expect(k.reclaim(1)).toBe(1);
  expect(young(k, t, a + PAGE)).toBe(false);
  return { k, t, a, ...readPage1(k, t, a) };
}

/** A read of page 1 on CPU 0: the walks it took and its accessed bit after. */
function readPage1(k: Kernel, t: Task, a: bigint) {
  const cpu = k.machine.cpus[0];
  const walks0 = cpu.walks;
  k.switchTo(0, t);
  expect(k.userAccess(0, t, a + PAGE, Access.Read).ok).toBe(true);
  return { walks: cpu.walks - walks0, youngAfter: young(k, t, a + PAGE) };
}

describe("folio_referenced: the accessed bit cleared, with or without a TLB flush (ptep_clear_flush_young)", () => {
  for (const [arch, flushes] of [
    ["x86_64", false],
    ["i386", false],
    ["riscv-sv39", false],
    ["arm64", true],
  ] as const) {
    it(`${arch}: folio_referenced of a young page ${flushes ? "flushes it: the next read walks and sets the bit" : "leaves its TLB entry: the next read does not walk and the bit stays clear"}`, () => {
      const { k, t, a } = boot(arch);
      const pfn = pageState(k, t, Number(a / PAGE) + 1).pfn;
      expect(readPage1(k, t, a)).toEqual({ walks: 0, youngAfter: true }); // cached, young from its fault
      const r = folioReferenced(k.vmscan, pfn);
      expect([r.young, r.found]).toEqual([1, 1]);
      expect(young(k, t, a + PAGE)).toBe(false);
      const after = readPage1(k, t, a);
      expect(after.walks > 0).toBe(flushes);
      expect(after.youngAfter).toBe(flushes);
      // a second look finds the page used (arm64) or not (x86, RISC-V: incorrect page aging)
      expect(folioReferenced(k.vmscan, pfn).young).toBe(flushes ? 1 : 0);
      // a TLB entry whose PTE only lost its accessed bit is not stale (pte_needs_flush): the
      // coherence checker saw nothing wrong
      expect(k.machine.checker).toBeDefined();
      expect(k.machine.checker!.reports).toEqual([]);
    });
  }

  // on one x86 CPU try_to_unmap flushes only the page it unmaps (INVLPG); RISC-V's batched
  // flush after the pass (SFENCE.VMA x0, x0) drops every entry, page 1's too
  for (const arch of ["x86_64", "i386-pae"] as const) {
    it(`${arch}: no flush; a read through the surviving TLB entry leaves the bit clear, and the next scan takes the page although it was used`, () => {
      const { k, t, a, walks, youngAfter } = touchAfterScan(arch);
      expect(walks).toBe(0); // served by the TLB: no walk, so nothing sets the bit
      expect(youngAfter).toBe(false);
      // incorrect page aging: page 1 (marked by the first trip) looks unused, so it goes next
      const page1 = pageState(k, t, Number(a / PAGE) + 1).pfn;
      expect(k.vmscan.lru[page1]).toBe(Lru.InactiveAnon);
      const act0 = k.vmscan.stats.pgactivate;
      // try_to_free_pages asks for SWAP_CLUSTER_MAX: the scan at priority 1 reaches page 1 (the
      // inactive tail) and priority 0 the rest; all nine were marked and none looks used
      expect(k.reclaim(1)).toBe(9);
      expect(k.vmscan.stats.pgactivate).toBe(act0);
      const e = k.userMm.readPte(t.mm!, Number(a / PAGE) + 1)!;
      expect(k.userMm.env.pgtable.present(e.hi, e.lo)).toBe(false);
    });
  }

  it("arm64: the TLBI dropped the entry; the read walks again and AF is set, so the next scan activates the page", () => {
    const { k, t, a, walks, youngAfter } = touchAfterScan("arm64");
    expect(walks).toBeGreaterThan(0);
    expect(youngAfter).toBe(true);
    const page1 = pageState(k, t, Number(a / PAGE) + 1).pfn;
    const act0 = k.vmscan.stats.pgactivate;
    expect(k.reclaim(1)).toBe(8); // the other eight, marked and unused, go
    expect(k.vmscan.stats.pgactivate).toBe(act0 + 1);
    // activated, then aged back by shrink_lruvec's end (the inactive anon list is empty): still resident
    expect(k.vmscan.stats.pgdeactivate).toBe(1);
    expect(k.vmscan.lru[page1]).toBe(Lru.InactiveAnon);
  });

  it("riscv-sv39 (Svade): the checker lets an entry outlive its PTE's A, not a write-protect made without a flush", () => {
    const { k, t, a } = boot("riscv-sv39");
    const pfn = pageState(k, t, Number(a / PAGE) + 1).pfn;
    expect(folioReferenced(k.vmscan, pfn).young).toBe(1);
    expect(readPage1(k, t, a).walks).toBe(0);
    expect(k.machine.checker!.reports).toEqual([]);
    // the same entry write-protected too, with no SFENCE.VMA: a stale translation, reported
    const pt = k.userMm.env.pgtable;
    const e = k.userMm.readPte(t.mm!, Number(a / PAGE) + 1)!;
    const ro = pt.modify(e.hi, e.lo, 0, PteFlag.WRITE);
    pt.set(k.machine.phys, e.pa, ro.hi, ro.lo);
    expect(readPage1(k, t, a).walks).toBe(0);
    expect(k.machine.checker!.reports.length).toBe(1);
  });

  it("x86_64: once the entry is gone from the TLB (a flush of the mm), the next read walks and sets A again", () => {
    const { k, t, a } = touchAfterScan("x86_64");
    const cpu = k.machine.cpus[0];
    k.userMm.env.flushTlbMmRange(t.mm!, Number(a / PAGE) + 1, 1);
    const walks0 = cpu.walks;
    expect(k.userAccess(0, t, a + PAGE, Access.Read).ok).toBe(true);
    expect(cpu.walks - walks0).toBeGreaterThan(0);
    expect(young(k, t, a + PAGE)).toBe(true);
  });
});
