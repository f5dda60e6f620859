/**
 * The swap readahead tests' common ground (swap_ra_win.test.ts, swap_ra_review.test.ts): a
 * buffer of 64 pages at a 2 MiB boundary (pages 0..63 of one PTE table), written and paged out
 * whole, and the check that a scenario's expectations all hold.
 */
import { expect } from "vitest";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";

/** 64 pages at 0x40000000, written with 0x5a and paged out whole; `machine` keys added by `keys`. */
export function swapped64(keys = ""): string {
  return `
machine ram=256M swap=64M${keys === "" ? "" : ` ${keys}`}
spawn A
A: a = mmap 256K at=0x40000000
A: write a 256K value=0x5a
A: madvise a 256K pageout
`;
}

/** `A: read` lines of `n` pages of `v` from page `first`, one after another. */
export function readPages(v: string, first: number, n: number): string {
  return Array.from({ length: n }, (_, i) => `A: read ${v}+${(first + i) * 4}K\n`).join("");
}

/** The scenario runs and every expectation in it holds (the failures listed otherwise, under `what`). */
export function holds(scenario: string, what?: string): void {
  expect(expectationFailures(scenario), what).toEqual([]);
}
