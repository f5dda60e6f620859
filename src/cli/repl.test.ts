import { describe, expect, it } from "vitest";
import { vmlab } from "./testkit.ts";

describe("vmlab repl", () => {
  it("runs the language line by line, reports a bad line with a caret, goes on, and exits 2", () => {
    const r = vmlab(
      ["repl"],
      "machine ram=64M\nspawn A\nA: b = mmap 16K\nA: write b 16K\nfrobnicate\nexpect A.rss == 4\nhistory\n",
    );
    expect(r.code).toBe(2); // a line was invalid
    expect(r.stdout).toMatch(/^ {3}4 {2}A: write b 16K +write 4 pages; 4 page faults \(minor\)$/m);
    expect(r.stdout).toMatch(/<repl>:5:1: unknown statement 'frobnicate'\n {2}frobnicate\n {2}\^/);
    expect(r.stdout).toMatch(/ok \(4\)/);
    expect(r.stdout).toMatch(/^ {3}5 {2}frobnicate$/m); // history lists what was typed
    expect(r.stdout).toMatch(/5 statements, 1 expectations: 1 passed, 0 failed/);
  });

  it("boots the default machine at the first statement, and exits 1 if an expectation failed", () => {
    const r = vmlab(["repl"], "kernel: k = kmalloc 64\nexpect k == 0\n");
    expect(r.stdout).toMatch(/k = 0xffff8880/);
    expect(r.code).toBe(1);
  });

  it("refuses a second machine statement without stopping (exit 2: that line was invalid)", () => {
    const r = vmlab(
      ["repl"],
      "machine ram=64M\nmachine ram=128M\nexpect oops == 0\nquit\nexpect oops == 9\n",
    );
    expect(r.stdout).toMatch(/<repl>:2:1: the machine is already running/);
    expect(r.stdout).toMatch(/1 expectations: 1 passed/);
    expect(r.code).toBe(2);
  });
});
