/**
 * RISC-V's switch_mm and flushes on bare harts: a rollover's
 * local_flush_tlb_all, set_mm_noasid, the local range flush's threshold,
 * and OpenSBI's range limit.
 */
import { describe, expect, it } from "vitest";
import { pfnUnchecked } from "../../../base/units.ts";
import { RiscvMachine } from "../../../hw/arch/riscv/machine.ts";
import { Vaddr } from "../../core/vaddr.ts";
import { TlbFlush } from "../../mm/arch.ts";
import { MmStruct } from "../../mm/MmStruct.ts";
import { RiscvTlb, TLB_FLUSH_ALL_THRESHOLD } from "./tlb.ts";

function harts(n: number) {
  const m = new RiscvMachine({ ramBytes: 64 << 20, cpus: n });
  for (const c of m.cpus) c.loadSatp(c.maxMode, 0, 0x100000);
  return m;
}
const mm = (pfn: number) => new MmStruct(pfnUnchecked(pfn));

describe("RiscvTlb", () => {
  it("a rollover flushes the hart's whole TLB at its next slow-path switch, once", () => {
    const m = harts(1);
    const tlb = new RiscvTlb(m.cpus, new Vaddr(39), "sbi", 3); // 8 ASIDs, one hart
    const mms = Array.from({ length: 9 }, (_, i) => mm(0x200 + i));
    for (let i = 0; i < 7; i++) tlb.switchMm(0, mms[i]);
    expect(tlb.states[0].switchFlushes).toBe(0);
    expect(m.cpus[0].asid).toBe(7);
    const before = m.cpus[0].sfences;
    tlb.switchMm(0, mms[7]);
    expect(tlb.asidRollovers).toBe(1);
    expect(tlb.states[0].switchFlushes).toBe(1);
    expect(m.cpus[0].sfences).toBe(before + 1);
    tlb.switchMm(0, mms[8]);
    expect(tlb.states[0].switchFlushes).toBe(1);
  });

  it("without enough ASIDs (set_mm_noasid): ASID 0 and a full flush at every switch, the footmark cleared", () => {
    const m = harts(2);
    const tlb = new RiscvTlb(m.cpus, new Vaddr(39), "sbi", 2); // 4 ASIDs for 2 harts: not more than twice
    const a = mm(0x300);
    const b = mm(0x301);
    tlb.switchMm(0, a);
    tlb.switchMm(0, b);
    expect(m.cpus[0].asid).toBe(0);
    expect(tlb.states[0].switchFlushes).toBe(2);
    expect(tlb.mmCpumask(a).has(0)).toBe(false);
    expect(tlb.mmCpumask(b).has(0)).toBe(true);
  });

  it("a local range flush fences page by page up to 64 pages, then the whole ASID", () => {
    const m = harts(1);
    const tlb = new RiscvTlb(m.cpus, new Vaddr(39), "sbi");
    const a = mm(0x400);
    tlb.switchMm(0, a);
    const cpu = m.cpus[0];
    let s = cpu.sfences;
    tlb.flushTlbMmRange(a, 0x1000, TLB_FLUSH_ALL_THRESHOLD, 0, TlbFlush.Leaves);
    expect(cpu.sfences - s).toBe(TLB_FLUSH_ALL_THRESHOLD);
    s = cpu.sfences;
    tlb.flushTlbMmRange(a, 0x1000, TLB_FLUSH_ALL_THRESHOLD + 1, 0, TlbFlush.Leaves);
    expect(cpu.sfences - s).toBe(1);
    // a freed table: flush_tlb_mm, one fence; a 2M PMD range: one fence (stride PMD_SIZE)
    s = cpu.sfences;
    tlb.flushTlbMmRange(a, 0x1000, 2, 0, TlbFlush.Tables);
    tlb.flushTlbMmRange(a, 0x200, 512, 0, TlbFlush.Pmd);
    expect(cpu.sfences - s).toBe(2);
    expect(tlb.sbiFences).toBe(0);
  });

  it("a remote flush by SBI: one call; OpenSBI fences one page each, more than 4 KiB as the whole ASID", () => {
    const m = harts(2);
    const tlb = new RiscvTlb(m.cpus, new Vaddr(39), "sbi");
    const a = mm(0x500);
    tlb.switchMm(0, a);
    tlb.switchMm(1, a);
    const s1 = m.cpus[1].sfences;
    tlb.flushTlbMmRange(a, 0x1000, 1, 0, TlbFlush.Page);
    expect(tlb.sbiFences).toBe(1);
    expect(m.cpus[1].sfences - s1).toBe(1);
    const s2 = m.cpus[1].sfences;
    tlb.flushTlbMmRange(a, 0x1000, 8, 0, TlbFlush.Leaves);
    expect(tlb.sbiFences).toBe(2);
    expect(m.cpus[1].sfences - s2).toBe(1);
    // with IPIs, each hart runs Linux's local_flush_tlb_range_asid: one fence per page
    const t2 = new RiscvTlb(m.cpus, new Vaddr(39), "ipi");
    t2.switchMm(0, a);
    t2.switchMm(1, a);
    const s3 = m.cpus[1].sfences;
    t2.flushTlbMmRange(a, 0x1000, 8, 0, TlbFlush.Leaves);
    expect(m.cpus[1].sfences - s3).toBe(8);
    expect([t2.sbiFences, t2.shootdowns, t2.states[1].shootdownsReceived]).toEqual([0, 1, 1]);
  });

  it("flush_tlb_kernel_range reaches every hart without an ASID (global entries too)", () => {
    const m = harts(3);
    const tlb = new RiscvTlb(m.cpus, new Vaddr(39), "sbi");
    tlb.flushTlbKernelRange(0x7fffff00, 1, 1);
    expect(tlb.sbiFences).toBe(1);
    expect(tlb.shootdowns).toBe(2);
    expect(tlb.states.map((s) => s.shootdownsReceived)).toEqual([1, 0, 1]);
  });
});
