import { describe, expect, it } from "vitest";
import { cowDemo } from "../examples/library/cow.ts";

describe("the library example", () => {
  it("shows copy-on-write through the API", () => {
    const r = cowDemo();
    expect(r.childFrameBefore).toBe(r.parentFrame);
    expect(r.childFrameAfter).not.toBe(r.parentFrame);
    expect(r.childFaults).toBe(1);
    expect(r.problems).toEqual([]);
  });
});
