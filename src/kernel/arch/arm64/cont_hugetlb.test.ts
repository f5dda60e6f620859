import { describe, expect, it } from "vitest";
import { expectationFailures } from "../../../workloads/scenario/testKit.ts";

describe("smoke", () => {
  it("64K", () => {
    expect(
      expectationFailures(`machine arch=arm64 ram=256M
spawn A
n = sysctl nr_hugepages=4 size=64K
expect n == 4
A: buf = mmap 64K hugetlb size=64K
A: write buf+4K 1 value=0x11
expect hugetlb(A, buf 64K) == 16
expect pfn(A, buf+8K) == pfn(A, buf) + 2
A: fork B
B: write buf 1 value=0x22
expect pfn(B, buf) != pfn(A, buf)
expect byte(B, buf+4K) == 0x11
expect byte(A, buf) == 0
B: exit
A: exit
`),
    ).toEqual([]);
  });
});
