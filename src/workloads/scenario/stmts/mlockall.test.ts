/**
 * `P: mlockall [current] [future] [onfault]` and `P: munlockall`: what they
 * print, the flags the words stand for (the kernel's EINVAL for none or
 * `onfault` alone), windows' refusal, and bad words stopping the scenario
 * at file:line:col.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../session.ts";
import { expectationFailures, scenarioError } from "../testKit.ts";

const PRE = "machine ram=64M\nspawn A\n";

describe("mlockall and munlockall statements", () => {
  it("prints the result and the pages faulted in; the words in any order", () => {
    const r = runScenario(
      `${PRE}A: a = mmap 32K\nA: r = mlockall future current\nA: munlockall\nA: e = mlockall\n`,
    );
    const out = r.statements.slice(-3).map((s) => s.output.at(-1));
    // the 8 pages of a and the 33 of the stack
    expect(out).toEqual(["r = 0 (41 pages faulted in)", "0", "e = -22 (EINVAL)"]);
  });

  it("onfault alone is the kernel's EINVAL; with future, new mappings are locked and empty", () => {
    expect(
      expectationFailures(`${PRE}A: e = mlockall onfault
expect e == -22
A: r = mlockall onfault future
expect r == 0
expect A.vm_lck == 0
A: a = mmap 64K populate
expect A.vm_lck == 64K
expect rss(A, a 64K) == 0
`),
    ).toEqual([]);
  });

  it("stops at file:line:col on an unknown or repeated word, and on munlockall's words", () => {
    expect(scenarioError(`${PRE}A: mlockall current locked\n`)).toMatch(
      /^s\.vm:3:21: mlockall \[current\] \[future\] \[onfault\]/,
    );
    expect(scenarioError(`${PRE}A: mlockall future future\n`)).toMatch(/^s\.vm:3:20: mlockall \[current\]/);
    expect(scenarioError(`${PRE}A: munlockall current\n`)).toMatch(/^s\.vm:3:15: munlockall takes no words/);
    expect(scenarioError(`${PRE}A: mlockall cur=1\n`)).toMatch(
      /^s\.vm:3:\d+: 'mlockall' has no option 'cur'/,
    );
  });

  it("is Linux's: the windows profile refuses it at its line", () => {
    expect(scenarioError("machine ram=64M profile=windows\nspawn A\nA: mlockall current\n")).toMatch(
      /^s\.vm:3:4: .*mlockall/,
    );
  });
});
