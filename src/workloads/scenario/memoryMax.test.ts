/**
 * `machine memory_max=SIZE` (extension): one memory cgroup over every process, its memory.max
 * (kernel/core/memcontrol.ts). Its charge at the limit: try_charge_memcg's rounds, then the
 * cgroup's own OOM killer (mem_cgroup_oom, CONSTRAINT_MEMCG) while the machine has memory free.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "./session.ts";
import { scenarioError } from "./testKit.ts";

const twoTasks = (max: string): string =>
  [
    `machine ram=64M overcommit=always${max}`,
    "spawn A",
    "spawn B",
    "A: a = mmap 6M",
    "A: write a 6M value=1",
    "B: b = mmap 6M",
    "let r = vmstat.memcg_reclaims",
    "B: write b 6M value=2",
    "",
  ].join("\n");

describe("machine memory_max", () => {
  it("8M over two tasks of 6M: the cgroup's OOM kills A after 18 reclaims; B's faults go on", () => {
    const r = runScenario(
      `${twoTasks(" memory_max=8M")}expect A.alive == 0\nexpect B.alive == 1\nexpect vmstat.memcg_reclaims - r == 18\n`,
    );
    expect(r.failed).toBe(0);
    const out = r.statements[7].output.join("\n");
    expect(out).toContain("memory: usage 8192kB, limit 8192kB");
    expect(out).toContain("oom-kill:constraint=CONSTRAINT_MEMCG,");
    expect(out).toMatch(/Memory cgroup out of memory: Killed process \d+ \(A\) /);
    expect(r.machine.memory_max).toBe(String(8 << 20));
  });

  it("a page mapped and in the swap cache is charged once: a read-back through 2M keeps more than 1M resident", () => {
    // every page read back from swap stays in the swap cache while mapped (a read fault frees
    // its slot only when swap is half full, vm_swap_full): counted once per mapping and once for
    // the swap cache, at most 256 of the limit's 512 pages could be resident; Linux's page
    // counter charges each page once, so all but the LRU add batch and the readahead's
    // unmapped pages are A's
    const r = runScenario(
      [
        "machine ram=64M memory_max=2M swap=64M overcommit=always",
        "spawn A",
        "A: a = mmap 8M",
        "A: write a 8M value=1",
        "A: read a 8M",
        "A: read a 8M",
        "expect A.rss > 448",
        "expect A.rss <= 512",
        "expect oom_kills == 0",
        "",
      ].join("\n"),
    );
    expect(r.failed).toBe(0);
  });

  // 256 4K pages of b charged, then a THP fault in h: 256 + 512 > 700 pages (2800K)
  const thpOverLimit = (madvise: boolean): string =>
    [
      "machine ram=64M memory_max=2800K swap=64M thp=always overcommit=always",
      "spawn A",
      "A: b = mmap 1M",
      "A: write b 1M value=1",
      "A: h = mmap 2M",
      madvise ? "A: madvise h 2M hugepage" : "",
      "let r = vmstat.memcg_reclaims",
      "A: write h 4K value=2",
      "",
    ].join("\n");

  it("a THP's charge without MADV_HUGEPAGE (GFP_TRANSHUGE_LIGHT) may not block: no reclaim, the 4K fallback", () => {
    // vma_alloc_anon_folio_pmd charges with vma_thp_gfp_mask's gfp, and try_charge_memcg's
    // !gfpflags_allow_blocking goes to nomem before any reclaim; the 4K page's charge fits
    const r = runScenario(
      `${thpOverLimit(false)}expect vmstat.thp_fault_fallback_charge == 1\nexpect vmstat.thp_fault_alloc == 0\n` +
        "expect vmstat.memcg_reclaims - r == 0\nexpect vmstat.pswpout == 0\nexpect A.rss == 257\n",
    );
    expect(r.failed).toBe(0);
  });

  it("with MADV_HUGEPAGE (GFP_TRANSHUGE) it reclaims max(512, 32) pages a round and gets its THP", () => {
    // b's pages were just written: the first round finds their PTEs young (folio_check_references
    // keeps them, PG_referenced set) and frees only those its falling priority scans twice; the
    // round after drain_all_stock frees the rest: all 256 go to swap and the 512 fit
    const r = runScenario(
      `${thpOverLimit(true)}expect vmstat.thp_fault_fallback_charge == 0\nexpect vmstat.thp_fault_alloc == 1\n` +
        "expect vmstat.memcg_reclaims - r == 2\nexpect vmstat.pswpout == 256\nexpect A.rss == 512\n",
    );
    expect(r.failed).toBe(0);
  });

  it("max, or the key left out: no limit, no OOM, not in the effective machine unless given", () => {
    for (const max of ["", " memory_max=max"]) {
      const r = runScenario(
        `${twoTasks(max)}expect A.alive == 1\nexpect B.alive == 1\nexpect oom_kills == 0\n`,
      );
      expect(r.failed).toBe(0);
      expect(r.machine.memory_max).toBe(max === "" ? undefined : "max");
    }
  });

  it("a size that is not whole pages, zero, past 64G, or on Windows: an error at the value", () => {
    expect(scenarioError("machine memory_max=5000\n")).toMatch(
      /s\.vm:1:20: .*machine memory_max: must be max or a multiple of 4K from 4K to 64G, not 5000/,
    );
    expect(scenarioError("machine memory_max=0\n")).toMatch(/s\.vm:1:20: .*not 0/);
    expect(scenarioError("machine memory_max=65G\n")).toMatch(/s\.vm:1:20: .*from 4K to 64G/);
    expect(scenarioError("machine profile=windows memory_max=8M\n")).toMatch(
      /s\.vm:1:36: .*machine memory_max: is a Linux memory cgroup limit; Windows limits memory by job objects/,
    );
  });
});
