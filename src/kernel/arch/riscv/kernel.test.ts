/**
 * The kernel booted on RISC-V end to end: demand paging and COW, signals,
 * sstatus.SUM (plain kernel accesses to user pages, the uaccess routines,
 * instruction fetches), the oops in RISC-V's words, ASIDs and remote
 * fences (SBI or IPI) on two harts, with the coherence checker and the
 * invariant checker on.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { RiscvCpu } from "../../../hw/arch/riscv/Cpu.ts";
import type { KernelConfig } from "../../core/config.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl as Kernel } from "../../KernelImpl.ts";
import { anonPages as anon, accessOk as ok, settled } from "../../mm.testkit.ts";
import type { RiscvTlb } from "./tlb.ts";

function boot(cfg: Partial<KernelConfig> = {}): Kernel<RiscvCpu, RiscvTlb> {
  return new Kernel<RiscvCpu, RiscvTlb>({
    arch: "riscv-sv39",
    ramBytes: 64 << 20,
    cpus: 2,
    checkCoherence: true,
    ...cfg,
  });
}

const hex16 = (v: bigint) => v.toString(16).padStart(16, "0");

describe("the kernel on RISC-V", () => {
  for (const [arch, bits] of [
    ["riscv-sv39", 39],
    ["riscv-sv48", 48],
    ["riscv-sv57", 57],
  ] as const)
    it(`${arch} boots: satp MODE Sv${bits} on swapper_pg_dir, SUM clear, the linear map reachable`, () => {
      const k = boot({ arch });
      const cpu = k.machine.cpus[0] as RiscvCpu;
      expect(cpu.vaSize).toBe(bits);
      expect(cpu.sum).toBe(false);
      expect(cpu.rootPa).toBe(k.rootPfn * 4096);
      expect(k.levels).toBe((bits - 12) / 9);
      const r = k.kernelAccess(0, k.directVa(0x123456), Access.Read);
      expect(r.ok && r.pa).toBe(0x123456);
      // the image at KERNEL_LINK_ADDR maps its physical start (16 MiB)
      const img = k.kernelAccess(0, 0xffffffff80000010n, Access.Read);
      expect(img.ok && img.pa).toBe((16 << 20) + 0x10);
      settled(k);
    });

  it("spawn, mmap, demand paging, fork + COW", () => {
    const k = boot();
    const p = k.spawn("parent") as Task;
    k.switchTo(0, p);
    const a = anon(k, p, 4);
    const w = k.userAccess(0, p, a + 5n, Access.Write, 0x5a);
    expect(w.ok && w.faults).toBe(1);
    expect(ok(k.userAccess(0, p, a + 5n, Access.Read))).toBe(0x5a);
    expect(ok(k.userAccess(0, p, a + 8192n, Access.Read))).toBe(0);
    const c = k.fork(p, "child") as Task;
    k.switchTo(1, c);
    expect(ok(k.userAccess(1, c, a + 5n, Access.Read))).toBe(0x5a);
    ok(k.userAccess(1, c, a + 5n, Access.Write, 9));
    expect(ok(k.userAccess(1, c, a + 5n, Access.Read))).toBe(9);
    expect(ok(k.userAccess(0, p, a + 5n, Access.Read))).toBe(0x5a);
    settled(k);
  });

  it("a new PGD carries swapper_pg_dir's upper half (sync_kernel_mappings)", () => {
    const k = boot();
    const t = k.spawn("t") as Task;
    const phys = k.machine.phys;
    for (let i = 0; i < 512; i++) {
      const mine = phys.read64Big(t.mm!.pgdPfn * 4096 + i * 8);
      const init = phys.read64Big(k.rootPfn * 4096 + i * 8);
      if (i < 256) expect(init).toBe(0n);
      else expect(mine).toBe(init);
    }
  });

  it("signals: munmap then access is SEGV_MAPERR, a write to a read-only page SEGV_ACCERR", () => {
    const k = boot();
    const t = k.spawn("segv") as Task;
    k.switchTo(0, t);
    k.catchSignal(t, "SIGSEGV");
    const a = anon(k, t, 2);
    ok(k.userAccess(0, t, a, Access.Write, 1));
    expect(k.mprotect(t, a + 4096n, 4096n, { r: true, w: false, x: false })).toBe(0n);
    const ro = k.userAccess(0, t, a + 4096n, Access.Write, 2);
    expect(!ro.ok && [ro.signal, ro.siCode]).toEqual(["SIGSEGV", "SEGV_ACCERR"]);
    expect(k.munmap(t, a, 8192n)).toBe(0n);
    const r = k.userAccess(0, t, a, Access.Read);
    expect(!r.ok && [r.signal, r.siCode, r.siAddr]).toEqual(["SIGSEGV", "SEGV_MAPERR", a]);
    settled(k);
  });
});

describe("sstatus.SUM", () => {
  it("a plain kernel read of a user page faults with SUM=0: RISC-V's oops, mapped or not", () => {
    const k = boot();
    const t = k.spawn("victim") as Task;
    k.switchTo(0, t);
    const a = anon(k, t, 1);
    ok(k.userAccess(0, t, a, Access.Write, 1));
    const r = k.kernelAccess(0, a, Access.Read);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.oops[0]).toBe(
      `Unable to handle kernel access to user memory without uaccess routines at virtual address ${hex16(a)}`,
    );
    // 6.12's die_kernel_fault: no page-table walk (show_pte came later), die("Oops") at once
    expect(r.oops[1]).toBe("Oops [#1]");
    expect(r.oops).toContain(`status: 0000000200000120 badaddr: ${hex16(a)} cause: 000000000000000d`);
    expect(t.alive).toBe(false);
    settled(k);
  });

  it("works with SUM=1 (kernel: sum on), and a store there takes the fault path and maps the page", () => {
    const k = boot();
    const t = k.spawn("t") as Task;
    k.switchTo(0, t);
    const a = anon(k, t, 2);
    ok(k.userAccess(0, t, a, Access.Write, 0x42));
    expect(k.userAccessWindow(0, true)).toBe("sum on");
    const r = k.kernelAccess(0, a, Access.Read);
    expect(r.ok && r.value).toBe(0x42);
    // an untouched page: handle_mm_fault maps it for the kernel's store
    const w = k.kernelAccess(0, a + 4096n, Access.Write, 7);
    expect(w.ok && w.faults).toBe(1);
    expect(k.userAccessWindow(0, false)).toBe("sum off");
    expect(k.kernelAccess(0, a, Access.Read).ok).toBe(false);
  });

  it("copy_to_user works with SUM off: __enable_user_access opens it around the copy only", () => {
    const k = boot();
    const t = k.spawn("io") as Task;
    k.switchTo(0, t);
    const a = anon(k, t, 2);
    const cpu = k.machine.cpus[0] as RiscvCpu;
    const during: boolean[] = [];
    const w = k.uaccess.copy(0, a + 4090n, 10, true, (i) => {
      during.push(cpu.sum);
      return i + 1;
    });
    expect(w.notCopied).toBe(0);
    expect(w.faults).toBe(2);
    expect(during.length).toBe(10);
    expect(during.every((s) => s)).toBe(true);
    expect(cpu.sum).toBe(false);
    expect(ok(k.userAccess(0, t, a + 4096n, Access.Read))).toBe(7);
    // a bad address: the fixup returns what was not copied, no oops
    const bad = k.uaccess.copy(0, 0x10000000n, 4, true, () => 1);
    expect(bad.notCopied).toBe(4);
    expect(bad.fixedUp).toBe(true);
    expect(k.oopses.length).toBe(0);
    settled(k);
  });

  it("an S-mode fetch from a user page always faults, even with SUM=1", () => {
    for (const sum of [false, true]) {
      const k = boot();
      const t = k.spawn("x") as Task;
      k.switchTo(0, t);
      const a = anon(k, t, 1, true);
      ok(k.userAccess(0, t, a, Access.Write, 1));
      // U-mode may execute it
      expect(k.userAccess(0, t, a, Access.Exec).ok).toBe(true);
      k.userAccessWindow(0, sum);
      const r = k.kernelAccess(0, a, Access.Exec);
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.oops[0]).toBe(
        `Unable to handle kernel ${sum ? "paging request" : "access to user memory without uaccess routines"} at virtual address ${hex16(a)}`,
      );
      // epc is the fetched address; cause 12 (instruction page fault)
      expect(r.oops).toContain(`epc : ${hex16(a)}`);
      expect(r.oops.some((l) => l.endsWith("cause: 000000000000000c"))).toBe(true);
      if (sum) expect(r.oops.some((l) => l.startsWith("status: 0000000200040120"))).toBe(true);
    }
  });

  it("a NULL dereference is a user address: the SUM oops", () => {
    const k = boot();
    const t = k.spawn("null") as Task;
    k.switchTo(0, t);
    const r = k.kernelAccess(0, 8n, Access.Read);
    expect(!r.ok && r.oops[0]).toBe(
      "Unable to handle kernel access to user memory without uaccess routines at virtual address 0000000000000008",
    );
  });
});

describe("kernel text, data and BUG()", () => {
  it("S-mode executes the image's text; a fetch from the linear map (no X) is a paging request", () => {
    const k = boot();
    const t = k.spawn("k") as Task;
    k.switchTo(0, t);
    expect(k.kernelAccess(0, 0xffffffff80000100n, Access.Exec).ok).toBe(true);
    // rodata is read-only: a store faults, and no VMA covers a kernel address
    const w = k.kernelAccess(0, 0xffffffff80200000n, Access.Write, 1);
    expect(!w.ok && w.oops[0]).toBe(
      "Unable to handle kernel paging request at virtual address ffffffff80200000",
    );
    const t2 = k.spawn("k2") as Task;
    k.switchTo(0, t2);
    const x = k.kernelAccess(0, k.directVa(0x200000), Access.Exec);
    expect(!x.ok && x.oops[0]).toBe(
      `Unable to handle kernel paging request at virtual address ${hex16(k.directVa(0x200000))}`,
    );
    expect(!x.ok && x.oops.some((l) => l.endsWith("cause: 000000000000000c"))).toBe(true);
  });

  it('BUG(): report_bug\'s line, then die(regs, "Kernel BUG") with cause 3 (breakpoint)', () => {
    const k = boot();
    const t = k.spawn("b") as Task;
    k.switchTo(0, t);
    const lines = k.bug(0, "something broke", "mm/memory.c:42");
    expect(lines.slice(0, 3)).toEqual([
      "something broke",
      "kernel BUG at mm/memory.c:42!",
      "Kernel BUG [#1]",
    ]);
    expect(lines.some((l) => l.endsWith("badaddr: 0000000000000000 cause: 0000000000000003"))).toBe(true);
  });
});

describe("ASIDs and remote fences", () => {
  it("two processes switched alternately keep distinct ASIDs, with no flush at the switch", () => {
    const k = boot();
    const a = k.spawn("a") as Task;
    const b = k.spawn("b") as Task;
    const cpu = k.machine.cpus[0] as RiscvCpu;
    k.switchTo(0, a);
    const asidA = cpu.asid;
    k.switchTo(0, b);
    const asidB = cpu.asid;
    expect(asidA).not.toBe(asidB);
    expect(asidA).not.toBe(0);
    const sfences = cpu.sfences;
    for (let i = 0; i < 4; i++) {
      k.switchTo(0, a);
      expect(cpu.asid).toBe(asidA);
      expect(cpu.rootPa).toBe(a.mm!.pgdPfn * 4096);
      k.switchTo(0, b);
      expect(cpu.asid).toBe(asidB);
    }
    expect(cpu.sfences).toBe(sfences);
    expect(k.tlbMgr.states[0].switchFlushes).toBe(0);
    settled(k);
  });

  it("a munmap reaches the other hart by one SBI remote fence (rfence=sbi), counted as a shootdown", () => {
    const k = boot();
    const p = k.spawn("p") as Task;
    const th = k.thread(p, "p2") as Task;
    k.switchTo(0, p);
    k.switchTo(1, th);
    const a = anon(k, p, 4);
    for (let i = 0n; i < 4n; i++) {
      ok(k.userAccess(0, p, a + i * 4096n, Access.Write, 1));
      ok(k.userAccess(1, th, a + i * 4096n, Access.Read));
    }
    const tlb = k.tlbMgr;
    const [sbi, sd, recv] = [tlb.sbiFences, tlb.shootdowns, tlb.states[1].shootdownsReceived];
    k.runningCpu = 0;
    expect(k.munmap(p, a + 4096n, 4096n)).toBe(0n);
    expect(tlb.sbiFences).toBe(sbi + 1);
    expect(tlb.shootdowns).toBe(sd + 1);
    expect(tlb.states[1].shootdownsReceived).toBe(recv + 1);
    expect(tlb.broadcasts).toBe(0);
    k.catchSignal(th, "SIGSEGV");
    const r = k.userAccess(1, th, a + 4096n, Access.Read);
    expect(!r.ok && r.siCode).toBe("SEGV_MAPERR");
    settled(k);
  });

  it("rfence=ipi: the same flush by Linux's IPIs, no SBI call", () => {
    const k = boot({ rfence: "ipi" });
    const p = k.spawn("p") as Task;
    const th = k.thread(p, "p2") as Task;
    k.switchTo(0, p);
    k.switchTo(1, th);
    const a = anon(k, p, 1);
    ok(k.userAccess(0, p, a, Access.Write, 1));
    ok(k.userAccess(1, th, a, Access.Read));
    k.runningCpu = 0;
    const sd = k.tlbMgr.shootdowns;
    expect(k.munmap(p, a, 4096n)).toBe(0n);
    expect(k.tlbMgr.sbiFences).toBe(0);
    expect(k.tlbMgr.shootdowns).toBe(sd + 1);
    settled(k);
  });

  it("mm_cpumask keeps footmarks: a hart that switched away still gets the fence (its TLB may hold the ASID)", () => {
    const k = boot();
    const p = k.spawn("p") as Task;
    const q = k.spawn("q") as Task;
    k.switchTo(1, p);
    const a = anon(k, p, 1);
    k.runningCpu = 1;
    ok(k.userAccess(1, p, a, Access.Write, 3));
    // hart 1 moves on to q; p runs on hart 0
    k.switchTo(1, q);
    k.switchTo(0, p);
    expect(k.tlbMgr.mmCpumask(p.mm!)).toEqual(new Set([0, 1]));
    expect([...p.mm!.cpumask]).toEqual([0]);
    k.runningCpu = 0;
    const recv = k.tlbMgr.states[1].shootdownsReceived;
    expect(k.munmap(p, a, 4096n)).toBe(0n);
    expect(k.tlbMgr.states[1].shootdownsReceived).toBe(recv + 1);
    settled(k);
  });
});
