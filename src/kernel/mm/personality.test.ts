/**
 * personality(2)'s READ_IMPLIES_EXEC (Linux 6.12): do_mmap adds PROT_EXEC to a PROT_READ mapping;
 * do_mprotect_pkey's `rier` adds it in each VMA with VM_MAYEXEC; do_brk_flags' heap takes
 * VM_DATA_DEFAULT_FLAGS, which is VM_DATA_FLAGS_TSK_EXEC on x86 and arm64 (VM_EXEC with the flag) and
 * VM_DATA_FLAGS_NON_EXEC on RISC-V. fork and clone copy the persona (dup_task_struct).
 * SYSCALL_DEFINE1(personality) returns the old persona; 0xffffffff only reads it.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";
import { scenarioError } from "../../workloads/scenario/testKit.ts";
import { taskOf } from "../core/task.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "./userMm.ts";
import { VmFlag } from "./vma.ts";

const RIE = 0x0400000;
const R = { r: true, w: false, x: false };
const RW = { r: true, w: true, x: false };

function machine(arch?: "arm64" | "riscv-sv39") {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, ...(arch ? { arch } : {}) });
  const t = k.spawn("A", 0)!;
  k.switchTo(0, t);
  const exec = (va: bigint) => (taskOf(t).mm!.vmaAt(Number(va / 4096n))!.vmFlags & VmFlag.EXEC) !== 0;
  return { k, t, exec };
}

describe("personality(2) and READ_IMPLIES_EXEC (kernel/exec_domain.c, mm/mmap.c, mm/mprotect.c)", () => {
  it("returns the old persona; 0xffffffff reads it without a change", () => {
    const { k, t } = machine();
    expect(k.personality(t, 0xffffffff)).toBe(0);
    expect(k.personality(t, RIE)).toBe(0);
    expect(k.personality(t, 0xffffffff)).toBe(RIE);
    expect(k.personality(t, 0)).toBe(RIE);
    expect(k.personality(t, 0xffffffff)).toBe(0);
  });

  it("mmap: PROT_READ maps executable only with the flag; mprotect adds PROT_EXEC where VM_MAYEXEC", () => {
    const { k, t, exec } = machine();
    const before = k.mmap(t, mmapArgs(4096, { prot: R }));
    const rw = k.mmap(t, mmapArgs(4096, { prot: RW }));
    expect([exec(before), exec(rw)]).toEqual([false, false]);
    k.personality(t, RIE);
    const after = k.mmap(t, mmapArgs(4096, { prot: R, addr: 0x10000000, fixed: true }));
    const w = k.mmap(t, mmapArgs(4096, { prot: RW, addr: 0x20000000, fixed: true }));
    const none = k.mmap(
      t,
      mmapArgs(4096, { prot: { r: false, w: false, x: false }, addr: 0x30000000, fixed: true }),
    );
    expect([exec(after), exec(w), exec(none)]).toEqual([true, true, false]);
    // rier: PROT_READ | PROT_WRITE on the old read-only mapping makes it rwx; PROT_NONE does not
    expect(k.mprotect(t, before, 4096n, RW)).toBe(0n);
    expect(exec(before)).toBe(true);
    expect(k.mprotect(t, after, 4096n, { r: false, w: false, x: false })).toBe(0n);
    expect(exec(after)).toBe(false);
  });

  it("the heap brk grows is executable on x86-64 and arm64 with the flag, never on RISC-V", () => {
    const heapExec = (arch: "arm64" | "riscv-sv39" | undefined, rie: boolean) => {
      const { k, t, exec } = machine(arch);
      if (rie) k.personality(t, RIE);
      const old = k.brk(t, 8192n);
      return exec(old);
    };
    expect([heapExec(undefined, false), heapExec(undefined, true)]).toEqual([false, true]);
    expect(heapExec("arm64", true)).toBe(true);
    expect(heapExec("riscv-sv39", true)).toBe(false);
  });

  it("fork and threads copy the persona", () => {
    const { k, t } = machine();
    k.personality(t, RIE);
    const c = k.fork(t, "B")!;
    const th = k.thread(t, "T")!;
    expect([k.personality(c, 0xffffffff), k.personality(th, 0xffffffff)]).toEqual([RIE, RIE]);
  });

  it("`P: personality` prints the old persona, refuses an unknown one at its column, and is Linux's", () => {
    const r = runScenario(
      "machine ram=64M\nspawn A\nA: o = personality read_implies_exec\nA: q = personality query\n",
    );
    const out = r.statements.flatMap((x) => x.output).join("\n");
    expect(out).toContain("o = 0 (the old persona; now 0x400000)");
    expect(out).toContain("q = 0x400000 (the old persona; now 0x400000)");
    expect(scenarioError("machine ram=64M\nspawn A\nA: personality read_implies_exex\n")).toMatch(
      /^s\.vm:3:16: unknown persona 'read_implies_exex'.*did you mean 'read_implies_exec'/s,
    );
    expect(scenarioError("machine ram=64M profile=windows\nspawn A\nA: personality linux\n")).toMatch(
      /personality/,
    );
  });
});
