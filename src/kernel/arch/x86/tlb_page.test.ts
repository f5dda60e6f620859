/**
 * flush_tlb_mm_range of one page on the one CPU that has the mm loaded
 * (try_to_unmap_one's ptep_clear_flush, every page reclaim unmaps): X86Tlb
 * takes it straight through (one INVLPG by page number) where flush_tlb_func
 * would do exactly that. Checked against flushFunc itself on a twin kernel:
 * the same TLB entries left, the same INVLPG and full-flush counts, the same
 * tlb_gen caught up; with and without PTI, on 4- and 5-level paging, one
 * generation behind (INVLPG) and two (a deferred batch flush owed: the ASID
 * flushed whole).
 * Linux: arch/x86/mm/tlb.c flush_tlb_mm_range, flush_tlb_func
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Cpu } from "../../../hw/arch/x86_64/Cpu.ts";
import { KernelImpl as Kernel } from "../../KernelImpl.ts";
import { TlbFlush } from "../../mm/arch.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { mmapArgs } from "../../mm/userMm.ts";
import type { X86Tlb } from "./tlb.ts";

const PAGES = 16;

function scene(arch: "x86_64" | "x86_64-la57", pti: boolean) {
  const k = new Kernel({ arch, ramBytes: 64 << 20, cpus: 1, swapBytes: 8 << 20, overcommit: "always", pti });
  const t = k.spawn("p")!;
  k.switchTo(0, t);
  const va = k.mmap(t, mmapArgs(PAGES * 4096));
  for (let i = 0; i < PAGES; i++)
    expect(k.userAccess(0, t, va + BigInt(i) * 4096n, Access.Write, 1).ok).toBe(true);
  const tlb = k.tlbMgr as unknown as X86Tlb;
  const cpu = k.machine.cpus[0] as unknown as Cpu;
  const state = () => ({
    entries: cpu.tlb.levels.flatMap((l) => l.arrays.map((a) => [...a.keys, ...a.metas])),
    valid: cpu.tlb.levels.flatMap((l) => l.arrays.map((a) => a.valid)),
    invlpg: cpu.pageInvalidations,
    full: cpu.fullFlushes,
    gen: t.mm!.tlbGen,
    ctxGen: tlb.states[0].ctxs[tlb.states[0].loadedAsid].tlbGen,
    shootdowns: tlb.shootdowns,
    cr3Writes: tlb.states[0].ptiCr3Writes,
  });
  return { tlb, mm: t.mm!, vpn: Number(va / 4096n), state };
}

/** flushFunc, the general path, as flushTlbMmRange calls it after bumping tlb_gen */
function generalFlush(tlb: X86Tlb, mm: MmStruct, vpn: number): void {
  mm.tlbGen++;
  (tlb as unknown as { flushFunc(...a: unknown[]): void }).flushFunc(mm, 0, vpn, 1, 0, TlbFlush.Page, 1);
}

describe("x86 flush_tlb_page on the mm's one CPU: straight through, as flush_tlb_func", () => {
  for (const arch of ["x86_64", "x86_64-la57"] as const)
    for (const pti of [false, true])
      it(`${arch}${pti ? " pti" : ""}: every page, then behind a deferred flush`, () => {
        const a = scene(arch, pti);
        const b = scene(arch, pti);
        expect(a.state()).toEqual(b.state());
        const before = a.state();
        for (let i = 0; i < PAGES; i += 2) {
          a.tlb.flushTlbMmRange(a.mm, a.vpn + i, 1, 0, TlbFlush.Page);
          generalFlush(b.tlb, b.mm, b.vpn + i);
          expect(a.state()).toEqual(b.state());
        }
        // entries went, one INVLPG each, no full flush (not vacuous)
        const after = a.state();
        expect(after.invlpg - before.invlpg).toBe(PAGES / 2);
        expect(after.full).toBe(before.full);
        expect(after.valid.reduce((x, y) => x + y, 0)).toBeLessThan(before.valid.reduce((x, y) => x + y, 0));
        // reclaim's batch owes a flush (tlb_gen two ahead): the whole ASID, both ways
        a.tlb.tlbbatchAddPending(a.mm, a.vpn + 1, 0);
        b.tlb.tlbbatchAddPending(b.mm, b.vpn + 1, 0);
        a.tlb.flushTlbMmRange(a.mm, a.vpn + 3, 1, 0, TlbFlush.Page);
        generalFlush(b.tlb, b.mm, b.vpn + 3);
        expect(a.state()).toEqual(b.state());
        expect(a.state().full).toBeGreaterThan(after.full);
      });
});
