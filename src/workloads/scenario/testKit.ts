/**
 * What scenario tests ask of a run, in one place: the expectations that
 * failed, a run's metrics once every expectation held, and the error a bad
 * scenario stops with as the CLI prints it.
 * Used by tests only.
 */
import { expect } from "vitest";
import { InputError } from "../../base/errors.ts";
import { runScenario, Session } from "./session.ts";

/** The failed expectations of a run (with the invariant checker on), as "line N: TEXT (got V)"; a run without any is an error. */
export function expectationFailures(src: string): string[] {
  const r = runScenario(src, { checkInvariants: true });
  if (r.expectations.length === 0) throw new Error("the scenario has no expectations to check");
  return r.expectations.filter((e) => !e.ok).map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`);
}

/** The InputError a scenario stops with, as `FILE:LINE:COL: message`; "no error" when it runs. */
export function scenarioError(src: string, file = "s.vm"): string {
  try {
    runScenario(src, { file });
  } catch (e) {
    if (e instanceof InputError) return e.format();
    throw e;
  }
  return "no error";
}

/**
 * Runs `src` with the invariant checker on and reads its metrics as
 * numbers; throws, listing them, if any expectation failed.
 */
export function checkedMetrics(src: string): (name: string) => number {
  const r = runScenario(src, { checkInvariants: true });
  const failed = r.expectations
    .filter((e) => !e.ok)
    .map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`);
  if (failed.length > 0) throw new Error(`failed expectations:\n${failed.join("\n")}`);
  return (name) => Number(BigInt(r.metrics[name]));
}

/**
 * Runs the scenario of `lines` and asserts that every expectation held (the failed ones listed
 * in the assertion's message); the run, for what the test reads of its output.
 */
export function runHolds(lines: string[]): ReturnType<typeof runScenario> {
  const r = runScenario(`${lines.join("\n")}\n`);
  const failed = r.expectations
    .filter((e) => !e.ok)
    .map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`);
  expect(failed).toEqual([]);
  return r;
}

/** A live session fed `text` line by line (line numbers from 1), to drive further through its kernel. */
export function feedSession(text: string): Session {
  const s = new Session();
  const lines = text.trim().split("\n");
  for (let i = 0; i < lines.length; i++) s.feed(lines[i], i + 1);
  return s;
}

// ---- the swap readahead tests' common ground (kernel/mm/swap_ra_win.test.ts, swap_ra_review.test.ts):
// a buffer of 64 pages at a 2 MiB boundary (one PTE table), written and paged out whole

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

/** A's one anonymous page (value 5) at `a`, on the LRU (willneed's lru_add_drain), 16M of swap. */
export const PAGE_ON_LRU = `machine ram=64M swap=16M
spawn A
A: a = mmap 4K
A: write a 4K value=5
A: r = madvise a 4K willneed
`;

/** A 64M machine whose processes share one memory cgroup of 8M (memory_max), overcommit off the way. */
export const MEMCG_8M = "machine ram=64M memory_max=8M overcommit=always";

/**
 * A memory cgroup at its limit (memory_max=8M): file F on disk, B's one-page buffer and A's
 * `aKb` of anonymous memory, no swap. The page tables are charged too (GFP_PGTABLE_USER): B's
 * PGD, PUD, PMD and PTE table, A's PGD, PUD, PMD and 4 PTE tables, so 8144K (2036 pages) fill
 * the 2048 pages; less leaves room.
 */
export function memcgAtLimit(aKb = 8144): string[] {
  return [
    MEMCG_8M,
    "file F size=1M",
    "spawn A",
    "spawn B",
    "B: buf = mmap 4K",
    "B: write buf 4K value=1",
    `A: a = mmap ${aKb}K`,
    `A: write a ${aKb}K value=1`,
  ];
}
