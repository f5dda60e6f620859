/**
 * A statement written with the wrong prefix (or none) is refused at its line and column with
 * the form it needs, not as unknown: `fork A B` is `A: fork B`, `A: spawn B` is `spawn B`.
 */
import { describe, expect, it } from "vitest";
import { scenarioError } from "./testKit.ts";

const HEAD = "machine ram=64M\nspawn A\n";

describe("a statement under the wrong prefix", () => {
  it("names the prefix a process's statement needs", () => {
    expect(scenarioError(`${HEAD}fork A B\n`, "f.vm")).toMatch(
      /f\.vm:3:1: 'fork' is a process's statement: 'P: fork \.\.\.', with P a process's name/,
    );
    expect(scenarioError(`${HEAD}mmap 4K\n`, "f.vm")).toMatch(/f\.vm:3:1: 'mmap' is a process's statement/);
  });

  it("says a plain statement takes no prefix, at the prefix", () => {
    expect(scenarioError(`${HEAD}A: spawn B\n`, "f.vm")).toMatch(
      /f\.vm:3:1: 'spawn' takes no prefix: write it without 'A:'/,
    );
    expect(scenarioError(`${HEAD}kernel: switch A\n`, "f.vm")).toMatch(
      /f\.vm:3:1: 'switch' takes no prefix: write it without 'kernel:'/,
    );
  });

  it("still calls an unknown verb unknown", () => {
    expect(scenarioError(`${HEAD}A: frobnicate\n`, "f.vm")).toMatch(
      /f\.vm:3:4: unknown process statement 'frobnicate'/,
    );
  });
});
