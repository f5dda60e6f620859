/**
 * `P: setrlimit RESOURCE SOFT [HARD]` and `show P limits`: the limits a
 * statement sets hold the system calls after it, the process's threads
 * share them and a fork copies them; bad input stops the scenario at
 * file:line:col.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../session.ts";
import { expectationFailures, scenarioError } from "../testKit.ts";

describe("setrlimit and show P limits", () => {
  it("sets soft and hard (HARD omitted: both), per process, copied by fork", () => {
    expect(
      expectationFailures(`machine ram=128M
spawn A
A: r = setrlimit data 1M 2M
expect r == 0
A: thread T
T: a = mmap 2M
expect a == -12
A: fork C
C: b = mmap 2M
expect b == -12
C: r2 = setrlimit data 2M
expect r2 == 0
C: c = mmap 2M
expect c > 0
A: d = mmap 2M
expect d == -12
A: r3 = setrlimit data unlimited
expect r3 == 0
A: e = mmap 2M
expect e > 0
spawn U uid=1000
U: r4 = setrlimit as 1G
U: r5 = setrlimit as 2G
expect r4 == 0
expect r5 == -1
`),
    ).toEqual([]);
  });

  it("shows /proc/PID/limits' header and the four rows, with their data", () => {
    const r = runScenario("machine ram=64M\nspawn A\nA: setrlimit as 16M unlimited\nshow A limits\n");
    const out = r.statements.at(-1)!.output;
    expect(out[0]).toBe("Limit                     Soft Limit           Hard Limit           Units     ");
    expect(out.slice(1).map((l) => l.slice(0, 26).trim())).toEqual([
      "Max data size",
      "Max stack size",
      "Max locked memory",
      "Max address space",
    ]);
    expect(out[4]).toMatch(/^Max address space {9}16777216 {13}unlimited {12}bytes {5}$/);
  });

  it("stops at file:line:col on a bad resource, a negative or too large size, soft above hard", () => {
    const pre = "machine ram=64M\nspawn A\n";
    expect(scenarioError(`${pre}A: setrlimit rss 1M\n`)).toMatch(
      /^s\.vm:3:14: unknown resource 'rss': as, data, stack or memlock/,
    );
    expect(scenarioError(`${pre}A: setrlimit dta 1M\n`)).toMatch(/did you mean 'data'/);
    expect(scenarioError(`${pre}A: setrlimit as -1M\n`)).toMatch(/^s\.vm:3:17: a limit cannot be negative/);
    expect(scenarioError(`${pre}A: setrlimit as 0x7fffffffffffffff\n`)).toMatch(
      /^s\.vm:3:17: the limit .* is too large/,
    );
    expect(scenarioError(`${pre}A: setrlimit as 2M 1M\n`)).toMatch(
      /^s\.vm:3:20: the soft limit 2097152 is above the hard limit 1048576/,
    );
    expect(scenarioError(`${pre}A: setrlimit as unlimited 1M\n`)).toMatch(
      /^s\.vm:3:27: the soft limit unlimited/,
    );
    expect(scenarioError(`${pre}A: setrlimit as\n`)).toMatch(
      /^s\.vm:3:14: setrlimit as\|data\|stack\|memlock SOFT/,
    );
    expect(scenarioError(`${pre}A: setrlimit as 1M 2M 3M\n`)).toMatch(/^s\.vm:3:23: setrlimit/);
    expect(scenarioError(`${pre}A: setrlimit as 1M\nshow A limits x\n`)).toMatch(
      /^s\.vm:4:15: too many arguments/,
    );
  });
});
