/**
 * The OOM killer and VM_FAULT_OOM as Linux 6.12 has them (mm/oom_kill.c):
 * pagefault_out_of_memory kills nothing (the OOM killer's victim dies of the
 * SIGKILL it sent; any other task's fault is retried), out_of_memory with
 * nothing to kill logs "Out of memory and no killable processes..." and, for
 * the whole machine, panics; the victim's fellow threads die with it;
 * dump_header's task table; the lines in the kernel log; vm.panic_on_oom,
 * vm.oom_kill_allocating_task and vm.oom_dump_tasks.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { KernelConfig } from "../Kernel.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "../mm/userMm.ts";
import { fillAnon } from "../mm.testkit.ts";
import { checkInvariants } from "../view/invariants.ts";
import { PF_OOM_RETRIES } from "./oom.ts";

const HUH = "Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF";

const fill = fillAnon;

describe("VM_FAULT_OOM: pagefault_out_of_memory kills nothing", () => {
  for (const arch of ["x86_64", "arm64", "riscv-sv39", "i386"] as const) {
    it(`${arch}: a memory limit with nothing killable: the charge fails, the fault is retried, and the access stops with the task alive`, () => {
      const k = new Kernel({ arch, ramBytes: 64 << 20, overcommit: "always", userMemoryPages: 256 });
      const t = k.spawn("pinned")!;
      expect(k.setOomScoreAdj(t, -1000)).toBe(0);
      const stop = fill(k, t, 512);
      expect(stop).not.toBeNull();
      const { r } = stop!;
      // the base killed it (SIGKILL SI_KERNEL); Linux's fault is retried for as long as nothing changes
      expect(r.ok).toBe(false);
      expect(!r.ok && [r.signal, r.siCode, r.killed]).toEqual(["", "livelock", false]);
      expect(t.alive).toBe(true);
      expect(k.oomKills).toBe(0);
      // each of the PF_OOM_RETRIES faults of the page: the memory cgroup's OOM with nobody to kill
      // (dump_header, then the warning, no panic), then pagefault_out_of_memory's line
      expect(k.oomReports.filter((l) => l === HUH)).toHaveLength(PF_OOM_RETRIES);
      expect(k.oomReports.filter((l) => l === "Out of memory and no killable processes...")).toHaveLength(
        PF_OOM_RETRIES,
      );
      expect(
        k.oomReports.filter((l) =>
          l.startsWith("pinned invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=-1000"),
        ),
      ).toHaveLength(PF_OOM_RETRIES);
      expect(k.view.counters().panic).toBeNull();
      // the lines are the kernel log's too
      expect(k.log.filter((l) => l === HUH)).toHaveLength(PF_OOM_RETRIES);
      expect(checkInvariants(k)).toEqual([]);
    });
  }

  it("the whole machine with nothing killable: out_of_memory panics (System is deadlocked on memory)", () => {
    const k = new Kernel({ ramBytes: 32 << 20, overcommit: "always", swapBytes: 0 });
    const t = k.spawn("pinned")!;
    expect(k.setOomScoreAdj(t, -1000)).toBe(0);
    const stop = fill(k, t, 16384);
    expect(stop).not.toBeNull();
    const { r } = stop!;
    expect(!r.ok && [r.signal, r.siCode, r.killed]).toEqual(["", "panic", false]);
    expect(k.view.counters().panic).toBe("System is deadlocked on memory");
    expect(k.oomKills).toBe(0);
    const at = k.oomReports.indexOf("Out of memory and no killable processes...");
    expect(at).toBeGreaterThan(0);
    expect(k.oomReports[0]).toMatch(
      /^pinned invoked oom-killer: gfp_mask=0x140cca\(GFP_HIGHUSER_MOVABLE\|__GFP_COMP\), order=0, oom_score_adj=-1000$/,
    );
    expect(k.oomReports[at + 1]).toBe("Kernel panic - not syncing: System is deadlocked on memory");
    expect(k.oomReports).not.toContain(HUH);
    expect(k.log.at(-1)).toBe("Kernel panic - not syncing: System is deadlocked on memory");
  });

  it("the victim is the faulting thread's process: its other thread dies at once, the faulting one of the SIGKILL", () => {
    const k = new Kernel({ ramBytes: 32 << 20, overcommit: "always", swapBytes: 0 });
    const leader = k.spawn("A")!;
    const th = k.thread(leader, "A2")!;
    const stop = fill(k, th, 16384);
    expect(stop).not.toBeNull();
    const { r } = stop!;
    expect(!r.ok && [r.signal, r.siCode, r.killed]).toEqual(["SIGKILL", "SI_KERNEL", true]);
    // the base marked the leader (the first task of the mm) and left it alive
    expect([leader.alive, th.alive]).toEqual([false, false]);
    expect(k.oomKills).toBe(1);
    // dump_header names current, the faulting thread
    expect(k.oomReports[0]).toMatch(/^A2 invoked oom-killer: /);
    expect(k.oomReports).not.toContain(HUH);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("another process is chosen: it dies, the faulting one goes on", () => {
    const k = new Kernel({ ramBytes: 32 << 20, overcommit: "always", swapBytes: 0 });
    const big = k.spawn("big")!;
    expect(fill(k, big, 4000)).toBeNull();
    const grow = k.spawn("grow")!;
    expect(k.setOomScoreAdj(grow, -500)).toBe(0);
    expect(fill(k, grow, 4000)).toBeNull();
    expect([big.alive, grow.alive]).toEqual([false, true]);
    expect(k.oomReports).not.toContain(HUH);
  });
});

describe("dump_header's task table (dump_tasks)", () => {
  it("a line per process with its pages, as dump_task prints them, then the summary and the kill", () => {
    const k = new Kernel({ ramBytes: 32 << 20, overcommit: "always", swapBytes: 0 });
    const small = k.spawn("small")!;
    expect(fill(k, small, 100)).toBeNull();
    expect(k.setOomScoreAdj(small, -1000)).toBe(0);
    const hog = k.spawn("hog")!;
    expect(fill(k, hog, 16384)).not.toBeNull();
    expect(hog.alive).toBe(false);
    const rep = k.oomReports;
    const head = rep.indexOf("Tasks state (memory values in pages):");
    expect(head).toBeGreaterThan(0);
    expect(rep[head + 1]).toBe(
      "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name",
    );
    // small: its 100 pages and its stack's; oom_score_adj -1000 is listed (dump_task skips only
    // oom_unkillable_task), never chosen
    const sm = small.mm!;
    const smallVm = sm.vmas.reduce((n, v) => n + v.pages, 0);
    expect(sm.rssAnon).toBe(100);
    const line = (
      pid: number,
      vm: number,
      rss: number,
      anon: number,
      pt: number,
      adj: number,
      comm: string,
    ) =>
      `[${String(pid).padStart(7)}] ${"0".padStart(5)} ${String(pid).padStart(5)} ${String(vm).padStart(8)} ${String(rss).padStart(8)} ${String(anon).padStart(8)} ${"0".padStart(8)} ${"0".padStart(9)} ${String(pt).padStart(8)} ${"0".padStart(8)}         ${String(adj).padStart(5)} ${comm}`;
    // small's page tables: PGD excluded, a PUD, PMD and PTE table (x86-64, 4 levels: mm_pgtables_bytes)
    expect(rep[head + 2]).toBe(line(small.pid, smallVm, 100, 100, 3 * 4096, -1000, "small"));
    expect(rep[head + 3]).toMatch(new RegExp(`^\\[ *${hog.pid}\\]     0 +${hog.pid} .* +0 hog$`));
    expect(rep[head + 4]).toMatch(/^oom-kill:constraint=CONSTRAINT_NONE,.*,task=hog,pid=\d+,uid=0$/);
    expect(rep[head + 5]).toMatch(/^Out of memory: Killed process \d+ \(hog\) total-vm:/);
  });
});

describe("vm.panic_on_oom, vm.oom_kill_allocating_task, vm.oom_dump_tasks (vm_oom_kill_table)", () => {
  it("the writes: panic_on_oom 0..2 (EINVAL, it and those after unwritten), the others any int", () => {
    const k = new Kernel({ ramBytes: 32 << 20 });
    expect(k.sysctlOom({})).toEqual({
      ret: 0,
      now: { panic_on_oom: 0, oom_kill_allocating_task: 0, oom_dump_tasks: 1 },
    });
    expect(k.sysctlOom({ panic_on_oom: 3, oom_kill_allocating_task: 1 })).toEqual({
      ret: -22,
      now: { panic_on_oom: 0, oom_kill_allocating_task: 0, oom_dump_tasks: 1 },
    });
    expect(k.sysctlOom({ oom_kill_allocating_task: -7, oom_dump_tasks: 0, panic_on_oom: 2 }).now).toEqual({
      panic_on_oom: 2,
      oom_kill_allocating_task: -7,
      oom_dump_tasks: 0,
    });
  });

  const limited = (extra: Partial<KernelConfig>) =>
    new Kernel({ ramBytes: 64 << 20, overcommit: "always", userMemoryPages: 256, ...extra });

  it("panic_on_oom 1 spares a memory limit's OOM (CONSTRAINT_MEMCG), 2 panics there too", () => {
    const one = limited({ panicOnOom: 1 });
    const t1 = one.spawn("grow")!;
    const s1 = fill(one, t1, 512);
    expect(!s1!.r.ok && s1!.r.signal).toBe("SIGKILL");
    expect(one.view.counters().panic).toBeNull();
    expect(one.oomKills).toBe(1);
    const two = limited({ panicOnOom: 2 });
    const t2 = two.spawn("grow")!;
    const s2 = fill(two, t2, 512);
    expect(!s2!.r.ok && [s2!.r.signal, s2!.r.siCode]).toEqual(["", "panic"]);
    expect(two.view.counters().panic).toBe("Out of memory: compulsory panic_on_oom is enabled");
    expect(two.oomKills).toBe(0);
    // dump_header, then the panic: no victim line
    expect(two.oomReports.at(-1)).toBe(
      "Kernel panic - not syncing: Out of memory: compulsory panic_on_oom is enabled",
    );
    expect(two.oomReports.some((l) => l.startsWith("oom-kill:"))).toBe(false);
  });

  it("oom_kill_allocating_task: the allocating task unless it is -1000; then select_bad_process chooses", () => {
    const k = new Kernel({
      ramBytes: 32 << 20,
      overcommit: "always",
      swapBytes: 0,
      oomKillAllocatingTask: 1,
    });
    const big = k.spawn("big")!;
    expect(fill(k, big, 3000)).toBeNull();
    const a = k.spawn("alloc")!;
    const s = fill(k, a, 16384);
    expect(!s!.r.ok && s!.r.signal).toBe("SIGKILL");
    expect([big.alive, a.alive]).toEqual([true, false]);
    expect(k.oomReports.at(-1)).toMatch(
      /^Out of memory \(oom_kill_allocating_task\): Killed process \d+ \(alloc\) /,
    );
    const p = k.spawn("pinned")!;
    expect(k.setOomScoreAdj(p, -1000)).toBe(0);
    expect(fill(k, p, 3000)).toBeNull();
    expect([big.alive, p.alive]).toEqual([false, true]);
    expect(k.oomReports.at(-1)).toMatch(/^Out of memory: Killed process \d+ \(big\) /);
  });

  it("oom_dump_tasks 0: no task table", () => {
    const k = new Kernel({ ramBytes: 32 << 20, overcommit: "always", swapBytes: 0, oomDumpTasks: 0 });
    const t = k.spawn("grow")!;
    expect(fill(k, t, 16384)).not.toBeNull();
    expect(k.oomKills).toBe(1);
    expect(k.oomReports).not.toContain("Tasks state (memory values in pages):");
    expect(k.oomReports.at(-2)).toMatch(/^oom-kill:constraint=CONSTRAINT_NONE,/);
  });
});

describe("a memory limit's OOM that chooses the charging task (try_charge_memcg's passed_oom)", () => {
  it("the charge retries MAX_RECLAIM_RETRIES more times, then fails: (1 + 1 + 16) + (1 + 16) reclaims in the fatal charge", () => {
    const k = new Kernel({
      ramBytes: 64 << 20,
      swapBytes: 256 * 4096,
      overcommit: "always",
      userMemoryPages: 512,
    });
    const t = k.spawn("grow")!;
    k.switchTo(0, t);
    const a = k.mmap(t, mmapArgs(2000 * 4096));
    let before = 0;
    let r = k.userAccess(0, t, a, Access.Write, 1);
    for (let i = 1; i < 2000 && r.ok; i++) {
      before = k.view.vmstatCompat().memcg_reclaims;
      r = k.userAccess(0, t, a + BigInt(i) * 4096n, Access.Write, 1);
    }
    expect(!r.ok && [r.signal, r.siCode]).toEqual(["SIGKILL", "SI_KERNEL"]);
    // with swap full nothing is reclaimed: the first round, the round after drain_all_stock (once
    // per charge: `drained` is not reset) and 16 retries (MAX_RECLAIM_RETRIES) before
    // mem_cgroup_oom, whose out_of_memory chose the charging task and returned true, then the
    // first round and 16 retries again before `passed_oom && task_is_dying()` fails the charge
    expect(k.view.vmstatCompat().memcg_reclaims - before).toBe(35);
    expect(k.oomKills).toBe(1);
    expect(t.alive).toBe(false);
  });
});
