/**
 * `sysctl panic_on_oom=N oom_kill_allocating_task=N oom_dump_tasks=N` (extension): the write's
 * printout and EINVAL, and an OOM's report in a statement's output: the panic of an OOM with
 * nothing killable ends the access and halts the machine (kernel/core/oom.ts).
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../session.ts";
import { scenarioError } from "../testKit.ts";

describe("sysctl panic_on_oom / oom_kill_allocating_task / oom_dump_tasks", () => {
  it("prints all three, holds the first key's value; panic_on_oom 3 is EINVAL, unwritten", () => {
    const r = runScenario(
      [
        "machine ram=64M",
        "x = sysctl oom_kill_allocating_task=5 oom_dump_tasks=0",
        "y = sysctl panic_on_oom=3",
        "expect x == 5",
        "expect y == 0 - 22",
        "",
      ].join("\n"),
    );
    expect(r.failed).toBe(0);
    expect(r.statements[1].output.join("\n")).toContain(
      "(panic_on_oom 0, oom_kill_allocating_task 5, oom_dump_tasks 0)",
    );
    expect(r.statements[2].output.join("\n")).toContain(
      "(EINVAL: panic_on_oom is 0 .. 2; panic_on_oom 0, oom_kill_allocating_task 5, oom_dump_tasks 0)",
    );
  });

  it("a value beyond an int is refused at its column", () => {
    expect(scenarioError("machine ram=64M\nsysctl oom_dump_tasks=4294967296\n")).toMatch(
      /-2\^31 to 2\^31 - 1/,
    );
  });

  it("nothing killable: the report, the panic, the access left undone, the machine halted", () => {
    const r = runScenario(
      [
        "machine ram=64M cpus=1 overcommit=always",
        "spawn keeper",
        "keeper: oom_score_adj -1000",
        "keeper: a = mmap 96M",
        "keeper: write a 96M",
        "expect oom_kills == 0",
        "",
      ].join("\n"),
    );
    const out = r.statements[4].output;
    expect(out[0]).toMatch(/^keeper invoked oom-killer: .*, order=0, oom_score_adj=-1000$/);
    expect(out).toContain("Out of memory and no killable processes...");
    expect(out).toContain("Kernel panic - not syncing: System is deadlocked on memory");
    expect(out.at(-1)).toBe("the machine panicked in the page fault; the access never completed");
    expect(r.halted).toBe("Kernel panic - not syncing: System is deadlocked on memory");
    // the kernel log (dmesg) has the lines too
    expect(r.log).toContain("Out of memory and no killable processes...");
  });
});
