/**
 * Page-table isolation: two PGDs per mm, CR3 switched on every kernel entry
 * and exit, PCID pairs, the user PGD mapping only the entry text and the
 * cpu_entry_area of the kernel.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import type { Cpu } from "../hw/arch/x86_64/Cpu.ts";
import { PfErr } from "../hw/arch/x86_64/fault.ts";
import { Pte } from "../hw/arch/x86_64/pte.ts";
import type { HwEvent } from "../hw/mmu/events.ts";
import { CPU_ENTRY_AREA_BASE, ENTRY_TEXT_START } from "./arch/x86/pti.ts";
import type { X86Tlb } from "./arch/x86/tlb.ts";
import type { KernelConfig } from "./Kernel.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/userMm.ts";
import { checkInvariants } from "./view/invariants.ts";

function boot(extra: Partial<KernelConfig> = {}) {
  const k = new Kernel<Cpu, X86Tlb>({ ramBytes: 64 << 20, cpus: 2, pti: true, ...extra });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  const buf = k.mmap(t, mmapArgs(16 * 4096));
  return { k, t, buf };
}

describe("page-table isolation", () => {
  it("gives each mm a PGD pair whose user half maps the user half and, of the kernel, only the entry text and cpu_entry_area", () => {
    const { k, t, buf } = boot();
    k.userAccess(0, t, buf, Access.Write, 1);
    const mm = t.mm!;
    expect(mm.pgdPfn % 2).toBe(0); // an order-1 allocation
    const m = k.userMm.mapper(mm);
    const userPgd = k.userPgdPfn(mm);
    expect(userPgd).toBe(mm.pgdPfn + 1);
    // the user page: the same leaf from both PGDs
    expect(m.lookup(userPgd, k.va.vpn(buf))).toEqual(m.lookup(mm.pgdPfn, k.va.vpn(buf)));
    // the kernel's copy of the user-half PGD entry has NX; the user copy does not
    const idx = Number((buf >> 39n) & 511n);
    expect(k.machine.phys.read32(mm.pgdPfn * 4096 + idx * 8 + 4) >>> 31).toBe(1);
    expect(k.machine.phys.read32(userPgd * 4096 + idx * 8 + 4) >>> 31).toBe(0);
    // kernel memory: the direct map, vmalloc and the data are absent from the user PGD
    for (const va of [k.directVa(0x100000), k.layout.vmallocStart, k.layout.kernelMap + (20n << 20n)])
      expect(m.lookup(userPgd, k.va.vpn(va)), `0x${va.toString(16)}`).toBeNull();
    // the entry text is there, supervisor-only and global; the cpu_entry_area too
    const entry = m.lookup(userPgd, k.va.vpn(ENTRY_TEXT_START))!;
    expect([entry.lo & Pte.US, entry.lo & Pte.G]).toEqual([0, Pte.G]);
    expect(m.lookup(userPgd, k.va.vpn(CPU_ENTRY_AREA_BASE))).not.toBeNull();
    expect(checkInvariants(k)).toEqual([]);
  });

  it("makes a user read of kernel memory a not-present fault, where without PTI the page is present", () => {
    for (const pti of [true, false]) {
      const { k, t } = boot({ pti });
      t.caught.add("SIGSEGV");
      const r = k.userAccess(0, t, k.directVa(0x200000), Access.Read);
      expect(r.ok).toBe(false);
      const ec = k.machine.cpus[0].errorCode;
      expect(ec & PfErr.P, `pti=${pti}`).toBe(pti ? 0 : PfErr.P);
      expect(ec & PfErr.US).toBe(PfErr.US);
    }
  });

  it("switches CR3 on every kernel entry and exit: two writes per page fault, none while user code runs", () => {
    const { k, t, buf } = boot();
    const st = k.tlbMgr.states[0];
    const cpu = k.machine.cpus[0];
    const w0 = st.ptiCr3Writes;
    for (let i = 0; i < 4; i++) k.userAccess(0, t, buf + BigInt(i) * 4096n, Access.Write, 1);
    expect(st.ptiCr3Writes - w0).toBe(1 + 4 * 2); // the exit to user, then in and out per fault
    expect(st.inUser).toBe(true);
    expect(cpu.rootPa).toBe((t.mm!.pgdPfn + 1) * 4096); // user PGD
    expect(cpu.pcid).toBe(k.tlbMgr.userPcid(st.loadedAsid));
    expect(cpu.pcid & 0x800).toBe(0x800);
    const w1 = st.ptiCr3Writes;
    for (let i = 0; i < 4; i++) k.userAccess(0, t, buf + BigInt(i) * 4096n, Access.Read);
    expect(st.ptiCr3Writes).toBe(w1);
    // a system call: in on the kernel PGD and kernel PCID
    k.madvise(t, buf, 4096n, "normal");
    expect([cpu.rootPa, cpu.pcid]).toEqual([t.mm!.pgdPfn * 4096, k.tlbMgr.kernPcid(st.loadedAsid)]);
    expect(st.ptiCr3Writes).toBe(w1 + 1);
  });

  it("keeps user translations across a system call with PCIDs, and loses them without", () => {
    const misses = (pcid: boolean) => {
      const { k, t, buf } = boot({ pcid });
      for (let i = 0; i < 8; i++) k.userAccess(0, t, buf + BigInt(i) * 4096n, Access.Write, 1);
      const cpu = k.machine.cpus[0];
      const before = cpu.walks;
      for (let round = 0; round < 3; round++) {
        k.madvise(t, buf, 4096n, "normal"); // enter and leave the kernel
        for (let i = 0; i < 8; i++) k.userAccess(0, t, buf + BigInt(i) * 4096n, Access.Read);
      }
      return cpu.walks - before;
    };
    expect(misses(true)).toBe(0);
    expect(misses(false)).toBe(3 * 8); // every CR3 write flushed the non-global user entries
  });

  it("flushes the user PCID too when a page is unmapped, here and on a CPU running the mm in user mode", () => {
    const { k, t, buf } = boot();
    const t2 = k.thread(t, "A2")!;
    k.switchTo(1, t2);
    for (let i = 0; i < 2; i++) {
      k.userAccess(0, t, buf, Access.Write, 1);
      k.userAccess(1, t2, buf, Access.Read);
    }
    const st1 = k.tlbMgr.states[1];
    expect(st1.inUser).toBe(true);
    const w1 = st1.ptiCr3Writes;
    expect(k.munmap(t, buf, 4096n)).toBe(0n);
    // the IPI interrupted CPU 1's user code: kernel CR3 in, user CR3 out
    expect(st1.ptiCr3Writes).toBe(w1 + 2);
    t.caught.add("SIGSEGV");
    for (const [cpu, task] of [
      [0, t],
      [1, t2],
    ] as const) {
      const r = k.userAccess(cpu, task, buf, Access.Read);
      expect(r.ok, `cpu${cpu}`).toBe(false); // no stale user-PCID translation survived
    }
    expect(checkInvariants(k)).toEqual([]);
  });

  it("interrupts a CPU in user mode for flush_tlb_kernel_range: without PCIDs the two CR3 writes cost it its user entries; with PCIDs they stay and the user PCID gets an INVPCID per page", () => {
    const run = (pcid: boolean) => {
      const { k, t, buf } = boot({ pcid });
      const t2 = k.thread(t, "A2")!;
      k.switchTo(1, t2);
      for (let i = 0; i < 4; i++) k.userAccess(1, t2, buf + BigInt(i) * 4096n, Access.Write, 1);
      const st1 = k.tlbMgr.states[1];
      expect(st1.inUser).toBe(true);
      const events: HwEvent[] = [];
      k.setTracer((e) => events.push(e));
      const w = st1.ptiCr3Writes;
      const shot = st1.shootdownsReceived;
      k.tlbMgr.flushTlbKernelRange(k.va.vpn(k.layout.vmallocStart), 2, 0); // from CPU 0: 2 pages
      k.setTracer(null);
      const cpu1 = k.machine.cpus[1];
      const walks = cpu1.walks;
      for (let i = 0; i < 4; i++) k.userAccess(1, t2, buf + BigInt(i) * 4096n, Access.Read);
      const userPcid = k.tlbMgr.userPcid(st1.loadedAsid);
      const invpcid1 = events.filter(
        (e) => e.type === "invalidate" && e.cpu === 1 && e.op === "invpcid0" && e.asid === userPcid,
      ).length;
      expect(checkInvariants(k)).toEqual([]);
      return {
        cr3Writes: st1.ptiCr3Writes - w,
        shootdowns: st1.shootdownsReceived - shot,
        refills: cpu1.walks - walks,
        cr3AfterIsUser:
          Math.floor(cpu1.cr3Lo / 4096) === k.userPgdPfn(t.mm!) % 2 ** 20 &&
          cpu1.cr3Hi === Math.floor(k.userPgdPfn(t.mm!) / 2 ** 20),
        invpcid1,
      };
    };
    // SWITCH_TO_KERNEL_CR3 and SWITCH_TO_USER_CR3 around the IPI; no PCID: both flush (4 refills)
    expect(run(false)).toEqual({
      cr3Writes: 2,
      shootdowns: 1,
      refills: 4,
      cr3AfterIsUser: true,
      invpcid1: 0,
    });
    // PCIDs: NOFLUSH both ways, the user entries stay; flush_tlb_one_user's INVPCID per page
    expect(run(true)).toEqual({ cr3Writes: 2, shootdowns: 1, refills: 0, cr3AfterIsUser: true, invpcid1: 2 });
  });

  it("lets the kernel never execute user memory, even with SMEP off: the kernel PGD's user entries are NX", () => {
    for (const pti of [true, false]) {
      const k = new Kernel<Cpu, X86Tlb>({ ramBytes: 64 << 20, cpus: 1, pti, smep: false });
      const t = k.spawn("A")!;
      k.switchTo(0, t);
      const code = k.mmap(t, mmapArgs(4096, { prot: { r: true, w: false, x: true } }));
      k.userAccess(0, t, code, Access.Read);
      const r = k.kernelAccess(0, code, Access.Exec);
      expect(r.ok, `pti=${pti}`).toBe(!pti);
      if (!r.ok) {
        expect(r.oops.some((l) => l.includes("PREEMPT SMP PTI"))).toBe(true);
        // show_fault_oops accumulates NX over the levels: the PGD's NX counts
        expect(r.oops[0]).toBe("kernel tried to execute NX-protected page - exploit attempt? (uid: 0)");
      }
    }
  });

  it("frees both pages of the pair when the mm goes, and passes the invariant checker through fork and exit", () => {
    const { k, t, buf } = boot();
    // free pages: the buddy lists' and the per-CPU lists' (where a freed page goes first)
    const free0 = k.buddy.freePages() + k.buddy.pcp!.total();
    for (let i = 0; i < 16; i++) k.userAccess(0, t, buf + BigInt(i) * 4096n, Access.Write, i);
    const child = k.fork(t, "B")!;
    k.switchTo(1, child);
    k.userAccess(1, child, buf, Access.Write, 9);
    expect(checkInvariants(k)).toEqual([]);
    k.exit(child, "exit");
    k.switchTo(1, k.kthread("idle-ish"));
    expect(checkInvariants(k)).toEqual([]);
    k.exit(t, "exit");
    k.switchTo(0, k.kthread("idle-ish2"));
    expect(checkInvariants(k)).toEqual([]);
    expect(k.buddy.freePages() + k.buddy.pcp!.total()).toBeGreaterThanOrEqual(free0 + 1);
  });
});
