/**
 * flush_tlb_func's partial-flush rule (arch/x86/mm/tlb.c): a CPU flushes
 * the pages of a flush_tlb_mm_range only when that flush is the one
 * generation it is behind (new_tlb_gen == local_tlb_gen + 1); a CPU that
 * still owes a flush reclaim's batch deferred (arch_tlbbatch_add_pending
 * bumped tlb_gen without flushing) flushes its whole ASID, so the deferred
 * page's entry goes too.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Mmu } from "../../../hw/mmu/Mmu.ts";
import { KernelImpl as Kernel } from "../../KernelImpl.ts";
import { TlbFlush } from "../../mm/arch.ts";
import { mmapArgs } from "../../mm/userMm.ts";

const PAGE = 4096n;

function scene(arch: "x86_64" | "i386-pae") {
  const k = new Kernel({ arch, ramBytes: 64 << 20, cpus: 2, swapBytes: 8 << 20, overcommit: "always" });
  const t = k.spawn("p")!;
  k.switchTo(0, t);
  const t2 = k.thread(t, "p2")!;
  k.switchTo(1, t2);
  const va = k.mmap(t, mmapArgs(4 * 4096));
  expect(va > 0n).toBe(true);
  for (const [cpu, task] of [
    [0, t],
    [1, t2],
  ] as const)
    for (let i = 0; i < 4; i++)
      expect(k.userAccess(cpu, task, va + BigInt(i) * PAGE, Access.Write, 1).ok).toBe(true);
  const cpus = k.machine.cpus as unknown as Mmu[];
  const counts = () => cpus.map((c) => [c.pageInvalidations, c.fullFlushes]);
  return { k, mm: t.mm!, vpn: Number(va / PAGE), cpus, counts };
}

describe("x86 flush_tlb_func: pages only when one generation behind", () => {
  for (const arch of ["x86_64", "i386-pae"] as const) {
    it(`${arch}: a page flush is INVLPGs on each CPU; behind a deferred batch flush it is a full flush`, () => {
      const { k, mm, vpn, counts } = scene(arch);
      const tlb = k.tlbMgr;
      let c0 = counts();
      tlb.flushTlbMmRange(mm, vpn + 1, 1, 0, TlbFlush.Page);
      let c1 = counts();
      expect(c1.map((c, i) => [c[0] - c0[i][0], c[1] - c0[i][1]])).toEqual([
        [1, 0],
        [1, 0],
      ]);
      // reclaim's batch defers page 0's flush (tlb_gen bumped, nothing flushed), then a page flush
      // of page 1 comes before the batch's: two generations behind, every CPU flushes its ASID
      tlb.tlbbatchAddPending!(mm, vpn, 0);
      c0 = counts();
      tlb.flushTlbMmRange(mm, vpn + 1, 1, 0, TlbFlush.Page);
      c1 = counts();
      expect(c1.map((c, i) => [c[0] - c0[i][0], c[1] - c0[i][1]])).toEqual([
        [0, 1],
        [0, 1],
      ]);
      // and the batch's own flush finds both CPUs up to date: nothing more to flush
      tlb.tlbbatchFlush!(0);
      expect(counts()).toEqual(c1);
    });
  }
});
