/**
 * memory.high (`machine memory_high=SIZE`, extension) against Linux 6.12 mm/memcontrol.c: a charge
 * over high is made (try_charge_memcg's done_restock: current->memcg_nr_pages_over_high +=
 * batch), and the task pays on its way back to user mode (resume_user_mode_work ->
 * mem_cgroup_handle_over_high: reclaim_high, memory.events high; the penalty of
 * calculate_high_delay when reclaim cannot keep up, a sleep vmlab only counts).
 */
import { describe, expect, it } from "vitest";
import { calculateHighDelay } from "../../kernel/core/memcontrol.ts";
import { runScenario } from "./session.ts";
import { runHolds, scenarioError } from "./testKit.ts";

/**
 * calculate_high_delay for one page of debt (nr_pages 1), min(…, MEMCG_MAX_HIGH_DELAY_JIFFIES):
 * overage = (usage - high) << 20 / high, penalty = overage^2 * HZ >> 20 >> 14, * 1 / 64.
 */
function penalty(usage: number, high: number, hz: number): number {
  const ov = (BigInt(usage - high) << 20n) / BigInt(high);
  const p = (ov * ov * BigInt(hz)) >> 34n;
  return Math.min(Number(p / 64n), 2 * hz);
}

describe("memory.high (mem_cgroup_handle_over_high)", () => {
  it("anonymous memory written over high is reclaimed to swap on each return to user: usage stays at high", () => {
    // A's 2M (512 pages, one PTE table at 1G: PGD, PUD, PMD, PTE charged first): each fault's page over
    // the 256 of memory.high leaves a debt of 1, paid at the return to user mode by reclaim_high
    // (try_to_free_mem_cgroup_pages of SWAP_CLUSTER_MAX), so the usage never ends a fault above
    // high + 1 page; the pages are in swap and read back intact
    const r = runHolds([
      "machine ram=64M swap=64M memory_high=1M",
      "spawn A",
      "A: a = mmap 2M at=0x40000000",
      "A: write a 2M value=7",
      "expect memory.high == 1M",
      "expect memory.max == -1",
      "expect memory.current <= 1M",
      "expect memory.peak == 1M + 4K", // the page whose charge went over, before its return to user
      "expect memory.events.high > 0",
      "expect memory.events.max == 0",
      "expect memory.stat.pgsteal_direct > 0",
      "expect vmstat.pswpout > 0",
      "expect memory.high_throttled == 0",
      "show memcg",
      "A: read a 2M",
      "expect byte(A, a + 2M - 4K) == 7", // each page's first byte written
    ]);
    const out = r.statements[13].output;
    expect(out.slice(0, 4)).toEqual([
      expect.stringMatching(/^memory\.current \d+$/),
      "memory.high 1048576",
      "memory.max max",
      "memory.peak 1052672",
    ]);
    expect(out.find((l) => l.startsWith("memory.events high"))).not.toBe("memory.events high 0");
  });

  it("without swap reclaim cannot keep up: usage passes high (never a max) and the penalty is counted", () => {
    // no swap, no page cache: reclaim_high reclaims nothing. The fault of page k leaves the usage
    // at u = 4 + k pages (A's PGD, then PUD, PMD, PTE table first). At u <= 282 the penalty (1 page of debt) is
    // at most HZ / 100 = 10 jiffies: one reclaim_high round, no sleep. From u = 283 on it is more:
    // 1 + MAX_RECLAIM_RETRIES (16) rounds, then the sleep of `penalty` jiffies (counted)
    const HZ = 1000; // x86_64_defconfig CONFIG_HZ_1000
    let rounds = 0;
    let throttled = 0;
    let jiffies = 0;
    for (let u = 257; u <= 516; u++) {
      const p = penalty(u, 256, HZ);
      if (p <= HZ / 100) rounds += 1;
      else {
        rounds += 17;
        throttled++;
        jiffies += p;
      }
    }
    expect(throttled).toBe(516 - 283 + 1);
    runHolds([
      "machine ram=64M memory_high=1M overcommit=always",
      "spawn A",
      "A: a = mmap 2M at=0x40000000",
      "A: write a 2M value=7",
      "expect memory.current == 2M + 16K",
      "expect A.alive == 1",
      `expect memory.events.high == ${rounds}`,
      `expect memory.high_throttled == ${throttled}`,
      `expect memory.high_delay_jiffies == ${jiffies}`,
      "expect memory.events.max == 0",
      "expect memory.events.oom == 0",
    ]);
  });

  it("far over high the penalty is clamped to MEMCG_MAX_HIGH_DELAY_JIFFIES (2 * HZ); arm64's HZ is 250", () => {
    // the case above with memory.high at 64 pages: at u = 516 the overage is 452/64 of high, whose
    // penalty (about 50000 jiffies at HZ 1000) is clamped to 2 * HZ; arm64 (defconfig: the default
    // HZ_250) sleeps from a smaller overage's HZ / 100 = 2 jiffies on. Both arches charge A's PGD
    // and then PUD, PMD, PTE table: u = 4 + k after the fault of page k
    for (const [arch, HZ] of [
      ["x86_64", 1000],
      ["arm64", 250],
    ] as const) {
      const high = 64;
      let rounds = 0;
      let throttled = 0;
      let jiffies = 0;
      let clamped = 0;
      for (let u = high + 1; u <= 516; u++) {
        const p = penalty(u, high, HZ);
        if (p === 2 * HZ) clamped++;
        if (p <= Math.floor(HZ / 100)) rounds += 1;
        else {
          rounds += 17;
          throttled++;
          jiffies += p;
        }
      }
      expect(clamped).toBeGreaterThan(0);
      runHolds([
        `machine arch=${arch} ram=64M memory_high=256K overcommit=always`,
        "spawn A",
        "A: a = mmap 2M at=0x40000000",
        "A: write a 2M value=7",
        "expect memory.current == 2M + 16K",
        `expect memory.events.high == ${rounds}`,
        `expect memory.high_throttled == ${throttled}`,
        `expect memory.high_delay_jiffies == ${jiffies}`,
      ]);
    }
  });

  it("a charge past MEMCG_CHARGE_BATCH pages of debt reclaims inside the system call (MAP_POPULATE)", () => {
    // mmap's populate charges its 512 pages and their tables in one kernel entry. Once the usage
    // passes high (256 pages) each page charged adds 1 to the debt and to the usage; the charge
    // that makes the debt 65 (> MEMCG_CHARGE_BATCH) calls mem_cgroup_handle_over_high itself
    // (try_charge_memcg: not PF_MEMALLOC, a gfp that may block), which reclaims at least those 65
    // pages to swap: the usage never passes 256 + 65 pages. Without that call the whole 2M would
    // stay charged until the return to user
    runHolds([
      "machine ram=64M swap=64M memory_high=1M",
      "spawn A",
      "A: a = mmap 2M populate",
      `expect memory.peak == ${(256 + 65) * 4096}`,
      "expect memory.events.high > 0",
      "A: write a 4K value=1", // the debt left is paid at the fault's return to user
      "expect memory.current <= 1M",
    ]);
  });

  it("khugepaged's collapse over high: the kthread's debt is against the root cgroup, nothing is reclaimed", () => {
    // A's 2M of 4K pages and PGD, PUD, PMD, PTE table (516 pages) fit under high (768); the
    // collapse charges its huge page (mem_cgroup_charge with GFP_TRANSHUGE, which may block) while
    // the 512 old pages are still charged: 1028 pages, over high. current is khugepaged: it owes
    // the 512 and, past MEMCG_CHARGE_BATCH, calls mem_cgroup_handle_over_high at once, whose
    // get_mem_cgroup_from_mm(current->mm = NULL) is root_mem_cgroup (memory.high max): no
    // reclaim_high round, no penalty. The collapse frees the old pages; A owes nothing
    runHolds([
      "machine ram=64M swap=64M thp=madvise memory_high=3M",
      "spawn A",
      "A: a = mmap 2M at=0x40000000",
      "A: madvise a 2M nohugepage",
      "A: write a 2M value=0x11",
      "A: madvise a 2M hugepage",
      "khugepaged",
      "expect anon_huge(A, a 2M) == 512",
      "expect memory.peak == 2M + 16K + 2M",
      "expect memory.current == 2M + 16K",
      "expect memory.events.high == 0",
      "expect vmstat.pswpout == 0",
      "A: read a 4K",
      "expect memory.events.high == 0",
    ]);
  });

  it("a 32-bit kernel (BITS_PER_LONG 32) never throttles: calculate_high_delay's unsigned long truncates to 0", () => {
    // calculate_high_delay's penalty_jiffies is an unsigned long: max_overage^2 * HZ (u64) is cut to
    // 32 bits, then shifted right by 20 + 14 = 34 bits: 0 whatever the overage. So on i386 the
    // penalty never passes HZ / 100: each return to user is one reclaim_high round (it reclaims
    // nothing here: no swap), and no sleep. i386 without PAE: A's PGD (one page, charged as
    // kernel memory), then one PTE table at the first fault: the fault of page k leaves the usage at
    // u = 2 + k pages, over high (256) from u = 257 to u = 2 + 512
    const last = 2 + 512;
    runHolds([
      "machine arch=i386 ram=64M memory_high=1M overcommit=always",
      "spawn A",
      "A: a = mmap 2M at=0x40000000",
      "A: write a 2M value=7",
      `expect memory.current == ${last * 4096}`,
      `expect memory.events.high == ${last - 256}`,
      "expect memory.high_throttled == 0",
      "expect memory.high_delay_jiffies == 0",
    ]);
    // the same rule on a 64-bit unsigned long: from u = 283 (27 pages over) the penalty is over 10 jiffies
    expect(calculateHighDelay(1000, 1, (27n << 20n) / 256n, 64)).toBeGreaterThan(10);
    expect(calculateHighDelay(1000, 1, (27n << 20n) / 256n, 32)).toBe(0);
  });

  it("a read(2) over high: its page cache is reclaimed inside the call and at its return", () => {
    // A's 2M buffer (512 anonymous pages, PUD, PMD, PTE table) alone passes memory.high (512K) and,
    // without swap, cannot be reclaimed; F's 512 page-cache pages read into it are charged over
    // high: past 64 pages of debt (MEMCG_CHARGE_BATCH) the charge itself reclaims
    // (try_charge_memcg's mem_cgroup_handle_over_high), the rest at the system call's return. The
    // overage stays far over HZ / 100 of penalty, so reclaim goes on while it makes progress: every
    // clean page-cache page goes, and only the buffer, its tables and A's PGD stay charged
    const lines = (high: string) => [
      `machine ram=64M${high}`,
      "file F size=2M",
      "spawn A",
      "A: buf = mmap 2M",
      "A: write buf 2M value=1",
      "A: n = syscall read F buf 2M",
      "expect n == 2M",
    ];
    runHolds([
      ...lines(" memory_high=512K"),
      "expect memory.current == 2M + 16K",
      "expect memory.stat.file == 0",
      "expect memory.events.high > 0",
      "expect vmstat.pgsteal_file >= 512", // each page at least once (readahead's pages not yet copied may go and be read again)
    ]);
    // the same without memory.high: the page cache stays
    runHolds([...lines(""), "expect memory.current == 4M + 16K", "expect memory.events.high == 0"]);
  });

  it("memory.high below memory.max: the usage stays at high and max is never reached", () => {
    runHolds([
      "machine ram=64M swap=64M memory_high=1M memory_max=2M",
      "spawn A",
      "A: a = mmap 4M",
      "A: write a 4M value=3",
      "expect memory.current <= 1M",
      "expect memory.peak <= 1M + 4K",
      "expect memory.events.max == 0",
      "expect memory.events.high > 0",
    ]);
  });

  it("memory_high is checked like memory_max; 'max' and no key read -1", () => {
    expect(runScenario("machine ram=64M\nexpect memory.high == -1\n").failed).toBe(0);
    expect(runScenario("machine ram=64M memory_high=max\nexpect memory.high == -1\n").failed).toBe(0);
    expect(scenarioError("machine ram=64M memory_high=5000\n")).toMatch(
      /^s\.vm:1:\d+: .*memory_high.*must be max or a multiple of 4K from 4K to 64G, not 5000/,
    );
  });
});
