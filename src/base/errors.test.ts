import { describe, expect, it } from "vitest";
import { excerpt, InputError, tidyMessage } from "./errors.ts";

describe("excerpt", () => {
  it("keeps short text as it is", () => {
    expect(excerpt("buf+4K")).toBe("buf+4K");
  });

  it("cuts long text at the cap with an ellipsis", () => {
    expect(excerpt("x".repeat(1_000_000))).toBe(`${"x".repeat(40)}…`);
    expect(excerpt("abcdef", 3)).toBe("abc…");
  });

  it("escapes control characters", () => {
    expect(excerpt("a\nb\tc\u0001\u001b[2J\u007f")).toBe("a\\nb\\tc\\u0001\\u001b[2J\\u007f");
  });
});

describe("InputError.format", () => {
  it("puts FILE:LINE:COL first", () => {
    expect(new InputError("bad", { file: "f", line: 2, col: 3 }).format()).toBe("f:2:3: bad");
  });
});

describe("tidyMessage", () => {
  it("cuts long quoted pieces and escapes control characters", () => {
    expect(tidyMessage(`unknown statement '${"q".repeat(100)}' at 'x'`)).toBe(
      `unknown statement '${"q".repeat(40)}…' at 'x'`,
    );
    expect(tidyMessage("bad 'a\u001bb'\nnext\tline")).toBe("bad 'a\\u001bb'\nnext\\tline");
  });
});
