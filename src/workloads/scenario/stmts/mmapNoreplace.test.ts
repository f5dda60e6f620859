/**
 * `mmap ... at=ADDR noreplace` (an extension: MAP_FIXED_NOREPLACE): MAP_FIXED
 * that gives -17 (EEXIST) where a mapping overlaps the range, and the words'
 * errors at file:line:col.
 */
import { describe, expect, it } from "vitest";
import { expectationFailures, scenarioError } from "../testKit.ts";

const PRE = "machine ram=64M\nspawn A\n";

describe("mmap noreplace", () => {
  it("maps at the address when it is free, EEXIST over a mapping, EINVAL off a page", () => {
    expect(
      expectationFailures(`${PRE}A: a = mmap 8K at=0x200000000000 noreplace
expect a == 0x200000000000
A: b = mmap 8K at=0x200000001000 noreplace
expect b == -17
A: c = mmap 4K at=0x200000002000 noreplace
expect c == 0x200000002000
A: d = mmap 4K at=0x200000003001 noreplace
expect d == -22
`),
    ).toEqual([]);
  });

  it("needs at=, and is not given with fixed", () => {
    expect(scenarioError(`${PRE}A: a = mmap 8K noreplace\n`)).toMatch(
      /^s\.vm:3:\d+: noreplace needs at=ADDR/,
    );
    expect(scenarioError(`${PRE}A: a = mmap 8K at=0x200000000000 fixed noreplace\n`)).toMatch(
      /^s\.vm:3:\d+: fixed or noreplace, not both/,
    );
  });

  it("a hint past every TASK_SIZE is ignored (the mapping goes elsewhere); MAP_FIXED or noreplace there is ENOMEM", () => {
    expect(
      expectationFailures(`${PRE}A: a = mmap 8K at=0x4000000000000000
expect a > 0
expect a < 0x800000000000
A: b = mmap 8K at=0x4000000000000000 fixed
expect b == -12
A: c = mmap 8K at=0x4000000000000000 noreplace
expect c == -12
`),
    ).toEqual([]);
  });
});
