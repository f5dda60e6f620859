import { describe, expect, it } from "vitest";
import { wrapLine } from "./text.ts";

describe("wrapLine", () => {
  it("breaks at the last space that fits, indents what follows, and keeps a long word whole", () => {
    const text = "one two three four five six seven";
    const lines = wrapLine(text, 14, "> ", "  ");
    expect(lines).toEqual(["> one two", "  three four", "  five six", "  seven"]);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(14);
    expect(wrapLine("short", 14, "> ", "  ")).toEqual(["> short"]);
    // a word longer than the line: broken at the next space, never inside the word
    expect(wrapLine("0123456789abcdef tail", 10, "", "")).toEqual(["0123456789abcdef", "tail"]);
    expect(wrapLine("0123456789abcdef", 10, "", "")).toEqual(["0123456789abcdef"]);
  });
});
