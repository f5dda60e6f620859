/**
 * The Python pieces the scripts print through, against CPython 3.11: `%`
 * formatting (round-half-even for %.2f where toFixed rounds up, signs
 * before zero padding), int() of a string, repr() of a string, and
 * textwrap's hyphen rule. Expected values were printed by python3.
 */
import { describe, expect, it } from "vitest";
import { PyError, pyFormat, pyInt, pyRepr, textwrapWrap } from "./python.ts";

describe("Python emulation", () => {
  it("formats as % does", () => {
    expect(pyFormat("%.2f %.2f %.2f %.1f", 0.125, 0.375, 12.5, 0.25)).toBe("0.12 0.38 12.50 0.2");
    expect(pyFormat("%08x|%x|%4d|%-4d|%12s", -5, 255, -3, 7, [1, 2])).toBe(
      "-0000005|ff|  -3|7   |      [1, 2]",
    );
    expect(pyFormat("%d%%", 10n ** 20n)).toBe("100000000000000000000%");
  });

  it("reads ints as int() does, and refuses what it refuses", () => {
    expect([" 1_0 ", "007", "+5", "-0", "\u0661\u0662"].map((s) => pyInt(s))).toEqual([10n, 7n, 5n, 0n, 12n]);
    expect(pyInt("0x_1f", 16)).toBe(31n);
    expect(pyInt("017", 8)).toBe(15n);
    for (const bad of ["1__0", "_1", "0x1f", "", "1.5"]) expect(() => pyInt(bad)).toThrow(PyError);
    try {
      pyInt("\n");
    } catch (e) {
      expect((e as PyError).lastLine()).toBe("ValueError: invalid literal for int() with base 10: '\\n'");
    }
  });

  it("quotes as repr() does", () => {
    expect([pyRepr("abc"), pyRepr("it's"), pyRepr(`a'b"c`), pyRepr("\t\x01")]).toEqual([
      "'abc'",
      `"it's"`,
      `'a\\'b"c'`,
      "'\\t\\x01'",
    ]);
  });

  it("wraps as textwrap does, breaking after a hyphen inside a word", () => {
    const text = "a set of comma-separated pages to access; -1 means randomly generate";
    expect(textwrapWrap(text, 20)).toEqual([
      "a set of comma-",
      "separated pages to",
      "access; -1 means",
      "randomly generate",
    ]);
  });
});
