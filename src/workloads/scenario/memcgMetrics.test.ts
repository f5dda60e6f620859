/**
 * The memory cgroup's files as scenario metrics (extension): memory.current, memory.max,
 * memory.events.X, memory.stat.X, memory.failcnt, the values `show memcg` prints.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "./session.ts";
import { memcgAtLimit, scenarioError } from "./testKit.ts";

describe("memory.X metrics", () => {
  it("read the cgroup's files: a read(2) at the limit reclaims 20 rounds, then the cgroup OOM kills A", () => {
    // readahead's NORETRY charge: 2 rounds, 1 failure; filemap_create_folio's: 18 rounds, 1 failure,
    // then mem_cgroup_oom (examples/kernel/memcg-pagecache.vm)
    const r = runScenario(
      [
        ...memcgAtLimit(),
        "expect memory.current == 8M",
        // 11 of the 2048 pages are A's and B's page tables (memory.stat pagetables) and PGDs
        // (memory.stat kernel has both)
        "expect memory.stat.anon == 8M - 44K",
        "expect memory.stat.pagetables == 36K",
        "expect memory.stat.kernel == 44K",
        "B: n = syscall read F buf 4K",
        "expect memory.events.max == 20",
        "expect memory.events.oom == 1",
        "expect memory.events.oom_kill == 1",
        "expect memory.failcnt == 2",
        "expect memory.max == 8M",
        "expect memory.stat.file == 4K",
        "expect memory.current == 24K", // B's buffer, F's page, B's 3 page tables and PGD
        "",
      ].join("\n"),
    );
    expect(r.failed).toBe(0);
    expect(r.passed).toBe(11);
  });

  it("memory.max is -1 without a limit ('max'); an unknown file is an error at its place", () => {
    expect(runScenario("machine ram=64M\nexpect memory.max == -1\n").failed).toBe(0);
    expect(scenarioError("machine ram=64M\nexpect memory.events.bogus == 1\n")).toMatch(
      /^s\.vm:2:8: unknown memory cgroup value 'memory\.events\.bogus'/,
    );
  });
});
