import { describe, expect, it } from "vitest";
import { InputError } from "../../../base/errors.ts";
import { runScenario } from "../session.ts";
import { formatWithCaret, MAX_NESTING, parseScenario } from "./parser.ts";

function error(source: string): InputError {
  try {
    runScenario(source, { file: "s.vm" });
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe("long and deep expressions", () => {
  it("parses and runs a chain of 8,000 and of 100,000 terms", () => {
    const r = runScenario(`let x = 1${" + 1".repeat(8000)}\nexpect x${"+1".repeat(100_000)} == 108001\n`);
    expect(r.failed).toBe(0);
    expect(r.passed).toBe(1);
  });

  it("refuses calls nested thousands deep with an error at the line, not a stack overflow", () => {
    const deep = `${"pfn(A, ".repeat(5000)}1${")".repeat(5000)}`;
    const e = error(`machine ram=64M\nspawn A\nexpect ${deep} == 0\n`);
    expect(e.format()).toMatch(new RegExp(`^s\\.vm:3:\\d+: calls nested more than ${MAX_NESTING} deep`));
    // as deep as allowed still parses
    const ok = `${"pfn(A, ".repeat(MAX_NESTING)}1${")".repeat(MAX_NESTING)}`;
    expect(parseScenario(`expect ${ok} == 0`)).toHaveLength(1);
  });
});

describe("messages quote short escaped excerpts", () => {
  it("cuts a 1 MB bad token to a short excerpt, in the message and under the caret", () => {
    const big = "q".repeat(1_000_000);
    const e = error(`machine ram=64M\n${big} 1\n`);
    expect(e.message.length).toBeLessThan(200);
    expect(e.message).toContain(`'${"q".repeat(40)}…'`);
    const shown = formatWithCaret(e, ["machine ram=64M", `${big} 1`]);
    expect(shown.length).toBeLessThan(400);
  });

  it("cuts a long size suffix and a long number", () => {
    expect(error(`machine ram=64M\nspawn A\nA: mmap 4${"Z".repeat(100_000)}\n`).message.length).toBeLessThan(
      200,
    );
    expect(error(`machine ram=64M\nspawn A\nA: mmap ${"9".repeat(100_000)}\n`).message.length).toBeLessThan(
      200,
    );
  });

  it("escapes control characters of a quoted word and of an unexpected character", () => {
    const e = error('machine ram=64M\nspawn A\n"a\u001b[2Jb" 1\n');
    expect(e.message.includes("\u001b")).toBe(false);
    expect(error("machine ram=64M\n\u0007\n").message).toBe("unexpected character '\\u0007'");
    const shown = formatWithCaret(error("machine ram=64M\n  \u0007\n"), ["machine ram=64M", "  \u0007"]);
    expect(shown.includes("\u0007")).toBe(false);
  });
});
