/**
 * The kernel booted on arm64 end to end: a process's accesses with demand
 * paging and COW, signals, a kernel oops in arm64's words, ASIDs and
 * broadcast TLB maintenance on two CPUs, with the coherence checker and the
 * invariant checker on.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../../hw/access.ts";
import type { Arm64Cpu } from "../../../hw/arch/arm64/Cpu.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl as Kernel } from "../../KernelImpl.ts";
import { TlbFlush } from "../../mm/arch.ts";
import { anonPages as anon, accessOk as ok, settled } from "../../mm.testkit.ts";
import { checkInvariants } from "../../view/invariants.ts";
import type { Arm64Tlb } from "./mmuContext.ts";
import { flushTlbPage } from "./tlb.ts";

function boot(uaccess: "ldtr" | "pan-toggle" = "ldtr"): Kernel<Arm64Cpu, Arm64Tlb> {
  return new Kernel<Arm64Cpu, Arm64Tlb>({
    arch: "arm64",
    ramBytes: 64 << 20,
    cpus: 2,
    checkCoherence: true,
    uaccess,
  });
}

describe("the kernel on arm64", () => {
  it("boots: swapper_pg_dir in TTBR1, TCR 48-bit VAs with HA/HD, PAN on", () => {
    const k = boot();
    const cpu = k.machine.cpus[0] as Arm64Cpu;
    expect(cpu.vaSize(0)).toBe(48);
    expect(cpu.vaSize(1)).toBe(48);
    expect(cpu.tcr.ha && cpu.tcr.hd).toBe(true);
    expect(cpu.pan).toBe(true);
    expect(k.arch.name).toBe("arm64");
    // the linear map: a kernel read of a direct-map address reaches the frame
    const r = k.kernelAccess(0, k.directVa(0x123000), Access.Read);
    expect(r.ok && r.pa).toBe(0x123000);
    settled(k);
  });

  it("spawn, mmap, demand paging: write then read back", () => {
    const k = boot();
    const t = k.spawn("hello") as Task;
    k.switchTo(0, t);
    const a = anon(k, t, 4);
    const w = k.userAccess(0, t, a + 5n, Access.Write, 0x5a);
    expect(w.ok && w.faults).toBe(1);
    expect(ok(k.userAccess(0, t, a + 5n, Access.Read))).toBe(0x5a);
    // an untouched page reads as zeroes (the zero page)
    expect(ok(k.userAccess(0, t, a + 4096n * 2n, Access.Read))).toBe(0);
    settled(k);
  });

  it("fork + COW: the child's write does not change the parent's byte", () => {
    const k = boot();
    const p = k.spawn("parent") as Task;
    k.switchTo(0, p);
    const a = anon(k, p, 1);
    ok(k.userAccess(0, p, a, Access.Write, 7));
    const c = k.fork(p, "child") as Task;
    k.switchTo(1, c);
    expect(ok(k.userAccess(1, c, a, Access.Read))).toBe(7);
    ok(k.userAccess(1, c, a, Access.Write, 9));
    expect(ok(k.userAccess(1, c, a, Access.Read))).toBe(9);
    expect(ok(k.userAccess(0, p, a, Access.Read))).toBe(7);
    ok(k.userAccess(0, p, a, Access.Write, 8));
    expect(ok(k.userAccess(1, c, a, Access.Read))).toBe(9);
    settled(k);
  });

  it("munmap then access: SIGSEGV SEGV_MAPERR", () => {
    const k = boot();
    const t = k.spawn("segv") as Task;
    k.switchTo(0, t);
    k.catchSignal(t, "SIGSEGV");
    const a = anon(k, t, 2);
    ok(k.userAccess(0, t, a, Access.Write, 1));
    expect(k.munmap(t, a, 8192n)).toBe(0n);
    const r = k.userAccess(0, t, a, Access.Read);
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.signal, r.siCode, r.siAddr]).toEqual(["SIGSEGV", "SEGV_MAPERR", a]);
    settled(k);
  });

  it("mprotect read-only then write: SIGSEGV SEGV_ACCERR", () => {
    const k = boot();
    const t = k.spawn("ro") as Task;
    k.switchTo(0, t);
    k.catchSignal(t, "SIGSEGV");
    const a = anon(k, t, 1);
    ok(k.userAccess(0, t, a, Access.Write, 1));
    expect(k.mprotect(t, a, 4096n, { r: true, w: false, x: false })).toBe(0n);
    expect(ok(k.userAccess(0, t, a, Access.Read))).toBe(1);
    const r = k.userAccess(0, t, a, Access.Write, 2);
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.signal, r.siCode]).toEqual(["SIGSEGV", "SEGV_ACCERR"]);
    settled(k);
  });

  it("an uncaught SIGSEGV kills the task", () => {
    const k = boot();
    const t = k.spawn("dies") as Task;
    k.switchTo(0, t);
    const r = k.userAccess(0, t, 0x1000n, Access.Read);
    expect(!r.ok && r.killed).toBe(true);
    expect(t.alive).toBe(false);
    settled(k);
  });

  it("a kernel read of a user address with PAN set: the arm64 oops", () => {
    const k = boot();
    const t = k.spawn("victim") as Task;
    k.switchTo(0, t);
    const a = anon(k, t, 1);
    ok(k.userAccess(0, t, a, Access.Write, 1));
    const r = k.kernelAccess(0, a, Access.Read);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.oops[0]).toBe(
      `Unable to handle kernel access to user memory outside uaccess routines at virtual address ${a.toString(16).padStart(16, "0")}`,
    );
    expect(r.oops).toContain("Mem abort info:");
    expect(r.oops.some((l) => l.startsWith("  FSC = 0x0f: level 3 permission fault"))).toBe(true);
    expect(r.oops.some((l) => l.startsWith("user pgtable: 4k pages, 48-bit VAs"))).toBe(true);
    expect(r.oops.some((l) => l.startsWith("Internal error: Oops: 000000009600000f [#1] PREEMPT SMP"))).toBe(
      true,
    );
    expect(t.alive).toBe(false);
    settled(k);
  });

  it("a kernel NULL dereference", () => {
    const k = boot();
    const t = k.spawn("null") as Task;
    k.switchTo(0, t);
    const r = k.kernelAccess(0, 8n, Access.Read);
    expect(!r.ok && r.oops[0]).toBe(
      "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008",
    );
  });

  it("copy_to_user / copy_from_user with LDTR/STTR: PAN stays set, faults resolved", () => {
    const k = boot();
    const t = k.spawn("io") as Task;
    k.switchTo(0, t);
    const a = anon(k, t, 2);
    const w = k.uaccess.copy(0, a + 4090n, 10, true, (i) => i + 1);
    expect(w.notCopied).toBe(0);
    expect(w.faults).toBe(2);
    expect((k.machine.cpus[0] as Arm64Cpu).pan).toBe(true);
    const got: number[] = [];
    const r = k.uaccess.copy(
      0,
      a + 4090n,
      10,
      false,
      () => 0,
      (i, b) => {
        got[i] = b;
      },
    );
    expect(r.notCopied).toBe(0);
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(ok(k.userAccess(0, t, a + 4096n, Access.Read))).toBe(7);
  });

  it("uaccess=ldtr never touches PAN; uaccess=pan-toggle clears it around each copy and sets it after", () => {
    for (const scheme of ["ldtr", "pan-toggle"] as const) {
      const k = boot(scheme);
      const t = k.spawn("io") as Task;
      k.switchTo(0, t);
      const a = anon(k, t, 2);
      const cpu = k.machine.cpus[0] as Arm64Cpu;
      const seen: boolean[] = [];
      const setPan = cpu.setPan.bind(cpu);
      cpu.setPan = (on: boolean) => {
        seen.push(on);
        setPan(on);
      };
      // PAN as the copy's own accesses saw it
      const during: boolean[] = [];
      const w = k.uaccess.copy(0, a + 4090n, 10, true, (i) => {
        during.push(cpu.pan);
        return i + 1;
      });
      expect(w.notCopied).toBe(0);
      expect(cpu.pan, `${scheme}: PAN set after the copy`).toBe(true);
      if (scheme === "ldtr") {
        expect(seen).toEqual([]);
        expect(during.every((p) => p)).toBe(true);
      } else {
        expect(seen[0]).toBe(false);
        expect(seen.at(-1)).toBe(true);
        expect(during.every((p) => !p)).toBe(true);
      }
      expect(ok(k.userAccess(0, t, a + 4095n, Access.Read))).toBe(6);
      expect(checkInvariants(k)).toEqual([]);
      expect(k.machine.checker!.reports).toEqual([]);
    }
  });

  it("munmap with the mm on two CPUs: broadcast TLBIs, no IPIs, coherent TLBs", () => {
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
    const before = k.tlbMgr.broadcasts;
    k.runningCpu = 0;
    expect(k.munmap(p, a, 4n * 4096n)).toBe(0n);
    expect(k.tlbMgr.broadcasts).toBeGreaterThan(before);
    expect(k.tlbMgr.shootdowns).toBe(0);
    expect((k.machine.cpus[1] as Arm64Cpu).broadcastsReceived).toBeGreaterThan(0);
    expect(k.machine.checker?.reports ?? []).toEqual([]);
    k.catchSignal(th, "SIGSEGV");
    const r = k.userAccess(1, th, a, Access.Read);
    expect(!r.ok && r.siCode).toBe("SEGV_MAPERR");
    settled(k);
  });

  it("flush_tlb_page under KPTI: tlb.ts's VALE1IS pair, both ASIDs' entries gone on both CPUs", () => {
    const k = new Kernel<Arm64Cpu, Arm64Tlb>({ arch: "arm64", ramBytes: 64 << 20, cpus: 2, pti: true });
    const p = k.spawn("p") as Task;
    const th = k.thread(p, "p2") as Task;
    k.switchTo(0, p);
    k.switchTo(1, th);
    const a = anon(k, p, 2);
    const cpus = k.machine.cpus as Arm64Cpu[];
    for (const [cpu, t] of [[0, p] as const, [1, th] as const]) {
      ok(k.userAccess(cpu, t, a, Access.Write, 1));
      ok(k.userAccess(cpu, t, a + 4096n, Access.Write, 2));
    }
    // both pages in both TLBs: reads walk no more
    const walks = cpus.map((c) => c.walks);
    ok(k.userAccess(0, p, a, Access.Read));
    ok(k.userAccess(1, th, a + 4096n, Access.Read));
    expect(cpus.map((c) => c.walks)).toEqual(walks);
    const vpn = Number(a / 4096n);
    const before = k.tlbMgr.broadcasts;
    k.runningCpu = 0;
    k.tlbMgr.flushTlbMmRange(p.mm!, vpn, 1, 0, TlbFlush.Page);
    expect(k.tlbMgr.broadcasts - before).toBe(
      flushTlbPage(k.tlbMgr.asidOf(p.mm!), vpn, { kpti: true }).length,
    );
    expect(k.tlbMgr.broadcasts - before).toBe(2);
    // the page walks again on each CPU (its user-ASID entry went), its neighbour does not
    for (const [cpu, t] of [[0, p] as const, [1, th] as const]) {
      const w = cpus[cpu].walks;
      expect(ok(k.userAccess(cpu, t, a + 4096n, Access.Read))).toBe(2);
      expect(cpus[cpu].walks).toBe(w);
      expect(ok(k.userAccess(cpu, t, a, Access.Read))).toBe(1);
      expect(cpus[cpu].walks).toBeGreaterThan(w);
    }
    settled(k);
  });

  it("ASIDs: two processes switched alternately keep distinct ASIDs, no flush", () => {
    const k = boot();
    const a = k.spawn("a") as Task;
    const b = k.spawn("b") as Task;
    const cpu = k.machine.cpus[0] as Arm64Cpu;
    k.switchTo(0, a);
    const asidA = cpu.currentAsid;
    k.switchTo(0, b);
    const asidB = cpu.currentAsid;
    expect(asidA).not.toBe(asidB);
    expect(asidA).not.toBe(0);
    for (let i = 0; i < 4; i++) {
      k.switchTo(0, a);
      expect(cpu.currentAsid).toBe(asidA);
      k.switchTo(0, b);
      expect(cpu.currentAsid).toBe(asidB);
    }
    expect(k.tlbMgr.states[0].switchFlushes).toBe(0);
    expect(cpu.fullFlushes).toBe(0);
    settled(k);
  });
});
